//! Governance on a test chain: staking and unbonding, proposals and their tallies, parameter
//! changes at the next epoch boundary, slashing and jailing, and the supply conserved through
//! all of it.

mod common;

use common::*;
use depin_core::economics::records::EconomyView;
use depin_core::genesis::{Allocation, EconomicsGenesis};
use depin_core::services::demand::records::DemandView;
use depin_core::services::devices::DevicesView;
use depin_core::services::governance::actions::{
    Choice, DelegateStake, EmergencyEnact, LockStake, ProposalKind, Propose, UnbondStake, Unjail,
    Vote, WithdrawStake,
};
use depin_core::services::governance::proposal::outcome;
use depin_core::services::governance::records::{GovernanceView, Status};
use depin_core::services::governance::{
    GovernanceGenesis, SlashRule, slash_account, slash_validator, stake_escrow,
};
use depin_core::{Action, Amount, Genesis, Hash, Keypair, Receipt, StateRead};
use proptest::prelude::*;

const UNIT: u128 = 1_000_000;

fn staker(i: u8) -> Keypair {
    Keypair::from_seed([100 + i; 32])
}

fn gov_genesis(edit: impl FnOnce(&mut GovernanceGenesis)) -> Genesis {
    genesis(|g| {
        for i in 0..6 {
            g.allocations.push(Allocation {
                address: staker(i).address(),
                amount: "1000".into(),
            });
        }
        let mut gov = GovernanceGenesis::devnet();
        gov.voting_period_blocks = 5;
        gov.unbonding_blocks = 10;
        gov.min_proposal_stake = "50".into();
        gov.emergency_key = Some(governor().address());
        edit(&mut gov);
        g.modules.governance = Some(gov);
    })
}

fn lock(tokens: u128) -> Action {
    LockStake {
        amount: Amount(tokens * UNIT),
    }
    .into()
}

fn economics_change(treasury_bps: u32) -> ProposalKind {
    let e = EconomicsGenesis {
        emission_per_epoch: "5000".into(),
        halving_interval_epochs: 2,
        tail_per_epoch: "0".into(),
        treasury: treasury().address(),
        treasury_bps,
        pool_weights: Default::default(),
    };
    ProposalKind::Economics {
        section: serde_json::to_string(&e).unwrap(),
    }
}

fn propose(change: ProposalKind) -> Action {
    Propose {
        title: "test".into(),
        change,
    }
    .into()
}

fn vote(id: u64, choice: Choice) -> Action {
    Vote {
        proposal: id,
        choice,
    }
    .into()
}

fn treasury_bps(net: &Net) -> u32 {
    net.state.params().economics.as_ref().unwrap().treasury_bps
}

fn to_height(net: &mut Net, height: u64) {
    while net.state.height() < height {
        net.block(vec![]);
    }
}

fn escrow_holds_all_stake(net: &Net) {
    let t = net.state.stake_totals();
    let escrow = net
        .state
        .account(&stake_escrow())
        .map(|a| a.balance)
        .unwrap_or_default();
    assert_eq!(
        escrow.0,
        t.bonded.0 + t.unbonding.0,
        "escrow = bonded + unbonding"
    );
}

#[test]
fn stake_locks_unbonds_and_withdraws_with_reasons() {
    let mut net = Net::new(gov_genesis(|_| {}));
    let s = staker(0);
    assert_eq!(code(&net.send(&s, lock(0))), "zero_stake");
    assert_eq!(code(&net.send(&s, lock(5_000))), "insufficient_funds");
    assert_eq!(net.send(&s, lock(300)), Receipt::Success);
    assert_eq!(net.state.stake_of(&s.address()).amount.0, 300 * UNIT);
    let unbond = |t: u128| {
        Action::from(UnbondStake {
            amount: Amount(t * UNIT),
        })
    };
    assert_eq!(code(&net.send(&s, unbond(301))), "stake_short");
    assert_eq!(
        code(&net.send(&s, WithdrawStake {}.into())),
        "nothing_to_withdraw"
    );
    assert_eq!(net.send(&s, unbond(100)), Receipt::Success);
    let release = net.state.stake_of(&s.address()).unbonding[0].release_height;
    assert_eq!(
        code(&net.send(&s, WithdrawStake {}.into())),
        "nothing_to_withdraw"
    );
    to_height(&mut net, release);
    let before = net.state.account(&s.address()).unwrap().balance.0;
    assert_eq!(net.send(&s, WithdrawStake {}.into()), Receipt::Success);
    let after = net.state.account(&s.address()).unwrap().balance.0;
    assert_eq!(after + net.last_fee, before + 100 * UNIT);
    assert_eq!(net.state.stake_of(&s.address()).amount.0, 200 * UNIT);
    let not_validator = Action::from(DelegateStake {
        validator: Some(staker(5).address()),
    });
    assert_eq!(code(&net.send(&s, not_validator)), "not_a_validator");
    let to_validator = Action::from(DelegateStake {
        validator: Some(validator().address()),
    });
    assert_eq!(net.send(&s, to_validator), Receipt::Success);
    assert_eq!(net.state.backing_of(&validator().address()).0, 200 * UNIT);
    escrow_holds_all_stake(&net);
    net.replays_identically();
}

