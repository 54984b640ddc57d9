//! The demand side on one real node: the price feed prices the token, hotspots onboard paying
//! their fees in credits bought at that price, an IoT fleet pays them for its packets through a
//! router, and the epoch close pays a demand reward to exactly the hotspots that carried traffic.

mod common;

use common::{EPOCH_BLOCKS, start_network, test_genesis};
use std::time::{Duration, Instant};

use depin_agent::fleet::{FleetArgs, IotFleet};
use depin_agent::hotspot::{Fleet, HotspotArgs};
use depin_agent::oracle_feed::{self, FeedArgs, PriceFeed};
use depin_core::Keypair;
use depin_core::economics::records::{RewardRecord, reward_key};
use depin_core::services::demand::records::{CreditBalance, credits_key};
use depin_node::Home;

#[test]
fn hotspots_that_carry_paid_traffic_earn_demand_rewards_and_the_fleet_pays_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let operator = Keypair::from_seed([5; 32]);
    let mut genesis = test_genesis(
        "depin-demand",
        &[
            (owner.address(), "100000"),
            (operator.address(), "1000"),
            (oracle.address(), "10"),
        ],
    );
    let coverage = genesis
        .modules
        .coverage
        .as_mut()
        .expect("a coverage section");
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    genesis.modules.demand = Some(depin_core::services::demand::params::preset(
        vec![oracle.address()],
        100,
    ));
    let (url, store) = start_network(&home, &genesis);
    let started = Instant::now();

    let hotspot_args = HotspotArgs::honest(6, 3_000.0, 5);
    // Without a price the ledger cannot burn the owner's tokens for the onboarding fees, and
    // the agent says what to do.
    let mut hotspots = Fleet::new(&hotspot_args, &url, Keypair::from_seed([2; 32])).expect("fleet");
    let e = hotspots.onboard().expect_err("no price, no onboarding");
    assert!(
        format!("{e:#}").contains("insufficient_credits")
            && format!("{e:#}").contains("no oracle price yet"),
        "{e:#}"
    );

    let mut feed = PriceFeed::new(
        &FeedArgs {
            every_blocks: 2,
            ..FeedArgs::default()
        },
        &url,
        oracle,
    )
    .expect("feed");
    feed.first_price().expect("the first price is accepted");
    oracle_feed::spawn(feed);
    let mut hotspots = Fleet::new(&hotspot_args, &url, owner).expect("fleet");
    assert_eq!(hotspots.onboard().expect("onboarding"), 6);

    let fleet_args = FleetArgs {
        sensors: 2,
        packets_per_minute: 600.0,
        packet_bytes: 40,
        hotspots_per_packet: 1,
        period_s: 1,
        buffer_periods: 3,
        router: true,
        seed: 9,
        periods: None,
        hotspots: 6,
        hotspot_seed: 5,
        radius_m: 3_000.0,
        center: None,
    };
    let mut iot = IotFleet::new(&fleet_args, &url, operator).expect("iot fleet");
    let carriers = iot.carriers();
    assert!(!carriers.is_empty() && carriers.len() <= 2);
    let mut accepted = 0;
    for _ in 0..4 {
        let r = iot.run_period().expect("a period");
        eprintln!("{}", iot.describe(&r));
        assert!(r.refused.is_empty(), "{:?}", r.refused);
        accepted += r.accepted;
    }
    assert!(accepted >= 4, "{accepted} receipts accepted");

    // Until the epoch of the last receipt has closed.
    let height = depin_agent::blocks::height(iot.client()).expect("height");
    let last_epoch = (height - 1) / EPOCH_BLOCKS;
    while depin_agent::blocks::height(iot.client()).expect("height")
        < (last_epoch + 1) * EPOCH_BLOCKS
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut carried_credits = 0u128;
    for m in &hotspots.members {
        let device = m.key.address();
        let (mut demand, mut credits) = (0u128, 0u128);
        for epoch in 0..=last_epoch {
            if let Some(r) = store
                .state_value::<RewardRecord>(&reward_key(epoch, &device))
                .expect("store")
            {
                assert_eq!(r.amount.0, r.bootstrap.0 + r.demand.0);
                demand += r.demand.0;
                credits += r.credits;
            }
        }
        eprintln!("{device}: {credits} credits, demand {demand}");
        if carriers.contains(&device) {
            assert!(
                demand > 0 && credits > 0,
                "carrier {device} earned no demand"
            );
        } else {
            assert_eq!((demand, credits), (0, 0), "{device} carried nothing");
        }
        carried_credits += credits;
    }
    assert_eq!(carried_credits, iot.total_spent);

    // The credits: the router spent exactly what the receipts cost, out of what was delegated,
    // and the operator delegated and paid fees out of what it bought. The agent's own count agrees.
    let ledger = |k: &Keypair| -> CreditBalance {
        store
            .state_value(&credits_key(&k.address()))
            .expect("store")
            .expect("has credits")
    };
    let op = ledger(&Keypair::from_seed([5; 32]));
    let router = ledger(iot.payer());
    assert_eq!(router.spent_on_data, iot.total_spent);
    assert_eq!(router.delegated, op.delegated_out - router.spent_on_data);
    // The operator signs the fleet's transactions: their fees are paid from its own credits.
    assert!(op.spent_on_fees > 0);
    assert_eq!(op.own, op.bought - op.delegated_out - op.spent_on_fees);
    assert_eq!(iot.balance(), router.delegated);
    // The devnet's summary shows the demand side next to the bootstrap rewards.
    let lines = depin_agent::epoch_summary::Summaries::from_epoch(last_epoch)
        .new_epochs(&hotspots)
        .expect("summary");
    eprintln!("{}", lines.join("\n"));
    assert!(lines[1].starts_with("   price $0.") && lines[1].contains("for data in"));
    // Exact USD and every kind of burned credit, as the node serves them.
    assert!(lines[1].contains(" void, ") && lines[1].contains("credits burned "));
    assert!(!lines[1].contains('?'), "{}", lines[1]);
    assert!(lines[2].starts_with("   rewards: bootstrap ") && lines[2].contains("demand "));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
