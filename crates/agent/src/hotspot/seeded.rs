//! The fleet's only source of randomness: hashes of labelled parts, so a seed replays.

use depin_core::Hash;

/// A 64-bit hash of labelled parts: the fleet's only source of randomness, so a seed replays.
pub fn mix(parts: &[u64]) -> u64 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.to_le_bytes()).collect();
    let h = Hash::tagged("depin/agent/mix", &[&bytes]);
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"))
}

/// A hash as a number uniform in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}
