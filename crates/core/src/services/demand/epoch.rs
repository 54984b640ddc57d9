//! The demand side of an epoch's close: what users paid each device for, what it is worth, and
//! the epoch's credit flows. The ledger's one close ([`crate::economics::close`]) turns it into
//! each module's demand pool.
//!
//! A device's paid service is worth its credits' USD value at the oracle median, but never more
//! tokens than were burned to buy them: routing traffic through your own hotspot returns at most
//! what the credits cost, in USD and in tokens, whatever the price did in between.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::{DemandRules, TokenPrice, token_value_of_credits};
use crate::module::{Module, address_suffix};
use crate::services::devices::{DeviceEntry, DevicesView};
use crate::state::{State, StateRead};

use super::Demand;
use super::records::{DemandView, DeviceUsage, EpochTally, tally_key, usage_range};

/// What users paid for during an epoch.
#[derive(Clone, Debug)]
pub struct PaidService {
    pub rules: DemandRules,
    /// The median at the close (none: no fresh price, so the service cannot be valued).
    pub price: Option<TokenPrice>,
    pub tally: EpochTally,
    /// Devices that may be paid (registered, not denied), in address order, with their entry,
    /// usage and worth in tokens.
    pub usage: Vec<(Address, DeviceEntry, DeviceUsage, Amount)>,
    /// Credits burned for devices retired or denied before the close.
    pub void_credits: u128,
}

/// Takes epoch `epoch`'s usage and tally out of the state (`None` on a network without the
/// demand service).
pub(crate) fn take_epoch(state: &mut State, epoch: u64, now_ms: u64) -> Option<PaidService> {
    let p = state.params().modules.demand.clone()?;
    let (from, to) = usage_range(epoch);
    let found = state.scan(&from, &to, usize::MAX);
    let mut out = PaidService {
        rules: DemandRules {
            remint_bps: p.remint_bps,
            demand_cap_bps: p.demand_cap_bps,
            bootstrap: p.bootstrap,
        },
        price: state.quote(now_ms).map(|q| q.median),
        tally: state.tally(epoch),
        usage: Vec::new(),
        void_credits: 0,
    };
    let decimals = state.params().decimals;
    state.with_writer(Demand::ID, |state| {
        state.put_raw(tally_key(epoch), None);
        for (key, value) in found {
            let device = address_suffix(&key);
            let used: DeviceUsage =
                crate::codec::Decode::from_bytes(&value).expect("the ledger wrote it");
            state.put_raw(key, None);
            match state.device_entry(&device) {
                Some(entry) if !state.is_denied(&device) => {
                    let worth = match out.price {
                        Some(price) => {
                            token_value_of_credits(used.credits, price, decimals, p.credit_peg)
                                .expect("credits of a valid genesis have a value")
                                .min(used.token_cost)
                        }
                        None => Amount::ZERO,
                    };
                    out.usage.push((device, entry, used, worth));
                }
                _ => out.void_credits += used.credits,
            }
        }
    });
    Some(out)
}
