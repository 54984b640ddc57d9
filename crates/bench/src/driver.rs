//! The bench block driver: submits transactions to a node's mempool and produces its blocks by
//! hand, one simulated second apart, so the coverage and usage benches control every block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use depin_core::Transaction;
use depin_node::chain::{Committed, Producer};
use depin_node::node::Node;

/// Submits `txs` to the mempool in chunks, failing on the first refusal.
pub fn submit_all(node: &Node, txs: Vec<Transaction>) -> Result<(), String> {
    for chunk in txs.chunks(8192) {
        if let Some(Err(e)) = node.submit(chunk.to_vec()).into_iter().find(Result::is_err) {
            return Err(format!("the mempool refused a bench transaction: {e}"));
        }
    }
    Ok(())
}

/// Produces the bench's blocks, one simulated second apart.
pub struct Driver<'a> {
    /// The node whose mempool the transactions enter and whose blocks are produced.
    pub node: &'a Node,
    /// The node's block producer (the bench drives it instead of the solo driver).
    pub producer: &'a mut Producer,
    /// Timestamp of the last block produced, ms.
    pub time_ms: u64,
    /// Blocks produced so far.
    pub blocks: u64,
    /// Where the time of the blocks and submissions so far went.
    pub spent: Spent,
}

/// Time a [`Driver`] spent, by phase, summed over its blocks and submissions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spent {
    /// Mempool admission of submitted transactions (signatures checked on all cores). In
    /// [`Driver::stream`] it runs beside the blocks' execution.
    pub admission: Duration,
    /// Executing blocks and computing their state roots.
    pub execute: Duration,
    /// Committing blocks to the store durably. In [`Driver::apply_all`] a block's commit runs
    /// beside the next block's execution, so the phases may add up to more than the time taken.
    pub commit: Duration,
    /// The longest single block commit (a checkpoint of the store's pending writes runs inside
    /// the commit that makes it due, or a share of it with each of the next commits).
    pub slowest_commit: Duration,
}

impl<'a> Driver<'a> {
    /// A driver of `node`'s blocks, starting at one second past the epoch.
    pub fn new(node: &'a Node, producer: &'a mut Producer) -> Driver<'a> {
        Driver {
            node,
            producer,
            time_ms: 1_000,
            blocks: 0,
            spent: Spent::default(),
        }
    }
}

impl Driver<'_> {
    /// One block; the success of each of its transactions.
    pub fn produce(&mut self) -> Result<Vec<bool>, String> {
        self.time_ms += 1000;
        self.blocks += 1;
        let c = self
            .node
            .produce_block(self.producer, self.time_ms)
            .map_err(|e| e.to_string())?;
        Ok(self.count(&c))
    }

    /// Adds a committed block's time to `spent`; the success of each of its transactions.
    fn count(&mut self, c: &Committed) -> Vec<bool> {
        self.spent.execute += c.timing.execute;
        self.spent.commit += c.timing.commit;
        self.spent.slowest_commit = self.spent.slowest_commit.max(c.timing.commit);
        c.applied.receipts.iter().map(|r| r.is_success()).collect()
    }

    /// Submits `txs` and produces blocks until they are all executed and committed; (accepted,
    /// rejected). Back-to-back blocks are produced as the solo driver does under a backlog:
    /// each block's durable commit runs beside the next block's execution.
    pub fn apply_all(&mut self, txs: Vec<Transaction>) -> Result<(u64, u64), String> {
        let total = txs.len() as u64;
        let started = Instant::now();
        submit_all(self.node, txs)?;
        self.spent.admission += started.elapsed();
        self.produce_until(total, || true)
    }

    /// Submits `txs` from a thread of its own, `chunk` at a time, while blocks are produced as
    /// in [`Driver::apply_all`] until every one is executed and committed: a node admits
    /// uploads (its API threads) while its producer runs, so admission overlaps execution. Every
    /// transaction must succeed; `what` names them in the error.
    pub fn stream(
        &mut self,
        txs: Vec<Transaction>,
        chunk: usize,
        what: &str,
    ) -> Result<(), String> {
        let total = txs.len() as u64;
        let node = self.node;
        let fed = AtomicBool::new(false);
        let (produced, admission) = std::thread::scope(|s| {
            let feeder = s.spawn(|| {
                let started = Instant::now();
                let submitted = txs
                    .chunks(chunk.max(1))
                    .try_for_each(|c| submit_all(node, c.to_vec()));
                fed.store(true, Ordering::Release);
                submitted.map(|()| started.elapsed())
            });
            let produced = self.produce_until(total, || fed.load(Ordering::Acquire));
            let admission = feeder
                .join()
                .map_err(|_| "the bench feeder panicked".to_string());
            (produced, admission)
        });
        self.spent.admission += admission??;
        all_accepted(produced?, what)
    }

    /// Produces blocks until `total` transactions are executed and committed; (accepted,
    /// rejected). While the mempool is empty and `fed()` is false, more are on their way.
    fn produce_until(&mut self, total: u64, fed: impl Fn() -> bool) -> Result<(u64, u64), String> {
        let (mut ok, mut bad) = (0u64, 0u64);
        while ok + bad < total {
            // Read before the mempool: a feeder done by now has put everything in it.
            let all_fed = fed();
            let committed = if self.node.mempool.lock().expect("mempool lock").is_empty() {
                if !all_fed {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                // All executed: the last block's commit is what is left.
                self.node
                    .flush_block(self.producer)
                    .map_err(|e| e.to_string())?
                    .ok_or("the mempool lost bench transactions")?
            } else {
                self.time_ms += 1000;
                self.blocks += 1;
                match self
                    .node
                    .produce_block_overlapped(self.producer, self.time_ms)
                    .map_err(|e| e.to_string())?
                {
                    Some(c) => c,
                    None => continue,
                }
            };
            for s in self.count(&committed) {
                if s {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
        }
        Ok((ok, bad))
    }

    /// Setup (not timed): `txs` must all succeed; `what` names them in the error.
    pub fn settle(&mut self, txs: Vec<Transaction>, what: &str) -> Result<(), String> {
        all_accepted(self.apply_all(txs)?, what)
    }
}

/// `Ok` if no transaction of (accepted, rejected) was rejected; `what` names them in the error.
fn all_accepted((_, rejected): (u64, u64), what: &str) -> Result<(), String> {
    if rejected == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what} was refused; the bench genesis is inconsistent"
        ))
    }
}
