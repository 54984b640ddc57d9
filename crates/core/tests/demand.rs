//! The demand module through whole blocks: oracle prices, burn-and-mint credits, delegation,
//! co-signed usage receipts (every check refuses with its own reason code and charges nothing),
//! fees in credits, and the epoch's demand and bootstrap pools: paid exactly, conserved, never
//! profitable to self-deal, and identical on replay.

mod common;

use common::*;
use depin_core::economics::{BootstrapDecay, EconomyView, TokenPrice};
use depin_core::modules::coverage::preset;
use depin_core::services::demand::actions::{
    BuyCredits, DelegateCredits, SetOracle, SubmitPrice, UsageReceipt,
};
use depin_core::services::demand::records::{CreditBalance, DemandView, credits_key};
use depin_core::services::devices::SetDenylist;
use depin_core::{Action, Address, Amount, Genesis, Keypair, Receipt, StateRead};
use proptest::prelude::*;

/// A network with one oracle price of $0.50 and hotspot 1 onboarded at Berlin.
fn priced_net(edit: impl FnOnce(&mut Genesis)) -> Net {
    let mut net = Net::new(demand_genesis(1, edit));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    net.onboard(&hotspot(1), preset::BERLIN);
    net
}

/// A receipt for `packets` packets over `[start, end)` seconds after genesis.
fn receipt(
    net: &Net,
    payer: &Keypair,
    device: &Keypair,
    start_s: u64,
    end_s: u64,
    packets: u64,
) -> UsageReceipt {
    let t0 = net.genesis.genesis_time_ms;
    UsageReceipt::signed(
        CHAIN_ID,
        payer,
        device,
        t0 + start_s * 1000,
        t0 + end_s * 1000,
        packets,
        0,
    )
}

fn credits(net: &Net, who: &Keypair) -> u128 {
    net.state
        .credits(&who.address())
        .map_or(0, |c| c.spendable_on_data())
}

#[test]
fn oracle_checks_each_refuse_with_their_own_code() {
    let mut net = Net::new(demand_genesis(1, |_| {}));
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(code(&net.send(&fleet(), a)), "not_oracle");
    let a = price_action(&net, 0);
    assert_eq!(code(&net.send(&oracle(0), a)), "zero_price");
    let stale = Action::from(SubmitPrice {
        price: TokenPrice(HALF_DOLLAR),
        observed_at_ms: net.time_ms - 700_000,
    });
    assert_eq!(code(&net.send(&oracle(0), stale)), "stale_price");
    let future = Action::from(SubmitPrice {
        price: TokenPrice(HALF_DOLLAR),
        observed_at_ms: net.time_ms + 60_000,
    });
    assert_eq!(code(&net.send(&oracle(0), future)), "price_from_future");
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a.clone()), Receipt::Success);
    assert_eq!(code(&net.send(&oracle(0), a)), "price_not_newer");

    // The governor changes the set; nobody else can.
    let add = Action::from(SetOracle {
        oracle: oracle(5).address(),
        authorised: true,
    });
    assert_eq!(code(&net.send(&fleet(), add.clone())), "not_emergency_key");
    assert_eq!(net.send(&governor(), add), Receipt::Success);
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(5), a), Receipt::Success);
    let remove = Action::from(SetOracle {
        oracle: oracle(5).address(),
        authorised: false,
    });
    assert_eq!(net.send(&governor(), remove), Receipt::Success);
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(code(&net.send(&oracle(5), a)), "not_oracle");
    assert_eq!(net.state.oracles(usize::MAX).len(), 1);

    let mut plain = Net::new(genesis(|_| {}));
    let a = price_action(&plain, HALF_DOLLAR);
    assert_eq!(code(&plain.send(&owner(), a)), "demand_disabled");
}

#[test]
fn the_ledger_mints_at_the_conservative_side_of_the_median_and_needs_a_quorum() {
    let mut net = Net::new(demand_genesis(3, |g| {
        let d = g.modules.demand.as_mut().unwrap();
        d.min_oracle_prices = 2;
        // The median's own mechanics: no bound on one report's move, no breaker.
        d.max_price_move_bps = 0;
        d.max_price_spread_bps = 0;
    }));
    let a = price_action(&net, 40_000_000);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    assert_eq!(
        net.state.quote(net.time_ms),
        None,
        "one price is below the quorum"
    );
    assert_eq!(
        code(&net.send(&fleet(), buy(TOKEN, &fleet()))),
        "no_oracle_price"
    );
    let a = price_action(&net, 50_000_000);
    assert_eq!(net.send(&oracle(1), a), Receipt::Success);
    let a = price_action(&net, 60_000_000);
    assert_eq!(net.send(&oracle(2), a), Receipt::Success);
    let q = net.state.quote(net.time_ms).unwrap();
    assert_eq!((q.median.0, q.minting.0), (50_000_000, 40_000_000));
    // One token at $0.40 buys $0.40 of credits at $0.00001 each.
    assert_eq!(net.send(&fleet(), buy(TOKEN, &fleet())), Receipt::Success);
    assert_eq!(credits(&net, &fleet()), 40_000);
    // An hour later every price has left the window.
    net.time_ms += 3_600_000;
    assert_eq!(
        code(&net.send(&fleet(), buy(TOKEN, &fleet()))),
        "no_oracle_price"
    );
}

