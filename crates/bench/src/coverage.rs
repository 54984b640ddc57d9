//! End-to-end proof-of-coverage benchmark: beacon and witness reports admitted to the mempool
//! (batch signature verification), executed with every coverage check, and committed durably.
//!
//! Hotspots sit on a grid; every window each one beacons and its nearest neighbours witness it
//! with plausible signals, so every report passes every check (beacons are not revealed: the
//! benchmark measures reports). Beacon payloads depend on the chain's entropy, so reports are
//! signed window by window; signing is the devices' work, done in
//! parallel between timed phases and not counted.

use std::path::Path;
use std::time::Instant;

use depin_core::genesis::Allocation;
use depin_core::modules::coverage::actions::{
    Beacon, DeviceKind, Location, OnboardDevice, Witness, beacon_channel, beacon_commitment,
    beacon_payload, sign_beacon, sign_onboarding, witness_commitment,
};
use depin_core::modules::coverage::preset;
use depin_core::modules::coverage::radio::{Link, great_circle_distance_m};
use depin_core::{Action, Keypair, Transaction};
use rayon::prelude::*;
use serde::Serialize;

use crate::driver::{Driver, submit_all};

/// What to run.
#[derive(Clone, Debug)]
pub struct CoverageBench {
    /// Hotspots on the grid.
    pub hotspots: usize,
    /// Beacon windows measured.
    pub windows: u64,
    /// Witnesses per beacon (nearest grid neighbours), at most 12.
    pub witnesses_per_beacon: usize,
    pub max_block_txs: u32,
}

impl Default for CoverageBench {
    fn default() -> Self {
        CoverageBench {
            hotspots: 4096,
            windows: 8,
            witnesses_per_beacon: 10,
            max_block_txs: 50_000,
        }
    }
}

/// Results, printed as JSON by `depin bench coverage --json`.
#[derive(Clone, Debug, Serialize)]
pub struct CoverageReport {
    /// Reports accepted per second over the timed phases (admission, execution, commit).
    pub reports_per_s: f64,
    pub reports_accepted: u64,
    pub reports_rejected: u64,
    pub beacons: u64,
    pub witnesses: u64,
    /// Seconds in the timed phases.
    pub seconds: f64,
    /// Seconds spent signing reports (device side, all cores; not in `seconds`).
    pub signing_seconds: f64,
    pub blocks: u64,
    pub hotspots: usize,
    pub windows: u64,
    pub cores: usize,
}

/// Grid spacing between hotspots, metres (above the ~350 m minimum witness distance).
const GRID_SPACING_M: f64 = 1_000.0;
/// Blocks per beacon window in the bench: beacons, then witnesses, then room to spare.
const BEACON_INTERVAL_BLOCKS: u64 = 4;

