//! Wires one validator: the application actor over the node's chain, and a simplex engine for
//! each epoch (the validator set changes only between epochs), on any commonware runtime and
//! network (five channels: votes, certificates, the engine's resolver, blocks, transactions;
//! the first three split by epoch).

use std::collections::VecDeque;
use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use commonware_consensus::simplex::Engine;
use commonware_consensus::simplex::config::{Config, Floor, ForwardPolicy, SkipBudget, SkipPolicy};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::types::{Epoch, ViewDelta};
use commonware_cryptography::Sha256;
use commonware_p2p::utils::mux::Muxer;
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::NonZeroDuration;
use commonware_utils::channel::mpsc;
use depin_core::{Address, Keypair};
use depin_node::chain::Producer;
use depin_node::node::Node;
use rand_core::CryptoRng;
use tracing::{debug, error, warn};

use crate::application::{Actor, EpochStart, Mailboxes, Shared};
use crate::peers::{EpochPeers, FixedPeers};
use crate::{
    NAMESPACE, PublicKey, Scheme, consensus_key, digest, parse_record, participants_of, public_key,
    set_hash,
};

/// The p2p channel numbers a validator registers, in this order.
pub const VOTES: u64 = 0;
pub const CERTIFICATES: u64 = 1;
pub const RESOLVER: u64 = 2;
pub const BLOCKS: u64 = 3;
pub const TXS: u64 = 4;

/// Timeouts of the engine (simulated or real time).
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// How long a validator waits for the leader's proposal before voting to skip the view.
    pub leader: Duration,
    /// How long it waits for a notarized proposal to be certified.
    pub certification: Duration,
    /// How often it re-sends its vote to skip a view that is not moving.
    pub retry: Duration,
    /// How long it waits for a certificate it asked a peer for.
    pub fetch: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            leader: Duration::from_millis(1000),
            certification: Duration::from_millis(2000),
            retry: Duration::from_millis(5000),
            fetch: Duration::from_millis(500),
        }
    }
}

/// Why a validator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("validator address {0} is not an ed25519 public key")]
    BadValidatorKey(Address),
    #[error("the validator set is empty or names a validator twice")]
    BadSet,
    #[error("reading the committed chain to find the consensus epoch: {0}")]
    Store(#[from] depin_store::StoreError),
}

/// A started validator: the engine supervisor's and the application's tasks, and what the
/// application shows (epochs entered, faults).
pub struct Running {
    pub engine: Handle<()>,
    pub application: Handle<()>,
    pub shared: Arc<Shared>,
}

/// The network channels of one validator (sender, receiver each).
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub resolver: (S, R),
    pub blocks: (S, R),
    pub txs: (S, R),
}

/// The consensus participants of a validator set (its addresses as consensus keys).
pub fn participants(validators: &[Address]) -> Result<Vec<PublicKey>, StartError> {
    let mut keys = validators
        .iter()
        .map(|a| public_key(a).ok_or(StartError::BadValidatorKey(*a)))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort();
    let count = keys.len();
    keys.dedup();
    if keys.is_empty() || keys.len() != count {
        return Err(StartError::BadSet);
    }
    Ok(keys)
}

