//! Epoch close benchmark: the ledger closing one epoch of proof of coverage for a network of a
//! million hotspots held in a real [`State`].
//!
//! The synthetic network ([`network`]) is written into the state as its onboarding and report
//! transactions would have left it (registry entries with their owner and cell indexes, hotspot
//! records, accounts, the epoch's beacon records with their witnesses; see
//! `depin_core::bench_support`), a few epochs into the chain so activity history is real. Then
//! one empty block at the epoch boundary is built with [`build_block`] and timed: it asks
//! coverage for its epoch work (reading every beacon, registry entry and hotspot record,
//! scoring, writing a score per device, deleting the beacons), plans and settles the pools,
//! mints to owners, marks the paid hotspots active, writes the reward records and the epoch
//! summary, and commits the state's Merkle tree. Not in it: the signature checks of the
//! reports (done when each report was admitted and executed, see the coverage bench) and the
//! store's disk write of the block's changes.
//!
//! Compared against, in the same run: reading every hotspot's registry entry and hotspot
//! record once from the same state (the least any close over these devices must do), and the
//! scoring and pro-rata payout alone on in-memory inputs, as this bench measured before the
//! ledger had one epoch close.

pub mod network;

use std::hint::black_box;
use std::time::Instant;

use depin_core::bench_support::{BenchBeacon, BenchHotspot, put_coverage_network};
use depin_core::economics::{EconomyView, pro_rata};
use depin_core::genesis::{ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::device::CoverageView;
use depin_core::modules::coverage::preset;
use depin_core::modules::coverage::rewards::{RewardParams, Score, score_epoch};
use depin_core::{Amount, Genesis, Keypair, Signatures, State, build_block};
use serde::Serialize;

use network::Network;

/// What to run.
#[derive(Clone, Debug)]
pub struct EpochBench {
    pub devices: usize,
    pub seed: u64,
}

/// Results, printed as JSON by `depin bench epoch --json`.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    /// The ledger's epoch close: building and committing the block at the epoch boundary.
    pub seconds: f64,
    /// Reading every hotspot's registry entry and hotspot record once from the same state.
    pub read_devices_seconds: f64,
    /// `seconds / read_devices_seconds`.
    pub close_vs_read: f64,
    /// Bytes of every key and value in the state's module tables and accounts.
    pub state_bytes: usize,
    /// Copying as many bytes as the state holds with `memcpy` (64 MiB at a time).
    pub memcpy_state_seconds: f64,
    /// `seconds / memcpy_state_seconds`.
    pub close_vs_memcpy: f64,
    /// State entries the close block wrote or deleted (accounts included).
    pub close_writes: usize,
    /// Module-table and account entries in the state before the close.
    pub state_entries: usize,
    /// `score_epoch` plus `pro_rata` alone over the same network, in memory (the old bench).
    pub scoring_only_seconds: f64,
    pub scoring_seconds: f64,
    pub payout_seconds: f64,
    /// Generating the network (not timed in `seconds`).
    pub generate_seconds: f64,
    /// Writing it into the state and committing (not timed in `seconds`).
    pub state_setup_seconds: f64,
    pub devices: usize,
    pub owners: usize,
    pub beacons: usize,
    pub witness_reports: usize,
    /// Hotspots whose beacon was heard (they count for density).
    pub active_hotspots: usize,
    /// Hotspots the ledger's close paid.
    pub hotspots_paid: u64,
    /// Paid hotspots whose hex density scale is below 1 (scoring alone).
    pub hotspots_scaled_down: usize,
    /// The epoch's coverage pool, base units (8 decimals).
    pub pool: String,
    /// Rounding dust of the ledger's close, base units (minted to the treasury).
    pub dust: String,
}

/// Blocks per epoch and per beacon window of the bench network (4 windows an epoch).
pub(crate) const EPOCH_LENGTH_BLOCKS: u64 = 8;
pub(crate) const BEACON_INTERVAL_BLOCKS: u64 = 2;
/// The epoch the timed block closes: late enough that 8 epochs of activity history are real.
pub(crate) const CLOSED_EPOCH: u64 = 8;
/// Emission per epoch, whole tokens: a large network's daily emission, all to coverage.
const EMISSION_TOKENS: u128 = 20_000;
const DECIMALS: u8 = 8;
pub(crate) const BLOCK_INTERVAL_MS: u64 = 1000;

