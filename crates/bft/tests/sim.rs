//! Deterministic simulations of a 4-validator network on commonware's deterministic runtime
//! and simulated network: lossy, delayed links and one faulty validator (crashed and
//! restarted, partitioned and healed, or equivocating). Each run checks that honest
//! validators never disagree on a block or an app hash, that committed transactions keep
//! their receipts everywhere, and that every honest validator makes progress within a bounded
//! simulated time after the fault heals.
//!
//! `DEPIN_BFT_SIM_SEEDS=1000 cargo test -p depin-bft --release --test sim -- --nocapture`
//! runs more seeds than CI's one per scenario.

mod common;

use common::{Fault, simulate};

fn seeds() -> u64 {
    std::env::var("DEPIN_BFT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

#[test]
fn a_crashed_validator_restarts_and_catches_up() {
    for seed in 0..seeds() {
        let report = simulate(seed, Fault::CrashRestart);
        println!("crash seed {seed}: {report:?}");
    }
}

#[test]
fn a_partitioned_validator_heals_and_catches_up() {
    for seed in 0..seeds() {
        let report = simulate(seed, Fault::Partition);
        println!("partition seed {seed}: {report:?}");
    }
}

#[test]
fn an_equivocating_validator_is_caught_and_the_others_agree() {
    for seed in 0..seeds() {
        let report = simulate(seed, Fault::Equivocate);
        assert!(
            report.faults_seen > 0,
            "seed {seed}: the conflicting votes were never reported"
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
