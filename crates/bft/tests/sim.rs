//! Deterministic simulations of a 4-validator network on commonware's deterministic runtime
//! and simulated network: lossy, delayed links and one faulty validator (crashed and
//! restarted, partitioned and healed, or equivocating). Each run checks that honest
//! validators never disagree on a block or an app hash, that committed transactions keep
//! their receipts everywhere, and that every honest validator makes progress within a bounded
//! simulated time after the fault heals. One more scenario changes the validator set at epoch
//! boundaries: a solo network grows to four validators, then one leaves. Another seats a
//! fifth validator that no `peers.toml` lists: the others connect to it at the endpoint it
//! registered on chain.
//!
//! `DEPIN_BFT_SIM_SEEDS=1000 cargo test -p depin-bft --release --test sim -- --nocapture`
//! runs more seeds than CI's one per scenario.

mod common;

use common::{Fault, simulate};

/// Seeds 0..N with `DEPIN_BFT_SIM_SEEDS=N` (1 by default); `DEPIN_BFT_SIM_SEED=S` replays
/// seed S alone.
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    match var("DEPIN_BFT_SIM_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..var("DEPIN_BFT_SIM_SEEDS").unwrap_or(1),
    }
}

#[test]
fn a_crashed_validator_restarts_and_catches_up() {
    for seed in seeds() {
        let report = simulate(seed, Fault::CrashRestart);
        println!("crash seed {seed}: {report:?}");
    }
}

#[test]
fn a_partitioned_validator_heals_and_catches_up() {
    for seed in seeds() {
        let report = simulate(seed, Fault::Partition);
        println!("partition seed {seed}: {report:?}");
    }
}

#[test]
fn an_equivocating_validator_is_caught_and_the_others_agree() {
    for seed in seeds() {
        let report = simulate(seed, Fault::Equivocate);
        assert!(
            report.faults_seen > 0,
            "seed {seed}: the conflicting votes were never reported"
        );
        // Recorded on chain: validator 3 is slashed and jailed, and left out of the set at the
        // next epoch boundary (the honest three run the next epoch).
        assert_eq!(
            report.slashed,
            vec![(3, true)],
            "seed {seed}: the equivocator is slashed and jailed, nobody else"
        );
        assert!(
            report.epochs.iter().any(|(_, n)| *n == 3),
            "seed {seed}: the equivocator was never left out: epochs {:?}",
            report.epochs
        );
        println!("equivocation seed {seed}: {report:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_chain() {
    let a = simulate(7, Fault::Partition);
    let b = simulate(7, Fault::Partition);
    assert_eq!(a, b);
}

#[test]
fn a_solo_network_grows_to_four_validators_then_one_leaves() {
    for seed in seeds() {
        let run = common::reconfigure(seed);
        let sizes: Vec<usize> = run.epochs.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(
            sizes,
            common::SETS.iter().map(|s| s.len()).collect::<Vec<_>>(),
            "seed {seed}: epochs {:?}",
            run.epochs
        );
        println!("reconfigure seed {seed}: {run:?}");
    }
}

#[test]
fn a_crashed_validator_is_jailed_for_downtime_and_catches_up_epochs_later() {
    for seed in seeds() {
        let run = common::downtime(seed);
        assert_eq!(run.jailed.1, "downtime", "seed {seed}");
        assert!(
            run.report.slashed.is_empty(),
            "seed {seed}: downtime is never slashed: {:?}",
            run.report.slashed
        );
        let sizes: Vec<usize> = run.epochs.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(
            sizes[..3],
            [4, 3, 4],
            "seed {seed}: out of the set, then back: epochs {:?}",
            run.epochs
        );
        // It restarted in epoch 0 and went through every epoch the others entered since,
        // at the same blocks.
        assert_eq!(run.restarted_epochs[0].0, 0, "seed {seed}");
        for e in &run.restarted_epochs[1..] {
            assert!(
                run.epochs.contains(e),
                "seed {seed}: the restarted validator entered {e:?}, the others {:?}",
                run.epochs
            );
        }
        assert!(
            run.restarted_epochs.len() >= 3,
            "seed {seed}: caught up over two epoch switches: {:?}",
            run.restarted_epochs
        );
        println!("downtime seed {seed}: {run:?}");
    }
}

#[test]
fn a_solo_driven_chain_hands_over_to_four_validators_at_the_boundary() {
    for seed in seeds() {
        let run = common::handoff(seed);
        assert_eq!(
            run.epochs,
            vec![(0, 4, run.last_solo)],
            "seed {seed}: epoch 0 starts on the last solo block with the four validators"
        );
        assert!(
            run.proposers.len() > 1,
            "seed {seed}: only {:?} proposed after the hand-off",
            run.proposers
        );
        println!("handoff seed {seed}: {run:?}");
    }
}

#[test]
fn an_elected_validator_in_nobodys_peers_toml_joins_from_its_endpoint_on_chain() {
    for seed in seeds() {
        let run = common::newcomer(seed);
        let sizes: Vec<usize> = run.epochs.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(
            sizes[..2],
            [4, 5],
            "seed {seed}: the newcomer takes office at the first boundary: epochs {:?}",
            run.epochs
        );
        assert_eq!(
            run.endpoints,
            vec![(common::NEWCOMER, "10.0.0.5:26600".to_string())],
            "seed {seed}: the five-validator epoch starts with the newcomer's registered endpoint"
        );
        println!("newcomer seed {seed}: {run:?}");
    }
}
