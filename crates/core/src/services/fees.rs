//! Fees: what every transaction pays for the bytes and work it costs (a base fee per weight unit
//! that follows block fullness), and what a module charges an owner for a service (onboarding a
//! device, moving it). Both are paid the same way whatever the module: in credits on a network
//! with the demand service (stable in USD; a shortfall is bought from tokens in the same step),
//! in tokens otherwise, and burned.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::TokenPrice;
use crate::module::{BlockContext, FieldError, Module};
use crate::rejection::Rejection;
use crate::services::demand::records::DemandView;
use crate::services::demand::{self, Demand, MarketParams};
use crate::services::devices::DevicesView;
use crate::state::{State, StateRead};
use crate::tx::{MAX_TX_BYTES, Transaction};

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

// ---------------------------------------------------------------------------------------------
// Transaction fees: what every transaction pays for the bytes and work it costs the network.

/// Millionths of a fee unit: the base fee is kept at this precision so that it can follow block
/// fullness by small steps.
pub const BASE_FEE_SCALE: u128 = 1_000_000;

/// The base fee moves by at most 1/8 per block (as EIP-1559's).
pub const BASE_FEE_MAX_CHANGE_DENOMINATOR: u128 = 8;

/// The `[fees]` section of a genesis file. Every field has a default, so a genesis without the
/// section gets [`FeesGenesis::default`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeesGenesis {
    /// Lowest base fee, in millionths of a fee unit per weight unit. A fee unit is one credit on
    /// a network with `[demand]` (stable in USD), one token base unit otherwise. The default,
    /// 10,000, is one credit per 100 weight: about $0.00004 for a transfer or a beacon.
    pub min_base_fee: u64,
    /// Most weight one block may carry; the base fee aims at half of it.
    pub max_block_weight: u64,
    /// Most bytes of transactions one block may carry.
    pub max_block_bytes: u64,
    /// Token price in USD used to turn fee credits into tokens for a payer without enough
    /// credits when the oracle has no fresh price (network start, outage). Set it at or below
    /// the price you expect, so that fees cost at least what they should.
    pub fallback_price: String,
}

impl Default for FeesGenesis {
    fn default() -> Self {
        FeesGenesis {
            min_base_fee: 10_000,
            max_block_weight: 8_000_000,
            max_block_bytes: 4 << 20,
            fallback_price: "0.01".into(),
        }
    }
}

/// The fee parameters the ledger keeps in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeParams {
    pub min_base_fee: u64,
    pub max_block_weight: u64,
    pub max_block_bytes: u64,
    pub fallback_price: TokenPrice,
}

crate::codec::struct_codec!(FeeParams {
    min_base_fee: u64,
    max_block_weight: u64,
    max_block_bytes: u64,
    fallback_price: TokenPrice,
});

impl FeesGenesis {
    /// Checks the section; errors name the field and the fix.
    pub fn params(&self) -> Result<FeeParams, FieldError> {
        if self.min_base_fee == 0 {
            return Err((
                "fees.min_base_fee",
                "must be at least 1: every transaction pays something, or spam is free".into(),
            ));
        }
        let heaviest = (MAX_TX_BYTES as u64) * 2;
        if self.max_block_weight < heaviest {
            return Err((
                "fees.max_block_weight",
                format!("must be at least {heaviest}, so that the largest transaction fits"),
            ));
        }
        if self.max_block_bytes < MAX_TX_BYTES as u64 {
            return Err((
                "fees.max_block_bytes",
                format!("must be at least {MAX_TX_BYTES}, the largest transaction"),
            ));
        }
        let fallback_price = TokenPrice::parse(&self.fallback_price)
            .ok()
            .filter(|p| p.0 > 0)
            .ok_or((
                "fees.fallback_price",
                format!(
                    "'{}' is not a positive USD price such as \"0.05\"",
                    self.fallback_price
                ),
            ))?;
        Ok(FeeParams {
            min_base_fee: self.min_base_fee,
            max_block_weight: self.max_block_weight,
            max_block_bytes: self.max_block_bytes,
            fallback_price,
        })
    }
}

impl Default for FeeParams {
    fn default() -> Self {
        FeesGenesis::default()
            .params()
            .expect("the default fee section is valid")
    }
}

