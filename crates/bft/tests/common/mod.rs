//! A 4-validator network on the deterministic runtime and simulated network, with one fault,
//! transactions flowing, and the invariants every run must keep.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use commonware_actor::Feedback;
use commonware_consensus::simplex::mocks::conflicter::{self, Conflicter};
use commonware_cryptography::Blake3;
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_p2p::utils::mux::Muxer;
use commonware_p2p::{
    Address as PeerAddress, AddressableManager, AddressableTrackedPeers, PeerSetSubscription,
    Provider, TrackedPeers,
};
use commonware_runtime::{Clock, Quota, Runner, Storage, Supervisor, deterministic};
use commonware_utils::ordered::Map;
use commonware_utils::ordered::Set;
use depin_bft::engine::{self, Channels, Running, Timeouts};
use depin_bft::peers::Directory;
use depin_bft::{NAMESPACE, PublicKey, Scheme, consensus_key};
use depin_core::StateRead;
use depin_core::services::governance::GovernanceView;
use depin_core::{Action, Amount, Genesis, Hash, Keypair, Transaction};
use depin_node::mempool::MempoolLimits;
use depin_node::node::Node;
use depin_store::Store;

/// Which validator misbehaves, and how.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Validator 3 is stopped at `FAULT_AT` and restarted from its store at `HEAL_AT`.
    CrashRestart,
    /// Validator 3 is cut off from the others at `FAULT_AT` and reconnected at `HEAL_AT`.
    Partition,
    /// Validator 3 signs two conflicting votes for every vote it sees (the engine's mock).
    Equivocate,
}

/// What a run ended with (equal for equal seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The height every honest validator reached.
    pub height: u64,
    /// The block hash at that height.
    pub tip: Hash,
    /// Transactions committed.
    pub committed_txs: usize,
    /// Equivocations the honest validators reported.
    pub faults_seen: usize,
    /// Validators slashed on chain (from recorded evidence), by index, and whether each is
    /// jailed.
    pub slashed: Vec<(usize, bool)>,
    /// Epochs the first honest validator entered, with their participant counts.
    pub epochs: Vec<(u64, usize)>,
}

pub const VALIDATORS: usize = 4;
const FAULT_AT: Duration = Duration::from_secs(3);
const HEAL_AT: Duration = Duration::from_secs(8);
/// After healing, every honest validator must commit this many more blocks...
const BLOCKS_AFTER_HEAL: u64 = 10;
/// ...within this much simulated time.
const PROGRESS_BOUND: Duration = Duration::from_secs(20);
const SENDERS: u8 = 6;
const TX_INTERVAL: Duration = Duration::from_millis(150);

fn validator_key(i: usize) -> Keypair {
    Keypair::from_seed([100 + i as u8; 32])
}

fn sender_key(i: u8) -> Keypair {
    Keypair::from_seed([10 + i; 32])
}

/// The emergency key of the reconfiguration scenario's governance.
fn governor() -> Keypair {
    sender_key(0)
}

/// The simulated network's genesis: four validators (with balances, to pay for the evidence
/// they report), six senders, and governance (slashing; the emergency key changes the set in
/// the reconfiguration scenario).
pub fn genesis() -> Genesis {
    let allocations: Vec<_> = (0..SENDERS)
        .map(|i| (sender_key(i).address(), "1000"))
        .chain((0..VALIDATORS).map(|i| (validator_key(i).address(), "1000")))
        .collect();
    let allocations: Vec<_> = allocations.iter().map(|(a, s)| (*a, *s)).collect();
    let mut g = Genesis::solo("bft-sim", validator_key(0).address(), &allocations);
    g.consensus.validators = (0..VALIDATORS)
        .map(|i| validator_key(i).address())
        .collect();
    g.consensus.block_interval_ms = 100;
    g.consensus.epoch_length_blocks = 20;
    let mut gov = depin_core::services::governance::GovernanceGenesis::devnet();
    gov.emergency_key = Some(governor().address());
    g.modules.governance = Some(gov);
    g
}

/// A solo network's genesis (validator 0 alone, no `validators` list), with the same
/// governance.
pub fn solo_genesis() -> Genesis {
    let mut g = genesis();
    g.consensus.validators = Vec::new();
    g
}

/// One honest validator: its store (kept across a restart), its node and its running tasks.
struct Honest {
    index: usize,
    genesis: Genesis,
    key: Keypair,
    store: Arc<Store>,
    node: Arc<Node>,
    running: Option<Running>,
    /// The validators (by index) its `peers.toml` lists.
    bootstrap: Vec<usize>,
    /// Where the peer sets its driver tracks are recorded (the newcomer scenario), instead of
    /// the simulated network's own tracker.
    books: Option<Books>,
    _dir: tempfile::TempDir,
}

impl Honest {
    /// Validator `index` with `key` on a fresh store for `genesis`, not started yet; its
    /// chain writer for a solo driver (the BFT driver opens its own when started).
    fn open(
        index: usize,
        key: &Keypair,
        genesis: Genesis,
    ) -> (Honest, depin_node::chain::Producer) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("chain.redb")).unwrap());
        let (node, producer) = Node::open(
            genesis.clone(),
            store.clone(),
            Keypair::from_seed(key.seed()),
            MempoolLimits::default(),
        )
        .expect("open");
        let v = Honest {
            index,
            genesis,
            key: Keypair::from_seed(key.seed()),
            store,
            node,
            running: None,
            bootstrap: (0..VALIDATORS).collect(),
            books: None,
            _dir: dir,
        };
        (v, producer)
    }
}

/// The epochs `v` entered: number, participant count, height built on (none while stopped).
fn epochs(v: &Honest) -> Vec<(u64, usize, u64)> {
    v.running
        .as_ref()
        .map(|r| {
            r.shared
                .epochs
                .lock()
                .unwrap()
                .iter()
                .map(|e| (e.epoch, e.participants.len(), e.height))
                .collect()
        })
        .unwrap_or_default()
}

/// On even ticks, a sender (1.., the governor being sender 0) pays its neighbour through
/// `node`; an admitted transfer advances the sender's nonce and is recorded as submitted.
fn send_transfer(
    node: &Node,
    network_id: &depin_core::tx::Network,
    tick: u64,
    nonces: &mut [u64],
    submitted: &mut Vec<Hash>,
) {
    if !tick.is_multiple_of(2) {
        return;
    }
    let s = (1 + tick / 2 % (SENDERS as u64 - 1)) as u8;
    let tx = Transaction::sign(
        network_id,
        &sender_key(s),
        nonces[s as usize],
        1_000_000,
        Action::Transfer {
            to: sender_key(s % (SENDERS - 1) + 1).address(),
            amount: Amount(1 + tick as u128),
        },
    );
    if node.submit(vec![tx.clone()])[0].is_ok() {
        nonces[s as usize] += 1;
        submitted.push(tx.hash());
    }
}