/// Oracle safety (issue 12): with the preset's three oracles, one report of `u64::MAX` (which
/// used to make onboarding fees one base unit) is recorded at +10% of its oracle's own price and
/// does not move the median; two colluding oracles move it by at most 10% per report; and when
/// the fresh prices spread over 20% around their median no credits are minted.
#[test]
fn one_oracle_moves_the_price_at_most_the_bound_and_a_split_stops_minting() {
    let mut net = Net::new(demand_genesis(3, |_| {}));
    for i in 0..3 {
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(i), a), Receipt::Success);
    }
    let q = net.state.quote(net.time_ms).unwrap();
    assert_eq!(q.median.0, HALF_DOLLAR);
    let spike = price_action(&net, u64::MAX);
    assert_eq!(net.send(&oracle(0), spike), Receipt::Success);
    let q = net.state.quote(net.time_ms).unwrap();
    assert_eq!((q.median.0, q.minting.0), (HALF_DOLLAR, HALF_DOLLAR));
    let spike = price_action(&net, u64::MAX);
    assert_eq!(net.send(&oracle(1), spike), Receipt::Success);
    let q = net.state.quote(net.time_ms).unwrap();
    assert_eq!(
        q.median.0,
        HALF_DOLLAR / 10 * 11,
        "+10% for a second colluder"
    );
    // A crash to one base unit is bounded the same way.
    let crash = price_action(&net, 1);
    assert_eq!(net.send(&oracle(2), crash), Receipt::Success);
    let q = net.state.quote(net.time_ms).unwrap();
    assert!(q.minting.0 >= HALF_DOLLAR / 10 * 9, "{q:?}");
    assert_eq!(net.send(&fleet(), buy(TOKEN, &fleet())), Receipt::Success);

    // Without the move bound, one oracle far from the others trips the breaker.
    let mut net = Net::new(demand_genesis(3, |g| {
        g.modules.demand.as_mut().unwrap().max_price_move_bps = 0;
    }));
    for (i, price) in [(0, HALF_DOLLAR), (1, HALF_DOLLAR), (2, HALF_DOLLAR / 5 * 8)] {
        let a = price_action(&net, price);
        assert_eq!(net.send(&oracle(i), a), Receipt::Success);
    }
    let r = net.send(&fleet(), buy(TOKEN, &fleet()));
    assert_eq!(code(&r), "price_unreliable");
    // The breaker also stops the shortfall of a fee from being bought.
    let a = net.onboard_action_by(&fleet(), &hotspot(1), "EU868", Some(preset::BERLIN));
    assert_eq!(code(&net.send(&fleet(), a)), "price_unreliable");
    net.supply_is_consistent();
}

/// The attack `depin agent attack --strategy oracle-spike` found: while the move bound was
/// taken from the median, two colluders of three who held the median dragged the honest
/// oracle's reports along (each clamped to 10% of the ring's median), so the breaker never saw a
/// disagreement and the price walked 10% a block. Bounded by each oracle's own price, the honest
/// price stays where it is reported and the ring is stopped within the breaker's bound.
#[test]
fn a_colluding_majority_cannot_drag_the_honest_price_and_the_breaker_stops_its_walk() {
    let mut net = Net::new(demand_genesis(3, |_| {}));
    for i in 0..3 {
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(i), a), Receipt::Success);
    }
    let mut refused = None;
    for round in 0..6 {
        for i in 0..2 {
            let a = price_action(&net, u64::MAX);
            assert_eq!(net.send(&oracle(i), a), Receipt::Success);
        }
        let honest = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(2), honest), Receipt::Success);
        let recorded = net
            .state
            .oracles(3)
            .into_iter()
            .find(|(a, _)| *a == oracle(2).address())
            .and_then(|(_, o)| o.latest)
            .unwrap();
        assert_eq!(
            recorded.price.0, HALF_DOLLAR,
            "the honest price is not dragged"
        );
        let q = net.state.quote(net.time_ms).unwrap();
        // Whatever the ring holds, credits are minted at most 12.5% above the honest price.
        match net.send(&fleet(), buy(TOKEN, &fleet())) {
            Receipt::Success => assert!(
                u128::from(q.minting.0) * 10_000 <= u128::from(HALF_DOLLAR) * 11_250,
                "round {round}: minting at {q:?}"
            ),
            r => {
                assert_eq!(code(&r), "price_unreliable");
                refused.get_or_insert(round);
            }
        }
    }
    assert_eq!(refused, Some(2), "the third +10% opens the spread past 20%");
    net.supply_is_consistent();
}