/// The fee of a transaction of `weight` at `base_fee` (millionths per weight unit), rounded up.
pub fn fee_for(base_fee: u64, weight: u64) -> u64 {
    let fee = (u128::from(base_fee) * u128::from(weight)).div_ceil(BASE_FEE_SCALE);
    u64::try_from(fee).unwrap_or(u64::MAX)
}

/// Weight of a transfer on a network whose chain id is 12 bytes long (one byte more or less per
/// character): its bytes and one signature check. For estimates; [`Transaction::weight`] is exact.
pub const TRANSFER_WEIGHT: u64 = 4 + 12 + 32 + 8 + 8 + 8 + 49 + 64 + crate::tx::SIGNATURE_WEIGHT;

/// A `max_fee` to offer for `weight` at `base_fee`: twice the current fee, enough to wait out
/// six full blocks of rising base fee (a transaction only ever pays the base fee of its block).
pub fn suggested_max_fee(base_fee: u64, weight: u64) -> u64 {
    fee_for(base_fee.saturating_mul(2), weight)
}

/// The base fee after a block that carried `used` weight: up by as much as 1/8 when the block
/// was full, down by as much as 1/8 when it was empty, never below the minimum. Aiming at half
/// full blocks, a flood pays more every block (x2 in six full blocks) while honest traffic
/// returns to the minimum once it is over.
pub fn next_base_fee(p: &FeeParams, base_fee: u64, used: u64) -> u64 {
    let target = u128::from(p.max_block_weight / 2).max(1);
    let base = u128::from(base_fee);
    let used = u128::from(used);
    let next = if used > target {
        let step = (base * (used - target) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR).max(1);
        base.saturating_add(step)
    } else {
        base - base * (target - used) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR
    };
    u64::try_from(next).unwrap_or(u64::MAX).max(p.min_base_fee)
}

/// What `tx` pays in a block with `base_fee`: its weight's fee plus its tip.
pub fn charge(base_fee: u64, tx: &Transaction) -> u64 {
    charge_weighed(base_fee, tx, tx.weight())
}

/// [`charge`] for a transaction whose weight is already known.
fn charge_weighed(base_fee: u64, tx: &Transaction, weight: u64) -> u64 {
    fee_for(base_fee, weight).saturating_add(tx.tip)
}

/// Who pays a transaction's fee: a device's reports are paid by its owner (a device key holds
/// no money), everything else by its signer.
pub fn payer<S: StateRead>(state: &S, signer: &Address) -> Address {
    state
        .device_entry(signer)
        .map_or(*signer, |entry| entry.owner)
}

/// A transaction fee checked and ready to be paid.
#[derive(Clone, Copy, Debug)]
pub struct TxFee {
    pub payer: Address,
    /// Fee units charged: the base fee times the weight, plus the tip.
    pub fee: u64,
    plan: FeePlan,
}

/// Checks that `tx` offers at least the fee `base_fee` asks for its weight and that its payer
/// can pay it, changing nothing. Runs at the mempool's door (on a snapshot) and at execution.
pub fn plan_tx<S: StateRead>(
    state: &S,
    tx: &Transaction,
    base_fee: u64,
    now_ms: u64,
) -> Result<TxFee, Rejection> {
    plan_tx_weighed(state, tx, tx.weight(), base_fee, now_ms)
}

/// [`plan_tx`] for a transaction whose weight is already known (execution weighs a block's
/// transactions once, for its limits, their fees and the next base fee).
pub fn plan_tx_weighed<S: StateRead>(
    state: &S,
    tx: &Transaction,
    weight: u64,
    base_fee: u64,
    now_ms: u64,
) -> Result<TxFee, Rejection> {
    let p = &state.params().fees;
    if weight > p.max_block_weight {
        return Err(Rejection::TooHeavy {
            weight,
            max: p.max_block_weight,
        });
    }
    let fee = charge_weighed(base_fee, tx, weight);
    if tx.max_fee < fee {
        return Err(Rejection::FeeTooLow {
            offered: tx.max_fee,
            needed: fee,
        });
    }
    let payer = payer(state, &tx.signer);
    let unpaid = Rejection::FeeUnpaid { payer, fee };
    let plan = if state.params().modules.demand.is_some() {
        let credits = u128::from(fee);
        let fallback = Some(p.fallback_price);
        let plan = demand::verify::plan_fee_at(state, &payer, credits, now_ms, fallback);
        FeePlan::Credits(plan.map_err(|_| unpaid)?)
    } else {
        let tokens = Amount(u128::from(fee));
        let balance = state
            .read_account(&payer)
            .map(|a| a.balance)
            .unwrap_or_default();
        if balance < tokens {
            return Err(unpaid);
        }
        FeePlan::Tokens(tokens)
    };
    Ok(TxFee { payer, fee, plan })
}

