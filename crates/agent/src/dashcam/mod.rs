//! Simulated dashcams for the mapping module: cars driving a street grid around a city with a
//! consumer GNSS receiver, taking a keyframe a second and uploading signed bundles; and the
//! cheaters the ledger has to face (replays of another car's drive, drives made up at a desk,
//! farms of cheap identities splitting one drive, parked cameras, GPS spoofers).
//!
//! The parts: `args.rs` (what `depin agent dashcam` is asked for), `roads.rs` (the street grid
//! and routes), `car.rs` (a car, its driver and its dashcam), `fleet.rs` (every dashcam of a
//! run and what each uploads), `local.rs` (a run on an in-process ledger that measures what
//! each kind earns), `node.rs` (a run against a node), `devnet.rs` (the dashcams `depin devnet`
//! starts); `seeded.rs` is their randomness.

mod args;
mod car;
pub mod devnet;
mod fleet;
mod local;
mod node;
mod roads;
mod seeded;

pub use args::{DashcamArgs, MAX_DASHCAMS};
pub use car::{Car, scene};
pub use fleet::{Fleet, Role, dashcam_key};
pub use local::{RoleOutcome, measure, print_table, report};
pub use node::run;
pub use roads::Grid;
