//! Burn-and-mint credits: users burn tokens at the oracle price for non-transferable credits
//! pegged to USD, so the price of service does not swing with the token.
//!
//! Prices are fixed point: [`TokenPrice`] is USD per whole token with [`PRICE_DECIMALS`] (8)
//! decimals, the form price oracles publish (`$0.51` is `51_000_000`); a [`CreditPeg`] is the USD
//! value of one credit in the same unit (Helium's `$0.00001` is `1_000`). Every conversion rounds
//! in the network's favour: a burn never buys more credits than it paid for, and a purchase of
//! credits never costs fewer tokens than they are worth.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::payout::{BPS_DENOMINATOR, mul_div_floor};
use crate::amount::{Amount, MAX_DECIMALS};

/// Decimals of USD in [`TokenPrice`] and [`CreditPeg`].
pub const PRICE_DECIMALS: u8 = 8;

/// Fixed-point units per US dollar (`10^PRICE_DECIMALS`).
pub const USD_SCALE: u64 = 100_000_000;

/// USD per whole token, in units of 10^-8 USD.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct TokenPrice(pub u64);

impl TokenPrice {
    /// Parses a USD decimal such as `0.51` (at most 8 decimals).
    pub fn parse(text: &str) -> Result<TokenPrice, CreditError> {
        usd_fixed(text).map(TokenPrice)
    }

    /// Dollars as a float, for display and simulation outside the ledger.
    pub fn as_usd_f64(self) -> f64 {
        self.0 as f64 / USD_SCALE as f64
    }

    /// The price as an exact, trimmed USD decimal: `50_000_000` is `"0.5"`.
    pub fn usd_text(self) -> String {
        usd_text(u128::from(self.0))
    }
}

/// USD with 8 decimals (as prices and pegs keep it) as an exact, trimmed decimal string.
pub fn usd_text(units: u128) -> String {
    Amount(units).display(PRICE_DECIMALS)
}

/// USD value of one credit, in units of 10^-8 USD; never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CreditPeg(pub u64);

impl CreditPeg {
    /// One credit is worth $0.00001, as Helium's Data Credits.
    pub const HUNDRED_THOUSANDTH_USD: CreditPeg = CreditPeg(1_000);

    /// Parses the USD value of one credit, such as `0.00001` (at most 8 decimals, above zero).
    pub fn parse(text: &str) -> Result<CreditPeg, CreditError> {
        match usd_fixed(text)? {
            0 => Err(CreditError::ZeroPeg),
            v => Ok(CreditPeg(v)),
        }
    }

    /// What `credits` are worth at the peg, USD with 8 decimals (`None` past 128 bits).
    pub fn usd_units(self, credits: u128) -> Option<u128> {
        credits.checked_mul(u128::from(self.0))
    }

    /// What `credits` are worth at the peg, as an exact USD decimal (`"40"`, `"0.085"`).
    pub fn usd_text(self, credits: u128) -> Option<String> {
        self.usd_units(credits).map(usd_text)
    }
}

/// Why a conversion between tokens and credits cannot be made.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CreditError {
    #[error("the token price is zero: no oracle price is available to convert at")]
    ZeroPrice,
    #[error("the credit peg is zero: a credit must be worth some USD")]
    ZeroPeg,
    #[error("token decimals {0} exceed the maximum of {MAX_DECIMALS}")]
    Decimals(u8),
    #[error("the conversion overflows 128 bits")]
    Overflow,
    #[error("'{0}' is not a USD amount: write digits with at most 8 decimals, e.g. 0.00001")]
    Usd(String),
}

fn usd_fixed(text: &str) -> Result<u64, CreditError> {
    Amount::parse(text, PRICE_DECIMALS)
        .ok()
        .and_then(|a| u64::try_from(a.0).ok())
        .ok_or_else(|| CreditError::Usd(text.to_string()))
}