/// Two stakers vote a treasury-share change through in epoch 0: epoch 0 is paid under the old
/// share, the change is in the parameters from epoch 1's first block, and epoch 1 is paid
/// under the new one.
#[test]
fn passed_change_applies_at_the_next_epoch_boundary_and_not_before() {
    let mut net = Net::new(gov_genesis(|_| {}));
    for i in 0..3 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    assert_eq!(
        net.send(&staker(0), propose(economics_change(3_000))),
        Receipt::Success
    );
    let p = net.state.proposal(0).unwrap();
    assert_eq!(p.status, Status::Voting);
    assert_eq!(p.eligible.0, 600 * UNIT);
    assert_eq!(net.send(&staker(0), vote(0, Choice::Yes)), Receipt::Success);
    assert_eq!(net.send(&staker(1), vote(0, Choice::Yes)), Receipt::Success);
    assert_eq!(net.send(&staker(2), vote(0, Choice::No)), Receipt::Success);
    to_height(&mut net, p.voting_end_height);
    let p = net.state.proposal(0).unwrap();
    assert_eq!(p.status, Status::Passed { effective_epoch: 1 });
    // Still the old rule for the rest of epoch 0, its close included.
    to_height(&mut net, EPOCH_BLOCKS);
    assert_eq!(treasury_bps(&net), 1_000);
    let e0 = net.state.epoch_summary(0).unwrap();
    assert_eq!(e0.treasury.0, 5_000 * UNIT / 10);
    net.block(vec![]);
    assert_eq!(treasury_bps(&net), 3_000);
    assert!(matches!(
        net.state.proposal(0).unwrap().status,
        Status::Applied { epoch: 1, .. }
    ));
    to_height(&mut net, 2 * EPOCH_BLOCKS);
    let e1 = net.state.epoch_summary(1).unwrap();
    assert_eq!(e1.treasury.0, 5_000 * UNIT * 3 / 10);
    net.replays_identically();
}

#[test]
fn failed_proposal_changes_nothing() {
    let mut net = Net::new(gov_genesis(|_| {}));
    for i in 0..3 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    let params_before = net.state.params().clone();
    // No quorum: one third of the stake voting is below 3340 basis points.
    assert_eq!(
        net.send(&staker(0), propose(economics_change(9_000))),
        Receipt::Success
    );
    assert_eq!(net.send(&staker(0), vote(0, Choice::Yes)), Receipt::Success);
    // Below threshold: a tie.
    assert_eq!(
        net.send(&staker(1), propose(economics_change(8_000))),
        Receipt::Success
    );
    assert_eq!(net.send(&staker(1), vote(1, Choice::Yes)), Receipt::Success);
    assert_eq!(net.send(&staker(2), vote(1, Choice::No)), Receipt::Success);
    to_height(&mut net, 2 * EPOCH_BLOCKS + 1);
    let status = |id| net.state.proposal(id).unwrap().status;
    assert!(matches!(status(0), Status::Rejected { ref code, .. } if code == "no_quorum"));
    assert!(matches!(status(1), Status::Rejected { ref code, .. } if code == "below_threshold"));
    assert_eq!(net.state.params(), &params_before);
    assert_eq!(
        code(&net.send(&staker(2), vote(1, Choice::Yes))),
        "voting_closed"
    );
    assert_eq!(
        code(&net.send(&staker(2), vote(7, Choice::Yes))),
        "unknown_proposal"
    );
}

