//! Proposals: opened by stake, checked by the module they change, voted by stake locked before
//! they opened, decided when their vote ends, and applied at the next epoch boundary so an
//! epoch is always paid under one set of rules.

use crate::amount::Amount;
use crate::crypto::{Address, Hash};
use crate::economics::payout::mul_div_floor;
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::state::{State, StateRead, Validator, table, validators_key};

use super::Governance;
use super::actions::{Choice, ProposalKind};
use super::change::{check_change, params_after};
use super::params::GovernanceParams;
use super::records::{
    GovernanceView, Proposal, SlashRule, Status, VoteRecord, candidates_key, device_vote_key,
    ends_key, ends_prefix, next_id_key, open_by_key, open_by_prefix, proposal_key, queue_key,
    queue_prefix, vote_key,
};
use super::reject::GovernanceRejection as R;
use super::stake::{eligible_weight, slash_account, voting_weight};

/// Whether a tally passes: at least `quorum_bps` of the eligible weight voted (yes, no or
/// abstain; at least one vote), and yes is strictly more than `threshold_bps` of yes and no.
/// `Err` is the reason code and a sentence.
pub fn outcome(
    eligible: Amount,
    yes: Amount,
    no: Amount,
    abstain: Amount,
    quorum_bps: u32,
    threshold_bps: u32,
) -> Result<(), (&'static str, String)> {
    let decided = yes.checked_add(no).expect("votes are disjoint stake");
    let turnout = decided
        .checked_add(abstain)
        .expect("votes are disjoint stake");
    // turnout >= eligible * quorum / 10000, exactly: turnout >= the ceiling of the right side
    // (its floor, plus one when eligible * quorum leaves a remainder mod 10000).
    let q = u128::from(quorum_bps);
    let floor = mul_div_floor(eligible.0, q, 10_000);
    let needed = floor + u128::from(!((eligible.0 % 10_000) * q).is_multiple_of(10_000));
    if turnout.is_zero() || turnout.0 < needed {
        return Err((
            "no_quorum",
            format!(
                "{} base units voted of {} eligible, below the quorum of {quorum_bps} basis points",
                turnout.0, eligible.0
            ),
        ));
    }
    // yes / (yes + no) > threshold / 10000, exactly: floor((yes + no) * threshold / 10000) < yes.
    if mul_div_floor(decided.0, u128::from(threshold_bps), 10_000) >= yes.0 {
        return Err((
            "below_threshold",
            format!(
                "{} yes against {} no is not more than the threshold of {threshold_bps} basis points",
                yes.0, no.0
            ),
        ));
    }
    Ok(())
}

fn governance_params(state: &State) -> GovernanceParams {
    state
        .params()
        .modules
        .governance
        .as_deref()
        .cloned()
        .expect("governance runs when its actions or hooks do")
}

/// Opens a proposal by `proposer` (or, `emergency`, enacts one by the emergency key: passed
/// at once, applied at the next boundary). Returns its id.
pub fn propose(
    state: &mut State,
    proposer: &Address,
    title: &str,
    change: &ProposalKind,
    emergency: bool,
    ctx: BlockContext,
) -> Result<u64, Rejection> {
    let p = governance_params(state);
    let id: u64 = state.get(&next_id_key()).unwrap_or(0);
    if emergency {
        if p.emergency_key != Some(*proposer) {
            return Err(R::NotEmergencyKey {}.into());
        }
    } else {
        let (weight, _) = voting_weight(&*state, proposer, ctx.height.saturating_add(1), id);
        if weight < p.min_proposal_stake {
            return Err(R::ProposerStakeShort {
                weight,
                needed: p.min_proposal_stake,
            }
            .into());
        }
        let open = state
            .scan_prefix(&open_by_prefix(proposer), p.max_open_proposals as usize)
            .len();
        if open >= p.max_open_proposals as usize {
            return Err(R::TooManyOpenProposals {
                max: p.max_open_proposals,
            }
            .into());
        }
    }
    let encoded = check_change(state, change)?;
    let length = state.params().epoch_length_blocks;
    let (voting_end_height, status) = if emergency {
        (
            ctx.height,
            Status::Passed {
                effective_epoch: ctx.epoch(length) + 1,
            },
        )
    } else {
        (
            ctx.height.saturating_add(p.voting_period_blocks),
            Status::Voting,
        )
    };
    let proposal = Proposal {
        id,
        proposer: *proposer,
        title: title.to_string(),
        change: change.clone(),
        encoded,
        emergency,
        created_height: ctx.height,
        voting_end_height,
        eligible: eligible_weight(state),
        quorum_bps: p.quorum_bps,
        threshold_bps: p.threshold_bps,
        yes: Amount::ZERO,
        no: Amount::ZERO,
        abstain: Amount::ZERO,
        voters: 0,
        status,
    };
    state.put(proposal_key(id), &proposal);
    state.put(next_id_key(), &(id + 1));
    if emergency {
        state.put_raw(queue_key(id), Some(Vec::new()));
    } else {
        state.put_raw(ends_key(voting_end_height, id), Some(Vec::new()));
        state.put_raw(open_by_key(proposer, id), Some(Vec::new()));
    }
    Ok(id)
}

