//! The validator set chosen from stake at each epoch boundary: declared candidates that are not
//! jailed and have at least `min_validator_bond` bonded to themselves, ranked by their backing
//! (self-bond plus delegations, ties broken by address), the top `max_validators` seated.
//!
//! commonware simplex counts one vote per validator, so stake cannot weight a vote; it decides
//! who votes. An election that would seat fewer validators than consensus needs keeps the set
//! before it and records why.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::module::{BlockContext, Module};
use crate::state::{State, StateRead};

use super::Governance;
use super::params::GovernanceParams;
use super::records::{Election, GovernanceView, candidates_key, election_key, last_election_key};
use super::stake::{MAX_CANDIDATES, self_bond};

/// The smallest set that tolerates one faulty validator under BFT (`3f + 1` with `f = 1`): an
/// election never shrinks a set below this (nor a smaller set below its size).
pub const MIN_BFT_VALIDATORS: usize = 4;

/// What the election knows of one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub address: Address,
    /// Bonded to itself.
    pub self_bond: Amount,
    /// Self-bond plus the stake delegated to it.
    pub backing: Amount,
    pub jailed: bool,
}

impl Standing {
    /// Whether it may be elected: not jailed, and a self-bond of at least `min_bond` (and at
    /// least one base unit).
    pub fn qualifies(&self, min_bond: Amount) -> bool {
        !self.jailed && self.self_bond >= min_bond.max(Amount(1))
    }
}

/// The qualified candidates in rank order (most backing first, then by address), and how many
/// qualified: the first `seats` of them are elected.
pub fn rank(candidates: &[Standing], min_bond: Amount, seats: u32) -> (Vec<Address>, u32) {
    let mut qualified: Vec<&Standing> = candidates
        .iter()
        .filter(|c| c.qualifies(min_bond))
        .collect();
    qualified.sort_by(|a, b| b.backing.cmp(&a.backing).then(a.address.cmp(&b.address)));
    let n = u32::try_from(qualified.len()).expect("at most MAX_CANDIDATES");
    let elected = qualified
        .iter()
        .take(seats as usize)
        .map(|c| c.address)
        .collect();
    (elected, n)
}

/// How many seats an election must fill for its set to replace a set of `current` validators:
/// [`MIN_BFT_VALIDATORS`], or the current size if smaller (a growing network never shrinks),
/// and at least one.
pub fn seats_needed(current: usize) -> usize {
    current.clamp(1, MIN_BFT_VALIDATORS)
}

/// Every declared candidate's standing, in address order.
pub fn standings<S: StateRead>(state: &S) -> Vec<Standing> {
    state
        .candidacies(MAX_CANDIDATES as usize)
        .into_iter()
        .map(|(address, _)| Standing {
            address,
            self_bond: self_bond(state, &address),
            backing: state.backing_of(&address),
            jailed: state.jail_of(&address).is_some(),
        })
        .collect()
}

/// What an election over `standings` decides for a set of `current` validators: how many
/// qualified, the seated candidates in rank order, and, when they are too few to replace the
/// set, the reason code and sentence (the set before is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub qualified: u32,
    pub elected: Vec<Address>,
    pub kept: Option<(String, String)>,
}

/// The election's decision (pure: the ledger at a boundary and the API's projection of the
/// next boundary both call it).
pub fn decide(standings: &[Standing], p: &GovernanceParams, current: usize) -> Outcome {
    let (elected, qualified) = rank(standings, p.min_validator_bond, p.max_validators);
    let needed = seats_needed(current).min(p.max_validators as usize);
    let kept = (elected.len() < needed).then(|| {
        (
            "too_few_candidates".to_string(),
            format!(
                "{qualified} candidates qualified (declared, not jailed, at least {} base units bonded to themselves), fewer than the {needed} seats this set of {current} needs; the set before is kept",
                p.min_validator_bond.max(Amount(1)).0
            ),
        )
    });
    Outcome {
        qualified,
        elected,
        kept,
    }
}

