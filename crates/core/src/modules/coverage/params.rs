//! The coverage module's genesis parameters: fees, proof-of-coverage limits, regional frequency
//! plans and reward scoring.
//!
//! The genesis file states them in human units (whole tokens, H3 cells as hex strings); the ledger
//! keeps them as [`CoverageParams`] in base units and integer cells.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;

use super::rewards::RewardParams;

pub use crate::services::devices::LOCATION_RESOLUTION;
/// Most regions a network may define.
pub const MAX_REGIONS: usize = 64;
/// Most channels in one region's plan (the beacon payload picks one by a `u16`).
pub const MAX_CHANNELS: usize = 64;

/// Numeric proof-of-coverage rules, the same in the genesis file and in the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PocRules {
    /// Blocks between location reasserts of one device.
    pub reassert_interval_blocks: u64,
    /// Blocks per beacon window; a device beacons at most once per window. Divides the epoch.
    pub beacon_interval_blocks: u64,
    /// How many windows back a beacon or witness may name (0: only the current window). The
    /// beacon is revealed in the window after that, `entropy_max_age_windows + 1` after its own.
    pub entropy_max_age_windows: u64,
    /// Latest a witness may hear a beacon after it was sent, ms.
    pub max_witness_delay_ms: u64,
    /// Largest difference between the beacon's channel and the frequency a witness reports, Hz.
    pub frequency_tolerance_hz: u64,
    /// Resolution at which the minimum witness distance is counted in H3 cells (Helium: 11).
    pub min_distance_resolution: u8,
    /// Fewest H3 cells (at `min_distance_resolution`) between beaconer and witness (Helium: 8).
    pub min_witness_distance_cells: u32,
    /// Farthest a witness may be from the beaconer, metres (Helium: 100 km).
    pub max_witness_distance_m: u32,
    /// Measurement slack above the physical signal bounds, centi-dB.
    pub signal_tolerance_cdb: i32,
    /// Smallest antenna gain a device may assert, centi-dBi.
    pub min_gain_cdbi: i32,
    /// Largest antenna gain a device may assert, centi-dBi.
    pub max_gain_cdbi: i32,
    /// Witnesses the ledger records per beacon; more are refused.
    pub max_witnesses_per_beacon: u32,
    /// A witness must have beaconed, and a beaconer witnessed, within this many windows.
    pub reciprocity_windows: u64,
    /// Windows after onboarding or a location change during which reciprocity is not required
    /// (a new hotspot must be able to start somewhere).
    pub reciprocity_grace_windows: u64,
    /// Furthest a report's time (sent or heard) may be after the time of the block it lands in,
    /// ms (clocks drift; a report from the future is refused).
    #[serde(default = "default_max_clock_skew_ms")]
    pub max_clock_skew_ms: u64,
    /// Furthest a report's time may be before the time of the block it lands in, ms.
    #[serde(default = "default_max_report_age_ms")]
    pub max_report_age_ms: u64,
    /// Most beacons one hotspot may witness per window: a hotspot hears what its radio hears, and
    /// a ring cannot fill every beacon's witness list.
    #[serde(default = "default_max_witnessed_per_window")]
    pub max_witnessed_per_window: u32,
    /// Most hotspots asserting one resolution-12 H3 cell (about 300 m²).
    #[serde(default = "default_max_hotspots_per_cell")]
    pub max_hotspots_per_cell: u32,
}

/// Default [`PocRules::max_hotspots_per_cell`]: 1.
pub fn default_max_hotspots_per_cell() -> u32 {
    1
}

/// Default [`PocRules::max_clock_skew_ms`]: 2 s.
pub fn default_max_clock_skew_ms() -> u64 {
    2_000
}
/// Default [`PocRules::max_report_age_ms`]: 60 s.
pub fn default_max_report_age_ms() -> u64 {
    60_000
}
/// Default [`PocRules::max_witnessed_per_window`]: 24.
pub fn default_max_witnessed_per_window() -> u32 {
    24
}

/// A region's frequency plan, keyed by the H3 cells that make up the region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionGenesis {
    /// Plan name, e.g. `EU868`.
    pub name: String,
    /// H3 cells (any resolution up to 12, as hex strings) covering the region.
    pub h3_cells: Vec<String>,
    /// Channel centre frequencies, Hz.
    pub channels_hz: Vec<u64>,
    /// Largest radiated power allowed, centi-dBm.
    pub max_eirp_cdbm: i32,
    /// Receiver sensitivity of the plan's data rate, centi-dBm.
    pub sensitivity_cdbm: i32,
    /// Noise floor of one channel, centi-dBm.
    pub noise_floor_cdbm: i32,
}

