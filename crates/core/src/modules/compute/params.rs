//! The compute module's genesis parameters: the stake behind a claim and a benchmark, the
//! timeouts that keep the market moving, and the capacity challenge's difficulty.
//!
//! Every amount is in credits (the demand service's USD-pegged unit), the unit jobs are priced
//! in: stake and price in one unit is what makes the deterrence rule `S >= C(1-p)/p` hold
//! whatever the token does (see `docs/COMPUTE.md`).

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;

/// Highest tier a provider may declare (1 economy, 2 priority, 3 premium).
pub const MAX_TIER: u8 = 3;
/// Largest benchmark score a provider may declare (keeps stake and difficulty arithmetic far
/// from overflow).
pub const MAX_BENCHMARK: u64 = 1_000_000_000;
/// Most tasks one job may have (a job's close walks all of them in one transaction).
pub const MAX_TASKS_PER_JOB: u32 = 1_024;
/// Most providers re-running one task in redundant mode.
pub const MAX_REPLICAS: u8 = 5;
/// Fewest providers re-running one task in redundant mode (one is not redundant).
pub const MIN_REPLICAS: u8 = 2;
/// Most canary tasks a job may reveal.
pub const MAX_CANARIES: usize = 64;
/// Most tasks one approval names.
pub const MAX_APPROVE_BATCH: usize = 256;
/// Most claims, commitments or reveals one batched transaction ([`ClaimTasks`],
/// [`CommitResults`], [`RevealResults`]) carries. A commitment or reveal item is 76 bytes, so 32
/// of them (2,432 bytes) fit the 4,096-byte transaction limit beside the envelope and a 64-byte
/// chain id; 32 also keeps one transaction's work (its items' checks and writes) within a few
/// single transactions' worth, and bounds what one refused item makes its sender re-send.
///
/// [`ClaimTasks`]: super::actions::ClaimTasks
/// [`CommitResults`]: super::actions::CommitResults
/// [`RevealResults`]: super::actions::RevealResults
pub const MAX_TASK_BATCH: usize = 32;
/// Weight each item of a batch adds beyond its bytes (`Module::extra_weight`): about the bytes
/// its execution stores (a slot's claim, commitment or result in the task record, the
/// provider's task index), one unit per byte stored. A single claim, commit or reveal has this
/// covered by its own envelope and signature weight (about 390); a batch shares one envelope
/// and one signature among its items, so each item pays for its writes.
pub const BATCH_ITEM_WEIGHT: u64 = 100;
/// Times a requester may reject a task's result before the task is refunded instead.
pub const MAX_REJECTIONS: u8 = 2;
/// Nonces in one capacity-challenge answer (more nonces, less luck: the spread of the work
/// needed is 1/sqrt(n) of its mean).
pub const CHALLENGE_NONCES: usize = 16;

/// The `[compute]` section of a genesis file (the ledger keeps it as is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeGenesis {
    /// Credits a claim bonds, as a multiple of the task's payment; forfeited for a wrong or
    /// withheld result.
    pub bond_multiple: u32,
    /// Lowest spot-check rate a job may choose, basis points. The genesis check requires
    /// `bond_multiple >= (10000 - rate) / rate`, so cheating never pays in expectation.
    pub min_spot_check_bps: u16,
    /// Share of each payment burned rather than counted as the provider's paid service, bps:
    /// what makes paying your own provider strictly lose (it returns at most the rest).
    pub work_fee_bps: u16,
    /// Credits of stake per benchmark point a provider declares.
    pub stake_per_score_credits: u64,
    /// Benchmark a provider needs for tiers 1, 2 and 3.
    pub tier_min_benchmark: Vec<u64>,
    /// Blocks a claim stays valid without a commitment before anyone may take the task over.
    pub claim_timeout_blocks: u64,
    /// Blocks every committed provider has to reveal once reveals open.
    pub reveal_timeout_blocks: u64,
    /// Blocks after a reveal before a result the requester has not judged is approved.
    pub approval_timeout_blocks: u64,
    /// Longest a job may run, blocks from posting to its deadline.
    pub max_job_blocks: u64,
    /// Share of its bond a provider loses when its claim expires without a commitment, bps.
    pub abandon_penalty_bps: u16,
    /// Blocks after its seed block within which a capacity challenge must be answered.
    pub challenge_window_blocks: u64,
    /// Expected hashes per challenge nonce for each benchmark point.
    pub challenge_hashes_per_score: u64,
}

/// The compute parameters the ledger keeps (the genesis section, checked).
pub type ComputeParams = ComputeGenesis;

