//! What the demand module keeps in the state (oracle prices, credit balances, receipt marks,
//! per-device usage, per-epoch tallies), the layout of its keys, and the oracle's quote.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::economics::{OraclePrice, TokenPrice, oracle_price};
use crate::module::{Module, address_suffix, module_key};
use crate::state::StateRead;

use super::Demand;

use super::params::{MAX_CLOCK_SKEW_MS, MarketParams};

/// An oracle's latest accepted price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceReport {
    pub price: TokenPrice,
    pub observed_at_ms: u64,
    /// Height of the block that accepted it.
    pub height: u64,
}

impl PriceReport {
    /// Whether the price counts toward the quote at `now_ms`: observed within the window before
    /// it, and not after it by more than the clock skew.
    pub fn is_fresh(&self, p: &MarketParams, now_ms: u64) -> bool {
        self.observed_at_ms.saturating_add(p.price_window_ms) >= now_ms
            && self.observed_at_ms <= now_ms.saturating_add(MAX_CLOCK_SKEW_MS)
    }
}

/// An authorised oracle (the key exists only while it is authorised) and its latest price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleRecord {
    pub latest: Option<PriceReport>,
}

/// An account's credits. Credits never move between accounts except by delegation, and
/// delegated credits can only be spent on data transfer.
///
/// Each bucket keeps its cost basis: the tokens burned for the credits it holds. Spending or
/// delegating credits takes their share of it (rounded down, and all of it when the bucket
/// empties), so the cost carried to a device's traffic never exceeds what was burned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditBalance {
    /// Credits this account bought (or was bought) and still holds: spendable on fees, data,
    /// or delegation.
    #[serde(with = "crate::amount::u128_string")]
    pub own: u128,
    /// Credits others delegated to this account and it has not spent: data transfer only.
    #[serde(with = "crate::amount::u128_string")]
    pub delegated: u128,
    /// Ever bought for this account.
    #[serde(with = "crate::amount::u128_string")]
    pub bought: u128,
    /// Ever delegated to others.
    #[serde(with = "crate::amount::u128_string")]
    pub delegated_out: u128,
    /// Ever spent on data transfer as a payer.
    #[serde(with = "crate::amount::u128_string")]
    pub spent_on_data: u128,
    /// Ever spent on onboarding and location fees.
    #[serde(with = "crate::amount::u128_string")]
    pub spent_on_fees: u128,
    /// Tokens burned for the `own` credits still held (their cost basis).
    pub own_cost: Amount,
    /// Tokens burned for the `delegated` credits still held.
    pub delegated_cost: Amount,
}

impl CreditBalance {
    /// What a payer can spend on data transfer.
    pub fn spendable_on_data(&self) -> u128 {
        self.own + self.delegated
    }
}

/// The share of `cost` that `take` of `held` credits carry: pro rata, rounded down, and the
/// whole cost when all are taken (so no cost is left behind an empty bucket).
pub fn cost_share(cost: Amount, take: u128, held: u128) -> Amount {
    if take >= held {
        return cost;
    }
    Amount(crate::economics::mul_div_floor(cost.0, take, held))
}

/// The last receipt accepted for a (payer, device) pair: the next must start at or after its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptMark {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The traffic a device carried in one epoch and the credits burned for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceUsage {
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
    pub packets: u64,
    pub bytes: u64,
    pub receipts: u64,
    /// Tokens burned to buy those credits (their cost basis, spent in proportion).
    pub token_cost: Amount,
}

/// Credit flows of one epoch so far (folded into the epoch summary when it closes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochTally {
    /// Tokens burned for credits (purchases and fees paid in tokens).
    pub tokens_burned: Amount,
    #[serde(with = "crate::amount::u128_string")]
    pub credits_bought: u128,
    /// Credits burned for data transfer.
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_data: u128,
    /// Credits burned for fees.
    #[serde(with = "crate::amount::u128_string")]
    pub credits_on_fees: u128,
    pub receipts: u64,
}

const ORACLE: u8 = 0;
const CREDITS: u8 = 1;
const DELEGATION: u8 = 2;
const RECEIPT_MARK: u8 = 3;
const USAGE: u8 = 4;
const TALLY: u8 = 5;

/// Prefix of the oracle table.
pub fn oracle_prefix() -> Vec<u8> {
    module_key(Demand::ID, ORACLE, &[])
}

/// Prefix of the delegations `owner` made.
pub fn delegation_prefix(owner: &Address) -> Vec<u8> {
    module_key(Demand::ID, DELEGATION, &[&owner.0])
}

/// The usage table's keys of `epoch` (from, to).
pub fn usage_range(epoch: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Demand::ID, USAGE, &[&epoch.to_be_bytes()]),
        module_key(Demand::ID, USAGE, &[&(epoch + 1).to_be_bytes()]),
    )
}