/// With four oracles one liar is left out of the breaker's spread (fewer than a third), so it
/// cannot stop minting alone; two can.
#[test]
fn one_liar_of_four_cannot_stop_minting_two_can() {
    let mut net = Net::new(demand_genesis(4, |_| {}));
    for i in 0..4 {
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(i), a), Receipt::Success);
    }
    for _ in 0..5 {
        let a = price_action(&net, u64::MAX);
        assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    }
    assert_eq!(net.send(&fleet(), buy(TOKEN, &fleet())), Receipt::Success);
    let q = net.state.quote(net.time_ms).unwrap();
    assert_eq!(q.median.0, HALF_DOLLAR);
    for _ in 0..5 {
        let a = price_action(&net, u64::MAX);
        assert_eq!(net.send(&oracle(1), a), Receipt::Success);
    }
    assert_eq!(
        code(&net.send(&fleet(), buy(TOKEN, &fleet()))),
        "price_unreliable"
    );
}

#[test]
fn buying_credits_burns_tokens_and_refuses_with_reasons() {
    let mut net = priced_net(|_| {});
    assert_eq!(code(&net.send(&fleet(), buy(0, &fleet()))), "zero_amount");
    assert_eq!(
        code(&net.send(&fleet(), buy(20_000 * TOKEN, &fleet()))),
        "insufficient_funds"
    );
    assert_eq!(
        code(&net.send(&fleet(), buy(1, &fleet()))),
        "burn_too_small"
    );
    let greedy = Action::from(BuyCredits {
        tokens: Amount(2 * TOKEN),
        min_credits: 100_001,
        to: fleet().address(),
    });
    assert_eq!(code(&net.send(&fleet(), greedy)), "credits_below_minimum");
    let (supply, burned) = (net.state.meta().total_supply, net.state.meta().burned);
    let held = net.state.credits(&fleet().address()).unwrap();
    assert_eq!(
        held.spent_on_data, 0,
        "refusals bought nothing but their fees"
    );

    // Two tokens at $0.50 are $1: 100,000 credits, for the router. The transaction's own fee is
    // bought for the fleet in the same step (it holds no credits), and the credits that fee
    // purchase rounds up to stay the fleet's.
    let fleet_before = net.state.credits(&fleet().address()).unwrap_or_default();
    assert_eq!(
        net.send(&fleet(), buy(2 * TOKEN, &router())),
        Receipt::Success
    );
    assert_eq!(credits(&net, &router()), 100_000);
    let fleet_after = net.state.credits(&fleet().address()).unwrap();
    assert_eq!(
        fleet_after.spent_on_fees - fleet_before.spent_on_fees,
        net.last_fee
    );
    let fee_burn = net.state.meta().burned.0 - burned.0 - 2 * TOKEN;
    assert!(
        fee_burn > 0 && fee_burn < TOKEN / 1000,
        "the fee cost {fee_burn}"
    );
    assert_eq!(
        net.state.meta().total_supply.0,
        supply.0 - 2 * TOKEN - fee_burn
    );
    net.supply_is_consistent();
}

#[test]
fn delegated_credits_pay_for_data_but_cannot_move_on_or_pay_fees() {
    let mut net = priced_net(|_| {});
    assert_eq!(
        net.send(&fleet(), buy(2 * TOKEN, &fleet())),
        Receipt::Success
    );
    let delegate = |payer: &Keypair, credits: u128| {
        Action::from(DelegateCredits {
            payer: payer.address(),
            credits,
        })
    };
    assert_eq!(
        code(&net.send(&fleet(), delegate(&fleet(), 10))),
        "delegate_to_self"
    );
    assert_eq!(
        code(&net.send(&fleet(), delegate(&router(), 0))),
        "zero_amount"
    );
    assert_eq!(
        code(&net.send(&fleet(), delegate(&router(), 100_001))),
        "insufficient_credits"
    );
    assert_eq!(
        net.send(&fleet(), delegate(&router(), 60_000)),
        Receipt::Success
    );
    let r = net.state.credits(&router().address()).unwrap();
    assert_eq!((r.own, r.delegated), (0, 60_000));
    // What the fleet bought, less what it delegated and its transactions' fees.
    let held = net.state.credits(&fleet().address()).unwrap();
    assert_eq!(held.own, held.bought - 60_000 - held.spent_on_fees);
    assert!(held.spent_on_fees > 0);
    // The router cannot pass delegated credits on.
    assert_eq!(
        code(&net.send(&router(), delegate(&owner(), 1))),
        "insufficient_credits"
    );
    // It spends them on data.
    net.time_ms += 10_000;
    let r = receipt(&net, &router(), &hotspot(1), 1, 5, 1_000);
    assert_eq!(net.send(&fleet(), Action::from(r)), Receipt::Success);
    assert_eq!(
        net.state.credits(&router().address()).unwrap().delegated,
        59_000
    );
    // A fee needs credits the owner holds itself: the router has tokens for none of it.
    net.send(
        &router(),
        Action::Transfer {
            to: owner().address(),
            amount: Amount(1),
        },
    );
    let elsewhere = at(3_000.0, 0.0);
    let a = net.onboard_action_by(&router(), &hotspot(2), "EU868", Some(elsewhere));
    assert_eq!(code(&net.send(&router(), a)), "insufficient_funds");
}