/// Opens every validator of `keys` on a fresh store for `genesis` and starts each on the BFT
/// driver.
async fn start_all(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    keys: &[Keypair],
    pks: &[PublicKey],
    genesis: Genesis,
) -> BTreeMap<usize, Honest> {
    let mut nodes = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let chans = channels(oracle, &pks[i]).await;
        let (mut v, _) = Honest::open(i, key, genesis.clone());
        start_honest(context, oracle, &mut v, 0, chans);
        nodes.insert(i, v);
    }
    nodes
}

/// The epochs every node entered, checked to be the same, entered at the same blocks,
/// everywhere.
fn same_epochs(seed: u64, nodes: &BTreeMap<usize, Honest>) -> Vec<(u64, usize, u64)> {
    let reference = epochs(&nodes[&0]);
    for (i, v) in nodes {
        assert_eq!(
            epochs(v),
            reference,
            "seed {seed}: validator {i} entered other epochs"
        );
    }
    reference
}

/// The epochs, of those `v` entered, whose engine journal is still in storage.
async fn journals(context: &deterministic::Context, v: &Honest) -> Vec<u64> {
    let mut kept = Vec::new();
    for (epoch, _, _) in epochs(v) {
        let partition = format!("{}-epoch-{epoch}", partition_of(&v.key));
        if context.scan(&partition).await.is_ok() {
            kept.push(epoch);
        }
    }
    kept
}

/// Checks that `v` keeps no engine journal but those of the two epochs whose engines run (the
/// current one and the one before it). With `voted`, `v` has voted in its current epoch (it
/// is in its set and the epoch has finalized blocks), so its engine has started (the older
/// journal is gone) and that epoch's journal must be there
/// (the check cannot pass by looking in the wrong place); an engine that has not voted yet
/// may not have written its journal.
async fn only_running_journals(
    seed: u64,
    context: &deterministic::Context,
    v: &Honest,
    voted: bool,
) {
    let me = depin_bft::public_key(&v.key.address()).unwrap();
    let in_set = v.running.as_ref().is_some_and(|r| {
        r.shared
            .epochs
            .lock()
            .unwrap()
            .last()
            .is_some_and(|e| e.participants.contains(&me))
    });
    let votes = voted && in_set;
    let entered: Vec<u64> = epochs(v).iter().map(|(e, _, _)| *e).collect();
    // Without `voted`, the newest epoch may have been entered a moment ago: the supervisor
    // deletes the journal of the epoch two before it once it starts that epoch's engine.
    let keep = if voted { 2 } else { 3 };
    let running = &entered[entered.len().saturating_sub(keep)..];
    let kept = journals(context, v).await;
    assert!(
        kept.iter().all(|e| running.contains(e)),
        "seed {seed}: validator {} entered epochs {entered:?} and keeps the journals of \
         {kept:?}; only those of the last two may be left",
        v.index
    );
    if votes {
        let current = entered.last().expect("an epoch");
        assert!(
            kept.contains(current),
            "seed {seed}: validator {} has no journal of its current epoch {current}",
            v.index
        );
    }
}

/// The storage partition names of a validator's engine journals start with this.
fn partition_of(key: &Keypair) -> String {
    format!("validator-{}", key.address())
}

fn quota() -> Quota {
    Quota::per_second(std::num::NonZeroU32::new(10_000).expect("nonzero"))
}

async fn channels(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    me: &PublicKey,
) -> Channels<simulated::Sender<PublicKey, deterministic::Context>, simulated::Receiver<PublicKey>>
{
    let control = oracle.control(me.clone());
    let mut regs = Vec::new();
    for channel in [
        engine::VOTES,
        engine::CERTIFICATES,
        engine::RESOLVER,
        engine::BLOCKS,
        engine::TXS,
    ] {
        regs.push(control.register(channel, quota()).await.expect("register"));
    }
    let mut regs = regs.into_iter();
    Channels {
        votes: regs.next().unwrap(),
        certificates: regs.next().unwrap(),
        resolver: regs.next().unwrap(),
        blocks: regs.next().unwrap(),
        txs: regs.next().unwrap(),
    }
}

fn start_honest(
    context: &deterministic::Context,
    oracle: &Oracle<PublicKey, deterministic::Context>,
    v: &mut Honest,
    incarnation: u32,
    channels: Channels<
        simulated::Sender<PublicKey, deterministic::Context>,
        simulated::Receiver<PublicKey>,
    >,
) {
    let (node, producer) = Node::open(
        v.genesis.clone(),
        v.store.clone(),
        Keypair::from_seed(v.key.seed()),
        MempoolLimits::default(),
    )
    .expect("open the node");
    v.node = node.clone();
    let me = depin_bft::public_key(&v.key.address()).unwrap();
    // Its peers.toml, as `run::run_validator` reads it; the driver tracks each epoch's set
    // (peers.toml plus the endpoints registered on chain) through the same `Directory`.
    let bootstrap = Map::try_from(
        v.bootstrap
            .iter()
            .map(|i| (sim_key(*i), sim_address(*i)))
            .collect::<Vec<_>>(),
    )
    .expect("distinct validators");
    let context = context
        .child("validator")
        .with_attribute("id", format!("{}-{incarnation}", v.index));
    let running = match &v.books {
        Some(books) => {
            let mut book = Book {
                me: me.clone(),
                books: books.clone(),
                inner: oracle.socket_manager(),
            };
            let _ = book.track(0, bootstrap.clone());
            let limit = depin_bft::peers::max_peers_per_set(bootstrap.len());
            engine::start_with_peers(
                context,
                node,
                producer,
                &v.key,
                &partition_of(&v.key),
                Timeouts::default(),
                oracle.control(me.clone()),
                Directory::new(book, bootstrap, me, limit),
                channels,
            )
        }
        None => engine::start_with_peers(
            context,
            node,
            producer,
            &v.key,
            &partition_of(&v.key),
            Timeouts::default(),
            oracle.control(me.clone()),
            Directory::new(oracle.socket_manager(), bootstrap, me, SIM_PEERS_PER_SET),
            channels,
        ),
    }
    .expect("start the validator");
    v.running = Some(running);
}

/// The simulated network's bound on a peer set (every validator of the largest scenario).
const SIM_PEERS_PER_SET: usize = VALIDATORS + 1;

/// Validator `i`'s consensus key.
fn sim_key(i: usize) -> PublicKey {
    depin_bft::public_key(&validator_key(i).address()).unwrap()
}

