//! Dashcams and drives for the mapping tests: straight drives with distinct images, and the
//! preset mapping section.

use depin_core::Hash;
use depin_core::Keypair;
use depin_core::modules::mapping::actions::{Frame, Location};

/// Dashcam key `i`.
pub fn cam(i: u8) -> Keypair {
    Keypair::from_seed([150 + i; 32])
}

/// A bounty funder with tokens of its own.
pub fn funder() -> Keypair {
    Keypair::from_seed([140; 32])
}

/// A deterministic 64-bit value from a tag and an index (distinct images, unrelated phashes).
pub fn mix(tag: u64, i: u64) -> u64 {
    let h = Hash::tagged("test/mix", &[&tag.to_le_bytes(), &i.to_le_bytes()]);
    u64::from_le_bytes(h.0[..8].try_into().unwrap())
}

/// `n` frames one second apart of a car driving east at `speed_cms` from `start`, the first
/// at `t0`; images and perceptual hashes drawn from `tag`.
pub fn drive(start: Location, t0: u64, n: usize, speed_cms: u16, tag: u64) -> Vec<Frame> {
    let m_per_udeg_lon = 0.11132 * start.lat_deg().to_radians().cos();
    (0..n)
        .map(|i| {
            let east_m = f64::from(speed_cms) / 100.0 * i as f64;
            Frame {
                time_ms: t0 + 1_000 * i as u64,
                lat_udeg: start.lat_udeg,
                lon_udeg: start.lon_udeg + (east_m / m_per_udeg_lon).round() as i32,
                speed_cms,
                heading_cdeg: 9_000,
                satellites: 12,
                hdop_centi: 90,
                image: Hash::tagged("test/image", &[&tag.to_le_bytes(), &i.to_le_bytes()]),
                phash: mix(tag, i as u64),
            }
        })
        .collect()
}

/// The resolution-12 cells a drive crosses, in order, without repeats in a row.
pub fn cells_of(frames: &[Frame]) -> Vec<u64> {
    let mut cells: Vec<u64> = frames
        .iter()
        .map(|f| {
            Location {
                lat_udeg: f.lat_udeg,
                lon_udeg: f.lon_udeg,
            }
            .cell(12)
            .expect("on Earth")
        })
        .collect();
    cells.dedup();
    cells
}
