//! depin-sim: an economic simulator (digital twin) that runs depin-core's own economics over
//! populations of simulated suppliers and users.

pub mod cli;
