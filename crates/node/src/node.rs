//! The running node: shared handle, solo block driver, and startup/shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use depin_core::services::fees;
use depin_core::{
    Address, Amount, Genesis, Hash, Keypair, Params, Rejection, StateRead, Transaction,
};
use depin_store::{Store, StoreError};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::chain::{Committed, Producer};
use crate::mempool::{BlockSpace, FeeCheck, Mempool, MempoolLimits, verify_batch};
use crate::metrics::Metrics;

/// Where the chain is, as last committed.
#[derive(Clone, Debug, Serialize)]
pub struct ChainTip {
    pub height: u64,
    pub block_hash: Hash,
    pub app_hash: Hash,
    pub time_ms: u64,
    pub total_supply: Amount,
    pub accounts: u64,
    /// Base fee the next block charges (millionths of a fee unit per weight unit).
    pub base_fee: u64,
}

/// One committed block, as streamed to subscribers.
#[derive(Clone, Debug, Serialize)]
pub struct BlockEvent {
    pub height: u64,
    pub hash: Hash,
    pub time_ms: u64,
    pub txs: u64,
    pub rejected: u64,
    pub app_hash: Hash,
}

/// Everything the API and the driver share.
pub struct Node {
    pub genesis: Genesis,
    pub genesis_hash: Hash,
    /// The parameters of the genesis: what governance cannot change (chain id, token, block
    /// interval, epoch length, fees) is read here; module and economics parameters that
    /// proposals change are read through [`Node::live_params`].
    pub params: Params,
    /// The parameters in force as of the last committed block.
    live: RwLock<Arc<Params>>,
    pub store: Arc<Store>,
    pub mempool: Mutex<Mempool>,
    pub tip: RwLock<ChainTip>,
    pub events: broadcast::Sender<Arc<BlockEvent>>,
    pub metrics: Metrics,
    /// Transactions `submit` admitted, for a BFT driver to pass on to the other validators
    /// (nobody listens in solo mode, and nothing is sent then).
    pub admitted: broadcast::Sender<Arc<Vec<Transaction>>>,
    shutdown: AtomicBool,
    /// Counts the committed blocks that changed the devices' cell index (a device located,
    /// moved or gone): the explorer's map aggregates stay valid while it does not move.
    cell_index_version: AtomicU64,
    /// Flips to true on shutdown, so long-lived streams end and graceful shutdown can finish.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Node {
    /// The parameters in force as of the last committed block (governance changes module and
    /// economics parameters at epoch boundaries).
    pub fn live_params(&self) -> Arc<Params> {
        self.live.read().expect("params lock").clone()
    }

    /// Opens the store, loads (or creates) the chain, and returns the shared handle with the
    /// block producer that must drive it.
    pub fn open(
        genesis: Genesis,
        store: Arc<Store>,
        validator: Keypair,
        limits: MempoolLimits,
    ) -> Result<(Arc<Node>, Producer), StoreError> {
        let producer = Producer::open(store.clone(), &genesis, validator)?;
        let state = producer.state();
        let tip = ChainTip {
            height: state.height(),
            block_hash: state.last_block_hash(),
            app_hash: store.app_hash()?,
            time_ms: state.meta().last_block_time_ms,
            total_supply: state.meta().total_supply,
            accounts: state.account_count() as u64,
            base_fee: state.meta().base_fee,
        };
        let (events, _) = broadcast::channel(256);
        let (admitted, _) = broadcast::channel(1024);
        let live = RwLock::new(Arc::new(state.params().clone()));
        let node = Node {
            genesis_hash: genesis.hash(),
            params: genesis.params(),
            live,
            genesis,
            store,
            mempool: Mutex::new(Mempool::new(limits, tip.height)),
            tip: RwLock::new(tip),
            events,
            metrics: Metrics::default(),
            admitted,
            shutdown: AtomicBool::new(false),
            cell_index_version: AtomicU64::new(0),
            stopping: tokio::sync::watch::channel(false).0,
        };
        Metrics::set(&node.metrics.height, node.tip().height);
        Ok((Arc::new(node), producer))
    }