#[test]
fn usage_receipt_checks_each_refuse_with_their_own_code_and_charge_only_their_fees() {
    let mut net = priced_net(|_| {});
    assert_eq!(net.send(&fleet(), buy(TOKEN, &fleet())), Receipt::Success);
    net.time_ms += 100_000;
    let before = net.state.credits(&fleet().address()).unwrap();
    let fees = std::cell::Cell::new(0u128);
    let send = |net: &mut Net, r: UsageReceipt| {
        let code = code(&net.send(&fleet(), Action::from(r))).to_string();
        fees.set(fees.get() + net.last_fee);
        code
    };

    let r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 0);
    assert_eq!(send(&mut net, r), "empty_receipt");
    let r = receipt(&net, &fleet(), &hotspot(1), 20, 20, 5);
    assert_eq!(send(&mut net, r), "bad_period");
    let r = receipt(&net, &fleet(), &hotspot(1), 20, 1_000, 5);
    assert_eq!(send(&mut net, r), "period_in_future");
    let r = receipt(&net, &fleet(), &hotspot(9), 10, 20, 5);
    assert_eq!(send(&mut net, r), "unknown_device");
    let r = receipt(&net, &router(), &hotspot(1), 10, 20, 5);
    assert_eq!(send(&mut net, r), "unknown_payer");
    let mut r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 5);
    r.packets = 6;
    r.device_signature = hotspot(1).sign(&r.message(CHAIN_ID));
    assert_eq!(send(&mut net, r), "bad_payer_signature");
    let mut r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 5);
    r.packets = 6;
    r.payer_signature = fleet().sign(&r.message(CHAIN_ID));
    assert_eq!(send(&mut net, r), "bad_device_signature");
    let r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 60_000);
    assert_eq!(send(&mut net, r), "insufficient_credits");
    let after = net.state.credits(&fleet().address()).unwrap();
    assert!(fees.get() > 0);
    assert_eq!(
        (after.own, after.spent_on_fees, after.spent_on_data),
        (
            before.own - fees.get(),
            before.spent_on_fees + fees.get(),
            0
        ),
        "refusals charged nothing but their transactions' fees"
    );
    assert_eq!(net.state.usage(0, &hotspot(1).address()), None);

    let r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 5);
    assert_eq!(send(&mut net, r), "success");
    let r = receipt(&net, &fleet(), &hotspot(1), 10, 20, 5);
    assert_eq!(send(&mut net, r), "duplicate_receipt");
    let r = receipt(&net, &fleet(), &hotspot(1), 15, 30, 5);
    assert_eq!(send(&mut net, r), "period_overlap");
    let r = receipt(&net, &fleet(), &hotspot(1), 20, 30, 5);
    assert_eq!(send(&mut net, r), "success");
    let used = net.state.usage(0, &hotspot(1).address()).unwrap();
    assert_eq!((used.credits, used.packets, used.receipts), (10, 10, 2));

    let deny = Action::from(SetDenylist {
        device: hotspot(1).address(),
        denied: true,
    });
    assert_eq!(net.send(&governor(), deny), Receipt::Success);
    let r = receipt(&net, &fleet(), &hotspot(1), 30, 40, 5);
    assert_eq!(send(&mut net, r), "denylisted");

    net.time_ms += 86_400_000 + 60_000;
    let r = receipt(&net, &fleet(), &hotspot(1), 40, 50, 5);
    assert_eq!(send(&mut net, r), "receipt_too_old");
}

#[test]
fn fees_are_paid_in_credits_and_the_shortfall_burns_tokens() {
    let mut net = priced_net(|_| {});
    // Onboarding with a location: $40 + $10 = 5,000,000 credits = 100 tokens at $0.50, and the
    // transaction's fee with them (bought together: the credits the purchase rounds up to stay).
    let tx_fee = net.last_fee;
    assert!(tx_fee > 0);
    let c = net.state.credits(&owner().address()).unwrap();
    assert_eq!(c.spent_on_fees, 5_000_000 + tx_fee);
    assert_eq!(c.own, c.bought - c.spent_on_fees);
    assert!(c.own < 100, "only rounding is left: {}", c.own);
    // The epoch counts every fee in credits: the oracle's price transaction's too.
    let oracle_fees = net
        .state
        .credits(&oracle(0).address())
        .unwrap()
        .spent_on_fees;
    assert!(oracle_fees > 0);
    assert_eq!(
        net.state.tally(0).credits_on_fees,
        5_000_000 + tx_fee + oracle_fees
    );

    // Credits held pay first: no tokens burn.
    assert_eq!(
        net.send(&owner(), buy(100 * TOKEN, &owner())),
        Receipt::Success
    );
    let burned = net.state.meta().burned;
    let before = net.state.credits(&owner().address()).unwrap();
    let a = net.onboard_action(&hotspot(2), "EU868", None);
    assert_eq!(net.send(&owner(), a), Receipt::Success);
    assert_eq!(net.state.meta().burned, burned);
    let c = net.state.credits(&owner().address()).unwrap();
    assert_eq!(c.own, before.own - 4_000_000 - net.last_fee);
    // The cost basis follows pro rata (to the base unit, rounding aside).
    let pro_rata = before.own_cost.0 * c.own / before.own;
    assert!(c.own_cost.0.abs_diff(pro_rata) <= 1);
    net.supply_is_consistent();

    // Without a price and without credits a fee cannot be paid.
    let mut net = Net::new(demand_genesis(1, |_| {}));
    let a = net.onboard_action(&hotspot(1), "EU868", Some(preset::BERLIN));
    assert_eq!(code(&net.send(&owner(), a)), "insufficient_credits");
}

