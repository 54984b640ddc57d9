//! How a task's slots end: which slots a task needs, when reveals open, the spot-check pick,
//! the majority verdict with its referee round, canary and approval verdicts, timeouts, and the
//! money each fate moves (payment from escrow, bond released or forfeited).
//!
//! Every function here runs after its action's checks passed: it only writes.

use std::collections::BTreeMap;

use crate::crypto::{Address, Hash};
use crate::module::BlockContext;
use crate::services::demand::hold::{self, Held};
use crate::services::demand::records::cost_share;
use crate::state::State;

use super::actions::{VerifyMode, referees_for};
use super::fate::{SlotFate, TaskOutcome};
use super::params::ComputeParams;
use super::records::{
    ComputeTotals, ComputeView, EpochActivity, Job, Role, Slot, Task, TrackEvent, activity_key,
    provider_key, totals_key,
};

/// Whether spot-check mode re-runs `task`: picked from the hash of the block holding the
/// primary's commitment, which nobody knew when committing.
pub fn spot_selected(entropy: &Hash, job: u64, task: u32, rate_bps: u16) -> bool {
    let h = Hash::tagged(
        "depin/compute/spot/v1",
        &[&entropy.0, &job.to_le_bytes(), &task.to_le_bytes()],
    );
    u16::from_le_bytes([h.0[0], h.0[1]]) % 10_000 < rate_bps
}

/// The spot-check verdict of a task: `Some(true)` if the active primary's commitment block
/// picked it, `None` while that block's hash is not known yet.
pub fn check_picked(
    state: &State,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    height: u64,
) -> Option<bool> {
    let VerifyMode::SpotCheck { rate_bps } = job.mode else {
        return Some(false);
    };
    let primary = task
        .slots
        .iter()
        .find(|s| s.active() && s.role == Role::Primary)?;
    let at = primary.committed_height.filter(|h| *h < height)?;
    let entropy = state.entropy(at)?;
    Some(spot_selected(&entropy, job_id, task_idx, rate_bps))
}

/// Slots of each role the task needs now.
pub fn wanted(
    state: &State,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    height: u64,
) -> [u8; 3] {
    let replicas = job.mode.replicas();
    let check = u8::from(check_picked(state, job_id, job, task_idx, task, height) == Some(true));
    let referees = if task.referees_called.is_some() {
        referees_for(replicas + check)
    } else {
        0
    };
    [replicas, check, referees]
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Primary => 0,
        Role::Check => 1,
        Role::Referee => 2,
    }
}

/// The role of the next slot a claim may open, if any.
pub fn next_role(
    state: &State,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    height: u64,
) -> Option<Role> {
    let want = wanted(state, job_id, job, task_idx, task, height);
    let mut have = [0u8; 3];
    for s in task.slots.iter().filter(|s| s.active()) {
        have[role_index(s.role)] += 1;
    }
    [Role::Primary, Role::Check, Role::Referee]
        .into_iter()
        .find(|r| have[role_index(*r)] < want[role_index(*r)])
}

/// The height from which results may be revealed: every slot the task needs is taken and
/// committed, all in earlier blocks. `None`: not open.
pub fn reveals_open(
    state: &State,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    height: u64,
) -> Option<u64> {
    if next_role(state, job_id, job, task_idx, task, height).is_some() {
        return None;
    }
    // A spot-check that may still be picked keeps reveals shut until it is decided.
    check_picked(state, job_id, job, task_idx, task, height)?;
    let mut open = 0;
    for s in task.slots.iter().filter(|s| s.active()) {
        let at = s.committed_height?;
        open = open.max(at + 1);
    }
    (open <= height && open > 0).then_some(open)
}

/// What a fate did to the provider's credits, recorded for the conservation checks.
fn bump_totals(state: &mut State, f: impl FnOnce(&mut ComputeTotals)) {
    let mut t = state.totals();
    f(&mut t);
    state.put(totals_key(), &t);
}

/// Counts this epoch's activity.
pub fn bump_activity(state: &mut State, ctx: BlockContext, f: impl FnOnce(&mut EpochActivity)) {
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    let mut a = state.activity(epoch);
    f(&mut a);
    state.put(activity_key(epoch), &a);
}