#[test]
fn stake_locked_after_a_proposal_opens_does_not_vote_on_it() {
    let mut net = Net::new(gov_genesis(|_| {}));
    assert_eq!(net.send(&staker(0), lock(100)), Receipt::Success);
    assert_eq!(
        net.send(&staker(0), propose(economics_change(2_000))),
        Receipt::Success
    );
    // A whale borrows and locks just before voting: its stake is newer than the proposal.
    assert_eq!(net.send(&staker(1), lock(900)), Receipt::Success);
    assert_eq!(
        code(&net.send(&staker(1), vote(0, Choice::Yes))),
        "no_voting_weight"
    );
    assert_eq!(net.state.proposal(0).unwrap().yes, Amount::ZERO);
}

#[test]
fn proposals_need_stake_a_valid_change_and_respect_the_open_limit() {
    let mut net = Net::new(gov_genesis(|g| g.max_open_proposals = 1));
    assert_eq!(
        code(&net.send(&staker(0), propose(economics_change(2_000)))),
        "proposer_stake_short"
    );
    assert_eq!(net.send(&staker(0), lock(100)), Receipt::Success);
    // Checked by the module it changes: a governance section with a minority threshold.
    let mut bad = GovernanceGenesis::devnet();
    bad.threshold_bps = 4_000;
    let change = ProposalKind::ModuleParams {
        module: "governance".into(),
        section: serde_json::to_string(&bad).unwrap(),
    };
    let r = net.send(&staker(0), propose(change));
    assert_eq!(code(&r), "bad_change");
    let Receipt::Rejected(why) = &r else {
        unreachable!()
    };
    assert!(
        why.to_string().contains("governance.threshold_bps"),
        "{why}"
    );
    let unknown = ProposalKind::ModuleParams {
        module: "weather".into(),
        section: "{}".into(),
    };
    assert_eq!(code(&net.send(&staker(0), propose(unknown))), "bad_change");
    assert_eq!(
        code(&net.send(&staker(0), propose(economics_change(10_001)))),
        "bad_change"
    );
    assert_eq!(
        net.send(&staker(0), propose(economics_change(2_000))),
        Receipt::Success
    );
    assert_eq!(
        code(&net.send(&staker(0), propose(economics_change(2_500)))),
        "too_many_open_proposals"
    );
    let long = Propose {
        title: "x".repeat(201),
        change: economics_change(2_000),
    };
    assert_eq!(code(&net.send(&staker(0), long.into())), "field_too_long");
}

/// A module parameter change travels as the module's genesis section, is checked by its own
/// `params`, and replaces the typed parameters at the boundary (here governance's own voting
/// period).
#[test]
fn module_params_change_goes_through_the_module_check() {
    let mut net = Net::new(gov_genesis(|_| {}));
    for i in 0..2 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    let mut g = GovernanceGenesis::devnet();
    g.voting_period_blocks = 7;
    g.unbonding_blocks = 40;
    g.min_proposal_stake = "50".into();
    let change = ProposalKind::ModuleParams {
        module: "governance".into(),
        section: serde_json::to_string(&g).unwrap(),
    };
    assert_eq!(net.send(&staker(0), propose(change)), Receipt::Success);
    assert_eq!(net.send(&staker(0), vote(0, Choice::Yes)), Receipt::Success);
    assert_eq!(net.send(&staker(1), vote(0, Choice::Yes)), Receipt::Success);
    to_height(&mut net, EPOCH_BLOCKS);
    assert_eq!(
        net.state
            .params()
            .modules
            .governance
            .as_ref()
            .unwrap()
            .voting_period_blocks,
        5
    );
    net.block(vec![]);
    let p = net
        .state
        .params()
        .modules
        .governance
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(p.voting_period_blocks, 7);
    assert_eq!(p.unbonding_blocks, 40);
    net.replays_identically();
}