/// Where validator `i` listens, in the simulation (the simulated network has no addresses;
/// the newcomer scenario's [`Book`]s compare them to decide who can connect).
fn sim_address(i: usize) -> PeerAddress {
    PeerAddress::Symmetric(std::net::SocketAddr::from(([10, 0, 0, 1 + i as u8], 26600)))
}

/// How many peer sets commonware's lookup network keeps (`tracked_peer_sets`).
const LOOKUP_TRACKED_SETS: usize = 4;

/// The peer sets each validator's driver tracked, by validator key: newest last, at most
/// [`LOOKUP_TRACKED_SETS`], ids only growing (as the lookup network keeps them).
#[derive(Clone, Default, Debug)]
struct Books(Arc<Mutex<BTreeMap<PublicKey, TrackedSets>>>);

/// One validator's tracked peer sets by id.
type TrackedSets = BTreeMap<u64, Map<PublicKey, PeerAddress>>;

impl Books {
    /// Whether `a`'s network would reach `b`: one of `a`'s tracked sets has `b` at the address
    /// it listens on (the lookup network dials that address, and admits an incoming
    /// connection only from a tracked key at its tracked IP).
    fn knows(&self, a: &PublicKey, b: &PublicKey, b_at: &PeerAddress) -> bool {
        self.0
            .lock()
            .unwrap()
            .get(a)
            .is_some_and(|sets| sets.values().any(|m| m.get_value(b) == Some(b_at)))
    }
}

/// A validator's addressable peer manager in the newcomer scenario: records what the driver
/// tracks; the scenario links two validators on the simulated network only while each has
/// tracked the other at its address, as two lookup networks would connect.
#[derive(Clone, Debug)]
struct Book {
    me: PublicKey,
    books: Books,
    inner: simulated::SocketManager<PublicKey, deterministic::Context>,
}

impl Provider for Book {
    type PublicKey = PublicKey;

    async fn peer_set(&mut self, id: u64) -> Option<TrackedPeers<PublicKey>> {
        self.inner.peer_set(id).await
    }

    async fn subscribe(&mut self) -> PeerSetSubscription<PublicKey> {
        self.inner.subscribe().await
    }
}

impl AddressableManager for Book {
    fn track<R>(&mut self, id: u64, peers: R) -> Feedback
    where
        R: Into<AddressableTrackedPeers<PublicKey>> + Send,
    {
        let peers = peers.into();
        let mut books = self.books.0.lock().unwrap();
        let sets = books.entry(self.me.clone()).or_default();
        if sets.last_key_value().is_some_and(|(last, _)| id <= *last) {
            return Feedback::Ok;
        }
        sets.insert(id, peers.primary);
        while sets.len() > LOOKUP_TRACKED_SETS {
            sets.pop_first();
        }
        Feedback::Ok
    }

    fn overwrite(&mut self, _peers: Map<PublicKey, PeerAddress>) -> Feedback {
        Feedback::Ok
    }
}

fn link() -> Link {
    Link {
        latency: Duration::from_millis(30),
        jitter: Duration::from_millis(20),
        success_rate: commonware_utils::probability!(0.95),
    }
}

async fn connect(oracle: &Oracle<PublicKey, deterministic::Context>, a: &PublicKey, b: &PublicKey) {
    oracle.add_link(a.clone(), b.clone(), link()).await.unwrap();
    oracle.add_link(b.clone(), a.clone(), link()).await.unwrap();
}

async fn disconnect(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    a: &PublicKey,
    b: &PublicKey,
) {
    let _ = oracle.remove_link(a.clone(), b.clone()).await;
    let _ = oracle.remove_link(b.clone(), a.clone()).await;
}

/// The deterministic runtime of one seed (simulated time from 1 s after the Unix epoch, at most
/// 300 simulated seconds).
fn runner(seed: u64) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_start_time(UNIX_EPOCH + Duration::from_secs(1))
            .with_timeout(Some(Duration::from_secs(300))),
    )
}

/// The validators' keys and public keys, on a simulated network where every pair is linked.
async fn mesh(
    context: &deterministic::Context,
) -> (
    Vec<Keypair>,
    Vec<PublicKey>,
    Oracle<PublicKey, deterministic::Context>,
) {
    let keys: Vec<Keypair> = (0..VALIDATORS).map(validator_key).collect();
    let pks: Vec<PublicKey> = keys
        .iter()
        .map(|k| depin_bft::public_key(&k.address()).unwrap())
        .collect();
    let oracle = simulated_network(context, &pks).await;
    for i in 0..VALIDATORS {
        for j in i + 1..VALIDATORS {
            connect(&oracle, &pks[i], &pks[j]).await;
        }
    }
    (keys, pks, oracle)
}

/// Runs one seed with one fault and checks the invariants; panics naming what broke.
pub fn simulate(seed: u64, fault: Fault) -> Report {
    let executor = runner(seed);
    executor.start(|context| async move { run(context, seed, fault).await })
}

