//! Staking: tokens locked in escrow as voting weight and validator backing, unbonding after a
//! period, and slashing of the stake that backs proven misbehaviour (never of downtime, which
//! only jails).
//!
//! Every token moves between an account and [`stake_escrow`], or out of the escrow to the burn
//! or the treasury, so the sum of balances stays the supply.

use crate::amount::Amount;
use crate::crypto::{Address, Hash};
use crate::economics::payout::mul_div_floor;
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::devices::{DevicesView, bond_key};
use crate::state::{State, StateRead};

use super::Governance;
use super::params::{GovernanceParams, SlashTo};
use super::records::{
    Candidacy, GovernanceView, Jail, MAX_UNBONDINGS, SlashRecord, SlashRule, Stake, Totals,
    Unbonding, backed_key, backed_prefix, backing_key, candidacy_count_key, candidacy_key,
    candidates_key, device_vote_key, jail_key, slash_key, slash_log_key, stake_escrow, stake_key,
    totals_key,
};
use super::reject::GovernanceRejection as R;

/// Most devices whose bonds one vote counts (an owner's devices in address order).
pub const MAX_DEVICES_PER_VOTE: usize = 1_000;
/// Most validator candidacies declared at once: the most an election ranks at a boundary.
pub const MAX_CANDIDATES: u32 = 1_000;

fn move_balance(state: &mut State, from: &Address, to: &Address, amount: Amount) {
    let mut f = state.account(from).copied().unwrap_or_default();
    f.balance = f.balance.checked_sub(amount).expect("checked before");
    state.put_account(*from, f);
    let mut t = state.account(to).copied().unwrap_or_default();
    t.balance = t.balance.checked_add(amount).expect("below the supply");
    state.put_account(*to, t);
}

fn put_stake(state: &mut State, owner: &Address, stake: &Stake) {
    state.with_writer(Governance::ID, |s| {
        if stake.amount.is_zero() && stake.unbonding.is_empty() && stake.validator.is_none() {
            s.put_raw(stake_key(owner), None);
        } else {
            s.put(stake_key(owner), stake);
        }
    });
}

fn add_backing(state: &mut State, validator: &Address, delta: Amount, add: bool) {
    state.with_writer(Governance::ID, |s| {
        let old = s.backing_of(validator);
        let new = if add {
            old.checked_add(delta).expect("<= supply")
        } else {
            old.checked_sub(delta)
                .expect("backing includes the staker's bond")
        };
        if new.is_zero() {
            s.put_raw(backing_key(validator), None);
        } else {
            s.put(backing_key(validator), &new);
        }
    });
}

fn set_backed(state: &mut State, validator: &Address, staker: &Address, on: bool) {
    state.with_writer(Governance::ID, |s| {
        s.put_raw(backed_key(validator, staker), on.then(Vec::new));
    });
}

fn update_totals(state: &mut State, f: impl FnOnce(&mut Totals)) {
    let mut t = state.stake_totals();
    f(&mut t);
    state.with_writer(Governance::ID, |s| s.put(totals_key(), &t));
}

/// Locks `amount` of `owner`'s balance as bonded stake; it votes on proposals opened after
/// `ctx`'s block.
pub fn lock(
    state: &mut State,
    owner: &Address,
    amount: Amount,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    if amount.is_zero() {
        return Err(R::ZeroStake {}.into());
    }
    let balance = state.account(owner).map(|a| a.balance).unwrap_or_default();
    if balance < amount {
        return Err(Rejection::InsufficientFunds {
            balance,
            needed: amount,
        });
    }
    let mut stake = state.stake_of(owner);
    let backs = stake.backs(owner);
    stake.amount = stake.amount.checked_add(amount).expect("<= supply");
    stake.since_height = ctx.height;
    move_balance(state, owner, &stake_escrow(), amount);
    put_stake(state, owner, &stake);
    add_backing(state, &backs, amount, true);
    set_backed(state, &backs, owner, true);
    update_totals(state, |t| {
        t.bonded = t.bonded.checked_add(amount).expect("<= supply")
    });
    Ok(())
}

