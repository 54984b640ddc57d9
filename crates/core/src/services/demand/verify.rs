//! Every check of the demand module, and the state change each action makes once it passes.
//!
//! Each handler checks everything before it writes anything, so a refused action leaves the
//! state as it was (apart from the signer's nonce, which the executor has already used up): a
//! refused receipt charges nobody, a refused purchase burns nothing.

use std::sync::Arc;

use crate::amount::Amount;
use crate::crypto::{self, Address};
use crate::economics::{OraclePrice, TokenPrice, credits_for_burn, tokens_for_credits};
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::authority::check_emergency_key;
use crate::services::devices::{self, DeviceRejection};
use crate::state::{State, StateRead};

use super::actions::{BuyCredits, DelegateCredits, SetOracle, SubmitPrice, UsageReceipt};
use super::params::{MAX_CLOCK_SKEW_MS, MarketParams};
use super::records::{
    CreditBalance, DemandView, DeviceUsage, EpochTally, OracleRecord, PriceReport, ReceiptMark,
    cost_share, credits_key, delegation_key, oracle_key, receipt_mark_key, tally_key, usage_key,
};
use super::reject::DemandRejection as R;

fn params(state: &State) -> Result<Arc<MarketParams>, Rejection> {
    state
        .params()
        .modules
        .demand
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: super::Demand::ID,
        })
}

fn update_tally(state: &mut State, ctx: BlockContext, f: impl FnOnce(&mut EpochTally)) {
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    let mut tally = state.tally(epoch);
    f(&mut tally);
    state.put(tally_key(epoch), &tally);
}

/// Records an oracle's price.
pub fn submit_price(
    state: &mut State,
    signer: &Address,
    a: &SubmitPrice,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let Some(record) = state.get::<OracleRecord>(&oracle_key(signer)) else {
        return Err(R::NotOracle { signer: *signer }.into());
    };
    if a.price.0 == 0 {
        return Err(R::ZeroPrice {}.into());
    }
    if a.observed_at_ms > ctx.time_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(R::PriceFromFuture {
            ahead_ms: a.observed_at_ms - ctx.time_ms,
        }
        .into());
    }
    let age_ms = ctx.time_ms.saturating_sub(a.observed_at_ms);
    if age_ms > p.price_max_age_ms {
        return Err(R::StalePrice {
            age_ms,
            max_ms: p.price_max_age_ms,
        }
        .into());
    }
    if let Some(last) = record.latest
        && a.observed_at_ms <= last.observed_at_ms
    {
        return Err(R::PriceNotNewer {
            last_observed_ms: last.observed_at_ms,
        }
        .into());
    }
    let price = bounded_move(state, &p, record.latest, a.price, ctx.time_ms);
    state.put(
        oracle_key(signer),
        &OracleRecord {
            latest: Some(PriceReport {
                price,
                observed_at_ms: a.observed_at_ms,
                height: ctx.height,
            }),
        },
    );
    Ok(())
}

/// `price` held within `max_price_move_bps` of the oracle's own latest fresh price, or of the
/// current median when it has none (a new or returning oracle): one report, however wild
/// (`u64::MAX`), moves its oracle's price, and so the median, by at most that much.
///
/// The bound follows the oracle's own price, not the median, so that colluders who hold the
/// median cannot drag honest reports toward it: an honest oracle's price stays what it reports,
/// and the circuit breaker ([`minting_quote`]) sees the disagreement (issue 12; a ring of two of
/// three oracles walked the median 10% a block while it was the reference).
fn bounded_move(
    state: &State,
    p: &MarketParams,
    own: Option<PriceReport>,
    price: TokenPrice,
    now_ms: u64,
) -> TokenPrice {
    if p.max_price_move_bps == 0 {
        return price;
    }
    let reference = match own.filter(|r| r.is_fresh(p, now_ms)) {
        Some(r) => r.price,
        None => match state.quote(now_ms) {
            Some(q) => q.median,
            None => return price,
        },
    };
    let reference = u128::from(reference.0);
    let bps = u128::from(p.max_price_move_bps);
    let low = reference * (10_000 - bps) / 10_000;
    let high = reference * (10_000 + bps) / 10_000;
    let bounded = u128::from(price.0).clamp(low.max(1), high);
    TokenPrice(u64::try_from(bounded).unwrap_or(u64::MAX))
}

/// How many fresh prices at each end the circuit breaker leaves out of its spread: the most
/// liars `n` oracles tolerate (`(n - 1) / 3`, fewer than a third), so that so few cannot stop
/// minting by lying alone, while any larger disagreement does stop it. With three oracles
/// none is left out: one liar of three can stop minting (fail-safe: nothing is minted at a
/// price in dispute) until governance removes it.
pub fn breaker_trim(fresh: usize) -> usize {
    fresh.saturating_sub(1) / 3
}