impl Default for ComputeGenesis {
    /// The defaults: a 10% spot-check with a bond of 15x the payment. `S >= 9C` deters a lone
    /// cheater; against Sybils holding a share `f` of the providers a check can be assigned to,
    /// the check bites with probability `p(1 - f)`, and 15x holds up to `f` = 37.5% (measured
    /// in `docs/COMPUTE.md`: at 10x two Sybils of eight still netted a profit).
    fn default() -> Self {
        ComputeGenesis {
            bond_multiple: 15,
            min_spot_check_bps: 1_000,
            work_fee_bps: 500,
            stake_per_score_credits: 10,
            tier_min_benchmark: vec![1, 100, 1_000],
            claim_timeout_blocks: 30,
            reveal_timeout_blocks: 30,
            approval_timeout_blocks: 120,
            max_job_blocks: 10_000,
            abandon_penalty_bps: 1_000,
            challenge_window_blocks: 5,
            challenge_hashes_per_score: 64,
        }
    }
}

impl ComputeGenesis {
    /// Checks the section; errors name the field and say what to do.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let p = u64::from(self.min_spot_check_bps);
        if p == 0 || p > 10_000 {
            return Err((
                "compute.min_spot_check_bps",
                "must be 1 to 10000 basis points".into(),
            ));
        }
        if u64::from(self.bond_multiple) * p < 10_000 - p {
            return Err((
                "compute.bond_multiple",
                format!(
                    "a bond of {}x the payment does not deter cheating at a {p} bps spot-check: it must be at least (10000 - rate) / rate = {}",
                    self.bond_multiple,
                    (10_000 - p).div_ceil(p)
                ),
            ));
        }
        if self.bond_multiple > 1_000 {
            return Err(("compute.bond_multiple", "must be at most 1000".into()));
        }
        if self.tier_min_benchmark.len() != usize::from(MAX_TIER)
            || !self.tier_min_benchmark.is_sorted()
            || self.tier_min_benchmark[0] == 0
            || self.tier_min_benchmark[2] > MAX_BENCHMARK
        {
            return Err((
                "compute.tier_min_benchmark",
                format!("must be {MAX_TIER} ascending scores from 1 to {MAX_BENCHMARK}"),
            ));
        }
        for (name, v) in [
            ("compute.claim_timeout_blocks", self.claim_timeout_blocks),
            ("compute.reveal_timeout_blocks", self.reveal_timeout_blocks),
            (
                "compute.approval_timeout_blocks",
                self.approval_timeout_blocks,
            ),
            (
                "compute.challenge_window_blocks",
                self.challenge_window_blocks,
            ),
            (
                "compute.challenge_hashes_per_score",
                self.challenge_hashes_per_score,
            ),
        ] {
            if v == 0 || v > 1_000_000 {
                return Err((name, "must be 1 to 1000000".into()));
            }
        }
        if self.max_job_blocks < self.claim_timeout_blocks + self.reveal_timeout_blocks
            || self.max_job_blocks > 1_000_000
        {
            return Err((
                "compute.max_job_blocks",
                "must leave room for a claim and a reveal (claim + reveal timeouts) and be at most 1000000".into(),
            ));
        }
        if self.work_fee_bps > 5_000 {
            return Err((
                "compute.work_fee_bps",
                "must be at most 5000 (half of each payment)".into(),
            ));
        }
        if self.abandon_penalty_bps > 10_000 {
            return Err((
                "compute.abandon_penalty_bps",
                "must be at most 10000".into(),
            ));
        }
        if self.stake_per_score_credits > 1_000_000_000 {
            return Err((
                "compute.stake_per_score_credits",
                "must be at most 1000000000".into(),
            ));
        }
        Ok(())
    }

    /// Blocks of block entropy kept: a spot-check is decided from the hash of the block that
    /// holds the commitment, at any time until the job's deadline.
    pub fn entropy_keep_blocks(&self) -> u64 {
        self.max_job_blocks + self.challenge_window_blocks + 1
    }

    /// The tier a benchmark qualifies for, if any.
    pub fn tier_of(&self, benchmark: u64) -> u8 {
        self.tier_min_benchmark
            .iter()
            .filter(|m| benchmark >= **m)
            .count() as u8
    }
}

struct_codec!(ComputeGenesis {
    bond_multiple: u32,
    min_spot_check_bps: u16,
    work_fee_bps: u16,
    stake_per_score_credits: u64,
    tier_min_benchmark: Vec<u64>,
    claim_timeout_blocks: u64,
    reveal_timeout_blocks: u64,
    approval_timeout_blocks: u64,
    max_job_blocks: u64,
    abandon_penalty_bps: u16,
    challenge_window_blocks: u64,
    challenge_hashes_per_score: u64,
});
