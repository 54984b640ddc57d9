//! End-to-end transfer benchmark: signed transfers through mempool admission (batch signature
//! verification), the solo driver's block building and execution, and durable commits to redb.
//!
//! HTTP and JSON are not in the loop: this measures what the ledger can sustain, with the raw
//! signature verification rate of the same run as the physical limit to compare against.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use depin_core::crypto::{self, Signature};
use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::tx::{Network, verify_signatures};
use depin_core::{Action, Address, Amount, Genesis, Keypair, Rejection, Transaction};
use depin_node::mempool::{MempoolLimits, VERIFY_CHUNK, verify_batch};
use depin_node::metrics::process_cpu_seconds;
use depin_node::node::{Node, spawn_solo_driver};
use rayon::prelude::*;
use serde::Serialize;

/// What to run.
#[derive(Clone, Debug)]
pub struct TransferBench {
    /// Length of the sustained phase.
    pub seconds: u64,
    /// Distinct sending accounts.
    pub senders: usize,
    /// Transactions signed in advance (the run ends early if they are all committed).
    pub txs: usize,
    pub block_interval_ms: u64,
    pub max_block_txs: u32,
}

impl Default for TransferBench {
    fn default() -> Self {
        TransferBench {
            seconds: 30,
            senders: 4096,
            txs: 3_000_000,
            block_interval_ms: 100,
            max_block_txs: 50_000,
        }
    }
}

/// Results, printed as JSON by `depin bench transfers --json`.
#[derive(Clone, Debug, Serialize)]
pub struct TransferReport {
    /// Committed successful transfers per second over the sustained phase.
    pub tx_per_s: f64,
    /// The mempool's signature check (`verify_batch`: envelope checks, signing bytes and batch
    /// verification in chunks) on all cores, measured in the same run.
    pub sig_verify_per_s: f64,
    /// The same per chunk on one core (`verify_signatures`).
    pub sig_verify_per_core_s: f64,
    /// Raw signature verification, signing bytes made in advance: `crypto::verify` one by one
    /// on one core (ed25519-zebra, ZIP-215).
    pub raw_verify_single_per_core_s: f64,
    /// Raw batch verification: `crypto::verify_many` over chunks of `VERIFY_CHUNK` on one core.
    pub raw_verify_batch_per_core_s: f64,
    /// Raw batch verification on all cores (chunks in parallel): the physical limit the
    /// end-to-end rate is compared with.
    pub raw_verify_batch_per_s: f64,
    /// `tx_per_s / raw_verify_batch_per_s`: the share of the machine's signature verification
    /// rate that arrives as committed transfers (1.0 would mean verification is all the work).
    pub ratio_to_raw_verify: f64,
    /// Signing rate while preparing the workload (client side, all cores).
    pub sign_per_s: f64,
    /// Length of the sustained phase actually measured; less than `target_seconds` only if every
    /// pre-signed transaction was committed early (then sign more with `--txs`).
    pub seconds: f64,
    /// CPU time the process used during that phase (node, mempool, driver and feeder), and that
    /// divided by the committed transfers.
    pub cpu_seconds: f64,
    pub cpu_ms_per_tx: f64,
    pub target_seconds: u64,
    pub txs_committed: u64,
    pub txs_rejected_in_blocks: u64,
    pub blocks: u64,
    pub mean_block_ms: f64,
    pub senders: usize,
    pub block_interval_ms: u64,
    pub max_block_txs: u32,
    pub cores: usize,
}