/// The quote credits may be minted at: there is one, and the fresh prices (less the
/// [`breaker_trim`] highest and lowest) agree within `max_price_spread_bps` of their median (the
/// circuit breaker).
pub fn minting_quote<S: StateRead>(
    state: &S,
    p: &MarketParams,
    now_ms: u64,
) -> Result<OraclePrice, R> {
    let quote = state.quote(now_ms).ok_or(R::NoOraclePrice {})?;
    if p.max_price_spread_bps > 0 {
        let fresh = || {
            state
                .oracles(usize::MAX)
                .into_iter()
                .filter_map(|(_, o)| o.latest)
                .filter(|r| r.is_fresh(p, now_ms))
                .map(|r| u128::from(r.price.0))
        };
        let mut prices: Vec<u128> = fresh().collect();
        prices.sort_unstable();
        let trim = breaker_trim(prices.len());
        let kept = &prices[trim..prices.len() - trim];
        let (low, high) = (
            kept.first().copied().unwrap_or(0),
            kept.last().copied().unwrap_or(0),
        );
        // Rounded up, so that a spread a hair over the bound is over it.
        let spread = ((high - low) * 10_000).div_ceil(u128::from(quote.median.0).max(1));
        let spread_bps = u64::try_from(spread).unwrap_or(u64::MAX);
        if spread_bps > u64::from(p.max_price_spread_bps) {
            return Err(R::PriceUnreliable {
                spread_bps,
                max_bps: p.max_price_spread_bps,
            });
        }
    }
    Ok(quote)
}

/// Adds or removes an oracle (the emergency key only; otherwise an `oracle_set` proposal).
pub fn set_oracle(state: &mut State, signer: &Address, a: &SetOracle) -> Result<(), Rejection> {
    params(state)?;
    check_emergency_key(state, signer)?;
    apply_oracle(state, &a.oracle, a.authorised);
    Ok(())
}

/// Adds `oracle` to the oracle set or removes it (the emergency key's action, or a passed
/// governance proposal); nothing changes if it is already as asked.
pub fn apply_oracle(state: &mut State, oracle: &Address, authorised: bool) {
    state.with_writer(super::Demand::ID, |state| {
        let key = oracle_key(oracle);
        match (authorised, state.contains(&key)) {
            (true, false) => {
                state.put(key, &OracleRecord::default());
                // The oracle signs its own transactions, so it needs an account for its nonce.
                if state.account(oracle).is_none() {
                    state.put_account(*oracle, Default::default());
                }
            }
            (false, true) => state.put_raw(key, None),
            // Already as asked: nothing to change.
            _ => {}
        }
    });
}

/// What a burn of tokens buys right now.
fn quote_burn(state: &State, tokens: Amount, ctx: BlockContext) -> Result<u128, Rejection> {
    let p = params(state)?;
    let quote = minting_quote(state, &p, ctx.time_ms)?;
    let credits = credits_for_burn(tokens, quote.minting, state.params().decimals, p.credit_peg)
        .map_err(|_| R::CostOverflow {})?;
    Ok(credits)
}

/// Takes `tokens` from `payer` and burns them (supply falls), recording the epoch's burn.
fn burn_tokens(
    state: &mut State,
    payer: &Address,
    tokens: Amount,
    credits: u128,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let mut account = state.account(payer).copied().unwrap_or_default();
    account.balance = account
        .balance
        .checked_sub(tokens)
        .ok_or(Rejection::InsufficientFunds {
            balance: account.balance,
            needed: tokens,
        })?;
    state.put_account(*payer, account);
    state.burn_supply(tokens);
    update_tally(state, ctx, |t| {
        t.tokens_burned = t.tokens_burned.checked_add(tokens).expect("<= supply");
        t.credits_bought += credits;
    });
    Ok(())
}

fn balance(state: &State, account: &Address) -> CreditBalance {
    state.credits(account).unwrap_or_default()
}

/// Burns tokens for credits at the minting price.
pub fn buy_credits(
    state: &mut State,
    signer: &Address,
    a: &BuyCredits,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    params(state)?;
    if a.tokens.is_zero() {
        return Err(Rejection::ZeroAmount);
    }
    let held = state.account(signer).map(|x| x.balance).unwrap_or_default();
    if held < a.tokens {
        return Err(Rejection::InsufficientFunds {
            balance: held,
            needed: a.tokens,
        });
    }
    let credits = quote_burn(state, a.tokens, ctx)?;
    if credits == 0 {
        return Err(R::BurnTooSmall {}.into());
    }
    if credits < a.min_credits {
        return Err(R::BelowMinimum {
            credits,
            min_credits: a.min_credits,
        }
        .into());
    }
    let mut to = balance(state, &a.to);
    to.own = to.own.checked_add(credits).ok_or(R::CostOverflow {})?;
    to.bought = to.bought.saturating_add(credits);
    to.own_cost = to.own_cost.checked_add(a.tokens).expect("<= supply");
    burn_tokens(state, signer, a.tokens, credits, ctx)?;
    state.put(credits_key(&a.to), &to);
    Ok(())
}