#[allow(clippy::too_many_arguments)]
/// Ends a slot with `fate`: pays it from the job's escrow, releases its bond or forfeits all or
/// part of it, and records the event in the provider's track record.
pub fn finish_slot(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    slot: &mut Slot,
    fate: SlotFate,
) {
    debug_assert!(slot.active(), "a slot ends once");
    let mut provider = state
        .provider(&slot.device)
        .expect("a slot's provider keeps its record");
    provider.bonded = provider.bonded.checked_sub(slot.bond).expect("bonded");
    let forfeit = match fate {
        SlotFate::WrongResult | SlotFate::CanaryFailed | SlotFate::NotRevealed => slot.bond,
        SlotFate::Abandoned => slot.bond * u128::from(p.abandon_penalty_bps) / 10_000,
        _ => 0,
    };
    let proven_wrong = match fate {
        SlotFate::WrongResult => Some("depin/compute/wrong-result/v1"),
        SlotFate::CanaryFailed => Some("depin/compute/canary-failed/v1"),
        _ => None,
    };
    if let Some(tag) = proven_wrong
        && let Some(d) = crate::services::devices::DevicesView::device_entry(&*state, &slot.device)
    {
        // A result proven wrong (outvoted after referees, or differing from a canary's known
        // answer) also costs its owner's stake, by the governance rule (nothing on a network
        // without governance). The evidence names the slot, so each is slashed once.
        let evidence = Hash::tagged(
            tag,
            &[
                &job_id.to_be_bytes(),
                &task_idx.to_be_bytes(),
                &slot.device.0,
            ],
        );
        crate::services::governance::slash_account(
            state,
            &d.owner,
            crate::services::governance::SlashRule::ComputeResult,
            evidence,
            ctx.height,
        );
    }
    if forfeit > 0 {
        // Forfeited credits are burned: their cost basis goes with them.
        let cost = cost_share(provider.stake_cost, forfeit, provider.stake);
        provider.stake -= forfeit;
        provider.stake_cost = provider.stake_cost.checked_sub(cost).expect("a share");
        provider.record.slashed += forfeit;
        bump_totals(state, |t| t.slashed += forfeit);
    }
    match fate {
        SlotFate::Paid => {
            let pay = job.task_payment();
            let cost = cost_share(job.escrow_cost, pay, job.escrow);
            job.escrow = job
                .escrow
                .checked_sub(pay)
                .expect("escrow covers every execution");
            job.escrow_cost = job.escrow_cost.checked_sub(cost).expect("a share");
            job.paid += pay;
            // The work fee is burned with its share of the cost basis; the rest is paid service.
            let fee = pay * u128::from(p.work_fee_bps) / 10_000;
            let fee_cost = cost_share(cost, fee, pay);
            let earned = pay - fee;
            provider.record.verified += 1;
            provider.record.earned += earned;
            hold::release(
                state,
                &slot.device,
                Held {
                    credits: earned,
                    cost: cost.checked_sub(fee_cost).expect("a share"),
                },
                ctx,
            );
            bump_totals(state, |t| {
                t.paid += earned;
                t.fees += fee;
            });
            bump_activity(state, ctx, |a| {
                a.results_paid += 1;
                a.credits_paid += earned;
            });
        }
        SlotFate::WrongResult | SlotFate::CanaryFailed | SlotFate::NotRevealed => {
            provider.record.failed += 1;
            bump_activity(state, ctx, |a| a.results_slashed += 1);
        }
        SlotFate::Abandoned => {
            provider.record.abandoned += 1;
            bump_activity(state, ctx, |a| a.claims_abandoned += 1);
        }
        SlotFate::Rejected => provider.record.rejected += 1,
        SlotFate::Pending | SlotFate::Released | SlotFate::Withheld => {}
    }
    provider.record.last = Some(TrackEvent {
        height: ctx.height,
        job: job_id,
        task: task_idx,
        fate,
    });
    state.put(provider_key(&slot.device), &provider);
    slot.fate = fate;
}

/// Marks a task settled with `outcome`.
pub fn settle_task(job: &mut Job, task: &mut Task, outcome: TaskOutcome) {
    debug_assert!(task.outcome.is_none());
    task.outcome = Some(outcome);
    job.settled += 1;
    if outcome == TaskOutcome::Verified {
        job.delivered += 1;
    }
}

