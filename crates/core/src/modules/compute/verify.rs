//! Every check of the compute module, and the state change each action makes once it passes.
//!
//! Each handler checks everything before it writes anything, so a refused action leaves the
//! state as it was (apart from the signer's nonce, which the executor has already used up).

use std::sync::Arc;

use crate::amount::Amount;
use crate::crypto::Address;
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::demand::Demand;
use crate::services::demand::hold::{self, Held};
use crate::services::devices::{self, DeviceEntry};
use crate::services::fees::{self, FeeKind};
use crate::state::State;

use super::Compute;
use super::actions::{
    AddStake, AnswerChallenge, ClaimTask, ClaimTasks, CloseJob, CommitResult, CommitResults,
    JudgeTasks, PostJob, RegisterProvider, RevealCanaries, RevealResult, RevealResults, SettleTask,
    TaskItem, VerifyMode, WithdrawStake, canary_commitment, challenge_digest, challenge_target,
    result_commitment, result_tag,
};
use super::fate::{SlotFate, TaskOutcome};
use super::params::{
    CHALLENGE_NONCES, ComputeParams, MAX_APPROVE_BATCH, MAX_BENCHMARK, MAX_CANARIES,
    MAX_REJECTIONS, MAX_REPLICAS, MAX_TASK_BATCH, MAX_TASKS_PER_JOB, MAX_TIER, MIN_REPLICAS,
};
use super::records::{
    ComputeView, Job, Provider, Role, Slot, Task, TrackRecord, challenge_key, job_key,
    next_job_key, provider_key, provider_task_key, task_key, totals_key,
};
use super::reject::ComputeRejection as R;
use super::settle::{
    apply_timeouts, assigned_provider, bump_activity, close_task, finish_slot, judge_single,
    next_role, owner_in_task, resolve_majority, reveals_open, settle_task, slot_opening,
};

fn params(state: &State) -> Result<Arc<ComputeParams>, Rejection> {
    state
        .params()
        .modules
        .compute
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: Compute::ID,
        })
}

fn onboard_fee_credits(state: &State) -> u128 {
    state
        .params()
        .modules
        .demand
        .as_ref()
        .map_or(0, |d| u128::from(d.onboard_fee_credits))
}

/// Stake a benchmark needs.
fn stake_needed(p: &ComputeParams, benchmark: u64) -> u128 {
    u128::from(benchmark) * u128::from(p.stake_per_score_credits)
}

/// A compute provider the registry still lists (not denied), with its record.
fn provider_device(state: &State, device: &Address) -> Result<(DeviceEntry, Provider), Rejection> {
    let entry = devices::usable(state, device)?;
    let provider = match state.provider(device) {
        Some(p) if entry.module == Compute::ID => p,
        _ => return Err(R::UnknownProvider { device: *device }.into()),
    };
    Ok((entry, provider))
}

/// The tier a provider may claim at: its benchmark's, if it answered the capacity challenge
/// this epoch or the last; 0 otherwise.
pub fn proven_tier(p: &ComputeParams, provider: &Provider, epoch: u64) -> u8 {
    match provider.proven_epoch {
        Some(e) if e + 1 >= epoch => p.tier_of(provider.benchmark),
        _ => 0,
    }
}

/// Registers a compute provider to `owner`, staking credits behind its benchmark.
pub fn register(
    state: &mut State,
    owner: &Address,
    a: &RegisterProvider,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    devices::check_new(state, owner, &a.device, &a.device_signature)?;
    let min = p.tier_min_benchmark[0];
    if a.benchmark < min || a.benchmark > MAX_BENCHMARK {
        return Err(R::BenchmarkOutOfRange {
            benchmark: a.benchmark,
            min,
            max: MAX_BENCHMARK,
        }
        .into());
    }
    let needed = stake_needed(&p, a.benchmark);
    if a.stake < needed {
        return Err(R::StakeTooLow {
            stake: a.stake,
            needed,
        }
        .into());
    }
    // The fee and the stake both come from credits held, so both are checked before either moves.
    let fee = onboard_fee_credits(state);
    let held = hold::own(state, owner);
    let total = a.stake.checked_add(fee).ok_or(R::EscrowOverflow {})?;
    if held < total {
        return Err(R::InsufficientCredits {
            balance: held,
            needed: total,
        }
        .into());
    }
    let fee_plan = fees::plan(state, owner, &[FeeKind::Onboard], Amount::ZERO, ctx)?;
    fees::pay(state, owner, fee_plan, ctx)?;
    let stake_cost = hold::hold(state, owner, a.stake).cost;
    devices::register(state, owner, &a.device, Compute::ID, None, ctx);
    state.put(
        provider_key(&a.device),
        &Provider {
            owner: *owner,
            class: a.class,
            benchmark: a.benchmark,
            stake: a.stake,
            bonded: 0,
            stake_cost,
            proven_epoch: None,
            retired: false,
            record: TrackRecord::default(),
        },
    );
    bump_totals(state, |t| t.staked += a.stake);
    Ok(())
}

