//! What compute transactions say: a provider's registration and stake (signed by its owner), a
//! requester's job, approvals and canaries, the provider device's claims, commitments, reveals
//! and capacity-challenge answers (signed by the device key), and settlements anyone may send.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Signature};
use crate::module::actions;

pub use crate::services::devices::{onboarding_message, sign_onboarding};

actions! {
    /// The compute module's actions.
    ComputeAction, "compute action";
    0 => RegisterProvider(RegisterProvider),
    1 => AddStake(AddStake),
    2 => WithdrawStake(WithdrawStake),
    3 => PostJob(PostJob),
    4 => ClaimTask(ClaimTask),
    5 => CommitResult(CommitResult),
    6 => RevealResult(RevealResult),
    7 => JudgeTasks(JudgeTasks),
    8 => RevealCanaries(RevealCanaries),
    9 => SettleTask(SettleTask),
    10 => CloseJob(CloseJob),
    11 => AnswerChallenge(AnswerChallenge),
    12 => ClaimTasks(ClaimTasks),
    13 => CommitResults(CommitResults),
    14 => RevealResults(RevealResults),
}

/// The kind of processor a provider offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorClass {
    Cpu,
    Gpu,
}

/// What one unit of a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A rendered frame.
    Frame,
    /// A second of GPU time.
    GpuSecond,
    /// A second of CPU time.
    CpuSecond,
}

/// How a job's results are verified, chosen by the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum VerifyMode {
    /// Every task runs on `replicas` providers; the majority result is paid.
    Redundant { replicas: u8 },
    /// Each task runs once; a share `rate_bps` of tasks, picked from entropy revealed after
    /// the commitment, runs again on another provider.
    SpotCheck { rate_bps: u16 },
    /// Some tasks are canaries whose answers the requester knows (committed at posting,
    /// revealed later); a provider caught on one is slashed and unpaid for the whole job.
    Canary,
    /// The requester approves or rejects each result; silence approves after a timeout.
    Approval,
}

impl VerifyMode {
    /// Stable name for the API.
    pub fn name(&self) -> &'static str {
        match self {
            VerifyMode::Redundant { .. } => "redundant",
            VerifyMode::SpotCheck { .. } => "spot_check",
            VerifyMode::Canary => "canary",
            VerifyMode::Approval => "approval",
        }
    }

    /// Providers that run each task before any check.
    pub fn replicas(&self) -> u8 {
        match self {
            VerifyMode::Redundant { replicas } => *replicas,
            _ => 1,
        }
    }

    /// Most executions of one task that can be paid: the replicas, a spot-check and the
    /// referees a disagreement brings (escrowed at posting, the rest refunded).
    pub fn max_executions(&self) -> u32 {
        match self {
            VerifyMode::Redundant { replicas } => {
                u32::from(*replicas) + u32::from(referees_for(*replicas))
            }
            VerifyMode::SpotCheck { .. } => 2 + u32::from(referees_for(2)),
            // A failed canary is re-run by referees before anyone is slashed.
            VerifyMode::Canary => 1 + u32::from(referees_for(1)),
            VerifyMode::Approval => 1,
        }
    }
}

/// Referees a disagreement among `n` results brings: `n + 1`, so the verdict's majority
/// (`n + 1` of `2n + 1`) needs more than every first result together. A cheater whose Sybils
/// hold all `n` first slots still needs one more assigned referee to win; with fewer referees,
/// two colluders among six providers outvoted and slashed honest checkers (measured, see
/// `docs/COMPUTE.md`).
pub fn referees_for(n: u8) -> u8 {
    n + 1
}

/// Register a compute provider to the signer (its owner), with its declared benchmark backed
/// by stake in credits. The device key co-signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterProvider {
    pub device: Address,
    pub class: ProcessorClass,
    /// Declared benchmark score (the capacity challenge's difficulty follows it).
    pub benchmark: u64,
    /// Credits staked from the owner's credits.
    #[serde(with = "crate::amount::u128_string")]
    pub stake: u128,
    pub device_signature: Signature,
}

/// Add credits to a provider's stake (owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddStake {
    pub device: Address,
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
}

/// Take unbonded stake back to the owner's credits (owner; after retirement, the last owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawStake {
    pub device: Address,
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
}

/// Post a job; its worst-case cost is escrowed from the signer's credits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostJob {
    /// Content hash of the job spec (what to run, inputs by hash).
    pub spec_hash: Hash,
    pub tasks: u32,
    pub unit: Unit,
    pub units_per_task: u32,
    /// Most credits paid per unit.
    #[serde(with = "crate::amount::u128_string")]
    pub price_per_unit: u128,
    /// Last height at which tasks may be claimed and results delivered.
    pub deadline_height: u64,
    /// Lowest tier of provider that may claim (0: any provider).
    pub min_tier: u8,
    pub mode: VerifyMode,
    /// Canary mode: [`canary_commitment`] of the canaries; otherwise none.
    pub canary_commitment: Option<Hash>,
}