/// A region as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    /// H3 cell indices.
    pub cells: Vec<u64>,
    pub channels_hz: Vec<u64>,
    pub max_eirp_cdbm: i32,
    pub sensitivity_cdbm: i32,
    pub noise_floor_cdbm: i32,
}

/// The `[coverage]` section of a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageGenesis {
    /// Fee to onboard a device, whole tokens (burned).
    pub onboard_fee: String,
    /// Fee to assert or reassert a location, whole tokens (burned).
    pub location_fee: String,
    pub rules: PocRules,
    pub rewards: RewardParams,
    pub regions: Vec<RegionGenesis>,
}

/// The coverage parameters the ledger keeps in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageParams {
    pub onboard_fee: Amount,
    pub location_fee: Amount,
    pub rules: PocRules,
    pub rewards: RewardParams,
    pub regions: Vec<Region>,
}

impl CoverageGenesis {
    /// Checks the section and converts it; errors name the field and what to do.
    pub fn to_params(
        &self,
        decimals: u8,
        epoch_length_blocks: u64,
    ) -> Result<CoverageParams, (&'static str, String)> {
        let fee = |name: &'static str, text: &str| {
            Amount::parse(text, decimals).map_err(|e| (name, e.to_string()))
        };
        let r = &self.rules;
        if r.beacon_interval_blocks == 0
            || !epoch_length_blocks.is_multiple_of(r.beacon_interval_blocks)
        {
            return Err((
                "coverage.rules.beacon_interval_blocks",
                format!(
                    "must be at least 1 and divide consensus.epoch_length_blocks ({epoch_length_blocks}), so every beacon window lies in one epoch"
                ),
            ));
        }
        let windows_per_epoch = epoch_length_blocks / r.beacon_interval_blocks;
        if r.entropy_max_age_windows >= windows_per_epoch {
            return Err((
                "coverage.rules.entropy_max_age_windows",
                format!(
                    "must be less than the {windows_per_epoch} beacon windows of an epoch: a beacon is revealed entropy_max_age_windows + 1 windows after its own and scored at the close after that"
                ),
            ));
        }
        if r.min_distance_resolution > 15 {
            return Err((
                "coverage.rules.min_distance_resolution",
                "must be an H3 resolution, 0 to 15".into(),
            ));
        }
        if r.min_gain_cdbi > r.max_gain_cdbi {
            return Err((
                "coverage.rules.min_gain_cdbi",
                "must not exceed max_gain_cdbi".into(),
            ));
        }
        if r.max_witnesses_per_beacon == 0 || r.max_witnesses_per_beacon > 256 {
            return Err((
                "coverage.rules.max_witnesses_per_beacon",
                "must be between 1 and 256".into(),
            ));
        }
        if r.max_witnessed_per_window == 0 || r.max_witnessed_per_window > 256 {
            return Err((
                "coverage.rules.max_witnessed_per_window",
                "must be between 1 and 256".into(),
            ));
        }
        if r.max_hotspots_per_cell == 0 {
            return Err((
                "coverage.rules.max_hotspots_per_cell",
                "must be at least 1".into(),
            ));
        }
        if r.max_report_age_ms == 0 || r.max_report_age_ms > 86_400_000 {
            return Err((
                "coverage.rules.max_report_age_ms",
                "must be between 1 ms and one day".into(),
            ));
        }
        if r.max_clock_skew_ms > 600_000 {
            return Err((
                "coverage.rules.max_clock_skew_ms",
                "must be at most 10 minutes".into(),
            ));
        }
        self.rewards
            .validate()
            .map_err(|why| ("coverage.rewards", why))?;
        if self.regions.is_empty() || self.regions.len() > MAX_REGIONS {
            return Err((
                "coverage.regions",
                format!(
                    "define between 1 and {MAX_REGIONS} regions, each with its H3 cells and channels"
                ),
            ));
        }
        let mut regions = Vec::with_capacity(self.regions.len());
        for g in &self.regions {
            if g.name.is_empty() || g.name.len() > 16 {
                return Err(("coverage.regions.name", "must be 1 to 16 characters".into()));
            }
            if regions.iter().any(|r: &Region| r.name == g.name) {
                return Err((
                    "coverage.regions.name",
                    format!("region {} is defined twice", g.name),
                ));
            }
            if g.channels_hz.is_empty() || g.channels_hz.len() > MAX_CHANNELS {
                return Err((
                    "coverage.regions.channels_hz",
                    format!(
                        "region {} needs 1 to {MAX_CHANNELS} channel frequencies in Hz",
                        g.name
                    ),
                ));
            }
            if g.h3_cells.is_empty() {
                return Err((
                    "coverage.regions.h3_cells",
                    format!("region {} needs at least one H3 cell", g.name),
                ));
            }
            let mut cells = Vec::with_capacity(g.h3_cells.len());
            for text in &g.h3_cells {
                let cell: h3o::CellIndex = text.parse().map_err(|_| {
                    (
                        "coverage.regions.h3_cells",
                        format!("'{text}' in region {} is not an H3 cell index", g.name),
                    )
                })?;
                if u8::from(cell.resolution()) > LOCATION_RESOLUTION {
                    return Err((
                        "coverage.regions.h3_cells",
                        format!("'{text}' is finer than resolution {LOCATION_RESOLUTION}"),
                    ));
                }
                cells.push(u64::from(cell));
            }
            regions.push(Region {
                name: g.name.clone(),
                cells,
                channels_hz: g.channels_hz.clone(),
                max_eirp_cdbm: g.max_eirp_cdbm,
                sensitivity_cdbm: g.sensitivity_cdbm,
                noise_floor_cdbm: g.noise_floor_cdbm,
            });
        }
        Ok(CoverageParams {
            onboard_fee: fee("coverage.onboard_fee", &self.onboard_fee)?,
            location_fee: fee("coverage.location_fee", &self.location_fee)?,
            rules: self.rules.clone(),
            rewards: self.rewards.clone(),
            regions,
        })
    }
}