/// The typed path tools without a ledger state take (the economic simulator's scheduled
/// changes): `check_change_on` and `params_after` on the parameters give exactly the parameters
/// the ledger runs under after the same proposals apply at the boundary, and a change the
/// ledger refuses when it is proposed is refused by `check_change_on` with the same rejection.
#[test]
fn parameters_after_a_change_are_what_the_ledger_applies() {
    use depin_core::services::demand::params::preset;
    use depin_core::services::governance::{check_change_on, params_after};
    let mut genesis = gov_genesis(|_| {});
    genesis.modules.demand = Some(preset(vec![governor().address()], 100));
    let c = genesis.modules.coverage.as_mut().unwrap();
    (c.onboard_fee, c.location_fee) = ("0".into(), "0".into());
    let mut net = Net::new(genesis);
    let mut demand = preset(vec![governor().address()], 100);
    (demand.remint_bps, demand.demand_cap_bps) = (2_000, 8_000);
    demand.bootstrap.floor_bps = 3_000;
    let changes = [
        economics_change(2_500),
        ProposalKind::ModuleParams {
            module: "demand".into(),
            section: serde_json::to_string(&demand).unwrap(),
        },
    ];
    let before = net.state.params().clone();
    let mut expected = before.clone();
    for change in &changes {
        let encoded = check_change_on(&before, change).unwrap();
        expected = params_after(&expected, change, &encoded).unwrap().unwrap();
        let enact = EmergencyEnact {
            title: "typed".into(),
            change: change.clone(),
        };
        assert_eq!(net.send(&governor(), enact.into()), Receipt::Success);
    }
    assert_ne!(expected, before);
    to_height(&mut net, EPOCH_BLOCKS + 1);
    assert_eq!(net.state.params(), &expected);
    let d = net.state.params().modules.demand.clone().unwrap();
    assert_eq!((d.remint_bps, d.demand_cap_bps), (2_000, 8_000));
    assert_eq!(treasury_bps(&net), 2_500);

    // Refused alike: a re-mint and cap that let self-dealing pay.
    demand.demand_cap_bps = 10_000;
    let refused = ProposalKind::ModuleParams {
        module: "demand".into(),
        section: serde_json::to_string(&demand).unwrap(),
    };
    let why = check_change_on(net.state.params(), &refused).unwrap_err();
    assert_eq!(why.code(), "bad_change");
    assert!(
        why.to_string()
            .contains("remint_bps + demand_cap_bps is 12000"),
        "{why}"
    );
    for i in 0..2 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    assert_eq!(
        net.send(&staker(0), propose(refused)),
        Receipt::Rejected(why)
    );
    // Other kinds change the state, not parameters.
    let pair = ProposalKind::PairDenylist {
        a: staker(0).address(),
        b: staker(1).address(),
        denied: true,
    };
    assert_eq!(params_after(net.state.params(), &pair, &[]), Ok(None));
}

/// The emergency key enacts without a vote (at the next boundary) and the proposal says so;
/// anyone else is refused.
#[test]
fn emergency_key_enacts_at_the_boundary_and_is_marked() {
    let mut net = Net::new(gov_genesis(|_| {}));
    let enact = |bps| {
        Action::from(EmergencyEnact {
            title: "devnet fix".into(),
            change: economics_change(bps),
        })
    };
    assert_eq!(
        code(&net.send(&staker(0), enact(2_000))),
        "not_emergency_key"
    );
    assert_eq!(net.send(&governor(), enact(2_000)), Receipt::Success);
    let p = net.state.proposal(0).unwrap();
    assert!(p.emergency);
    assert_eq!(treasury_bps(&net), 1_000);
    to_height(&mut net, EPOCH_BLOCKS + 1);
    assert_eq!(treasury_bps(&net), 2_000);
}