async fn run(context: deterministic::Context, seed: u64, fault: Fault) -> Report {
    let (keys, pks, oracle) = mesh(&context).await;

    let byzantine = matches!(fault, Fault::Equivocate).then_some(VALIDATORS - 1);
    let mut honest: BTreeMap<usize, Honest> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let chans = channels(&oracle, &pks[i]).await;
        if Some(i) == byzantine {
            let set = Set::try_from(pks.clone()).unwrap();
            let scheme = Scheme::signer(NAMESPACE, set, consensus_key(key)).unwrap();
            let conflicter = Conflicter::<_, _, Blake3>::new(
                context.child("byzantine"),
                conflicter::Config { scheme },
            );
            // Votes travel on a channel split by epoch: the mock votes in epoch 0.
            let (mux, mut votes) =
                Muxer::new(context.child("byzantine_mux"), chans.votes.0, chans.votes.1);
            mux.start();
            conflicter.start(votes.register(0).await.unwrap());
            continue;
        }
        let (mut v, _) = Honest::open(i, key, genesis());
        start_honest(&context, &oracle, &mut v, 0, chans);
        honest.insert(i, v);
    }

    // Transactions: each sender pays a neighbour every few ticks, submitted to a rotating
    // honest validator (which gossips them to the others).
    let network_id = genesis().network();
    let mut nonces = [0u64; SENDERS as usize];
    let mut submitted: Vec<Hash> = Vec::new();
    let entry_points: Vec<usize> = honest.keys().copied().collect();
    let mut tick = 0u64;
    let mut faulted = false;
    let mut healed = false;
    let mut height_at_heal = 0;
    // The equivocator's evidence lands in the first ledger epoch; the run goes on past the
    // second boundary, where the jailed validator must have left the set.
    let min_height = match fault {
        Fault::Equivocate => 2 * genesis().consensus.epoch_length_blocks + 2,
        _ => 0,
    };
    let target = loop {
        let now = context.current().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        if !faulted && now >= FAULT_AT {
            faulted = true;
            match fault {
                Fault::CrashRestart => {
                    let v = honest.get_mut(&3).unwrap();
                    let running = v.running.take().unwrap();
                    running.engine.abort();
                    running.application.abort();
                }
                Fault::Partition => {
                    for j in 0..3 {
                        disconnect(&oracle, &pks[3], &pks[j]).await;
                    }
                }
                Fault::Equivocate => {}
            }
        }
        if faulted && !healed && now >= HEAL_AT {
            healed = true;
            match fault {
                Fault::CrashRestart => {
                    let chans = channels(&oracle, &pks[3]).await;
                    let v = honest.get_mut(&3).unwrap();
                    start_honest(&context, &oracle, v, 1, chans);
                }
                Fault::Partition => {
                    for j in 0..3 {
                        connect(&oracle, &pks[3], &pks[j]).await;
                    }
                }
                Fault::Equivocate => {}
            }
            height_at_heal = honest.values().map(|v| v.node.tip().height).max().unwrap();
        }
        if healed {
            let lowest = honest.values().map(|v| v.node.tip().height).min().unwrap();
            if lowest >= height_at_heal + BLOCKS_AFTER_HEAL && lowest >= min_height {
                break lowest;
            }
            assert!(
                now < HEAL_AT + PROGRESS_BOUND,
                "seed {seed} {fault:?}: honest validators at heights {:?}, not all past {} \
                 within {PROGRESS_BOUND:?} of healing",
                honest
                    .values()
                    .map(|v| v.node.tip().height)
                    .collect::<Vec<_>>(),
                height_at_heal + BLOCKS_AFTER_HEAL
            );
        }
        if tick.is_multiple_of(2) && now < HEAL_AT + Duration::from_secs(2) {
            let s = (tick / 2 % SENDERS as u64) as u8;
            let to = sender_key((s + 1) % SENDERS).address();
            let tx = Transaction::sign(
                &network_id,
                &sender_key(s),
                nonces[s as usize],
                1_000_000,
                Action::Transfer {
                    to,
                    amount: Amount(1 + tick as u128),
                },
            );
            let entry = entry_points[(tick as usize / 2) % entry_points.len()];
            let v = &honest[&entry];
            let crashed = matches!(fault, Fault::CrashRestart) && v.running.is_none();
            if !crashed && v.node.submit(vec![tx.clone()])[0].is_ok() {
                nonces[s as usize] += 1;
                submitted.push(tx.hash());
            }
        }
        tick += 1;
        context.sleep(TX_INTERVAL).await;
    };

    check_agreement(seed, &format!("{fault:?}"), &honest, target, &submitted)
}

/// No two honest validators differ on a block or app hash up to `height`; every committed
/// transaction has the same receipt on all of them.
fn check_agreement(
    seed: u64,
    fault: &str,
    honest: &BTreeMap<usize, Honest>,
    height: u64,
    submitted: &[Hash],
) -> Report {
    let reference = honest.values().next().unwrap();
    for h in 1..=height {
        let block = reference.store.block(h).unwrap().expect("committed");
        for (i, v) in honest {
            let other = v.store.block(h).unwrap().expect("committed");
            assert_eq!(
                other.hash(),
                block.hash(),
                "seed {seed} {fault}: validator {i} finalized another block at height {h}"
            );
            assert_eq!(
                v.store.header(h).unwrap().unwrap().app_hash,
                block.header.app_hash,
                "seed {seed} {fault}: validator {i} has another app hash at height {h}"
            );
        }
    }
    let mut committed = 0;
    for hash in submitted {
        let Some(tx) = reference.store.transaction(hash).unwrap() else {
            continue;
        };
        if tx.height > height {
            continue;
        }
        committed += 1;
        for (i, v) in honest {
            let other = v.store.transaction(hash).unwrap().unwrap_or_else(|| {
                panic!("seed {seed} {fault}: validator {i} lost committed transaction {hash}")
            });
            assert_eq!(
                (other.height, other.index, other.receipt.hash()),
                (tx.height, tx.index, tx.receipt.hash()),
                "seed {seed} {fault}: validator {i} has another receipt for {hash}"
            );
        }
    }
    assert!(
        committed > 0,
        "seed {seed} {fault}: no transaction was committed"
    );
    let faults_seen = honest
        .values()
        .filter_map(|v| v.running.as_ref())
        .map(|r| r.shared.faults.lock().unwrap().len())
        .sum();
    let view = reference
        .store
        .snapshot(reference.node.params.clone())
        .unwrap();
    let mut slashed: Vec<(usize, bool)> = view
        .slashes(100)
        .iter()
        .filter_map(|s| (0..VALIDATORS).find(|i| validator_key(*i).address() == s.offender))
        .map(|i| (i, view.jail_of(&validator_key(i).address()).is_some()))
        .collect();
    slashed.dedup();
    let epochs = epochs(reference)
        .into_iter()
        .map(|(epoch, participants, _)| (epoch, participants))
        .collect();
    Report {
        height,
        tip: reference.store.block(height).unwrap().unwrap().hash(),
        committed_txs: committed,
        faults_seen,
        slashed,
        epochs,
    }
}

/// The validator sets of the reconfiguration scenario, by validator index: a solo network
/// (validator 0) grows to four validators, then validator 3 is removed.
pub const SETS: [&[usize]; 3] = [&[0], &[0, 1, 2, 3], &[0, 1, 2]];

/// Blocks every validator must commit in an epoch before the next change is submitted (and
/// after the last one before the run ends).
const BLOCKS_PER_STAGE: u64 = 8;

/// Simulated time within which the whole reconfiguration run must be done.
const RECONFIGURE_BOUND: Duration = Duration::from_secs(60);

/// What the reconfiguration run ended with (equal for equal seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconfigured {
    pub report: Report,
    /// Each epoch entered: its number, its participant count and the height it built on.
    pub epochs: Vec<(u64, usize, u64)>,
    /// For each epoch, the validators (by index) that proposed one of its blocks.
    pub proposers: BTreeMap<u64, Vec<usize>>,
}

/// Runs the reconfiguration scenario for one seed: four nodes on a lossy network, the
/// genesis a solo network's with validator 0 alone; the emergency key enacts the set
/// `SETS[1]` (all four), and once every node runs it and has committed blocks in it, `SETS[2]`
/// (validator 3 leaves and keeps following). Checks agreement on every block, app hash and
/// receipt, that every node entered the same epochs at the same blocks, and that each epoch's
/// blocks were proposed only by its set.
pub fn reconfigure(seed: u64) -> Reconfigured {
    let executor = runner(seed);
    executor.start(|context| async move { run_reconfigure(context, seed).await })
}

