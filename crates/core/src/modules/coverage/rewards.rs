//! Epoch scoring of proof of coverage: beacon and witness reward units, witness cap and
//! diminishing returns, hex density scaling and the activity quality multiplier, turned into
//! integer reward shares per hotspot.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::Address;

/// Density clipping at one H3 resolution (HIP-17 style).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensityLevel {
    pub resolution: u8,
    /// Occupied neighbouring hexes needed before the limit rises above `target`.
    pub neighbors: u32,
    pub target: u32,
    pub max: u32,
}

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

impl Encode for DensityLevel {
    fn encode(&self, out: &mut Vec<u8>) {
        self.resolution.encode(out);
        self.neighbors.encode(out);
        self.target.encode(out);
        self.max.encode(out);
    }
}

impl Decode for DensityLevel {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DensityLevel {
            resolution: u8::decode(r)?,
            neighbors: u32::decode(r)?,
            target: u32::decode(r)?,
            max: u32::decode(r)?,
        })
    }
}

impl Encode for RewardParams {
    fn encode(&self, out: &mut Vec<u8>) {
        self.witness_redundancy.encode(out);
        self.witness_decay_bps.encode(out);
        self.max_rewarded_witnesses.encode(out);
        self.density.encode(out);
        self.quality_epochs.encode(out);
        self.min_quality_bps.encode(out);
    }
}

impl Decode for RewardParams {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(RewardParams {
            witness_redundancy: u32::decode(r)?,
            witness_decay_bps: u32::decode(r)?,
            max_rewarded_witnesses: u32::decode(r)?,
            density: Vec::decode(r)?,
            quality_epochs: u32::decode(r)?,
            min_quality_bps: u32::decode(r)?,
        })
    }
}

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
}

/// One reward unit, in parts per million.
pub const UNIT_PPM: u64 = 1_000_000;
/// Beacon units never exceed two (Helium's cap).
pub const MAX_BEACON_UNITS_PPM: u64 = 2 * UNIT_PPM;

/// `d^k` in ppm for a decay `d` in basis points, by repeated multiplication rounding down.
fn decay_pow_ppm(decay_bps: u32, k: u32) -> u64 {
    let mut v = UNIT_PPM;
    for _ in 0..k {
        v = v * u64::from(decay_bps) / 10_000;
        if v == 0 {
            break;
        }
    }
    v
}

/// Beaconer's units for a beacon with `n` rewarded witnesses (HIP-15): `n/R` up to the
/// redundancy target `R`, then `2 - d^(n-R)`, capped at 2; rounded down.
pub fn beacon_units_ppm(params: &RewardParams, n: u32) -> u64 {
    let r = params.witness_redundancy.max(1);
    if n <= r {
        return u64::from(n) * UNIT_PPM / u64::from(r);
    }
    MAX_BEACON_UNITS_PPM - decay_pow_ppm(params.witness_decay_bps, n - r)
}

/// Each rewarded witness's units for a beacon with `n` rewarded witnesses (HIP-15): 1 up to the
/// redundancy target, then `(R - (1 - d^(n-R))) / n`: past the target, more witnesses share a
/// slowly growing total. Rounded down.
pub fn witness_units_ppm(params: &RewardParams, n: u32) -> u64 {
    let r = params.witness_redundancy.max(1);
    if n <= r {
        return UNIT_PPM;
    }
    let total =
        u64::from(r) * UNIT_PPM - (UNIT_PPM - decay_pow_ppm(params.witness_decay_bps, n - r));
    total / u64::from(n)
}

/// Quality multiplier in basis points from activity in the last `quality_epochs` epochs:
/// linear from `min_quality_bps` (never active) to 10000 (active in every one of them).
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

/// Scores one epoch. Deterministic: the output depends only on the inputs, never on iteration
/// order of a hash map or the platform.
///
/// - Only the first `max_rewarded_witnesses` witnesses of a beacon (in arrival order) count.
/// - Active for density: hotspots with at least one beacon that had a rewarded witness (a
///   hotspot nobody hears proves nothing, and must not make its neighbours' hexes look crowded).
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
    let cap = params.max_rewarded_witnesses as usize;
    let mut active = vec![false; hotspots.len()];
    for b in beacons {
        if !b.witnesses.is_empty() {
            active[b.beaconer as usize] = true;
        }
    }
    let active_cells: Vec<u64> = hotspots
        .iter()
        .zip(&active)
        .filter(|(_, a)| **a)
        .map(|(h, _)| h.cell)
        .collect();
    let density = super::density::DensityMap::build(&params.density, &active_cells);
    let scales: Vec<u64> = hotspots.iter().map(|h| density.scale_ppm(h.cell)).collect();

    let mut scores = vec![Score::default(); hotspots.len()];
    // Scaled units: ppm x ppm.
    let mut scaled = vec![0u128; hotspots.len()];
    for b in beacons {
        let beaconer = b.beaconer as usize;
        let rewarded = &b.witnesses[..b.witnesses.len().min(cap)];
        let n = rewarded.len() as u32;
        let scale = u128::from(scales[beaconer]);
        let s = &mut scores[beaconer];
        s.beacons += 1;
        let bu = beacon_units_ppm(params, n);
        s.beacon_units_ppm += bu;
        scaled[beaconer] += u128::from(bu) * scale;
        let wu = witness_units_ppm(params, n);
        for &w in &b.witnesses {
            scores[w as usize].witnesses += 1;
        }
        for &w in rewarded {
            scores[w as usize].witness_units_ppm += wu;
            scaled[w as usize] += u128::from(wu) * scale;
        }
    }
    for (i, s) in scores.iter_mut().enumerate() {
        s.hex_scale_ppm = scales[i];
        s.quality_bps = quality_bps(params, hotspots[i].recent_activity);
        s.shares = scaled[i] * u128::from(s.quality_bps);
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

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
            1_914_102,
            "2 - 0.8^11, rounded down"
        );
        assert_eq!(witness_units_ppm(&p(), 4), 1_000_000);
        assert_eq!(witness_units_ppm(&p(), 5), 760_000);
        assert_eq!(
            witness_units_ppm(&p(), 15),
            205_726,
            "(4 - (1 - 0.8^11)) / 15"
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