fn bump_totals(state: &mut State, f: impl FnOnce(&mut super::records::ComputeTotals)) {
    let mut t = state.totals();
    f(&mut t);
    state.put(totals_key(), &t);
}

/// Adds credits to a provider's stake.
pub fn add_stake(state: &mut State, owner: &Address, a: &AddStake) -> Result<(), Rejection> {
    params(state)?;
    devices::owned(state, owner, &a.device)?;
    let (_, mut provider) = provider_device(state, &a.device)?;
    if a.credits == 0 {
        return Err(R::ZeroCredits {}.into());
    }
    let held = hold::own(state, owner);
    if held < a.credits {
        return Err(R::InsufficientCredits {
            balance: held,
            needed: a.credits,
        }
        .into());
    }
    let stake = provider
        .stake
        .checked_add(a.credits)
        .ok_or(R::EscrowOverflow {})?;
    let cost = hold::hold(state, owner, a.credits).cost;
    provider.stake = stake;
    provider.stake_cost = provider.stake_cost.checked_add(cost).expect("<= supply");
    provider.owner = *owner;
    state.put(provider_key(&a.device), &provider);
    bump_totals(state, |t| t.staked += a.credits);
    Ok(())
}

/// Gives unbonded stake back to the owner's credits (after retirement, to the last owner,
/// all of it once no claim is bonded).
pub fn withdraw_stake(
    state: &mut State,
    signer: &Address,
    a: &WithdrawStake,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut provider = state
        .provider(&a.device)
        .ok_or(R::UnknownProvider { device: a.device })?;
    let keep = if provider.retired {
        if provider.owner != *signer {
            return Err(devices::DeviceRejection::NotOwner {
                device: a.device,
                owner: provider.owner,
            }
            .into());
        }
        0
    } else {
        devices::owned(state, signer, &a.device)?;
        stake_needed(&p, provider.benchmark)
    };
    if a.credits == 0 {
        return Err(R::ZeroCredits {}.into());
    }
    let free = provider
        .stake
        .saturating_sub(provider.bonded)
        .saturating_sub(keep);
    if free < a.credits {
        return Err(R::InsufficientFreeStake {
            free,
            needed: a.credits,
        }
        .into());
    }
    let cost = crate::services::demand::records::cost_share(
        provider.stake_cost,
        a.credits,
        provider.stake,
    );
    provider.stake -= a.credits;
    provider.stake_cost = provider.stake_cost.checked_sub(cost).expect("a share");
    provider.owner = *signer;
    state.put(provider_key(&a.device), &provider);
    hold::refund(
        state,
        signer,
        Held {
            credits: a.credits,
            cost,
        },
    );
    bump_totals(state, |t| t.unstaked += a.credits);
    Ok(())
}