async fn run_reconfigure(context: deterministic::Context, seed: u64) -> Reconfigured {
    let (keys, pks, oracle) = mesh(&context).await;
    let nodes = start_all(&context, &oracle, &keys, &pks, solo_genesis()).await;

    let network_id = solo_genesis().network();
    let mut nonces = [0u64; SENDERS as usize];
    let mut submitted: Vec<Hash> = Vec::new();
    // The set to enact next (index into SETS) and the stage's starting heights.
    let mut enacted = 0;
    let mut tick = 0u64;
    let epochs_of = epochs;
    let target = loop {
        let now = context.current().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        assert!(
            now < RECONFIGURE_BOUND,
            "seed {seed}: not done within {RECONFIGURE_BOUND:?}: heights {:?}, epochs {:?}",
            nodes
                .values()
                .map(|v| v.node.tip().height)
                .collect::<Vec<_>>(),
            nodes
                .values()
                .map(|v| epochs_of(v).len())
                .collect::<Vec<_>>()
        );
        // Every node must be in the epoch of the set enacted last, with enough blocks in it.
        let settled = nodes.values().all(|v| {
            let epochs = epochs_of(v);
            let last = epochs.last().unwrap();
            epochs.len() == enacted + 1 && v.node.tip().height >= last.2 + BLOCKS_PER_STAGE
        });
        if settled {
            if enacted + 1 == SETS.len() {
                break nodes.values().map(|v| v.node.tip().height).min().unwrap();
            }
            enacted += 1;
            let validators = SETS[enacted]
                .iter()
                .map(|i| validator_key(*i).address())
                .collect();
            let enact = Action::from(depin_core::services::governance::actions::EmergencyEnact {
                title: format!("validator set {enacted}"),
                change: depin_core::services::governance::ProposalKind::ValidatorSet { validators },
            });
            let g = 0;
            let tx = Transaction::sign(&network_id, &governor(), nonces[g], 1_000_000, enact);
            // To validator 0, in every set: a transaction gossiped once can be lost on a lossy
            // link, and in the solo epoch validator 0 is the only proposer.
            let results = nodes[&0].node.submit(vec![tx]);
            assert!(
                results[0].is_ok(),
                "seed {seed}: enacting set {enacted}: {:?}",
                results[0]
            );
            nonces[g] += 1;
        } else {
            // Senders 1.. pay their neighbours (sender 0 is the governor, its nonces above).
            let v = &nodes[&((tick as usize / 2) % VALIDATORS)];
            send_transfer(&v.node, &network_id, tick, &mut nonces, &mut submitted);
        }
        tick += 1;
        context.sleep(TX_INTERVAL).await;
    };

    let report = check_agreement(seed, "reconfigure", &nodes, target, &submitted);
    let reference = same_epochs(seed, &nodes);
    for v in nodes.values() {
        only_running_journals(seed, &context, v, true).await;
    }
    let index_of =
        |a: &depin_core::Address| (0..VALIDATORS).find(|i| validator_key(*i).address() == *a);
    let mut proposers: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let store = &nodes[&0].store;
    for h in 1..=target {
        let header = store.header(h).unwrap().unwrap();
        let record = depin_bft::parse_record(&header.consensus)
            .unwrap_or_else(|| panic!("seed {seed}: block {h} has no consensus record"));
        let who = index_of(&header.proposer).expect("a validator proposed");
        let list = proposers.entry(record.epoch).or_default();
        if !list.contains(&who) {
            list.push(who);
            list.sort();
        }
    }
    for (epoch, who) in &proposers {
        let set = SETS[*epoch as usize];
        assert!(
            who.iter().all(|i| set.contains(i)),
            "seed {seed}: epoch {epoch} (set {set:?}) has blocks proposed by {who:?}"
        );
    }
    assert_eq!(
        proposers.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2],
        "seed {seed}: blocks in every epoch"
    );
    assert!(
        proposers[&1].len() > 1,
        "seed {seed}: only {:?} proposed in the four-validator epoch",
        proposers[&1]
    );
    let epochs = reference;
    Reconfigured {
        report,
        epochs,
        proposers,
    }
}

/// Turns in a row a validator may miss before it is jailed, in the downtime scenario.
pub const DOWNTIME_LIMIT: u64 = 4;

/// The downtime scenario's genesis: the four-validator network, jailing after
/// [`DOWNTIME_LIMIT`] missed turns, for 10 blocks.
pub fn downtime_genesis() -> Genesis {
    let mut g = genesis();
    let gov = g
        .modules
        .governance
        .as_mut()
        .expect("the simulated network runs governance");
    gov.downtime_jail_blocks = DOWNTIME_LIMIT;
    gov.jail_blocks = 10;
    g
}

/// Simulated time within which the whole downtime run must be done.
const DOWNTIME_BOUND: Duration = Duration::from_secs(150);

/// What the downtime run ended with (equal for equal seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downtime {
    pub report: Report,
    /// The height validator 3 was jailed at, and the reason recorded.
    pub jailed: (u64, String),
    /// The epochs validator 0 entered: number, participant count, height built on.
    pub epochs: Vec<(u64, usize, u64)>,
    /// The height the others were at when validator 3 restarted, and the epochs it entered.
    pub restarted_at: u64,
    pub restarted_epochs: Vec<(u64, usize, u64)>,
}

/// Runs the downtime scenario for one seed: four validators on a lossy network; validator 3
/// crashes; the chain skips its turns and jails it (for downtime: nothing slashed); it leaves
/// the set at the next boundary (an epoch of three); its unjail (signed with its key,
/// submitted elsewhere while it is still down) brings it back into the set at the boundary
/// after (an epoch of four, which the other three carry alone); only then does it restart,
/// more than one epoch behind, and it must catch up to the same blocks and app hashes.
pub fn downtime(seed: u64) -> Downtime {
    let executor = runner(seed);
    executor.start(|context| async move { run_downtime(context, seed).await })
}

