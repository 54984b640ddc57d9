//! What the compute module keeps in the state: each provider's stake and track record (beside
//! its entry in the shared device registry), jobs with their escrow, each task's slots, block
//! entropy, capacity-challenge answers, and the module's running totals, with the layout of
//! their keys and a [`ComputeView`] over any [`StateRead`].

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash};
use crate::module::{Module, address_suffix, module_key};
use crate::state::StateRead;

use super::Compute;
use super::actions::{Canary, ProcessorClass, Unit, VerifyMode};
use super::fate::{SlotFate, TaskOutcome};

/// What compute keeps of a provider beside its registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The owner when the record last changed (who may withdraw after retirement).
    pub owner: Address,
    pub class: ProcessorClass,
    pub benchmark: u64,
    /// Credits staked, bonded ones included.
    #[serde(with = "crate::amount::u128_string")]
    pub stake: u128,
    /// Credits bonded by open claims.
    #[serde(with = "crate::amount::u128_string")]
    pub bonded: u128,
    /// Tokens burned for the staked credits (their cost basis, carried back on withdrawal).
    pub stake_cost: Amount,
    /// Last epoch whose capacity challenge it answered.
    pub proven_epoch: Option<u64>,
    pub retired: bool,
    pub record: TrackRecord,
}

/// A provider's track record: what its reputation is computed from, and why it last moved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackRecord {
    /// Results verified and paid.
    pub verified: u64,
    /// Results found wrong (majority, spot-check, canary) or withheld: slashed.
    pub failed: u64,
    /// Claims left to expire.
    pub abandoned: u64,
    /// Results the requester rejected (not slashed: a requester cannot prove a result wrong).
    pub rejected: u64,
    #[serde(with = "crate::amount::u128_string")]
    pub earned: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub slashed: u128,
    /// The last thing that moved the reputation.
    pub last: Option<TrackEvent>,
}

impl TrackRecord {
    /// Reputation in basis points: the mean of a Beta(verified + 1, failed + abandoned + 1)
    /// belief that the next result is good (5000 with no history).
    pub fn reputation_bps(&self) -> u64 {
        let good = self.verified.saturating_add(1);
        let bad = self.failed.saturating_add(self.abandoned).saturating_add(1);
        (u128::from(good) * 10_000 / (u128::from(good) + u128::from(bad))) as u64
    }
}

/// One change to a provider's record: where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEvent {
    pub height: u64,
    pub job: u64,
    pub task: u32,
    pub fate: SlotFate,
}

/// A posted job and its escrow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub requester: Address,
    pub spec_hash: Hash,
    pub tasks: u32,
    pub unit: Unit,
    pub units_per_task: u32,
    #[serde(with = "crate::amount::u128_string")]
    pub price_per_unit: u128,
    pub posted_height: u64,
    pub deadline_height: u64,
    pub min_tier: u8,
    pub mode: VerifyMode,
    pub canary_commitment: Option<Hash>,
    /// The canaries once revealed, in task order.
    pub canaries: Option<Vec<Canary>>,
    /// Credits escrowed and not yet paid or refunded.
    #[serde(with = "crate::amount::u128_string")]
    pub escrow: u128,
    /// Tokens burned for the escrowed credits (their cost basis).
    pub escrow_cost: Amount,
    #[serde(with = "crate::amount::u128_string")]
    pub paid: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub refunded: u128,
    /// Tasks settled (paid or not).
    pub settled: u32,
    /// Tasks settled with at least one result paid.
    pub delivered: u32,
    pub closed: bool,
    /// Owners caught with a wrong canary: unpaid for the rest of the job.
    pub caught: Vec<Address>,
    /// Owners whose result differs from a canary answer while referees re-run the task: their
    /// other results of the job wait for the verdict.
    #[serde(default)]
    pub disputed: Vec<Address>,
}

