//! The application simplex drives: it proposes and verifies blocks through the ledger's driver
//! interface, relays blocks and transactions to the other validators, fetches blocks it misses,
//! and commits blocks (then fans out like the solo driver) only once a finalization covers them.
//!
//! One actor owns the chain ([`Producer`]); the engine talks to it through a [`Mailbox`], which
//! implements simplex's `Automaton`, `Relay` and `Reporter`. Requests that cannot be answered
//! yet (a block not received, a parent not verified) wait in the actor and are retried when
//! blocks arrive: a verification is never refused for missing data, only for a block that is
//! invalid for its round.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use commonware_actor::Feedback;
use commonware_consensus::simplex::Plan;
use commonware_consensus::simplex::types::Activity;
use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter, Viewable};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, IoBuf, Spawner};
use commonware_utils::channel::{mpsc, oneshot};
use depin_core::services::governance::evidence::ReportEquivocation;
use depin_core::{Block, Hash, StateRead, Transaction};
use depin_node::chain::Producer;
use depin_node::node::Node;
use rand_core::CryptoRng;
use tracing::{debug, error, info, warn};

use crate::wire::{self, BlockMessage, decode_txs, encode_txs};
use crate::{
    Context, Digest, Finalization, PublicKey, Scheme, address, consensus_record, digest,
    participants_of, set_hash,
};

/// How often requests for missing blocks are sent again while still missing.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Committed blocks remembered by hash, to answer peers that ask without a height hint.
const RECENT_COMMITTED: usize = 4096;

/// Committed blocks recalled by hash at startup.
const RESTART_RECALL_BLOCKS: u64 = 256;

/// Most blocks held that are neither committed nor within reach of the finalized tip; beyond
/// it, blocks far above the tip are dropped (a peer can send them again when asked).
const MAX_HELD_BLOCKS: usize = 100_000;

/// Fewest transactions a proposal may be capped to, however slow this validator measured.
const MIN_PROPOSAL_TXS: usize = 256;
/// Time budget of one proposal's execution when the block interval is shorter.
const MIN_BUILD_BUDGET_MS: u64 = 100;
/// The build speed assumed before this validator has measured its own (µs per transaction).
const INITIAL_BUILD_US_PER_TX: u64 = 100;

/// How long a validator goes without committing a block (and without a finalization to
/// commit) before it asks its peers for a certificate to catch up with.
pub const SYNC_AFTER: Duration = Duration::from_secs(2);

/// Most certificates a peer looks at, past the last one of the asked epoch it found by
/// searching, to answer a catch-up request.
const SYNC_SCAN: usize = 64;

/// How often a validator that waits for the chain before its first epoch asks its peers.
pub const HOLD_RETRY: Duration = Duration::from_secs(1);

/// What the engine (through the mailbox) asks of the application.
pub enum Message {
    Propose {
        context: Context,
        response: oneshot::Sender<Digest>,
    },
    Verify {
        context: Context,
        payload: Digest,
        response: oneshot::Sender<bool>,
    },
    Broadcast {
        payload: Digest,
        plan: Plan<PublicKey>,
    },
    Finalized(Box<Finalization>),
    Fault(Fault),
}

/// Evidence the engine found of a validator signing two conflicting messages in one view.
#[derive(Clone, Debug, PartialEq, Eq)]

pub struct Fault {
    pub validator: PublicKey,
    pub view: u64,
    pub kind: FaultKind,
    /// The engine's encoded evidence (both signed messages).
    pub evidence: Vec<u8>,
    /// The same, as the ledger action that records it on chain.
    pub report: Option<ReportEquivocation>,
}

/// Which two messages conflicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    ConflictingNotarize,
    ConflictingFinalize,
    NullifyFinalize,
}

/// One consensus epoch: the validator set an engine runs with and the block it builds on.
/// The set changes only between epochs: the block after which the ledger's validator set
/// differs from the epoch's participants is the epoch's last, and the next epoch's engine
/// starts on it with the new set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochStart {
    pub epoch: u64,
    /// The participants in the engine's (sorted) order.
    pub participants: Vec<PublicKey>,
    /// The block the epoch builds on: its engine's genesis payload.
    pub genesis: Hash,
    /// That block's height.
    pub height: u64,
    /// The p2p endpoints the participants registered on chain, as of that block (a
    /// participant that registered none is absent): where the epoch's peers are dialed when
    /// `peers.toml` does not list them.
    pub endpoints: Vec<(PublicKey, String)>,
}

/// Makes the mailbox each epoch's engine talks to the one application through.
#[derive(Clone)]
pub struct Mailboxes {
    sender: mpsc::UnboundedSender<Message>,
}

impl Mailboxes {
    /// The mailbox for an epoch's engine (it names faulty signers from the epoch's set).
    pub fn for_epoch(&self, epoch: &EpochStart) -> Mailbox {
        Mailbox {
            sender: self.sender.clone(),
            participants: Arc::new(epoch.participants.clone()),
        }
    }
}

/// The engine's handle on the application.
#[derive(Clone)]
pub struct Mailbox {
    sender: mpsc::UnboundedSender<Message>,
    /// The epoch's participants in the engine's order (sorted), to name a faulty signer.
    participants: Arc<Vec<PublicKey>>,
}

impl Mailbox {
    fn send(&self, message: Message) -> bool {
        self.sender.send(message).is_ok()
    }
}

impl Automaton for Mailbox {
    type Context = Context;
    type Digest = Digest;

    async fn propose(&mut self, context: Context) -> oneshot::Receiver<Digest> {
        let (response, receiver) = oneshot::channel();
        self.send(Message::Propose { context, response });
        receiver
    }

    async fn verify(&mut self, context: Context, payload: Digest) -> oneshot::Receiver<bool> {
        let (response, receiver) = oneshot::channel();
        self.send(Message::Verify {
            context,
            payload,
            response,
        });
        receiver
    }
}

/// Certification is the default (always certify): a verified block is final once finalized.
impl CertifiableAutomaton for Mailbox {}

impl Relay for Mailbox {
    type Digest = Digest;
    type PublicKey = PublicKey;
    type Plan = Plan<PublicKey>;

