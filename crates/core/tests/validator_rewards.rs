//! A validator's pay shared with the stake backing it: its commission first, the rest pro rata
//! over the stake that backed it at the previous close (so stake delegated at the last moment
//! earns nothing for that epoch), a commission raise only after notice, at most 256 backers
//! paid, and every base unit of the validator's pay minted exactly once.

mod common;

use common::*;
use depin_core::genesis::{Allocation, EconomicsGenesis};
use depin_core::services::governance::GovernanceGenesis;
use depin_core::services::governance::actions::{DelegateStake, LockStake, SetCommission};
use depin_core::services::governance::rewards::{
    MAX_PAID_BACKERS, commission_at, exposure_of, split_of,
};
use depin_core::{Action, Amount, Genesis, Keypair, Receipt};
use proptest::prelude::*;

const EPOCH: u64 = 10;
/// Tokens of emission per epoch; the validators' share of it (20%) is the solo validator's pay.
const EMISSION: u128 = 1_000;
const POOL: u128 = EMISSION * TOKEN * 2_000 / 10_000;

fn staker(i: u16) -> Keypair {
    let mut seed = [130; 32];
    seed[..2].copy_from_slice(&i.to_le_bytes());
    Keypair::from_seed(seed)
}

fn rewards_genesis(stakers: u16) -> Genesis {
    let mut g = genesis(|g| {
        g.consensus.validators = Vec::new();
        g.modules.coverage = None;
        g.economics = Some(EconomicsGenesis {
            emission_per_epoch: EMISSION.to_string(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: treasury().address(),
            treasury_bps: 1_000,
            pool_weights: Default::default(),
        });
        g.modules.governance = Some(GovernanceGenesis {
            validator_reward_bps: 2_000,
            ..GovernanceGenesis::devnet()
        });
        g.allocations.push(Allocation {
            address: validator().address(),
            amount: "10".into(),
        });
        for i in 0..stakers {
            g.allocations.push(Allocation {
                address: staker(i).address(),
                amount: "1000".into(),
            });
        }
    });
    g.consensus.epoch_length_blocks = EPOCH;
    g
}

fn lock(net: &Net, key: &Keypair, nonce: u64, tokens: u128) -> depin_core::Transaction {
    net.tx_at(
        key,
        nonce,
        Action::from(LockStake {
            amount: Amount(tokens * TOKEN),
        }),
    )
}

fn back_validator(net: &Net, key: &Keypair, nonce: u64) -> depin_core::Transaction {
    net.tx_at(
        key,
        nonce,
        Action::from(DelegateStake {
            validator: Some(validator().address()),
        }),
    )
}

/// `stakers` lock `tokens[i]` each and back the validator, all in one block.
fn stake_and_back(net: &mut Net, stakers: &[(Keypair, u128)]) {
    let txs = stakers
        .iter()
        .flat_map(|(k, t)| {
            let n = net.nonce(k);
            [lock(net, k, n, *t), back_validator(net, k, n + 1)]
        })
        .collect();
    for r in net.block(txs) {
        assert_eq!(r, Receipt::Success);
    }
}

fn commission(bps: u32) -> Action {
    Action::from(SetCommission {
        commission_bps: bps,
    })
}

/// Blocks until the block that closes epoch `epoch` is done.
fn close(net: &mut Net, epoch: u64) {
    while net.state.height() < (epoch + 1) * EPOCH {
        net.block(Vec::new());
    }
}

fn balance(net: &Net, key: &Keypair) -> u128 {
    net.state.account(&key.address()).map_or(0, |a| a.balance.0)
}

#[test]
fn backers_share_the_pay_after_commission_from_the_epoch_after_they_backed() {
    let mut net = Net::new(rewards_genesis(2));
    let me = validator().address();
    let (a, b) = (staker(0), staker(1));
    assert_eq!(
        commission_at(&net.state, &me, 0),
        10_000,
        "never set: keeps all"
    );
    assert_eq!(net.send(&validator(), commission(1_000)), Receipt::Success);
    stake_and_back(&mut net, &[(staker(0), 300)]);

    // Epoch 0: nobody was exposed at the last close (there was none): the validator keeps it.
    close(&mut net, 0);
    let s = split_of(&net.state, 0, &me).unwrap();
    assert_eq!((s.pay.0, s.to_validator.0), (POOL, POOL));
    assert!(s.backers.is_empty());
    assert_eq!(
        exposure_of(&net.state, &me)
            .backers
            .iter()
            .map(|x| (x.staker, x.amount.0))
            .collect::<Vec<_>>(),
        vec![(a.address(), 300 * TOKEN)]
    );

    // Epoch 1: `b` backs the validator in the epoch's last block: not exposed, not paid.
    while net.state.height() < 2 * EPOCH - 1 {
        net.block(Vec::new());
    }
    stake_and_back(&mut net, &[(staker(1), 100)]);
    assert_eq!(net.state.height(), 2 * EPOCH);
    let (a_before, b_before) = (balance(&net, &a), balance(&net, &b));
    let s = split_of(&net.state, 1, &me).unwrap();
    assert_eq!(s.commission_bps, 1_000);
    assert_eq!(s.commission.0, POOL / 10);
    assert_eq!(
        s.backers.iter().map(|x| x.staker).collect::<Vec<_>>(),
        vec![a.address()]
    );
    assert_eq!(
        s.backers[0].amount.0,
        POOL - POOL / 10,
        "a is the whole exposure"
    );
    assert_eq!(s.to_validator.0, POOL / 10);

    // Epoch 2: both exposed, 300 : 100.
    close(&mut net, 2);
    let s = split_of(&net.state, 2, &me).unwrap();
    let rest = POOL - POOL / 10;
    assert_eq!(
        s.backers
            .iter()
            .map(|x| (x.staker, x.amount.0))
            .collect::<Vec<_>>(),
        vec![(a.address(), rest * 3 / 4), (b.address(), rest / 4)]
    );
    assert_eq!(balance(&net, &a) - a_before, rest * 3 / 4);
    assert_eq!(balance(&net, &b) - b_before, rest / 4);
    assert_eq!(
        s.to_validator.0 + s.backers.iter().map(|x| x.amount.0).sum::<u128>(),
        POOL
    );

    // Stake that leaves before the close earns nothing for the epoch: `a` backs itself again.
    let back_self = Action::from(DelegateStake { validator: None });
    assert_eq!(net.send(&a, back_self), Receipt::Success);
    close(&mut net, 3);
    let s = split_of(&net.state, 3, &me).unwrap();
    assert_eq!(
        s.backers
            .iter()
            .map(|x| (x.staker, x.amount.0))
            .collect::<Vec<_>>(),
        vec![(b.address(), rest / 4)],
        "b keeps its quarter; a's three quarters stay with the validator"
    );
    assert_eq!(s.to_validator.0, POOL - rest / 4);
    net.supply_is_consistent();
    net.replays_identically();
}

#[test]
fn a_commission_raise_waits_for_notice_and_a_cut_applies_at_once() {
    let mut net = Net::new(rewards_genesis(1));
    let me = validator().address();
    let code = |r: Receipt| match r {
        Receipt::Rejected(why) => why.code().to_string(),
        r => panic!("expected a rejection, got {r:?}"),
    };
    assert_eq!(
        code(net.send(&validator(), commission(10_001))),
        "commission_too_high"
    );
    assert_eq!(
        code(net.send(&staker(0), commission(500))),
        "not_a_validator_or_candidate"
    );
    assert_eq!(net.send(&validator(), commission(1_000)), Receipt::Success);
    stake_and_back(&mut net, &[(staker(0), 100)]);
    close(&mut net, 1);
    // In epoch 2: a raise to 50% applies from epoch 4; epochs 2 and 3 are paid at 10%.
    assert_eq!(net.send(&validator(), commission(5_000)), Receipt::Success);
    assert_eq!(commission_at(&net.state, &me, 3), 1_000);
    assert_eq!(commission_at(&net.state, &me, 4), 5_000);
    close(&mut net, 4);
    let rates: Vec<u32> = (1..=4)
        .map(|e| split_of(&net.state, e, &me).unwrap().commission_bps)
        .collect();
    assert_eq!(rates, vec![1_000, 1_000, 1_000, 5_000]);
    // In epoch 5 a cut to 2% applies to epoch 5's own pay.
    assert_eq!(net.send(&validator(), commission(200)), Receipt::Success);
    close(&mut net, 5);
    let s = split_of(&net.state, 5, &me).unwrap();
    assert_eq!((s.commission_bps, s.commission.0), (200, POOL / 50));
    net.replays_identically();
}

#[test]
fn only_the_largest_backers_are_exposed() {
    let n = MAX_PAID_BACKERS as u16 + 4;
    let mut net = Net::new(rewards_genesis(n));
    assert_eq!(net.send(&validator(), commission(0)), Receipt::Success);
    // Staker i locks 10 + i tokens: the four smallest are left out.
    let all: Vec<(Keypair, u128)> = (0..n).map(|i| (staker(i), 10 + u128::from(i))).collect();
    for chunk in all.chunks(100) {
        stake_and_back(&mut net, chunk);
    }
    close(&mut net, 1);
    let e = exposure_of(&net.state, &validator().address());
    assert_eq!(e.backers.len(), MAX_PAID_BACKERS);
    assert_eq!(
        e.backers[0].staker,
        staker(n - 1).address(),
        "largest first"
    );
    assert!(e.backers.iter().all(|x| x.amount.0 >= 14 * TOKEN));
    let s = split_of(&net.state, 1, &validator().address()).unwrap();
    assert_eq!(
        s.backers.len(),
        MAX_PAID_BACKERS,
        "every exposed backer paid"
    );
    let paid: u128 = s.backers.iter().map(|x| x.amount.0).sum();
    assert_eq!(paid + s.to_validator.0, POOL);
    assert!(
        s.to_validator.0 < MAX_PAID_BACKERS as u128,
        "only rounding is left"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Whatever the stakes, moves and commissions, each epoch's pay is minted exactly once
    /// (backers plus validator), nobody is paid more than its share of what the commission
    /// leaves at the smaller of its stake then and now, and the supply stays consistent.
    #[test]
    fn a_validator_s_pay_is_shared_exactly(
        stakes in proptest::collection::vec(1u128..500, 1..6),
        bps in proptest::collection::vec(0u32..=10_000, 3),
        leaves in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let mut net = Net::new(rewards_genesis(stakes.len() as u16));
        let me = validator().address();
        let backers: Vec<(Keypair, u128)> = stakes
            .iter()
            .enumerate()
            .map(|(i, t)| (staker(i as u16), *t))
            .collect();
        stake_and_back(&mut net, &backers);
        for (epoch, rate) in bps.iter().enumerate() {
            let epoch = epoch as u64;
            prop_assert_eq!(net.send(&validator(), commission(*rate)), Receipt::Success);
            if epoch == 1 {
                // Some backers go back to themselves mid-epoch.
                for ((k, _), leave) in backers.iter().zip(&leaves) {
                    if *leave {
                        let back_self = Action::from(DelegateStake { validator: None });
                        prop_assert_eq!(net.send(k, back_self), Receipt::Success);
                    }
                }
            }
            let exposed = exposure_of(&net.state, &me);
            close(&mut net, epoch);
            let s = split_of(&net.state, epoch, &me).unwrap();
            let paid: u128 = s.backers.iter().map(|x| x.amount.0).sum();
            prop_assert_eq!(paid + s.to_validator.0, s.pay.0);
            prop_assert_eq!(s.pay.0, POOL);
            prop_assert!(s.to_validator.0 >= s.commission.0);
            let total: u128 = exposed.backers.iter().map(|x| x.amount.0).sum();
            for x in &s.backers {
                let then = exposed.backers.iter().find(|e| e.staker == x.staker).unwrap();
                let fair = (s.pay.0 - s.commission.0) * then.amount.0 / total;
                prop_assert!(x.amount.0 <= fair, "{} > {}", x.amount.0, fair);
            }
        }
        net.supply_is_consistent();
        net.replays_identically();
    }
}
