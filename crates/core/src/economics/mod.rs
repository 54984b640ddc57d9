//! Token economics: how much is emitted each epoch, how a pool is split, and how a pool is paid
//! out exactly in proportion to shares.
//!
//! These are the functions the ledger, the benchmarks and the economic simulator all call (one
//! implementation, never a copy "for the simulation"). Everything is integer arithmetic in base
//! units; every division says where its remainder goes, so `payouts + dust = pool` always holds.

pub mod emission;
pub mod payout;

pub use emission::EmissionSchedule;
pub use payout::{Payout, mul_div_floor, pro_rata, split_bps};