impl Job {
    /// Credits one execution of one task is paid.
    pub fn task_payment(&self) -> u128 {
        u128::from(self.units_per_task) * self.price_per_unit
    }
}

/// What a slot's provider is doing for the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// One of the task's replicas (one outside redundant mode).
    Primary,
    /// The spot-check re-run.
    Check,
    /// A re-run after a disagreement.
    Referee,
}

/// One provider's part in a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub device: Address,
    /// The device's owner at the claim (one slot per owner and task).
    pub owner: Address,
    pub role: Role,
    pub claimed_height: u64,
    /// Credits of the provider's stake bonded by this claim.
    #[serde(with = "crate::amount::u128_string")]
    pub bond: u128,
    pub commitment: Option<Hash>,
    /// The committed result's [`result_tag`](super::actions::result_tag).
    pub tag: Option<Hash>,
    pub committed_height: Option<u64>,
    pub result: Option<Hash>,
    pub revealed_height: Option<u64>,
    pub fate: SlotFate,
}

impl Slot {
    /// Still counted for the task (not yet paid, released, slashed or rejected).
    pub fn active(&self) -> bool {
        self.fate == SlotFate::Pending
    }
}

/// A task that has been claimed at least once (a task without a record is open).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub slots: Vec<Slot>,
    /// Height at which referees were called after a disagreement.
    pub referees_called: Option<u64>,
    /// Results the requester rejected.
    pub rejections: u8,
    pub outcome: Option<TaskOutcome>,
}

/// Credit flows of the module since genesis: what conservation is checked against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeTotals {
    #[serde(with = "crate::amount::u128_string")]
    pub escrowed: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub paid: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub refunded: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub staked: u128,
    #[serde(with = "crate::amount::u128_string")]
    pub unstaked: u128,
    /// Stake forfeited (burned).
    #[serde(with = "crate::amount::u128_string")]
    pub slashed: u128,
    /// Work fees burned (the part of each payment not counted as paid service).
    #[serde(with = "crate::amount::u128_string")]
    pub fees: u128,
    pub jobs: u64,
}

impl ComputeTotals {
    /// Credits the module holds now: escrow not yet paid or refunded, and stake not withdrawn
    /// or slashed.
    pub fn held(&self) -> u128 {
        self.escrowed - self.paid - self.fees - self.refunded + self.staked
            - self.unstaked
            - self.slashed
    }
}

/// One epoch's activity (its counters in the epoch summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochActivity {
    pub jobs_posted: u64,
    pub results_paid: u64,
    pub results_slashed: u64,
    pub claims_abandoned: u64,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_paid: u128,
}

const PROVIDER: u8 = 0;
const JOB: u8 = 1;
const TASK: u8 = 2;
const PROVIDER_TASK: u8 = 3;
const ENTROPY: u8 = 4;
const CHALLENGE: u8 = 5;
const TOTALS: u8 = 6;
const ACTIVITY: u8 = 7;
const NEXT_JOB: u8 = 8;

pub fn provider_key(device: &Address) -> Vec<u8> {
    module_key(Compute::ID, PROVIDER, &[&device.0])
}

pub fn job_key(job: u64) -> Vec<u8> {
    module_key(Compute::ID, JOB, &[&job.to_be_bytes()])
}

pub fn task_key(job: u64, task: u32) -> Vec<u8> {
    module_key(
        Compute::ID,
        TASK,
        &[&job.to_be_bytes(), &task.to_be_bytes()],
    )
}

/// Prefix of a job's task records.
pub fn task_prefix(job: u64) -> Vec<u8> {
    module_key(Compute::ID, TASK, &[&job.to_be_bytes()])
}

/// Index of the slots a provider held: (device, job, task).
pub fn provider_task_key(device: &Address, job: u64, task: u32) -> Vec<u8> {
    module_key(
        Compute::ID,
        PROVIDER_TASK,
        &[&device.0, &job.to_be_bytes(), &task.to_be_bytes()],
    )
}