/// Runs the benchmark.
pub fn run(cfg: &EpochBench) -> EpochReport {
    let started = Instant::now();
    let windows_per_epoch = EPOCH_LENGTH_BLOCKS / BEACON_INTERVAL_BLOCKS;
    let network = network::generate(cfg.devices, cfg.seed, windows_per_epoch);
    let generate_seconds = started.elapsed().as_secs_f64();

    let scoring = scoring_only(&network);

    let started = Instant::now();
    let validator = Keypair::from_seed([0xe1; 32]);
    let mut state = ledger_at_boundary(&network, &validator);
    let state_setup_seconds = started.elapsed().as_secs_f64();
    let state_entries = state.account_count() + state.range(&[0], &[0xff; 2]).count();
    // An account is a 33-byte key and a 24-byte value.
    let state_bytes = state.account_count() * (33 + 24)
        + state
            .range(&[0], &[0xff; 2])
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    let memcpy_state_seconds = memcpy_seconds(state_bytes);

    let t = Instant::now();
    let mut found = 0usize;
    for h in &network.hotspots {
        found += usize::from(black_box(state.device(&h.device)).is_some());
    }
    let read_devices_seconds = t.elapsed().as_secs_f64();
    assert_eq!(found, network.hotspots.len(), "every hotspot is onboarded");

    let supply_before = state.meta().total_supply;
    let time_ms = (state.height() + 1) * BLOCK_INTERVAL_MS;
    let t = Instant::now();
    let (_, applied) = build_block(
        &mut state,
        Vec::new(),
        time_ms,
        &validator,
        Signatures::Verify,
    );
    let seconds = t.elapsed().as_secs_f64();

    let summary = state
        .epoch_summary(CLOSED_EPOCH)
        .expect("the block closed the epoch");
    assert_eq!(
        summary.total_shares, scoring.total_shares,
        "the ledger scores the state's records as score_epoch scores the same network"
    );
    assert_eq!(
        state.meta().total_supply,
        supply_before.checked_add(summary.emission).expect("fits"),
        "the close mints the emission exactly"
    );
    assert_eq!(state.sum_of_balances(), state.meta().total_supply);

    EpochReport {
        seconds,
        read_devices_seconds,
        close_vs_read: seconds / read_devices_seconds,
        state_bytes,
        memcpy_state_seconds,
        close_vs_memcpy: seconds / memcpy_state_seconds,
        close_writes: applied.writes.len(),
        state_entries,
        scoring_only_seconds: scoring.scoring_seconds + scoring.payout_seconds,
        scoring_seconds: scoring.scoring_seconds,
        payout_seconds: scoring.payout_seconds,
        generate_seconds,
        state_setup_seconds,
        devices: network.hotspots.len(),
        owners: network.owners,
        beacons: network.beacons.len(),
        witness_reports: network.beacons.iter().map(|b| b.witnesses.len()).sum(),
        active_hotspots: network
            .beacons
            .iter()
            .filter(|b| !b.witnesses.is_empty())
            .count(),
        hotspots_paid: summary.devices_paid,
        hotspots_scaled_down: scoring.scaled_down,
        pool: summary.bootstrap_pool.0.to_string(),
        dust: summary.dust.0.to_string(),
    }
}

/// Seconds to copy `bytes` bytes with `memcpy`, 64 MiB at a time (the memory bandwidth floor).
fn memcpy_seconds(bytes: usize) -> f64 {
    const CHUNK: usize = 64 << 20;
    let from = vec![1u8; CHUNK];
    let mut to = vec![0u8; CHUNK];
    let t = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK);
        to[..n].copy_from_slice(black_box(&from[..n]));
        black_box(&mut to);
        left -= n;
    }
    t.elapsed().as_secs_f64()
}

/// What scoring and paying alone measured.
struct ScoringOnly {
    scoring_seconds: f64,
    payout_seconds: f64,
    total_shares: u128,
    scaled_down: usize,
}

/// `score_epoch` and `pro_rata` over the network's in-memory inputs (inputs built untimed).
fn scoring_only(network: &Network) -> ScoringOnly {
    let (hotspots, beacons) = network.scoring_input();
    let params = RewardParams::default();
    let pool = Amount(EMISSION_TOKENS * 10u128.pow(u32::from(DECIMALS)));

    let t = Instant::now();
    let scores: Vec<Score> = score_epoch(&params, &hotspots, &beacons);
    let scoring_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let shares: Vec<(u32, u128)> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.shares > 0)
        .map(|(i, s)| (i as u32, s.shares))
        .collect();
    let payout = pro_rata(pool, &shares);
    let payout_seconds = t.elapsed().as_secs_f64();

    let paid: u128 = payout.payouts.iter().map(|(_, a)| a.0).sum();
    assert_eq!(paid + payout.dust.0, pool.0, "payouts + dust = pool");
    ScoringOnly {
        scoring_seconds,
        payout_seconds,
        total_shares: shares.iter().map(|(_, s)| s).sum(),
        scaled_down: scores
            .iter()
            .filter(|s| s.shares > 0 && s.hex_scale_ppm < 1_000_000)
            .count(),
    }
}

