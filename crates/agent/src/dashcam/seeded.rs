//! Normal variates from the agents' seeded hashes ([`crate::hotspot::mix`]), for GNSS noise.

pub(crate) use crate::hotspot::{mix, unit};

/// A standard normal variate from two hashes (Box-Muller).
pub fn normal(a: u64, b: u64) -> f64 {
    let u = unit(a).max(1e-12);
    let v = unit(b);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}