/// Moves credits the signer holds to a payer's delegated balance.
pub fn delegate_credits(
    state: &mut State,
    signer: &Address,
    a: &DelegateCredits,
) -> Result<(), Rejection> {
    params(state)?;
    if a.credits == 0 {
        return Err(Rejection::ZeroAmount);
    }
    if a.payer == *signer {
        return Err(R::DelegateToSelf {}.into());
    }
    let mut from = balance(state, signer);
    if from.own < a.credits {
        return Err(R::InsufficientCredits {
            balance: from.own,
            needed: a.credits,
        }
        .into());
    }
    let mut to = balance(state, &a.payer);
    to.delegated = to
        .delegated
        .checked_add(a.credits)
        .ok_or(R::CostOverflow {})?;
    let cost = cost_share(from.own_cost, a.credits, from.own);
    to.delegated_cost = to.delegated_cost.checked_add(cost).expect("<= supply");
    from.own_cost = from.own_cost.checked_sub(cost).expect("a share of it");
    from.own -= a.credits;
    from.delegated_out = from.delegated_out.saturating_add(a.credits);
    let key = delegation_key(signer, &a.payer);
    let total: u128 = state.get(&key).unwrap_or(0);
    state.put(key, &total.saturating_add(a.credits));
    state.put(credits_key(signer), &from);
    state.put(credits_key(&a.payer), &to);
    Ok(())
}

/// Settles a co-signed usage receipt: the payer's credits are burned and counted for the device.
/// `co_signed`: both signatures were already found valid (checked in a batch for the whole block);
/// if not, they are checked here one by one to say which is bad.
pub fn usage(
    state: &mut State,
    a: &UsageReceipt,
    co_signed: bool,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    if a.packets == 0 && a.bytes == 0 {
        return Err(R::EmptyReceipt {}.into());
    }
    if a.end_ms <= a.start_ms {
        return Err(R::BadPeriod {}.into());
    }
    if a.end_ms > ctx.time_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(R::PeriodInFuture {
            ahead_ms: a.end_ms - ctx.time_ms,
        }
        .into());
    }
    let age_ms = ctx.time_ms.saturating_sub(a.end_ms);
    if age_ms > p.receipt_max_age_ms {
        return Err(R::ReceiptTooOld {
            age_ms,
            max_ms: p.receipt_max_age_ms,
        }
        .into());
    }
    devices::usable(state, &a.device)?;
    let Some(mut payer) = state.credits(&a.payer) else {
        return Err(R::UnknownPayer { payer: a.payer }.into());
    };
    if !co_signed {
        let message = a.message(&state.params().chain_id);
        if !crypto::verify(&a.payer, &message, &a.payer_signature) {
            return Err(R::BadPayerSignature {}.into());
        }
        if !crypto::verify(&a.device, &message, &a.device_signature) {
            return Err(DeviceRejection::BadDeviceSignature {}.into());
        }
    }
    let mark_key = receipt_mark_key(&a.payer, &a.device);
    if let Some(last) = state.get::<ReceiptMark>(&mark_key) {
        if (last.start_ms, last.end_ms) == (a.start_ms, a.end_ms) {
            return Err(R::DuplicateReceipt {}.into());
        }
        if a.start_ms < last.end_ms {
            return Err(R::PeriodOverlap {
                last_end_ms: last.end_ms,
            }
            .into());
        }
    }
    let cost = p
        .receipt_cost(a.packets, a.bytes)
        .ok_or(R::CostOverflow {})?;
    if payer.spendable_on_data() < cost {
        return Err(R::InsufficientCredits {
            balance: payer.spendable_on_data(),
            needed: cost,
        }
        .into());
    }
    // Delegated credits can do nothing else, so they go first.
    let from_delegated = cost.min(payer.delegated);
    let from_own = cost - from_delegated;
    let cost_delegated = cost_share(payer.delegated_cost, from_delegated, payer.delegated);
    let cost_own = cost_share(payer.own_cost, from_own, payer.own);
    payer.delegated -= from_delegated;
    payer.own -= from_own;
    payer.delegated_cost = payer
        .delegated_cost
        .checked_sub(cost_delegated)
        .expect("a share");
    payer.own_cost = payer.own_cost.checked_sub(cost_own).expect("a share");
    payer.spent_on_data = payer.spent_on_data.saturating_add(cost);
    state.put(credits_key(&a.payer), &payer);
    state.put(
        mark_key,
        &ReceiptMark {
            start_ms: a.start_ms,
            end_ms: a.end_ms,
        },
    );
    let epoch = ctx.epoch(state.params().epoch_length_blocks);
    let key = usage_key(epoch, &a.device);
    let mut used: DeviceUsage = state.get(&key).unwrap_or_default();
    used.credits += cost;
    used.packets = used.packets.saturating_add(a.packets);
    used.bytes = used.bytes.saturating_add(a.bytes);
    used.receipts += 1;
    used.token_cost = used
        .token_cost
        .checked_add(cost_delegated)
        .and_then(|c| c.checked_add(cost_own))
        .expect("<= supply");
    state.put(key, &used);
    update_tally(state, ctx, |t| {
        t.credits_on_data += cost;
        t.receipts += 1;
    });
    Ok(())
}

