//! The mapping module's genesis parameters: the onboarding fee, the frame checks' limits, the
//! freshness and memory windows, the bounty limits, and the regions (H3 cells, pool weight,
//! open or closed).
//!
//! The genesis file states them in human units (whole tokens, H3 cells as hex strings); the
//! ledger keeps them as [`MappingParams`] in base units and integer cells.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;

/// Resolution of the H3 cells the map is paid by: resolution 12 cells are about 19 m across
/// (edge 9.4 m), some 50 per kilometre of road, Hivemapper's density, and one or two keyframes
/// of a car at 8 m spacing.
pub const MAPPING_RESOLUTION: u8 = 12;
/// Most regions a network may define.
pub const MAX_REGIONS: usize = 64;
/// Most H3 cells describing one region.
pub const MAX_REGION_CELLS: usize = 1_024;
/// Frames one bundle may carry: a transaction is at most 4096 bytes and a frame 63.
pub const MAX_FRAMES_PER_BUNDLE: usize = 48;
/// Cells one bounty may name.
pub const MAX_BOUNTY_CELLS: usize = 256;
/// Largest perceptual-hash distance a genesis may call a near duplicate, bits of 64.
pub const MAX_PHASH_BITS: u32 = 32;
/// Most cells one `pay_map_access` pays for.
pub const MAX_ACCESS_CELLS: usize = 256;
/// Highest price of one cell served, credits.
pub const MAX_ACCESS_CELL_CREDITS: u64 = 100_000_000;

/// Limits of the per-frame checks, the same in the genesis file and in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameRules {
    /// Fastest a frame may report or imply, cm/s (Hivemapper's firmware: 40 m/s).
    pub max_speed_cms: u32,
    /// Below this reported speed a frame is stationary, cm/s.
    pub min_speed_cms: u32,
    /// A frame that moved less than this since the last trusted one is stationary, mm.
    pub min_step_mm: u32,
    /// Largest speed change a car can make, cm/s² (8 m/s²).
    pub max_accel_cms2: u32,
    /// Distance between frames may differ from speed times time by this share, basis points.
    pub distance_tolerance_bps: u32,
    /// ...plus this much for GNSS noise, mm.
    pub distance_slack_mm: u32,
    /// Frames further apart in time are not compared for distance and acceleration (GNSS
    /// loss, a stop); only the implied speed is, ms.
    pub max_frame_gap_ms: u64,
    /// Fewest satellites in a usable fix.
    pub min_satellites: u8,
    /// Largest horizontal dilution of precision in a usable fix, hundredths.
    pub max_hdop_centi: u16,
    /// Perceptual hashes at most this many bits apart are near duplicates.
    pub near_duplicate_bits: u32,
    /// Frames of one dashcam in one cell within this time are one pass (not near duplicates of
    /// each other), ms.
    pub same_pass_ms: u64,
    /// Oldest a bundle's first frame may be when it is uploaded, ms.
    pub upload_window_ms: u64,
    /// Furthest ahead of the block time a frame may be, ms.
    pub max_clock_skew_ms: u64,
}

/// How freshness is paid and how long the ledger remembers cells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshnessRules {
    /// A cell's weight grows linearly with the time since it was last mapped and is full after
    /// this long, ms (Hivemapper: 7 days).
    pub full_after_ms: u64,
    /// Cells not seen for this long are forgotten with their perceptual hashes and image
    /// fingerprints (the cell then counts as never mapped), ms; at least `full_after_ms` and the
    /// upload window.
    pub memory_ms: u64,
    /// Epochs of bundle records and per-device tallies kept for queries.
    pub history_epochs: u64,
    /// Perceptual hashes remembered per cell (the most recent ones).
    pub phashes_per_cell: u32,
    /// A dashcam is paid per region at most this percentage of the region's median freshness
    /// per pass (pass-weighted median over the epoch's dashcams), times its passes: a desk
    /// drive that picks only never-mapped or stale cells earns at most this much more per
    /// pass than the fleet (docs/MAPPING.md, section 4). 0: no bound; else 100 to 10,000.
    #[serde(default = "default_pass_rate_margin_pct")]
    pub pass_rate_margin_pct: u32,
}

/// The preset's `pass_rate_margin_pct`, also taken by a genesis file that does not state it.
pub fn default_pass_rate_margin_pct() -> u32 {
    150
}

/// Limits of bounties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BountyRules {
    /// Longest a bounty may run, ms.
    pub max_duration_ms: u64,
    /// Most passes a bounty may pay per cell.
    pub max_passes: u8,
}