/// Claim a slot of a task (device key). A claim must be committed within the claim timeout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTask {
    pub job: u64,
    pub task: u32,
}

/// Commit to a result without showing it: [`result_commitment`] (device key), and its
/// [`result_tag`], which lets the ledger see a disagreement (and call referees) before any
/// result is revealed, so referees commit blind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitResult {
    pub job: u64,
    pub task: u32,
    pub commitment: Hash,
    pub tag: Hash,
}

/// Show the committed result (device key), once every slot of the task is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealResult {
    pub job: u64,
    pub task: u32,
    /// Hash of the task's output.
    pub result: Hash,
    pub salt: Hash,
}

/// Several claims of one device in one transaction (device key): at most
/// [`MAX_TASK_BATCH`] items, in strictly ascending `(job, task)` order. Each item passes exactly
/// the checks of a [`ClaimTask`] sent alone at that point of the block, except that a verifying
/// slot the ledger assigns (a redundant task's later replicas, a spot-check, a referee) is
/// claimed alone; all or nothing: one refused item refuses the batch, naming the item and why.
///
/// [`MAX_TASK_BATCH`]: super::params::MAX_TASK_BATCH
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTasks {
    pub items: Vec<ClaimTask>,
}

/// Several commitments of one device in one transaction (device key): the rules of
/// [`ClaimTasks`], each item checked as a [`CommitResult`] sent alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitResults {
    pub items: Vec<CommitResult>,
}

/// Several reveals of one device in one transaction (device key): the rules of
/// [`ClaimTasks`], each item checked as a [`RevealResult`] sent alone (reveals of a task open
/// only once all its slots committed in earlier blocks, batched or not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealResults {
    pub items: Vec<RevealResult>,
}

/// The `(job, task)` an item of a batch names.
pub trait TaskItem {
    fn job_task(&self) -> (u64, u32);
}

impl TaskItem for ClaimTask {
    fn job_task(&self) -> (u64, u32) {
        (self.job, self.task)
    }
}

impl TaskItem for CommitResult {
    fn job_task(&self) -> (u64, u32) {
        (self.job, self.task)
    }
}

impl TaskItem for RevealResult {
    fn job_task(&self) -> (u64, u32) {
        (self.job, self.task)
    }
}

/// The requester approves (pays) or rejects (re-opens) revealed results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeTasks {
    pub job: u64,
    pub tasks: Vec<u32>,
    pub approve: bool,
}

/// One canary: a task and the result hash the requester knows it must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    pub task: u32,
    pub result: Hash,
}

/// The requester reveals the canaries committed at posting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealCanaries {
    pub job: u64,
    pub salt: Hash,
    /// In ascending task order.
    pub canaries: Vec<Canary>,
}

/// Settle what timeouts decided on one task (anyone): expired claims, withheld reveals,
/// results nobody judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleTask {
    pub job: u64,
    pub task: u32,
}

/// Close a job (anyone, after its deadline or once every task is settled): settle every task
/// and refund the unused escrow to the requester.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseJob {
    pub job: u64,
}

/// Answer this epoch's capacity challenge (device key): [`CHALLENGE_NONCES`] ascending nonces
/// whose [`challenge_digest`] with the seed block's entropy is at most the benchmark's target.
///
/// [`CHALLENGE_NONCES`]: super::params::CHALLENGE_NONCES
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerChallenge {
    /// The block whose hash seeds the challenge (recent: within the challenge window).
    pub seed_height: u64,
    pub nonces: Vec<u64>,
}

/// What a provider commits to: its result bound to the task and to itself, so nobody can copy
/// another's commitment, and salted, so nobody can guess the result from it.
pub fn result_commitment(
    job: u64,
    task: u32,
    device: &Address,
    result: &Hash,
    salt: &Hash,
) -> Hash {
    Hash::tagged(
        "depin/compute/commit/v1",
        &[
            &job.to_le_bytes(),
            &task.to_le_bytes(),
            &device.0,
            &result.0,
            &salt.0,
        ],
    )
}

/// A result's tag: the same for every provider with the same result, so the ledger compares
/// tags at commit time and calls referees before anything is revealed. It does not show the
/// result: a referee who copies a tag cannot reveal a result matching it without the output
/// (its own [`result_commitment`] was fixed before any result was revealed). Outputs must
/// carry entropy: a task whose answer can be guessed from a few candidates leaks it through
/// the tag.
pub fn result_tag(job: u64, task: u32, result: &Hash) -> Hash {
    Hash::tagged(
        "depin/compute/tag/v1",
        &[&job.to_le_bytes(), &task.to_le_bytes(), &result.0],
    )
}

