//! The validator set elected from stake at each epoch boundary, and validator rewards for the
//! leader turns produced, on a chain driven the way the BFT driver drives it (a second ledger
//! verifies every block and must reach the same app hash): delegations move the set at the
//! next boundary and not before; jailed and under-bonded candidates are never elected; too few
//! candidates keep the set; rewards follow produced turns exactly; parameter changes apply at a
//! boundary; a solo chain's validator earns the whole share.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::bft::Bft;
use common::*;
use depin_core::economics::{EconomyView, mul_div_floor};
use depin_core::genesis::{Allocation, EconomicsGenesis};
use depin_core::services::governance::actions::{
    Candidate, DelegateStake, EmergencyEnact, LockStake, P2pEndpoint, UnbondStake,
};
use depin_core::services::governance::election::{Standing, guard, rank, seats_needed, tolerated};
use depin_core::services::governance::p2p::p2p_endpoint_of;
use depin_core::services::governance::records::GovernanceView;
use depin_core::services::governance::{GovernanceGenesis, ProposalKind, Status, check_change_on};
use depin_core::{Action, Address, Amount, Genesis, Keypair, State, StateRead};
use proptest::prelude::*;

const EPOCH: u64 = 10;
const SEATS: u32 = 4;
/// Tokens of emission per epoch, and the validators' share of it.
const EMISSION: u128 = 1_000;
const VALIDATOR_BPS: u32 = 2_000;
const POOL: u128 = EMISSION * TOKEN * VALIDATOR_BPS as u128 / 10_000;

fn v(i: u8) -> Keypair {
    Keypair::from_seed([90 + i; 32])
}
fn c(i: u8) -> Keypair {
    Keypair::from_seed([100 + i; 32])
}
fn staker() -> Keypair {
    Keypair::from_seed([120; 32])
}

fn governance() -> GovernanceGenesis {
    GovernanceGenesis {
        emergency_key: Some(governor().address()),
        downtime_jail_blocks: 3,
        jail_blocks: 5,
        max_validators: SEATS,
        min_validator_bond: "100".into(),
        validator_reward_bps: VALIDATOR_BPS,
        ..GovernanceGenesis::devnet()
    }
}