/// A ledger with `network` onboarded and its beacons reported, one block before the end of
/// [`CLOSED_EPOCH`].
fn ledger_at_boundary(network: &Network, validator: &Keypair) -> State {
    let genesis = bench_genesis(network, validator);
    let mut state = State::genesis(&genesis).expect("the bench genesis is valid");
    // Earlier epochs close empty: the network joins just before the closed epoch's last block.
    while state.height() + 1 < (CLOSED_EPOCH + 1) * EPOCH_LENGTH_BLOCKS {
        let time_ms = (state.height() + 1) * BLOCK_INTERVAL_MS;
        build_block(
            &mut state,
            Vec::new(),
            time_ms,
            validator,
            Signatures::Verify,
        );
    }
    let (hotspots, beacons) = bench_records(network);
    put_coverage_network(&mut state, &hotspots, &beacons);
    state
}

/// The bench network's genesis: coverage in one region holding the network's cells, no fees,
/// the whole emission to coverage.
pub(crate) fn bench_genesis(network: &Network, validator: &Keypair) -> Genesis {
    let treasury = Keypair::from_seed([0xe2; 32]);
    let mut coverage = preset::single_region(preset::BERLIN, BEACON_INTERVAL_BLOCKS);
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    coverage.regions[0].h3_cells = network.region_cells();
    Genesis {
        chain_id: "depin-bench-epoch".into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: DECIMALS,
        },
        consensus: ConsensusParams {
            block_interval_ms: BLOCK_INTERVAL_MS,
            epoch_length_blocks: EPOCH_LENGTH_BLOCKS,
            max_block_txs: 1000,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: Vec::new(),
        economics: Some(EconomicsGenesis {
            emission_per_epoch: EMISSION_TOKENS.to_string(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: treasury.address(),
            // The whole emission is the coverage pool, as in the scoring-only measurement.
            treasury_bps: 0,
            pool_weights: Default::default(),
        }),
        fees: None,
        modules: depin_core::modules::ModulesGenesis {
            storage: None,
            coverage: Some(coverage),
            ..Default::default()
        },
    }
}

/// The network's hotspots and the closed epoch's beacons as the state writer takes them.
pub(crate) fn bench_records(network: &Network) -> (Vec<BenchHotspot>, Vec<BenchBeacon>) {
    let hotspots: Vec<BenchHotspot> = network
        .hotspots
        .iter()
        .map(|h| BenchHotspot {
            device: h.device,
            owner: h.owner,
            location: h.location,
            gain_cdbi: h.gain_cdbi,
            elevation_m: 10,
            recent_activity: h.recent_activity,
        })
        .collect();
    // The close of an epoch scores the windows whose reveal window has passed: they start
    // `entropy_max_age_windows + 1` windows before the epoch's first.
    let reveal_lag = depin_core::modules::coverage::preset::rules(BEACON_INTERVAL_BLOCKS)
        .entropy_max_age_windows
        + 1;
    let first_window = CLOSED_EPOCH * EPOCH_LENGTH_BLOCKS / BEACON_INTERVAL_BLOCKS - reveal_lag;
    let address = |i: u32| network.hotspots[i as usize].device;
    let beacons: Vec<BenchBeacon> = network
        .beacons
        .iter()
        .map(|b| BenchBeacon {
            window: first_window + b.window_in_epoch,
            beaconer: address(b.beaconer),
            witnesses: b.witnesses.iter().map(|&w| address(w)).collect(),
        })
        .collect();
    (hotspots, beacons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_epoch_is_closed_by_the_ledger_paid_exactly_and_density_bites() {
        let report = run(&EpochBench {
            devices: 3_000,
            seed: 7,
        });
        assert_eq!(report.devices, 3_000);
        // One in ten offline; the rest beacon once.
        assert!(
            report.beacons > 2_500 && report.beacons < 2_900,
            "{report:?}"
        );
        assert!(
            report.active_hotspots < report.beacons,
            "some beacons go unheard"
        );
        assert!(
            report.active_hotspots > report.beacons * 9 / 10,
            "{report:?}"
        );
        assert!(
            report.witness_reports >= 4 * report.active_hotspots
                && report.witness_reports <= 15 * report.active_hotspots,
            "{report:?}"
        );
        assert!(report.hotspots_paid > 2_400, "{report:?}");
        assert!(
            report.hotspots_paid < 3_000,
            "offline hotspots earn nothing"
        );
        assert!(
            report.hotspots_scaled_down > 0,
            "shared buildings are scaled down: {report:?}"
        );
        // The close wrote at least a score and a reward record per paid hotspot.
        assert!(
            report.close_writes as u64 > 2 * report.hotspots_paid,
            "{report:?}"
        );
        let again = run(&EpochBench {
            devices: 3_000,
            seed: 7,
        });
        assert_eq!(again.dust, report.dust, "deterministic from the seed");
    }
}