/// Posts a job and escrows its worst-case cost.
pub fn post_job(
    state: &mut State,
    requester: &Address,
    a: &PostJob,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    if a.tasks == 0 || a.units_per_task == 0 || a.price_per_unit == 0 {
        return Err(R::EmptyJob {}.into());
    }
    if a.tasks > MAX_TASKS_PER_JOB {
        return Err(R::TooManyTasks {
            tasks: a.tasks,
            max: MAX_TASKS_PER_JOB,
        }
        .into());
    }
    match a.mode {
        VerifyMode::Redundant { replicas }
            if !(MIN_REPLICAS..=MAX_REPLICAS).contains(&replicas) =>
        {
            return Err(R::BadReplicas {
                replicas,
                min: MIN_REPLICAS,
                max: MAX_REPLICAS,
            }
            .into());
        }
        VerifyMode::SpotCheck { rate_bps }
            if rate_bps < p.min_spot_check_bps || rate_bps > 10_000 =>
        {
            return Err(R::SpotRateTooLow {
                rate_bps,
                min_bps: p.min_spot_check_bps,
            }
            .into());
        }
        _ => {}
    }
    let canary_mode = a.mode == VerifyMode::Canary;
    if canary_mode != a.canary_commitment.is_some() {
        return Err(R::CanaryCommitmentMismatch { canary_mode }.into());
    }
    let min = ctx.height + p.claim_timeout_blocks + p.reveal_timeout_blocks;
    let max = ctx.height + p.max_job_blocks;
    if a.deadline_height < min || a.deadline_height > max {
        return Err(R::DeadlineOutOfRange {
            deadline: a.deadline_height,
            min,
            max,
        }
        .into());
    }
    if a.min_tier > MAX_TIER {
        return Err(R::TierOutOfRange {
            tier: a.min_tier,
            max: MAX_TIER,
        }
        .into());
    }
    let escrow = u128::from(a.units_per_task)
        .checked_mul(a.price_per_unit)
        .and_then(|pay| pay.checked_mul(u128::from(p.bond_multiple)).map(|_| pay))
        .and_then(|pay| pay.checked_mul(u128::from(a.tasks)))
        .and_then(|x| x.checked_mul(u128::from(a.mode.max_executions())))
        .ok_or(R::EscrowOverflow {})?;
    let held = hold::own(state, requester);
    if held < escrow {
        return Err(R::InsufficientCredits {
            balance: held,
            needed: escrow,
        }
        .into());
    }
    let id = state.next_job_id();
    let escrow_cost = hold::hold(state, requester, escrow).cost;
    state.put(next_job_key(), &(id + 1));
    state.put(
        job_key(id),
        &Job {
            requester: *requester,
            spec_hash: a.spec_hash,
            tasks: a.tasks,
            unit: a.unit,
            units_per_task: a.units_per_task,
            price_per_unit: a.price_per_unit,
            posted_height: ctx.height,
            deadline_height: a.deadline_height,
            min_tier: a.min_tier,
            mode: a.mode,
            canary_commitment: a.canary_commitment,
            canaries: None,
            escrow,
            escrow_cost,
            paid: 0,
            refunded: 0,
            settled: 0,
            delivered: 0,
            closed: false,
            caught: Vec::new(),
            disputed: Vec::new(),
        },
    );
    bump_totals(state, |t| {
        t.escrowed += escrow;
        t.jobs += 1;
    });
    bump_activity(state, ctx, |x| x.jobs_posted += 1);
    Ok(())
}

fn job_of(state: &State, id: u64) -> Result<Job, Rejection> {
    let job = state.job(id).ok_or(R::UnknownJob { job: id })?;
    if job.closed {
        return Err(R::JobClosed { job: id }.into());
    }
    Ok(job)
}

fn running_job(state: &State, id: u64, ctx: BlockContext) -> Result<Job, Rejection> {
    let job = job_of(state, id)?;
    if ctx.height > job.deadline_height {
        return Err(R::PastDeadline {
            deadline: job.deadline_height,
        }
        .into());
    }
    Ok(job)
}

/// A task of the job that is not settled yet (a task never claimed has an empty record).
fn open_task(state: &State, job_id: u64, job: &Job, task: u32) -> Result<Task, Rejection> {
    if task >= job.tasks {
        return Err(R::UnknownTask {
            task,
            tasks: job.tasks,
        }
        .into());
    }
    let t = state.task(job_id, task).unwrap_or_default();
    if t.outcome.is_some() {
        return Err(R::TaskSettled { task }.into());
    }
    Ok(t)
}

fn put_task(state: &mut State, job_id: u64, task_idx: u32, task: &Task) {
    state.put(task_key(job_id, task_idx), task);
}

/// A provider device claims a slot of a task, bonding `bond_multiple` times its payment.
pub fn claim(
    state: &mut State,
    device: &Address,
    a: &ClaimTask,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut who = None;
    let checked = check_claim(state, &p, device, &mut who, a, ctx, false)?;
    let (_, mut provider) = who.expect("a passed check loaded the provider");
    provider.bonded += checked.slot.bond;
    apply_claim(state, &p, ctx, checked);
    state.put(provider_key(device), &provider);
    Ok(())
}