impl CoverageParams {
    /// The region with this name, by index.
    pub fn region_index(&self, name: &str) -> Option<u16> {
        self.regions
            .iter()
            .position(|r| r.name == name)
            .map(|i| i as u16)
    }

    /// Whether a resolution-12 `cell` lies inside region `index`.
    pub fn region_contains(&self, index: u16, cell: u64) -> bool {
        let Some(region) = self.regions.get(index as usize) else {
            return false;
        };
        let Ok(cell) = h3o::CellIndex::try_from(cell) else {
            return false;
        };
        region.cells.iter().any(|&c| {
            let Ok(c) = h3o::CellIndex::try_from(c) else {
                return false;
            };
            cell.parent(c.resolution()) == Some(c)
        })
    }

    /// Windows between a beacon's and its reveal's, and between a window and the epoch close
    /// that scores it: `entropy_max_age_windows + 1`.
    pub fn reveal_lag_windows(&self) -> u64 {
        self.rules.entropy_max_age_windows.saturating_add(1)
    }

    /// The beacon window of a block height.
    pub fn window_of_height(&self, height: u64) -> u64 {
        // Window w covers heights w*I+1 ..= (w+1)*I; its entropy is the hash of block w*I.
        height.saturating_sub(1) / self.rules.beacon_interval_blocks
    }
}

struct_codec!(PocRules {
    reassert_interval_blocks: u64,
    beacon_interval_blocks: u64,
    entropy_max_age_windows: u64,
    max_witness_delay_ms: u64,
    frequency_tolerance_hz: u64,
    min_distance_resolution: u8,
    min_witness_distance_cells: u32,
    max_witness_distance_m: u32,
    signal_tolerance_cdb: i32,
    min_gain_cdbi: i32,
    max_gain_cdbi: i32,
    max_witnesses_per_beacon: u32,
    reciprocity_windows: u64,
    reciprocity_grace_windows: u64,
    max_clock_skew_ms: u64,
    max_report_age_ms: u64,
    max_witnessed_per_window: u32,
    max_hotspots_per_cell: u32,
});
struct_codec!(Region {
    name: String,
    cells: Vec<u64>,
    channels_hz: Vec<u64>,
    max_eirp_cdbm: i32,
    sensitivity_cdbm: i32,
    noise_floor_cdbm: i32,
});
struct_codec!(CoverageParams {
    onboard_fee: Amount,
    location_fee: Amount,
    rules: PocRules,
    rewards: RewardParams,
    regions: Vec<Region>,
});
