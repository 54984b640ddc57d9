//! Wireless coverage (like Helium): hotspots prove radio coverage with beacons their neighbours
//! witness, and earn by epoch in proportion to scored, density-scaled proof.
//!
//! - [`actions`]: what coverage transactions say (device lifecycle, beacons, witnesses);
//! - [`params`]: the genesis parameters (fees, limits, region plans, scoring);
//! - [`device`]: the device registry and proof records in the state;
//! - [`verify`]: every check, each with its [`CoverageRejection`] reason;
//! - [`epoch`]: the end of an epoch: emission, scoring, exact payout, explanations;
//! - [`radio`] and [`rewards`]: the physics and the scoring the checks and payouts rest on.

pub mod actions;
pub mod density;
pub mod device;
pub mod epoch;
pub mod params;
pub mod preset;
pub mod radio;
pub mod reject;
pub mod rewards;
pub mod verify;

pub use params::{CoverageGenesis, CoverageParams};
pub use reject::CoverageRejection;