/// The 2x2 honest grid with demand at $0.50: each window the fleet buys credits for `buys`
/// tokens and pays for `traffic` packets through each hotspot (the grid's hotspots in order,
/// cycling through `traffic`).
fn demand_network(g: Genesis, epochs: u64, traffic: &[u64], buys: &[u128]) -> Net {
    let mut net = Net::new(g);
    let a = price_action(&net, HALF_DOLLAR);
    assert_eq!(net.send(&oracle(0), a), Receipt::Success);
    let keys = grid_hotspots(2);
    let payer = fleet();
    let mut window = 0usize;
    let mut last_end = net.genesis.genesis_time_ms;
    run_honest_network(net, 2, epochs, &[], |net, _| {
        let mut txs = vec![net.tx(&oracle(0), price_action(net, HALF_DOLLAR))];
        let mut nonce = net.nonce(&payer);
        let mut sign = |action| {
            nonce += 1;
            net.tx_at(&payer, nonce - 1, action)
        };
        let tokens = buys[window % buys.len()];
        if tokens > 0 {
            txs.push(sign(buy(tokens, &payer)));
        }
        let end = net.time_ms;
        for (i, k) in keys.iter().enumerate() {
            let packets = traffic[(window * keys.len() + i) % traffic.len()];
            if packets > 0 {
                let r = UsageReceipt::signed(CHAIN_ID, &payer, k, last_end, end, packets, 0);
                txs.push(sign(Action::from(r)));
            }
        }
        last_end = end;
        net.block(txs);
        net.supply_is_consistent();
        window += 1;
    })
}

#[test]
fn an_epoch_pays_demand_pro_rata_to_credits_beside_bootstrap_and_replays_identically() {
    // Hotspot 0 carries 3 packets a window, hotspot 1 one, hotspots 2 and 3 none.
    let mut net = demand_network(demand_genesis(1, |_| {}), 2, &[3, 1, 0, 0], &[TOKEN]);
    let keys = grid_hotspots(2);
    for epoch in 0..2 {
        let s = net.state.epoch_summary(epoch).unwrap();
        assert_eq!(s.price, Some(TokenPrice(HALF_DOLLAR)));
        assert!(s.credits_on_data > 0 && s.demand_pool.0 > 0, "{s:?}");
        // The cap: the credits' USD value in tokens (1 credit = $0.00001 = 20 base units).
        assert_eq!(s.demand_cap.0, s.credits_on_data * 20);
        assert_eq!(
            s.demand_pool, s.demand_cap,
            "a little traffic: the cap binds"
        );
        assert!(s.rolled_over.0 > 0);
        assert_eq!(
            s.bootstrap_bps,
            BootstrapDecay {
                start_bps: 9_000,
                floor_bps: 1_000,
                decay_epochs: 4
            }
            .at(epoch)
        );
        assert_eq!(
            s.paid.0 + s.demand_paid.0 + s.dust.0 + s.treasury.0 + s.unminted.0,
            s.emission.0 + s.reminted.0,
            "emission and re-mint are paid, kept as dust for the treasury, or not minted"
        );
        let r: Vec<_> = keys
            .iter()
            .map(|k| net.state.reward(epoch, &k.address()).unwrap())
            .collect();
        assert_eq!(r[0].credits, 3 * r[1].credits);
        assert_eq!(r[0].demand.0, 3 * r[1].demand.0);
        assert_eq!((r[2].credits, r[2].demand), (0, Amount::ZERO));
        for x in &r {
            assert!(x.bootstrap.0 > 0, "every hotspot proved coverage: {x:?}");
            assert_eq!(x.amount.0, x.bootstrap.0 + x.demand.0);
        }
        let demand_paid: u128 = r.iter().map(|x| x.demand.0).sum();
        assert_eq!(demand_paid, s.demand_paid.0);
    }
    net.supply_is_consistent();
    net.replays_identically();
}