pub fn oracle_key(oracle: &Address) -> Vec<u8> {
    module_key(Demand::ID, ORACLE, &[&oracle.0])
}

pub fn credits_key(account: &Address) -> Vec<u8> {
    module_key(Demand::ID, CREDITS, &[&account.0])
}

pub fn delegation_key(owner: &Address, payer: &Address) -> Vec<u8> {
    module_key(Demand::ID, DELEGATION, &[&owner.0, &payer.0])
}

pub fn receipt_mark_key(payer: &Address, device: &Address) -> Vec<u8> {
    module_key(Demand::ID, RECEIPT_MARK, &[&payer.0, &device.0])
}

pub fn usage_key(epoch: u64, device: &Address) -> Vec<u8> {
    module_key(Demand::ID, USAGE, &[&epoch.to_be_bytes(), &device.0])
}

pub fn tally_key(epoch: u64) -> Vec<u8> {
    module_key(Demand::ID, TALLY, &[&epoch.to_be_bytes()])
}

/// Read access to demand records, in the executing state or a store snapshot.
pub trait DemandView {
    fn credits(&self, account: &Address) -> Option<CreditBalance>;
    fn usage(&self, epoch: u64, device: &Address) -> Option<DeviceUsage>;
    fn tally(&self, epoch: u64) -> EpochTally;
    /// Authorised oracles with their latest price, in address order, at most `limit`.
    fn oracles(&self, limit: usize) -> Vec<(Address, OracleRecord)>;
    /// The payers `owner` delegated credits to, with the credits delegated so far, in address
    /// order, at most `limit`.
    fn delegations(&self, owner: &Address, limit: usize) -> Vec<(Address, u128)>;
    /// The ledger's price at `now_ms`: the median of the fresh prices and the conservative
    /// minting price, or `None` if fewer than the quorum are fresh.
    fn quote(&self, now_ms: u64) -> Option<OraclePrice>;
}

impl<S: StateRead> DemandView for S {
    fn credits(&self, account: &Address) -> Option<CreditBalance> {
        self.get(&credits_key(account))
    }

    fn usage(&self, epoch: u64, device: &Address) -> Option<DeviceUsage> {
        self.get(&usage_key(epoch, device))
    }

    fn tally(&self, epoch: u64) -> EpochTally {
        self.get(&tally_key(epoch)).unwrap_or_default()
    }

    fn oracles(&self, limit: usize) -> Vec<(Address, OracleRecord)> {
        by_address(self.scan_prefix(&oracle_prefix(), limit))
    }

    fn delegations(&self, owner: &Address, limit: usize) -> Vec<(Address, u128)> {
        by_address(self.scan_prefix(&delegation_prefix(owner), limit))
    }

    fn quote(&self, now_ms: u64) -> Option<OraclePrice> {
        let p = self.params().modules.demand.as_ref()?;
        quote_from(p, self.oracles(usize::MAX).iter().map(|(_, o)| o), now_ms)
    }
}

/// Entries decoded, each with the address its key ends in.
fn by_address<T: crate::codec::Decode>(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Address, T)> {
    entries
        .into_iter()
        .map(|(k, v)| {
            (
                address_suffix(&k),
                T::from_bytes(&v).expect("the ledger wrote it"),
            )
        })
        .collect()
}

/// The quote over oracle records: prices observed within the window before `now_ms`.
pub fn quote_from<'a>(
    p: &MarketParams,
    oracles: impl Iterator<Item = &'a OracleRecord>,
    now_ms: u64,
) -> Option<OraclePrice> {
    let fresh: Vec<TokenPrice> = oracles
        .filter_map(|o| o.latest)
        .filter(|r| r.is_fresh(p, now_ms))
        .map(|r| r.price)
        .collect();
    if fresh.len() < p.min_oracle_prices as usize {
        return None;
    }
    oracle_price(&fresh)
}

struct_codec!(PriceReport {
    price: TokenPrice,
    observed_at_ms: u64,
    height: u64,
});
struct_codec!(OracleRecord {
    latest: Option<PriceReport>,
});
struct_codec!(CreditBalance {
    own: u128,
    delegated: u128,
    bought: u128,
    delegated_out: u128,
    spent_on_data: u128,
    spent_on_fees: u128,
    own_cost: Amount,
    delegated_cost: Amount,
});
struct_codec!(ReceiptMark {
    start_ms: u64,
    end_ms: u64,
});
struct_codec!(DeviceUsage {
    credits: u128,
    packets: u64,
    bytes: u64,
    receipts: u64,
    token_cost: Amount,
});
struct_codec!(EpochTally {
    tokens_burned: Amount,
    credits_bought: u128,
    credits_on_data: u128,
    credits_on_fees: u128,
    receipts: u64,
});
