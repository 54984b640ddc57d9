//! Committed blocks as an agent reads them from the node: each transaction with its outcome and
//! the block's time, and waiting for a set of transactions to be decided.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_core::{Explained, Hash};

use crate::client::Client;

/// How long an agent waits for a block before it decides the node is not producing, seconds.
pub const NO_BLOCK_PATIENCE_S: u64 = 30;

/// Shortest and longest pause between two looks at the chain's height, ms.
const MIN_POLL_MS: u64 = 10;
const MAX_POLL_MS: u64 = 500;

/// A transaction in a committed block and what the ledger made of it (agents wait on their own
/// transactions' hashes, so the transaction itself is not decoded).
#[derive(Clone, Debug)]
pub struct CommittedTx {
    pub hash: Hash,
    pub outcome: std::result::Result<(), Explained>,
}

/// A committed block: its height, its time (the ledger's only clock) and its transactions.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    pub height: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub txs: Vec<CommittedTx>,
}

/// The chain's height.
pub fn height(client: &Client) -> Result<u64> {
    client.get("/v1/status")?["height"]
        .as_u64()
        .context("status has no height")
}

/// The block at `height`, or `None` if it is not committed yet.
pub fn block(client: &Client, height: u64) -> Result<Option<CommittedBlock>> {
    let Some(b) = client.get_opt(&format!("/v1/blocks/{height}"))? else {
        return Ok(None);
    };
    let time_ms = b["header"]["time_ms"]
        .as_u64()
        .context("the block has no time")?;
    let mut txs = Vec::new();
    for t in b["txs"].as_array().into_iter().flatten() {
        let hash: Hash = t["hash"]
            .as_str()
            .context("a block transaction has no hash")?
            .parse()
            .context("a block transaction's hash does not parse")?;
        let outcome = if t["receipt"]["success"] == true {
            Ok(())
        } else {
            Err(serde_json::from_value(t["receipt"]["rejection"].clone())
                .context("a refused transaction has no reason")?)
        };
        txs.push(CommittedTx { hash, outcome });
    }
    Ok(Some(CommittedBlock {
        height,
        time_ms,
        txs,
    }))
}

/// Reads blocks in order from a starting height, one call at a time.
pub struct Follower {
    next: u64,
    /// The chain's block interval, ms, as its status last said (0 until the first poll).
    block_interval_ms: u64,
}

impl Follower {
    /// Starts at block `height` (blocks start at 1).
    pub fn from(height: u64) -> Follower {
        Follower {
            next: height.max(1),
            block_interval_ms: 0,
        }
    }

    /// The height of the next block to read.
    pub fn next_height(&self) -> u64 {
        self.next
    }

    /// How long to wait before looking for a new block: a quarter of the block interval, so a
    /// block is seen soon after it is made without asking the node hundreds of times per block.
    pub fn pause(&self) -> Duration {
        Duration::from_millis((self.block_interval_ms / 4).clamp(MIN_POLL_MS, MAX_POLL_MS))
    }

    /// Every block committed since the last call, in order.
    pub fn poll(&mut self, client: &Client) -> Result<Vec<CommittedBlock>> {
        let status = client.get("/v1/status")?;
        let tip = status["height"].as_u64().context("status has no height")?;
        if let Some(ms) = status["block_interval_ms"].as_u64() {
            self.block_interval_ms = ms;
        }
        let mut out = Vec::new();
        while self.next <= tip {
            let b = block(client, self.next)?
                .with_context(|| format!("block {} is missing below the tip", self.next))?;
            out.push(b);
            self.next += 1;
        }
        Ok(out)
    }
}

/// Reads blocks from `follower` until every transaction of `hashes` is in one, passing each
/// block to `on_block` first. Outcomes are in the order of `hashes`; a transaction still not in a
/// block after [`NO_BLOCK_PATIENCE_S`] is `None` (the mempool dropped it).
pub fn await_outcomes(
    client: &Client,
    follower: &mut Follower,
    hashes: &[Hash],
    mut on_block: impl FnMut(&CommittedBlock),
) -> Result<Vec<Option<std::result::Result<(), Explained>>>> {
    let mut outcome = vec![None; hashes.len()];
    let mut unresolved: BTreeMap<Hash, usize> =
        hashes.iter().enumerate().map(|(i, h)| (*h, i)).collect();
    let started = follower.next_height();
    let deadline = Instant::now() + Duration::from_secs(NO_BLOCK_PATIENCE_S);
    while !unresolved.is_empty() {
        let blocks = follower.poll(client)?;
        if blocks.is_empty() {
            if Instant::now() > deadline {
                if follower.next_height() == started {
                    bail!("no block for {NO_BLOCK_PATIENCE_S} s; is the node producing?");
                }
                break;
            }
            std::thread::sleep(follower.pause());
            continue;
        }
        for b in &blocks {
            on_block(b);
            for t in &b.txs {
                if let Some(i) = unresolved.remove(&t.hash) {
                    outcome[i] = Some(t.outcome.clone());
                }
            }
        }
    }
    Ok(outcome)
}