/// Several claims of one device, all or nothing: each item is checked as a single claim sent
/// at that point of the block (its bond counted on top of the earlier items'), then all are
/// written, the provider's record once.
pub fn claim_many(
    state: &mut State,
    device: &Address,
    a: &ClaimTasks,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    check_batch(&a.items)?;
    let mut who = None;
    let mut checked = Vec::with_capacity(a.items.len());
    for (i, item) in a.items.iter().enumerate() {
        let c = check_claim(state, &p, device, &mut who, item, ctx, true)
            .map_err(|r| item_refused(i, r))?;
        // The next item is checked against the free stake this one leaves, as a separate
        // claim would be.
        who.as_mut().expect("loaded by the check").1.bonded += c.slot.bond;
        checked.push(c);
    }
    for c in checked {
        apply_claim(state, &p, ctx, c);
    }
    let (_, provider) = who.expect("a batch has an item");
    state.put(provider_key(device), &provider);
    Ok(())
}

/// A claim that passed its checks: what [`apply_claim`] writes.
struct CheckedClaim {
    job: u64,
    task_idx: u32,
    task: Task,
    /// The expired claim this one replaces.
    expired: Option<usize>,
    slot: Slot,
}

/// Every check of a claim, in the order a single claim makes them; `who` is the device's
/// registry entry and provider record, loaded by the first check that needs them and then kept
/// (in a batch, its `bonded` counts the earlier items). `in_batch`: a verifying slot the ledger assigns is refused
/// (whether this device is the assignee depends on its free stake, which the batch's earlier
/// items change; claimed alone, it is decided on the record as it is then).
#[allow(clippy::too_many_arguments)]
fn check_claim(
    state: &State,
    p: &ComputeParams,
    device: &Address,
    who: &mut Option<(DeviceEntry, Provider)>,
    a: &ClaimTask,
    ctx: BlockContext,
    in_batch: bool,
) -> Result<CheckedClaim, Rejection> {
    let job = running_job(state, a.job, ctx)?;
    let task = open_task(state, a.job, &job, a.task)?;
    if who.is_none() {
        *who = Some(provider_device(state, device)?);
    }
    let (entry, provider) = who.as_ref().expect("just loaded");
    if entry.owner == job.requester {
        return Err(R::OwnJob {}.into());
    }
    let tier = proven_tier(p, provider, ctx.epoch(state.params().epoch_length_blocks));
    if tier < job.min_tier {
        return Err(R::TierTooLow {
            tier,
            min_tier: job.min_tier,
        }
        .into());
    }
    if owner_in_task(&task, &entry.owner) {
        return Err(R::OwnerAlreadyInTask { task: a.task }.into());
    }
    let expired = task.slots.iter().position(|s| {
        s.active()
            && s.commitment.is_none()
            && ctx.height > s.claimed_height + p.claim_timeout_blocks
    });
    let role = match expired {
        Some(i) => task.slots[i].role,
        None => next_role(state, a.job, &job, a.task, &task, ctx.height)
            .ok_or(R::NoOpenSlot { task: a.task })?,
    };
    let before = match expired {
        Some(i) => &task.slots[..i],
        None => &task.slots[..],
    };
    let same_role = before
        .iter()
        .filter(|s| s.active() && s.role == role)
        .count() as u32;
    if let Some((opened, number)) = slot_opening(&job, &task, role, same_role) {
        let open_at = opened + p.claim_timeout_blocks + 1;
        if ctx.height < open_at {
            if in_batch {
                return Err(R::AssignedSlotInBatch { task: a.task }.into());
            }
            if let Some(assigned) =
                assigned_provider(state, p, a.job, &job, a.task, &task, opened, number)
                && assigned != *device
            {
                return Err(R::NotAssigned { assigned, open_at }.into());
            }
        }
    }
    let needed = stake_needed(p, provider.benchmark);
    if provider.stake < needed {
        return Err(R::StakeTooLow {
            stake: provider.stake,
            needed,
        }
        .into());
    }
    let bond = job.task_payment() * u128::from(p.bond_multiple);
    let free = provider.stake.saturating_sub(provider.bonded);
    if free < bond {
        return Err(R::InsufficientFreeStake { free, needed: bond }.into());
    }
    let slot = Slot {
        device: *device,
        owner: entry.owner,
        role,
        claimed_height: ctx.height,
        bond,
        commitment: None,
        tag: None,
        committed_height: None,
        result: None,
        revealed_height: None,
        fate: SlotFate::Pending,
    };
    Ok(CheckedClaim {
        job: a.job,
        task_idx: a.task,
        task,
        expired,
        slot,
    })
}