/// Runs the benchmark in `dir` (which must be empty; it holds the database). `progress` is told
/// (phase, done, total) as work advances.
pub fn run(
    cfg: &TransferBench,
    dir: &Path,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<TransferReport, String> {
    let validator = Keypair::from_seed([0xee; 32]);
    let keys: Vec<Keypair> = (0..cfg.senders)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[8] = 0xb0;
            Keypair::from_seed(seed)
        })
        .collect();
    let genesis = Genesis {
        chain_id: "depin-bench".into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: cfg.block_interval_ms,
            epoch_length_blocks: 3600,
            max_block_txs: cfg.max_block_txs,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: keys
            .iter()
            .map(|k| Allocation {
                address: k.address(),
                amount: "1000000".into(),
            })
            .collect(),
        economics: None,
        fees: None,
        modules: depin_core::modules::ModulesGenesis {
            storage: None,
            coverage: None,
            demand: None,
            ..Default::default()
        },
    };

    let network = genesis.network();
    // Sign the workload: round after round, every sender sends its next nonce to a neighbour.
    let started = Instant::now();
    let per_sender = cfg.txs.div_ceil(cfg.senders);
    let n = cfg.senders;
    let txs: Vec<Transaction> = (0..per_sender * n)
        .into_par_iter()
        .map(|i| {
            let (round, s) = (i / n, i % n);
            crate::sign(
                &network,
                &keys[s],
                round as u64,
                Action::Transfer {
                    to: keys[(s + 1 + round) % n].address(),
                    amount: Amount(1),
                },
            )
        })
        .collect();
    let sign_per_s = txs.len() as f64 / started.elapsed().as_secs_f64();
    progress("signed", txs.len() as u64, txs.len() as u64);

    let (sig_verify_per_s, sig_verify_per_core_s) = measure_verification(&network, &txs);
    let raw = measure_raw_verification(&network, &txs);

    let store =
        Arc::new(depin_store::Store::open(&dir.join("bench.redb")).map_err(|e| e.to_string())?);
    let limits = MempoolLimits {
        max_txs: 4 * cfg.max_block_txs as usize,
        ..MempoolLimits::default()
    };
    let (node, producer) =
        Node::open(genesis, store, validator, limits).map_err(|e| e.to_string())?;
    let total = txs.len() as u64;
    let start = Instant::now();
    let cpu_at_start = process_cpu_seconds();
    let deadline = start + Duration::from_secs(cfg.seconds);
    let driver = spawn_solo_driver(node.clone(), producer);
    let feeder = {
        let node = node.clone();
        std::thread::spawn(move || feed(&node, txs, deadline))
    };
    loop {
        let done = node.metrics.txs_committed_total.load(Relaxed)
            + node.metrics.txs_rejected_in_block_total.load(Relaxed);
        progress("committed", done, total);
        if done >= total || Instant::now() >= deadline || node.is_shutting_down() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu_at_start
        .zip(process_cpu_seconds())
        .map_or(f64::NAN, |(a, b)| b - a);
    let m = &node.metrics;
    let committed = m.txs_committed_total.load(Relaxed);
    let rejected = m.txs_rejected_in_block_total.load(Relaxed);
    let blocks = m.blocks_total.load(Relaxed);
    let block_micros = m.block_micros_total.load(Relaxed);
    node.request_shutdown();
    feeder.join().map_err(|_| "feeder panicked")?;
    driver
        .join()
        .map_err(|_| "driver panicked")?
        .map_err(|e| e.to_string())?;
    let tx_per_s = committed as f64 / elapsed;
    Ok(TransferReport {
        tx_per_s,
        sig_verify_per_s,
        sig_verify_per_core_s,
        raw_verify_single_per_core_s: raw.single_per_core,
        raw_verify_batch_per_core_s: raw.batch_per_core,
        raw_verify_batch_per_s: raw.batch_all_cores,
        ratio_to_raw_verify: tx_per_s / raw.batch_all_cores,
        sign_per_s,
        seconds: elapsed,
        cpu_seconds,
        cpu_ms_per_tx: cpu_seconds * 1000.0 / committed.max(1) as f64,
        target_seconds: cfg.seconds,
        txs_committed: committed,
        txs_rejected_in_blocks: rejected,
        blocks,
        mean_block_ms: if blocks == 0 {
            0.0
        } else {
            block_micros as f64 / blocks as f64 / 1000.0
        },
        senders: cfg.senders,
        block_interval_ms: cfg.block_interval_ms,
        max_block_txs: cfg.max_block_txs,
        cores: rayon::current_num_threads(),
    })
}

