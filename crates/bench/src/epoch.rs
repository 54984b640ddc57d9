//! Epoch reward benchmark: scoring one epoch of proof of coverage (units, witness cap, hex density
//! scaling, quality) and paying the coverage pool pro rata, for a synthetic network of a million
//! hotspots. The same functions the ledger's epoch end calls (`score_epoch`, `pro_rata`).
//!
//! The population: 70% of hotspots in twenty cities (dense cores, thinning suburbs), 30% spread
//! over the countryside of a 24° x 40° region, and one in twenty sharing a building (the same
//! resolution-12 cell) with the previous one, so density clipping has work to do. One in ten is
//! offline this epoch; every other hotspot beacons once, and its beacon is heard by nobody (3%)
//! or by 5 to 15 online hotspots drawn from its neighbours in H3 order (hotspots sorted by cell
//! are spatially close), as a real network's first-to-arrive witnesses would be (Helium's cap of
//! 14 rewarded witnesses therefore bites on some beacons). Input generation is timed apart
//! (`setup_seconds`) from the epoch end it feeds (`seconds`).

use std::time::Instant;

use depin_core::economics::pro_rata;
use depin_core::modules::coverage::rewards::{
    Hotspot, RewardParams, Score, ScoredBeacon, score_epoch,
};
use depin_core::{Address, Amount};
use serde::Serialize;

/// What to run.
#[derive(Clone, Debug)]
pub struct EpochBench {
    pub devices: usize,
    pub seed: u64,
}

/// Results, printed as JSON by `depin bench epoch --json`.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    /// Scoring plus payout, the work of one epoch end.
    pub seconds: f64,
    pub scoring_seconds: f64,
    pub payout_seconds: f64,
    /// Building the synthetic network (not part of `seconds`).
    pub setup_seconds: f64,
    pub devices: usize,
    pub beacons: usize,
    pub witness_reports: usize,
    /// Hotspots whose beacon was heard (they count for density).
    pub active_hotspots: usize,
    pub hotspots_paid: usize,
    /// Paid hotspots whose hex density scale is below 1.
    pub hotspots_scaled_down: usize,
    pub pool: String,
    pub dust: String,
}

/// A small deterministic generator (splitmix64): the bench needs reproducible, not secure, data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const CITIES: usize = 20;

fn cell_at(lat: f64, lon: f64) -> u64 {
    h3o::LatLng::new(lat, lon)
        .map(|ll| u64::from(ll.to_cell(h3o::Resolution::Twelve)))
        .unwrap_or(0)
}

/// Synthetic hotspots, sorted by cell.
fn population(devices: usize, rng: &mut Rng) -> Vec<Hotspot> {
    let cities: Vec<(f64, f64)> = (0..CITIES)
        .map(|_| (38.0 + rng.unit() * 20.0, -8.0 + rng.unit() * 36.0))
        .collect();
    let mut cells = Vec::with_capacity(devices);
    for i in 0..devices {
        if i > 0 && rng.below(20) == 0 {
            cells.push(cells[i - 1]);
            continue;
        }
        let (lat, lon) = if rng.below(10) < 7 {
            let (clat, clon) = cities[rng.below(CITIES as u64) as usize];
            // Radius grows with the square of a uniform: a dense core, thinning suburbs (~30 km).
            let r = rng.unit() * rng.unit() * 0.3;
            let a = rng.unit() * std::f64::consts::TAU;
            (clat + r * a.sin(), clon + r * a.cos() * 1.5)
        } else {
            (36.0 + rng.unit() * 24.0, -10.0 + rng.unit() * 40.0)
        };
        cells.push(cell_at(lat, lon));
    }
    cells.sort_unstable();
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| {
            let mut a = [0u8; 32];
            a[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Hotspot {
                device: Address(a),
                cell,
                recent_activity: (rng.next() & 0xff) as u32,
            }
        })
        .collect()
}

/// Share of hotspots offline this epoch (no beacon, no witness), percent.
const OFFLINE_PCT: u64 = 10;
/// Share of online hotspots whose beacon nobody heard (they do not count for density), percent.
const UNHEARD_PCT: u64 = 3;

/// One beacon per online hotspot, heard by 5 to 15 online neighbours in cell order (fewer where
/// the neighbourhood is short of them), or by nobody.
fn beacons(n: usize, rng: &mut Rng) -> Vec<ScoredBeacon> {
    const NEIGHBOURHOOD: u64 = 60;
    let online: Vec<bool> = (0..n).map(|_| rng.below(100) >= OFFLINE_PCT).collect();
    (0..n)
        .filter(|&b| online[b])
        .map(|b| {
            let count = if rng.below(100) < UNHEARD_PCT {
                0
            } else {
                5 + rng.below(11) as usize
            };
            let mut witnesses: Vec<u32> = Vec::with_capacity(count);
            let mut tries = 0;
            while witnesses.len() < count && tries < 8 * count {
                tries += 1;
                let offset = rng.below(2 * NEIGHBOURHOOD + 1) as i64 - NEIGHBOURHOOD as i64;
                let w = (b as i64 + offset).rem_euclid(n as i64) as u32;
                if w as usize != b && online[w as usize] && !witnesses.contains(&w) {
                    witnesses.push(w);
                }
            }
            ScoredBeacon {
                beaconer: b as u32,
                witnesses,
            }
        })
        .collect()
}

/// Runs the benchmark.
pub fn run(cfg: &EpochBench) -> EpochReport {
    let started = Instant::now();
    let mut rng = Rng(cfg.seed);
    let hotspots = population(cfg.devices, &mut rng);
    let beacons = beacons(hotspots.len(), &mut rng);
    let params = RewardParams::default();
    // A pool the size of a large network's daily emission: 20,000 tokens of 8 decimals.
    let pool = Amount(20_000 * 100_000_000);
    let setup_seconds = started.elapsed().as_secs_f64();

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
    EpochReport {
        seconds: scoring_seconds + payout_seconds,
        scoring_seconds,
        payout_seconds,
        setup_seconds,
        devices: hotspots.len(),
        beacons: beacons.len(),
        witness_reports: beacons.iter().map(|b| b.witnesses.len()).sum(),
        active_hotspots: beacons.iter().filter(|b| !b.witnesses.is_empty()).count(),
        hotspots_paid: payout.payouts.iter().filter(|(_, a)| a.0 > 0).count(),
        hotspots_scaled_down: scores
            .iter()
            .filter(|s| s.shares > 0 && s.hex_scale_ppm < 1_000_000)
            .count(),
        pool: pool.0.to_string(),
        dust: payout.dust.0.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_epoch_is_scored_paid_exactly_and_density_bites() {
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
        let again = run(&EpochBench {
            devices: 3_000,
            seed: 7,
        });
        assert_eq!(again.dust, report.dust, "deterministic from the seed");
    }
}