/// Moves `owner`'s backing to `validator` (`None`: itself), which must be a validator or a
/// declared candidate.
pub fn delegate(
    state: &mut State,
    owner: &Address,
    validator: Option<Address>,
) -> Result<(), Rejection> {
    if let Some(v) = validator
        && v != *owner
        && !is_member(state, &v)
        && state.candidacy_of(&v).is_none()
    {
        return Err(R::NotAValidator { validator: v }.into());
    }
    let mut stake = state.stake_of(owner);
    let old = stake.backs(owner);
    stake.validator = validator.filter(|v| v != owner);
    let new = stake.backs(owner);
    if old != new {
        add_backing(state, &old, stake.amount, false);
        set_backed(state, &old, owner, false);
        add_backing(state, &new, stake.amount, true);
        set_backed(state, &new, owner, true);
    }
    put_stake(state, owner, &stake);
    Ok(())
}

/// The stake `who` has bonded to itself (not delegated): what a candidate risks of its own.
pub fn self_bond<S: StateRead>(state: &S, who: &Address) -> Amount {
    let stake = state.stake_of(who);
    if stake.validator.is_none() {
        stake.amount
    } else {
        Amount::ZERO
    }
}

/// `who` declares itself a validator candidate (`on`) or withdraws. A declaration needs a
/// self-bond of at least `min_validator_bond` (and at least one base unit), so filling the
/// [`MAX_CANDIDATES`] places costs locked stake; a withdrawal takes effect at the next
/// election.
pub fn set_candidate(
    state: &mut State,
    who: &Address,
    on: bool,
    p: &GovernanceParams,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let declared = state.candidacy_of(who).is_some();
    let count: u32 = state.get(&candidacy_count_key()).unwrap_or(0);
    if !on {
        if !declared {
            return Err(R::NotACandidate {}.into());
        }
        state.with_writer(Governance::ID, |s| {
            s.put_raw(candidacy_key(who), None);
            s.put(candidacy_count_key(), &(count - 1));
        });
        return Ok(());
    }
    if declared {
        return Err(R::AlreadyCandidate {}.into());
    }
    let bonded = self_bond(&*state, who);
    let needed = p.min_validator_bond.max(Amount(1));
    if bonded < needed {
        return Err(R::SelfBondShort { bonded, needed }.into());
    }
    if count >= MAX_CANDIDATES {
        return Err(R::TooManyCandidates {
            max: MAX_CANDIDATES,
        }
        .into());
    }
    state.with_writer(Governance::ID, |s| {
        s.put(
            candidacy_key(who),
            &Candidacy {
                since_height: ctx.height,
            },
        );
        s.put(candidacy_count_key(), &(count + 1));
    });
    Ok(())
}

/// Whether `who` is in the governed validator set (or, before governance wrote one, the
/// ledger's).
pub fn is_member<S: StateRead>(state: &S, who: &Address) -> bool {
    match state.candidates() {
        Some(c) => c.contains(who),
        None => state.validators().iter().any(|v| v.address == *who),
    }
}

/// Starts unbonding `amount` of `owner`'s bonded stake.
pub fn unbond(
    state: &mut State,
    owner: &Address,
    amount: Amount,
    p: &GovernanceParams,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    if amount.is_zero() {
        return Err(R::ZeroStake {}.into());
    }
    let mut stake = state.stake_of(owner);
    if stake.amount < amount {
        return Err(R::StakeShort {
            staked: stake.amount,
            asked: amount,
        }
        .into());
    }
    if stake.unbonding.len() >= MAX_UNBONDINGS as usize {
        return Err(R::TooManyUnbondings {
            max: MAX_UNBONDINGS,
        }
        .into());
    }
    stake.amount = stake.amount.checked_sub(amount).expect("checked");
    stake.unbonding.push(Unbonding {
        amount,
        release_height: ctx.height.saturating_add(p.unbonding_blocks),
    });
    let backs = stake.backs(owner);
    put_stake(state, owner, &stake);
    add_backing(state, &backs, amount, false);
    update_totals(state, |t| {
        t.bonded = t.bonded.checked_sub(amount).expect("bonded includes it");
        t.unbonding = t.unbonding.checked_add(amount).expect("<= supply");
    });
    Ok(())
}

/// Returns every released unbonding of `owner` to its balance.
pub fn withdraw(
    state: &mut State,
    owner: &Address,
    ctx: BlockContext,
) -> Result<Amount, Rejection> {
    let mut stake = state.stake_of(owner);
    let (released, kept): (Vec<Unbonding>, Vec<Unbonding>) = stake
        .unbonding
        .iter()
        .partition(|u| u.release_height <= ctx.height);
    if released.is_empty() {
        return Err(R::NothingToWithdraw {
            next_release_height: kept.iter().map(|u| u.release_height).min().unwrap_or(0),
        }
        .into());
    }
    let total = released.iter().fold(Amount::ZERO, |a, u| {
        a.checked_add(u.amount).expect("<= supply")
    });
    stake.unbonding = kept;
    move_balance(state, &stake_escrow(), owner, total);
    put_stake(state, owner, &stake);
    update_totals(state, |t| {
        t.unbonding = t
            .unbonding
            .checked_sub(total)
            .expect("unbonding includes it")
    });
    Ok(total)
}

