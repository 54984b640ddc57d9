//! Benchmarks of the depin ledger and node: how many transfers, coverage reports and usage
//! receipts a node admits, executes and commits per second, and how long one epoch's rewards take.
//!
//! Each benchmark states what it compares against; `depin bench ...` runs them and
//! `docs/BENCHMARKS.md` records their results.
//!
//! - [`transfers`]: signed transfers through the mempool, the solo driver and durable commits,
//!   against the raw signature verification rate of the same run;
//! - [`coverage`]: beacon and witness reports through every proof-of-coverage check;
//! - [`usage`]: co-signed usage receipts through every demand check;
//! - [`flood`]: honest transfers through a real node process flooded with junk, oversized and
//!   badly signed requests and slowloris connections, against the same node quiet; and the
//!   node's peak memory under concurrent maximum-size batches, against the bound of its limits;
//! - [`epoch`]: the ledger closing one epoch of coverage rewards for a synthetic network of a
//!   million hotspots in a real state, against reading their records once;
//! - [`compute`]: compute tasks posted, claimed, committed, revealed and settled through real
//!   blocks, and the epoch close of 100,000 proven providers, against raw signature
//!   verification and reading the providers once;
//! - [`mapping`]: dashcam frames checked and applied per second through real blocks, and the
//!   epoch closes of a million freshly mapped cells (and of forgetting them);
//! - [`storage`]: proofs of storage: openings verified against the raw BLAKE3 rate, proof
//!   transactions through real blocks, and the close of an epoch of 100,000 live shards;
//! - [`driver`]: the block driver the coverage, usage, compute and storage benches share.

pub mod compute;
pub mod coverage;
pub mod driver;
pub mod epoch;
pub mod flood;
pub mod mapping;
pub mod storage;
pub mod transfers;
pub mod usage;

/// What a benchmark's transactions offer to pay: far above what they are charged (the base fee
/// of their block times their weight), so that a rising base fee never holds them back.
pub const BENCH_MAX_FEE: u64 = 1_000_000_000;

/// `action` signed by `key` with `nonce` for `network`, offering [`BENCH_MAX_FEE`].
pub fn sign(
    network: &depin_core::tx::Network,
    key: &depin_core::Keypair,
    nonce: u64,
    action: depin_core::Action,
) -> depin_core::Transaction {
    depin_core::Transaction::sign(network, key, nonce, BENCH_MAX_FEE, action)
}