/// How a fee in credits will be paid: from credits the owner holds, and the shortfall by burning
/// tokens at the minting price (as a wallet would buy them first, in one step).
#[derive(Clone, Copy, Debug)]
pub struct FeePlan {
    fee: u128,
    tokens: Amount,
    bought: u128,
}

impl FeePlan {
    /// Tokens the fee will take from the payer (to buy the credits it lacks).
    pub fn tokens(&self) -> Amount {
        self.tokens
    }
}

/// Checks that `owner` can pay a fee of `fee` credits, without changing anything.
pub fn plan_fee(
    state: &State,
    owner: &Address,
    fee: u128,
    ctx: BlockContext,
) -> Result<FeePlan, Rejection> {
    plan_fee_at(state, owner, fee, ctx.time_ms, None)
}

/// [`plan_fee`] over any reader of the state (the mempool checks fees against a snapshot), with
/// `fallback` as the minting price when the oracle has no fresh quote (transaction fees must be
/// payable even then; other fees are refused without a price).
pub fn plan_fee_at<S: StateRead>(
    state: &S,
    owner: &Address,
    fee: u128,
    now_ms: u64,
    fallback: Option<TokenPrice>,
) -> Result<FeePlan, Rejection> {
    let p = state
        .params()
        .modules
        .demand
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: super::Demand::ID,
        })?;
    let held = state.credits(owner).unwrap_or_default().own;
    if held >= fee {
        return Ok(FeePlan {
            fee,
            tokens: Amount::ZERO,
            bought: 0,
        });
    }
    let shortfall = fee - held;
    // Without a price (or with one the breaker finds unreliable) a transaction's fee may still
    // be bought at the fallback price; any other fee is refused.
    let price = match (minting_quote(state, &p, now_ms), fallback) {
        (Ok(q), _) => q.minting,
        (Err(_), Some(fallback)) => fallback,
        (Err(R::NoOraclePrice {}), None) => {
            return Err(R::InsufficientCredits {
                balance: held,
                needed: fee,
            }
            .into());
        }
        (Err(e), None) => return Err(e.into()),
    };
    let decimals = state.params().decimals;
    let tokens = tokens_for_credits(shortfall, price, decimals, p.credit_peg)
        .map_err(|_| R::CostOverflow {})?;
    let bought =
        credits_for_burn(tokens, price, decimals, p.credit_peg).map_err(|_| R::CostOverflow {})?;
    let have = state
        .read_account(owner)
        .map(|a| a.balance)
        .unwrap_or_default();
    if have < tokens {
        return Err(Rejection::InsufficientFunds {
            balance: have,
            needed: tokens,
        });
    }
    Ok(FeePlan {
        fee,
        tokens,
        bought,
    })
}

/// Pays a fee planned by [`plan_fee`]: the credits are burned (they were bought with burned
/// tokens, so supply already fell).
pub fn pay_fee(
    state: &mut State,
    owner: &Address,
    plan: FeePlan,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    if plan.fee == 0 {
        return Ok(());
    }
    let mut credits = balance(state, owner);
    if !plan.tokens.is_zero() {
        burn_tokens(state, owner, plan.tokens, plan.bought, ctx)?;
        credits.own += plan.bought;
        credits.bought = credits.bought.saturating_add(plan.bought);
        credits.own_cost = credits
            .own_cost
            .checked_add(plan.tokens)
            .expect("<= supply");
    }
    let cost = cost_share(credits.own_cost, plan.fee, credits.own);
    credits.own_cost = credits.own_cost.checked_sub(cost).expect("a share");
    credits.own -= plan.fee;
    credits.spent_on_fees = credits.spent_on_fees.saturating_add(plan.fee);
    state.put(credits_key(owner), &credits);
    update_tally(state, ctx, |t| t.credits_on_fees += plan.fee);
    Ok(())
}