/// Records `voter`'s vote (replacing an earlier one) with the weight it has on the proposal.
pub fn vote(
    state: &mut State,
    voter: &Address,
    id: u64,
    choice: Choice,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let Some(mut proposal) = state.proposal(id) else {
        return Err(R::UnknownProposal { id }.into());
    };
    if proposal.status != Status::Voting || ctx.height > proposal.voting_end_height {
        return Err(R::VotingClosed {
            id,
            end_height: proposal.voting_end_height,
        }
        .into());
    }
    let (weight, devices) = voting_weight(&*state, voter, proposal.created_height, id);
    if weight.is_zero() {
        return Err(R::NoVotingWeight {
            since_height: proposal.created_height,
        }
        .into());
    }
    fn tally(p: &mut Proposal, c: Choice) -> &mut Amount {
        match c {
            Choice::Yes => &mut p.yes,
            Choice::No => &mut p.no,
            Choice::Abstain => &mut p.abstain,
        }
    }
    match state.get::<VoteRecord>(&vote_key(id, voter)) {
        Some(old) => {
            let t = tally(&mut proposal, old.choice);
            *t = t.checked_sub(old.weight).expect("the tally holds it");
        }
        None => proposal.voters += 1,
    }
    let t = tally(&mut proposal, choice);
    *t = t.checked_add(weight).expect("<= supply");
    state.put(vote_key(id, voter), &VoteRecord { choice, weight });
    for d in devices {
        state.put(device_vote_key(id, &d), voter);
    }
    state.put(proposal_key(id), &proposal);
    Ok(())
}

