//! Credits held for a service paid over time (a storage deal, a compute job's escrow, a compute
//! provider's stake): taken from the payer's credits when the service is agreed, released to the device that delivered each paid period (where they
//! count as that device's paid service at the epoch's close, like a usage receipt), and refunded
//! to the payer for periods not delivered.
//!
//! Held credits keep their cost basis (the tokens burned for them), so what a device's release
//! is worth at the close is bounded by what was burned, exactly as for usage receipts. The
//! module that holds them keeps the [`Held`] amount in its own records; this service moves the
//! credits in and out of the demand state.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::state::{State, StateRead};

use super::Demand;
use super::records::{DemandView, DeviceUsage, cost_share, credits_key, tally_key, usage_key};
use super::reject::DemandRejection as R;

/// Credits held out of a payer's balance, with the tokens burned to buy them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
    /// Their cost basis, base units of the token.
    pub cost: Amount,
}

impl Held {
    /// Splits `credits` off (all of them if fewer are held), with their share of the cost
    /// (rounded down, and all the cost with the last credit).
    pub fn take(&mut self, credits: u128) -> Held {
        let credits = credits.min(self.credits);
        let cost = cost_share(self.cost, credits, self.credits);
        self.credits -= credits;
        self.cost = self.cost.checked_sub(cost).expect("a share of it");
        Held { credits, cost }
    }
}

/// The credits `account` holds of its own (what a hold can take).
pub fn own<R: StateRead>(state: &R, account: &Address) -> u128 {
    state.credits(account).map_or(0, |c| c.own)
}

/// Checks that `payer` can have `credits` of its own credits held (changes nothing).
pub fn check_hold(state: &State, payer: &Address, credits: u128) -> Result<(), Rejection> {
    if state.params().modules.demand.is_none() {
        return Err(Rejection::ModuleDisabled { module: Demand::ID });
    }
    let balance = own(state, payer);
    if balance < credits {
        return Err(R::InsufficientCredits {
            balance,
            needed: credits,
        }
        .into());
    }
    Ok(())
}

/// Holds `credits` of `payer`'s own credits (checked by [`check_hold`]).
pub fn hold(state: &mut State, payer: &Address, credits: u128) -> Held {
    state.with_writer(Demand::ID, |state| {
        let mut c = state.credits(payer).unwrap_or_default();
        let cost = cost_share(c.own_cost, credits, c.own);
        c.own = c.own.checked_sub(credits).expect("check_hold checked it");
        c.own_cost = c.own_cost.checked_sub(cost).expect("a share of it");
        state.put(credits_key(payer), &c);
        Held { credits, cost }
    })
}

/// Gives held credits back to `payer`'s own balance, with their cost basis.
pub fn refund(state: &mut State, payer: &Address, held: Held) {
    if held.credits == 0 && held.cost.is_zero() {
        return;
    }
    state.with_writer(Demand::ID, |state| {
        let mut c = state.credits(payer).unwrap_or_default();
        c.own = c
            .own
            .checked_add(held.credits)
            .expect("held from this balance");
        c.own_cost = c.own_cost.checked_add(held.cost).expect("<= supply");
        state.put(credits_key(payer), &c);
    })
}

/// Spends held credits on a period `device` delivered: they are burned and counted as the
/// device's paid service in the current epoch (one receipt), like a settled usage receipt.
pub fn release(state: &mut State, device: &Address, held: Held, ctx: BlockContext) {
    if held.credits == 0 {
        return;
    }
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    state.with_writer(Demand::ID, |state| {
        let key = usage_key(epoch, device);
        let mut used: DeviceUsage = state.get(&key).unwrap_or_default();
        used.credits = used.credits.checked_add(held.credits).expect("<= credits");
        used.receipts = used.receipts.saturating_add(1);
        used.token_cost = used.token_cost.checked_add(held.cost).expect("<= supply");
        state.put(key, &used);
        let mut tally = state.tally(epoch);
        tally.credits_on_data = tally
            .credits_on_data
            .checked_add(held.credits)
            .expect("<= credits");
        tally.receipts = tally.receipts.saturating_add(1);
        state.put(tally_key(epoch), &tally);
    })
}

struct_codec!(Held {
    credits: u128,
    cost: Amount
});