/// A mapping region in the genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionGenesis {
    pub name: String,
    /// H3 cells (resolution 0 to 12, as hex strings) covering the region.
    pub h3_cells: Vec<String>,
    /// The region's weight in the split of the module's pool between regions.
    pub weight: u32,
    /// Closed regions (a privacy zone, a country that forbids street imagery) pay nothing.
    #[serde(default)]
    pub closed: bool,
}

/// A region as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    /// H3 cell indices.
    pub cells: Vec<u64>,
    pub weight: u32,
    pub closed: bool,
}

/// The `[mapping]` section of a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingGenesis {
    /// Fee to onboard a dashcam, whole tokens (burned); "0" with a `[demand]` section, whose
    /// credit fees apply instead.
    pub onboard_fee: String,
    pub frames: FrameRules,
    pub freshness: FreshnessRules,
    pub bounties: BountyRules,
    pub regions: Vec<RegionGenesis>,
    /// Credits a map user burns for each cell it is served (`pay_map_access`), paid to the
    /// dashcam whose imagery is the cell's latest as its paid service; 0: map access is not
    /// sold on this network.
    #[serde(default)]
    pub access_cell_credits: u64,
}

/// The mapping parameters the ledger keeps in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingParams {
    pub onboard_fee: Amount,
    pub frames: FrameRules,
    pub freshness: FreshnessRules,
    pub bounties: BountyRules,
    pub regions: Vec<Region>,
    /// Credits per cell served to a map user (0: not sold).
    pub access_cell_credits: u64,
}

/// Where a frame's cell lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Open(u16),
    Closed(u16),
    Outside,
}