pub fn provider_task_prefix(device: &Address) -> Vec<u8> {
    module_key(Compute::ID, PROVIDER_TASK, &[&device.0])
}

pub fn entropy_key(height: u64) -> Vec<u8> {
    module_key(Compute::ID, ENTROPY, &[&height.to_be_bytes()])
}

pub fn challenge_key(epoch: u64, device: &Address) -> Vec<u8> {
    module_key(Compute::ID, CHALLENGE, &[&epoch.to_be_bytes(), &device.0])
}

/// The challenge answers of `epoch` (from, to).
pub fn challenge_range(epoch: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Compute::ID, CHALLENGE, &[&epoch.to_be_bytes()]),
        module_key(Compute::ID, CHALLENGE, &[&(epoch + 1).to_be_bytes()]),
    )
}

pub fn totals_key() -> Vec<u8> {
    module_key(Compute::ID, TOTALS, &[])
}

pub fn activity_key(epoch: u64) -> Vec<u8> {
    module_key(Compute::ID, ACTIVITY, &[&epoch.to_be_bytes()])
}

pub fn next_job_key() -> Vec<u8> {
    module_key(Compute::ID, NEXT_JOB, &[])
}

/// Read access to compute records, in the executing state or a store snapshot.
pub trait ComputeView {
    fn provider(&self, device: &Address) -> Option<Provider>;
    fn job(&self, job: u64) -> Option<Job>;
    /// A task's record (`None`: never claimed).
    fn task(&self, job: u64, task: u32) -> Option<Task>;
    /// A job's claimed tasks in task order, from `from`, at most `limit`.
    fn tasks(&self, job: u64, from: u32, limit: usize) -> Vec<(u32, Task)>;
    /// The (job, task) slots a provider held, oldest job first, at most `limit`.
    fn provider_tasks(&self, device: &Address, limit: usize) -> Vec<(u64, u32)>;
    /// Jobs from `from` in id order, at most `limit`.
    fn jobs(&self, from: u64, limit: usize) -> Vec<(u64, Job)>;
    /// The id the next job will get.
    fn next_job_id(&self) -> u64;
    fn entropy(&self, height: u64) -> Option<Hash>;
    /// The benchmark a provider proved in `epoch`'s challenge.
    fn challenge(&self, epoch: u64, device: &Address) -> Option<u64>;
    fn totals(&self) -> ComputeTotals;
    fn activity(&self, epoch: u64) -> EpochActivity;
}

impl<R: StateRead> ComputeView for R {
    fn provider(&self, device: &Address) -> Option<Provider> {
        self.get(&provider_key(device))
    }

    fn job(&self, job: u64) -> Option<Job> {
        self.get(&job_key(job))
    }

    fn task(&self, job: u64, task: u32) -> Option<Task> {
        self.get(&task_key(job, task))
    }

    fn tasks(&self, job: u64, from: u32, limit: usize) -> Vec<(u32, Task)> {
        let start = task_key(job, from);
        let end = task_prefix(job + 1);
        self.scan(&start, &end, limit)
            .into_iter()
            .map(|(k, v)| {
                let task = u32::from_be_bytes(k[k.len() - 4..].try_into().expect("4 bytes"));
                (task, Task::from_bytes(&v).expect("the ledger wrote it"))
            })
            .collect()
    }

    fn provider_tasks(&self, device: &Address, limit: usize) -> Vec<(u64, u32)> {
        self.scan_prefix(&provider_task_prefix(device), limit)
            .into_iter()
            .map(|(k, _)| {
                let n = k.len();
                let job = u64::from_be_bytes(k[n - 12..n - 4].try_into().expect("8 bytes"));
                let task = u32::from_be_bytes(k[n - 4..].try_into().expect("4 bytes"));
                (job, task)
            })
            .collect()
    }

