//! A ready-made mapping section for a new network: one open region around a centre point with
//! Hivemapper's frame limits and a week's freshness, for devnets, tests and as a starting point.

use super::actions::Location;
use super::params::{BountyRules, FrameRules, FreshnessRules, MappingGenesis, RegionGenesis};

/// A day, ms.
pub const DAY_MS: u64 = 86_400_000;

/// Frame limits after Hivemapper's firmware (40 m/s, 4 satellites, HDOP 4) with room for the
/// GNSS noise of a consumer receiver.
pub fn frame_rules() -> FrameRules {
    FrameRules {
        max_speed_cms: 4_000,
        min_speed_cms: 50,
        min_step_mm: 1_000,
        max_accel_cms2: 800,
        distance_tolerance_bps: 2_000,
        distance_slack_mm: 8_000,
        max_frame_gap_ms: 5_000,
        min_satellites: 4,
        max_hdop_centi: 400,
        near_duplicate_bits: 6,
        same_pass_ms: 120_000,
        upload_window_ms: 2 * DAY_MS,
        max_clock_skew_ms: 60_000,
    }
}

/// The resolution-5 H3 cell around `center` and its six neighbours (about 40 km across).
pub fn city_cells(center: Location) -> Vec<String> {
    let cell = h3o::LatLng::new(center.lat_deg(), center.lon_deg())
        .expect("the preset centre is on Earth")
        .to_cell(h3o::Resolution::Five);
    cell.grid_disk::<Vec<_>>(1)
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// A mapping section with one open region, `city`, around `center`.
pub fn single_region(center: Location) -> MappingGenesis {
    MappingGenesis {
        onboard_fee: "10".into(),
        frames: frame_rules(),
        freshness: FreshnessRules {
            full_after_ms: 7 * DAY_MS,
            memory_ms: 30 * DAY_MS,
            history_epochs: 64,
            phashes_per_cell: 16,
            pass_rate_margin_pct: super::params::default_pass_rate_margin_pct(),
        },
        bounties: BountyRules {
            max_duration_ms: 30 * DAY_MS,
            max_passes: 4,
        },
        // $0.0005 a cell at $0.00001 a credit: about $0.025 a road-kilometre.
        access_cell_credits: 50,
        regions: vec![RegionGenesis {
            name: "city".into(),
            h3_cells: city_cells(center),
            weight: 1,
            closed: false,
        }],
    }
}