/// Four genesis validators (not candidates), six funded would-be candidates and a staker;
/// 1,000 tokens of emission an epoch, 20% of it to the validators.
fn election_genesis(edit: impl FnOnce(&mut Genesis)) -> Genesis {
    genesis(|g| {
        g.consensus.validators = (0..4).map(|i| v(i).address()).collect();
        g.consensus.epoch_length_blocks = EPOCH;
        g.modules.coverage = None;
        g.economics = Some(EconomicsGenesis {
            emission_per_epoch: EMISSION.to_string(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: treasury().address(),
            treasury_bps: 1_000,
            pool_weights: BTreeMap::new(),
        });
        for k in (0..4).map(v) {
            g.allocations.push(Allocation {
                address: k.address(),
                amount: "10".into(),
            });
        }
        for k in (0..6).map(c).chain([staker()]) {
            g.allocations.push(Allocation {
                address: k.address(),
                amount: "1000".into(),
            });
        }
        g.modules.governance = Some(governance());
        edit(g);
    })
}

fn chain(edit: impl FnOnce(&mut Genesis)) -> Bft {
    Bft::new(
        election_genesis(edit),
        (0..4)
            .map(v)
            .chain((0..6).map(c))
            .chain([staker(), governor()]),
    )
}

fn lock(tokens: u128) -> Action {
    Action::from(LockStake {
        amount: Amount(tokens * TOKEN),
    })
}

fn candidate(on: bool) -> Action {
    Action::from(Candidate { candidate: on })
}

fn set(bft: &Bft) -> BTreeSet<Address> {
    bft.state().validators().iter().map(|v| v.address).collect()
}

fn addresses(keys: impl IntoIterator<Item = u8>) -> BTreeSet<Address> {
    keys.into_iter().map(|i| c(i).address()).collect()
}

/// One block with `txs` (everyone up), every transaction applied.
fn block(bft: &mut Bft, txs: Vec<depin_core::Transaction>) {
    let n = txs.len();
    let before: Vec<u64> = txs
        .iter()
        .map(|t| bft.state().account(&t.signer).map_or(0, |a| a.nonce))
        .collect();
    bft.next_block(&BTreeSet::new(), txs.clone());
    for (t, nonce) in txs.iter().zip(before).take(n) {
        assert_eq!(
            bft.state().account(&t.signer).unwrap().nonce,
            nonce + 1,
            "the transaction of {} was included",
            t.signer
        );
    }
}

/// Candidates `(i, tokens)` lock their self-bond (one block), then declare (the next).
fn declare(bft: &mut Bft, who: &[(u8, u128)]) {
    let locks = who
        .iter()
        .map(|&(i, t)| bft.tx(&c(i).address(), lock(t)))
        .collect();
    block(bft, locks);
    let decls = who
        .iter()
        .map(|&(i, _)| bft.tx(&c(i).address(), candidate(true)))
        .collect();
    block(bft, decls);
    for &(i, _) in who {
        assert!(bft.state().candidacy_of(&c(i).address()).is_some());
    }
}

/// Runs boundary after boundary (everyone up) until the set is the last election's choice, and
/// returns how many boundaries that took after the current block. The liveness guard seats at
/// most `tolerated(n)` validators a boundary that produced nothing in the epoch before (four
/// candidates replacing four genesis validators take three more boundaries); at every boundary
/// on the way the set keeps its quorum of validators that produced.
fn converge(bft: &mut Bft) -> u64 {
    // Who produced in the epoch under way, once it was seen from its first block.
    let mut produced: Option<BTreeSet<Address>> = None;
    for extra in 0..6 {
        let elected: BTreeSet<Address> = bft
            .state()
            .last_election()
            .unwrap()
            .elected
            .into_iter()
            .collect();
        if set(bft) == elected {
            return extra;
        }
        let next = (bft.state().height() / EPOCH + 1) * EPOCH + 1;
        while bft.state().height() < next - 1 {
            let block = bft.next_block(&BTreeSet::new(), Vec::new());
            if let Some(p) = produced.as_mut() {
                p.insert(block.header.proposer);
            }
        }
        let first = bft.next_block(&BTreeSet::new(), Vec::new());
        let now = set(bft);
        if let Some(p) = produced {
            let silent = now.iter().filter(|a| !p.contains(a)).count();
            assert!(silent <= tolerated(now.len()), "{silent} silent in {now:?}");
        }
        produced = Some(BTreeSet::from([first.header.proposer]));
    }
    panic!("the set did not reach the elected one within 6 boundaries");
}

/// Runs blocks (everyone up) until the block at `height` is done.
fn to_height(bft: &mut Bft, height: u64) {
    while bft.state().height() < height {
        bft.next_block(&BTreeSet::new(), Vec::new());
    }
}

#[test]
fn delegations_move_the_set_at_the_next_boundary_and_not_before() {
    let mut bft = chain(|_| {});
    let genesis_set: BTreeSet<Address> = (0..4).map(|i| v(i).address()).collect();
    declare(
        &mut bft,
        &[(0, 100), (1, 110), (2, 120), (3, 130), (4, 140)],
    );
    to_height(&mut bft, EPOCH);
    assert_eq!(set(&bft), genesis_set, "the set changes only at a boundary");
    to_height(&mut bft, EPOCH + 1);
    let e = bft.state().last_election().unwrap();
    assert_eq!(
        (e.epoch, e.height, e.qualified, e.seats),
        (1, EPOCH + 1, 5, 4)
    );
    let order: Vec<Address> = [4, 3, 2, 1].iter().map(|i| c(*i).address()).collect();
    assert_eq!(e.elected, order, "ranked by backing");
    assert!(e.kept.is_none());
    // The best-backed newcomer takes a seat at once; live genesis validators keep the others
    // until the newcomers have produced.
    let first = set(&bft);
    assert!(first.contains(&c(4).address()));
    assert_eq!(first.intersection(&genesis_set).count(), 3);
    assert_eq!(
        converge(&mut bft),
        3,
        "one, then two, then all four newcomers"
    );
    assert_eq!(set(&bft), addresses(1..5), "the top four by backing");
    assert_eq!(
        bft.participants.len(),
        4,
        "the consensus epoch runs the elected set"
    );
    assert!(
        bft.participants.iter().all(|p| addresses(1..5).contains(p)),
        "the driver's participants are the elected set"
    );
    // Power is the backing in whole tokens.
    let powers: BTreeMap<Address, u64> = bft
        .state()
        .validators()
        .iter()
        .map(|v| (v.address, v.power))
        .collect();
    assert_eq!(powers[&c(4).address()], 140);

    // The staker backs c0 with 100: 200 in all, the most.
    let s = staker().address();
    let t = bft.tx(&s, lock(100));
    block(&mut bft, vec![t]);
    let t = bft.tx(
        &s,
        Action::from(DelegateStake {
            validator: Some(c(0).address()),
        }),
    );
    block(&mut bft, vec![t]);
    assert_eq!(bft.state().backing_of(&c(0).address()), Amount(200 * TOKEN));
    let boundary = (bft.state().height() / EPOCH + 1) * EPOCH;
    while bft.state().height() < boundary {
        bft.next_block(&BTreeSet::new(), Vec::new());
        assert_eq!(set(&bft), addresses(1..5), "not before the boundary");
    }
    // One newcomer in a set of four: at once.
    to_height(&mut bft, boundary + 1);
    assert_eq!(
        set(&bft),
        addresses([0, 2, 3, 4]),
        "c0 in, c1 (least backed) out"
    );
    assert_eq!(
        bft.state().last_election().unwrap().elected[0],
        c(0).address()
    );
    // The new set proposes.
    let proposers: BTreeSet<Address> = (0..8)
        .map(|_| bft.next_block(&BTreeSet::new(), Vec::new()).header.proposer)
        .collect();
    assert!(proposers.contains(&c(0).address()));
    assert!(!proposers.contains(&c(1).address()));
}

#[test]
fn jailed_and_under_bonded_candidates_are_never_elected() {
    let mut bft = chain(|_| {});
    declare(
        &mut bft,
        &[(0, 100), (1, 110), (2, 120), (3, 130), (4, 140), (5, 100)],
    );
    // c5 gets the most backing, then unbonds half its own bond: 50 < the minimum of 100.
    let s = staker().address();
    let t = bft.tx(&s, lock(500));
    block(&mut bft, vec![t]);
    let t = bft.tx(
        &s,
        Action::from(DelegateStake {
            validator: Some(c(5).address()),
        }),
    );
    block(&mut bft, vec![t]);
    let t = bft.tx(
        &c(5).address(),
        Action::from(UnbondStake {
            amount: Amount(50 * TOKEN),
        }),
    );
    block(&mut bft, vec![t]);
    assert_eq!(bft.state().backing_of(&c(5).address()), Amount(550 * TOKEN));
    to_height(&mut bft, EPOCH + 1);
    converge(&mut bft);
    assert_eq!(
        set(&bft),
        addresses(1..5),
        "c5 is under-bonded, c0 least backed"
    );
    assert_eq!(bft.state().last_election().unwrap().qualified, 5);

    // c4 (the best backed member) goes down until it is jailed for downtime.
    let down = BTreeSet::from([c(4).address()]);
    while bft.state().jail_of(&c(4).address()).is_none() {
        bft.next_block(&down, Vec::new());
    }
    let next = bft.state().height() / EPOCH + 1;
    for boundary in [next, next + 1] {
        to_height(&mut bft, boundary * EPOCH + 1);
        assert_eq!(
            set(&bft),
            addresses(0..4),
            "jailed c4 is left out, c0 takes the seat"
        );
        assert!(!bft.participants.contains(&c(4).address()));
        assert!(!bft.participants.contains(&c(5).address()));
    }
    assert!(
        bft.state().slashes(10).is_empty(),
        "downtime is never slashed"
    );
}

#[test]
fn too_few_candidates_keep_the_set_with_the_reason_recorded() {
    let mut bft = chain(|_| {});
    let genesis_set: BTreeSet<Address> = (0..4).map(|i| v(i).address()).collect();
    declare(&mut bft, &[(0, 100), (1, 100), (2, 100)]);
    to_height(&mut bft, EPOCH + 1);
    assert_eq!(
        set(&bft),
        genesis_set,
        "three qualify for a set that needs four"
    );
    let e = bft.state().last_election().unwrap();
    assert_eq!(e.qualified, 3);
    assert!(e.elected.is_empty());
    let (code, why) = e.kept.unwrap();
    assert_eq!(code, "too_few_candidates");
    assert!(why.contains("3 candidates qualified"), "{why}");
    assert!(why.contains("4 seats"), "{why}");
    // A fourth declares: elected at the next boundary.
    declare(&mut bft, &[(3, 100)]);
    to_height(&mut bft, 2 * EPOCH + 1);
    converge(&mut bft);
    assert_eq!(set(&bft), addresses(0..4));
    assert!(bft.state().last_election().unwrap().kept.is_none());
    // Candidacy withdrawn by one: three left, the set is kept (never shrinks below four).
    let t = bft.tx(&c(2).address(), candidate(false));
    block(&mut bft, vec![t]);
    assert!(bft.state().candidacy_of(&c(2).address()).is_none());
    let next = (bft.state().height() / EPOCH + 1) * EPOCH + 1;
    to_height(&mut bft, next);
    assert_eq!(set(&bft), addresses(0..4));
    assert_eq!(
        bft.state().last_election().unwrap().kept.unwrap().0,
        "too_few_candidates"
    );
}

/// Each validator's turns in the blocks of heights `from..=to`, counted view by view by the
/// driver model: (produced, skipped).
type Turns = BTreeMap<Address, (u64, u64)>;

fn run_counting(bft: &mut Bft, to: u64, mut down: impl FnMut(&Address) -> bool, turns: &mut Turns) {
    while bft.state().height() < to {
        let block = bft.next_block_with(&mut down, Vec::new());
        turns.entry(block.header.proposer).or_default().0 += 1;
        for s in bft.skipped.clone() {
            turns.entry(s).or_default().1 += 1;
        }
    }
}

/// The ledger paid epoch `epoch` exactly by the rule over the model's turns, and the supply is
/// the balances.
fn paid_by_the_rule(bft: &Bft, epoch: u64, turns: &Turns, pool: u128) {
    let all: u128 = turns.values().map(|(p, s)| u128::from(p + s)).sum();
    let produced: u128 = turns.values().map(|(p, _)| u128::from(*p)).sum();
    let records = bft.state().validator_rewards(epoch);
    assert_eq!(records.len(), turns.len());
    let mut paid = 0;
    for r in &records {
        let (p, s) = turns[&r.validator];
        assert_eq!((r.produced, r.skipped), (p, s), "{}", r.validator);
        assert_eq!(r.amount.0, mul_div_floor(pool, u128::from(p), all));
        paid += r.amount.0;
    }
    let summary = bft.state().epoch_summary(epoch).unwrap();
    assert_eq!(summary.validator_pool.0, pool);
    assert_eq!(summary.validator_paid.0, paid);
    let earned = mul_div_floor(pool, produced, all);
    assert_eq!(summary.validator_forfeited.0, pool - earned);
    assert!(
        earned - paid < turns.len() as u128,
        "dust below one unit a validator"
    );
    assert_eq!(
        bft.state().sum_of_balances(),
        bft.state().meta().total_supply
    );
}

#[test]
fn rewards_follow_produced_turns_and_a_validator_down_half_its_turns_earns_half() {
    let mut bft = chain(|_| {});
    declare(&mut bft, &[(0, 100), (1, 100), (2, 100), (3, 100)]);
    to_height(&mut bft, EPOCH + 1);
    converge(&mut bft);
    // The first whole epoch of the elected set in which the one down half its turns leads an
    // even number of views.
    let first = bft.state().height() / EPOCH + 1;
    to_height(&mut bft, first * EPOCH);
    // One of them is down on every other turn it leads (tried in turn until one leads an even
    // number of views in the epoch).
    let mut epoch = first;
    let (turns, before, supply, half) = loop {
        let half = c(u8::try_from((epoch - first) % 4).unwrap()).address();
        let before: BTreeMap<Address, u128> = (0..4)
            .map(|i| {
                let a = c(i).address();
                (a, bft.state().account(&a).unwrap().balance.0)
            })
            .collect();
        let supply = bft.state().meta().total_supply;
        let mut turns = Turns::new();
        let mut toggle = false;
        run_counting(
            &mut bft,
            (epoch + 1) * EPOCH,
            |leader| {
                if *leader != half {
                    return false;
                }
                toggle = !toggle;
                toggle
            },
            &mut turns,
        );
        if turns[&half].0 == turns[&half].1 || epoch == first + 8 {
            break (turns, before, supply, half);
        }
        epoch += 1;
    };
    paid_by_the_rule(&bft, epoch, &turns, POOL);
    let (p, s) = turns[&half];
    assert_eq!(p, s, "down exactly half its turns");
    let full = turns
        .iter()
        .find(|(a, (_, s))| **a != half && *s == 0)
        .map(|(a, t)| (*a, t.0))
        .unwrap();
    let all: u128 = turns.values().map(|(p, s)| u128::from(p + s)).sum();
    let reward = |a: &Address| {
        bft.state()
            .validator_rewards(epoch)
            .iter()
            .find(|r| r.validator == *a)
            .unwrap()
            .amount
            .0
    };
    // Half of what its 2p turns would have earned if produced, rounded down to the base unit.
    assert_eq!(reward(&half), mul_div_floor(POOL, u128::from(p), all));
    let if_up = mul_div_floor(POOL, u128::from(2 * p), all);
    assert!(if_up - 2 * reward(&half) <= 1);
    // Validators are paid into their balances; the supply grows by what was minted.
    for (a, b) in &before {
        let now = bft.state().account(a).unwrap().balance.0;
        assert_eq!(
            now - b,
            reward(a),
            "{a} got exactly its reward (no fees paid)"
        );
    }
    let summary = bft.state().epoch_summary(epoch).unwrap();
    assert_eq!(
        bft.state().meta().total_supply.0 - supply.0,
        EMISSION * TOKEN - summary.unminted.0,
        "the epoch minted its emission but the unminted part"
    );
    assert!(full.1 > 0);
}

#[test]
fn parameter_changes_by_proposal_apply_at_the_boundary() {
    let mut bft = chain(|_| {});
    declare(
        &mut bft,
        &[(0, 100), (1, 110), (2, 120), (3, 130), (4, 140)],
    );
    to_height(&mut bft, EPOCH + 1);
    let section = GovernanceGenesis {
        max_validators: 3,
        validator_reward_bps: 1_000,
        ..governance()
    };
    let enact = Action::from(EmergencyEnact {
        title: "three seats, 10%".into(),
        change: ProposalKind::ModuleParams {
            module: "governance".into(),
            section: serde_json::to_string(&section).unwrap(),
        },
    });
    let t = bft.tx(&governor().address(), enact);
    block(&mut bft, vec![t]);
    assert!(bft.state().proposal(0).is_some());
    while bft.state().height() < 2 * EPOCH {
        bft.next_block(&BTreeSet::new(), Vec::new());
        assert_eq!(set(&bft).len(), 4, "four seats until the boundary");
    }
    assert_eq!(
        bft.state().epoch_summary(1).unwrap().validator_pool.0,
        POOL,
        "epoch 1 is paid under the old share"
    );
    to_height(&mut bft, 2 * EPOCH + 1);
    converge(&mut bft);
    assert_eq!(set(&bft), addresses(2..5), "the top three");
    to_height(&mut bft, 3 * EPOCH);
    assert_eq!(
        bft.state().epoch_summary(2).unwrap().validator_pool.0,
        POOL / 2,
        "epoch 2 under the new one"
    );
}

#[test]
fn validator_set_proposals_give_way_to_the_election() {
    // Election on: refused when proposed, with what to do instead.
    let bft = chain(|_| {});
    let change = ProposalKind::ValidatorSet {
        validators: vec![v(0).address()],
    };
    let why = check_change_on(bft.state().params(), &change).unwrap_err();
    assert_eq!(why.code(), "bad_change");
    assert!(
        why.to_string().contains("elects its validator set"),
        "{why}"
    );

    // Election off (genesis), switched on by a change enacted before a validator-set change:
    // at the boundary the first applies, the second fails, and the set is elected.
    let mut bft = chain(|g| {
        let gov = g.modules.governance.as_mut().unwrap();
        gov.max_validators = 0;
    });
    assert!(check_change_on(bft.state().params(), &change).is_ok());
    declare(&mut bft, &[(0, 100), (1, 100), (2, 100), (3, 100)]);
    let on = ProposalKind::ModuleParams {
        module: "governance".into(),
        section: serde_json::to_string(&governance()).unwrap(),
    };
    for change in [on, change] {
        let t = bft.tx(
            &governor().address(),
            Action::from(EmergencyEnact {
                title: "switch".into(),
                change,
            }),
        );
        block(&mut bft, vec![t]);
    }
    to_height(&mut bft, EPOCH + 1);
    assert!(matches!(
        bft.state().proposal(0).unwrap().status,
        Status::Applied { .. }
    ));
    match bft.state().proposal(1).unwrap().status {
        Status::Failed { code, .. } => assert_eq!(code, "election_on"),
        s => panic!("the validator-set change should fail, got {s:?}"),
    }
    converge(&mut bft);
    assert_eq!(set(&bft), addresses(0..4));
}

#[test]
fn a_solo_validator_earns_the_whole_share_and_keeps_its_seat() {
    let solo = |bps: u32| {
        let mut g = election_genesis(|g| {
            g.consensus.validators = Vec::new();
            g.modules.governance.as_mut().unwrap().validator_reward_bps = bps;
        });
        g.consensus.epoch_length_blocks = EPOCH;
        let mut net = Net::new(g);
        for _ in 0..=EPOCH {
            net.block(Vec::new());
        }
        net
    };
    let mut net = solo(VALIDATOR_BPS);
    let me = validator().address();
    assert_eq!(
        net.state.account(&me).map(|a| a.balance.0),
        Some(POOL),
        "every turn of a solo epoch is the validator's, produced"
    );
    let r = net.state.validator_rewards(0);
    assert_eq!(
        (r[0].produced, r[0].skipped, r[0].amount.0),
        (EPOCH, 0, POOL)
    );
    assert_eq!(
        net.state
            .validators()
            .iter()
            .map(|v| v.address)
            .collect::<Vec<_>>(),
        vec![me],
        "no candidate: the one validator stays"
    );
    assert_eq!(
        net.state.last_election().unwrap().kept.unwrap().0,
        "too_few_candidates"
    );
    net.supply_is_consistent();
    net.replays_identically();

    // 0: the close of a network without validator rewards.
    let off = solo(0);
    assert!(off.state.account(&me).is_none_or(|a| a.balance.is_zero()));
    assert!(off.state.validator_rewards(0).is_empty());
    let s = off.state.epoch_summary(0).unwrap();
    assert_eq!(s.validator_pool, Amount::ZERO);
    assert_eq!(
        s.treasury,
        net.state.epoch_summary(0).unwrap().treasury,
        "the treasury's share does not move"
    );
}

#[test]
fn a_candidacy_needs_a_self_bond_and_a_minimum() {
    let mut net = Net::new(election_genesis(|_| {}));
    let code = |r: depin_core::Receipt| match r {
        depin_core::Receipt::Rejected(why) => why.code().to_string(),
        r => panic!("expected a rejection, got {r:?}"),
    };
    assert_eq!(code(net.send(&c(0), candidate(true))), "self_bond_short");
    assert_eq!(code(net.send(&c(0), candidate(false))), "not_a_candidate");
    assert_eq!(net.send(&c(0), lock(99)), depin_core::Receipt::Success);
    assert_eq!(code(net.send(&c(0), candidate(true))), "self_bond_short");
    assert_eq!(net.send(&c(0), lock(1)), depin_core::Receipt::Success);
    assert_eq!(
        net.send(&c(0), candidate(true)),
        depin_core::Receipt::Success
    );
    assert_eq!(code(net.send(&c(0), candidate(true))), "already_candidate");
    // Anyone may now back the candidate, though it is not (yet) a validator.
    assert_eq!(net.send(&staker(), lock(10)), depin_core::Receipt::Success);
    let to_c0 = Action::from(DelegateStake {
        validator: Some(c(0).address()),
    });
    assert_eq!(net.send(&staker(), to_c0), depin_core::Receipt::Success);
    // A stranger cannot be backed.
    let to_c1 = Action::from(DelegateStake {
        validator: Some(c(1).address()),
    });
    assert_eq!(code(net.send(&staker(), to_c1)), "not_a_validator");
    assert_eq!(
        net.send(&c(0), candidate(false)),
        depin_core::Receipt::Success
    );
    assert!(net.state.candidacy_of(&c(0).address()).is_none());
}

/// A candidate (or a validator) registers where its p2p listens; the endpoint is checked
/// (host:port, no lookup), anyone else is refused, and an empty one removes it.
#[test]
fn a_candidate_registers_its_p2p_endpoint_on_chain() {
    let mut net = Net::new(election_genesis(|_| {}));
    let code = |r: depin_core::Receipt| match r {
        depin_core::Receipt::Rejected(why) => why.code().to_string(),
        r => panic!("expected a rejection, got {r:?}"),
    };
    let endpoint = |p2p: &str| {
        Action::from(P2pEndpoint {
            p2p: p2p.to_string(),
        })
    };
    let at = "validator-4.example.org:26600";
    assert_eq!(
        code(net.send(&c(0), endpoint(at))),
        "not_a_validator_or_candidate"
    );
    assert_eq!(net.send(&c(0), lock(100)), depin_core::Receipt::Success);
    assert_eq!(
        net.send(&c(0), candidate(true)),
        depin_core::Receipt::Success
    );
    for bad in ["validator-4", "10.0.0.1:0", "[::1:26600", "a b:1"] {
        assert_eq!(
            code(net.send(&c(0), endpoint(bad))),
            "bad_p2p_endpoint",
            "{bad}"
        );
    }
    let long = format!("{}:1", "a".repeat(300));
    assert_eq!(code(net.send(&c(0), endpoint(&long))), "field_too_long");
    assert_eq!(p2p_endpoint_of(&net.state, &c(0).address()), None);
    assert_eq!(net.send(&c(0), endpoint(at)), depin_core::Receipt::Success);
    assert_eq!(
        p2p_endpoint_of(&net.state, &c(0).address()).as_deref(),
        Some(at)
    );
    assert_eq!(
        net.send(&c(0), endpoint("[2001:db8::4]:26600")),
        depin_core::Receipt::Success
    );
    assert_eq!(
        p2p_endpoint_of(&net.state, &c(0).address()).as_deref(),
        Some("[2001:db8::4]:26600")
    );
    // A genesis validator that never declared may register too.
    assert_eq!(
        net.send(&v(1), endpoint("10.0.0.2:26601")),
        depin_core::Receipt::Success
    );
    assert_eq!(net.send(&c(0), endpoint("")), depin_core::Receipt::Success);
    assert_eq!(p2p_endpoint_of(&net.state, &c(0).address()), None);
}

#[test]
fn election_parameters_are_checked() {
    let refused = |edit: fn(&mut GovernanceGenesis), field: &str| {
        let mut g = election_genesis(|_| {});
        edit(g.modules.governance.as_mut().unwrap());
        let err = State::genesis(&g).err().expect("refused").to_string();
        assert!(err.contains(field), "{err}");
    };
    refused(|g| g.max_validators = 101, "governance.max_validators");
    refused(
        |g| g.min_validator_bond = "0".into(),
        "governance.min_validator_bond",
    );
    refused(
        |g| g.validator_reward_bps = 9_001,
        "governance.validator_reward_bps",
    );
    // With treasury 10%, 90% is the most the validators' share can be.
    let mut g = election_genesis(|_| {});
    g.modules.governance.as_mut().unwrap().validator_reward_bps = 9_000;
    assert!(State::genesis(&g).is_ok());
    // And an economics change that would overlap is refused.
    let state = State::genesis(&election_genesis(|_| {})).unwrap();
    let mut e = election_genesis(|_| {}).economics.unwrap();
    e.treasury_bps = 8_001;
    let why = check_change_on(
        state.params(),
        &ProposalKind::Economics {
            section: serde_json::to_string(&e).unwrap(),
        },
    )
    .unwrap_err();
    assert!(why.to_string().contains("validator_reward_bps"), "{why}");
}

fn standing(i: u8, self_bond: u128, delegated: u128, jailed: bool) -> Standing {
    Standing {
        address: Address([i; 32]),
        self_bond: Amount(self_bond),
        backing: Amount(self_bond + delegated),
        jailed,
    }
}

proptest! {
    /// Whatever the candidates, the election seats `min(seats, qualified)` of them, every one
    /// qualified, none left out with more backing than one seated (ties by address), in rank
    /// order, and the same result whatever order the candidates were read in.
    #[test]
    fn the_election_seats_the_best_backed_qualified_candidates(
        cands in proptest::collection::vec((0u128..300, 0u128..300, any::<bool>()), 0..20),
        min in 0u128..200,
        seats in 1u32..8,
        rotate in 0usize..20,
    ) {
        let list: Vec<Standing> = cands
            .iter()
            .enumerate()
            .map(|(i, (b, d, j))| standing(i as u8, *b, *d, *j))
            .collect();
        let (elected, qualified) = rank(&list, Amount(min), seats);
        let q: Vec<&Standing> = list.iter().filter(|s| s.qualifies(Amount(min))).collect();
        prop_assert_eq!(qualified as usize, q.len());
        prop_assert_eq!(elected.len(), q.len().min(seats as usize));
        let by = |a: &Address| list.iter().find(|s| s.address == *a).unwrap();
        for w in elected.windows(2) {
            let (x, y) = (by(&w[0]), by(&w[1]));
            prop_assert!(x.backing > y.backing || (x.backing == y.backing && x.address < y.address));
        }
        for s in &list {
            if elected.contains(&s.address) {
                prop_assert!(!s.jailed && s.self_bond.0 >= min.max(1));
            } else if s.qualifies(Amount(min)) {
                let last = by(elected.last().unwrap());
                prop_assert!(s.backing < last.backing || (s.backing == last.backing && s.address > last.address));
            }
        }
        let mut shuffled = list.clone();
        shuffled.rotate_left(rotate.min(list.len()));
        prop_assert_eq!(rank(&shuffled, Amount(min), seats).0, elected);
    }
}

#[test]
fn an_election_never_shrinks_a_set_below_what_consensus_needs() {
    assert_eq!(seats_needed(0), 1);
    assert_eq!(seats_needed(1), 1);
    assert_eq!(seats_needed(3), 3);
    assert_eq!(seats_needed(4), 4);
    assert_eq!(seats_needed(40), 4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Whatever validators are down at each view, each epoch's validator rewards are exactly
    /// `floor(pool * produced / all turns)` of the turns the driver model counted view by view,
    /// the pool balances to the base unit, and the verifying ledger agrees on every app hash.
    #[test]
    fn rewards_are_the_rule_over_the_turns_whatever_the_downtime(
        downs in proptest::collection::vec(proptest::option::of(0u8..4), 30),
    ) {
        let mut bft = chain(|g| {
            // No jail in this run: only the pay is looked at.
            g.modules.governance.as_mut().unwrap().downtime_jail_blocks = 1_000;
        });
        declare(&mut bft, &[(0, 100), (1, 100), (2, 100), (3, 100)]);
        to_height(&mut bft, 2 * EPOCH);
        let mut turns = Turns::new();
        let mut views = downs.into_iter().cycle();
        run_counting(
            &mut bft,
            3 * EPOCH,
            |leader| views.next().flatten().is_some_and(|i| c(i).address() == *leader),
            &mut turns,
        );
        paid_by_the_rule(&bft, 2, &turns, POOL);
    }
}

fn producers_of(set: &[Address]) -> Vec<Address> {
    let mut p = set.to_vec();
    p.sort();
    p
}

fn addr(i: u8) -> Address {
    Keypair::from_seed([200u8.wrapping_add(i); 32]).address()
}

#[test]
fn a_set_tolerates_a_third_of_its_members_down() {
    let f: Vec<usize> = (0..=10).map(tolerated).collect();
    assert_eq!(f, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
}

/// Downtime seed 551 of the BFT simulation, by hand: the set {0, 1, 2} ran the epoch, 0
/// produced (it is live) but was jailed for downtime, 3 unjailed while still down. The
/// boundary chose {1, 2, 3} (one silent member where three tolerate none): the guard keeps 0,
/// and the set of four tolerates its one silent member.
#[test]
fn the_guard_keeps_a_live_member_jailed_for_downtime_rather_than_seat_a_silent_one() {
    let (a0, a1, a2, a3) = (addr(0), addr(1), addr(2), addr(3));
    let mut producers = vec![a0, a1, a2];
    producers.sort();
    let out = guard(&[a1, a2, a3], &[a0, a1, a2], &producers, usize::MAX, |_| {
        true
    });
    assert_eq!(out.set, [a1, a2, a3, a0]);
    assert_eq!(out.reseated, [a0]);
    assert!(out.deferred.is_empty());
    // Jailed for equivocation it may not stay: the silent newcomer waits instead.
    let out = guard(&[a1, a2, a3], &[a0, a1, a2], &producers, usize::MAX, |a| {
        *a != a0
    });
    assert_eq!(out.set, [a1, a2]);
    assert_eq!(out.deferred, [a3]);
    // Three seats still let it seat a fourth: a set of three could never take in a newcomer.
    let out = guard(&[a1, a2, a3], &[a0, a1, a2], &producers, 3, |_| true);
    assert_eq!(out.set, [a1, a2, a3, a0]);
    // A safe choice is left alone, and a solo chain's hand-off is not guarded.
    let all = [a0, a1, a2, a3];
    assert_eq!(guard(&all, &[a0, a1, a2], &producers, 4, |_| true).set, all);
    assert_eq!(
        guard(&[a1, a2, a3], &[a0], &[a0], 4, |_| true).set,
        [a1, a2, a3]
    );
    // Four newcomers elected in place of four live validators: one comes in (the best
    // ranked), three live ones keep the seats of the others for now.
    let new: Vec<Address> = (4..8).map(addr).collect();
    let out = guard(&new, &all, &producers_of(&all), 4, |_| true);
    let mut kept = all.to_vec();
    kept.sort();
    assert_eq!(out.set, [new[0], kept[0], kept[1], kept[2]]);
    assert_eq!(out.deferred, [new[3], new[2], new[1]]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For any set before, any choice at the boundary and any history of who produced: the set
    /// that takes office has at most `tolerated(n)` members that produced nothing, unless the set
    /// before had at most one member or nobody chosen or re-seatable produced (then the choice
    /// stands unchanged). It only adds live members of the set before that may stay, only
    /// defers silent chosen ones, never repeats a member, and does not depend on the order of
    /// the set before.
    #[test]
    fn the_guarded_set_never_has_more_silent_members_than_it_tolerates(
        before in proptest::collection::btree_set(0u8..12, 0..8),
        chosen in proptest::collection::btree_set(0u8..12, 0..8),
        produced in proptest::collection::btree_set(0u8..12, 0..12),
        barred in proptest::collection::btree_set(0u8..12, 0..3),
        shuffle in any::<u64>(),
        cap in proptest::option::of(1usize..10),
    ) {
        let before: Vec<Address> = before.into_iter().map(addr).collect();
        let mut chosen: Vec<Address> = chosen.into_iter().map(addr).collect();
        let turn = (shuffle as usize) % chosen.len().max(1);
        chosen.rotate_left(turn);
        let mut producers: Vec<Address> = produced.iter().map(|i| addr(*i)).collect();
        producers.sort();
        let barred: Vec<Address> = barred.into_iter().map(addr).collect();
        let may_stay = |a: &Address| !barred.contains(a);
        let live = |a: &Address| producers.contains(a);
        let cap = cap.map_or(usize::MAX, |c| c.max(chosen.len()));
        let out = guard(&chosen, &before, &producers, cap, may_stay);
        prop_assert!(out.set.len() <= cap.max(4).max(chosen.len()));
        let silent = out.set.iter().filter(|a| !live(a)).count();
        if out.set == chosen && out.reseated.is_empty() && out.deferred.is_empty() {
            prop_assert!(
                silent <= tolerated(chosen.len())
                    || before.len() <= 1
                    || (!chosen.iter().any(live)
                        && !before.iter().any(|a| live(a) && may_stay(a) && !chosen.contains(a)))
            );
        } else {
            prop_assert!(silent <= tolerated(out.set.len()));
            prop_assert!(!out.set.is_empty());
        }
        let mut seen = out.set.clone();
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), out.set.len());
        for a in &out.reseated {
            prop_assert!(before.contains(a) && live(a) && may_stay(a) && !chosen.contains(a));
        }
        for a in &out.deferred {
            prop_assert!(chosen.contains(a) && !live(a));
        }
        for a in &out.set {
            prop_assert!(chosen.contains(a) || out.reseated.contains(a));
        }
        prop_assert_eq!(out.set.len() + out.deferred.len(), chosen.len() + out.reseated.len());
        let mut reversed = before.clone();
        reversed.reverse();
        prop_assert_eq!(guard(&chosen, &reversed, &producers, cap, may_stay), out);
    }
}
