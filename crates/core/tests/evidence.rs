//! Equivocation evidence on chain: two conflicting votes a validator signed slash its backing
//! stake and jail it once per round; forged, mismatched or non-conflicting evidence is refused
//! with a reason, and the supply is conserved.

mod common;

use common::*;
use depin_core::genesis::Allocation;
use depin_core::services::governance::actions::{DelegateStake, LockStake};
use depin_core::services::governance::evidence::{
    ReportEquivocation, SignedVote, VoteKind, evidence_hash, signed_bytes,
};
use depin_core::services::governance::records::GovernanceView;
use depin_core::services::governance::{GovernanceGenesis, SlashRule};
use depin_core::{Action, Amount, Hash, Keypair, Receipt};

const UNIT: u128 = 1_000_000;

fn staker() -> Keypair {
    Keypair::from_seed([150; 32])
}

fn reporter() -> Keypair {
    Keypair::from_seed([151; 32])
}

fn gov_net() -> Net {
    let mut net = Net::new(genesis(|g| {
        for k in [staker(), reporter()] {
            g.allocations.push(Allocation {
                address: k.address(),
                amount: "1000".into(),
            });
        }
        let mut gov = GovernanceGenesis::devnet();
        gov.slash_equivocation_bps = 1_000;
        gov.jail_blocks = 5;
        g.modules.governance = Some(gov);
    }));
    let lock = Action::from(LockStake {
        amount: Amount(500 * UNIT),
    });
    assert_eq!(net.send(&staker(), lock), Receipt::Success);
    let delegate = Action::from(DelegateStake {
        validator: Some(validator().address()),
    });
    assert_eq!(net.send(&staker(), delegate), Receipt::Success);
    net
}

fn vote(
    key: &Keypair,
    epoch: u64,
    view: u64,
    kind: VoteKind,
    parent_view: u64,
    payload: u8,
) -> SignedVote {
    let mut v = SignedVote {
        kind,
        parent_view,
        payload: if kind == VoteKind::Nullify {
            Hash::ZERO
        } else {
            Hash([payload; 32])
        },
        signature: depin_core::Signature([0; 64]),
    };
    v.signature = key.sign(&signed_bytes(epoch, view, &v));
    v
}

fn report(first: SignedVote, second: SignedVote) -> Action {
    ReportEquivocation {
        validator: validator().address(),
        epoch: 2,
        view: 9,
        first: Box::new(first),
        second: Box::new(second),
    }
    .into()
}

#[test]
fn conflicting_votes_slash_and_jail_once_per_round() {
    let mut net = gov_net();
    let v = validator();
    let supply = net.state.meta().total_supply;
    let balance = |net: &Net| net.state.account(&reporter().address()).unwrap().balance.0;
    let before = balance(&net);
    let a = vote(&v, 2, 9, VoteKind::Notarize, 8, 1);
    let b = vote(&v, 2, 9, VoteKind::Notarize, 8, 2);
    assert_eq!(net.send(&reporter(), report(a, b)), Receipt::Success);
    assert_eq!(
        net.state.stake_of(&staker().address()).amount.0,
        450 * UNIT,
        "10% of the stake backing the validator"
    );
    assert_eq!(
        net.state.jail_of(&v.address()).unwrap().reason,
        "equivocation"
    );
    let slashes = net.state.slashes(10);
    assert_eq!(slashes.len(), 1);
    assert_eq!(slashes[0].rule, SlashRule::Equivocation);
    assert_eq!(slashes[0].evidence, evidence_hash(&v.address(), 2, 9));
    assert_eq!(slashes[0].amount.0, 50 * UNIT);
    let fee = before - balance(&net);
    assert!(fee > 0, "the reporter pays the fee");
    assert_eq!(
        net.state.meta().total_supply.0,
        supply.0 - 50 * UNIT - fee,
        "slashed tokens are burned (devnet rule), and so is the fee"
    );
    net.supply_is_consistent();

    // Another conflicting pair in the same round is the same offence.
    let c = vote(&v, 2, 9, VoteKind::Nullify, 0, 0);
    let d = vote(&v, 2, 9, VoteKind::Finalize, 8, 1);
    assert_eq!(
        code(&net.send(&reporter(), report(c.clone(), d.clone()))),
        "evidence_recorded"
    );
    assert_eq!(net.state.stake_of(&staker().address()).amount.0, 450 * UNIT);
    // Another round is another offence.
    let e = vote(&v, 2, 10, VoteKind::Finalize, 9, 1);
    let f = vote(&v, 2, 10, VoteKind::Finalize, 9, 3);
    let other_round = ReportEquivocation {
        validator: v.address(),
        epoch: 2,
        view: 10,
        first: Box::new(e),
        second: Box::new(f),
    };
    assert_eq!(net.send(&reporter(), other_round.into()), Receipt::Success);
    assert_eq!(net.state.stake_of(&staker().address()).amount.0, 405 * UNIT);
    net.supply_is_consistent();
    net.replays_identically();
}