    pub fn tip(&self) -> ChainTip {
        self.tip.read().expect("tip lock").clone()
    }

    /// Verifies and admits a batch of transactions; one verdict each, in order. What is admitted
    /// is announced on [`Node::admitted`] for a BFT driver to gossip.
    pub fn submit(&self, txs: Vec<Transaction>) -> Vec<Result<Hash, Rejection>> {
        if self.admitted.receiver_count() == 0 {
            return self.admit(txs);
        }
        let copies = txs.clone();
        let verdicts = self.admit(txs);
        let admitted: Vec<Transaction> = copies
            .into_iter()
            .zip(&verdicts)
            .filter(|(_, v)| v.is_ok())
            .map(|(tx, _)| tx)
            .collect();
        if !admitted.is_empty() {
            let _ = self.admitted.send(Arc::new(admitted));
        }
        verdicts
    }

    /// Admits transactions another validator gossiped: checked exactly like [`Node::submit`],
    /// and not announced again (every validator gossips only what its own clients sent).
    pub fn submit_gossiped(&self, txs: Vec<Transaction>) -> Vec<Result<Hash, Rejection>> {
        self.admit(txs)
    }

    fn admit(&self, txs: Vec<Transaction>) -> Vec<Result<Hash, Rejection>> {
        let verdicts = verify_batch(&self.params.chain_id, &self.genesis_hash, &txs);
        let verdicts = match self.check_fees(&txs, verdicts) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("reading the state to check fees: {e}");
                return txs.iter().map(|_| Err(Rejection::MempoolFull)).collect();
            }
        };
        let signers: Vec<_> = txs.iter().map(|t| t.signer).collect();
        // Accounts are read under the mempool lock: the driver commits a block before it updates
        // the pool, so what is read here is never older than the pool's own view of nonces.
        let mut pool = self.mempool.lock().expect("mempool lock");
        let accounts = match self.store.accounts(&signers) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("reading accounts for admission: {e}");
                return txs.iter().map(|_| Err(Rejection::MempoolFull)).collect();
            }
        };
        let mut out = Vec::with_capacity(txs.len());
        for ((tx, verdict), account) in txs.into_iter().zip(verdicts).zip(accounts) {
            out.push(verdict.and_then(|fee| pool.admit(tx, account.as_ref(), fee)));
        }
        Metrics::set(&self.metrics.mempool_txs, pool.len() as u64);
        Metrics::set(&self.metrics.mempool_bytes, pool.bytes() as u64);
        drop(pool);
        let admitted = out.iter().filter(|r| r.is_ok()).count() as u64;
        let full = out
            .iter()
            .filter(|r| matches!(r, Err(Rejection::MempoolFull)))
            .count() as u64;
        Metrics::add(&self.metrics.txs_admitted_total, admitted);
        Metrics::add(&self.metrics.txs_refused_total, out.len() as u64 - admitted);
        Metrics::add(&self.metrics.mempool_full_total, full);
        out
    }

    /// Checks, against the committed state, that each transaction still admissible offers the
    /// current base fee for its weight and that its payer can pay it, and says what the payer
    /// could pay in all (before the mempool lock: it reads the store).
    fn check_fees(
        &self,
        txs: &[Transaction],
        verdicts: Vec<Result<(), Rejection>>,
    ) -> Result<Vec<Result<FeeCheck, Rejection>>, StoreError> {
        let snapshot = self.store.snapshot(self.params.clone())?;
        let meta = snapshot.read_meta();
        let now = meta.last_block_time_ms;
        let mut capacities: HashMap<Address, u64> = HashMap::new();
        let checked = txs
            .iter()
            .zip(verdicts)
            .map(|(tx, verdict)| {
                verdict?;
                if snapshot.read_account(&tx.signer).is_none() {
                    return Err(Rejection::UnknownAccount { address: tx.signer });
                }
                let plan = fees::plan_tx(&snapshot, tx, meta.base_fee, now)?;
                let capacity = *capacities
                    .entry(plan.payer)
                    .or_insert_with(|| fees::capacity(&snapshot, &plan.payer, now));
                Ok(FeeCheck {
                    payer: plan.payer,
                    fee: plan.fee,
                    capacity,
                })
            })
            .collect();
        snapshot.finish().map(|()| checked)
    }

    /// What the next block may hold, and its base fee (the state's, after the last block).
    pub fn block_space(&self, base_fee: u64) -> BlockSpace {
        BlockSpace {
            max_txs: self.params.max_block_txs as usize,
            max_weight: self.params.fees.max_block_weight,
            max_bytes: self.params.fees.max_block_bytes,
            base_fee,
        }
    }

    /// Asks the driver to stop after the block it is on.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.stopping.send_replace(true);
    }

    /// Resolves once shutdown was requested.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// How many committed blocks (since this node started) changed the devices' cell index.
    pub fn cell_index_version(&self) -> u64 {
        self.cell_index_version.load(Ordering::SeqCst)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// The solo driver's step: reaps the mempool, produces and commits one block, and tells
    /// everyone (after the block whose commit was under way, if any).
    pub fn produce_block(
        &self,
        producer: &mut Producer,
        time_ms: u64,
    ) -> Result<Committed, StoreError> {
        self.flush_block(producer)?;
        let txs = self.reap(producer);
        let committed = producer.produce(txs, time_ms)?;
        self.on_finalized(&committed, committed.timing.spent(), &[]);
        Ok(committed)
    }

    /// [`Node::produce_block`] with the block's durable commit left running beside the next
    /// block's execution (see [`Producer::produce_overlapped`]): tells everyone of the block
    /// produced before this one, which that commit finished, and returns it. Nobody hears of a
    /// block before it is durable; [`Node::flush_block`] finishes the last one.
    pub fn produce_block_overlapped(
        &self,
        producer: &mut Producer,
        time_ms: u64,
    ) -> Result<Option<Committed>, StoreError> {
        let txs = self.reap(producer);
        let earlier = producer.produce_overlapped(txs, time_ms)?;
        if let Some(c) = &earlier {
            self.on_finalized(c, c.timing.spent(), producer.in_flight_txs());
        }
        Ok(earlier)
    }

    /// What the next block holds: the mempool's best transactions that fit it.
    fn reap(&self, producer: &Producer) -> Vec<Transaction> {
        let space = self.block_space(producer.state().meta().base_fee);
        self.mempool.lock().expect("mempool lock").reap(space)
    }

    /// Waits for the block whose commit is under way, if any, and tells everyone of it.
    pub fn flush_block(&self, producer: &mut Producer) -> Result<Option<Committed>, StoreError> {
        let earlier = producer.flush()?;
        if let Some(c) = &earlier {
            self.on_finalized(c, c.timing.spent(), &[]);
        }
        Ok(earlier)
    }

    /// After a block is finalized and durably committed, whichever driver finalized it: the
    /// mempool drops what it included, the tip the API serves moves, metrics count it, and the
    /// stream announces it. `spent` is the driver's time on the block (for the block-time
    /// metric; not the time until now, which for an overlapped block includes the next
    /// block's execution); `in_flight` holds the transactions (hash, signer, nonce) of a later block
    /// already executed whose commit is under way (see [`Mempool::still_in_flight`]).
    pub fn on_finalized(
        &self,
        committed: &Committed,
        spent: Duration,
        in_flight: &[(Hash, Address, u64)],
    ) {
        let block = &committed.block;
        let after = &committed.after;
        if **self.live.read().expect("params lock") != *after.params {
            // A governance change took effect at this block.
            *self.live.write().expect("params lock") = after.params.clone();
        }
        let (cells, _) = depin_core::services::devices::cell_range(0, 0);
        let cell_prefix = &cells[..cells.len() - 8];
        if committed
            .applied
            .writes
            .iter()
            .any(|(key, _)| key.starts_with(cell_prefix))
        {
            self.cell_index_version.fetch_add(1, Ordering::SeqCst);
        }
        {
            let mut pool = self.mempool.lock().expect("mempool lock");
            pool.on_block(block.header.height, committed.nonces.iter().copied());
            pool.still_in_flight(in_flight);
            Metrics::set(&self.metrics.mempool_txs, pool.len() as u64);
            Metrics::set(&self.metrics.mempool_bytes, pool.bytes() as u64);
        }
        let rejected = committed
            .applied
            .receipts
            .iter()
            .filter(|r| !r.is_success())
            .count() as u64;
        let txs = block.txs.len() as u64;
        *self.tip.write().expect("tip lock") = ChainTip {
            height: block.header.height,
            block_hash: block.hash(),
            app_hash: block.header.app_hash,
            time_ms: block.header.time_ms,
            total_supply: after.total_supply,
            accounts: after.accounts,
            base_fee: after.base_fee,
        };
        let m = &self.metrics;
        Metrics::set(&m.height, block.header.height);
        Metrics::add(&m.blocks_total, 1);
        Metrics::add(&m.txs_committed_total, txs - rejected);
        Metrics::add(&m.txs_rejected_in_block_total, rejected);
        Metrics::add(&m.block_micros_total, spent.as_micros() as u64);
        let _ = self.events.send(Arc::new(BlockEvent {
            height: block.header.height,
            hash: block.hash(),
            time_ms: block.header.time_ms,
            txs,
            rejected,
            app_hash: block.header.app_hash,
        }));
    }
}

