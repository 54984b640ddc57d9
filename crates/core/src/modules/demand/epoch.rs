//! The demand side of an epoch's close: the credits burned for each device's traffic, and the
//! split of the epoch's rewards into treasury, demand and coverage (bootstrap) pools.
//!
//! The demand pool is capped at the USD value of the credits burned for devices that may be paid
//! (valued at the oracle median), so routing traffic through your own hotspot returns at most
//! what the credits cost; what the cap holds back rolls into the coverage pool.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::{DemandParams, EpochDemand, EpochPools, TokenPrice, epoch_pools};
use crate::modules::coverage::device::{CoverageView, address_suffix};
use crate::state::State;

use super::params::MarketParams;
use super::records::{DemandView, DeviceUsage, EpochTally, tally_key, usage_key};

/// What the close of an epoch takes from the demand side.
#[derive(Clone, Debug, Default)]
pub(crate) struct DemandClose {
    pub pools: EpochPools,
    pub price: Option<TokenPrice>,
    pub tally: EpochTally,
    /// Devices that may be paid (still registered, not denied), in address order.
    pub usage: Vec<(Address, DeviceUsage)>,
    /// Credits burned for devices retired or denied before the close.
    pub void_credits: u128,
}

/// Takes the epoch's usage and tally out of the state and computes its pools.
pub(crate) fn close(
    state: &mut State,
    p: &MarketParams,
    epoch: u64,
    emission: Amount,
    treasury_bps: u32,
    now_ms: u64,
) -> DemandClose {
    let from = usage_key(epoch, &Address([0; 32]));
    let to = usage_key(epoch + 1, &Address([0; 32]));
    let found: Vec<(Vec<u8>, Address, DeviceUsage)> = state
        .range(&from, &to)
        .map(|(k, v)| {
            (
                k.to_vec(),
                address_suffix(k),
                crate::codec::Decode::from_bytes(v).expect("the ledger wrote it"),
            )
        })
        .collect();
    let mut out = DemandClose {
        tally: state.tally(epoch),
        price: state.quote(now_ms).map(|q| q.median),
        ..DemandClose::default()
    };
    state.put_raw(tally_key(epoch), None);
    for (key, device, used) in found {
        state.put_raw(key, None);
        if state.device(&device).is_some() && !state.is_denied(&device) {
            out.usage.push((device, used));
        } else {
            out.void_credits += used.credits;
        }
    }
    let credits: u128 = out.usage.iter().map(|(_, u)| u.credits).sum();
    let params = DemandParams {
        treasury_bps,
        remint_bps: p.remint_bps,
        demand_cap_bps: p.demand_cap_bps,
        bootstrap: p.bootstrap,
        credit_peg: p.credit_peg,
    };
    // Without a fresh price the credits cannot be valued: no demand pool rather than a guess.
    let (credits_burned, price) = match out.price {
        Some(price) => (credits, price),
        None => (0, TokenPrice(1)),
    };
    out.pools = epoch_pools(
        &params,
        &EpochDemand {
            epoch,
            emission,
            tokens_burned: out.tally.tokens_burned,
            credits_burned,
            price,
            token_decimals: state.params().decimals,
        },
    )
    .expect("pools of a valid genesis fit 128 bits");
    out
}
