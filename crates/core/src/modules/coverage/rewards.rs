//! Epoch scoring of proof of coverage: beacon and witness reward units, witness cap and
//! diminishing returns, hex density scaling and the activity quality multiplier, turned into
//! integer reward shares per hotspot.

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;
use crate::crypto::Address;

pub use super::density::DensityLevel;

/// How an epoch's verified beacons and witnesses become reward shares (genesis parameters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardParams {
    /// Witnesses per beacon before returns diminish (Helium: 4).
    pub witness_redundancy: u32,
    /// Decay per witness past the redundancy target, basis points (Helium: 8000 = 0.8).
    pub witness_decay_bps: u32,
    /// Witnesses of one beacon that are rewarded, first to arrive first (Helium: 14).
    pub max_rewarded_witnesses: u32,
    /// Density levels, one per resolution, coarse to fine.
    pub density: Vec<DensityLevel>,
    /// Epochs of history the quality multiplier looks back over (at most 32).
    pub quality_epochs: u32,
    /// Quality multiplier of a hotspot with no recent activity, basis points.
    pub min_quality_bps: u32,
}

impl Default for RewardParams {
    /// Helium's constants (reference/helium.md §2.4): redundancy 4, decay 0.8, 14 rewarded
    /// witnesses, density levels r4..r10; quality over the last 8 epochs, half for none.
    fn default() -> Self {
        let level = |resolution, neighbors, target, max| DensityLevel {
            resolution,
            neighbors,
            target,
            max,
        };
        RewardParams {
            witness_redundancy: 4,
            witness_decay_bps: 8_000,
            max_rewarded_witnesses: 14,
            density: vec![
                level(4, 2, 500, 1000),
                level(5, 4, 100, 200),
                level(6, 4, 25, 50),
                level(7, 4, 5, 10),
                level(8, 2, 1, 1),
                level(9, 2, 1, 1),
                level(10, 2, 1, 1),
            ],
            quality_epochs: 8,
            min_quality_bps: 5_000,
        }
    }
}

impl RewardParams {
    /// Checks the parameters; the error says what is wrong and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if self.witness_redundancy == 0 {
            return Err("witness_redundancy must be at least 1".into());
        }
        if self.witness_decay_bps > 10_000 {
            return Err("witness_decay_bps is a fraction in basis points: 0 to 10000".into());
        }
        if self.max_rewarded_witnesses == 0 {
            return Err("max_rewarded_witnesses must be at least 1".into());
        }
        if self.quality_epochs > 32 {
            return Err("quality_epochs must be at most 32".into());
        }
        if self.min_quality_bps > 10_000 {
            return Err("min_quality_bps is in basis points: 0 to 10000".into());
        }
        let mut last = None;
        for d in &self.density {
            if d.resolution > 15 {
                return Err(format!(
                    "density resolution {} is not an H3 resolution (0 to 15)",
                    d.resolution
                ));
            }
            if d.resolution > HOTSPOT_CELL_RESOLUTION {
                return Err(format!(
                    "density resolution {} is finer than the hotspots' cells (resolution {}): \
                     it would hold no hotspot and switch density scaling off",
                    d.resolution, HOTSPOT_CELL_RESOLUTION
                ));
            }
            if last.is_some_and(|l| l >= d.resolution) {
                return Err("density levels must have strictly ascending resolutions".into());
            }
            if d.target == 0 || d.max < d.target {
                return Err(format!(
                    "density level at resolution {}: target must be at least 1 and max at least target",
                    d.resolution
                ));
            }
            last = Some(d.resolution);
        }
        Ok(())
    }
}

struct_codec!(RewardParams {
    witness_redundancy: u32,
    witness_decay_bps: u32,
    max_rewarded_witnesses: u32,
    density: Vec<DensityLevel>,
    quality_epochs: u32,
    min_quality_bps: u32,
});

/// A hotspot that may earn this epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hotspot {
    pub device: Address,
    /// H3 cell of the asserted location at resolution 12 (`u64::from(CellIndex)`).
    pub cell: u64,
    /// Bit i set: the hotspot was active (a witnessed beacon) i+1 epochs ago.
    pub recent_activity: u32,
}

