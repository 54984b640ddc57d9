//! `depin agent attack` against a real node (issue 12): each strategy that the fleet can carry
//! out, measured from the node's reward explanations, with assertions on the numbers
//! docs/SECURITY.md states. The forger and spread-ring runs are in `ring_attacks.rs`.

mod common;

use common::{start_network, test_genesis};

use depin_agent::attack::{AttackArgs, AttackReport, Strategy, measure};
use depin_core::Keypair;
use depin_node::Home;

/// Runs `strategy` with `attackers` beside 16 honest hotspots on a fresh node for two epochs.
fn attack(strategy: Strategy, attackers: usize) -> AttackReport {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([3; 32]);
    let genesis = test_genesis("depin-attacks", &[(owner.address(), "100000")]);
    let (url, _) = start_network(&home, &genesis);
    let args = AttackArgs {
        attackers: Some(attackers),
        hotspots: 16,
        radius_m: 6_000.0,
        epochs: 2,
        seed: 11,
        ..AttackArgs::new(strategy)
    };
    let report = measure(&args, &url, owner).expect("the attack runs");
    eprintln!("{}", report.table());
    report
}

#[test]
fn density_decoys_leave_honest_hotspots_their_scale() {
    let r = attack(Strategy::DensityGrief, 8);
    for e in &r.epochs {
        assert!(e.honest_median > 0, "honest hotspots earn: {e:?}");
        // Decoys are an island of the witness graph: they do not count toward the density of
        // hotspots outside islands, so an honest hotspot keeps (nearly) all of its scale.
        assert!(
            e.honest_mean_scale_ppm >= 950_000,
            "density griefing cost honest hotspots more than 5% of their scale: {e:?}"
        );
        assert_eq!(e.honest_flagged, 0, "no honest hotspot is flagged: {e:?}");
    }
    assert!(
        r.epochs.iter().any(|e| e.attackers_flagged > 0),
        "the decoys' island is flagged: {:?}",
        r.epochs
    );
}

#[test]
fn a_crowd_of_forgers_earns_nothing_and_leaves_honest_witnesses_paid() {
    let r = attack(Strategy::CrowdOut, 72);
    for e in &r.epochs {
        assert_eq!(e.attacker_total, 0, "forged reports never match: {e:?}");
        assert!(e.honest_median > 0, "honest hotspots keep earning: {e:?}");
    }
    assert!(r.net_over_30_epochs() <= 0);
}

/// A network with the demand module: three oracles (two fresh prices needed, one report held
/// within 10% of the median, no minting past a 20% spread), the honest ones fed at a steady
/// $0.50; `demand` edits the demand section. Returns the node's URL, the three oracle keys and
/// the owner, who holds 100,000 tokens.
fn market_network(
    chain_id: &str,
    honest_feeds: usize,
    demand: impl FnOnce(&mut depin_core::services::demand::params::DemandGenesis),
) -> (tempfile::TempDir, String, Vec<Keypair>, Keypair) {
    use depin_agent::oracle_feed::{self, FeedArgs, PriceFeed};
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([3; 32]);
    let oracles: Vec<Keypair> = (0..3u8).map(|i| Keypair::from_seed([40 + i; 32])).collect();
    let mut allocations = vec![(owner.address(), "100000")];
    allocations.extend(oracles.iter().map(|o| (o.address(), "100")));
    let mut genesis = test_genesis(chain_id, &allocations);
    let coverage = genesis.modules.coverage.as_mut().expect("coverage");
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    let mut d = depin_core::services::demand::params::preset(
        oracles.iter().map(Keypair::address).collect(),
        100,
    );
    demand(&mut d);
    genesis.modules.demand = Some(d);
    let (url, _) = start_network(&home, &genesis);
    for o in &oracles[..honest_feeds] {
        let mut feed = PriceFeed::new(
            &FeedArgs {
                volatility_bps: 0,
                every_blocks: 1,
                ..FeedArgs::default()
            },
            &url,
            Keypair::from_seed(o.seed()),
        )
        .expect("feed");
        feed.first_price().expect("the first price is accepted");
        oracle_feed::spawn(feed);
    }
    (dir, url, oracles, owner)
}

#[test]
fn two_colluding_oracles_of_three_move_the_minting_price_at_most_the_stated_bound() {
    let (_dir, url, oracles, owner) = market_network("depin-oracle-spike", 1, |_| {});
    let burn = depin_core::Amount(1_000_000);
    let r = depin_agent::attack::oracle::measure(&url, &oracles[1..], &owner, 12, burn)
        .expect("the attack runs");
    eprintln!("{}", r.table());
    assert_eq!(r.bound_bps, 1_250);
    let worst = r
        .max_over_honest_bps()
        .expect("the honest oracle stayed fresh");
    // The ring does move the price (this is what the bound is for), never past it.
    assert!(worst > 0, "two of three colluders raised nothing: {r:?}");
    assert!(
        worst <= r.bound_bps,
        "minting {worst} bps over honest: {r:?}"
    );
    assert!(r.credit_gain_bps() <= r.bound_bps, "{r:?}");
    // The honest oracle reports a steady $0.50 and the ledger keeps it at that: the ring cannot
    // drag it along (it did while the move bound followed the median, and walked the minting
    // price from $0.50 to $1.43 in 24 blocks).
    for round in &r.rounds {
        assert_eq!(round.honest, Some(50_000_000), "{round:?}");
        assert!(round.minting <= 56_250_000, "{round:?}");
    }
}

#[test]
fn one_lying_oracle_of_three_never_raises_the_minting_price() {
    let (_dir, url, oracles, owner) = market_network("depin-oracle-spike-1", 2, |_| {});
    let burn = depin_core::Amount(1_000_000);
    let r = depin_agent::attack::oracle::measure(&url, &oracles[2..], &owner, 8, burn)
        .expect("the attack runs");
    eprintln!("{}", r.table());
    let worst = r
        .max_over_honest_bps()
        .expect("honest oracles stayed fresh");
    // The median is an honest price; the liar only widens the spread, which lowers minting.
    assert!(worst <= 0, "one liar raised minting {worst} bps: {r:?}");
    assert!(r.credit_gain_bps() <= 0, "{r:?}");
    assert_eq!(r.refused(), 0, "the lie stays inside the breaker: {r:?}");
}

#[test]
fn self_dealing_beside_honest_demand_returns_less_than_it_burns() {
    // The edge of the ledger's bound: 20% re-minted, the demand pool at most 80% of the value
    // of the credits burned for traffic.
    let (_dir, url, _, owner) = market_network("depin-self-deal", 3, |d| {
        d.remint_bps = 2_000;
        d.demand_cap_bps = 8_000;
    });
    let args = AttackArgs {
        attackers: Some(3),
        hotspots: 10,
        radius_m: 4_000.0,
        epochs: 2,
        seed: 12,
        ..AttackArgs::new(Strategy::SelfDeal)
    };
    let r = depin_agent::attack::self_deal::measure(&args, &url, owner, 3).expect("runs");
    eprintln!("{}", r.table());
    let paid: u128 = r.epochs.iter().map(|e| e.self_credits).sum();
    let honest: u128 = r.epochs.iter().map(|e| e.honest_credits).sum();
    assert!(
        paid > 0 && honest > 0,
        "both payers' traffic was paid: {r:?}"
    );
    assert!(
        r.returned() > 0,
        "self-dealing brought something back: {r:?}"
    );
    assert!(
        r.return_bps() <= 10_000,
        "self-dealing returned {} bps of its cost: {r:?}",
        r.return_bps()
    );
}
