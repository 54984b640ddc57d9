//! Hex density scaling (after Helium's HIP-17 / HIP-104): a hundred hotspots in one building must
//! not earn a hundred times what one earns.
//!
//! At each configured H3 resolution, from finest to coarsest, every hex gets an *unclipped* count
//! (at the finest level: the active hotspots in it; above: the sum of its children's clipped
//! counts) and a *clipped* count `min(unclipped, limit)`, where
//! `limit = min(max, target * max(occupied - neighbors + 1, 1))` and `occupied` is the number of
//! hexes of the k = 1 disk (the hex itself and its six neighbours, as Helium's implementation
//! counts them with `grid_disk(1)`) whose clipped count reaches `target`. A busy neighbourhood
//! raises the limit (coverage that extends an area is worth more); a lone crowded hex does not.
//! A hotspot's scale is the product, over the resolutions, of `clipped / unclipped` of its
//! parent hex: 1 where nothing is crowded, smaller where it is.
//!
//! Occupancy needs no fixed point and no processing order: `limit >= target` always, so
//! `clipped = min(unclipped, limit) >= target` exactly when `unclipped >= target`. Each level is
//! therefore one pass over the unclipped counts. (Helium's oracle reads a map it is updating while
//! it iterates a hash set; by this equivalence its result does not depend on that order either.)
//! Everything is sorted vectors, binary search and integer arithmetic: deterministic.

use h3o::{CellIndex, Resolution};
use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;

/// Density clipping at one H3 resolution (HIP-17 style).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensityLevel {
    pub resolution: u8,
    /// Occupied hexes of the k = 1 disk (the hex and its six neighbours, each with at least
    /// `target` hotspots) needed before the limit rises above `target`; each one more raises it
    /// by `target`, up to `max`.
    pub neighbors: u32,
    pub target: u32,
    pub max: u32,
}

/// One part per million: a scale of 1.
pub const SCALE_ONE_PPM: u64 = 1_000_000;

/// One hex's counts at one level: `(cell, unclipped, clipped)`.
type HexCount = (u64, u64, u64);

/// Per-level hex counts, each level sorted by cell.
pub struct DensityMap {
    /// `(resolution, hexes)`, finest level first.
    levels: Vec<(u8, Vec<HexCount>)>,
}

fn parent(cell: u64, resolution: u8) -> Option<u64> {
    let c = CellIndex::try_from(cell).ok()?;
    let r = Resolution::try_from(resolution).ok()?;
    c.parent(r).map(u64::from)
}

/// Sorted `(cell, count)` groups of a list of cells.
fn count_sorted(mut cells: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    cells.sort_unstable_by_key(|(c, _)| *c);
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(cells.len());
    for (c, n) in cells {
        match out.last_mut() {
            Some((last, total)) if *last == c => *total += n,
            _ => out.push((c, n)),
        }
    }
    out
}

fn lookup(level: &[HexCount], cell: u64) -> Option<(u64, u64)> {
    level
        .binary_search_by_key(&cell, |(c, _, _)| *c)
        .ok()
        .map(|i| (level[i].1, level[i].2))
}