    fn broadcast(&mut self, payload: Digest, plan: Plan<PublicKey>) -> Feedback {
        if self.send(Message::Broadcast { payload, plan }) {
            Feedback::Ok
        } else {
            Feedback::Closed
        }
    }
}

impl Reporter for Mailbox {
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        use commonware_codec::Encode;
        use commonware_consensus::simplex::types::Attributable;
        let participants = &self.participants;
        let fault = |signer: commonware_utils::Participant, view: u64, kind, evidence: Vec<u8>| {
            let index = usize::try_from(signer.get()).ok()?;
            let validator = participants.get(index)?.clone();
            let report = crate::evidence::report_of(address(&validator), kind, &evidence);
            Some(Message::Fault(Fault {
                validator,
                view,
                kind,
                evidence,
                report,
            }))
        };
        let message = match activity {
            Activity::Finalization(f) => Some(Message::Finalized(Box::new(f))),
            Activity::ConflictingNotarize(c) => fault(
                c.signer(),
                c.view().get(),
                FaultKind::ConflictingNotarize,
                c.encode().to_vec(),
            ),
            Activity::ConflictingFinalize(c) => fault(
                c.signer(),
                c.view().get(),
                FaultKind::ConflictingFinalize,
                c.encode().to_vec(),
            ),
            Activity::NullifyFinalize(c) => fault(
                c.signer(),
                c.view().get(),
                FaultKind::NullifyFinalize,
                c.encode().to_vec(),
            ),
            _ => None,
        };
        let Some(message) = message else {
            return Feedback::Ok;
        };
        if self.send(message) {
            Feedback::Ok
        } else {
            Feedback::Closed
        }
    }
}

/// What a running application shows to its owner (tests, the bench, the API).
#[derive(Default)]
pub struct Shared {
    /// Equivocation evidence the engine reported, in the order seen.
    pub faults: Mutex<Vec<Fault>>,
    /// The epochs this validator entered, the first it started in first.
    pub epochs: Mutex<Vec<EpochStart>>,
}

/// A verification waiting for its block or the block's ancestors.
struct Waiter {
    context: Context,
    hash: Hash,
    response: oneshot::Sender<bool>,
}

/// The actor that owns the chain for one validator.
pub struct Actor<E: Clock + Spawner + CryptoRng> {
    context: E,
    node: Arc<Node>,
    producer: Producer,
    mailbox: mpsc::UnboundedReceiver<Message>,
    shared: Arc<Shared>,
    /// The epochs whose engines may still ask (the current one and the one before it): their
    /// participants and set hash.
    epochs: BTreeMap<u64, (Vec<PublicKey>, Hash)>,
    /// The epoch the committed chain is in.
    current: u64,
    /// Where the start of each new epoch is announced (to the engine supervisor).
    epoch_out: mpsc::UnboundedSender<EpochStart>,
    /// Blocks heard of and not committed, by hash (pending in the ledger or not).
    blocks: BTreeMap<Hash, Block>,
    waiting: Vec<Waiter>,
    /// Proposals held until the block interval since their parent has passed (ms, Unix).
    delayed: Vec<(u64, Context, oneshot::Sender<Digest>)>,
    /// Microseconds per transaction this validator took to build its recent proposals
    /// (smoothed): it sizes the next proposal (see [`Actor::proposal_cap`]).
    build_us_per_tx: u64,
    /// The latest finalization not yet committed: its (epoch, view), block and certificate.
    target: Option<((u64, u64), Hash, Vec<u8>)>,
    /// Blocks asked of peers, with the height hint sent.
    missing: BTreeMap<Hash, u64>,
    /// Hash and height of recently committed blocks (oldest first).
    recent: VecDeque<(Hash, u64)>,
    recent_set: BTreeSet<Hash>,
    /// Equivocations already reported on chain by this validator.
    reported: BTreeSet<Hash>,
    /// The next nonce for this validator's own transactions (evidence reports).
    next_nonce: u64,
    /// When a block was last committed (or the actor started), and when peers were last asked
    /// for a certificate to catch up with.
    last_progress: SystemTime,
    last_sync: SystemTime,
    /// Waiting for the chain before the first epoch: this validator's committed chain ends at
    /// genesis or at a block a solo driver produced, and the set there is one validator that
    /// is not this one. That chain may go on with more solo blocks (fetched from peers and
    /// committed on that validator's signature) before consensus epoch 0 starts on its last
    /// one, so no engine runs until a peer shows where the chain is (see [`Actor::release`]).
    holding: bool,
}

impl<E: Clock + Spawner + CryptoRng> Actor<E> {
    /// An actor over the node's chain starting in epoch `start`, and what makes the mailboxes
    /// to hand each epoch's engine. New epochs are announced on `epoch_out`.
    /// With `holding`, no epoch is announced until a peer shows where the chain is (the
    /// first epoch may start later than `start`).
    pub fn new(
        context: E,
        node: Arc<Node>,
        producer: Producer,
        start: EpochStart,
        holding: bool,
        epoch_out: mpsc::UnboundedSender<EpochStart>,
    ) -> (Self, Mailboxes, Arc<Shared>) {
        let (sender, mailbox) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        shared
            .epochs
            .lock()
            .expect("epochs lock")
            .push(start.clone());
        let mut actor = Actor {
            context,
            node,
            producer,
            mailbox,
            shared: shared.clone(),
            epochs: BTreeMap::from([(
                start.epoch,
                (start.participants.clone(), set_hash(&start.participants)),
            )]),
            current: start.epoch,
            epoch_out,
            blocks: BTreeMap::new(),
            waiting: Vec::new(),
            delayed: Vec::new(),
            build_us_per_tx: INITIAL_BUILD_US_PER_TX,
            target: None,
            missing: BTreeMap::new(),
            recent: VecDeque::new(),
            recent_set: BTreeSet::new(),
            reported: BTreeSet::new(),
            next_nonce: 0,
            last_progress: UNIX_EPOCH,
            last_sync: UNIX_EPOCH,
            holding,
        };
        actor.last_progress = actor.context.current();
        // The last committed blocks, so a finalization the engine replays after a restart is
        // recognised as done.
        let height = actor.producer.state().height();
        for h in height.saturating_sub(RESTART_RECALL_BLOCKS - 1).max(1)..=height {
            match actor.node.store.header(h) {
                Ok(Some(header)) => actor.remember(header.hash(), h),
                Ok(None) => {}
                Err(e) => error!("reading header {h} at startup: {e}"),
            }
        }
        (actor, Mailboxes { sender }, shared)
    }