/// Redundant and spot-check modes: once every slot the task needs has revealed, pays a
/// unanimous result; on a disagreement calls referees first, then pays the strict majority and
/// slashes the rest, or, without one, releases everybody and refunds.
///
/// `withheld`: a slot was just forfeited for withholding its reveal; the results already
/// revealed then decide alone (re-opening the slot would let a newcomer copy them).
#[allow(clippy::too_many_arguments)]
pub fn resolve_majority(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    task: &mut Task,
    withheld: bool,
) {
    let complete =
        withheld || reveals_open(state, job_id, job, task_idx, task, ctx.height + 1).is_some();
    let mut active = task.slots.iter().filter(|s| s.active()).peekable();
    if !complete
        || active.peek().is_none()
        || task.slots.iter().any(|s| s.active() && s.result.is_none())
    {
        return;
    }
    let mut votes: BTreeMap<Hash, u32> = BTreeMap::new();
    let mut n = 0u32;
    for s in task.slots.iter().filter(|s| s.active()) {
        *votes.entry(s.result.expect("revealed")).or_default() += 1;
        n += 1;
    }
    // A dissenter is never outvoted without a second opinion: different results have different
    // tags, and differing tags called referees at commit time, before anything was revealed.
    debug_assert!(votes.len() == 1 || task.referees_called.is_some());
    let winner = votes.iter().find(|(_, c)| **c * 2 > n).map(|(h, _)| *h);
    for slot in task.slots.iter_mut().filter(|s| s.active()) {
        let fate = match winner {
            Some(w) if slot.result == Some(w) => SlotFate::Paid,
            Some(_) => SlotFate::WrongResult,
            None => SlotFate::Released,
        };
        finish_slot(state, p, ctx, job_id, job, task_idx, slot, fate);
    }
    let outcome = if winner.is_some() {
        TaskOutcome::Verified
    } else {
        TaskOutcome::NoMajority
    };
    settle_task(job, task, outcome);
}

/// Canary and approval modes: the verdict on a revealed single result (`approve`: the
/// requester's approval, or its timeout).
///
/// A result that differs from a canary's committed answer is not slashed on the requester's
/// word: the first time, referees are called to re-run the task (assigned from the entropy of
/// this block, after both the result and the answer were committed) and the provider's other
/// results of the job wait; once the referees have revealed, [`resolve_canary`] decides.
pub fn judge_single(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    task: &mut Task,
) {
    let Some(i) = task
        .slots
        .iter()
        .position(|s| s.active() && s.role == Role::Primary && s.result.is_some())
    else {
        return;
    };
    let owner = task.slots[i].owner;
    let canary = job
        .canaries
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.task == task_idx).copied());
    let (fate, outcome) = match canary {
        _ if job.caught.contains(&owner) => (SlotFate::Withheld, TaskOutcome::Withheld),
        Some(c) if Some(c.result) != task.slots[i].result => {
            if task.referees_called.is_none() {
                task.referees_called = Some(ctx.height);
                if !job.disputed.contains(&owner) {
                    job.disputed.push(owner);
                }
            } else {
                resolve_canary(state, p, ctx, job_id, job, task_idx, task, &c.result, false);
            }
            return;
        }
        // Another result of an owner whose canary is being re-run waits for the verdict.
        _ if job.disputed.contains(&owner) => return,
        _ => (SlotFate::Paid, TaskOutcome::Verified),
    };
    finish_slot(
        state,
        p,
        ctx,
        job_id,
        job,
        task_idx,
        &mut task.slots[i],
        fate,
    );
    settle_task(job, task, outcome);
}

