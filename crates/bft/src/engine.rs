//! Wires one validator: the application actor over the node's chain, and a simplex engine, on
//! any commonware runtime and network (five channels: votes, certificates, the engine's
//! resolver, blocks, transactions).

use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use commonware_consensus::simplex::Engine;
use commonware_consensus::simplex::config::{Config, Floor, ForwardPolicy, SkipBudget, SkipPolicy};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::types::{Epoch, ViewDelta};
use commonware_cryptography::Sha256;
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::NonZeroDuration;
use depin_core::{Address, Keypair};
use depin_node::chain::Producer;
use depin_node::node::Node;
use rand_core::CryptoRng;

use crate::application::{Actor, Shared};
use crate::{NAMESPACE, PublicKey, Scheme, consensus_key, digest, public_key};

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
    #[error("validator {0} is not in the validator set; start it with a key the genesis names")]
    NotAValidator(Address),
    #[error("validator address {0} is not an ed25519 public key")]
    BadValidatorKey(Address),
    #[error("the validator set is empty or names a validator twice")]
    BadSet,
}

/// A started validator: the engine's and the application's tasks, and what the application
/// shows (certificates, faults).
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

/// Starts a validator on `context`: the application over `producer`'s chain and a simplex
/// engine for the validator set in the chain's state. The engine keeps its journal in storage
/// partitions named after `partition`.
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
    use depin_core::StateRead;
    let validators: Vec<Address> = producer
        .state()
        .validators()
        .iter()
        .map(|v| v.address)
        .collect();
    if !validators.contains(&key.address()) {
        return Err(StartError::NotAValidator(key.address()));
    }
    let keys = participants(&validators)?;
    let set =
        commonware_utils::ordered::Set::try_from(keys.clone()).map_err(|_| StartError::BadSet)?;
    let scheme = Scheme::signer(NAMESPACE, set, consensus_key(key))
        .ok_or(StartError::NotAValidator(key.address()))?;
    let genesis = digest(&node.genesis_hash);
    let (actor, mailbox, shared) = Actor::new(context.child("application"), node, producer, keys);
    let cfg = Config {
        scheme,
        elector: RoundRobin::<Sha256>::default(),
        blocker,
        automaton: mailbox.clone(),
        relay: mailbox.clone(),
        reporter: mailbox,
        track_historical_votes: false,
        strategy: Sequential,
        partition: partition.to_string(),
        mailbox_size: NonZeroUsize::new(1024).expect("nonzero"),
        epoch: Epoch::new(0),
        floor: Floor::Genesis(genesis),
        replay_buffer: NonZeroUsize::new(1 << 20).expect("nonzero"),
        write_buffer: NonZeroUsize::new(1 << 20).expect("nonzero"),
        page_cache: CacheRef::new(
            NonZeroU16::new(4096).expect("nonzero"),
            NonZeroUsize::new(64).expect("nonzero"),
        ),
        leader_timeout: timeouts.leader,
        certification_timeout: timeouts.certification,
        timeout_retry: timeouts.retry,
        view_retention: ViewDelta::new(64),
        skip: SkipPolicy::Enabled {
            timeout: timeouts.retry + timeouts.certification,
            budget: SkipBudget::Participants,
        },
        fetch_timeout: NonZeroDuration::new(timeouts.fetch).expect("a fetch timeout above zero"),
        fetch_retry_delay: Duration::from_millis(100),
        forward: ForwardPolicy::SilentVoters,
    };
    let engine = Engine::new(context.child("engine"), cfg);
    let Channels {
        votes,
        certificates,
        resolver,
        blocks,
        txs,
    } = channels;
    let application = actor.start(blocks, txs);
    let engine = engine.start(votes, certificates, resolver);
    Ok(Running {
        engine,
        application,
        shared,
    })
}