impl MappingGenesis {
    /// Checks the section and converts it; errors name the field and what to do.
    pub fn to_params(&self, decimals: u8) -> Result<MappingParams, (&'static str, String)> {
        let f = &self.frames;
        let positive = [
            ("mapping.frames.max_speed_cms", u64::from(f.max_speed_cms)),
            ("mapping.frames.max_accel_cms2", u64::from(f.max_accel_cms2)),
            ("mapping.frames.max_frame_gap_ms", f.max_frame_gap_ms),
            ("mapping.frames.upload_window_ms", f.upload_window_ms),
            (
                "mapping.freshness.full_after_ms",
                self.freshness.full_after_ms,
            ),
            (
                "mapping.freshness.history_epochs",
                self.freshness.history_epochs,
            ),
            (
                "mapping.freshness.phashes_per_cell",
                self.freshness.phashes_per_cell.into(),
            ),
            (
                "mapping.bounties.max_duration_ms",
                self.bounties.max_duration_ms,
            ),
            (
                "mapping.bounties.max_passes",
                self.bounties.max_passes.into(),
            ),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err((field, "must be at least 1".into()));
            }
        }
        if f.min_speed_cms >= f.max_speed_cms {
            return Err((
                "mapping.frames.min_speed_cms",
                "must be below max_speed_cms".into(),
            ));
        }
        if f.distance_tolerance_bps > 10_000 {
            return Err((
                "mapping.frames.distance_tolerance_bps",
                "must be at most 10000 (100%)".into(),
            ));
        }
        if f.near_duplicate_bits > MAX_PHASH_BITS {
            return Err((
                "mapping.frames.near_duplicate_bits",
                format!("must be at most {MAX_PHASH_BITS} of a 64-bit perceptual hash"),
            ));
        }
        // Time limits far below u64::MAX keep every sum of times and limits exact.
        const DAY_MS: u64 = 86_400_000;
        let r = &self.freshness;
        if r.memory_ms < r.full_after_ms || r.memory_ms < f.upload_window_ms {
            return Err((
                "mapping.freshness.memory_ms",
                "must be at least full_after_ms and frames.upload_window_ms: a cell forgotten before it is fully fresh again would pay twice".into(),
            ));
        }
        if r.memory_ms > 3_650 * DAY_MS || self.bounties.max_duration_ms > 3_650 * DAY_MS {
            return Err((
                "mapping.freshness.memory_ms",
                "memory_ms and bounties.max_duration_ms must be at most ten years".into(),
            ));
        }
        if f.max_clock_skew_ms > DAY_MS || f.same_pass_ms > DAY_MS || f.max_frame_gap_ms > DAY_MS {
            return Err((
                "mapping.frames.max_clock_skew_ms",
                "max_clock_skew_ms, same_pass_ms and max_frame_gap_ms must be at most a day".into(),
            ));
        }
        if self.access_cell_credits > MAX_ACCESS_CELL_CREDITS {
            return Err((
                "mapping.access_cell_credits",
                format!("must be at most {MAX_ACCESS_CELL_CREDITS} credits a cell"),
            ));
        }
        if r.pass_rate_margin_pct != 0 && !(100..=10_000).contains(&r.pass_rate_margin_pct) {
            return Err((
                "mapping.freshness.pass_rate_margin_pct",
                "must be 0 (no bound) or between 100 and 10000 (percent of the region's median freshness per pass)".into(),
            ));
        }
        if r.phashes_per_cell > 64 {
            return Err((
                "mapping.freshness.phashes_per_cell",
                "must be at most 64".into(),
            ));
        }
        if self.regions.is_empty() || self.regions.len() > MAX_REGIONS {
            return Err((
                "mapping.regions",
                format!("define between 1 and {MAX_REGIONS} regions, each with its H3 cells"),
            ));
        }
        let mut regions: Vec<Region> = Vec::with_capacity(self.regions.len());
        for g in &self.regions {
            if g.name.is_empty() || g.name.len() > 32 {
                return Err(("mapping.regions.name", "must be 1 to 32 characters".into()));
            }
            if regions.iter().any(|r| r.name == g.name) {
                return Err((
                    "mapping.regions.name",
                    format!("region {} is defined twice", g.name),
                ));
            }
            if g.h3_cells.is_empty() || g.h3_cells.len() > MAX_REGION_CELLS {
                return Err((
                    "mapping.regions.h3_cells",
                    format!("region {} needs 1 to {MAX_REGION_CELLS} H3 cells", g.name),
                ));
            }
            let mut cells = Vec::with_capacity(g.h3_cells.len());
            for text in &g.h3_cells {
                let cell: h3o::CellIndex = text.parse().map_err(|_| {
                    (
                        "mapping.regions.h3_cells",
                        format!("'{text}' in region {} is not an H3 cell index", g.name),
                    )
                })?;
                if u8::from(cell.resolution()) > MAPPING_RESOLUTION {
                    return Err((
                        "mapping.regions.h3_cells",
                        format!("'{text}' is finer than resolution {MAPPING_RESOLUTION}"),
                    ));
                }
                cells.push(u64::from(cell));
            }
            cells.sort_unstable();
            cells.dedup();
            regions.push(Region {
                name: g.name.clone(),
                cells,
                weight: g.weight,
                closed: g.closed,
            });
        }
        // Regions may not overlap: a frame belongs to one region's pool. Each cell's ancestors
        // (and itself, in another region) are looked up among every region's cells.
        let mut all: Vec<(u64, usize)> = regions
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.cells.iter().map(move |&c| (c, i)))
            .collect();
        all.sort_unstable();
        for w in all.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(overlap(&regions, w[0].0, w[0].1, w[1].1));
            }
        }
        for &(cell, i) in &all {
            let c = h3o::CellIndex::try_from(cell).expect("parsed above");
            for res in 0..u8::from(c.resolution()) {
                let parent = c
                    .parent(h3o::Resolution::try_from(res).expect("0..=15"))
                    .map(u64::from);
                if let Some(p) = parent
                    && let Ok(k) = all.binary_search_by(|(x, _)| x.cmp(&p))
                {
                    return Err(overlap(&regions, cell, i, all[k].1));
                }
            }
        }
        Ok(MappingParams {
            onboard_fee: Amount::parse(&self.onboard_fee, decimals)
                .map_err(|e| ("mapping.onboard_fee", e.to_string()))?,
            frames: self.frames.clone(),
            freshness: self.freshness.clone(),
            bounties: self.bounties.clone(),
            regions,
            access_cell_credits: self.access_cell_credits,
        })
    }
}

fn overlap(regions: &[Region], cell: u64, a: usize, b: usize) -> (&'static str, String) {
    (
        "mapping.regions.h3_cells",
        format!(
            "cell {cell:x} of region {} overlaps a cell of region {}: regions and their cells must not overlap",
            regions[a].name, regions[b].name
        ),
    )
}

impl MappingParams {
    /// The centre of region `index`'s first cell (client side: for agents and maps, never in a
    /// check).
    pub fn region_center(&self, index: usize) -> Option<crate::services::devices::Location> {
        let cell = h3o::CellIndex::try_from(*self.regions.get(index)?.cells.first()?).ok()?;
        let ll = h3o::LatLng::from(cell);
        Some(crate::services::devices::Location::from_degrees(
            ll.lat(),
            ll.lng(),
        ))
    }