/// The epoch a validator (re)starts in, from its committed chain: the epoch of its last
/// block's consensus record, or the next one when the set in state no longer matches the set
/// that record names (the last block ended its epoch). An empty chain, or one whose last block
/// a solo driver produced, starts epoch 0 on its last block.
pub fn current_epoch(node: &Node, producer: &Producer) -> Result<EpochStart, StartError> {
    use depin_core::StateRead;
    let state = producer.state();
    let participants = participants_of(state.validators().iter().map(|v| &v.address));
    if participants.is_empty() {
        return Err(StartError::BadSet);
    }
    let height = state.height();
    let last = match height {
        0 => None,
        h => node.store.header(h)?,
    };
    let Some(last) = last else {
        return Ok(EpochStart {
            epoch: 0,
            endpoints: crate::peers::endpoints_of(state, &participants),
            participants,
            genesis: node.genesis_hash,
            height: 0,
        });
    };
    let Some(record) = parse_record(&last.consensus) else {
        return Ok(EpochStart {
            epoch: 0,
            endpoints: crate::peers::endpoints_of(state, &participants),
            participants,
            genesis: last.hash(),
            height,
        });
    };
    if record.set != set_hash(&participants) {
        return Ok(EpochStart {
            epoch: record.epoch + 1,
            endpoints: crate::peers::endpoints_of(state, &participants),
            participants,
            genesis: last.hash(),
            height,
        });
    }
    // Still in the last block's epoch: it builds on the parent of the epoch's first block.
    let mut genesis = last.parent;
    let mut h = height - 1;
    while h > 0 {
        let Some(header) = node.store.header(h)? else {
            break;
        };
        if parse_record(&header.consensus).is_none_or(|r| r.epoch != record.epoch) {
            break;
        }
        genesis = header.parent;
        h -= 1;
    }
    Ok(EpochStart {
        epoch: record.epoch,
        endpoints: crate::peers::endpoints_of(state, &participants),
        participants,
        genesis,
        height: h,
    })
}

/// Starts a validator on `context`: the application over `producer`'s chain and a supervisor
/// that runs a simplex engine for each epoch (the set in state changes only between epochs).
/// A validator outside an epoch's set follows it without voting. Engines keep their journals
/// in storage partitions named after `partition` and the epoch, deleted once the epoch's
/// engine has stopped for good.
/// The network's peers are fixed (every validator links every other itself, as the
/// benchmark does); [`start_with_peers`] tells the network each epoch's peers.
#[allow(clippy::too_many_arguments)]
pub fn start<E, B, S, R>(
    context: E,
    node: Arc<Node>,
    producer: Producer,
    key: &Keypair,
    partition: &str,
    timeouts: Timeouts,
    blocker: B,
    channels: Channels<S, R>,
) -> Result<Running, StartError>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    B: Blocker<PublicKey = PublicKey>,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    start_with_peers(
        context, node, producer, key, partition, timeouts, blocker, FixedPeers, channels,
    )
}

/// [`start`], and as each epoch's engine starts, `peers` is told the epoch (its participants
/// and the endpoints they registered on chain) so the network connects to them.
#[allow(clippy::too_many_arguments)]
pub fn start_with_peers<E, B, P, S, R>(
    context: E,
    node: Arc<Node>,
    producer: Producer,
    key: &Keypair,
    partition: &str,
    timeouts: Timeouts,
    blocker: B,
    peers: P,
    channels: Channels<S, R>,
) -> Result<Running, StartError>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    B: Blocker<PublicKey = PublicKey>,
    P: EpochPeers,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let first = current_epoch(&node, &producer)?;
    let holding = must_wait_for_the_chain(&producer, &first, key);
    let (epoch_out, epoch_in) = mpsc::unbounded_channel();
    let (actor, mailboxes, shared) = Actor::new(
        context.child("application"),
        node,
        producer,
        first.clone(),
        holding,
        epoch_out,
    );
    let first = (!holding).then_some(first);
    let Channels {
        votes,
        certificates,
        resolver,
        blocks,
        txs,
    } = channels;
    let application = actor.start(blocks, txs);
    let epochs = Epochs {
        signer: consensus_key(key),
        partition: partition.to_string(),
        timeouts,
        blocker,
        peers,
        mailboxes,
    };
    let engine = context.child("epochs").spawn(move |context| {
        epochs.supervise(context, first, epoch_in, votes, certificates, resolver)
    });
    Ok(Running {
        engine,
        application,
        shared,
    })
}

