//! Credits in escrow and in stake: the compute module holds a requester's escrow and a
//! provider's stake out of their credit balances, pays a verified result as paid service of the
//! provider's device (the demand pool's input, like a usage receipt), and gives the rest back.
//!
//! Every move carries the credits' cost basis (the tokens burned for them, see the demand
//! service's `CreditBalance`), so a device's paid service is never worth more tokens than were
//! burned for it: paying your own provider returns at most what the credits cost.
//!
//! These writes are the demand service's records, made in its write scope. They belong in the
//! demand service as `hold`, `release` and `pay_device` (the storage module needs the same);
//! they live here until that service file can change.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::module::{BlockContext, Module};
use crate::services::demand::Demand;
use crate::services::demand::records::{
    DemandView, DeviceUsage, EpochTally, cost_share, credits_key, tally_key, usage_key,
};
use crate::state::{State, StateRead};

/// The credits `account` holds of its own (what escrow and stake can take).
pub fn own<R: StateRead>(state: &R, account: &Address) -> u128 {
    state.credits(account).map_or(0, |c| c.own)
}

/// Takes `credits` of `account`'s own credits (the caller checked there are enough) and
/// returns their cost basis.
pub fn hold(state: &mut State, account: &Address, credits: u128) -> Amount {
    state.with_writer(Demand::ID, |s| {
        let mut b = s.credits(account).unwrap_or_default();
        let cost = cost_share(b.own_cost, credits, b.own);
        b.own = b.own.checked_sub(credits).expect("the caller checked");
        b.own_cost = b.own_cost.checked_sub(cost).expect("a share of it");
        s.put(credits_key(account), &b);
        cost
    })
}

/// Gives `credits` with their cost basis back to `account`'s own credits.
pub fn release(state: &mut State, account: &Address, credits: u128, cost: Amount) {
    if credits == 0 && cost.is_zero() {
        return;
    }
    state.with_writer(Demand::ID, |s| {
        let mut b = s.credits(account).unwrap_or_default();
        b.own = b.own.checked_add(credits).expect("credits fit 128 bits");
        b.own_cost = b.own_cost.checked_add(cost).expect("<= supply");
        s.put(credits_key(account), &b);
    });
}

/// Records `credits` (with their cost basis) as paid service of `device` this epoch: the
/// epoch close pays its owner from the compute module's demand pool.
pub fn pay_device(
    state: &mut State,
    device: &Address,
    credits: u128,
    cost: Amount,
    ctx: BlockContext,
) {
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    state.with_writer(Demand::ID, |s| {
        let key = usage_key(epoch, device);
        let mut used: DeviceUsage = s.get(&key).unwrap_or_default();
        used.credits = used
            .credits
            .checked_add(credits)
            .expect("bounded by escrow");
        used.receipts = used.receipts.saturating_add(1);
        used.token_cost = used.token_cost.checked_add(cost).expect("<= supply");
        s.put(key, &used);
        let mut tally: EpochTally = s.tally(epoch);
        tally.credits_on_data = tally
            .credits_on_data
            .checked_add(credits)
            .expect("bounded by escrow");
        tally.receipts = tally.receipts.saturating_add(1);
        s.put(tally_key(epoch), &tally);
    });
}