    fn jobs(&self, from: u64, limit: usize) -> Vec<(u64, Job)> {
        let start = job_key(from);
        let end = module_key(Compute::ID, JOB + 1, &[]);
        self.scan(&start, &end, limit)
            .into_iter()
            .map(|(k, v)| {
                let id = u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes"));
                (id, Job::from_bytes(&v).expect("the ledger wrote it"))
            })
            .collect()
    }

    fn next_job_id(&self) -> u64 {
        self.get(&next_job_key()).unwrap_or(0)
    }

    fn entropy(&self, height: u64) -> Option<Hash> {
        self.get(&entropy_key(height))
    }

    fn challenge(&self, epoch: u64, device: &Address) -> Option<u64> {
        self.get(&challenge_key(epoch, device))
    }

    fn totals(&self) -> ComputeTotals {
        self.get(&totals_key()).unwrap_or_default()
    }

    fn activity(&self, epoch: u64) -> EpochActivity {
        self.get(&activity_key(epoch)).unwrap_or_default()
    }
}

/// The devices whose challenge answers `epoch` holds, with their proven benchmark.
pub fn challenge_answers<R: StateRead>(state: &R, epoch: u64) -> Vec<(Address, u64)> {
    let (from, to) = challenge_range(epoch);
    state
        .scan(&from, &to, usize::MAX)
        .into_iter()
        .map(|(k, v)| {
            (
                address_suffix(&k),
                u64::from_bytes(&v).expect("the ledger wrote it"),
            )
        })
        .collect()
}

impl Encode for Role {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self {
            Role::Primary => 0,
            Role::Check => 1,
            Role::Referee => 2,
        });
    }
}

impl Decode for Role {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(Role::Primary),
            1 => Ok(Role::Check),
            2 => Ok(Role::Referee),
            tag => Err(DecodeError::InvalidTag { what: "role", tag }),
        }
    }
}

struct_codec!(TrackEvent {
    height: u64,
    job: u64,
    task: u32,
    fate: SlotFate,
});
struct_codec!(TrackRecord {
    verified: u64,
    failed: u64,
    abandoned: u64,
    rejected: u64,
    earned: u128,
    slashed: u128,
    last: Option<TrackEvent>,
});
struct_codec!(Provider {
    owner: Address,
    class: ProcessorClass,
    benchmark: u64,
    stake: u128,
    bonded: u128,
    stake_cost: Amount,
    proven_epoch: Option<u64>,
    retired: bool,
    record: TrackRecord,
});
struct_codec!(Job {
    requester: Address,
    spec_hash: Hash,
    tasks: u32,
    unit: Unit,
    units_per_task: u32,
    price_per_unit: u128,
    posted_height: u64,
    deadline_height: u64,
    min_tier: u8,
    mode: VerifyMode,
    canary_commitment: Option<Hash>,
    canaries: Option<Vec<Canary>>,
    escrow: u128,
    escrow_cost: Amount,
    paid: u128,
    refunded: u128,
    settled: u32,
    delivered: u32,
    closed: bool,
    caught: Vec<Address>,
    disputed: Vec<Address>,
});
struct_codec!(Slot {
    device: Address,
    owner: Address,
    role: Role,
    claimed_height: u64,
    bond: u128,
    commitment: Option<Hash>,
    tag: Option<Hash>,
    committed_height: Option<u64>,
    result: Option<Hash>,
    revealed_height: Option<u64>,
    fate: SlotFate,
});
struct_codec!(Task {
    slots: Vec<Slot>,
    referees_called: Option<u64>,
    rejections: u8,
    outcome: Option<TaskOutcome>,
});
struct_codec!(ComputeTotals {
    escrowed: u128,
    paid: u128,
    refunded: u128,
    staked: u128,
    unstaked: u128,
    slashed: u128,
    fees: u128,
    jobs: u64,
});
struct_codec!(EpochActivity {
    jobs_posted: u64,
    results_paid: u64,
    results_slashed: u64,
    claims_abandoned: u64,
    credits_paid: u128,
});