impl DensityMap {
    /// Builds the map from the resolution-12 cells of the active hotspots (one entry per
    /// hotspot). `levels` must be in ascending resolution order (validated with the genesis).
    pub fn build(levels: &[DensityLevel], active_cells: &[u64]) -> DensityMap {
        let mut out: Vec<(u8, Vec<HexCount>)> = Vec::with_capacity(levels.len());
        // Input to the current level: (cell at this resolution, unclipped contribution).
        let mut below: Option<Vec<(u64, u64)>> = None;
        for level in levels.iter().rev() {
            let contributions: Vec<(u64, u64)> = match below.take() {
                None => active_cells
                    .iter()
                    .filter_map(|&c| parent(c, level.resolution).map(|p| (p, 1)))
                    .collect(),
                Some(children) => children
                    .into_iter()
                    .filter_map(|(c, n)| parent(c, level.resolution).map(|p| (p, n)))
                    .collect(),
            };
            let unclipped = count_sorted(contributions);
            let target = u64::from(level.target);
            // Hexes of the k = 1 disk (itself included) at or above target; see the module doc
            // for why unclipped counts decide this exactly as clipped ones would.
            let occupied = |cell: u64| -> u64 {
                let Ok(c) = CellIndex::try_from(cell) else {
                    return 0;
                };
                c.grid_disk_safe(1)
                    .filter(|n| {
                        unclipped
                            .binary_search_by_key(&u64::from(*n), |(x, _)| *x)
                            .is_ok_and(|i| unclipped[i].1 >= target)
                    })
                    .count() as u64
            };
            let max = u64::from(level.max);
            let n = u64::from(level.neighbors);
            let counted: Vec<HexCount> = unclipped
                .iter()
                .map(|&(cell, count)| {
                    // The limit is at least `target` and at most `max`: a hex at or below the one,
                    // or a level where the two coincide, is never clipped and needs no neighbours.
                    if count <= target || max <= target {
                        return (cell, count, count.min(max));
                    }
                    let steps = (occupied(cell) + 1).saturating_sub(n).max(1);
                    let limit = max.min(target.saturating_mul(steps));
                    (cell, count, count.min(limit))
                })
                .collect();
            below = Some(
                counted
                    .iter()
                    .map(|&(c, _, clipped)| (c, clipped))
                    .collect(),
            );
            out.push((level.resolution, counted));
        }
        DensityMap { levels: out }
    }

    /// Scale of a hotspot at resolution-12 `cell`, parts per million: the product of
    /// `clipped / unclipped` over the levels, each factor rounded down. A hex absent from a level
    /// (the hotspot was not active) contributes 1.
    pub fn scale_ppm(&self, cell: u64) -> u64 {
        let mut scale = SCALE_ONE_PPM;
        for (resolution, level) in &self.levels {
            let Some(p) = parent(cell, *resolution) else {
                continue;
            };
            if let Some((unclipped, clipped)) = lookup(level, p)
                && unclipped > 0
            {
                scale = scale * clipped / unclipped;
            }
        }
        scale
    }
}