/// Submits in batches like a busy API would, backing off while the mempool is full.
fn feed(node: &Node, txs: Vec<Transaction>, deadline: Instant) {
    const BATCH: usize = 4096;
    let mut queue = txs;
    queue.reverse();
    while !queue.is_empty() && Instant::now() < deadline && !node.is_shutting_down() {
        let take = queue.len().min(BATCH);
        let mut batch: Vec<Transaction> = queue.split_off(queue.len() - take);
        batch.reverse();
        let verdicts = node.submit(batch.clone());
        let mut retry: Vec<Transaction> = batch
            .into_iter()
            .zip(verdicts)
            .filter(|(_, v)| matches!(v, Err(Rejection::MempoolFull)))
            .map(|(tx, _)| tx)
            .collect();
        if !retry.is_empty() {
            retry.reverse();
            queue.extend(retry);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Raw verification rates, signatures per second.
struct RawVerification {
    single_per_core: f64,
    batch_per_core: f64,
    batch_all_cores: f64,
}

/// Raw signature verification over a sample of the workload, its signing bytes made first so
/// that only the curve arithmetic (and batch hashing) is timed: one by one and in batches on
/// one core, then in batches on all cores.
fn measure_raw_verification(network: &Network, txs: &[Transaction]) -> RawVerification {
    let sample = &txs[..txs.len().min(100_000)];
    let messages: Vec<Vec<u8>> = sample
        .par_iter()
        .map(|tx| tx.signing_bytes(&network.genesis_hash))
        .collect();
    let items: Vec<(&Address, &[u8], &Signature)> = sample
        .iter()
        .zip(&messages)
        .map(|(tx, m)| (&tx.signer, m.as_slice(), &tx.signature))
        .collect();
    let rate = |n: usize, t: Instant| n as f64 / t.elapsed().as_secs_f64();

    let one = &items[..items.len().min(10_000)];
    let t = Instant::now();
    let single_ok = one
        .iter()
        .filter(|(a, m, s)| crypto::verify(a, m, s))
        .count();
    let single_per_core = rate(one.len(), t);

    let one = &items[..items.len().min(20_000)];
    let t = Instant::now();
    let batch_ok: usize = one
        .chunks(VERIFY_CHUNK)
        .map(|c| crypto::verify_many(c).iter().filter(|ok| **ok).count())
        .sum();
    let batch_per_core = rate(one.len(), t);

    let t = Instant::now();
    let all_ok: usize = items
        .par_chunks(VERIFY_CHUNK)
        .map(|c| crypto::verify_many(c).iter().filter(|ok| **ok).count())
        .sum();
    let batch_all_cores = rate(items.len(), t);
    assert_eq!(
        (single_ok, batch_ok, all_ok),
        (
            items.len().min(10_000),
            items.len().min(20_000),
            items.len()
        ),
        "the workload is validly signed"
    );
    RawVerification {
        single_per_core,
        batch_per_core,
        batch_all_cores,
    }
}

/// Verification rate over a sample of the workload: all cores, then one.
fn measure_verification(network: &Network, txs: &[Transaction]) -> (f64, f64) {
    let sample = &txs[..txs.len().min(100_000)];
    let t = Instant::now();
    let verdicts = verify_batch(&network.chain_id, &network.genesis_hash, sample);
    let all = sample.len() as f64 / t.elapsed().as_secs_f64();
    assert!(
        verdicts.iter().all(Result::is_ok),
        "the workload is validly signed"
    );
    let one = &sample[..sample.len().min(20_000)];
    let t = Instant::now();
    for chunk in one.chunks(VERIFY_CHUNK) {
        verify_signatures(&network.genesis_hash, chunk);
    }
    let per_core = one.len() as f64 / t.elapsed().as_secs_f64();
    (all, per_core)
}