/// Equivocation slashes every stake backing the validator, once per evidence, and jails it;
/// downtime jails without slashing; unjail waits for the jail period.
#[test]
fn validator_slash_jail_and_unjail() {
    let mut net = Net::new(gov_genesis(|g| {
        g.slash_equivocation_bps = 1_000;
        g.slash_to = depin_core::services::governance::SlashTo::Treasury;
        g.jail_blocks = 3;
        g.downtime_jail_blocks = 10;
    }));
    let v = validator().address();
    assert_eq!(net.send(&staker(0), lock(500)), Receipt::Success);
    let delegate = Action::from(DelegateStake { validator: Some(v) });
    assert_eq!(net.send(&staker(0), delegate), Receipt::Success);
    assert_eq!(net.send(&staker(1), lock(300)), Receipt::Success);
    assert_eq!(
        net.send(
            &staker(1),
            UnbondStake {
                amount: Amount(100 * UNIT)
            }
            .into()
        ),
        Receipt::Success
    );
    let treasury_before = net
        .state
        .account(&treasury().address())
        .map_or(0, |a| a.balance.0);
    let supply = net.state.meta().total_supply;
    let evidence = Hash::tagged("test-evidence", &[b"1"]);
    let h = net.state.height();
    let cut = slash_validator(&mut net.state, &v, evidence, h);
    assert_eq!(cut.0, 50 * UNIT, "10% of the 500 backing the validator");
    assert_eq!(
        slash_validator(&mut net.state, &v, evidence, h),
        Amount::ZERO,
        "evidence slashes once"
    );
    assert_eq!(
        net.state.stake_of(&staker(0).address()).amount.0,
        450 * UNIT
    );
    assert_eq!(
        net.state.stake_of(&staker(1).address()).amount.0,
        200 * UNIT,
        "not backing it"
    );
    assert_eq!(
        net.state.account(&treasury().address()).unwrap().balance.0,
        treasury_before + 50 * UNIT
    );
    assert_eq!(net.state.meta().total_supply, supply);
    assert_eq!(net.state.jail_of(&v).unwrap().reason, "equivocation");
    // A storage provider's own stake, bonded and unbonding, under its rule (1% in devnet).
    let cut = slash_account(
        &mut net.state,
        &staker(1).address(),
        SlashRule::StorageDeal,
        Hash::tagged("deal", &[]),
        h,
    );
    assert_eq!(cut.0, 3 * UNIT);
    net.supply_is_consistent();
    escrow_holds_all_stake(&net);
    assert_eq!(net.state.slashes(10).len(), 2);
    // Downtime: below the limit nothing happens; past it a jail, and nothing slashed.
    let other = staker(2).address();
    assert!(!depin_core::services::governance::note_downtime(
        &mut net.state,
        &other,
        9,
        h
    ));
    assert!(depin_core::services::governance::note_downtime(
        &mut net.state,
        &other,
        10,
        h
    ));
    assert_eq!(net.state.jail_of(&other).unwrap().reason, "downtime");
    assert_eq!(net.state.stake_totals().slashed.0, 53 * UNIT);
    // The only validator is jailed, but the set is never emptied.
    to_height(&mut net, EPOCH_BLOCKS + 1);
    assert_eq!(net.state.validators()[0].address, v);
}

#[test]
fn unjail_waits_for_the_jail_period() {
    let mut net = Net::new(gov_genesis(|g| g.jail_blocks = 3));
    let s = staker(3);
    let h = net.state.height();
    // Jailed through the downtime rule (the devnet's limit is 500 missed blocks).
    assert!(depin_core::services::governance::note_downtime(
        &mut net.state,
        &s.address(),
        500,
        h
    ));
    assert_eq!(code(&net.send(&s, Unjail {}.into())), "still_jailed");
    to_height(&mut net, h + 3);
    assert_eq!(net.send(&s, Unjail {}.into()), Receipt::Success);
    assert_eq!(code(&net.send(&s, Unjail {}.into())), "not_jailed");
}

/// Validator power follows backing stake at the next epoch boundary.
#[test]
fn validator_power_is_backing_stake_at_the_boundary() {
    let mut net = Net::new(gov_genesis(|_| {}));
    let v = validator().address();
    assert_eq!(net.send(&staker(0), lock(400)), Receipt::Success);
    assert_eq!(
        net.send(&staker(0), DelegateStake { validator: Some(v) }.into()),
        Receipt::Success
    );
    assert_eq!(net.state.validators()[0].power, 1);
    to_height(&mut net, EPOCH_BLOCKS + 1);
    assert_eq!(net.state.validators()[0].power, 400);
    net.replays_identically();
}