/// How many fee units `payer` could pay in all now: the credits it holds plus what its tokens
/// would buy (at the oracle's minting price, or the fallback price), or its tokens on a network
/// without demand. The mempool keeps what a payer's pending transactions may cost within this,
/// so that one funded key cannot queue many transactions of which only the first can pay.
pub fn capacity<S: StateRead>(state: &S, payer: &Address, now_ms: u64) -> u64 {
    let tokens = state
        .read_account(payer)
        .map(|a| a.balance)
        .unwrap_or_default();
    let params = state.params();
    let units = match &params.modules.demand {
        None => tokens.0,
        Some(market) => {
            let held = state.credits(payer).unwrap_or_default().own;
            let price = demand::verify::minting_quote(state, market, now_ms)
                .map_or(params.fees.fallback_price, |q| q.minting);
            let bought = crate::economics::credits_for_burn(
                tokens,
                price,
                params.decimals,
                market.credit_peg,
            )
            .unwrap_or(u128::MAX);
            held.saturating_add(bought)
        }
    };
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// Pays a fee checked by [`plan_tx`] (burned, in credits or tokens).
pub fn pay_tx(state: &mut State, fee: TxFee, ctx: BlockContext) -> Result<(), Rejection> {
    pay(state, &fee.payer, fee.plan, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_rounds_up_to_a_whole_unit() {
        assert_eq!(fee_for(10_000, 377), 4);
        assert_eq!(fee_for(10_000, 400), 4);
        assert_eq!(fee_for(10_000, 401), 5);
        assert_eq!(fee_for(1, 1), 1);
        assert_eq!(fee_for(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn the_base_fee_follows_fullness_and_never_falls_below_the_minimum() {
        let p = FeeParams::default();
        let min = p.min_base_fee;
        let full = p.max_block_weight;
        let target = full / 2;
        assert_eq!(next_base_fee(&p, min, target), min, "half full: unchanged");
        assert_eq!(next_base_fee(&p, min, full), min + min / 8, "full: +1/8");
        assert_eq!(
            next_base_fee(&p, min, 0),
            min,
            "empty: never below the minimum"
        );
        assert_eq!(
            next_base_fee(&p, 2 * min, 0),
            2 * min - 2 * min / 8,
            "empty: -1/8"
        );
        // A flood doubles it in six full blocks and pays 1,000 times the minimum within a
        // minute of one-second blocks; it falls back to the minimum once blocks empty.
        let mut base = min;
        let mut blocks = 0;
        while base < 2 * min {
            base = next_base_fee(&p, base, full);
            blocks += 1;
        }
        assert_eq!(blocks, 6);
        for _ in 6..60 {
            base = next_base_fee(&p, base, full);
        }
        assert!(base > 1_000 * min, "{base}");
        let mut after = 0;
        while base > min {
            base = next_base_fee(&p, base, 0);
            after += 1;
        }
        assert!(after < 70, "{after} empty blocks back to the minimum");
        // The smallest step still moves it.
        let tiny = FeeParams {
            min_base_fee: 1,
            ..FeeParams::default()
        };
        assert_eq!(next_base_fee(&tiny, 1, target + 1), 2);
    }

    #[test]
    fn the_fee_section_is_checked() {
        let bad = |edit: fn(&mut FeesGenesis)| {
            let mut g = FeesGenesis::default();
            edit(&mut g);
            g.params().unwrap_err().0
        };
        assert_eq!(bad(|g| g.min_base_fee = 0), "fees.min_base_fee");
        assert_eq!(bad(|g| g.max_block_weight = 100), "fees.max_block_weight");
        assert_eq!(bad(|g| g.max_block_bytes = 100), "fees.max_block_bytes");
        assert_eq!(
            bad(|g| g.fallback_price = "0".into()),
            "fees.fallback_price"
        );
        assert_eq!(
            bad(|g| g.fallback_price = "cheap".into()),
            "fees.fallback_price"
        );
        assert!(FeesGenesis::default().params().is_ok());
    }
}