/// Writes a checked claim: the slot (settling the expired claim it replaces), the provider's
/// task index. The claimant's own record (its bond) is written by the caller.
fn apply_claim(state: &mut State, p: &ComputeParams, ctx: BlockContext, c: CheckedClaim) {
    let CheckedClaim {
        job: job_id,
        task_idx,
        mut task,
        expired,
        slot,
    } = c;
    let device = slot.device;
    if let Some(i) = expired {
        // The abandoned claimant is never the claimant itself, nor of its owner (its owner is
        // not in the task), so the claimant's record the caller holds stays current.
        let mut job = state.job(job_id).expect("checked: the job exists");
        let mut old = std::mem::replace(&mut task.slots[i], slot);
        finish_slot(
            state,
            p,
            ctx,
            job_id,
            &mut job,
            task_idx,
            &mut old,
            SlotFate::Abandoned,
        );
        // The abandoned slot stays in the record (its owner may not claim the task again).
        task.slots.push(old);
        state.put(job_key(job_id), &job);
    } else {
        // A fresh slot leaves the job record as it was: it is not written again.
        task.slots.push(slot);
    }
    state.put(provider_task_key(&device, job_id, task_idx), &ctx.height);
    put_task(state, job_id, task_idx, &task);
}

/// The stateless rules of a batch: 1 to [`MAX_TASK_BATCH`] items, strictly ascending by
/// `(job, task)` (so no task is named twice).
pub fn check_batch<T: TaskItem>(items: &[T]) -> Result<(), Rejection> {
    if items.is_empty() {
        return Err(R::EmptyBatch {}.into());
    }
    if items.len() > MAX_TASK_BATCH {
        return Err(R::TooManyItems {
            count: items.len().min(u32::MAX as usize) as u32,
            max: MAX_TASK_BATCH as u32,
        }
        .into());
    }
    if let Some(i) = items
        .windows(2)
        .position(|w| w[0].job_task() >= w[1].job_task())
    {
        return Err(R::BatchNotAscending {
            index: (i + 1) as u32,
        }
        .into());
    }
    Ok(())
}

/// A batch item's refusal, naming the item (its code and sentence kept).
fn item_refused(index: usize, r: Rejection) -> Rejection {
    R::BatchItemRefused {
        index: index as u32,
        code: r.code().to_string(),
        reason: r.to_string(),
    }
    .into()
}

/// The device's pending slot in the task.
fn my_slot(task: &Task, device: &Address, task_idx: u32) -> Result<usize, Rejection> {
    task.slots
        .iter()
        .position(|s| s.active() && s.device == *device)
        .ok_or(R::NoClaim { task: task_idx }.into())
}

/// A provider commits to its result.
pub fn commit(
    state: &mut State,
    device: &Address,
    a: &CommitResult,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let task = check_commit(state, &p, device, a, ctx)?;
    put_task(state, a.job, a.task, &task);
    Ok(())
}

/// Several commitments of one device, all or nothing. Each item changes only its own task's
/// record and reads no other task, so checking every item first is checking each as if sent
/// alone in turn.
pub fn commit_many(
    state: &mut State,
    device: &Address,
    a: &CommitResults,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    check_batch(&a.items)?;
    let mut tasks = Vec::with_capacity(a.items.len());
    for (i, item) in a.items.iter().enumerate() {
        tasks.push(check_commit(state, &p, device, item, ctx).map_err(|r| item_refused(i, r))?);
    }
    for (item, task) in a.items.iter().zip(tasks) {
        put_task(state, item.job, item.task, &task);
    }
    Ok(())
}