async fn run_downtime(context: deterministic::Context, seed: u64) -> Downtime {
    let (keys, pks, oracle) = mesh(&context).await;
    let mut nodes = start_all(&context, &oracle, &keys, &pks, downtime_genesis()).await;
    let epochs_of = epochs;
    let crashed = validator_key(3).address();
    let network_id = downtime_genesis().network();
    let mut nonces = [0u64; SENDERS as usize];
    let mut submitted: Vec<Hash> = Vec::new();
    let mut jailed: Option<(u64, String)> = None;
    let mut unjail_sent = false;
    let mut unjail_hash = None;
    let mut restarted_at = None;
    let mut tick = 0u64;
    let mut logged_epochs = 0;
    let target = loop {
        let now = context.current().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        let heights: Vec<u64> = nodes.values().map(|v| v.node.tip().height).collect();
        let view = nodes[&0]
            .store
            .snapshot(nodes[&0].node.params.clone())
            .unwrap();
        assert!(
            now < DOWNTIME_BOUND,
            "seed {seed}: not done within {DOWNTIME_BOUND:?}: heights {heights:?}, jailed \
             {jailed:?}, unjail sent {unjail_sent}, restarted at {restarted_at:?}, epochs {:?}; \
             the unjail: {:?}, in the mempools of 0..3: {:?}; jail now {:?}; candidates {:?}; \
             set {:?}; jails of 0..4 {:?}",
            nodes.values().map(epochs_of).collect::<Vec<_>>(),
            unjail_hash.map(|h| nodes[&0]
                .store
                .transaction(&h)
                .unwrap()
                .map(|t| (t.height, t.receipt))),
            unjail_hash.map(|h| (0..3)
                .map(|i| nodes[&i].node.mempool.lock().unwrap().contains(&h))
                .collect::<Vec<_>>()),
            view.jail_of(&crashed),
            depin_core::services::governance::GovernanceView::candidates(&view).map(|c| c
                .iter()
                .map(|a| (0..VALIDATORS).find(|i| validator_key(*i).address() == *a))
                .collect::<Vec<_>>()),
            view.validators()
                .iter()
                .map(|v| (0..VALIDATORS).find(|i| validator_key(*i).address() == v.address))
                .collect::<Vec<_>>(),
            (0..VALIDATORS)
                .map(|i| view.jail_of(&validator_key(i).address()))
                .collect::<Vec<_>>(),
        );
        // Replaying one seed: every epoch switch with the jail records and who got a block
        // into the epoch before (what the boundary decided from).
        let entered = epochs_of(&nodes[&0]).len();
        if std::env::var("DEPIN_BFT_SIM_SEED").is_ok() && entered != logged_epochs {
            logged_epochs = entered;
            let who = |a: &depin_core::Address| {
                (0..VALIDATORS).find(|i| validator_key(*i).address() == *a)
            };
            println!(
                "seed {seed}: at height {} epochs {:?}; set {:?}; jails {:?}; produced last epoch {:?}",
                nodes[&0].node.tip().height,
                epochs_of(&nodes[&0]),
                view.validators()
                    .iter()
                    .map(|v| who(&v.address))
                    .collect::<Vec<_>>(),
                (0..VALIDATORS)
                    .map(|i| view.jail_of(&validator_key(i).address()))
                    .collect::<Vec<_>>(),
                depin_core::services::governance::liveness::last_producers(&view)
                    .map(|p| p.iter().map(who).collect::<Vec<_>>()),
            );
        }
        if now >= FAULT_AT && nodes[&3].running.is_some() && restarted_at.is_none() {
            let running = nodes.get_mut(&3).unwrap().running.take().unwrap();
            running.engine.abort();
            running.application.abort();
        }
        if jailed.is_none()
            && let Some(jail) = view.jail_of(&crashed)
        {
            jailed = Some((jail.until_height - 10, jail.reason.clone()));
        }
        // Once it is out of the set (the others run an epoch of three) and its jail is over.
        let out_of_the_set = (0..3).all(|i| {
            epochs_of(&nodes[&i])
                .last()
                .is_some_and(|(_, n, _)| *n == VALIDATORS - 1)
        });
        if let Some((at, _)) = &jailed
            && !unjail_sent
            && out_of_the_set
            && nodes[&0].node.tip().height >= at + 10
        {
            // Signed with the crashed validator's key, submitted through validator 0.
            let nonce = view.read_account(&crashed).map_or(0, |a| a.nonce);
            let tx = Transaction::sign(
                &network_id,
                &validator_key(3),
                nonce,
                1_000_000,
                Action::from(depin_core::services::governance::actions::Unjail {}),
            );
            unjail_hash = Some(tx.hash());
            let result = nodes[&0].node.submit(vec![tx]);
            assert!(result[0].is_ok(), "seed {seed}: unjail: {:?}", result[0]);
            unjail_sent = true;
        }
        // Restart once the others run an epoch of four again (with it back in the set) and
        // have committed blocks in it: two epoch switches it has not seen.
        if unjail_sent && restarted_at.is_none() {
            let back = (0..3).all(|i| {
                let epochs = epochs_of(&nodes[&i]);
                epochs.len() >= 3
                    && epochs.last().is_some_and(|(_, n, h)| {
                        *n == VALIDATORS && nodes[&i].node.tip().height >= h + 3
                    })
            });
            if back {
                // The others no longer keep epoch 0's journal: what it needs to catch up
                // from epoch 0 must come from their block stores.
                for i in 0..3 {
                    only_running_journals(seed, &context, &nodes[&i], true).await;
                    assert!(!journals(&context, &nodes[&i]).await.contains(&0));
                }
                restarted_at = Some(heights[..3].iter().copied().max().unwrap());
                let chans = channels(&oracle, &pks[3]).await;
                start_honest(&context, &oracle, nodes.get_mut(&3).unwrap(), 1, chans);
            }
        }
        if let Some(at) = restarted_at {
            let lowest = heights.iter().copied().min().unwrap();
            if lowest >= at + BLOCKS_AFTER_HEAL {
                break lowest;
            }
        }
        let v = &nodes[&((tick as usize / 2) % 3)];
        send_transfer(&v.node, &network_id, tick, &mut nonces, &mut submitted);
        tick += 1;
        context.sleep(TX_INTERVAL).await;
    };
    let report = check_agreement(seed, "downtime", &nodes, target, &submitted);
    // The run may end just after an epoch switch, before the new epoch's engine has voted.
    for v in nodes.values() {
        only_running_journals(seed, &context, v, false).await;
    }
    Downtime {
        report,
        jailed: jailed.expect("jailed before the run ended"),
        epochs: epochs_of(&nodes[&0]),
        restarted_at: restarted_at.expect("restarted before the run ended"),
        restarted_epochs: epochs_of(&nodes[&3]),
    }
}

/// Simulated time within which the hand-off run must be done.
const HANDOFF_BOUND: Duration = Duration::from_secs(90);

/// What the hand-off run ended with (equal for equal seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub report: Report,
    /// The last block the solo driver produced (the set changed after it).
    pub last_solo: u64,
    /// The epochs every node entered (the same on all).
    pub epochs: Vec<(u64, usize, u64)>,
    /// The validators (by index) that proposed the blocks after the hand-off.
    pub proposers: Vec<usize>,
}

