//! Token economics: how much is emitted each epoch, how a pool is split, and how a pool is paid
//! out exactly in proportion to shares.
//!
//! These are the functions the ledger, the benchmarks and the economic simulator all call (one
//! implementation, never a copy "for the simulation"). Everything is integer arithmetic in base
//! units; every division says where its remainder goes, so `payouts + dust = pool` always holds.

pub mod close;
pub mod credits;
pub mod demand;
pub mod emission;
pub mod payout;
pub mod records;
pub mod validators;

pub use close::{DemandRules, EpochPlan, EpochSettlement, ModulePools, ModuleTotals, plan_epoch};
pub use credits::{
    CreditError, CreditPeg, OraclePrice, TokenPrice, credits_for_burn, oracle_price, remint,
    token_value_of_credits, tokens_for_credits, usd_text,
};
pub use demand::{
    BootstrapDecay, DemandParams, EpochDemand, EpochPools, epoch_pools, pay_demand_pool,
};
pub use emission::EmissionSchedule;
pub use payout::{Payout, ProRata, mul_div_floor, pro_rata, split_bps};
pub use records::{EconomyView, EpochSummary, ModuleSummary, RewardRecord};
pub use validators::{ValidatorPay, ValidatorPayout, pay_validators};