/// Every check of a commitment; the task record with it recorded.
fn check_commit(
    state: &State,
    p: &ComputeParams,
    device: &Address,
    a: &CommitResult,
    ctx: BlockContext,
) -> Result<Task, Rejection> {
    let job = running_job(state, a.job, ctx)?;
    let mut task = open_task(state, a.job, &job, a.task)?;
    let i = my_slot(&task, device, a.task)?;
    let slot = &mut task.slots[i];
    if slot.commitment.is_some() {
        return Err(R::AlreadyCommitted {}.into());
    }
    let expires = slot.claimed_height + p.claim_timeout_blocks;
    if ctx.height > expires {
        return Err(R::ClaimExpired {
            expired_at: expires + 1,
        }
        .into());
    }
    slot.commitment = Some(a.commitment);
    slot.tag = Some(a.tag);
    slot.committed_height = Some(ctx.height);
    // Blind referees: a disagreement shows in the tags, so referees are called now, before any
    // result is revealed (reveals wait for every slot the task needs, referees included).
    if matches!(
        job.mode,
        VerifyMode::Redundant { .. } | VerifyMode::SpotCheck { .. }
    ) && task.referees_called.is_none()
    {
        let mut tags = task
            .slots
            .iter()
            .filter(|s| s.active())
            .filter_map(|s| s.tag);
        let first = tags.next();
        if tags.any(|t| Some(t) != first) {
            task.referees_called = Some(ctx.height);
        }
    }
    Ok(task)
}

/// A provider reveals its committed result; in redundant and spot-check modes the last reveal
/// decides the task.
pub fn reveal(
    state: &mut State,
    device: &Address,
    a: &RevealResult,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let (task, i, mode) = check_reveal(state, device, a, ctx)?;
    apply_reveal(state, &p, ctx, a, task, i, mode);
    Ok(())
}

/// Several reveals of one device, all or nothing. An item's checks read its job's deadline,
/// mode and its own task; an earlier item's verdict changes the job's money and counters and
/// its own task only, so checking every item first is checking each as if sent alone in turn.
pub fn reveal_many(
    state: &mut State,
    device: &Address,
    a: &RevealResults,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    check_batch(&a.items)?;
    let mut checked = Vec::with_capacity(a.items.len());
    for (i, item) in a.items.iter().enumerate() {
        checked.push(check_reveal(state, device, item, ctx).map_err(|r| item_refused(i, r))?);
    }
    for (item, (task, i, mode)) in a.items.iter().zip(checked) {
        apply_reveal(state, &p, ctx, item, task, i, mode);
    }
    Ok(())
}

/// Every check of a reveal; the task record and the device's slot in it.
fn check_reveal(
    state: &State,
    device: &Address,
    a: &RevealResult,
    ctx: BlockContext,
) -> Result<(Task, usize, VerifyMode), Rejection> {
    let job = running_job(state, a.job, ctx)?;
    let task = open_task(state, a.job, &job, a.task)?;
    let i = my_slot(&task, device, a.task)?;
    let slot = &task.slots[i];
    if slot.result.is_some() {
        return Err(R::AlreadyRevealed {}.into());
    }
    let Some(commitment) = slot.commitment else {
        return Err(R::RevealsNotOpen { task: a.task }.into());
    };
    if reveals_open(state, a.job, &job, a.task, &task, ctx.height).is_none() {
        return Err(R::RevealsNotOpen { task: a.task }.into());
    }
    if result_commitment(a.job, a.task, device, &a.result, &a.salt) != commitment
        || slot.tag != Some(result_tag(a.job, a.task, &a.result))
    {
        return Err(R::WrongReveal {}.into());
    }
    Ok((task, i, job.mode))
}

/// Writes a checked reveal and the verdict it brings (the job read now: an earlier item of a
/// batch may have paid from it).
fn apply_reveal(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    a: &RevealResult,
    mut task: Task,
    i: usize,
    mode: VerifyMode,
) {
    let slot = &mut task.slots[i];
    slot.result = Some(a.result);
    slot.revealed_height = Some(ctx.height);
    if matches!(
        mode,
        VerifyMode::Redundant { .. } | VerifyMode::SpotCheck { .. }
    ) {
        let mut job = state.job(a.job).expect("checked");
        resolve_majority(state, p, ctx, a.job, &mut job, a.task, &mut task, false);
        state.put(job_key(a.job), &job);
    } else if mode == VerifyMode::Canary && task.referees_called.is_some() {
        // A referee of a disputed canary revealed: the verdict once all have.
        let mut job = state.job(a.job).expect("checked");
        judge_single(state, p, ctx, a.job, &mut job, a.task, &mut task);
        state.put(job_key(a.job), &job);
    }
    put_task(state, a.job, a.task, &task);
}