struct_codec!(DensityLevel {
    resolution: u8,
    neighbors: u32,
    target: u32,
    max: u32,
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::coverage::rewards::RewardParams;

    fn cell_at(lat: f64, lon: f64) -> u64 {
        u64::from(
            h3o::LatLng::new(lat, lon)
                .unwrap()
                .to_cell(Resolution::Twelve),
        )
    }

    #[test]
    fn a_lone_hotspot_is_unscaled_and_a_crowded_hex_is_scaled_down() {
        let levels = RewardParams::default().density;
        let lone = cell_at(52.52, 13.40);
        let map = DensityMap::build(&levels, &[lone]);
        assert_eq!(map.scale_ppm(lone), SCALE_ONE_PPM);

        let crowded = cell_at(48.85, 2.35);
        let cells = vec![crowded; 100];
        let map = DensityMap::build(&levels, &cells);
        // Resolution 10 allows one hotspot per hex with no occupied neighbours.
        assert_eq!(map.scale_ppm(crowded), SCALE_ONE_PPM / 100);
    }

    /// Helium's own regression vector (helium/oracles `iot_verifier/src/hex_density.rs`,
    /// `simple_scale_check`): 36 hotspots of the live ledger of 2022-10-14 in res-8 hex
    /// 882830D341FFFFF and their published scales, rounded there to 4 decimals.
    #[test]
    fn scales_match_heliums_published_vector() {
        let cells: [u64; 36] = [
            631210990515536895,
            631210990515536895,
            631210990515536895,
            631210990515537919,
            631210990515537919,
            631210990515537919,
            631210990515538431,
            631210990515564031,
            631210990515589631,
            631210990515600383,
            631210990515601919,
            631210990515606527,
            631210990515722239,
            631210990515722239,
            631210990515727359,
            631210990515728895,
            631210990515739647,
            631210990515874303,
            631210990515924479,
            631210990516363775,
            631210990515987455,
            631210990516590079,
            631210990516612607,
            631210990516613631,
            631210990516640767,
            631210990516876799,
            631210990516885503,
            631210990516888063,
            631210990516907007,
            631210990516912639,
            631210990516955647,
            631210990516996607,
            631210990517011455,
            631210990517016575,
            631210990517144063,
            631210990517264895,
        ];
        // Expected scale, 1e-4.
        let expected: [(u64, u64); 31] = [
            (631210990515537919, 60),
            (631210990516955647, 417),
            (631210990516885503, 139),
            (631210990515601919, 104),
            (631210990516590079, 556),
            (631210990516888063, 139),
            (631210990516640767, 556),
            (631210990516907007, 208),
            (631210990515874303, 556),
            (631210990517011455, 139),
            (631210990516363775, 1667),
            (631210990515589631, 104),
            (631210990516996607, 139),
            (631210990515600383, 104),
            (631210990517016575, 139),
            (631210990515606527, 104),
            (631210990515739647, 83),
            (631210990516613631, 278),
            (631210990516876799, 139),
            (631210990515924479, 556),
            (631210990515538431, 60),
            (631210990515536895, 60),
            (631210990517144063, 833),
            (631210990517264895, 833),
            (631210990516612607, 278),
            (631210990515722239, 83),
            (631210990516912639, 208),
            (631210990515727359, 83),
            (631210990515564031, 417),
            (631210990515728895, 83),
            (631210990515987455, 556),
        ];
        let map = DensityMap::build(&RewardParams::default().density, &cells);
        for (cell, scale_e4) in expected {
            let ours = map.scale_ppm(cell);
            // Ours rounds each factor down to a ppm; theirs rounds the product to 1e-4.
            assert!(
                ours.abs_diff(scale_e4 * 100) <= 60,
                "cell {cell}: ours {ours} ppm, Helium {scale_e4}e-4"
            );
        }
    }

    /// One hotspot at the centre of every resolution-8 child of each given resolution-7 hex.
    fn fill_res7(hexes: &[CellIndex]) -> Vec<u64> {
        hexes
            .iter()
            .flat_map(|h| h.children(Resolution::Eight))
            .map(|c| u64::from(c.center_child(Resolution::Twelve).unwrap()))
            .collect()
    }

    #[test]
    fn occupied_neighbours_raise_the_limit_counting_the_hex_itself() {
        // Only r7 (N 4, target 5, max 10) and r8 (max 1): each r7 hex below holds 7 hotspots
        // after r8 clipping, above the target of 5.
        let levels: Vec<DensityLevel> = RewardParams::default()
            .density
            .into_iter()
            .filter(|l| l.resolution == 7 || l.resolution == 8)
            .collect();
        let centre = h3o::LatLng::new(52.52, 13.40)
            .unwrap()
            .to_cell(Resolution::Seven);
        let disk: Vec<CellIndex> = centre.grid_disk(1);
        assert_eq!(disk[0], centre);
        let probe = fill_res7(&[centre])[0];

        // The hex and three neighbours at target: occupied 4, limit 5 * max(4 - 4 + 1, 1) = 5.
        let map = DensityMap::build(&levels, &fill_res7(&disk[..4]));
        assert_eq!(map.scale_ppm(probe), SCALE_ONE_PPM * 5 / 7);
        // The hex and four neighbours: occupied 5, limit 5 * 2 = 10 >= 7, nothing clipped.
        let map = DensityMap::build(&levels, &fill_res7(&disk[..5]));
        assert_eq!(map.scale_ppm(probe), SCALE_ONE_PPM);
        // A hotspot in a hex with no active hotspot (here the empty centre) is unscaled.
        let map = DensityMap::build(&levels, &fill_res7(&disk[1..5]));
        assert_eq!(map.scale_ppm(probe), SCALE_ONE_PPM);
    }

    #[test]
    fn scale_never_exceeds_one_and_is_order_independent() {
        let levels = RewardParams::default().density;
        let mut cells: Vec<u64> = (0..60)
            .map(|i| cell_at(52.5 + (i % 7) as f64 * 0.002, 13.4 + (i / 7) as f64 * 0.003))
            .collect();
        let a = DensityMap::build(&levels, &cells);
        cells.reverse();
        let b = DensityMap::build(&levels, &cells);
        for &c in &cells {
            assert!(a.scale_ppm(c) <= SCALE_ONE_PPM);
            assert_eq!(a.scale_ppm(c), b.scale_ppm(c));
        }
    }
}