/// Runs the benchmark with its database in `dir`.
pub fn run(cfg: &CoverageBench, dir: &Path) -> Result<CoverageReport, String> {
    let n = cfg.hotspots.max(2);
    let side = (n as f64).sqrt().ceil() as usize;
    let validator = Keypair::from_seed([0xc0; 32]);
    let owner = Keypair::from_seed([0xc1; 32]);
    let treasury = Keypair::from_seed([0xc2; 32]);
    let keys: Vec<Keypair> = (0..n)
        .map(|i| {
            let mut seed = [0xc3u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    // Metres to microdegrees around the centre.
    let center = preset::BERLIN;
    let lat_per_m = 1e6 / 111_320.0;
    let lon_per_m = lat_per_m / center.lat_deg().to_radians().cos();
    let location = |i: usize| {
        let (row, col) = ((i / side) as f64, (i % side) as f64);
        Location {
            lat_udeg: center.lat_udeg + (row * GRID_SPACING_M * lat_per_m) as i32,
            lon_udeg: center.lon_udeg + (col * GRID_SPACING_M * lon_per_m) as i32,
        }
    };
    let mut coverage = preset::single_region(center, BEACON_INTERVAL_BLOCKS);
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    // Nobody is new for long in a bench that measures steady state.
    coverage.rules.reciprocity_grace_windows = 2;
    let genesis = crate::BenchNetwork {
        name: "coverage",
        // No epoch ends inside the measured windows: this bench is about reports.
        epoch_length_blocks: BEACON_INTERVAL_BLOCKS * 10_000,
        max_block_txs: cfg.max_block_txs,
        validator: validator.address(),
        treasury: treasury.address(),
        allocations: vec![Allocation {
            address: owner.address(),
            amount: "1000".into(),
        }],
        modules: depin_core::modules::ModulesGenesis {
            coverage: Some(coverage),
            ..Default::default()
        },
    }
    .genesis();
    let network = genesis.network();
    let chain_id = network.chain_id.clone();
    let params = genesis.params();
    let coverage = params
        .modules
        .coverage
        .clone()
        .expect("the bench genesis has coverage");
    let (node, mut producer) = crate::open_node(genesis, dir, validator, 1_000_000, 1 << 30)?;
    let mut chain = Driver::new(&node, &mut producer);

    // Onboard everyone (not timed).
    let onboard: Vec<Transaction> = (0..n)
        .into_par_iter()
        .map(|i| {
            let action = Action::from(OnboardDevice {
                device: keys[i].address(),
                kind: DeviceKind::Hotspot,
                region: "EU868".into(),
                location: Some(location(i)),
                gain_cdbi: 300,
                elevation_m: 10,
                device_signature: sign_onboarding(&chain_id, &owner.address(), &keys[i]),
            });
            crate::sign(&network, &owner, i as u64, action)
        })
        .collect();
    // One owner signs them all; stay inside the mempool's nonce window.
    for chunk in onboard.chunks(1000) {
        submit_all(&node, chunk.to_vec())?;
        while !node.mempool.lock().expect("mempool").is_empty() {
            if chain.produce()?.iter().any(|ok| !ok) {
                return Err("onboarding was refused; the bench genesis is inconsistent".into());
            }
        }
    }

    // Each hotspot's witnesses: its nearest grid neighbours.
    let neighbours: Vec<Vec<usize>> = (0..n)
        .map(|i| nearest(i, side, n, cfg.witnesses_per_beacon.min(12)))
        .collect();
    let region = &coverage.regions[0];
    let mut nonces = vec![0u64; n];
    let (mut accepted, mut rejected, mut beacons, mut witnesses) = (0u64, 0u64, 0u64, 0u64);
    let (mut timed, mut signing) = (0.0f64, 0.0f64);
    let warmup = coverage.rules.reciprocity_grace_windows;
    for round in 0..cfg.windows + warmup {
        // Move to the first block of a fresh window.
        while node.tip().height % BEACON_INTERVAL_BLOCKS != 0 {
            chain.produce()?;
        }
        let height = node.tip().height;
        let window = height / BEACON_INTERVAL_BLOCKS;
        let entropy = node
            .store
            .block(height)
            .map_err(|e| e.to_string())?
            .ok_or("missing block")?
            .hash();
        let sent_at_ms = chain.time_ms + 1;

        let t = Instant::now();
        // What each hotspot transmits on air (its secret until its reveal, not benchmarked).
        let payloads: Vec<_> = (0..n)
            .into_par_iter()
            .map(|i| beacon_payload(&sign_beacon(&chain_id, &keys[i], &entropy, window)))
            .collect();
        let commitments: Vec<_> = (0..n)
            .map(|i| beacon_commitment(&payloads[i], window, &keys[i].address()))
            .collect();
        let beacon_txs: Vec<Transaction> = (0..n)
            .into_par_iter()
            .map(|i| {
                let commitment = commitments[i];
                let channel = beacon_channel(&commitment, region.channels_hz.len());
                let action = Action::from(Beacon {
                    window,
                    commitment,
                    channel,
                    tx_power_cdbm: 1200,
                    sent_at_ms,
                });
                crate::sign(&network, &keys[i], nonces[i], action)
            })
            .collect();
        nonces.iter_mut().for_each(|x| *x += 1);
        let beacon_sign = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (a, r) = chain.apply_all(beacon_txs)?;
        let beacon_time = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut witness_txs: Vec<(usize, Vec<Transaction>)> = (0..n)
            .into_par_iter()
            .map(|w| {
                // Witness w reports every neighbour's beacon it hears, in a fixed order.
                let mut out = Vec::new();
                for (k, &b) in neighbours[w].iter().enumerate() {
                    let beaconer = keys[b].address();
                    let commitment =
                        witness_commitment(&payloads[b], window, &beaconer, &keys[w].address());
                    let channel = beacon_channel(&commitments[b], region.channels_hz.len());
                    let (lb, lw) = (location(b), location(w));
                    let distance =
                        great_circle_distance_m(lb.lat_udeg, lb.lon_udeg, lw.lat_udeg, lw.lon_udeg);
                    let frequency_hz = region.channels_hz[channel as usize];
                    let max = Link {
                        tx_power_cdbm: 1200,
                        tx_gain_cdbi: 300,
                        rx_gain_cdbi: 300,
                        distance_m: distance as u32,
                        frequency_hz,
                    }
                    .max_rssi_cdbm();
                    let rssi_cdbm = (max - 2_000).max(region.sensitivity_cdbm + 500);
                    let action = Action::from(Witness {
                        beaconer,
                        window,
                        commitment,
                        frequency_hz,
                        rssi_cdbm,
                        snr_cdb: (rssi_cdbm - region.noise_floor_cdbm).min(1_000),
                        heard_at_ms: sent_at_ms + 20,
                    });
                    out.push(crate::sign(
                        &network,
                        &keys[w],
                        nonces[w] + k as u64,
                        action,
                    ));
                }
                (w, out)
            })
            .collect();
        witness_txs.sort_by_key(|(w, _)| *w);
        for (w, list) in &witness_txs {
            nonces[*w] += list.len() as u64;
        }
        let witness_txs: Vec<Transaction> = witness_txs.into_iter().flat_map(|(_, l)| l).collect();
        let witness_sign = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let witness_count = witness_txs.len() as u64;
        let (wa, wr) = chain.apply_all(witness_txs)?;
        let witness_time = t.elapsed().as_secs_f64();

        if round >= warmup {
            timed += beacon_time + witness_time;
            signing += beacon_sign + witness_sign;
            accepted += a + wa;
            rejected += r + wr;
            beacons += n as u64;
            witnesses += witness_count;
        }
    }
    Ok(CoverageReport {
        reports_per_s: accepted as f64 / timed,
        reports_accepted: accepted,
        reports_rejected: rejected,
        beacons,
        witnesses,
        seconds: timed,
        signing_seconds: signing,
        blocks: chain.blocks,
        hotspots: n,
        windows: cfg.windows,
        cores: rayon::current_num_threads(),
    })
}

/// Up to `k` grid neighbours of hotspot `i`, nearest first.
fn nearest(i: usize, side: usize, n: usize, k: usize) -> Vec<usize> {
    const OFFSETS: [(i64, i64); 12] = [
        (0, 1),
        (1, 0),
        (0, -1),
        (-1, 0),
        (1, 1),
        (1, -1),
        (-1, 1),
        (-1, -1),
        (0, 2),
        (2, 0),
        (0, -2),
        (-2, 0),
    ];
    let (row, col) = ((i / side) as i64, (i % side) as i64);
    OFFSETS
        .iter()
        .filter_map(|(dr, dc)| {
            let (r, c) = (row + dr, col + dc);
            if r < 0 || c < 0 || c >= side as i64 {
                return None;
            }
            let j = (r * side as i64 + c) as usize;
            (j < n).then_some(j)
        })
        .take(k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_report_passes_every_check() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = CoverageBench {
            hotspots: 36,
            windows: 2,
            witnesses_per_beacon: 8,
            max_block_txs: 1000,
        };
        let report = run(&cfg, dir.path()).unwrap();
        assert_eq!(report.reports_rejected, 0, "{report:?}");
        assert_eq!(report.beacons, 72);
        assert!(report.witnesses > 36 * 3, "{report:?}");
        assert_eq!(report.reports_accepted, report.beacons + report.witnesses);
    }
}