/// The requester approves (pays) or rejects (re-opens) revealed results.
pub fn judge(
    state: &mut State,
    requester: &Address,
    a: &JudgeTasks,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut job = job_of(state, a.job)?;
    if job.requester != *requester {
        return Err(R::NotRequester {
            requester: job.requester,
        }
        .into());
    }
    if !matches!(job.mode, VerifyMode::Approval | VerifyMode::Canary) {
        return Err(R::WrongMode {
            mode: job.mode.name().into(),
        }
        .into());
    }
    if a.tasks.len() > MAX_APPROVE_BATCH {
        return Err(R::TooManyItems {
            count: a.tasks.len().min(u32::MAX as usize) as u32,
            max: MAX_APPROVE_BATCH as u32,
        }
        .into());
    }
    if !a.tasks.is_sorted_by(|x, y| x < y) {
        return Err(R::DuplicateItem {}.into());
    }
    let mut loaded = Vec::with_capacity(a.tasks.len());
    for &t in &a.tasks {
        let task = open_task(state, a.job, &job, t)?;
        if !task.slots.iter().any(|s| s.active() && s.result.is_some()) {
            return Err(R::NotJudgeable { task: t }.into());
        }
        loaded.push((t, task));
    }
    for (t, mut task) in loaded {
        if a.approve {
            judge_single(state, &p, ctx, a.job, &mut job, t, &mut task);
        } else {
            let slot = task
                .slots
                .iter_mut()
                .find(|s| s.active() && s.result.is_some())
                .expect("checked");
            finish_slot(state, &p, ctx, a.job, &mut job, t, slot, SlotFate::Rejected);
            task.rejections += 1;
            if task.rejections > MAX_REJECTIONS {
                settle_task(&mut job, &mut task, TaskOutcome::RejectedOut);
            }
        }
        put_task(state, a.job, t, &task);
    }
    state.put(job_key(a.job), &job);
    Ok(())
}

/// The requester reveals its canaries: every revealed result of the job is judged at once
/// (canaries compared, a caught provider's other results withheld).
pub fn reveal_canaries(
    state: &mut State,
    requester: &Address,
    a: &RevealCanaries,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut job = job_of(state, a.job)?;
    if job.requester != *requester {
        return Err(R::NotRequester {
            requester: job.requester,
        }
        .into());
    }
    let Some(commitment) = job.canary_commitment else {
        return Err(R::WrongMode {
            mode: job.mode.name().into(),
        }
        .into());
    };
    if job.canaries.is_some() {
        return Err(R::CanariesAlreadyRevealed {}.into());
    }
    if a.canaries.len() > MAX_CANARIES {
        return Err(R::TooManyItems {
            count: a.canaries.len().min(u32::MAX as usize) as u32,
            max: MAX_CANARIES as u32,
        }
        .into());
    }
    if !a.canaries.is_sorted_by(|x, y| x.task < y.task) {
        return Err(R::DuplicateItem {}.into());
    }
    if let Some(c) = a.canaries.iter().find(|c| c.task >= job.tasks) {
        return Err(R::UnknownTask {
            task: c.task,
            tasks: job.tasks,
        }
        .into());
    }
    if canary_commitment(&a.salt, &a.canaries) != commitment {
        return Err(R::CanariesNotMatching {}.into());
    }
    job.canaries = Some(a.canaries.clone());
    // Canaries first, so a provider caught on one is withheld on all its other results.
    let tasks = state.tasks(a.job, 0, usize::MAX);
    let (canaries, others): (Vec<_>, Vec<_>) = tasks
        .into_iter()
        .partition(|(t, _)| a.canaries.iter().any(|c| c.task == *t));
    for (t, mut task) in canaries.into_iter().chain(others) {
        if task.outcome.is_none() && task.slots.iter().any(|s| s.active() && s.result.is_some()) {
            let is_canary = a.canaries.iter().any(|c| c.task == t);
            let owner_caught = task
                .slots
                .iter()
                .any(|s| s.active() && job.caught.contains(&s.owner));
            if is_canary || owner_caught {
                judge_single(state, &p, ctx, a.job, &mut job, t, &mut task);
                put_task(state, a.job, t, &task);
            }
        }
    }
    state.put(job_key(a.job), &job);
    Ok(())
}

/// Applies the timeouts that passed on one task (anyone may send it).
pub fn settle(state: &mut State, a: &SettleTask, ctx: BlockContext) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut job = job_of(state, a.job)?;
    let mut task = open_task(state, a.job, &job, a.task)?;
    if !timeouts_due(state, &p, a.job, &job, a.task, &task, ctx) {
        return Err(R::NothingToSettle { task: a.task }.into());
    }
    apply_timeouts(state, &p, ctx, a.job, &mut job, a.task, &mut task);
    put_task(state, a.job, a.task, &task);
    state.put(job_key(a.job), &job);
    Ok(())
}