/// A denylist proposal for fraud retires the device, burns its bond and slashes its owner.
#[test]
fn fraud_denylist_proposal_forfeits_and_slashes() {
    let mut net = Net::new(gov_genesis(|g| g.slash_fraud_bps = 2_000));
    let device = hotspot(1);
    net.onboard(&device, at(0.0, 0.0));
    assert_eq!(net.send(&owner(), lock(100)), Receipt::Success);
    for i in 0..2 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    let change = ProposalKind::Denylist {
        device: device.address(),
        denied: true,
        fraud: true,
    };
    assert_eq!(net.send(&staker(0), propose(change)), Receipt::Success);
    assert_eq!(net.send(&staker(0), vote(0, Choice::Yes)), Receipt::Success);
    assert_eq!(net.send(&staker(1), vote(0, Choice::Yes)), Receipt::Success);
    let burned = net.state.meta().burned;
    to_height(&mut net, EPOCH_BLOCKS + 1);
    assert!(net.state.is_denied(&device.address()));
    assert!(net.state.device_entry(&device.address()).is_none());
    assert_eq!(net.state.stake_of(&owner().address()).amount.0, 80 * UNIT);
    assert!(net.state.meta().burned.0 >= burned.0 + 20 * UNIT);
    net.replays_identically();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Locks, unbonds, withdrawals and slashes of random sizes keep the sum of balances equal
    /// to the supply, and the escrow equal to bonded plus unbonding stake.
    #[test]
    fn staking_and_slashing_conserve_supply(
        ops in proptest::collection::vec((0u8..3, 0u8..5, 1u128..400), 1..25)
    ) {
        let mut net = Net::new(gov_genesis(|g| {
            g.unbonding_blocks = 5;
            g.slash_storage_bps = 3_333;
            g.slash_to = depin_core::services::governance::SlashTo::Treasury;
        }));
        for (n, (who, op, tokens)) in ops.into_iter().enumerate() {
            let s = staker(who);
            match op {
                0 => { net.send(&s, lock(tokens)); }
                1 => { net.send(&s, UnbondStake { amount: Amount(tokens * UNIT / 3) }.into()); }
                2 => { net.send(&s, WithdrawStake {}.into()); }
                3 => {
                    let h = net.state.height();
                    slash_account(&mut net.state, &s.address(), SlashRule::StorageDeal, Hash::tagged("e", &[&[n as u8]]), h);
                }
                _ => {
                    let h = net.state.height();
                    slash_validator(&mut net.state, &validator().address(), Hash::tagged("v", &[&[n as u8]]), h);
                }
            }
            net.supply_is_consistent();
            escrow_holds_all_stake(&net);
        }
        let t = net.state.stake_totals();
        let sum: u128 = (0..3).map(|i| net.state.stake_of(&staker(i).address()).slashable().0).sum();
        prop_assert_eq!(sum, t.bonded.0 + t.unbonding.0);
    }

    /// A proposal passes exactly when quorum and threshold are met, whatever the order of the
    /// votes (the ledger's decision equals the rule over the sums, for two orders).
    #[test]
    fn decision_is_the_rule_in_any_order(
        stakes in proptest::collection::vec(1u128..300, 4),
        choices in proptest::collection::vec(0u8..4, 4),
        rotate in 0usize..4,
    ) {
        let mut results = Vec::new();
        for order in [0usize, rotate] {
            let mut net = Net::new(gov_genesis(|_| {}));
            for (i, s) in stakes.iter().enumerate() {
                net.send(&staker(i as u8), lock(*s));
            }
            net.send(&staker(5), lock(60));
            prop_assert_eq!(net.send(&staker(5), propose(economics_change(2_000))), Receipt::Success);
            let txs: Vec<_> = (0..4)
                .map(|k| (k + order) % 4)
                .filter_map(|i| {
                    let c = match choices[i] { 0 => Choice::Yes, 1 => Choice::No, 2 => Choice::Abstain, _ => return None };
                    Some(net.tx(&staker(i as u8), vote(0, c)))
                })
                .collect();
            net.block(txs);
            let p = net.state.proposal(0).unwrap();
            to_height(&mut net, p.voting_end_height);
            let p = net.state.proposal(0).unwrap();
            let expected = outcome(p.eligible, p.yes, p.no, p.abstain, p.quorum_bps, p.threshold_bps).is_ok();
            let sum = |want: u8| Amount(stakes.iter().zip(&choices).filter(|(_, c)| **c == want).map(|(s, _)| s * UNIT).sum());
            prop_assert_eq!((p.yes, p.no, p.abstain), (sum(0), sum(1), sum(2)));
            prop_assert_eq!(matches!(p.status, Status::Passed { .. }), expected);
            results.push(p.status);
        }
        prop_assert_eq!(&results[0], &results[1]);
    }

    /// The rule itself: quorum and threshold by exact integer comparison.
    #[test]
    fn outcome_matches_rational_rule(
        eligible in 1u128..1_000_000, yes in 0u128..400_000, no in 0u128..400_000, abstain in 0u128..200_000,
        quorum in 1u32..=10_000, threshold in 5_000u32..10_000,
    ) {
        let turnout = yes + no + abstain;
        let quorum_met = turnout > 0 && turnout * 10_000 >= eligible * u128::from(quorum);
        let threshold_met = yes * 10_000 > u128::from(threshold) * (yes + no);
        let got = outcome(Amount(eligible), Amount(yes), Amount(no), Amount(abstain), quorum, threshold);
        prop_assert_eq!(got.is_ok(), quorum_met && threshold_met);
    }
}