/// Runs the hand-off scenario for one seed: validator 0 runs a solo network with the solo
/// driver (`Node::produce_block`, as `depin node` does without a peer list) while validators
/// 1..3 start on the BFT driver from genesis (they wait: the chain's one validator is not on
/// the network). The emergency key enacts the four-validator set; at the boundary the solo
/// driver stops, and validator 0 restarts on the BFT driver from its store. The others fetch
/// the solo blocks from it, start consensus epoch 0 on its last one, and all four go on.
pub fn handoff(seed: u64) -> Handoff {
    let executor = runner(seed);
    executor.start(|context| async move { run_handoff(context, seed).await })
}

async fn run_handoff(context: deterministic::Context, seed: u64) -> Handoff {
    let (keys, pks, oracle) = mesh(&context).await;
    let mut nodes: BTreeMap<usize, Honest> = BTreeMap::new();
    let mut solo = None;
    for (i, key) in keys.iter().enumerate() {
        let (mut v, producer) = Honest::open(i, key, solo_genesis());
        if i == 0 {
            solo = Some(producer);
        } else {
            let chans = channels(&oracle, &pks[i]).await;
            start_honest(&context, &oracle, &mut v, 0, chans);
        }
        nodes.insert(i, v);
    }
    let network_id = solo_genesis().network();
    let interval = Duration::from_millis(solo_genesis().consensus.block_interval_ms);
    let mut nonces = [0u64; SENDERS as usize];
    let mut submitted: Vec<Hash> = Vec::new();
    // The solo driver, block by block, until the set in state is no longer validator 0 alone.
    let mut producer = solo.unwrap();
    let me = validator_key(0).address();
    let mut enacted = false;
    let mut tick = 0u64;
    loop {
        let now_ms = context
            .current()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        nodes[&0].node.produce_block(&mut producer, now_ms).unwrap();
        let set = depin_core::StateRead::validators(producer.state());
        if set.len() != 1 || set[0].address != me {
            break;
        }
        if !enacted && producer.state().height() >= 5 {
            let validators = SETS[1]
                .iter()
                .map(|i| validator_key(*i).address())
                .collect();
            let enact = Action::from(depin_core::services::governance::actions::EmergencyEnact {
                title: "four validators".into(),
                change: depin_core::services::governance::ProposalKind::ValidatorSet { validators },
            });
            let tx = Transaction::sign(&network_id, &governor(), 0, 1_000_000, enact);
            assert!(nodes[&0].node.submit(vec![tx]).pop().unwrap().is_ok());
            nonces[0] = 1;
            enacted = true;
        }
        send_transfer(
            &nodes[&0].node,
            &network_id,
            tick,
            &mut nonces,
            &mut submitted,
        );
        tick += 1;
        context.sleep(interval).await;
        assert!(
            producer.state().height() < 200,
            "seed {seed}: the set change never took effect"
        );
    }
    let last_solo = producer.state().height();
    drop(producer);
    // Validator 0 goes on as a BFT validator with the same store.
    let chans = channels(&oracle, &pks[0]).await;
    start_honest(&context, &oracle, nodes.get_mut(&0).unwrap(), 1, chans);
    let epochs_of = epochs;
    let target = loop {
        let now = context.current().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        let heights: Vec<u64> = nodes.values().map(|v| v.node.tip().height).collect();
        assert!(
            now < HANDOFF_BOUND,
            "seed {seed}: not done within {HANDOFF_BOUND:?}: heights {heights:?} (last solo \
             block {last_solo}), epochs {:?}",
            nodes.values().map(epochs_of).collect::<Vec<_>>()
        );
        let lowest = heights.iter().copied().min().unwrap();
        if lowest >= last_solo + BLOCKS_PER_STAGE + 4 {
            break lowest;
        }
        let v = &nodes[&((tick as usize / 2) % VALIDATORS)];
        send_transfer(&v.node, &network_id, tick, &mut nonces, &mut submitted);
        tick += 1;
        context.sleep(TX_INTERVAL).await;
    };
    let report = check_agreement(seed, "handoff", &nodes, target, &submitted);
    let reference = same_epochs(seed, &nodes);
    let store = &nodes[&0].store;
    let mut proposers = Vec::new();
    for h in 1..=target {
        let header = store.header(h).unwrap().unwrap();
        let record = depin_bft::parse_record(&header.consensus);
        if h <= last_solo {
            assert!(record.is_none(), "seed {seed}: solo block {h} has a record");
            assert_eq!(header.proposer, me);
        } else {
            let record =
                record.unwrap_or_else(|| panic!("seed {seed}: BFT block {h} has no record"));
            assert_eq!(record.epoch, 0, "seed {seed}: block {h}");
            let who = (0..VALIDATORS)
                .find(|i| validator_key(*i).address() == header.proposer)
                .unwrap();
            if !proposers.contains(&who) {
                proposers.push(who);
                proposers.sort();
            }
        }
    }
    Handoff {
        report,
        last_solo,
        epochs: reference,
        proposers,
    }
}

/// The validator that joins in the newcomer scenario: in nobody's `peers.toml`.
pub const NEWCOMER: usize = VALIDATORS;

/// Simulated time within which the newcomer must have proposed a block that everyone
/// finalized.
const NEWCOMER_BOUND: Duration = Duration::from_secs(90);

/// The newcomer scenario's genesis: the four-validator network, the newcomer's key funded
/// (to pay for registering its endpoint).
pub fn newcomer_genesis() -> Genesis {
    let mut g = genesis();
    g.allocations.push(depin_core::genesis::Allocation {
        address: validator_key(NEWCOMER).address(),
        amount: "1000".into(),
    });
    g
}

/// What the newcomer run ended with (equal for equal seeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Newcomer {
    pub report: Report,
    /// The epochs validator 0 entered: number, participant count, height built on.
    pub epochs: Vec<(u64, usize, u64)>,
    /// The endpoints the first five-validator epoch started with, by validator index.
    pub endpoints: Vec<(usize, String)>,
    /// The first block the newcomer proposed.
    pub proposed: u64,
}

/// Whether two validators' networks would connect (each tracked the other at its address),
/// for every pair; links those that would and unlinks those that would no longer.
async fn relink(
    oracle: &Oracle<PublicKey, deterministic::Context>,
    books: &Books,
    n: usize,
    linked: &mut std::collections::BTreeSet<(usize, usize)>,
) {
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (sim_key(i), sim_key(j));
            let want = books.knows(&a, &b, &sim_address(j)) && books.knows(&b, &a, &sim_address(i));
            if want && linked.insert((i, j)) {
                connect(oracle, &a, &b).await;
            } else if !want && linked.remove(&(i, j)) {
                disconnect(oracle, &a, &b).await;
            }
        }
    }
}