/// A disputed canary once its referees have revealed (or a referee's withheld reveal was just
/// forfeited: `withheld`): the strict majority of the provider and the referees decides.
/// - it is the provider's result: the requester's answer was wrong, the provider is paid and
///   not slashed (`canary_disproved`), and the referees with it are paid from the escrow;
/// - it is the requester's answer: the provider is caught (`canary_failed`: bond forfeited,
///   its owner's stake slashed, its other results of the job withheld);
/// - it is a third result: the provider's result is outvoted (`wrong_result`);
/// - no strict majority: nobody is paid or slashed (`no_majority`).
///
/// Referees outside the majority forfeit their bonds, as in a redundant task's referee round.
#[allow(clippy::too_many_arguments)]
pub fn resolve_canary(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    task: &mut Task,
    answer: &Hash,
    withheld: bool,
) {
    let complete =
        withheld || reveals_open(state, job_id, job, task_idx, task, ctx.height + 1).is_some();
    if !complete
        || task.outcome.is_some()
        || task.slots.iter().any(|s| s.active() && s.result.is_none())
    {
        return;
    }
    let Some(primary) = task
        .slots
        .iter()
        .find(|s| s.active() && s.role == Role::Primary)
        .map(|s| (s.owner, s.result))
    else {
        return;
    };
    let mut votes: BTreeMap<Hash, u32> = BTreeMap::new();
    let mut n = 0u32;
    for s in task.slots.iter().filter(|s| s.active()) {
        *votes.entry(s.result.expect("revealed")).or_default() += 1;
        n += 1;
    }
    let winner = votes.iter().find(|(_, c)| **c * 2 > n).map(|(h, _)| *h);
    let (owner, result) = primary;
    let caught = winner.is_some() && winner == Some(*answer);
    for slot in task.slots.iter_mut().filter(|s| s.active()) {
        let fate = match winner {
            Some(w) if slot.result == Some(w) => SlotFate::Paid,
            Some(_) if slot.role == Role::Primary && caught => SlotFate::CanaryFailed,
            Some(_) => SlotFate::WrongResult,
            None => SlotFate::Released,
        };
        finish_slot(state, p, ctx, job_id, job, task_idx, slot, fate);
    }
    job.disputed.retain(|o| *o != owner);
    if caught && !job.caught.contains(&owner) {
        job.caught.push(owner);
    }
    let outcome = match winner {
        Some(w) if Some(w) == result => TaskOutcome::CanaryDisproved,
        Some(_) => TaskOutcome::Failed,
        None => TaskOutcome::NoMajority,
    };
    settle_task(job, task, outcome);
}

/// Applies every timeout that has passed on an unsettled task at `ctx.height`: expired claims
/// are abandoned, results withheld past the reveal timeout forfeited, and single results left
/// unjudged past the approval timeout judged. Returns whether anything changed.
pub fn apply_timeouts(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    task: &mut Task,
) -> bool {
    let height = ctx.height;
    let mut changed = false;
    let mut withheld = false;
    let open = reveals_open(state, job_id, job, task_idx, task, height);
    for slot in task.slots.iter_mut().filter(|s| s.active()) {
        let fate =
            if slot.commitment.is_none() && height > slot.claimed_height + p.claim_timeout_blocks {
                SlotFate::Abandoned
            } else if slot.commitment.is_some()
                && slot.result.is_none()
                && open.is_some_and(|o| height > o + p.reveal_timeout_blocks)
            {
                withheld = true;
                SlotFate::NotRevealed
            } else {
                continue;
            };
        finish_slot(state, p, ctx, job_id, job, task_idx, slot, fate);
        changed = true;
    }
    match job.mode {
        VerifyMode::Canary if withheld && task.referees_called.is_some() => {
            // A referee withheld its reveal: the results revealed decide.
            if let Some(c) = job
                .canaries
                .as_ref()
                .and_then(|c| c.iter().find(|c| c.task == task_idx).copied())
            {
                resolve_canary(state, p, ctx, job_id, job, task_idx, task, &c.result, true);
            }
        }
        VerifyMode::Approval | VerifyMode::Canary => {
            let due = task.slots.iter().any(|s| {
                s.active()
                    && s.revealed_height
                        .is_some_and(|r| height > r + p.approval_timeout_blocks)
            });
            if due {
                judge_single(state, p, ctx, job_id, job, task_idx, task);
                changed = true;
            }
        }
        VerifyMode::Redundant { .. } | VerifyMode::SpotCheck { .. } => {
            if withheld {
                resolve_majority(state, p, ctx, job_id, job, task_idx, task, true);
            }
        }
    }
    changed
}