/// `a * b / c` rounded down or up, for any `b` (not only `b <= c`), or `None` past a u128.
///
/// With `b = bq * c + br`: `a * b / c = a * bq + a * br / c`, and `a * br / c` is exact in
/// 256 bits by `mul_div_floor` (`br < c`). The remainder `a * br mod c` is below `c`, so computing
/// it with wrapping u128 arithmetic gives it exactly.
fn mul_div(a: u128, b: u128, c: u128, round_up: bool) -> Option<u128> {
    let (bq, br) = (b / c, b % c);
    let low = mul_div_floor(a, br, c);
    let floor = a.checked_mul(bq)?.checked_add(low)?;
    if !round_up {
        return Some(floor);
    }
    let rem = a.wrapping_mul(br).wrapping_sub(low.wrapping_mul(c));
    floor.checked_add(u128::from(rem != 0))
}

/// Fixed-point USD units (10^-8) per credit times base units per token: the divisor that turns
/// `tokens * price` into credits.
fn credit_denominator(token_decimals: u8, peg: CreditPeg) -> Result<u128, CreditError> {
    if token_decimals > MAX_DECIMALS {
        return Err(CreditError::Decimals(token_decimals));
    }
    if peg.0 == 0 {
        return Err(CreditError::ZeroPeg);
    }
    10u128
        .pow(u32::from(token_decimals))
        .checked_mul(u128::from(peg.0))
        .ok_or(CreditError::Overflow)
}

/// Credits bought by burning `tokens` (base units) at `price`:
/// `floor(tokens * price / (10^decimals * peg))`, never more than was paid for.
pub fn credits_for_burn(
    tokens: Amount,
    price: TokenPrice,
    token_decimals: u8,
    peg: CreditPeg,
) -> Result<u128, CreditError> {
    let denominator = credit_denominator(token_decimals, peg)?;
    mul_div(tokens.0, u128::from(price.0), denominator, false).ok_or(CreditError::Overflow)
}

/// Tokens (base units) a user must burn at `price` for `credits`:
/// `ceil(credits * 10^decimals * peg / price)`, so that [`credits_for_burn`] of the result gives at
/// least `credits`.
pub fn tokens_for_credits(
    credits: u128,
    price: TokenPrice,
    token_decimals: u8,
    peg: CreditPeg,
) -> Result<Amount, CreditError> {
    token_value(credits, price, token_decimals, peg, true)
}

/// What `credits` are worth in tokens (base units) at `price`, rounded down: the USD they stand for
/// converted back to tokens (used to cap rewards at a multiple of what users paid).
pub fn token_value_of_credits(
    credits: u128,
    price: TokenPrice,
    token_decimals: u8,
    peg: CreditPeg,
) -> Result<Amount, CreditError> {
    token_value(credits, price, token_decimals, peg, false)
}

fn token_value(
    credits: u128,
    price: TokenPrice,
    token_decimals: u8,
    peg: CreditPeg,
    round_up: bool,
) -> Result<Amount, CreditError> {
    if price.0 == 0 {
        return Err(CreditError::ZeroPrice);
    }
    let numerator = credit_denominator(token_decimals, peg)?;
    mul_div(credits, numerator, u128::from(price.0), round_up)
        .map(Amount)
        .ok_or(CreditError::Overflow)
}

/// Tokens re-minted from `burned`: `floor(burned * remint_bps / 10_000)`. Zero basis points is
/// pure burn-and-mint (burns shrink supply); 10,000 re-mints every burned token as rewards.
///
/// # Panics
/// If `remint_bps` exceeds 10,000 (a parameter validation error, never user input).
pub fn remint(burned: Amount, remint_bps: u32) -> Amount {
    assert!(
        remint_bps <= BPS_DENOMINATOR,
        "re-mint share is at most {BPS_DENOMINATOR} basis points"
    );
    Amount(mul_div_floor(
        burned.0,
        u128::from(remint_bps),
        u128::from(BPS_DENOMINATOR),
    ))
}

/// The prices a window of oracle reports yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OraclePrice {
    /// Median of the window (the lower middle of an even window, averaged with the upper one and
    /// rounded down): the reference price, e.g. for reward caps.
    pub median: TokenPrice,
    /// The conservative price credits are minted at: the median minus half the window's spread
    /// (`(max - min) / 2`, rounded up), but never below the window's lowest report. A lower price
    /// means more tokens burned per credit, so a volatile or manipulated window costs the burner,
    /// not the network.
    pub minting: TokenPrice,
}