/// `voter`'s weight on a proposal opened at `opened_height`: stake locked before it, plus the
/// bonds of its devices onboarded before it that no other voter counted (with those devices).
pub fn voting_weight<S: StateRead>(
    state: &S,
    voter: &Address,
    opened_height: u64,
    proposal: u64,
) -> (Amount, Vec<Address>) {
    let stake = state.stake_of(voter);
    let mut weight = if stake.since_height < opened_height {
        stake.amount
    } else {
        Amount::ZERO
    };
    let mut devices = Vec::new();
    for device in state.devices_of(voter, MAX_DEVICES_PER_VOTE) {
        let Some(entry) = state.device_entry(&device) else {
            continue;
        };
        if entry.onboarded_height >= opened_height {
            continue;
        }
        let counted_for: Option<Address> = state.get(&device_vote_key(proposal, &device));
        if counted_for.is_some_and(|v| v != *voter) {
            continue;
        }
        let bond: Amount = state.get(&bond_key(&device)).unwrap_or_default();
        if bond.is_zero() {
            continue;
        }
        weight = weight.checked_add(bond).expect("<= supply");
        devices.push(device);
    }
    (weight, devices)
}

/// The weight that could vote on a proposal opened now: every bonded token and device bond.
pub fn eligible_weight(state: &State) -> Amount {
    let bonds = state
        .account(&crate::services::devices::bond_escrow())
        .map(|a| a.balance)
        .unwrap_or_default();
    state
        .stake_totals()
        .bonded
        .checked_add(bonds)
        .expect("<= supply")
}

fn rule_bps(p: &GovernanceParams, rule: SlashRule) -> u32 {
    match rule {
        SlashRule::Equivocation => p.slash_equivocation_bps,
        SlashRule::StorageDeal => p.slash_storage_bps,
        SlashRule::ComputeResult => p.slash_compute_bps,
        SlashRule::DeviceFraud => p.slash_fraud_bps,
    }
}

/// Cuts `bps` of one staker's bonded and unbonding stake; returns what was cut.
fn cut(state: &mut State, staker: &Address, bps: u32) -> Amount {
    let mut stake = state.stake_of(staker);
    let bonded_cut = Amount(mul_div_floor(stake.amount.0, u128::from(bps), 10_000));
    let mut unbonding_cut = Amount::ZERO;
    for u in &mut stake.unbonding {
        let c = Amount(mul_div_floor(u.amount.0, u128::from(bps), 10_000));
        u.amount = u.amount.checked_sub(c).expect("a share of it");
        unbonding_cut = unbonding_cut.checked_add(c).expect("<= supply");
    }
    if bonded_cut.is_zero() && unbonding_cut.is_zero() {
        return Amount::ZERO;
    }
    stake.amount = stake.amount.checked_sub(bonded_cut).expect("a share of it");
    let backs = stake.backs(staker);
    put_stake(state, staker, &stake);
    add_backing(state, &backs, bonded_cut, false);
    let total = bonded_cut.checked_add(unbonding_cut).expect("<= supply");
    update_totals(state, |t| {
        t.bonded = t.bonded.checked_sub(bonded_cut).expect("included");
        t.unbonding = t.unbonding.checked_sub(unbonding_cut).expect("included");
        t.slashed = t.slashed.checked_add(total).expect("<= supply");
    });
    total
}

/// Takes `amount` out of the escrow to where the rules say: burned, or to the treasury.
fn dispose(state: &mut State, amount: Amount, to: SlashTo) -> bool {
    let treasury = state.params().economics.as_ref().map(|e| e.treasury);
    let escrow = stake_escrow();
    match (to, treasury) {
        (SlashTo::Treasury, Some(t)) => {
            move_balance(state, &escrow, &t, amount);
            false
        }
        _ => {
            let mut e = state.account(&escrow).copied().unwrap_or_default();
            e.balance = e.balance.checked_sub(amount).expect("escrow holds it");
            state.put_account(escrow, e);
            state.burn_supply(amount);
            true
        }
    }
}

fn params(state: &State) -> Option<GovernanceParams> {
    state.params().modules.governance.as_deref().cloned()
}

