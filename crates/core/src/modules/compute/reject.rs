//! Why a compute transaction was refused: one reason code and one sentence per check, so a
//! provider or a requester always learns what was wrong and what to do.

use std::fmt;

use crate::crypto::Address;
use crate::module::reasons;

reasons! {
    /// A refused compute transaction.
    ComputeRejection, "compute rejection";
    0 => UnknownProvider { device: Address } = "unknown_provider",
    1 => BenchmarkOutOfRange { benchmark: u64, min: u64, max: u64 } = "benchmark_out_of_range",
    2 => StakeTooLow { stake: u128, needed: u128 } = "stake_too_low",
    3 => InsufficientFreeStake { free: u128, needed: u128 } = "insufficient_free_stake",
    4 => InsufficientCredits { balance: u128, needed: u128 } = "insufficient_credits",
    5 => EmptyJob {} = "empty_job",
    6 => TooManyTasks { tasks: u32, max: u32 } = "too_many_tasks",
    7 => BadReplicas { replicas: u8, min: u8, max: u8 } = "bad_replicas",
    8 => SpotRateTooLow { rate_bps: u16, min_bps: u16 } = "spot_rate_too_low",
    9 => DeadlineOutOfRange { deadline: u64, min: u64, max: u64 } = "deadline_out_of_range",
    10 => TierOutOfRange { tier: u8, max: u8 } = "tier_out_of_range",
    11 => CanaryCommitmentMismatch { canary_mode: bool } = "canary_commitment_mismatch",
    12 => EscrowOverflow {} = "escrow_overflow",
    13 => UnknownJob { job: u64 } = "unknown_job",
    14 => JobClosed { job: u64 } = "job_closed",
    15 => PastDeadline { deadline: u64 } = "past_deadline",
    16 => UnknownTask { task: u32, tasks: u32 } = "unknown_task",
    17 => TaskSettled { task: u32 } = "task_settled",
    18 => TierTooLow { tier: u8, min_tier: u8 } = "tier_too_low",
    19 => OwnerAlreadyInTask { task: u32 } = "owner_already_in_task",
    20 => OwnJob {} = "own_job",
    21 => NoOpenSlot { task: u32 } = "no_open_slot",
    22 => NoClaim { task: u32 } = "no_claim",
    23 => ClaimExpired { expired_at: u64 } = "claim_expired",
    24 => AlreadyCommitted {} = "already_committed",
    25 => RevealsNotOpen { task: u32 } = "reveals_not_open",
    26 => WrongReveal {} = "wrong_reveal",
    27 => AlreadyRevealed {} = "already_revealed",
    28 => NotRequester { requester: Address } = "not_requester",
    29 => WrongMode { mode: String } = "wrong_mode",
    30 => NotJudgeable { task: u32 } = "not_judgeable",
    31 => TooManyItems { count: u32, max: u32 } = "too_many_items",
    32 => CanariesNotMatching {} = "canaries_not_matching",
    33 => CanariesAlreadyRevealed {} = "canaries_already_revealed",
    34 => NothingToSettle { task: u32 } = "nothing_to_settle",
    35 => JobStillRunning { deadline: u64 } = "job_still_running",
    36 => ChallengeOutOfWindow { seed_height: u64, current: u64, window: u64 } = "challenge_out_of_window",
    37 => ChallengeAnswered { epoch: u64 } = "challenge_answered",
    38 => WrongNonceCount { count: u32, expected: u32 } = "wrong_nonce_count",
    39 => NonceAboveTarget { index: u32 } = "nonce_above_target",
    40 => NoncesNotAscending {} = "nonces_not_ascending",
    41 => ZeroCredits {} = "zero_credits",
    42 => DuplicateItem {} = "duplicate_item",
    43 => NotAssigned { assigned: Address, open_at: u64 } = "not_assigned",
    44 => EmptyBatch {} = "empty_batch",
    45 => BatchNotAscending { index: u32 } = "batch_not_ascending",
    46 => AssignedSlotInBatch { task: u32 } = "assigned_slot_in_batch",
    47 => BatchItemRefused { index: u32, code: String, reason: String } = "batch_item_refused",
}