/// Ends an unsettled task at the job's close: timeouts first, then results still waiting for a
/// verdict in approval and canary modes are approved (the requester had until the deadline),
/// and every other slot is released without a verdict.
pub fn close_task(
    state: &mut State,
    p: &ComputeParams,
    ctx: BlockContext,
    job_id: u64,
    job: &mut Job,
    task_idx: u32,
    task: &mut Task,
) {
    apply_timeouts(state, p, ctx, job_id, job, task_idx, task);
    if task.outcome.is_some() {
        return;
    }
    if matches!(job.mode, VerifyMode::Approval | VerifyMode::Canary) {
        judge_single(state, p, ctx, job_id, job, task_idx, task);
        if task.outcome.is_some() {
            return;
        }
    }
    let check_missing = check_picked(state, job_id, job, task_idx, task, ctx.height) == Some(true)
        && !task
            .slots
            .iter()
            .any(|s| s.active() && s.role == Role::Check && s.commitment.is_some());
    for slot in task.slots.iter_mut().filter(|s| s.active()) {
        finish_slot(
            state,
            p,
            ctx,
            job_id,
            job,
            task_idx,
            slot,
            SlotFate::Released,
        );
    }
    let outcome = if check_missing {
        TaskOutcome::CheckUnavailable
    } else {
        TaskOutcome::Expired
    };
    settle_task(job, task, outcome);
}

/// Whether `owner` holds any slot (active or ended) of the task.
pub fn owner_in_task(task: &Task, owner: &Address) -> bool {
    task.slots.iter().any(|s| s.owner == *owner)
}

/// Providers looked at, from the assignment's point in the provider table, for one that may
/// take a verifying slot (and as many again from the table's start, wrapping around).
pub const ASSIGN_SCAN: usize = 16;

/// Where and when a verifying slot opened: every replica after a redundant task's first, a
/// spot-check and a referee is assigned by the ledger, not taken by whoever claims first, so a
/// cheater cannot place its own second identity as its checker. `None`: the slot is open to all
/// (a task's first replica). `same_role`: active slots of the role before this one.
pub fn slot_opening(job: &Job, task: &Task, role: Role, same_role: u32) -> Option<(u64, u32)> {
    match role {
        Role::Primary if same_role == 0 => None,
        // Redundant replicas open with the job.
        Role::Primary => Some((job.posted_height + 1, same_role)),
        Role::Check => task
            .slots
            .iter()
            .find(|s| s.active() && s.role == Role::Primary)
            .and_then(|s| s.committed_height)
            .map(|h| (h + 1, 100 + same_role)),
        Role::Referee => task.referees_called.map(|h| (h + 1, 200 + same_role)),
    }
}

/// The provider the ledger assigns a verifying slot to: the first eligible provider at or after
/// a point drawn from the entropy of the block before the slot opened (wrapping round the
/// table). Eligible: registered and usable, not the requester's, not of an owner already in the
/// task, at the job's tier, with free stake for the bond.
#[allow(clippy::too_many_arguments)]
pub fn assigned_provider(
    state: &State,
    p: &ComputeParams,
    job_id: u64,
    job: &Job,
    task_idx: u32,
    task: &Task,
    opened_at: u64,
    slot_number: u32,
) -> Option<Address> {
    use crate::module::Module;
    use crate::services::devices::DevicesView;
    use crate::state::StateRead;
    let entropy = state.entropy(opened_at.checked_sub(1)?)?;
    let point = Hash::tagged(
        "depin/compute/assign/v1",
        &[
            &entropy.0,
            &job_id.to_le_bytes(),
            &task_idx.to_le_bytes(),
            &slot_number.to_le_bytes(),
        ],
    );
    let table_start = super::records::provider_key(&Address([0; 32]));
    let table_end = crate::module::module_key(super::Compute::ID, 1, &[]);
    let from_point = super::records::provider_key(&Address(point.0));
    let epoch = (opened_at.max(1) - 1) / state.params().epoch_length_blocks;
    let bond = job.task_payment() * u128::from(p.bond_multiple);
    let candidates = state
        .scan(&from_point, &table_end, ASSIGN_SCAN)
        .into_iter()
        .chain(state.scan(&table_start, &from_point, ASSIGN_SCAN));
    for (key, value) in candidates {
        let device = crate::module::address_suffix(&key);
        let provider: super::records::Provider =
            crate::codec::Decode::from_bytes(&value).expect("the ledger wrote it");
        let Some(entry) = state.device_entry(&device) else {
            continue;
        };
        if entry.module != super::Compute::ID
            || state.is_denied(&device)
            || entry.owner == job.requester
            || owner_in_task(task, &entry.owner)
            || super::verify::proven_tier(p, &provider, epoch) < job.min_tier
            || provider.stake.saturating_sub(provider.bonded) < bond
        {
            continue;
        }
        return Some(device);
    }
    None
}