/// The governor keys of before are gone (issue 18): a genesis naming `[devices] governor` or
/// `[demand] governor` is refused with a sentence saying what to write instead, and nothing
/// else about the genesis has to change.
#[test]
fn old_governor_keys_are_refused_with_what_to_change() {
    use depin_core::services::demand::params::preset;
    let k = governor().address();
    let devices = gov_genesis(|_| {});
    let mut old = devices.clone();
    old.modules.devices.as_mut().unwrap().governor = Some(k);
    let err = old.validate().unwrap_err().to_string();
    assert!(err.contains("devices.governor"), "{err}");
    assert!(err.contains(&format!("emergency_key = \"{k}\"")), "{err}");
    let mut old = devices.clone();
    let mut demand = preset(vec![oracle(0).address()], 4);
    demand.governor = Some(k);
    old.modules.demand = Some(demand);
    let err = old.validate().unwrap_err().to_string();
    assert!(err.contains("demand.governor"), "{err}");
    assert!(err.contains("[governance]"), "{err}");
    devices
        .validate()
        .expect("the same genesis without a governor is valid");
}

/// Without an emergency key, nobody changes the denylists or the oracle set directly (the key
/// that used to be the governor included); a proposal voted through does it at the next epoch
/// boundary. With one, that key alone may (and only it).
#[test]
fn governed_changes_go_through_proposals_and_the_emergency_key_is_the_only_shortcut() {
    let mut net = Net::new(demand_genesis(1, |g| {
        for i in 0..3 {
            g.allocations.push(Allocation {
                address: staker(i).address(),
                amount: "1000".into(),
            });
        }
        let gov = g.modules.governance.as_mut().unwrap();
        gov.emergency_key = None;
        gov.voting_period_blocks = 5;
        gov.min_proposal_stake = "50".into();
    }));
    let device = hotspot(7).address();
    let new_oracle = oracle(3).address();
    let deny = Action::from(depin_core::services::devices::SetDenylist {
        device,
        denied: true,
    });
    let set_oracle = Action::from(depin_core::services::demand::actions::SetOracle {
        oracle: new_oracle,
        authorised: true,
    });
    for key in [governor(), staker(0)] {
        assert_eq!(code(&net.send(&key, deny.clone())), "not_emergency_key");
        assert_eq!(
            code(&net.send(&key, set_oracle.clone())),
            "not_emergency_key"
        );
    }
    for i in 0..3 {
        assert_eq!(net.send(&staker(i), lock(200)), Receipt::Success);
    }
    let changes = [
        ProposalKind::Denylist {
            device,
            denied: true,
            fraud: false,
        },
        ProposalKind::OracleSet {
            oracle: new_oracle,
            authorised: true,
        },
    ];
    for (id, change) in changes.into_iter().enumerate() {
        assert_eq!(net.send(&staker(0), propose(change)), Receipt::Success);
        for i in 0..2 {
            assert_eq!(
                net.send(&staker(i), vote(id as u64, Choice::Yes)),
                Receipt::Success
            );
        }
    }
    let end = net.state.proposal(1).unwrap().voting_end_height;
    to_height(&mut net, end);
    assert_eq!(
        net.state.proposal(1).unwrap().status,
        Status::Passed { effective_epoch: 1 }
    );
    let is_oracle = |net: &Net| net.state.oracles(100).iter().any(|(a, _)| *a == new_oracle);
    // Not before the boundary.
    to_height(&mut net, EPOCH_BLOCKS);
    assert!(!net.state.is_denied(&device));
    assert!(!is_oracle(&net));
    net.block(vec![]);
    assert!(net.state.is_denied(&device));
    assert!(is_oracle(&net));
    net.replays_identically();

    // With an emergency key, that key alone changes them directly, at once.
    let mut net = Net::new(demand_genesis(1, |_| {}));
    assert_eq!(code(&net.send(&owner(), deny.clone())), "not_emergency_key");
    assert_eq!(net.send(&governor(), deny), Receipt::Success);
    assert!(net.state.is_denied(&device));
    assert_eq!(net.send(&governor(), set_oracle), Receipt::Success);
    assert!(is_oracle(&net));
}