#[test]
fn a_re_mint_share_of_burns_returns_to_the_pools() {
    let net = demand_network(
        demand_genesis(1, |g| {
            let d = g.modules.demand.as_mut().unwrap();
            // A re-mint needs headroom under the demand cap (the self-dealing bound).
            (d.remint_bps, d.demand_cap_bps) = (5_000, 5_000);
        }),
        1,
        &[1],
        &[10 * TOKEN],
    );
    let s = net.state.epoch_summary(0).unwrap();
    assert!(s.tokens_burned.0 > 0);
    assert_eq!(s.reminted.0, s.tokens_burned.0 / 2);
    net.supply_is_consistent();
}

/// A USD amount (8 decimals) times base units: `amount` base units at `price`.
fn usd(amount: u128, price: u64) -> u128 {
    amount * u128::from(price)
}

/// The self-dealer's second key: it receives credits bought for it or delegated to it, and
/// spends them on the dealer's devices.
fn accomplice() -> Keypair {
    Keypair::from_seed([230; 32])
}

/// One run of [`self_dealing_never_pays`]: honest users pay every hotspot, and, if `dealing`,
/// the dealer (the fleet key and its accomplice) pays its own hotspots too.
struct Dealing<'a> {
    prices: &'a [u64],
    honest_traffic: &'a [u64],
    dealt_traffic: &'a [u64],
    delegate_bps: u32,
    mine: usize,
    epochs: u64,
}

/// What a run left: the network, and per window the tokens the dealer's keys burned and the
/// price they burned at.
struct Dealt {
    net: Net,
    burns: Vec<(u128, u64)>,
}

impl Dealing<'_> {
    fn run(&self, g: Genesis, dealing: bool) -> Dealt {
        let mut net = Net::new(g);
        let a = price_action(&net, HALF_DOLLAR);
        assert_eq!(net.send(&oracle(0), a), Receipt::Success);
        let keys = grid_hotspots(2);
        let t0 = net.genesis.genesis_time_ms;
        // Last receipt end per (payer, device): router, fleet, accomplice.
        let mut last_end = [[t0; 4]; 3];
        let mut window = 0usize;
        let mut burns = Vec::new();
        let dealer_tokens = |net: &Net| -> u128 {
            [fleet(), accomplice()]
                .iter()
                .filter_map(|k| net.state.account(&k.address()))
                .map(|a| a.balance.0)
                .sum()
        };
        let net = run_honest_network(net, 2, self.epochs, &[], |net, _| {
            let price = self.prices[window % self.prices.len()];
            let mut txs = vec![net.tx(&oracle(0), price_action(net, price))];
            let end = net.time_ms;
            // Honest demand: the router keeps credits and pays every hotspot, the dealer's too.
            let mut honest = net.nonce(&router());
            let wanted: u64 = (0..4)
                .map(|d| self.honest_traffic[(window * 4 + d) % self.honest_traffic.len()])
                .sum();
            // Tokens for the credits at this price (1 credit = $0.00001), a tenth more, and a
            // token for fees.
            let tokens = u128::from(wanted) * 1_000 * TOKEN / u128::from(price) * 11 / 10 + TOKEN;
            txs.push(net.tx_at(&router(), honest, buy(tokens, &router())));
            honest += 1;
            for (d, k) in keys.iter().enumerate() {
                let packets = self.honest_traffic[(window * 4 + d) % self.honest_traffic.len()];
                if packets > 0 {
                    let r = UsageReceipt::signed(
                        CHAIN_ID,
                        &router(),
                        k,
                        last_end[0][d],
                        end,
                        packets,
                        0,
                    );
                    txs.push(net.tx_at(&router(), honest, Action::from(r)));
                    honest += 1;
                    last_end[0][d] = end;
                }
            }
            let before = dealer_tokens(net);
            if dealing {
                let mut nonces = [net.nonce(&fleet()), net.nonce(&accomplice())];
                let mut sign = |who: usize, action: Action| {
                    let key = if who == 0 { fleet() } else { accomplice() };
                    nonces[who] += 1;
                    net.tx_at(&key, nonces[who] - 1, action)
                };
                // The dealer buys what its traffic this window needs, part of it for the
                // accomplice: bought for it, or delegated to it.
                let packets = |d: usize, who: usize| {
                    self.dealt_traffic[(window * 8 + d * 2 + who) % self.dealt_traffic.len()]
                };
                let need = |who: usize| -> u128 {
                    let credits: u64 = (0..self.mine).map(|d| packets(d, who)).sum();
                    if credits == 0 {
                        return 0;
                    }
                    u128::from(credits) * 1_000 * TOKEN / u128::from(price) * 11 / 10 + 1
                };
                let (own, theirs) = (need(0), need(1));
                if own + theirs > 0 {
                    txs.push(sign(0, buy(own + TOKEN, &fleet())));
                }
                if theirs > 0 {
                    let bought = theirs * u128::from(self.delegate_bps) / 10_000;
                    if bought > 0 {
                        txs.push(sign(0, buy(bought, &accomplice())));
                    }
                    let rest = theirs - bought;
                    if rest > 0 {
                        txs.push(sign(0, buy(rest, &fleet())));
                        let credits = rest * u128::from(price) / (1_000 * TOKEN);
                        txs.push(sign(
                            0,
                            Action::from(DelegateCredits {
                                payer: accomplice().address(),
                                credits,
                            }),
                        ));
                    }
                }
                for (d, k) in keys.iter().enumerate().take(self.mine) {
                    for (who, payer) in [fleet(), accomplice()].iter().enumerate() {
                        let packets = packets(d, who);
                        if packets > 0 {
                            let r = UsageReceipt::signed(
                                CHAIN_ID,
                                payer,
                                k,
                                last_end[1 + who][d],
                                end,
                                packets,
                                0,
                            );
                            txs.push(sign(who, Action::from(r)));
                            last_end[1 + who][d] = end;
                        }
                    }
                }
            }
            net.block(txs);
            burns.push((before - dealer_tokens(net), price));
            window += 1;
        });
        Dealt { net, burns }
    }
}