/// Median and conservative minting price of a window of reports; `None` if the window is empty
/// or holds a zero price (no valid report).
pub fn oracle_price(window: &[TokenPrice]) -> Option<OraclePrice> {
    if window.is_empty() || window.iter().any(|p| p.0 == 0) {
        return None;
    }
    let mut sorted = window.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2].0
    } else {
        let (lo, hi) = (sorted[n / 2 - 1].0, sorted[n / 2].0);
        lo + (hi - lo) / 2
    };
    let (min, max) = (sorted[0].0, sorted[n - 1].0);
    let half_spread = (max - min).div_ceil(2);
    Some(OraclePrice {
        median: TokenPrice(median),
        minting: TokenPrice(median.saturating_sub(half_spread).max(min)),
    })
}

impl crate::codec::Encode for TokenPrice {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl crate::codec::Decode for TokenPrice {
    fn decode(r: &mut crate::codec::Reader<'_>) -> Result<Self, crate::codec::DecodeError> {
        u64::decode(r).map(TokenPrice)
    }
}

impl crate::codec::Encode for CreditPeg {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl crate::codec::Decode for CreditPeg {
    fn decode(r: &mut crate::codec::Reader<'_>) -> Result<Self, crate::codec::DecodeError> {
        u64::decode(r).map(CreditPeg)
    }
}

impl std::fmt::Display for TokenPrice {
    /// USD with all eight decimals: `0.50000000`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:08}", self.0 / USD_SCALE, self.0 % USD_SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEG: CreditPeg = CreditPeg::HUNDRED_THOUSANDTH_USD;

    #[test]
    fn helium_example_one_dollar_of_tokens_is_100k_credits() {
        // 2 tokens (6 decimals) at $0.50 = $1 = 100,000 credits of $0.00001.
        let price = TokenPrice::parse("0.5").unwrap();
        assert_eq!(
            credits_for_burn(Amount(2_000_000), price, 6, PEG),
            Ok(100_000)
        );
        assert_eq!(
            tokens_for_credits(100_000, price, 6, PEG),
            Ok(Amount(2_000_000))
        );
        // One more credit costs a fraction of a base unit, rounded up to a whole one.
        assert_eq!(
            tokens_for_credits(100_001, price, 6, PEG),
            Ok(Amount(2_000_020))
        );
        assert_eq!(
            token_value_of_credits(100_001, price, 6, PEG),
            Ok(Amount(2_000_020))
        );
        assert_eq!(tokens_for_credits(1, price, 0, PEG), Ok(Amount(1)));
        assert_eq!(token_value_of_credits(1, price, 0, PEG), Ok(Amount(0)));
    }

    #[test]
    fn usd_is_written_exactly() {
        assert_eq!(TokenPrice(50_000_000).usd_text(), "0.5");
        assert_eq!(TokenPrice(12_345).usd_text(), "0.00012345");
        assert_eq!(PEG.usd_text(4_000_000).as_deref(), Some("40"));
        assert_eq!(PEG.usd_text(8_496).as_deref(), Some("0.08496"));
        assert_eq!(CreditPeg(u64::MAX).usd_text(u128::MAX), None);
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let price = TokenPrice(1);
        assert_eq!(
            tokens_for_credits(1, TokenPrice(0), 6, PEG),
            Err(CreditError::ZeroPrice)
        );
        assert_eq!(
            credits_for_burn(Amount(1), price, 6, CreditPeg(0)),
            Err(CreditError::ZeroPeg)
        );
        assert_eq!(
            credits_for_burn(Amount(1), price, 31, PEG),
            Err(CreditError::Decimals(31))
        );
        assert_eq!(
            tokens_for_credits(u128::MAX, price, 30, PEG),
            Err(CreditError::Overflow)
        );
        assert_eq!(CreditPeg::parse("0"), Err(CreditError::ZeroPeg));
        assert!(CreditPeg::parse("0.000000001").is_err());
        assert_eq!(CreditPeg::parse("0.00001"), Ok(PEG));
    }