/// Runs the election at the first block of `epoch`: the elected set, or `None` when too few
/// candidates qualified (the caller keeps the set before it). Records the outcome.
pub fn elect(
    state: &mut State,
    p: &GovernanceParams,
    epoch: u64,
    ctx: BlockContext,
) -> Option<Vec<Address>> {
    let Outcome {
        qualified,
        elected,
        kept,
    } = decide(&standings(&*state), p, state.validators().len());
    let record = Election {
        epoch,
        height: ctx.height,
        qualified,
        seats: p.max_validators,
        elected: if kept.is_none() {
            elected.clone()
        } else {
            Vec::new()
        },
        kept: kept.clone(),
    };
    state.with_writer(Governance::ID, |s| {
        s.put(election_key(epoch), &record);
        s.put(last_election_key(), &epoch);
        if kept.is_none() {
            // The membership a later failed election keeps (jailed members sitting out).
            s.put(candidates_key(), &elected);
        }
    });
    kept.is_none().then_some(elected)
}

/// How many faulty members a set of `n` validators tolerates under BFT: `f = (n - 1) / 3`
/// (0 for a set of up to three, which needs every member's vote).
pub fn tolerated(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// What the liveness guard did to a set chosen at a boundary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guarded {
    /// The set that takes office.
    pub set: Vec<Address>,
    /// Members of the set before that produced in the epoch that ended and stay, although the
    /// boundary left them out (jailed for downtime, or no longer elected), in address order.
    pub reseated: Vec<Address>,
    /// Chosen members that produced no block in the epoch that ended (newcomers among them)
    /// and wait for a later boundary, in the order they were deferred.
    pub deferred: Vec<Address>,
}

/// The liveness guard at an epoch boundary (pure; every validator computes the same).
///
/// `chosen` is the set the boundary picked (the election's seats in rank order, or the
/// membership minus jailed members), `before` the set that ran the epoch that ends, `producers`
/// the validators that got at least one block into it (sorted), `cap` the most seats the set may
/// have (`max_validators` where the network elects its set; the guard may always seat
/// [`MIN_BFT_VALIDATORS`], since a smaller set tolerates no silent member and could otherwise
/// never take in a new one), and `reseatable` says whether a
/// member of `before` left out of `chosen` may stay (the ledger allows every one not jailed for
/// equivocation).
///
/// The set that takes office never has more members without a block in the epoch that ended
/// than it tolerates (`tolerated(n)`), so the members that were live reach a quorum: a boundary
/// can no longer halt the chain by seating validators that are down in place of ones that are
/// up. To get there, the members of `before` that produced and were left out stay, in address
/// order, while it is needed: each takes a free seat (up to `cap`), or else the seat of the
/// lowest-ranked chosen member that produced nothing, which waits for a later boundary. If that
/// is not enough, chosen members that produced nothing wait too, lowest-ranked first. So a set
/// changes by at most `tolerated(n)` unproven members a boundary (a churn limit), and a live
/// validator jailed for downtime sits out at a later boundary instead. It does nothing when
/// `before` has at most one member (a solo chain handing over has no record of the new set's
/// liveness) or when it would leave no member (the chosen set stands).
pub fn guard(
    chosen: &[Address],
    before: &[Address],
    producers: &[Address],
    cap: usize,
    reseatable: impl Fn(&Address) -> bool,
) -> Guarded {
    let live = |a: &Address| producers.binary_search(a).is_ok();
    let safe = |set: &[Address]| set.iter().filter(|a| !live(a)).count() <= tolerated(set.len());
    let cap = cap.max(MIN_BFT_VALIDATORS);
    let mut out = Guarded {
        set: chosen.to_vec(),
        ..Guarded::default()
    };
    if before.len() <= 1 || safe(&out.set) {
        return out;
    }
    let mut keep: Vec<Address> = before
        .iter()
        .filter(|a| live(a) && !chosen.contains(a) && reseatable(a))
        .copied()
        .collect();
    keep.sort();
    keep.dedup();
    for a in keep {
        if safe(&out.set) {
            break;
        }
        if out.set.len() >= cap {
            let Some(i) = out.set.iter().rposition(|m| !live(m)) else {
                break;
            };
            out.deferred.push(out.set.remove(i));
        }
        out.set.push(a);
        out.reseated.push(a);
    }
    while !safe(&out.set) {
        let Some(i) = out.set.iter().rposition(|a| !live(a)) else {
            break;
        };
        out.deferred.push(out.set.remove(i));
    }
    if out.set.is_empty() {
        return Guarded {
            set: chosen.to_vec(),
            ..Guarded::default()
        };
    }
    out
}