/// Runs the newcomer scenario for one seed: four validators whose `peers.toml` lists only the
/// four, and a fifth (the newcomer) whose own lists all five; two validators are linked only
/// while each has tracked the other at its address ([`Book`]), as two lookup networks would
/// connect. The emergency key adds the newcomer to the membership; the newcomer registers its
/// endpoint on chain (`p2p_endpoint`); at the next boundary it takes office, the others'
/// drivers track it from the chain, it catches up and proposes. Checks agreement of all five
/// on every block, app hash and receipt.
pub fn newcomer(seed: u64) -> Newcomer {
    let executor = runner(seed);
    executor.start(|context| async move { run_newcomer(context, seed).await })
}

/// The simulated network every scenario runs on, with `pks` as its peers, started.
async fn simulated_network(
    context: &deterministic::Context,
    pks: &[PublicKey],
) -> Oracle<PublicKey, deterministic::Context> {
    let (network, oracle) = Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: depin_bft::wire::MAX_MESSAGE_BYTES as u32,
            max_peers_per_set: NonZeroUsize::new(SIM_PEERS_PER_SET).unwrap(),
            disconnect_on_block: false,
            tracked_peer_sets: NonZeroUsize::new(1).unwrap(),
        },
        pks.to_vec(),
    )
    .await;
    network.start();
    oracle
}

async fn run_newcomer(context: deterministic::Context, seed: u64) -> Newcomer {
    let n = VALIDATORS + 1;
    let pks: Vec<PublicKey> = (0..n).map(sim_key).collect();
    let oracle = simulated_network(&context, &pks).await;
    let genesis = newcomer_genesis();
    let books = Books::default();
    let mut nodes = BTreeMap::new();
    for (i, pk) in pks.iter().enumerate() {
        let chans = channels(&oracle, pk).await;
        let (mut v, _) = Honest::open(i, &validator_key(i), genesis.clone());
        v.bootstrap = if i == NEWCOMER {
            (0..n).collect()
        } else {
            (0..VALIDATORS).collect()
        };
        v.books = Some(books.clone());
        start_honest(&context, &oracle, &mut v, 0, chans);
        nodes.insert(i, v);
    }
    let mut linked = std::collections::BTreeSet::new();
    let network_id = genesis.network();
    let newcomer = validator_key(NEWCOMER);
    let endpoint = match sim_address(NEWCOMER) {
        PeerAddress::Symmetric(a) => a.to_string(),
        PeerAddress::Asymmetric { .. } => unreachable!("simulated addresses are symmetric"),
    };
    let mut nonces = [0u64; SENDERS as usize];
    let mut submitted: Vec<Hash> = Vec::new();
    let mut stage = 0;
    let mut proposed = None;
    let mut scanned = 0u64;
    let mut tick = 0u64;
    let (proposed, target) = loop {
        relink(&oracle, &books, n, &mut linked).await;
        let now = context.current().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        assert!(
            now < NEWCOMER_BOUND,
            "seed {seed}: the newcomer did not join within {NEWCOMER_BOUND:?} (stage {stage}): \
             heights {:?}, links {linked:?}, epochs {:?}, endpoints {:?}, registered {:?}",
            nodes
                .values()
                .map(|v| v.node.tip().height)
                .collect::<Vec<_>>(),
            epochs(&nodes[&0]),
            nodes[&0].running.as_ref().map(|r| r
                .shared
                .epochs
                .lock()
                .unwrap()
                .iter()
                .map(|e| e.endpoints.len())
                .collect::<Vec<_>>()),
            depin_core::services::governance::p2p::p2p_endpoint_of(
                &nodes[&0]
                    .store
                    .snapshot(nodes[&0].node.params.clone())
                    .unwrap(),
                &newcomer.address()
            ),
        );
        let view = nodes[&0]
            .store
            .snapshot(nodes[&0].node.params.clone())
            .unwrap();
        match stage {
            // The emergency key adds the newcomer to the set (it takes office at the next
            // boundary).
            0 if nodes[&0].node.tip().height >= 1 => {
                let validators = (0..n).map(|i| validator_key(i).address()).collect();
                let enact =
                    Action::from(depin_core::services::governance::actions::EmergencyEnact {
                        title: "the newcomer joins".into(),
                        change: depin_core::services::governance::ProposalKind::ValidatorSet {
                            validators,
                        },
                    });
                let tx = Transaction::sign(&network_id, &governor(), nonces[0], 1_000_000, enact);
                for v in nodes.values().take(VALIDATORS) {
                    let _ = v.node.submit(vec![tx.clone()]);
                }
                nonces[0] += 1;
                stage = 1;
            }
            // In the set now (nobody can reach it yet): it registers where it listens.
            1 if view
                .validators()
                .iter()
                .any(|v| v.address == newcomer.address()) =>
            {
                let register =
                    Action::from(depin_core::services::governance::actions::P2pEndpoint {
                        p2p: endpoint.clone(),
                    });
                let tx = Transaction::sign(&network_id, &newcomer, 0, 1_000_000, register);
                for v in nodes.values().take(VALIDATORS) {
                    let _ = v.node.submit(vec![tx.clone()]);
                }
                stage = 2;
            }
            _ => {}
        }
        if proposed.is_none() {
            let tip = nodes[&0].node.tip().height;
            while scanned < tip {
                scanned += 1;
                let header = nodes[&0].store.header(scanned).unwrap().unwrap();
                if header.proposer == newcomer.address() {
                    proposed = Some(scanned);
                    break;
                }
            }
        }
        if let Some(p) = proposed {
            let target = p + BLOCKS_PER_STAGE;
            if nodes.values().all(|v| v.node.tip().height >= target) {
                break (p, target);
            }
        }
        let v = &nodes[&((tick as usize / 2) % VALIDATORS)];
        send_transfer(&v.node, &network_id, tick, &mut nonces, &mut submitted);
        tick += 1;
        context.sleep(TX_INTERVAL).await;
    };
    let report = check_agreement(seed, "newcomer", &nodes, target, &submitted);
    let epochs = same_epochs(seed, &nodes);
    let first_five = nodes[&0]
        .running
        .as_ref()
        .unwrap()
        .shared
        .epochs
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.participants.len() == n)
        .cloned()
        .unwrap_or_else(|| panic!("seed {seed}: no epoch of five: {epochs:?}"));
    let endpoints = first_five
        .endpoints
        .iter()
        .map(|(pk, e)| (pks.iter().position(|k| k == pk).unwrap(), e.clone()))
        .collect();
    Newcomer {
        report,
        epochs,
        endpoints,
        proposed,
    }
}
