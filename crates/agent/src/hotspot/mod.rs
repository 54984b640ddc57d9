//! Simulated hotspots: a fleet of keys placed around a city, onboarded by one owner, beaconing
//! every window and witnessing the beacons their radios hear. Some may cheat: spoofers assert a
//! location far from where they are, inflators exaggerate the signal they report, a ring sits in
//! one building and witnesses only itself.
//!
//! The parts, in the order a run goes through them: `args.rs` (what `depin agent hotspot` is
//! asked for), `layout.rs` (the members, their roles and places), `fleet.rs` (the fleet and the
//! network it reads), `onboarding.rs`, `window.rs` (beacons and witness reports, window after
//! window) with `witness.rs` (what one radio makes of one beacon); `seeded.rs`, `geo.rs` and
//! `clock.rs` are the randomness, geometry and time they share.

mod args;
mod clock;
mod fleet;
mod geo;
mod layout;
mod onboarding;
mod seeded;
mod window;
mod witness;

pub use args::{HotspotArgs, MAX_FLEET, RADIUS_RANGE_M, parse_lat_lon};
pub use fleet::Fleet;
pub use layout::{GAIN_CDBI, MIN_SPACING_M, Member, Plan, Role, hotspot_key, layout};
pub use onboarding::MEMPOOL_FULL_PATIENCE_S;
pub use window::{WindowReport, run};
pub use witness::{INFLATION_DB, MAX_PROCESSING_MS, Sighting, witness_report};

pub(crate) use clock::now_ms;
pub(crate) use geo::{distance_m, offset};
pub(crate) use onboarding::onboarded_devices;
pub(crate) use seeded::{mix, unit};