/// A verified beacon of this epoch with the witnesses the ledger accepted, in order of arrival.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoredBeacon {
    /// Index of the beaconer in the hotspot slice.
    pub beaconer: u32,
    /// Indices of the witnesses in the hotspot slice, first to arrive first.
    pub witnesses: Vec<u32>,
}

/// One hotspot's score, aligned with the hotspot slice; every factor is kept so the reward can
/// be explained.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub beacons: u32,
    pub witnesses: u32,
    /// Beacon reward units, parts per million of one unit.
    pub beacon_units_ppm: u64,
    /// Witness reward units, parts per million of one unit.
    pub witness_units_ppm: u64,
    /// Hex density scale, parts per million (1_000_000 = unscaled).
    pub hex_scale_ppm: u64,
    /// Activity quality multiplier, basis points.
    pub quality_bps: u32,
    /// Reward shares: units x scale x quality, what the pool is paid pro rata to.
    #[serde(with = "crate::amount::u128_string")]
    pub shares: u128,
    /// Ring signal: hotspots in its witness-graph cluster this epoch (beaconers and the
    /// witnesses whose commitment matched, joined by each beacon), itself included; 0 if it had
    /// no matched beacon or witness.
    pub cluster_hotspots: u32,
    /// Ring signal: distinct owners among them.
    pub cluster_owners: u32,
    /// Ring signal: its cluster is not the epoch's largest. A ring whose members only witness
    /// each other (payloads shared off-air) forms such an island; so does an honest town far from
    /// the rest. Flagged for the governor (`forfeit_bond`, the denylist), never cut automatically.
    pub isolated: bool,
}

/// One reward unit, in parts per million.
pub const UNIT_PPM: u64 = 1_000_000;
/// Beacon units never exceed two (Helium's cap).
pub const MAX_BEACON_UNITS_PPM: u64 = 2 * UNIT_PPM;
/// H3 resolution of a hotspot's asserted cell: the finest a density level can be.
pub const HOTSPOT_CELL_RESOLUTION: u8 = 12;
/// Internal precision of `d^k`: one unit is 10^18 (u128), so rounding `k` times loses less than
/// `k` parts in 10^18, far below the ppm the units are given in.
const DECAY_ONE: u128 = 1_000_000_000_000_000_000;
const PPM_IN_DECAY: u128 = DECAY_ONE / UNIT_PPM as u128;

/// `d^k` for `k = 0..=max_k`, in units of 10^-18, each multiplication rounded down.
fn decay_powers(decay_bps: u32, max_k: u32) -> Vec<u128> {
    let mut out = Vec::with_capacity(max_k as usize + 1);
    let mut v = DECAY_ONE;
    for _ in 0..=max_k {
        out.push(v);
        v = v * u128::from(decay_bps.min(10_000)) / 10_000;
    }
    out
}

/// `d^k` in units of 10^-18, each multiplication rounded down (zero stays zero).
fn decay_pow(decay_bps: u32, k: u32) -> u128 {
    let mut v = DECAY_ONE;
    for _ in 0..k {
        if v == 0 {
            break;
        }
        v = v * u128::from(decay_bps.min(10_000)) / 10_000;
    }
    v
}

/// Beacon and witness units (ppm) of a beacon with `n` rewarded witnesses, from `d^(n-R)` at
/// 10^-18 precision: `beacon = floor(2 - d^(n-R))`, `witness = floor((R - 1 + d^(n-R)) / n)`.
/// Both are the exact HIP-15 values rounded down to a ppm (up to the 10^-18 error of `d^k`,
/// which moves a result only if the exact value lies within 10^-12 ppm above an integer).
fn units_from_decay(r: u32, n: u32, d_pow: u128) -> (u64, u64) {
    if n <= r {
        return (u64::from(n) * UNIT_PPM / u64::from(r), UNIT_PPM);
    }
    // 2 - d^k rounded down = 2 - (d^k rounded up).
    let d_up = d_pow.div_ceil(PPM_IN_DECAY) as u64;
    let beacon = MAX_BEACON_UNITS_PPM - d_up.min(UNIT_PPM);
    // (R - 1 + d^k) / n, at 10^-18 then rounded down to a ppm.
    let total = u128::from(r - 1) * DECAY_ONE + d_pow;
    let witness = (total / u128::from(n) / PPM_IN_DECAY) as u64;
    (beacon, witness)
}