#[test]
fn forged_or_harmless_evidence_is_refused_with_a_reason() {
    let mut net = gov_net();
    let v = validator();
    let n1 = vote(&v, 2, 9, VoteKind::Notarize, 8, 1);
    let n2 = vote(&v, 2, 9, VoteKind::Notarize, 8, 2);
    let stake = net.state.stake_of(&staker().address()).amount;

    // Signed by someone else.
    let forged = vote(&reporter(), 2, 9, VoteKind::Notarize, 8, 2);
    assert_eq!(
        code(&net.send(&reporter(), report(n1.clone(), forged))),
        "evidence_bad_signature"
    );
    // Genuine signatures, but reported for another round than the one signed.
    let moved = ReportEquivocation {
        validator: v.address(),
        epoch: 2,
        view: 10,
        first: Box::new(n1.clone()),
        second: Box::new(n2.clone()),
    };
    assert_eq!(
        code(&net.send(&reporter(), moved.into())),
        "evidence_bad_signature"
    );
    // A payload changed after signing.
    let mut changed = n2.clone();
    changed.payload = Hash([9; 32]);
    assert_eq!(
        code(&net.send(&reporter(), report(n1.clone(), changed))),
        "evidence_bad_signature"
    );
    // The same vote twice, a notarize beside a nullify (allowed in simplex), a nullify that
    // names a proposal.
    assert_eq!(
        code(&net.send(&reporter(), report(n1.clone(), n1.clone()))),
        "evidence_not_conflicting"
    );
    let null = vote(&v, 2, 9, VoteKind::Nullify, 0, 0);
    assert_eq!(
        code(&net.send(&reporter(), report(n1.clone(), null.clone()))),
        "evidence_not_conflicting"
    );
    let mut named = null.clone();
    named.payload = Hash([1; 32]);
    let fin = vote(&v, 2, 9, VoteKind::Finalize, 8, 1);
    assert_eq!(
        code(&net.send(&reporter(), report(named, fin))),
        "evidence_not_conflicting"
    );
    // Someone outside the validator set.
    let outsider = reporter();
    let o1 = vote(&outsider, 2, 9, VoteKind::Notarize, 8, 1);
    let o2 = vote(&outsider, 2, 9, VoteKind::Notarize, 8, 2);
    let not_validator = ReportEquivocation {
        validator: outsider.address(),
        epoch: 2,
        view: 9,
        first: Box::new(o1),
        second: Box::new(o2),
    };
    assert_eq!(
        code(&net.send(&reporter(), not_validator.into())),
        "evidence_not_a_validator"
    );
    assert_eq!(net.state.stake_of(&staker().address()).amount, stake);
    assert!(net.state.jail_of(&v.address()).is_none());
    assert!(net.state.slashes(10).is_empty());
    net.supply_is_consistent();
}

#[test]
fn evidence_needs_governance() {
    let mut net = Net::new(genesis(|g| {
        // Test networks run governance by default; this one does not.
        g.modules.governance = None;
        g.allocations.push(Allocation {
            address: reporter().address(),
            amount: "1000".into(),
        });
    }));
    let v = validator();
    let a = vote(&v, 0, 1, VoteKind::Notarize, 0, 1);
    let b = vote(&v, 0, 1, VoteKind::Notarize, 0, 2);
    let r = ReportEquivocation {
        validator: v.address(),
        epoch: 0,
        view: 1,
        first: Box::new(a),
        second: Box::new(b),
    };
    assert_eq!(
        code(&net.send(&reporter(), r.into())),
        "governance_disabled"
    );
}