impl fmt::Display for ComputeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ComputeRejection::*;
        match self {
            UnknownProvider { device } => write!(
                f,
                "{device} is not a compute provider; register it with register_provider first"
            ),
            BenchmarkOutOfRange {
                benchmark,
                min,
                max,
            } => write!(
                f,
                "benchmark {benchmark} is outside {min} to {max}; tier 1 needs compute.tier_min_benchmark[0]"
            ),
            StakeTooLow { stake, needed } => write!(
                f,
                "a stake of {stake} credits does not back the declared benchmark: it needs {needed} (compute.stake_per_score_credits per point); stake more or declare less"
            ),
            InsufficientFreeStake { free, needed } => write!(
                f,
                "{free} credits of stake are free (not bonded by claims nor backing the benchmark) but {needed} are needed; add stake or wait for claims to settle"
            ),
            InsufficientCredits { balance, needed } => write!(
                f,
                "the signer holds {balance} credits of its own but {needed} are needed; buy credits first (delegated credits pay only for data transfer)"
            ),
            EmptyJob {} => write!(
                f,
                "a job needs at least one task, one unit per task and a price above zero"
            ),
            TooManyTasks { tasks, max } => write!(
                f,
                "{tasks} tasks exceed the {max} one job may have; split the work into several jobs"
            ),
            BadReplicas { replicas, min, max } => write!(
                f,
                "redundant mode needs {min} to {max} replicas per task, not {replicas}"
            ),
            SpotRateTooLow { rate_bps, min_bps } => write!(
                f,
                "a spot-check rate of {rate_bps} bps is below the network's {min_bps} bps, at which the bond no longer makes cheating unprofitable"
            ),
            DeadlineOutOfRange { deadline, min, max } => write!(
                f,
                "deadline height {deadline} must be between {min} (room for a claim and a reveal) and {max} (compute.max_job_blocks from now)"
            ),
            TierOutOfRange { tier, max } => write!(
                f,
                "tier {tier} does not exist; tiers run from 0 (any provider) to {max}"
            ),
            CanaryCommitmentMismatch { canary_mode } => {
                if *canary_mode {
                    write!(f, "canary mode needs a canary_commitment")
                } else {
                    write!(f, "only canary mode takes a canary_commitment")
                }
            }
            EscrowOverflow {} => write!(
                f,
                "tasks x units x price x executions does not fit 128 bits; lower the price or the task count"
            ),
            UnknownJob { job } => write!(f, "there is no job {job}"),
            JobClosed { job } => write!(
                f,
                "job {job} is closed: its escrow was settled and refunded"
            ),
            PastDeadline { deadline } => write!(
                f,
                "the job's deadline (height {deadline}) has passed; results are no longer accepted"
            ),
            UnknownTask { task, tasks } => write!(
                f,
                "task {task} does not exist: the job's tasks are numbered 0 to {tasks} (exclusive)"
            ),
            TaskSettled { task } => write!(f, "task {task} is already settled"),
            TierTooLow { tier, min_tier } => write!(
                f,
                "the job needs tier {min_tier} or above; this provider's proven tier is {tier} (a tier counts only with the capacity challenge answered this epoch or the last)"
            ),
            OwnerAlreadyInTask { task } => write!(
                f,
                "a device of the same owner already holds a slot of task {task}; one owner cannot verify itself"
            ),
            OwnJob {} => write!(f, "a requester's own devices cannot work on its jobs"),
            NoOpenSlot { task } => write!(
                f,
                "every slot of task {task} is taken and no claim has expired; try another task"
            ),
            NoClaim { task } => write!(
                f,
                "this device holds no pending slot of task {task}; claim it first"
            ),
            ClaimExpired { expired_at } => write!(
                f,
                "the claim expired at height {expired_at} without a commitment; claim again"
            ),
            AlreadyCommitted {} => write!(
                f,
                "this slot already has a commitment; reveal it once reveals open"
            ),
            RevealsNotOpen { task } => write!(
                f,
                "reveals of task {task} are not open: every slot (and a spot-check, if the task was picked) must commit first, in an earlier block"
            ),
            WrongReveal {} => write!(
                f,
                "the result and salt do not hash to this slot's commitment and tag: reveal the result committed to"
            ),
            AlreadyRevealed {} => write!(f, "this slot's result is already revealed"),
            NotRequester { requester } => {
                write!(f, "only the job's requester {requester} may do this")
            }
            WrongMode { mode } => write!(f, "this action does not apply to a job in {mode} mode"),
            NotJudgeable { task } => write!(
                f,
                "task {task} has no revealed result waiting for a verdict"
            ),
            TooManyItems { count, max } => write!(
                f,
                "{count} items exceed the {max} one transaction may carry"
            ),
            CanariesNotMatching {} => write!(
                f,
                "the salt and canaries do not hash to the commitment made when the job was posted"
            ),
            CanariesAlreadyRevealed {} => write!(f, "the canaries are already revealed"),
            NothingToSettle { task } => write!(
                f,
                "no timeout has passed on task {task}: nothing to settle yet"
            ),
            JobStillRunning { deadline } => write!(
                f,
                "the job runs until height {deadline} and has unsettled tasks; close it after its deadline"
            ),
            ChallengeOutOfWindow {
                seed_height,
                current,
                window,
            } => write!(
                f,
                "seed block {seed_height} is not within the {window} blocks before {current} in this epoch; answer a fresh challenge in time"
            ),
            ChallengeAnswered { epoch } => write!(
                f,
                "this provider already answered epoch {epoch}'s capacity challenge"
            ),
            WrongNonceCount { count, expected } => write!(
                f,
                "{count} nonces given; the challenge takes exactly {expected}"
            ),
            NonceAboveTarget { index } => write!(
                f,
                "nonce {index} does not meet the declared benchmark's target: the work was not done, or the benchmark is overstated"
            ),
            NoncesNotAscending {} => {
                write!(f, "nonces must be strictly ascending (each counts once)")
            }
            ZeroCredits {} => write!(f, "the amount of credits must be above zero"),
            DuplicateItem {} => write!(f, "a task is named twice"),
            EmptyBatch {} => write!(f, "a batch needs at least one item"),
            BatchNotAscending { index } => write!(
                f,
                "item {index} does not follow the one before it: a batch names each (job, task) once, in strictly ascending order"
            ),
            AssignedSlotInBatch { task } => write!(
                f,
                "the next slot of task {task} is a verifying slot the ledger assigns; claim it with a single claim_task (a batch takes only slots open to every provider)"
            ),
            BatchItemRefused {
                index,
                code,
                reason,
            } => write!(
                f,
                "item {index} of the batch was refused ({code}: {reason}); nothing in the batch was applied: drop or fix that item and send the rest again"
            ),
            NotAssigned { assigned, open_at } => write!(
                f,
                "this verifying slot is assigned to provider {assigned} (drawn from block entropy, so nobody picks their own checker); it opens to everyone at height {open_at} if that provider does not claim it"
            ),
        }
    }
}