/// Beaconer's units for a beacon with `n` rewarded witnesses (HIP-15): `n/R` up to the
/// redundancy target `R`, then `2 - d^(n-R)` (never above 2); rounded down to a ppm.
pub fn beacon_units_ppm(params: &RewardParams, n: u32) -> u64 {
    let r = params.witness_redundancy.max(1);
    let d = decay_pow(params.witness_decay_bps, n.saturating_sub(r));
    units_from_decay(r, n, d).0
}

/// Each rewarded witness's units for a beacon with `n` rewarded witnesses (HIP-15): 1 up to the
/// redundancy target, then `(R - (1 - d^(n-R))) / n`: past the target, more witnesses share a
/// slowly growing total. Rounded down to a ppm.
pub fn witness_units_ppm(params: &RewardParams, n: u32) -> u64 {
    let r = params.witness_redundancy.max(1);
    let d = decay_pow(params.witness_decay_bps, n.saturating_sub(r));
    units_from_decay(r, n, d).1
}

/// `(beacon, witness)` units for every witness count `0..=max_n`, computed once per epoch.
fn unit_table(params: &RewardParams, max_n: u32) -> Vec<(u64, u64)> {
    let r = params.witness_redundancy.max(1);
    let powers = decay_powers(params.witness_decay_bps, max_n.saturating_sub(r));
    (0..=max_n)
        .map(|n| units_from_decay(r, n, powers[n.saturating_sub(r) as usize]))
        .collect()
}

/// Quality multiplier in basis points from activity in the last `quality_epochs` epochs:
/// `min + (10000 - min) * active / window`, rounded down: `min_quality_bps` for a hotspot never
/// active, 10000 for one active in every epoch of the window, linear in between. Linear because
/// every epoch of proven presence is worth the same and the operator can predict it; which
/// epochs were missed does not matter, only how many.
pub fn quality_bps(params: &RewardParams, recent_activity: u32) -> u32 {
    let window = params.quality_epochs.min(32);
    if window == 0 {
        return 10_000;
    }
    let mask = if window == 32 {
        u32::MAX
    } else {
        (1u32 << window) - 1
    };
    let active = (recent_activity & mask).count_ones();
    let min = params.min_quality_bps.min(10_000);
    min + (10_000 - min) * active / window
}

/// Scores one epoch. Deterministic: the output depends only on the inputs (and on the order of
/// each beacon's witnesses, which is the arrival order), never on a hash map or the platform.
///
/// - A beacon's valid witnesses are those listed that are in range, are not the beaconer and
///   were not already listed for that beacon; only the first `max_rewarded_witnesses` of them
///   (in arrival order) are rewarded. A beacon whose beaconer is out of range is ignored.
///   (The ledger never builds such input; consensus code must not panic on it either.)
/// - Active for density: hotspots with at least one beacon that had a valid witness (a hotspot
///   nobody hears proves nothing, and must not make its neighbours' hexes look crowded).
/// - The beaconer's hex scale applies to its beacon units *and* to the witness units of its
///   beacon (as in HIP-17): hearing a beacon from a crowded hex proves little new coverage, and a
///   witness cannot escape the scaling by sitting in an empty hex itself. `hex_scale_ppm` in the
///   score is the hotspot's own scale.
/// - `shares = (beacon_units * own_scale + sum(witness_units * beaconer_scale)) * quality_bps`,
///   exact in u128 (ppm x ppm x bps); only the final pro-rata payout rounds.
pub fn score_epoch(
    params: &RewardParams,
    hotspots: &[Hotspot],
    beacons: &[ScoredBeacon],
) -> Vec<Score> {
    score_epoch_with(params, hotspots, beacons, &[])
}