/// Whether a validator must learn where the chain is before its first epoch: its chain ends
/// at genesis or at a solo-produced block (epoch 0 would start there), and the set there is
/// one validator that is not this one. That validator may have produced more blocks with the
/// solo driver since, and epoch 0 starts on the last of them; so this one fetches them first
/// and starts epoch 0 where a peer shows the chain is (`application::Actor::release`).
fn must_wait_for_the_chain(producer: &Producer, first: &EpochStart, key: &Keypair) -> bool {
    first.epoch == 0
        && first.genesis == producer.state().last_block_hash()
        && matches!(first.participants.as_slice(), [one] if crate::address(one) != key.address())
}

/// The storage partition of an epoch's engine journal (`prefix` is the validator's).
fn journal(prefix: &str, epoch: u64) -> String {
    format!("{prefix}-epoch-{epoch}")
}

/// Deletes the journal of an epoch whose engine has stopped for good: an epoch's engine stops
/// when the engine of the epoch two after it starts, and never starts again (a restart starts
/// only the epoch of the committed chain). What a peer that is behind needs of that epoch is
/// in the block store: its blocks and the finalization certificate of its last block (see
/// DECISIONS.md "Old epochs' journals"). Returns whether there was a journal to delete.
async fn remove_journal<E: Storage>(context: &E, prefix: &str, epoch: u64) -> bool {
    let partition = journal(prefix, epoch);
    match context.remove(&partition, None).await {
        Ok(()) => {
            debug!(epoch, "deleted the consensus journal of a finished epoch");
            true
        }
        Err(commonware_runtime::Error::PartitionMissing(_)) => false,
        Err(e) => {
            warn!(
                epoch,
                %partition,
                "cannot delete the consensus journal of a finished epoch; nothing reads it any \
                 more, so its directory can be deleted by hand: {e}"
            );
            false
        }
    }
}

/// Deletes the journals of the epochs before `epoch`, newest first, until one is not there:
/// they are deleted in epoch order, so only those a stopped process had not deleted yet are
/// left, directly below the epoch it restarts in.
async fn remove_journals_below<E: Storage>(context: &E, prefix: &str, epoch: u64) {
    for old in (0..epoch).rev() {
        if !remove_journal(context, prefix, old).await {
            break;
        }
    }
}

/// What the supervisor needs to start each epoch's engine.
struct Epochs<B, P> {
    signer: commonware_cryptography::ed25519::PrivateKey,
    partition: String,
    timeouts: Timeouts,
    blocker: B,
    /// Told each epoch before its engine starts, so the network connects to its participants.
    peers: P,
    mailboxes: Mailboxes,
}

/// The most epochs whose engines run at once: the current one, and the one before it so a
/// validator that has not yet seen the previous epoch's last block finalized can still get
/// it from its peers.
const RUNNING_EPOCHS: usize = 2;