fn record(state: &mut State, rec: &SlashRecord) {
    state.with_writer(Governance::ID, |s| {
        s.put(slash_key(&rec.evidence), rec);
        s.put(slash_log_key(rec.height, &rec.evidence), rec);
    });
}

/// Slashes `offender`'s own stake (bonded and unbonding) under `rule`, once per `evidence`:
/// what a storage provider's terminated deal, a compute provider's wrong result or a device
/// removed for fraud costs its owner. Returns the base units slashed (zero on a network without
/// governance, or for evidence already used).
pub fn slash_account(
    state: &mut State,
    offender: &Address,
    rule: SlashRule,
    evidence: Hash,
    height: u64,
) -> Amount {
    let Some(p) = params(state) else {
        return Amount::ZERO;
    };
    if state.contains(&slash_key(&evidence)) {
        return Amount::ZERO;
    }
    let bps = rule_bps(&p, rule);
    let amount = cut(state, offender, bps);
    let burned = amount.is_zero() || dispose(state, amount, p.slash_to);
    record(
        state,
        &SlashRecord {
            offender: *offender,
            rule,
            evidence,
            bps,
            amount,
            burned,
            height,
        },
    );
    amount
}

/// Slashes every stake backing `validator` (its own and its delegators', bonded and
/// unbonding) by the equivocation rule and jails it, once per `evidence` (the hash of the
/// consensus evidence record). The function the consensus driver calls when it records
/// equivocation evidence. Returns the base units slashed.
pub fn slash_validator(
    state: &mut State,
    validator: &Address,
    evidence: Hash,
    height: u64,
) -> Amount {
    let Some(p) = params(state) else {
        return Amount::ZERO;
    };
    if state.contains(&slash_key(&evidence)) {
        return Amount::ZERO;
    }
    let stakers: Vec<Address> = state
        .scan_prefix(&backed_prefix(validator), usize::MAX)
        .iter()
        .map(|(k, _)| crate::module::address_suffix(k))
        .collect();
    let mut amount = Amount::ZERO;
    for s in &stakers {
        amount = amount
            .checked_add(cut(state, s, p.slash_equivocation_bps))
            .expect("<= supply");
    }
    let burned = amount.is_zero() || dispose(state, amount, p.slash_to);
    record(
        state,
        &SlashRecord {
            offender: *validator,
            rule: SlashRule::Equivocation,
            evidence,
            bps: p.slash_equivocation_bps,
            amount,
            burned,
            height,
        },
    );
    jail(
        state,
        validator,
        "equivocation",
        height.saturating_add(p.jail_blocks),
    );
    amount
}

/// Records the set's membership as governance's candidates if governance never wrote one:
/// jailed members sit out of the set written at each boundary, and without a membership kept
/// apart from that set a validator that unjails would never come back.
fn keep_membership(state: &mut State) {
    if state.candidates().is_none() {
        let members: Vec<Address> = state.validators().iter().map(|v| v.address).collect();
        state.with_writer(Governance::ID, |s| s.put(candidates_key(), &members));
    }
}

fn jail(state: &mut State, validator: &Address, reason: &str, until_height: u64) {
    keep_membership(state);
    state.with_writer(Governance::ID, |s| {
        s.put(
            jail_key(validator),
            &Jail {
                until_height,
                reason: reason.into(),
            },
        )
    });
}

/// A validator missed `missed_in_a_row` blocks in a row: past the downtime limit it is jailed
/// (left out of the set from the next boundary), never slashed. Returns whether it was jailed.
/// The consensus driver calls this from its liveness records.
pub fn note_downtime(
    state: &mut State,
    validator: &Address,
    missed_in_a_row: u64,
    height: u64,
) -> bool {
    let Some(p) = params(state) else {
        return false;
    };
    if missed_in_a_row < p.downtime_jail_blocks || state.jail_of(validator).is_some() {
        return false;
    }
    jail(
        state,
        validator,
        "downtime",
        height.saturating_add(p.jail_blocks),
    );
    true
}

/// A jailed validator asks to come back; it rejoins the set at the next boundary.
pub fn unjail(state: &mut State, validator: &Address, ctx: BlockContext) -> Result<(), Rejection> {
    let Some(j) = state.jail_of(validator) else {
        return Err(R::NotJailed {}.into());
    };
    if ctx.height < j.until_height {
        return Err(R::StillJailed {
            until_height: j.until_height,
        }
        .into());
    }
    state.with_writer(Governance::ID, |s| s.put_raw(jail_key(validator), None));
    Ok(())
}