/// [`score_epoch`] with the epoch's islands of the witness graph (`isolated[i]`, the ring
/// signal; missing entries are `false`): an island's active hotspots do not count toward the
/// density of hotspots outside islands, so decoys kept active by a ring's off-air witnessing
/// cannot cut an honest hex's scale; an island's own scale counts every active hotspot.
pub fn score_epoch_with(
    params: &RewardParams,
    hotspots: &[Hotspot],
    beacons: &[ScoredBeacon],
    isolated: &[bool],
) -> Vec<Score> {
    let count = hotspots.len();
    let cap = params.max_rewarded_witnesses as usize;

    // Valid witnesses of every beacon, flattened: `(beaconer, start, len)` into `valid`.
    // `listed_in[w]` is the last beacon (+1) that listed `w`, to drop repeats in O(1).
    let mut valid: Vec<u32> = Vec::with_capacity(beacons.iter().map(|b| b.witnesses.len()).sum());
    let mut spans: Vec<(u32, usize, usize)> = Vec::with_capacity(beacons.len());
    let mut listed_in = vec![0u32; count];
    for (i, b) in beacons.iter().enumerate() {
        if b.beaconer as usize >= count {
            continue;
        }
        let mark = i as u32 + 1;
        let start = valid.len();
        for &w in &b.witnesses {
            if (w as usize) < count && w != b.beaconer && listed_in[w as usize] != mark {
                listed_in[w as usize] = mark;
                valid.push(w);
            }
        }
        spans.push((b.beaconer, start, valid.len() - start));
    }
    drop(listed_in);

    let mut active = vec![false; count];
    let mut max_rewarded = 0;
    for &(beaconer, _, len) in &spans {
        if len > 0 {
            active[beaconer as usize] = true;
        }
        max_rewarded = max_rewarded.max(len.min(cap));
    }
    let active_cells: Vec<u64> = hotspots
        .iter()
        .zip(&active)
        .filter(|(_, a)| **a)
        .map(|(h, _)| h.cell)
        .collect();
    let density = super::density::DensityMap::build(&params.density, &active_cells);
    let island = |i: usize| isolated.get(i).copied().unwrap_or(false);
    let mainland = (0..count).any(island).then(|| {
        let cells: Vec<u64> = (0..count)
            .filter(|&i| active[i] && !island(i))
            .map(|i| hotspots[i].cell)
            .collect();
        super::density::DensityMap::build(&params.density, &cells)
    });
    let scales: Vec<u64> = hotspots
        .iter()
        .enumerate()
        .map(|(i, h)| match &mainland {
            Some(m) if !island(i) => m.scale_ppm(h.cell),
            _ => density.scale_ppm(h.cell),
        })
        .collect();
    let units = unit_table(params, max_rewarded as u32);

    let mut scores = vec![Score::default(); count];
    // Scaled units: ppm x ppm.
    let mut scaled = vec![0u128; count];
    for &(beaconer, start, len) in &spans {
        let beaconer = beaconer as usize;
        let witnesses = &valid[start..start + len];
        let rewarded = &witnesses[..len.min(cap)];
        let (bu, wu) = units[rewarded.len()];
        let scale = u128::from(scales[beaconer]);
        let s = &mut scores[beaconer];
        s.beacons += 1;
        s.beacon_units_ppm += bu;
        scaled[beaconer] += u128::from(bu) * scale;
        for &w in witnesses {
            scores[w as usize].witnesses += 1;
        }
        let scaled_wu = u128::from(wu) * scale;
        for &w in rewarded {
            scores[w as usize].witness_units_ppm += wu;
            scaled[w as usize] += scaled_wu;
        }
    }
    for (i, s) in scores.iter_mut().enumerate() {
        s.hex_scale_ppm = scales[i];
        s.quality_bps = quality_bps(params, hotspots[i].recent_activity);
        s.shares = scaled[i] * u128::from(s.quality_bps);
    }
    scores
}

