//! Token amounts: integers in base units, never floats.
//!
//! A network fixes its token's `decimals` in genesis; `1.5` tokens with 6 decimals is 1_500_000
//! base units. Amounts travel in JSON as decimal strings of base units because a `u128` does not fit
//! a JavaScript number; people type and read whole-token decimals, converted by [`Amount::parse`]
//! and [`Amount::display`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::ParseError;

/// Largest number of decimals a token may have; 10^30 still leaves 10^8 whole tokens in a u128.
pub const MAX_DECIMALS: u8 = 30;

/// A token amount in base units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a whole-token decimal such as `12`, `0.5` or `1_000.25` into base units.
    /// More fractional digits than `decimals` is an error rather than a silent rounding.
    pub fn parse(text: &str, decimals: u8) -> Result<Amount, ParseError> {
        let err = |why: &str| ParseError::Amount {
            input: text.to_string(),
            why: why.to_string(),
        };
        let clean: String = text.trim().chars().filter(|c| *c != '_').collect();
        let (whole, frac) = match clean.split_once('.') {
            Some((w, f)) => (w, f),
            None => (clean.as_str(), ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(err("it is empty; write a number such as 12 or 0.5"));
        }
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || !digits(frac) {
            return Err(err("use digits and at most one '.', without sign or unit"));
        }
        if frac.len() > decimals as usize {
            return Err(err(&format!(
                "the token has {decimals} decimals, so at most {decimals} digits may follow the '.'"
            )));
        }
        let scale = 10u128.pow(decimals as u32);
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err("too large"))?
        };
        let frac_units: u128 = if frac.is_empty() {
            0
        } else {
            let padded = format!("{frac:0<width$}", width = decimals as usize);
            padded.parse().map_err(|_| err("too large"))?
        };
        whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_units))
            .map(Amount)
            .ok_or_else(|| err("too large"))
    }

    /// Whole-token decimal text, trailing zeros trimmed: `1500000` with 6 decimals is `1.5`.
    pub fn display(self, decimals: u8) -> String {
        if decimals == 0 {
            return self.0.to_string();
        }
        let scale = 10u128.pow(decimals as u32);
        let whole = self.0 / scale;
        let frac = self.0 % scale;
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:0>width$}", width = decimals as usize);
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Encode for Amount {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl Decode for Amount {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Amount(u128::decode(r)?))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "amount '{s}' must be a string of base-unit digits, e.g. \"1500000\""
            )));
        }
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("amount '{s}' does not fit in u128")))
    }
}

/// Serde for large integers (reward shares) as decimal strings: JSON numbers past 2^64 break
/// serde_json, and past 2^53 break browsers. Use with `#[serde(with = "crate::amount::u128_string")]`.
pub mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a decimal u128")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_token_decimals_exactly() {
        assert_eq!(Amount::parse("1.5", 6), Ok(Amount(1_500_000)));
        assert_eq!(Amount::parse("1_000", 2), Ok(Amount(100_000)));
        assert_eq!(Amount::parse(".25", 2), Ok(Amount(25)));
        assert_eq!(Amount::parse("7", 0), Ok(Amount(7)));
        assert!(Amount::parse("0.1234567", 6).is_err());
        assert!(Amount::parse("-1", 6).is_err());
        assert!(Amount::parse("1e6", 6).is_err());
        assert!(Amount::parse("", 6).is_err());
        assert!(Amount::parse("999999999999999999999999999999999999999", 6).is_err());
    }

    #[test]
    fn displays_and_round_trips() {
        for (units, text) in [
            (1_500_000, "1.5"),
            (1, "0.000001"),
            (0, "0"),
            (42_000_000, "42"),
        ] {
            assert_eq!(Amount(units).display(6), text);
            assert_eq!(Amount::parse(text, 6), Ok(Amount(units)));
        }
    }
}
