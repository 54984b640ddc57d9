//! depin-sim: an economic simulator (digital twin) that runs depin-core's own economics over
//! populations of simulated suppliers and users.
//!
//! A scenario file ([`scenario`]) describes the network's genesis economics, its suppliers, its
//! users and its token market; [`run`] steps one Monte Carlo run through depin-core's emission,
//! pool, credit and payout functions; [`engine`] runs many of them in parallel with reproducible
//! random numbers ([`rng`]) and [`aggregate`] folds them into per-step percentiles and KPIs;
//! [`report`] writes CSV, JSON, SVG fan charts ([`chart`]) and an HTML report.

pub mod aggregate;
pub mod chart;
pub mod cli;
pub mod distribution;
pub mod engine;
pub mod kpi;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