/// Whether any timeout has passed on the task (the check before [`apply_timeouts`] writes).
fn timeouts_due(
    state: &State,
    p: &ComputeParams,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    ctx: BlockContext,
) -> bool {
    let h = ctx.height;
    let open = reveals_open(state, job_id, job, task_idx, task, h);
    task.slots.iter().filter(|s| s.active()).any(|s| {
        (s.commitment.is_none() && h > s.claimed_height + p.claim_timeout_blocks)
            || (s.commitment.is_some()
                && s.result.is_none()
                && open.is_some_and(|o| h > o + p.reveal_timeout_blocks))
            || (matches!(job.mode, VerifyMode::Approval | VerifyMode::Canary)
                && s.revealed_height
                    .is_some_and(|r| h > r + p.approval_timeout_blocks))
    })
}

/// Closes a job: settles every task and refunds the unused escrow.
pub fn close_job(state: &mut State, a: &CloseJob, ctx: BlockContext) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut job = job_of(state, a.job)?;
    let records = state.tasks(a.job, 0, usize::MAX);
    let unsettled = job.tasks - records.iter().filter(|(_, t)| t.outcome.is_some()).count() as u32;
    if ctx.height <= job.deadline_height && unsettled > 0 {
        return Err(R::JobStillRunning {
            deadline: job.deadline_height,
        }
        .into());
    }
    for (t, mut task) in records {
        if task.outcome.is_none() {
            close_task(state, &p, ctx, a.job, &mut job, t, &mut task);
            put_task(state, a.job, t, &task);
        }
    }
    // Tasks nobody claimed settle as expired without a record.
    job.settled = job.tasks;
    let refund = job.escrow;
    hold::refund(
        state,
        &job.requester,
        Held {
            credits: refund,
            cost: job.escrow_cost,
        },
    );
    job.refunded += refund;
    job.escrow = 0;
    job.escrow_cost = Amount::ZERO;
    job.closed = true;
    state.put(job_key(a.job), &job);
    bump_totals(state, |t| t.refunded += refund);
    Ok(())
}

/// A provider answers this epoch's capacity challenge.
pub fn answer_challenge(
    state: &mut State,
    device: &Address,
    a: &AnswerChallenge,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let (_, mut provider) = provider_device(state, device)?;
    let length = state.params().epoch_length_blocks;
    let epoch = ctx.epoch(length);
    if state.challenge(epoch, device).is_some() {
        return Err(R::ChallengeAnswered { epoch }.into());
    }
    let in_window = a.seed_height < ctx.height
        && ctx.height - a.seed_height <= p.challenge_window_blocks
        && a.seed_height > epoch * length;
    let seed =
        state
            .entropy(a.seed_height)
            .filter(|_| in_window)
            .ok_or(R::ChallengeOutOfWindow {
                seed_height: a.seed_height,
                current: ctx.height,
                window: p.challenge_window_blocks,
            })?;
    if a.nonces.len() != CHALLENGE_NONCES {
        return Err(R::WrongNonceCount {
            count: a.nonces.len().min(u32::MAX as usize) as u32,
            expected: CHALLENGE_NONCES as u32,
        }
        .into());
    }
    if !a.nonces.is_sorted_by(|x, y| x < y) {
        return Err(R::NoncesNotAscending {}.into());
    }
    let target = challenge_target(provider.benchmark, p.challenge_hashes_per_score);
    if let Some(i) = a
        .nonces
        .iter()
        .position(|n| challenge_digest(&seed, device, *n) > target)
    {
        return Err(R::NonceAboveTarget { index: i as u32 }.into());
    }
    state.put(challenge_key(epoch, device), &provider.benchmark);
    provider.proven_epoch = Some(epoch);
    state.put(provider_key(device), &provider);
    Ok(())
}

/// The role of a slot, for the API.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Primary => "primary",
        Role::Check => "check",
        Role::Referee => "referee",
    }
}

/// Demand must run: jobs and stake are in credits.
pub fn needs_demand(modules: &[&str]) -> bool {
    modules.contains(&Demand::NAME)
}
