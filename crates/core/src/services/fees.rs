//! Fees for what a module does for an owner (onboarding a device, moving it), paid the same way
//! whatever the module: in credits on a network with the demand service (stable in USD; a
//! shortfall is bought from tokens in the same step), in tokens otherwise. Both are burned.

use crate::amount::Amount;
use crate::crypto::Address;
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::demand::{self, Demand, MarketParams};
use crate::state::State;

/// What a fee is for: the demand service's genesis prices each in credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeKind {
    Onboard,
    Location,
}

impl FeeKind {
    fn credits(self, p: &MarketParams) -> u128 {
        u128::from(match self {
            FeeKind::Onboard => p.onboard_fee_credits,
            FeeKind::Location => p.location_fee_credits,
        })
    }
}

/// A fee checked and ready to be paid.
#[derive(Clone, Copy, Debug)]
pub enum FeePlan {
    Tokens(Amount),
    Credits(demand::verify::FeePlan),
}

impl FeePlan {
    /// Tokens paying the fee will take from the owner's balance.
    pub fn tokens(&self) -> Amount {
        match self {
            FeePlan::Tokens(t) => *t,
            FeePlan::Credits(plan) => plan.tokens(),
        }
    }
}

/// Checks that `owner` can pay for `kinds`, changing nothing. `tokens` is the module's price in
/// tokens, used on a network without the demand service.
pub fn plan(
    state: &State,
    owner: &Address,
    kinds: &[FeeKind],
    tokens: Amount,
    ctx: BlockContext,
) -> Result<FeePlan, Rejection> {
    if let Some(m) = &state.params().modules.demand {
        let credits = kinds.iter().map(|k| k.credits(m)).sum();
        return demand::verify::plan_fee(state, owner, credits, ctx).map(FeePlan::Credits);
    }
    let balance = state.account(owner).map(|a| a.balance).unwrap_or_default();
    if balance < tokens {
        return Err(Rejection::InsufficientFunds {
            balance,
            needed: tokens,
        });
    }
    Ok(FeePlan::Tokens(tokens))
}

/// Pays a fee checked by [`plan`]; tokens and credits paid as fees are burned.
pub fn pay(
    state: &mut State,
    owner: &Address,
    fee: FeePlan,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let fee = match fee {
        FeePlan::Credits(plan) => {
            return state.with_writer(Demand::ID, |s| demand::verify::pay_fee(s, owner, plan, ctx));
        }
        FeePlan::Tokens(fee) if fee.is_zero() => return Ok(()),
        FeePlan::Tokens(fee) => fee,
    };
    let mut account = state.account(owner).copied().unwrap_or_default();
    account.balance = account
        .balance
        .checked_sub(fee)
        .expect("plan checked the balance");
    state.put_account(*owner, account);
    state.burn_supply(fee);
    Ok(())
}
