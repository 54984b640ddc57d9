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
//! - [`verify`]: batch signature verification on all cores, `ed25519-zebra`'s against ours
//!   with its cache of decompressed keys;
//! - [`driver`]: the block driver the coverage, usage, compute and storage benches share.

pub mod compute;
pub mod coverage;
pub mod driver;
pub mod epoch;
pub mod explorer;
pub mod flood;
pub mod mapping;
pub mod storage;
pub mod transfers;
pub mod usage;
pub mod verify;

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

/// What differs between the networks of the real-block benches; [`BenchNetwork::genesis`] fills
/// in the rest the same way for all of them (DPN with 6 decimals, one-second blocks, 1,000 DPN
/// of emission an epoch with 10% to the treasury, no fee schedule).
pub struct BenchNetwork {
    /// The bench's name, the chain id's suffix (`depin-bench-<name>`).
    pub name: &'static str,
    /// Blocks per epoch.
    pub epoch_length_blocks: u64,
    /// Transactions per block at most.
    pub max_block_txs: u32,
    /// The solo validator.
    pub validator: depin_core::Address,
    /// The treasury account.
    pub treasury: depin_core::Address,
    /// Token balances at genesis.
    pub allocations: Vec<depin_core::genesis::Allocation>,
    /// The modules and services the bench runs.
    pub modules: depin_core::modules::ModulesGenesis,
}

impl BenchNetwork {
    /// The genesis of this bench's network.
    pub fn genesis(self) -> depin_core::Genesis {
        use depin_core::genesis::{ConsensusParams, EconomicsGenesis, TokenParams};
        depin_core::Genesis {
            chain_id: format!("depin-bench-{}", self.name),
            genesis_time_ms: 0,
            token: TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: ConsensusParams {
                block_interval_ms: 1000,
                epoch_length_blocks: self.epoch_length_blocks,
                max_block_txs: self.max_block_txs,
                validator: self.validator,
                validators: Vec::new(),
            },
            allocations: self.allocations,
            economics: Some(EconomicsGenesis {
                emission_per_epoch: "1000".into(),
                halving_interval_epochs: 0,
                tail_per_epoch: "0".into(),
                treasury: self.treasury,
                treasury_bps: 1000,
                pool_weights: Default::default(),
            }),
            fees: None,
            modules: self.modules,
        }
    }
}

/// A node on a fresh store in `dir` (`bench.redb`), its mempool bounded by `max_txs` and
/// `max_bytes`, with the producer a bench drives.
pub fn open_node(
    genesis: depin_core::Genesis,
    dir: &std::path::Path,
    validator: depin_core::Keypair,
    max_txs: usize,
    max_bytes: usize,
) -> Result<
    (
        std::sync::Arc<depin_node::node::Node>,
        depin_node::chain::Producer,
    ),
    String,
> {
    let store = std::sync::Arc::new(
        depin_store::Store::open(&dir.join("bench.redb")).map_err(|e| e.to_string())?,
    );
    let limits = depin_node::mempool::MempoolLimits {
        max_txs,
        max_bytes,
        ..depin_node::mempool::MempoolLimits::default()
    };
    depin_node::node::Node::open(genesis, store, validator, limits).map_err(|e| e.to_string())
}

/// The `i`-th key of a bench's population `tag` (owners, devices, clients): the same every run.
pub fn seeded(tag: u8, i: usize) -> depin_core::Keypair {
    let mut seed = [tag; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    depin_core::Keypair::from_seed(seed)
}

/// The median of `v` (the upper one of an even count), NaN when `v` is empty.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}
