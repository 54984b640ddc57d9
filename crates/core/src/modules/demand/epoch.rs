//! The demand side of an epoch's close: the credits burned for each device's traffic, and the
//! split of the epoch's rewards into treasury, demand and coverage (bootstrap) pools.
//!
//! The demand pool is capped at what the credits burned for devices that may be paid are worth:
//! their USD value at the oracle median, and never more tokens than were burned to buy them. It
//! is paid pro rata to that worth, so routing traffic through your own hotspot returns at most
//! what the credits cost, in USD and in tokens, whatever the price did in between; what the cap
//! holds back rolls into the coverage pool.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::{
    DemandParams, EpochDemand, EpochPools, TokenPrice, epoch_pools, token_value_of_credits,
};
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
    /// Devices that may be paid (still registered, not denied), in address order, with what
    /// their credits are worth in tokens for the demand pool: their USD value at the median,
    /// but never more than the tokens burned for them.
    pub usage: Vec<(Address, DeviceUsage, Amount)>,
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
            let value = match out.price {
                Some(price) => token_value_of_credits(
                    used.credits,
                    price,
                    state.params().decimals,
                    p.credit_peg,
                )
                .expect("credits of a valid genesis have a value")
                .min(used.token_cost),
                None => Amount::ZERO,
            };
            out.usage.push((device, used, value));
        } else {
            out.void_credits += used.credits;
        }
    }
    let credits: u128 = out.usage.iter().map(|(_, u, _)| u.credits).sum();
    let value = out.usage.iter().map(|(_, _, v)| v.0).sum();
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
            value_limit: Some(Amount(value)),
        },
    )
    .expect("pools of a valid genesis fit 128 bits");
    out
}