impl<B: Blocker<PublicKey = PublicKey>, P: EpochPeers> Epochs<B, P> {
    /// Runs an engine for `first` (or, when `None`, for the first epoch the application
    /// announces), then for each epoch the application announces; the three consensus
    /// channels are split by epoch so engines of two epochs never see each other's messages.
    #[allow(clippy::too_many_arguments)]
    async fn supervise<E, S, R>(
        mut self,
        context: E,
        first: Option<EpochStart>,
        mut next: mpsc::UnboundedReceiver<EpochStart>,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) where
        E: Clock + CryptoRng + Spawner + Storage + Metrics,
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (mux, mut votes) = Muxer::new(context.child("votes"), votes.0, votes.1);
        mux.start();
        let (mux, mut certificates) = Muxer::new(
            context.child("certificates"),
            certificates.0,
            certificates.1,
        );
        mux.start();
        let (mux, mut resolver) = Muxer::new(context.child("resolver"), resolver.0, resolver.1);
        mux.start();
        let mut running: VecDeque<(u64, Handle<()>)> = VecDeque::new();
        let mut epoch = match first {
            Some(epoch) => epoch,
            None => match next.recv().await {
                Some(epoch) => epoch,
                None => return,
            },
        };
        // No engine of an earlier epoch will run in this process: their journals (left by an
        // earlier run of the validator) go.
        remove_journals_below(&context, &self.partition, epoch.epoch).await;
        loop {
            let channels = (
                votes.register(epoch.epoch).await,
                certificates.register(epoch.epoch).await,
                resolver.register(epoch.epoch).await,
            );
            let (Ok(v), Ok(c), Ok(r)) = channels else {
                error!(
                    epoch = epoch.epoch,
                    "cannot open the epoch's consensus channels; stopping consensus"
                );
                return;
            };
            self.peers.enter(&epoch);
            match self.start_epoch(&context, &epoch, v, c, r) {
                Ok(handle) => running.push_back((epoch.epoch, handle)),
                Err(e) => error!(epoch = epoch.epoch, "cannot start the epoch's engine: {e}"),
            }
            while running.len() > RUNNING_EPOCHS {
                if let Some((old_epoch, old)) = running.pop_front() {
                    old.abort();
                    // Resolves once the engine's task is dropped (its actors are aborted with
                    // it and never polled again), so nothing writes to the journal after this.
                    let _ = old.await;
                    remove_journal(&context, &self.partition, old_epoch).await;
                }
            }
            // The same epoch again: a participant registered its endpoint (the network is
            // told; the engine runs on).
            epoch = loop {
                match next.recv().await {
                    Some(e) if e.epoch == epoch.epoch => self.peers.enter(&e),
                    Some(e) => break e,
                    // The application stopped: so does consensus (this returns, its engines
                    // end).
                    None => return,
                }
            };
        }
    }

    fn start_epoch<E, S, R>(
        &self,
        context: &E,
        epoch: &EpochStart,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) -> Result<Handle<()>, StartError>
    where
        E: Clock + CryptoRng + Spawner + Storage + Metrics,
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let set = commonware_utils::ordered::Set::try_from(epoch.participants.clone())
            .map_err(|_| StartError::BadSet)?;
        // Outside the set, the engine follows the epoch's certificates without voting.
        let scheme = Scheme::signer(NAMESPACE, set.clone(), self.signer.clone())
            .unwrap_or_else(|| Scheme::verifier(NAMESPACE, set));
        let cfg = Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker: self.blocker.clone(),
            automaton: self.mailboxes.for_epoch(epoch),
            relay: self.mailboxes.for_epoch(epoch),
            reporter: self.mailboxes.for_epoch(epoch),
            track_historical_votes: false,
            strategy: Sequential,
            partition: journal(&self.partition, epoch.epoch),
            mailbox_size: NonZeroUsize::new(1024).expect("nonzero"),
            epoch: Epoch::new(epoch.epoch),
            floor: Floor::Genesis(digest(&epoch.genesis)),
            replay_buffer: NonZeroUsize::new(1 << 20).expect("nonzero"),
            write_buffer: NonZeroUsize::new(1 << 20).expect("nonzero"),
            page_cache: CacheRef::new(
                NonZeroU16::new(4096).expect("nonzero"),
                NonZeroUsize::new(64).expect("nonzero"),
            ),
            leader_timeout: self.timeouts.leader,
            certification_timeout: self.timeouts.certification,
            timeout_retry: self.timeouts.retry,
            view_retention: ViewDelta::new(64),
            skip: SkipPolicy::Enabled {
                timeout: self.timeouts.retry + self.timeouts.certification,
                budget: SkipBudget::Participants,
            },
            fetch_timeout: NonZeroDuration::new(self.timeouts.fetch)
                .expect("a fetch timeout above zero"),
            fetch_retry_delay: Duration::from_millis(100),
            forward: ForwardPolicy::SilentVoters,
        };
        let engine = Engine::new(
            context.child("engine").with_attribute("epoch", epoch.epoch),
            cfg,
        );
        Ok(engine.start(votes, certificates, resolver))
    }
}
