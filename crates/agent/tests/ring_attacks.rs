//! The fake-hotspot attacks of issue 12 against a real node beside honest simulated hotspots: a
//! witness farm (`--forgers`) and a spread ring (`--spread-ring`), both spread one per
//! resolution-8 hex 1-10 km from honest hotspots, filing plausible witness reports before the
//! honest ones. Prints each role's share of the coverage rewards (docs/SECURITY.md).

mod common;

use common::{earnings_over, start_network, test_genesis};

use depin_agent::hotspot::{Fleet, HotspotArgs, Role};
use depin_core::Keypair;
use depin_node::Home;

#[test]
fn fake_hotspots_earn_only_what_they_witness_of_each_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([3; 32]);
    let genesis = test_genesis("depin-ring-attacks", &[(owner.address(), "100000")]);
    let (url, _) = start_network(&home, &genesis);

    let args = HotspotArgs {
        forgers: 6,
        spread_ring: 6,
        ..HotspotArgs::honest(25, 8_000.0, 9)
    };
    let mut fleet = Fleet::new(&args, &url, owner).expect("fleet");
    fleet.onboard().expect("onboarding");
    // Past the grace period (3 windows), then two whole epochs.
    let (first, last, total) = earnings_over(&mut fleet, 2);
    let sum = |r: Role| total.get(&r).map_or(0, |v| v.iter().sum::<u128>());
    let all: u128 = total.values().flatten().sum();
    let share = |r: Role| sum(r) * 1_000_000 / all.max(1);
    eprintln!(
        "coverage rewards over epochs {}..={last}: honest {} ppm, forgers {} ppm, spread ring {} ppm; by device {total:?}",
        first,
        share(Role::Honest),
        share(Role::Forger),
        share(Role::SpreadRing)
    );
    assert!(sum(Role::Honest) > 0, "honest hotspots earn");
    // Forged reports never match a payload the forger did not hear: a farm earns nothing.
    assert_eq!(sum(Role::Forger), 0, "{total:?}");
    // A ring sharing payloads off-air is not stopped by cryptography: it earns from its own
    // beacons, but no more per device than an honest hotspot at the median.
    let mut honest = total[&Role::Honest].clone();
    honest.sort_unstable();
    let best_honest = *honest.last().expect("honest");
    for earned in &total[&Role::SpreadRing] {
        assert!(*earned <= best_honest, "{total:?}");
    }
    // The farm's reports are on the chain as mismatched at each reveal.
    let e = fleet
        .client()
        .get(&format!("/v1/epochs/{last}"))
        .expect("epoch");
    eprintln!("epoch {last}: {}", e["modules"]);
}