/// Decides the proposals whose vote ends at this block.
pub fn decide_due(state: &mut State, ctx: BlockContext) {
    let due: Vec<u64> = state
        .scan_prefix(&ends_prefix(ctx.height), usize::MAX)
        .iter()
        .map(|(k, _)| u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes")))
        .collect();
    let length = state.params().epoch_length_blocks;
    for id in due {
        state.put_raw(ends_key(ctx.height, id), None);
        let mut p = state.proposal(id).expect("indexed proposals exist");
        state.put_raw(open_by_key(&p.proposer, id), None);
        p.status = match outcome(
            p.eligible,
            p.yes,
            p.no,
            p.abstain,
            p.quorum_bps,
            p.threshold_bps,
        ) {
            Ok(()) => {
                state.put_raw(queue_key(id), Some(Vec::new()));
                Status::Passed {
                    effective_epoch: ctx.epoch(length) + 1,
                }
            }
            Err((code, why)) => Status::Rejected {
                code: code.into(),
                why,
            },
        };
        state.put(proposal_key(id), &p);
    }
}

/// Applies every passed proposal due by `epoch` (in id order) at the epoch's first block, then
/// sets the validator set's powers from their backing stake.
pub fn apply_due(state: &mut State, epoch: u64, ctx: BlockContext) {
    let queued: Vec<u64> = state
        .scan_prefix(&queue_prefix(), usize::MAX)
        .iter()
        .map(|(k, _)| u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes")))
        .collect();
    for id in queued {
        let mut p = state.proposal(id).expect("queued proposals exist");
        let Status::Passed { effective_epoch } = p.status else {
            continue;
        };
        if effective_epoch > epoch {
            continue;
        }
        state.put_raw(queue_key(id), None);
        p.status = match apply(state, &p, ctx) {
            Ok(()) => Status::Applied {
                epoch,
                height: ctx.height,
            },
            Err((code, why)) => Status::Failed {
                code: code.into(),
                why,
            },
        };
        state.with_writer(Governance::ID, |s| s.put(proposal_key(id), &p));
    }
    refresh_validators(state, epoch, ctx);
}

fn apply(state: &mut State, p: &Proposal, ctx: BlockContext) -> Result<(), (&'static str, String)> {
    match &p.change {
        ProposalKind::ModuleParams { module, section } => {
            crate::modules::apply_params(state, module, section, &p.encoded)
                .map_err(|why| ("bad_params", why))
        }
        ProposalKind::Economics { .. } => {
            let next = params_after(state.params(), &p.change, &p.encoded)?
                .expect("an economics change has parameters");
            state.set_params(next);
            Ok(())
        }
        ProposalKind::OracleSet { oracle, authorised } => {
            if state.params().modules.demand.is_none() {
                return Err((
                    "demand_off",
                    "the network no longer runs the demand service".into(),
                ));
            }
            crate::services::demand::verify::apply_oracle(state, oracle, *authorised);
            Ok(())
        }
        ProposalKind::Denylist {
            device,
            denied,
            fraud,
        } => {
            crate::services::devices::set_denied(state, device, *denied);
            if *denied
                && *fraud
                && let Some(owner) = crate::services::devices::forfeit(state, device)
            {
                let evidence = Hash::tagged("depin/governance/fraud/v1", &[&p.id.to_be_bytes()]);
                slash_account(state, &owner, SlashRule::DeviceFraud, evidence, ctx.height);
            }
            Ok(())
        }
        ProposalKind::PairDenylist { a, b, denied } => {
            crate::services::devices::set_pair_denied(state, a, b, *denied);
            Ok(())
        }
        ProposalKind::TreasurySpend { to, amount } => {
            let treasury = state
                .params()
                .economics
                .as_ref()
                .map(|e| e.treasury)
                .ok_or((
                    "no_treasury",
                    "the network has no [economics] treasury".to_string(),
                ))?;
            let mut t = state.account(&treasury).copied().unwrap_or_default();
            if t.balance < *amount {
                return Err((
                    "treasury_short",
                    format!(
                        "the treasury holds {} base units, less than the {} to spend",
                        t.balance.0, amount.0
                    ),
                ));
            }
            let mut r = state.account(to).copied().unwrap_or_default();
            r.balance = r.balance.checked_add(*amount).ok_or((
                "balance_overflow",
                "the receiver's balance would overflow".to_string(),
            ))?;
            t.balance = t.balance.checked_sub(*amount).expect("checked");
            state.put_account(treasury, t);
            state.put_account(*to, r);
            Ok(())
        }
        ProposalKind::ValidatorSet { validators } => {
            let seats = governance_params(state).max_validators;
            if seats > 0 {
                return Err((
                    "election_on",
                    format!(
                        "the network elects its validator set from stake (max_validators = {seats}); the set was not changed"
                    ),
                ));
            }
            state.with_writer(Governance::ID, |s| s.put(candidates_key(), validators));
            Ok(())
        }
    }
}

/// The validator set at the first block of `epoch`: elected from stake where the network
/// elects it (`max_validators > 0`, [`super::election`]); otherwise, or when too few candidates
/// qualify, from the governed membership, jailed members sitting out (unless none would be
/// left). Each one's power is its backing stake in whole tokens (at least 1).
pub fn refresh_validators(state: &mut State, epoch: u64, ctx: BlockContext) {
    let p = governance_params(state);
    let active = match (p.max_validators > 0)
        .then(|| super::election::elect(state, &p, epoch, ctx))
        .flatten()
    {
        Some(elected) => elected,
        None => {
            let members: Vec<Address> = match state.candidates() {
                Some(c) => c,
                None => state.validators().iter().map(|v| v.address).collect(),
            };
            let free: Vec<Address> = members
                .iter()
                .filter(|m| state.jail_of(m).is_none())
                .copied()
                .collect();
            if free.is_empty() { members } else { free }
        }
    };
    // Never seat more members that produced nothing in the epoch that ended than the set
    // tolerates (see `election::guard`).
    let active = match super::liveness::last_producers(&*state) {
        Some(producers) => {
            let before: Vec<Address> = state.validators().iter().map(|v| v.address).collect();
            let jails = |a: &Address| state.jail_of(a).map(|j| j.reason);
            let cap = match p.max_validators {
                0 => usize::MAX,
                seats => seats as usize,
            };
            super::election::guard(&active, &before, &producers, cap, |a| {
                jails(a).as_deref() != Some("equivocation")
            })
            .set
        }
        None => active,
    };
    let unit = 10u128.pow(u32::from(state.params().decimals));
    let set: Vec<Validator> = active
        .iter()
        .map(|a| Validator {
            address: *a,
            power: u64::try_from(state.backing_of(a).0 / unit)
                .unwrap_or(u64::MAX)
                .max(1),
        })
        .collect();
    if set != state.validators() {
        state.with_writer(table::LEDGER, |s| s.put(validators_key(), &set));
    }
}