/// The ring signals of one epoch, per hotspot (aligned with `count` hotspots): the size and
/// owner count of its cluster in the graph joining each beacon's beaconer to its witnesses, and
/// whether that cluster is not the largest (ties go to the cluster of the lowest index).
/// Deterministic: union by index order, no hashing.
pub fn ring_signals(
    count: usize,
    beacons: &[ScoredBeacon],
    owners: &[u32],
) -> Vec<(u32, u32, bool)> {
    let mut parent: Vec<u32> = (0..count as u32).collect();
    fn root(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            let up = parent[parent[i as usize] as usize];
            parent[i as usize] = up;
            i = up;
        }
        i
    }
    let mut linked = vec![false; count];
    for b in beacons {
        if b.beaconer as usize >= count {
            continue;
        }
        for &w in &b.witnesses {
            if w as usize >= count || w == b.beaconer {
                continue;
            }
            linked[b.beaconer as usize] = true;
            linked[w as usize] = true;
            let (x, y) = (root(&mut parent, b.beaconer), root(&mut parent, w));
            if x != y {
                let (lo, hi) = (x.min(y), x.max(y));
                parent[hi as usize] = lo;
            }
        }
    }
    let roots: Vec<u32> = (0..count as u32).map(|i| root(&mut parent, i)).collect();
    let mut size = vec![0u32; count];
    for (i, &r) in roots.iter().enumerate() {
        if linked[i] {
            size[r as usize] += 1;
        }
    }
    let mut pairs: Vec<(u32, u32)> = (0..count)
        .filter(|&i| linked[i])
        .map(|i| (roots[i], owners.get(i).copied().unwrap_or(u32::MAX)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut owner_count = vec![0u32; count];
    for (r, _) in pairs {
        owner_count[r as usize] += 1;
    }
    // The largest cluster; among equals, the one whose root has the lowest index.
    let largest = (0..count).max_by_key(|&r| (size[r], std::cmp::Reverse(r)));
    (0..count)
        .map(|i| {
            if !linked[i] {
                return (0, 0, false);
            }
            let r = roots[i] as usize;
            (size[r], owner_count[r], Some(r) != largest)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Decode, Encode, Reader};

    fn p() -> RewardParams {
        RewardParams::default()
    }

    #[test]
    fn units_follow_heliums_published_table() {
        let beacon: Vec<u64> = (1..=6).map(|n| beacon_units_ppm(&p(), n)).collect();
        assert_eq!(
            beacon,
            [250_000, 500_000, 750_000, 1_000_000, 1_200_000, 1_360_000]
        );
        assert_eq!(beacon_units_ppm(&p(), 0), 0);
        assert_eq!(
            beacon_units_ppm(&p(), 15),
            1_914_100,
            "2 - 0.8^11 = 1.91410065408, rounded down"
        );
        assert_eq!(witness_units_ppm(&p(), 4), 1_000_000);
        assert_eq!(witness_units_ppm(&p(), 5), 760_000);
        assert_eq!(
            witness_units_ppm(&p(), 15),
            205_726,
            "(4 - (1 - 0.8^11)) / 15 = 0.205726623, rounded down"
        );
    }

    fn spot(i: u8, lat: f64, lon: f64) -> Hotspot {
        Hotspot {
            device: Address([i; 32]),
            cell: u64::from(
                h3o::LatLng::new(lat, lon)
                    .unwrap()
                    .to_cell(h3o::Resolution::Twelve),
            ),
            recent_activity: u32::MAX,
        }
    }

    #[test]
    fn ring_signals_find_the_island_and_count_owners() {
        // 0-1-2 witness each other (owners 0, 1, 1); 3-4 only each other (owner 2); 5 idle.
        let b = |beaconer, witnesses: Vec<u32>| ScoredBeacon {
            beaconer,
            witnesses,
        };
        let beacons = [
            b(0, vec![1]),
            b(2, vec![1, 0]),
            b(3, vec![4]),
            b(4, vec![3, 4]),
        ];
        let s = ring_signals(6, &beacons, &[0, 1, 1, 2, 2, 3]);
        assert_eq!(
            s,
            [
                (3, 2, false),
                (3, 2, false),
                (3, 2, false),
                (2, 1, true),
                (2, 1, true),
                (0, 0, false)
            ]
        );
        // Out-of-range indices are ignored, never a panic.
        assert_eq!(
            ring_signals(1, &[b(0, vec![7]), b(9, vec![0])], &[0])[0],
            (0, 0, false)
        );
    }

    #[test]
    fn no_work_no_shares_and_a_witness_cap() {
        let hs: Vec<Hotspot> = (0..20)
            .map(|i| spot(i, 52.0 + f64::from(i) * 0.05, 13.0))
            .collect();
        let lonely = ScoredBeacon {
            beaconer: 0,
            witnesses: vec![],
        };
        let busy = ScoredBeacon {
            beaconer: 1,
            witnesses: (2..20).collect(),
        };
        let s = score_epoch(&p(), &hs, &[lonely, busy]);
        assert_eq!(s[0].shares, 0, "a beacon nobody heard earns nothing");
        assert_eq!(s[0].beacons, 1);
        assert!(s[1].shares > 0);
        // 18 witnesses, 14 rewarded: the last four arrived too late to be paid.
        for (i, score) in s.iter().enumerate().skip(2) {
            if i < 16 {
                assert!(score.shares > 0, "{i}");
            } else {
                assert_eq!(score.shares, 0, "{i}");
                assert_eq!(score.witnesses, 1);
            }
        }
    }

    #[test]
    fn a_hundred_hotspots_in_one_building_do_not_earn_a_hundred_times() {
        // One isolated pair far away as the reference; a hundred in one cell, each beaconing and
        // heard by the same distant witness.
        let mut hs: Vec<Hotspot> = (0..100).map(|i| spot(i, 48.8566, 2.3522)).collect();
        hs.push(spot(100, 48.90, 2.40));
        hs.push(spot(101, 52.52, 13.40));
        hs.push(spot(102, 52.56, 13.45));
        let mut beacons: Vec<ScoredBeacon> = (0..100)
            .map(|i| ScoredBeacon {
                beaconer: i,
                witnesses: vec![100],
            })
            .collect();
        beacons.push(ScoredBeacon {
            beaconer: 101,
            witnesses: vec![102],
        });
        let s = score_epoch(&p(), &hs, &beacons);
        let building: u128 = (0..100).map(|i| s[i].shares).sum();
        let lone = s[101].shares;
        assert!(building <= 2 * lone, "building {building} vs lone {lone}");
        assert!(building > 0);
    }

    #[test]
    fn quality_is_monotone_in_activity() {
        let mut last = 0;
        for bits in [0u32, 1, 3, 7, 0xff] {
            let q = quality_bps(&p(), bits);
            assert!(q >= last);
            last = q;
        }
        assert_eq!(quality_bps(&p(), 0), 5_000);
        assert_eq!(quality_bps(&p(), 0xff), 10_000);
    }

    #[test]
    fn units_are_the_exact_values_rounded_down() {
        // Floats only here, as the reference: the exact HIP-15 values.
        for (r, d_bps) in [
            (4u32, 8_000u32),
            (1, 5_000),
            (3, 9_999),
            (4, 10_000),
            (2, 0),
        ] {
            let params = RewardParams {
                witness_redundancy: r,
                witness_decay_bps: d_bps,
                ..p()
            };
            let d = f64::from(d_bps) / 10_000.0;
            for n in 0..=40u32 {
                let k = n.saturating_sub(r) as i32;
                let (beacon, witness) = if n == 0 {
                    (0.0, 1.0)
                } else if n <= r {
                    (f64::from(n) / f64::from(r), 1.0)
                } else {
                    (
                        2.0 - d.powi(k),
                        (f64::from(r) - (1.0 - d.powi(k))) / f64::from(n),
                    )
                };
                for (ours, exact) in [
                    (beacon_units_ppm(&params, n), beacon),
                    (witness_units_ppm(&params, n), witness),
                ] {
                    let exact = exact * 1e6;
                    assert!(
                        ours as f64 <= exact + 1e-6 && ours as f64 > exact - 1.0 - 1e-6,
                        "r {r} d {d_bps} n {n}: {ours} vs {exact}"
                    );
                }
            }
        }
        // Beacon units never exceed two; witness units never grow with more witnesses.
        for n in 0..=200 {
            assert!(beacon_units_ppm(&p(), n) <= MAX_BEACON_UNITS_PPM);
            assert!(witness_units_ppm(&p(), n + 1) <= witness_units_ppm(&p(), n));
            assert!(beacon_units_ppm(&p(), n + 1) >= beacon_units_ppm(&p(), n));
        }
        assert_eq!(beacon_units_ppm(&p(), u32::MAX), MAX_BEACON_UNITS_PPM);
    }

    #[test]
    fn defaults_validate_and_bad_genesis_values_are_named() {
        assert_eq!(p().validate(), Ok(()));
        let bad = |f: fn(&mut RewardParams), needle: &str| {
            let mut params = p();
            f(&mut params);
            let err = params.validate().unwrap_err();
            assert!(err.contains(needle), "{err}");
        };
        bad(|p| p.witness_redundancy = 0, "witness_redundancy");
        bad(|p| p.witness_decay_bps = 10_001, "witness_decay_bps");
        bad(|p| p.max_rewarded_witnesses = 0, "max_rewarded_witnesses");
        bad(|p| p.quality_epochs = 33, "quality_epochs");
        bad(|p| p.min_quality_bps = 10_001, "min_quality_bps");
        bad(|p| p.density[0].resolution = 16, "not an H3 resolution");
        bad(|p| p.density[6].resolution = 13, "finer than the hotspots");
        bad(|p| p.density.swap(1, 2), "ascending");
        bad(|p| p.density[3].target = 0, "target");
        bad(|p| p.density[3].max = 1, "max");
    }

    #[test]
    fn params_round_trip_through_the_codec() {
        let mut params = p();
        params.density.truncate(3);
        params.min_quality_bps = 1_234;
        for params in [p(), params] {
            let mut bytes = Vec::new();
            params.encode(&mut bytes);
            let mut r = Reader::new(&bytes);
            assert_eq!(RewardParams::decode(&mut r), Ok(params));
        }
    }

    #[test]
    fn invalid_indices_repeats_and_self_witnessing_are_ignored() {
        let hs: Vec<Hotspot> = (0..4)
            .map(|i| spot(i, 52.0 + f64::from(i) * 0.05, 13.0))
            .collect();
        let messy = vec![
            ScoredBeacon {
                beaconer: 0,
                witnesses: vec![1, 1, 0, 99, 2, 1],
            },
            ScoredBeacon {
                beaconer: 77,
                witnesses: vec![1, 2],
            },
        ];
        let clean = vec![ScoredBeacon {
            beaconer: 0,
            witnesses: vec![1, 2],
        }];
        assert_eq!(
            score_epoch(&p(), &hs, &messy),
            score_epoch(&p(), &hs, &clean)
        );
        assert_eq!(score_epoch(&p(), &hs, &messy)[1].witnesses, 1);
    }

    #[test]
    fn witnesses_are_scaled_by_the_beaconers_hex() {
        // Ten beaconers in one building, each heard by its own lone witness far away.
        let mut hs: Vec<Hotspot> = (0..10).map(|i| spot(i, 48.8566, 2.3522)).collect();
        hs.extend((0..10).map(|i| spot(10 + i, 40.0 + f64::from(i), -3.0)));
        let beacons: Vec<ScoredBeacon> = (0..10)
            .map(|i| ScoredBeacon {
                beaconer: i,
                witnesses: vec![10 + i],
            })
            .collect();
        let s = score_epoch(&p(), &hs, &beacons);
        for i in 0..10 {
            assert_eq!(s[i].hex_scale_ppm, UNIT_PPM / 10, "crowded beaconer");
            assert_eq!(s[10 + i].hex_scale_ppm, UNIT_PPM, "lone witness's own hex");
            // 1 witness unit at the beaconer's scale of 1/10, full quality.
            assert_eq!(
                s[10 + i].shares,
                u128::from(UNIT_PPM * UNIT_PPM / 10) * 10_000
            );
        }
    }

    /// A small random network: `n` hotspots on a few streets of one town (so density bites),
    /// beacons heard by pseudo-random neighbours.
    fn network(n: u32, seed: u64) -> (Vec<Hotspot>, Vec<ScoredBeacon>) {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let hs: Vec<Hotspot> = (0..n)
            .map(|i| {
                let street = (next() % 5) as f64 * 0.004;
                let mut h = spot(i as u8, 52.5 + street, 13.4 + (next() % 8) as f64 * 0.0005);
                h.recent_activity = next() as u32;
                h
            })
            .collect();
        let mut beacons = Vec::new();
        for b in 0..n {
            if next() % 4 == 0 {
                continue;
            }
            let heard = next() % 18;
            beacons.push(ScoredBeacon {
                beaconer: b,
                witnesses: (0..heard).map(|_| (next() % u64::from(n)) as u32).collect(),
            });
        }
        (hs, beacons)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn scores_follow_the_hotspots_under_any_relabelling(seed in 0u64..u64::MAX, rot in 0usize..40) {
            let (hs, beacons) = network(40, seed);
            let a = score_epoch(&p(), &hs, &beacons);
            // Rotate the hotspot slice and renumber every index; witness order (arrival) is kept.
            let n = hs.len();
            let new_index = |i: u32| ((i as usize + n - rot) % n) as u32;
            let mut hs2 = hs.clone();
            hs2.rotate_left(rot);
            let mut beacons2: Vec<ScoredBeacon> = beacons
                .iter()
                .map(|b| ScoredBeacon {
                    beaconer: new_index(b.beaconer),
                    witnesses: b.witnesses.iter().map(|&w| new_index(w)).collect(),
                })
                .collect();
            beacons2.reverse();
            let b = score_epoch(&p(), &hs2, &beacons2);
            for i in 0..n {
                proptest::prop_assert_eq!(&a[i], &b[new_index(i as u32) as usize]);
            }
        }

        #[test]
        fn shares_need_rewarded_work(seed in 0u64..u64::MAX) {
            let (hs, beacons) = network(30, seed);
            let s = score_epoch(&p(), &hs, &beacons);
            for (i, score) in s.iter().enumerate() {
                let worked = score.beacon_units_ppm > 0 || score.witness_units_ppm > 0;
                proptest::prop_assert_eq!(score.shares > 0, worked, "hotspot {}", i);
                proptest::prop_assert!(score.hex_scale_ppm <= UNIT_PPM);
                proptest::prop_assert!(score.hex_scale_ppm > 0);
            }
            // Never more witness units handed out than a beacon's witnesses can earn.
            let max = u64::from(p().max_rewarded_witnesses);
            let paid: u64 = s.iter().map(|x| x.witness_units_ppm).sum();
            proptest::prop_assert!(paid <= beacons.len() as u64 * max.max(4) * UNIT_PPM);
        }

        #[test]
        fn quality_never_falls_with_more_activity(bits in 0u32..u32::MAX, extra in 0u32..32, epochs in 0u32..=32, min in 0u32..=10_000) {
            let params = RewardParams { quality_epochs: epochs, min_quality_bps: min, ..p() };
            let q = quality_bps(&params, bits);
            proptest::prop_assert!(q >= min && q <= 10_000);
            proptest::prop_assert!(quality_bps(&params, bits | (1 << extra)) >= q);
        }
    }

    proptest::proptest! {
        #[test]
        fn scores_do_not_depend_on_beacon_order(seed in 0u64..1_000) {
            let hs: Vec<Hotspot> = (0..12u8)
                .map(|i| spot(i, 52.5 + f64::from(i % 4) * 0.01, 13.4 + f64::from(i / 4) * 0.01))
                .collect();
            let mut beacons: Vec<ScoredBeacon> = (0..12u32)
                .map(|b| ScoredBeacon {
                    beaconer: b,
                    witnesses: (0..12u32).filter(|w| *w != b && (w + b + seed as u32).is_multiple_of(3)).collect(),
                })
                .collect();
            let a = score_epoch(&p(), &hs, &beacons);
            beacons.rotate_left((seed % 12) as usize);
            let b = score_epoch(&p(), &hs, &beacons);
            proptest::prop_assert_eq!(a, b);
        }
    }
}
