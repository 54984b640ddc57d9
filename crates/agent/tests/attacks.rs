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
        strategy,
        attackers: Some(attackers),
        hotspots: 16,
        radius_m: 6_000.0,
        epochs: 2,
        seed: 11,
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