    /// The region a cell at [`MAPPING_RESOLUTION`] lies in (regions do not overlap).
    pub fn place(&self, cell: u64) -> Placement {
        let Ok(c) = h3o::CellIndex::try_from(cell) else {
            return Placement::Outside;
        };
        // The cell and its ancestors, each looked up among every region's sorted cells.
        for res in 0..=u8::from(c.resolution()) {
            let Some(p) = h3o::Resolution::try_from(res)
                .ok()
                .and_then(|r| c.parent(r))
                .map(u64::from)
            else {
                continue;
            };
            for (i, region) in self.regions.iter().enumerate() {
                if region.cells.binary_search(&p).is_ok() {
                    return if region.closed {
                        Placement::Closed(i as u16)
                    } else {
                        Placement::Open(i as u16)
                    };
                }
            }
        }
        Placement::Outside
    }
}

struct_codec!(FrameRules {
    max_speed_cms: u32,
    min_speed_cms: u32,
    min_step_mm: u32,
    max_accel_cms2: u32,
    distance_tolerance_bps: u32,
    distance_slack_mm: u32,
    max_frame_gap_ms: u64,
    min_satellites: u8,
    max_hdop_centi: u16,
    near_duplicate_bits: u32,
    same_pass_ms: u64,
    upload_window_ms: u64,
    max_clock_skew_ms: u64,
});
struct_codec!(FreshnessRules {
    full_after_ms: u64,
    memory_ms: u64,
    history_epochs: u64,
    phashes_per_cell: u32,
    pass_rate_margin_pct: u32,
});
struct_codec!(BountyRules {
    max_duration_ms: u64,
    max_passes: u8,
});
struct_codec!(Region {
    name: String,
    cells: Vec<u64>,
    weight: u32,
    closed: bool,
});
struct_codec!(MappingParams {
    onboard_fee: Amount,
    frames: FrameRules,
    freshness: FreshnessRules,
    bounties: BountyRules,
    regions: Vec<Region>,
    access_cell_credits: u64,
});

#[cfg(test)]
mod tests {
    use super::super::preset;
    use super::*;
    use crate::services::devices::Location;

    const BERLIN: Location = Location {
        lat_udeg: 52_520_008,
        lon_udeg: 13_404_954,
    };

    #[test]
    fn the_preset_is_valid_and_places_cells() {
        let p = preset::single_region(BERLIN).to_params(6).expect("valid");
        let cell = BERLIN.cell(MAPPING_RESOLUTION).unwrap();
        assert_eq!(p.place(cell), Placement::Open(0));
        let far = Location {
            lat_udeg: 0,
            lon_udeg: 0,
        };
        assert_eq!(
            p.place(far.cell(MAPPING_RESOLUTION).unwrap()),
            Placement::Outside
        );
        let center = p.region_center(0).unwrap();
        assert!(
            (center.lat_udeg - BERLIN.lat_udeg).abs() < 200_000,
            "{center:?}"
        );
    }

    #[test]
    fn bad_sections_are_refused_naming_the_field() {
        let ok = preset::single_region(BERLIN);
        type Edit = fn(&mut MappingGenesis);
        let cases: Vec<(Edit, &str)> = vec![
            (
                |g| g.frames.max_speed_cms = 0,
                "mapping.frames.max_speed_cms",
            ),
            (
                |g| g.frames.min_speed_cms = 5_000,
                "mapping.frames.min_speed_cms",
            ),
            (
                |g| g.frames.near_duplicate_bits = 40,
                "mapping.frames.near_duplicate_bits",
            ),
            (|g| g.freshness.memory_ms = 1, "mapping.freshness.memory_ms"),
            (|g| g.regions.clear(), "mapping.regions"),
            (
                |g| g.regions[0].h3_cells = vec!["nope".into()],
                "mapping.regions.h3_cells",
            ),
            (
                |g| {
                    // A region inside another one.
                    let inner = format!("{:x}", BERLIN.cell(9).unwrap());
                    g.regions.push(RegionGenesis {
                        name: "inner".into(),
                        h3_cells: vec![inner],
                        weight: 1,
                        closed: true,
                    });
                },
                "mapping.regions.h3_cells",
            ),
            (
                |g| {
                    let again = g.regions[0].clone();
                    g.regions.push(again);
                },
                "mapping.regions.name",
            ),
        ];
        for (edit, field) in cases {
            let mut g = ok.clone();
            edit(&mut g);
            let (got, why) = g.to_params(6).expect_err("refused");
            assert_eq!(got, field, "{why}");
        }
    }
}