proptest! {
    // 24 cases in CI (about 40 s in debug); `DEPIN_SELF_DEAL_CASES=1000` for a longer search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("DEPIN_SELF_DEAL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    /// A self-dealer (two keys: one buys credits, some for the other, bought for it or
    /// delegated) routes paid traffic through its own hotspots, beside honest hotspots that
    /// honest users pay, under any re-mint and demand cap the ledger accepts and any price path
    /// the oracle bounds allow, over three epochs. What its hotspots earn beyond what they earn
    /// without the dealing never exceeds the tokens its keys burned (so it ends no richer than
    /// by holding); without a re-mint, valued at each epoch's price, never the USD its burns
    /// were worth when made. A genesis whose re-mint and cap would let it pay is refused.
    #[test]
    fn self_dealing_never_pays(
        prices in proptest::collection::vec(1_000_000u64..500_000_000, 1..16),
        // Packets per hotspot and window: up to about 1.4x the demand target at $0.50.
        honest_traffic in proptest::collection::vec(prop_oneof![0u64..3_000, 0u64..8_000_000], 1..8),
        dealt_traffic in proptest::collection::vec(prop_oneof![0u64..20_000, 0u64..2_000_000], 1..8),
        remint_bps in prop_oneof![Just(0u32), Just(5_000u32), 0u32..=10_000],
        cap_share in prop_oneof![Just(10_000u32), 0u32..=10_000],
        delegate_bps in prop_oneof![Just(0u32), 0u32..=10_000],
        mine in 1usize..=3,
    ) {
        let cap_bps = ((10_000 - remint_bps) as u64 * cap_share as u64 / 10_000) as u32;
        let g = demand_genesis(1, |g| {
            let d = g.modules.demand.as_mut().unwrap();
            d.remint_bps = remint_bps;
            d.demand_cap_bps = cap_bps;
            for (who, amount) in [(fleet(), "200000"), (router(), "100000000"), (accomplice(), "10")] {
                let a = g.allocations.iter_mut().find(|a| a.address == who.address());
                match a {
                    Some(a) => a.amount = amount.into(),
                    None => g.allocations.push(depin_core::genesis::Allocation {
                        address: who.address(),
                        amount: amount.into(),
                    }),
                }
            }
        });
        let run = Dealing {
            prices: &prices,
            honest_traffic: &honest_traffic,
            dealt_traffic: &dealt_traffic,
            delegate_bps,
            mine,
            epochs: 3,
        };
        let with = run.run(g.clone(), true);
        let without = run.run(g.clone(), false);
        let burned: u128 = with.burns.iter().map(|b| b.0).sum();
        let burned_usd: u128 = with.burns.iter().map(|&(b, p)| usd(b, p)).sum();
        let (mut gained, mut gained_usd) = (0i128, 0i128);
        for epoch in 0..3 {
            let paid = |net: &Net| -> i128 {
                grid_hotspots(2)[..mine]
                    .iter()
                    .filter_map(|k| net.state.reward(epoch, &k.address()))
                    .map(|r| r.amount.0 as i128)
                    .sum()
            };
            let delta = paid(&with.net) - paid(&without.net);
            gained += delta;
            let price = with.net.state.epoch_summary(epoch).unwrap().price.map_or(0, |p| p.0);
            gained_usd += delta * i128::from(price);
        }
        prop_assert!(gained <= burned as i128, "gained {} tokens > burned {}", gained, burned);
        if remint_bps == 0 {
            prop_assert!(gained_usd <= burned_usd as i128, "gained ${} > burned ${}", gained_usd, burned_usd);
        }
        with.net.supply_is_consistent();
        credits_are_consistent(&with.net);
        // The bound is the ledger's: one more basis point of re-mint is refused at genesis.
        if cap_bps == 10_000 - remint_bps && remint_bps < 10_000 {
            let mut bad = g;
            bad.modules.demand.as_mut().unwrap().remint_bps += 1;
            prop_assert!(depin_core::State::genesis(&bad).is_err());
        }
    }
}