/// What a requester commits to at posting in canary mode.
pub fn canary_commitment(salt: &Hash, canaries: &[Canary]) -> Hash {
    let mut bytes = Vec::with_capacity(36 * canaries.len());
    for c in canaries {
        bytes.extend_from_slice(&c.task.to_le_bytes());
        bytes.extend_from_slice(&c.result.0);
    }
    Hash::tagged("depin/compute/canaries/v1", &[&salt.0, &bytes])
}

/// The challenge digest of one nonce: its first 8 bytes, little-endian, must be at most the
/// target.
pub fn challenge_digest(seed: &Hash, device: &Address, nonce: u64) -> u64 {
    let h = Hash::tagged(
        "depin/compute/challenge/v1",
        &[&seed.0, &device.0, &nonce.to_le_bytes()],
    );
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"))
}

/// The target a provider of `benchmark` must meet: `u64::MAX / (benchmark * hashes_per_score)`,
/// so a nonce takes that many hashes on average.
pub fn challenge_target(benchmark: u64, hashes_per_score: u64) -> u64 {
    u64::MAX / benchmark.saturating_mul(hashes_per_score).max(1)
}

/// Searches `CHALLENGE_NONCES` nonces meeting the target (the provider's side; real work).
pub fn solve_challenge(seed: &Hash, device: &Address, target: u64, count: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(count);
    let mut nonce = 0u64;
    while out.len() < count {
        if challenge_digest(seed, device, nonce) <= target {
            out.push(nonce);
        }
        nonce += 1;
    }
    out
}

macro_rules! tag_codec {
    ($t:ident, $what:literal, $($tag:literal => $v:ident),*) => {
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.push(match self { $($t::$v => $tag,)* });
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match u8::decode(r)? {
                    $($tag => Ok($t::$v),)*
                    tag => Err(DecodeError::InvalidTag { what: $what, tag }),
                }
            }
        }
    };
}
tag_codec!(ProcessorClass, "processor class", 0 => Cpu, 1 => Gpu);
tag_codec!(Unit, "unit", 0 => Frame, 1 => GpuSecond, 2 => CpuSecond);

impl Encode for VerifyMode {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            VerifyMode::Redundant { replicas } => {
                out.push(0);
                replicas.encode(out);
            }
            VerifyMode::SpotCheck { rate_bps } => {
                out.push(1);
                rate_bps.encode(out);
            }
            VerifyMode::Canary => out.push(2),
            VerifyMode::Approval => out.push(3),
        }
    }
}

impl Decode for VerifyMode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(VerifyMode::Redundant {
                replicas: u8::decode(r)?,
            }),
            1 => Ok(VerifyMode::SpotCheck {
                rate_bps: u16::decode(r)?,
            }),
            2 => Ok(VerifyMode::Canary),
            3 => Ok(VerifyMode::Approval),
            tag => Err(DecodeError::InvalidTag {
                what: "verify mode",
                tag,
            }),
        }
    }
}

struct_codec!(RegisterProvider {
    device: Address,
    class: ProcessorClass,
    benchmark: u64,
    stake: u128,
    device_signature: Signature,
});
struct_codec!(AddStake {
    device: Address,
    credits: u128,
});
struct_codec!(WithdrawStake {
    device: Address,
    credits: u128,
});
struct_codec!(PostJob {
    spec_hash: Hash,
    tasks: u32,
    unit: Unit,
    units_per_task: u32,
    price_per_unit: u128,
    deadline_height: u64,
    min_tier: u8,
    mode: VerifyMode,
    canary_commitment: Option<Hash>,
});
struct_codec!(ClaimTask {
    job: u64,
    task: u32
});
struct_codec!(CommitResult {
    job: u64,
    task: u32,
    commitment: Hash,
    tag: Hash,
});
struct_codec!(RevealResult {
    job: u64,
    task: u32,
    result: Hash,
    salt: Hash,
});
struct_codec!(ClaimTasks {
    items: Vec<ClaimTask>
});
struct_codec!(CommitResults {
    items: Vec<CommitResult>
});
struct_codec!(RevealResults {
    items: Vec<RevealResult>
});
struct_codec!(JudgeTasks {
    job: u64,
    tasks: Vec<u32>,
    approve: bool,
});
struct_codec!(Canary {
    task: u32,
    result: Hash
});
struct_codec!(RevealCanaries {
    job: u64,
    salt: Hash,
    canaries: Vec<Canary>,
});
struct_codec!(SettleTask {
    job: u64,
    task: u32
});
struct_codec!(CloseJob { job: u64 });
struct_codec!(AnswerChallenge {
    seed_height: u64,
    nonces: Vec<u64>,
});