    /// Runs the actor on the block channel and the transaction channel until the engine's
    /// mailbox closes or a channel fails.
    pub fn start<BS, BR, TS, TR>(self, blocks: (BS, BR), txs: (TS, TR)) -> Handle<()>
    where
        BS: Sender<PublicKey = PublicKey>,
        BR: Receiver<PublicKey = PublicKey>,
        TS: Sender<PublicKey = PublicKey>,
        TR: Receiver<PublicKey = PublicKey>,
    {
        let context = self.context.child("actor");
        context.spawn(move |_| self.run(blocks, txs))
    }

    async fn run<BS, BR, TS, TR>(
        mut self,
        (mut block_out, mut block_in): (BS, BR),
        (mut tx_out, mut tx_in): (TS, TR),
    ) where
        BS: Sender<PublicKey = PublicKey>,
        BR: Receiver<PublicKey = PublicKey>,
        TS: Sender<PublicKey = PublicKey>,
        TR: Receiver<PublicKey = PublicKey>,
    {
        let mut admitted = self.node.admitted.subscribe();
        let mut next_retry = self.context.current() + RETRY_INTERVAL;
        loop {
            let wake = self.wake_at(next_retry);
            // Biased: branches are polled in order, so a seeded simulation replays exactly.
            tokio::select! {
                biased;
                message = self.mailbox.recv() => {
                    let Some(message) = message else { return };
                    self.handle(message, &mut block_out);
                }
                received = block_in.recv() => {
                    let Ok((from, bytes)) = received else { return };
                    self.on_block_message(from, bytes.as_ref(), &mut block_out);
                }
                received = tx_in.recv() => {
                    let Ok((from, bytes)) = received else { return };
                    match decode_txs(bytes.as_ref()) {
                        Ok(txs) => {
                            self.node.submit_gossiped(txs);
                        }
                        Err(e) => warn!(?from, "undecodable transaction gossip: {e}"),
                    }
                }
                batch = admitted.recv() => {
                    match batch {
                        Ok(first) => {
                            // Coalesce what else is waiting into one message, so the gossip
                            // rate stays far under the channel's per-peer quota.
                            let mut txs = first.to_vec();
                            while txs.len() < wire::MAX_GOSSIP_TXS {
                                match admitted.try_recv() {
                                    Ok(more) => txs.extend_from_slice(&more),
                                    Err(_) => break,
                                }
                            }
                            for chunk in txs.chunks(wire::MAX_GOSSIP_TXS) {
                                let _ = tx_out.send(Recipients::All, IoBuf::from(encode_txs(chunk)), false);
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            warn!("{n} batches of admitted transactions were not gossiped (too many at once)");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
                () = self.context.sleep_until(wake) => {
                    if self.context.current() >= next_retry {
                        next_retry = self.context.current() + RETRY_INTERVAL;
                        self.request_missing(&mut block_out);
                        self.ask_to_sync(&mut block_out);
                    }
                }
            }
            self.progress(&mut block_out);
        }
    }

    fn handle(&mut self, message: Message, out: &mut impl Sender<PublicKey = PublicKey>) {
        match message {
            Message::Propose { context, response } => self.propose(context, response),
            Message::Verify {
                context,
                payload,
                response,
            } => self.waiting.push(Waiter {
                context,
                hash: crate::hash(&payload),
                response,
            }),
            Message::Broadcast { payload, plan } => {
                let hash = crate::hash(&payload);
                let Some(block) = self.blocks.get(&hash) else {
                    debug!(%hash, "asked to broadcast a block no longer held");
                    return;
                };
                let recipients = match plan {
                    Plan::Forward { recipients, .. } => recipients,
                    _ => Recipients::All,
                };
                let bytes = BlockMessage::Block(Box::new(block.clone())).to_bytes();
                let _ = out.send(recipients, IoBuf::from(bytes), true);
            }
            Message::Finalized(f) => self.on_finalization(&f),
            Message::Fault(fault) => {
                warn!(validator = ?fault.validator, view = fault.view, kind = ?fault.kind, "equivocation seen");
                if let Some(report) = &fault.report {
                    self.report(report);
                }
                self.shared.faults.lock().expect("faults lock").push(fault);
            }
        }
    }

    /// Records equivocation evidence on chain: a transaction signed by this validator's key
    /// (which pays its fee), once per offender and round, on networks that run governance
    /// (where slashing lives).
    fn report(&mut self, report: &ReportEquivocation) {
        use depin_core::services::governance::GovernanceView;
        use depin_core::services::governance::evidence::evidence_hash;
        use depin_core::services::governance::records::slash_key;
        let state = self.producer.state();
        if state.params().modules.governance.is_none() {
            return;
        }
        let evidence = evidence_hash(&report.validator, report.epoch, report.view);
        // A jailed validator leaves the set at the next boundary: more reports of it would
        // only cost fees (the ledger would take them, one slash per round).
        if state.jail_of(&report.validator).is_some()
            || state.contains(&slash_key(&evidence))
            || !self.reported.insert(evidence)
        {
            return;
        }
        let me = self.producer.address();
        let committed = state.account(&me).map_or(0, |a| a.nonce);
        let nonce = self.next_nonce.max(committed);
        let base_fee = state.meta().base_fee;
        let network = self.node.genesis.network();
        let action = depin_core::Action::from(report.clone());
        let draft = Transaction::sign(
            &network,
            self.producer.key(),
            nonce,
            u64::MAX,
            action.clone(),
        );
        // Twice today's fee for its weight: room for the base fee to rise before it lands.
        let max_fee =
            depin_core::services::fees::fee_for(base_fee, draft.weight()).saturating_mul(2);
        let tx = Transaction::sign(&network, self.producer.key(), nonce, max_fee, action);
        match self.node.submit(vec![tx]).pop() {
            Some(Ok(hash)) => {
                self.next_nonce = nonce + 1;
                info!(%hash, validator = %report.validator, view = report.view, "equivocation evidence submitted");
            }
            Some(Err(e)) => warn!("equivocation evidence not admitted: {e}"),
            None => {}
        }
    }

    /// When the loop must wake next: for the next retry or the first held proposal.
    fn wake_at(&self, next_retry: SystemTime) -> SystemTime {
        self.delayed
            .iter()
            .map(|(at, _, _)| UNIX_EPOCH + Duration::from_millis(*at))
            .fold(next_retry, SystemTime::min)
    }

    /// Takes a proposal request: held until the block interval since its parent has passed
    /// (simplex would otherwise propose as fast as votes travel), then built.
    fn propose(&mut self, context: Context, response: oneshot::Sender<Digest>) {
        let parent = crate::hash(&context.parent.1);
        let epoch = context.round.epoch().get();
        if self.ensure_executable(parent) && self.ends_epoch(epoch, parent) == Some(true) {
            // The epoch's last block, proposed again (so it can be finalized in a later view
            // when its own view did not finalize it), at most once a block interval.
            let ready =
                unix_ms(self.context.current()).saturating_add(self.node.params.block_interval_ms);
            self.delayed.push((ready, context, response));
            return;
        }
        let parent_time = if parent == self.producer.state().last_block_hash() {
            Some(self.producer.state().meta().last_block_time_ms)
        } else {
            self.blocks.get(&parent).map(|b| b.header.time_ms)
        };
        if let Some(t) = parent_time {
            let ready = t.saturating_add(self.node.params.block_interval_ms);
            if unix_ms(self.context.current()) < ready {
                self.delayed.push((ready, context, response));
                return;
            }
        }
        self.build(context, response);
    }

    /// Builds the held proposals whose time has come.
    fn release_delayed(&mut self) {
        let now = unix_ms(self.context.current());
        let delayed = std::mem::take(&mut self.delayed);
        for (at, context, response) in delayed {
            if response.is_closed() {
                continue;
            }
            if at <= now {
                self.build(context, response);
            } else {
                self.delayed.push((at, context, response));
            }
        }
    }

    /// Builds a block on the parent the engine names, as this validator.
    fn build(&mut self, context: Context, response: oneshot::Sender<Digest>) {
        let parent = crate::hash(&context.parent.1);
        if !self.ensure_executable(parent) {
            // The parent is not here yet: declining lets the view time out rather than block.
            debug!(%parent, "cannot propose: parent not available");
            return;
        }
        let epoch = context.round.epoch().get();
        let Some(set) = self.epochs.get(&epoch).map(|(_, set)| *set) else {
            debug!(epoch, "asked to propose in an epoch that is over");
            return;
        };
        if self.ends_epoch(epoch, parent) == Some(true) {
            let _ = response.send(context.parent.1);
            return;
        }
        if address(&context.leader) != self.producer.address() {
            warn!("asked to propose in a view this validator does not lead");
            return;
        }
        let in_ancestors = self.ancestor_txs(parent);
        let mut space = self.node.block_space(self.producer.state().meta().base_fee);
        space.max_txs = space.max_txs.min(self.proposal_cap());
        let txs: Vec<Transaction> = self
            .node
            .mempool
            .lock()
            .expect("mempool lock")
            .reap(space)
            .into_iter()
            .filter(|tx| !in_ancestors.contains(&tx.hash()))
            .collect();
        let time_ms = unix_ms(self.context.current());
        let count = txs.len() as u64;
        let started = std::time::Instant::now();
        match self
            .producer
            .propose(parent, txs, time_ms, consensus_record(&context, &set))
        {
            Ok(block) => {
                if count >= 64 {
                    let sample = (started.elapsed().as_micros() as u64 / count).max(1);
                    self.build_us_per_tx = (self.build_us_per_tx * 3 + sample) / 4;
                }
                let hash = block.hash();
                self.blocks.insert(hash, block);
                let _ = response.send(digest(&hash));
            }
            Err(e) => error!("building a block on {parent} failed: {e}"),
        }
    }

    /// Most transactions this validator puts in its next proposal: what it can execute in one
    /// block interval at its recent speed (every validator executes each block, and one that
    /// takes longer than the leader timeout is skipped, its work wasted, while the pool grows
    /// and the next proposal is larger still: under a flood the network stalled). Local timing
    /// only sizes what this proposer offers; what a valid block is does not change.
    fn proposal_cap(&self) -> usize {
        let budget_us = self.node.params.block_interval_ms.max(MIN_BUILD_BUDGET_MS) * 1000;
        ((budget_us / self.build_us_per_tx.max(1)) as usize).max(MIN_PROPOSAL_TXS)
    }

    /// Hashes of the transactions in the held blocks from `parent` back to the finalized block.
    fn ancestor_txs(&self, parent: Hash) -> BTreeSet<Hash> {
        let finalized = self.producer.state().last_block_hash();
        let mut out = BTreeSet::new();
        let mut at = parent;
        while at != finalized {
            let Some(block) = self.blocks.get(&at) else {
                break;
            };
            out.extend(block.txs.iter().map(Transaction::hash));
            at = block.header.parent;
        }
        out
    }

    /// Verifies a block into the ledger's pending blocks, without checking again the
    /// signatures this node's mempool already verified (most of a proposal's transactions
    /// reached every validator by gossip before the block did).
    fn verify_block(&mut self, block: &Block) -> Result<Hash, depin_core::BlockError> {
        let known: Vec<bool> = {
            let pool = self.node.mempool.lock().expect("mempool lock");
            block
                .txs
                .iter()
                .map(|tx| pool.contains(&tx.hash()))
                .collect()
        };
        self.producer.verify_known(block, &known)
    }

    /// Whether `hash` (executable) is the last block of `epoch`: the validator set after it
    /// differs from the epoch's participants. `None` for an epoch no longer tracked or a
    /// block that is neither finalized nor pending.
    fn ends_epoch(&self, epoch: u64, hash: Hash) -> Option<bool> {
        let (participants, _) = self.epochs.get(&epoch)?;
        let after = self.producer.validators_at(&hash)?;
        Some(participants_of(after.iter().map(|v| &v.address)) != *participants)
    }

    /// Whether a block can be executed on `hash`: it is the finalized block or pending in the
    /// ledger, or its held ancestors can be verified into the ledger now. Asks peers for the
    /// first missing ancestor otherwise.
    fn ensure_executable(&mut self, hash: Hash) -> bool {
        let finalized = self.producer.state().last_block_hash();
        let mut chain = Vec::new();
        let mut at = hash;
        while at != finalized && !self.producer.is_pending(&at) {
            let Some(block) = self.blocks.get(&at) else {
                let hint = chain
                    .last()
                    .and_then(|h: &Hash| self.blocks.get(h))
                    .map_or(0, |b| b.header.height.saturating_sub(1));
                self.missing.entry(at).or_insert(hint);
                return false;
            };
            if block.header.height <= self.producer.state().height() {
                // On a branch that can no longer be finalized.
                return false;
            }
            chain.push(at);
            at = block.header.parent;
        }
        for hash in chain.into_iter().rev() {
            let block = self.blocks.get(&hash).expect("walked above").clone();
            if let Err(e) = self.verify_block(&block) {
                warn!(%hash, "an ancestor does not verify: {e}");
                self.blocks.remove(&hash);
                return false;
            }
        }
        true
    }

    fn on_block_message(
        &mut self,
        from: PublicKey,
        bytes: &[u8],
        out: &mut impl Sender<PublicKey = PublicKey>,
    ) {
        match BlockMessage::from_bytes(bytes) {
            Ok(BlockMessage::Block(block)) => self.hold(&from, *block),
            Ok(BlockMessage::Blocks(blocks)) => {
                for block in blocks {
                    self.hold(&from, block);
                }
            }
            Ok(BlockMessage::Request {
                hash,
                height,
                count,
            }) => {
                let blocks = self.find_blocks(&hash, height, count);
                let message = match <[Block; 1]>::try_from(blocks) {
                    Ok([block]) => BlockMessage::Block(Box::new(block)),
                    Err(blocks) if blocks.is_empty() => return,
                    Err(blocks) => BlockMessage::Blocks(blocks),
                };
                let _ = out.send(
                    Recipients::One(from),
                    IoBuf::from(message.to_bytes()),
                    false,
                );
            }
            Ok(BlockMessage::Sync {
                epoch,
                from: height,
            }) => {
                if let Some(answer) = self.answer_sync(epoch, height) {
                    let _ = out.send(Recipients::One(from), IoBuf::from(answer.to_bytes()), false);
                }
            }
            Ok(BlockMessage::Certified {
                height,
                certificate,
            }) => self.on_certified(&from, height, &certificate),
            Ok(BlockMessage::Tip { height, hash }) => self.on_tip(&from, height, hash),
            Err(e) => warn!(?from, "undecodable block message: {e}"),
        }
    }

    /// Keeps a block a peer sent (unless committed already, held, or too many are held).
    fn hold(&mut self, from: &PublicKey, block: Block) {
        let hash = block.hash();
        self.missing.remove(&hash);
        if block.header.height <= self.producer.state().height() || self.blocks.contains_key(&hash)
        {
            return;
        }
        if self.blocks.len() >= MAX_HELD_BLOCKS {
            warn!(%hash, "holding too many blocks; dropping one from {from}");
            return;
        }
        self.blocks.insert(hash, block);
    }

    /// The block `hash` and up to `count - 1` of its ancestors, highest first, stopping at
    /// the first one not here and before the answer would pass half the message limit.
    fn find_blocks(&self, hash: &Hash, height: u64, count: u64) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        let mut bytes = 0usize;
        let (mut at, mut hint) = (*hash, height);
        while (out.len() as u64) < count.clamp(1, crate::wire::MAX_BATCH) {
            let Some(block) = self.find_block(&at, hint) else {
                break;
            };
            let size = block
                .txs
                .iter()
                .map(Transaction::encoded_len)
                .sum::<usize>()
                + 1024;
            bytes = bytes.saturating_add(size);
            if !out.is_empty() && bytes > crate::wire::MAX_MESSAGE_BYTES / 2 {
                break;
            }
            (at, hint) = (block.header.parent, block.header.height.saturating_sub(1));
            out.push(block);
            if hint == 0 {
                break;
            }
        }
        out
    }

    /// Asks the peers for a certificate to catch up with, when nothing was committed for
    /// [`SYNC_AFTER`] and no finalization waits to be committed: the others may have moved
    /// past this validator's epoch and stopped its engine, so no finalization of it would
    /// ever come through consensus.
    fn ask_to_sync(&mut self, out: &mut impl Sender<PublicKey = PublicKey>) {
        let now = self.context.current();
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        if self.holding {
            if since(self.last_sync) < HOLD_RETRY {
                return;
            }
        } else if self.target.is_some()
            || since(self.last_progress) < SYNC_AFTER
            || since(self.last_sync) < SYNC_AFTER
        {
            return;
        }
        self.last_sync = now;
        let message = BlockMessage::Sync {
            epoch: self.current,
            from: self.producer.state().height() + 1,
        };
        let _ = out.send(Recipients::All, IoBuf::from(message.to_bytes()), false);
    }

    /// What to answer a peer in `epoch` that asks to catch up from height `from`: the solo
    /// blocks from there if the chain has them, else a certificate of the epoch to catch up
    /// with, or, when it is level with this validator's chain and that chain ends at a solo
    /// block (or genesis) that epoch 0 runs on, where the chain is.
    fn answer_sync(&self, epoch: u64, from: u64) -> Option<BlockMessage> {
        let tip = self.producer.state().height();
        if from == 0 || self.holding {
            return None;
        }
        if from <= tip && self.epoch_at(from).is_none() {
            let mut blocks = Vec::new();
            let mut h = from;
            while h <= tip && (blocks.len() as u64) < crate::wire::MAX_BATCH {
                match self.node.store.block(h) {
                    Ok(Some(b)) if crate::parse_record(&b.header.consensus).is_none() => {
                        blocks.push(b)
                    }
                    _ => break,
                }
                h += 1;
            }
            return Some(BlockMessage::Blocks(blocks));
        }
        if from == tip + 1 && self.current == 0 && (tip == 0 || self.epoch_at(tip).is_none()) {
            return Some(BlockMessage::Tip {
                height: tip,
                hash: self.producer.state().last_block_hash(),
            });
        }
        self.certificate_for(epoch, from)
            .map(|(height, certificate)| BlockMessage::Certified {
                height,
                certificate,
            })
    }

    /// The validator whose word a holding validator takes on where a solo chain ends: the
    /// proposer of its last committed block, or genesis's one validator.
    fn solo_authority(&self) -> Option<depin_core::Address> {
        let height = self.producer.state().height();
        if height == 0 {
            let c = &self.node.genesis.consensus;
            return match c.validators.as_slice() {
                [] => Some(c.validator),
                [one] => Some(*one),
                _ => None,
            };
        }
        let header = self.node.store.header(height).ok()??;
        Some(header.proposer)
    }

    /// A peer says where its chain is. A holding validator level with it starts epoch 0 on
    /// its own last block, if the peer is the validator that produced that block (or
    /// genesis's one validator).
    fn on_tip(&mut self, from: &PublicKey, height: u64, hash: Hash) {
        if !self.holding
            || height != self.producer.state().height()
            || hash != self.producer.state().last_block_hash()
            || self.solo_authority() != Some(address(from))
        {
            return;
        }
        self.release();
    }

    /// Stops holding: consensus epoch 0 starts on the committed chain's last block with the
    /// set in state, and its engine is started.
    fn release(&mut self) {
        let state = self.producer.state();
        let participants = participants_of(state.validators().iter().map(|v| &v.address));
        let start = EpochStart {
            epoch: 0,
            endpoints: crate::peers::endpoints_of(state, &participants),
            participants,
            genesis: state.last_block_hash(),
            height: state.height(),
        };
        info!(
            height = start.height,
            validators = start.participants.len(),
            "the chain's solo blocks end here: consensus epoch 0 starts on this block"
        );
        self.holding = false;
        self.current = 0;
        self.epochs = BTreeMap::from([(
            0,
            (start.participants.clone(), set_hash(&start.participants)),
        )]);
        {
            let mut epochs = self.shared.epochs.lock().expect("epochs lock");
            epochs.clear();
            epochs.push(start.clone());
        }
        let _ = self.epoch_out.send(start);
    }

    /// While holding: commits the held solo blocks that extend the committed chain, each on
    /// the signature of the one validator of the set it was produced under (only a chain
    /// whose set is one validator has solo blocks; the ledger checks the proposer is that
    /// validator and its signature).
    fn commit_solo(&mut self) {
        while self.holding {
            let state = self.producer.state();
            if participants_of(state.validators().iter().map(|v| &v.address)).len() != 1 {
                return;
            }
            let tip = state.last_block_hash();
            let Some(block) = self
                .blocks
                .values()
                .find(|b| {
                    b.header.parent == tip && crate::parse_record(&b.header.consensus).is_none()
                })
                .cloned()
            else {
                return;
            };
            let hash = block.hash();
            self.blocks.remove(&hash);
            let started = Instant::now();
            if let Err(e) = self.producer.verify(&block) {
                warn!(%hash, "a solo block from a peer does not verify: {e}");
                return;
            }
            let committed = match self.producer.finalize(&hash) {
                Ok(c) => c,
                Err(e) => {
                    error!(%hash, "committing a solo block failed, stopping: {e}");
                    self.node.request_shutdown();
                    return;
                }
            };
            let h = committed.block.header.height;
            self.node.on_finalized(&committed, started.elapsed(), &[]);
            self.remember(hash, h);
            self.last_progress = self.context.current();
            // More may follow: ask again at once.
            self.last_sync = UNIX_EPOCH;
            let participants = participants_of(
                self.producer
                    .state()
                    .validators()
                    .iter()
                    .map(|v| &v.address),
            );
            self.epochs = BTreeMap::from([(0, (participants.clone(), set_hash(&participants)))]);
            let mut epochs = self.shared.epochs.lock().expect("epochs lock");
            epochs.clear();
            epochs.push(EpochStart {
                epoch: 0,
                endpoints: crate::peers::endpoints_of(self.producer.state(), &participants),
                participants,
                genesis: hash,
                height: h,
            });
        }
    }

    /// The consensus epoch a committed block belongs to (`None` for a solo block).
    fn epoch_at(&self, height: u64) -> Option<u64> {
        let header = self.node.store.header(height).ok()??;
        crate::parse_record(&header.consensus).map(|r| r.epoch)
    }

    /// A certificate a peer in `epoch` at height `from - 1` can check and catch up with: of
    /// the last committed block of `epoch` (found by bisection, epochs only grow with height)
    /// when one is stored for it, else the highest of the epoch among the next
    /// [`SYNC_SCAN`] stored at or above `from`.
    fn certificate_for(&self, epoch: u64, from: u64) -> Option<(u64, Vec<u8>)> {
        let tip = self.producer.state().height();
        if from == 0 || from > tip || self.epoch_at(from) != Some(epoch) {
            return None;
        }
        let (mut low, mut high) = (from, tip);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if self.epoch_at(mid).is_some_and(|e| e <= epoch) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let read = |h: u64| match self.node.store.certificate_from(h) {
            Ok(found) => found,
            Err(e) => {
                error!("reading a certificate to answer a catch-up request: {e}");
                None
            }
        };
        if let Some((h, certificate)) = read(low)
            && h == low
        {
            return Some((h, certificate));
        }
        let mut best = None;
        let mut at = from;
        for _ in 0..SYNC_SCAN {
            let Some((h, certificate)) = read(at) else {
                break;
            };
            if h > low {
                break;
            }
            best = Some((h, certificate));
            at = h + 1;
        }
        best
    }

    /// A peer's answer to a catch-up request: a finalization certificate of a block of this
    /// validator's epoch. Checked against the epoch's set; if it is good, the block becomes
    /// the finalization target and the blocks up to it are fetched (many per round trip).
    fn on_certified(&mut self, from: &PublicKey, height: u64, certificate: &[u8]) {
        use commonware_codec::{Copying, Read};
        use commonware_cryptography::certificate::Verifier as _;
        if height <= self.producer.state().height() {
            return;
        }
        let Some((participants, _)) = self.epochs.get(&self.current) else {
            return;
        };
        let Ok(set) = commonware_utils::ordered::Set::try_from(participants.clone()) else {
            return;
        };
        let scheme = Scheme::verifier(crate::NAMESPACE, set);
        let mut buf = Copying(certificate);
        let finalization =
            match Finalization::read_cfg(&mut buf, &scheme.certificate_codec_config()) {
                Ok(f) if buf.0.is_empty() => f,
                _ => {
                    warn!(?from, "an undecodable catch-up certificate");
                    return;
                }
            };
        if finalization.proposal.round.epoch().get() != self.current {
            debug!(?from, "a catch-up certificate of another epoch");
            return;
        }
        if !finalization.verify(&mut self.context, &scheme, &commonware_parallel::Sequential) {
            warn!(
                ?from,
                "a catch-up certificate that does not verify for the epoch's set"
            );
            return;
        }
        if self.holding {
            // Epoch 0 has blocks past this validator's last one, and they are certified by
            // the set in its state: its chain's solo blocks are over.
            self.release();
        }
        let hash = crate::hash(&finalization.proposal.payload);
        info!(height, %hash, epoch = self.current, "catching up to a certified block");
        self.missing.entry(hash).or_insert(height);
        self.on_finalization(&finalization);
    }

    /// Takes a finalization as the commit target if it is newer than the one held.
    fn on_finalization(&mut self, f: &Finalization) {
        use commonware_codec::Encode;
        let round = (
            f.proposal.round.epoch().get(),
            f.proposal.round.view().get(),
        );
        if self.target.as_ref().is_none_or(|(r, _, _)| round > *r) {
            let hash = crate::hash(&f.proposal.payload);
            if !self.recent_set.contains(&hash) {
                self.target = Some((round, hash, f.encode().to_vec()));
            }
        }
    }

    /// A block by hash: held, or committed (found through the height hint or the recent list).
    fn find_block(&self, hash: &Hash, height: u64) -> Option<Block> {
        if let Some(block) = self.blocks.get(hash) {
            return Some(block.clone());
        }
        let height = if height == 0 {
            self.recent.iter().find(|(h, _)| h == hash)?.1
        } else {
            height
        };
        match self.node.store.block(height) {
            Ok(Some(block)) if block.hash() == *hash => Some(block),
            Ok(_) => None,
            Err(e) => {
                error!("reading block {height} to serve a peer: {e}");
                None
            }
        }
    }

    /// Asks the peers for every missing block, with as many of its ancestors as the
    /// committed chain lacks below it (up to [`crate::wire::MAX_BATCH`] per round trip).
    fn request_missing(&mut self, out: &mut impl Sender<PublicKey = PublicKey>) {
        let committed = self.producer.state().height();
        for (hash, height) in &self.missing {
            let count = height
                .saturating_sub(committed)
                .clamp(1, crate::wire::MAX_BATCH);
            let bytes = BlockMessage::Request {
                hash: *hash,
                height: *height,
                count,
            }
            .to_bytes();
            let _ = out.send(Recipients::All, IoBuf::from(bytes), false);
        }
    }

    /// Commits what a finalization covers, then answers the verifications that can be answered.
    fn progress(&mut self, out: &mut impl Sender<PublicKey = PublicKey>) {
        let asked_before = self.missing.len();
        self.commit_solo();
        self.advance_finality();
        self.release_delayed();
        let waiting = std::mem::take(&mut self.waiting);
        for waiter in waiting {
            if let Some(waiter) = self.try_verify(waiter) {
                self.waiting.push(waiter);
            }
        }
        if self.missing.len() > asked_before {
            self.request_missing(out);
        }
    }

    /// Answers a verification if its block and ancestors are here; gives it back otherwise.
    fn try_verify(&mut self, waiter: Waiter) -> Option<Waiter> {
        if waiter.response.is_closed() {
            return None;
        }
        let parent = crate::hash(&waiter.context.parent.1);
        if waiter.hash == parent {
            // A block proposed again in a later view: only an epoch's last block may be.
            let verdict = if self.recent_set.contains(&parent)
                && parent != self.producer.state().last_block_hash()
            {
                // Committed and built on already: finalizing it again changes nothing.
                true
            } else {
                if !self.ensure_executable(parent) {
                    return Some(waiter);
                }
                self.ends_epoch(waiter.context.round.epoch().get(), parent) == Some(true)
            };
            let _ = waiter.response.send(verdict);
            return None;
        }
        let Some(block) = self.blocks.get(&waiter.hash) else {
            if self.recent_set.contains(&waiter.hash) {
                let _ = waiter.response.send(true);
                return None;
            }
            self.missing.entry(waiter.hash).or_insert(0);
            return Some(waiter);
        };
        let context = &waiter.context;
        let Some((_, set)) = self.epochs.get(&context.round.epoch().get()) else {
            // An engine of an epoch that is over: no verdict is needed any more.
            return None;
        };
        let header = &block.header;
        // The block must be the one this round asks about: on the parent the engine names,
        // by the round's leader, recording the round.
        let valid_for_round = header.parent == crate::hash(&context.parent.1)
            && header.proposer == address(&context.leader)
            && header.consensus == consensus_record(context, set);
        if !valid_for_round {
            let _ = waiter.response.send(false);
            return None;
        }
        if header.height <= self.producer.state().height() {
            // A branch that can no longer be finalized: no verdict will ever be needed.
            return None;
        }
        let parent = header.parent;
        let block = block.clone();
        if !self.ensure_executable(parent) {
            return Some(waiter);
        }
        if self.ends_epoch(context.round.epoch().get(), parent) != Some(false) {
            // Nothing follows an epoch's last block in that epoch (the next epoch's engine
            // builds on it, with the new set).
            let _ = waiter.response.send(false);
            return None;
        }
        let verdict = match self.verify_block(&block) {
            Ok(_) => true,
            Err(e) => {
                warn!(hash = %waiter.hash, "refusing a proposal: {e}");
                self.blocks.remove(&waiter.hash);
                false
            }
        };
        let _ = waiter.response.send(verdict);
        None
    }

    /// Commits the blocks from the finalized tip up to the finalization target, in order.
    fn advance_finality(&mut self) {
        let Some((_, target, _)) = self.target.clone() else {
            return;
        };
        let finalized = self.producer.state().last_block_hash();
        let height = self.producer.state().height();
        let mut chain = Vec::new();
        let mut at = target;
        let mut hint = 0;
        while at != finalized {
            let Some(block) = self.blocks.get(&at) else {
                self.missing.entry(at).or_insert(hint);
                return;
            };
            if block.header.height <= height {
                let committed = self.node.store.header(block.header.height);
                if !matches!(committed, Ok(Some(ref h)) if h.hash() == at) {
                    error!(%target, "a finalized block does not descend from the committed chain");
                }
                self.target = None;
                return;
            }
            chain.push(at);
            hint = block.header.height - 1;
            at = block.header.parent;
        }
        for hash in chain.into_iter().rev() {
            let started = Instant::now();
            if !self.producer.is_pending(&hash) {
                let block = self.blocks.get(&hash).expect("walked above").clone();
                if let Err(e) = self.verify_block(&block) {
                    error!(%hash, "a finalized block does not verify: {e}");
                    self.target = None;
                    return;
                }
            }
            let committed = match self.producer.finalize(&hash) {
                Ok(c) => c,
                Err(e) => {
                    error!(%hash, "committing a finalized block failed, stopping: {e}");
                    self.node.request_shutdown();
                    self.target = None;
                    return;
                }
            };
            let h = committed.block.header.height;
            if hash == target {
                let (_, _, certificate) = self.target.take().expect("set above");
                if let Err(e) = self.node.store.put_certificate(h, &certificate) {
                    error!("storing the finalization certificate of block {h}: {e}");
                }
            }
            self.node.on_finalized(&committed, started.elapsed(), &[]);
            self.last_progress = self.context.current();
            self.remember(hash, h);
            self.end_epoch_after(hash);
        }
        // Blocks at or below the committed height can no longer be finalized.
        let height = self.producer.state().height();
        let mut orphaned = Vec::new();
        self.blocks.retain(|hash, b| {
            let keep = b.header.height > height;
            if !keep && !self.recent_set.contains(hash) {
                orphaned.append(&mut std::mem::take(&mut b.txs));
            }
            keep
        });
        self.readmit(orphaned);
        self.missing.retain(|h, _| !self.recent_set.contains(h));
    }

    /// Gives the mempool back the transactions of blocks that will never be finalized. The
    /// mempool forgets what a proposal took from it once the next block commits (in solo mode
    /// that block held them), so a transaction this validator put in a proposal that was not
    /// finalized, or left out of one because a pending ancestor held it, was lost: a client
    /// that submitted it once never saw it committed (simulation seed 15 of the downtime
    /// scenario lost an unjail this way). Admitted again with every check: those committed
    /// meanwhile are refused (nonce used), those still held are duplicates. The mempool first
    /// takes their nonces back (`Mempool::give_back`): reaping had moved each signer's sequence
    /// past them, so a signer whose next transaction was already waiting had its given-back one
    /// refused as a replay.
    fn readmit(&self, txs: Vec<Transaction>) {
        if txs.is_empty() {
            return;
        }
        {
            let state = self.producer.state();
            let mut pool = self.node.mempool.lock().expect("mempool lock");
            for tx in &txs {
                let committed = state.account(&tx.signer).map_or(0, |a| a.nonce);
                pool.give_back(tx, committed);
            }
        }
        let offered = txs.len();
        let back = self
            .node
            .submit_gossiped(txs)
            .iter()
            .filter(|v| v.is_ok())
            .count();
        debug!(
            offered,
            back, "transactions of blocks that were not finalized went back to the mempool"
        );
    }

    /// After committing `hash`: if the validator set changed, the epoch ends with this block
    /// and the next one (with the new set) starts on it.
    fn end_epoch_after(&mut self, hash: Hash) {
        let now = participants_of(
            self.producer
                .state()
                .validators()
                .iter()
                .map(|v| &v.address),
        );
        let Some((participants, _)) = self.epochs.get(&self.current) else {
            return;
        };
        if now == *participants {
            self.refresh_endpoints(now);
            return;
        }
        let next = EpochStart {
            epoch: self.current + 1,
            endpoints: crate::peers::endpoints_of(self.producer.state(), &now),
            participants: now,
            genesis: hash,
            height: self.producer.state().height(),
        };
        info!(
            epoch = next.epoch,
            validators = next.participants.len(),
            height = self.producer.state().height(),
            "the validator set changed: a new epoch starts"
        );
        self.epochs.insert(
            next.epoch,
            (next.participants.clone(), set_hash(&next.participants)),
        );
        self.current = next.epoch;
        let keep_from = self.current.saturating_sub(1);
        self.epochs.retain(|e, _| *e >= keep_from);
        self.shared
            .epochs
            .lock()
            .expect("epochs lock")
            .push(next.clone());
        let _ = self.epoch_out.send(next);
    }

    /// Within an epoch: when a participant that had no endpoint on chain registers one (a
    /// validator seated by a set change can register only once it is in the set), the epoch
    /// is announced again with the new endpoints, so the network connects to it now rather
    /// than at the next epoch. Every validator sees it at the same committed block. A changed
    /// endpoint of a participant that had one waits for the next epoch (so a participant
    /// cannot make its peers re-track every block).
    fn refresh_endpoints(&mut self, participants: Vec<PublicKey>) {
        let endpoints = crate::peers::endpoints_of(self.producer.state(), &participants);
        let refreshed = {
            let mut epochs = self.shared.epochs.lock().expect("epochs lock");
            let Some(last) = epochs.last_mut() else {
                return;
            };
            let gained = endpoints
                .iter()
                .any(|(k, _)| !last.endpoints.iter().any(|(had, _)| had == k));
            if last.epoch != self.current || !gained {
                return;
            }
            last.endpoints = endpoints;
            last.clone()
        };
        info!(
            epoch = refreshed.epoch,
            "a validator of this epoch registered its p2p endpoint: connecting to it"
        );
        let _ = self.epoch_out.send(refreshed);
    }

    fn remember(&mut self, hash: Hash, height: u64) {
        self.recent.push_back((hash, height));
        self.recent_set.insert(hash);
        if self.recent.len() > RECENT_COMMITTED
            && let Some((old, _)) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
    }
}

/// Milliseconds since the Unix epoch of a runtime time (the proposer's block time).
fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