    #[test]
    fn oracle_median_and_conservative_side() {
        let p = |v: &[u64]| oracle_price(&v.iter().map(|x| TokenPrice(*x)).collect::<Vec<_>>());
        assert_eq!(p(&[]), None);
        assert_eq!(p(&[5, 0]), None);
        let o = p(&[100, 90, 110]).unwrap();
        assert_eq!((o.median.0, o.minting.0), (100, 90));
        let o = p(&[100, 100, 101, 100]).unwrap();
        assert_eq!((o.median.0, o.minting.0), (100, 100));
        // A single low outlier cannot pull the minting price below the lowest report.
        let o = p(&[1, 100, 100]).unwrap();
        assert_eq!((o.median.0, o.minting.0), (100, 50));
        let o = p(&[7]).unwrap();
        assert_eq!((o.median.0, o.minting.0), (7, 7));
    }

    #[test]
    fn remint_share_of_burns() {
        assert_eq!(remint(Amount(1001), 0), Amount(0));
        assert_eq!(remint(Amount(1001), 5_000), Amount(500));
        assert_eq!(remint(Amount(1001), 10_000), Amount(1001));
    }

    proptest! {
        /// The general mul_div agrees with plain u128 arithmetic wherever that cannot overflow.
        #[test]
        fn mul_div_matches_u128(a in 0u128..1 << 64, b in 0u128..1 << 63, c in 1u128..1 << 64) {
            prop_assert_eq!(mul_div(a, b, c, false), Some(a * b / c));
            prop_assert_eq!(mul_div(a, b, c, true), Some((a * b).div_ceil(c)));
        }

        /// Burning the tokens quoted for N credits yields at least N credits, and one base unit
        /// fewer would not (the quote is the least sufficient burn); a burn's credits are never
        /// worth more USD than the tokens paid.
        #[test]
        fn quotes_are_tight_and_favour_the_network(
            credits in 0u128..1 << 80,
            price in 1u64..1 << 50,
            decimals in 0u8..=18,
            peg in 1u64..1 << 30,
        ) {
            let (price, peg) = (TokenPrice(price), CreditPeg(peg));
            // Sizes whose products leave u128 are refused with `Overflow`, never wrapped; the
            // properties are about the rest.
            let Ok(tokens) = tokens_for_credits(credits, price, decimals, peg) else {
                return Ok(());
            };
            let Ok(bought) = credits_for_burn(tokens, price, decimals, peg) else {
                return Ok(());
            };
            prop_assert!(bought >= credits);
            if tokens.0 > 0 {
                let fewer = credits_for_burn(Amount(tokens.0 - 1), price, decimals, peg).unwrap();
                prop_assert!(fewer < credits);
            }
            let value = token_value_of_credits(credits, price, decimals, peg).unwrap();
            prop_assert!(value <= tokens && tokens.0 - value.0 <= 1);
        }

        /// A burn buys exactly the whole credits its USD value covers: never more, and not one
        /// fewer (checked in plain u128 arithmetic at sizes where it cannot overflow).
        #[test]
        fn a_burn_buys_the_floor_of_its_value(
            tokens in 0u128..1 << 60,
            price in 1u64..1 << 40,
            decimals in 0u8..=6,
            peg in 1u64..1 << 20,
        ) {
            let bought = credits_for_burn(Amount(tokens), TokenPrice(price), decimals, CreditPeg(peg))
                .unwrap();
            let per_credit = u128::from(peg) * 10u128.pow(u32::from(decimals));
            let paid = tokens * u128::from(price);
            prop_assert!(bought * per_credit <= paid);
            prop_assert!((bought + 1) * per_credit > paid);
        }

        #[test]
        fn minting_price_is_never_above_the_median_nor_below_the_minimum(
            window in proptest::collection::vec(1u64..u64::MAX, 1..30),
        ) {
            let prices: Vec<TokenPrice> = window.iter().map(|p| TokenPrice(*p)).collect();
            let o = oracle_price(&prices).unwrap();
            let min = *window.iter().min().unwrap();
            let max = *window.iter().max().unwrap();
            prop_assert!(o.minting <= o.median);
            prop_assert!(o.minting.0 >= min && o.median.0 <= max && o.median.0 >= min);
        }
    }
}