/// One step of a random demand workload.
#[derive(Clone, Debug)]
enum Op {
    Price(u64),
    Buy { who: u8, tokens: u128 },
    Delegate { credits: u128 },
    Traffic { payer: u8, device: u8, packets: u64 },
    Onboard,
    Pass(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1_000_000u64..500_000_000).prop_map(Op::Price),
        (0u8..2, 0u128..50 * TOKEN).prop_map(|(who, tokens)| Op::Buy { who, tokens }),
        (0u128..2_000_000).prop_map(|credits| Op::Delegate { credits }),
        (0u8..2, 0u8..3, 0u64..300_000).prop_map(|(payer, device, packets)| Op::Traffic {
            payer,
            device,
            packets
        }),
        Just(Op::Onboard),
        (1u8..30).prop_map(Op::Pass),
    ]
}

/// Every credit, and every token of cost basis, is accounted for.
fn credits_are_consistent(net: &Net) {
    let mut held = 0u128;
    let mut flows = 0i128;
    let mut cost = 0u128;
    // Every credit balance: the demand service's credit table, the first two bytes of its keys.
    let table = &credits_key(&Address([0; 32]))[..2];
    for (_, v) in net.state.scan_prefix(table, usize::MAX) {
        let c: CreditBalance = depin_core::Decode::from_bytes(&v).unwrap();
        held += c.own + c.delegated;
        flows += c.bought as i128 - c.spent_on_data as i128 - c.spent_on_fees as i128;
        cost += c.own_cost.0 + c.delegated_cost.0;
    }
    assert_eq!(held as i128, flows, "credits held = bought - spent");
    assert!(
        cost <= net.state.meta().burned.0,
        "cost basis never exceeds the burns"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever users buy, delegate and spend, and whatever the price and the re-mint share:
    /// tokens are conserved every block (supply = genesis + minted - burned = sum of balances),
    /// credits held equal credits bought minus spent, and every epoch mints exactly its
    /// emission plus the re-mint of its burns, or leaves them unminted.
    #[test]
    fn money_and_credits_are_conserved(
        ops in proptest::collection::vec(op(), 1..40),
        remint_bps in 0u32..=10_000,
    ) {
        let mut net = priced_net(|g| {
            let d = g.modules.demand.as_mut().unwrap();
            (d.remint_bps, d.demand_cap_bps) = (remint_bps, 10_000 - remint_bps);
        });
        net.onboard(&hotspot(2), at(2_000.0, 0.0));
        let devices = [hotspot(1), hotspot(2), hotspot(3)];
        let payers = [fleet(), router()];
        let mut last_end = [[net.genesis.genesis_time_ms; 3]; 2];
        let mut next_device = 40u8;
        for op in ops {
            match op {
                Op::Price(p) => {
                    let a = price_action(&net, p);
                    net.send(&oracle(0), a);
                }
                Op::Buy { who, tokens } => {
                    let k = &payers[who as usize];
                    net.send(k, buy(tokens, k));
                }
                Op::Delegate { credits } => {
                    let a = Action::from(DelegateCredits { payer: router().address(), credits });
                    net.send(&fleet(), a);
                }
                Op::Traffic { payer, device, packets } => {
                    let (p, d) = (payer as usize, device as usize);
                    let end = net.time_ms;
                    let r = UsageReceipt::signed(CHAIN_ID, &payers[p], &devices[d], last_end[p][d], end, packets, packets * 20);
                    if net.send(&fleet(), Action::from(r)) == Receipt::Success {
                        last_end[p][d] = end;
                    }
                }
                Op::Onboard => {
                    next_device += 1;
                    let a = net.onboard_action(&hotspot(next_device), "EU868", Some(at(4_000.0, f64::from(next_device) * 500.0)));
                    net.send(&owner(), a);
                }
                Op::Pass(blocks) => {
                    for _ in 0..blocks {
                        net.block(vec![]);
                    }
                }
            }
            net.supply_is_consistent();
            credits_are_consistent(&net);
        }
        while net.state.height() < 2 * EPOCH_BLOCKS {
            net.block(vec![]);
        }
        net.supply_is_consistent();
        credits_are_consistent(&net);
        let remint = |burned: u128| burned * u128::from(remint_bps) / 10_000;
        for epoch in 0..2 {
            let s = net.state.epoch_summary(epoch).unwrap();
            prop_assert_eq!(s.reminted.0, remint(s.tokens_burned.0));
            prop_assert_eq!(
                s.paid.0 + s.demand_paid.0 + s.dust.0 + s.treasury.0 + s.unminted.0,
                s.emission.0 + s.reminted.0
            );
            prop_assert!(s.demand_pool <= s.demand_cap);
        }
    }
}