/// Milliseconds since the Unix epoch, from the wall clock (the driver's only use of it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The solo driver: one block every `block_interval_ms`, until shutdown. Runs on its own thread
/// because building a block is CPU work. Returns the error that stopped it, if any.
pub fn spawn_solo_driver(
    node: Arc<Node>,
    mut producer: Producer,
) -> std::thread::JoinHandle<Result<(), StoreError>> {
    std::thread::Builder::new()
        .name("solo-driver".into())
        .spawn(move || {
            let interval = Duration::from_millis(node.params.block_interval_ms);
            let mut next = Instant::now() + interval;
            let fail = |e: StoreError| {
                tracing::error!("committing a block failed, stopping the driver: {e}");
                node.request_shutdown();
                Err(e)
            };
            loop {
                while Instant::now() < next {
                    // A commit that finished while the driver waits is announced at once.
                    if (producer.commit_finished() || node.is_shutting_down())
                        && let Err(e) = node.flush_block(&mut producer)
                    {
                        return fail(e);
                    }
                    if node.is_shutting_down() {
                        return Ok(());
                    }
                    let left = next.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(5)));
                }
                // The block's commit runs beside the next block's execution when blocks follow
                // each other at once (a backlog); otherwise it finishes while the driver waits.
                if let Err(e) = node.produce_block_overlapped(&mut producer, now_ms()) {
                    return fail(e);
                }
                let set = depin_core::StateRead::validators(producer.state());
                if set.len() != 1 || set[0].address != producer.address() {
                    // Governance changed the set: one node alone must not go on producing.
                    tracing::error!(
                        "the validator set changed after block {}: it now has {} validators, so \
                         this solo node stops producing. To go on as one of them, write a \
                         peers.toml (every validator's address and p2p port) into this node's \
                         home and start it again: it runs the BFT driver from this block. Start \
                         each new validator from the same genesis with the same peers.toml: it \
                         fetches these blocks from this node, then all of them go on together \
                         (docs/GUIDE.md, \"From one validator to several\")",
                        producer.state().height(),
                        set.len()
                    );
                    node.request_shutdown();
                    return node.flush_block(&mut producer).map(|_| ());
                }
                // A block that took longer than the interval is followed at once, not by a burst.
                next = (next + interval).max(Instant::now());
            }
        })
        .expect("spawning the driver thread")
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
