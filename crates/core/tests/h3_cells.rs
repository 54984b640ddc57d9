//! Locations become H3 cells in consensus state, so the conversion must give the same cell on
//! every platform: h3o is built without its `std` feature, which routes its trigonometry through
//! the `libm` software implementation instead of the platform's. These cells are pinned: a
//! platform (or a dependency change) that computes another cell would fork the network.

use depin_core::services::devices::{LOCATION_RESOLUTION, Location};

/// (latitude, longitude) in microdegrees, with the resolution-12 cell each must give.
const PINNED: &[(i32, i32, u64)] = &[
    // Berlin, the devnet's city.
    (52_520_008, 13_404_954, 0x8c1f1d48945d9ff),
    // The poles and next to them.
    (90_000_000, 0, 0x8c0326233ab03ff),
    (-90_000_000, 0, 0x8cf29380e0d0dff),
    (89_999_999, 179_999_999, 0x8c0326233ab03ff),
    (-89_999_999, -179_999_999, 0x8cf29380e0d0dff),
    // The antimeridian from both sides, and the prime meridian on the equator.
    (0, 180_000_000, 0x8c7eb57221a2bff),
    (0, -180_000_000, 0x8c7eb57221a2bff),
    (12_345_678, 179_999_999, 0x8c5ba36ccd6d9ff),
    (-12_345_678, -179_999_999, 0x8c9a44c48b1e1ff),
    (0, 0, 0x8c754e649929dff),
    // Near the twelve pentagons of resolution 0 (their centres, and a metre off).
    (64_700_000, 10_536_199, 0x8c08000000001ff),
    (58_250_000, -48_119_722, 0x8c1b0618150adff),
    (2_300_882, -5_245_390, 0x8c74000000001ff),
    (-37_427_000, 165_340_000, 0x8cbf1683552b1ff),
    // Everyday places with many digits.
    (40_712_776, -74_005_974, 0x8c2a107289061ff),
    (-33_868_820, 151_209_295, 0x8cbe0e35cbad1ff),
    (35_689_487, 139_691_706, 0x8c2f5a375ac4bff),
    (-22_906_847, -43_172_896, 0x8ca8a06a0136dff),
    (1_352_083, 103_819_836, 0x8c652636d8767ff),
    (64_146_582, -21_942_635, 0x8c075dd4b890dff),
];

#[test]
fn locations_map_to_the_same_cells_everywhere() {
    let mut got = Vec::new();
    for &(lat_udeg, lon_udeg, _) in PINNED {
        let cell = Location { lat_udeg, lon_udeg }
            .cell(LOCATION_RESOLUTION)
            .expect("on Earth");
        got.push((lat_udeg, lon_udeg, cell));
    }
    if std::env::var("DEPIN_PRINT_CELLS").is_ok() {
        for (lat, lon, c) in &got {
            println!("PIN ({lat}, {lon}, 0x{c:x}),");
        }
    }
    for ((lat, lon, want), (_, _, cell)) in PINNED.iter().zip(&got) {
        assert_eq!(*cell, *want, "({lat}, {lon}) -> {cell:x}, pinned {want:x}");
    }
}
