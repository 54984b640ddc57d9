//! Demand (burn-and-mint, like Helium's data credits): oracles price the token in USD, users
//! burn tokens for USD-pegged credits, payers spend credits on data their devices' hotspots
//! carried, and each epoch's demand pool follows those credits.
//!
//! - [`params`]: the genesis parameters (oracle, peg, prices, fees, pool shares and caps);
//! - [`actions`]: prices, credit purchases and delegations, co-signed usage receipts;
//! - [`records`]: what the module keeps in the state, and the oracle's quote;
//! - [`verify`]: every check, each with its [`DemandRejection`] reason, and fees in credits;
//! - [`epoch`]: the credits burned per device at the close of an epoch, and the pools.

pub mod actions;
pub mod epoch;
pub mod params;
pub mod records;
pub mod reject;
pub mod verify;

pub use params::{DemandGenesis, MarketParams};
pub use records::DemandView;
pub use reject::DemandRejection;
