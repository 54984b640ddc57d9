//! A ready-made coverage section for a new network: an EU868-like region plan around a centre
//! point with Helium's proof-of-coverage limits, for devnets, tests and as a starting point.

use super::actions::Location;
use super::params::{CoverageGenesis, PocRules, RegionGenesis};
use super::rewards::RewardParams;

/// EU868 uplink channels, Hz.
pub const EU868_CHANNELS_HZ: [u64; 8] = [
    867_100_000,
    867_300_000,
    867_500_000,
    867_700_000,
    867_900_000,
    868_100_000,
    868_300_000,
    868_500_000,
];
/// EU868 maximum radiated power, centi-dBm (16 dBm).
pub const EU868_MAX_EIRP_CDBM: i32 = 1600;
/// LoRa SF12 / 125 kHz sensitivity, centi-dBm (-137 dBm).
pub const LORA_SENSITIVITY_CDBM: i32 = -13_700;
/// Noise floor of a 125 kHz channel with a 6 dB noise figure, centi-dBm (-117.03 dBm).
pub const LORA_NOISE_FLOOR_CDBM: i32 = -11_703;

/// Proof-of-coverage limits after Helium's (see `reference/helium.md` §2.3), with beacon windows
/// short enough for a devnet: `beacon_interval_blocks` blocks per window.
pub fn rules(beacon_interval_blocks: u64) -> PocRules {
    PocRules {
        reassert_interval_blocks: 100,
        beacon_interval_blocks,
        entropy_max_age_windows: 1,
        max_witness_delay_ms: 4_000,
        frequency_tolerance_hz: 100_000,
        min_distance_resolution: 11,
        min_witness_distance_cells: 8,
        max_witness_distance_m: 100_000,
        signal_tolerance_cdb: 300,
        min_gain_cdbi: 100,
        max_gain_cdbi: 1_500,
        max_witnesses_per_beacon: 64,
        reciprocity_windows: 12,
        reciprocity_grace_windows: 3,
        max_clock_skew_ms: super::params::default_max_clock_skew_ms(),
        max_report_age_ms: super::params::default_max_report_age_ms(),
        max_witnessed_per_window: super::params::default_max_witnessed_per_window(),
        max_hotspots_per_cell: super::params::default_max_hotspots_per_cell(),
    }
}

/// A coverage section with one region, `EU868`, made of the resolution-1 H3 cell around
/// `center` and its neighbours (a few thousand kilometres across).
pub fn single_region(center: Location, beacon_interval_blocks: u64) -> CoverageGenesis {
    let cell = h3o::LatLng::new(center.lat_deg(), center.lon_deg())
        .expect("the preset centre is on Earth")
        .to_cell(h3o::Resolution::One);
    let h3_cells = cell
        .grid_disk::<Vec<_>>(1)
        .iter()
        .map(|c| c.to_string())
        .collect();
    CoverageGenesis {
        onboard_fee: "10".into(),
        location_fee: "5".into(),
        rules: rules(beacon_interval_blocks),
        rewards: RewardParams::default(),
        regions: vec![RegionGenesis {
            name: "EU868".into(),
            h3_cells,
            channels_hz: EU868_CHANNELS_HZ.to_vec(),
            max_eirp_cdbm: EU868_MAX_EIRP_CDBM,
            sensitivity_cdbm: LORA_SENSITIVITY_CDBM,
            noise_floor_cdbm: LORA_NOISE_FLOOR_CDBM,
        }],
    }
}

/// Berlin, the devnet's default city.
pub const BERLIN: Location = Location {
    lat_udeg: 52_520_008,
    lon_udeg: 13_404_954,
};
