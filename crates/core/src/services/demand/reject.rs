//! Why a demand transaction was refused: one reason code and one sentence per check. A refused
//! receipt charges nobody anything.

use std::fmt;

use crate::crypto::Address;
use crate::module::reasons;

reasons! {
    /// A refused demand transaction.
    DemandRejection, "demand rejection";
    0 => NotOracle { signer: Address } = "not_oracle",
    1 => ZeroPrice {} = "zero_price",
    2 => StalePrice { age_ms: u64, max_ms: u64 } = "stale_price",
    3 => PriceFromFuture { ahead_ms: u64 } = "price_from_future",
    4 => PriceNotNewer { last_observed_ms: u64 } = "price_not_newer",
    5 => NoOraclePrice {} = "no_oracle_price",
    6 => BurnTooSmall {} = "burn_too_small",
    7 => BelowMinimum { credits: u128, min_credits: u128 } = "credits_below_minimum",
    8 => InsufficientCredits { balance: u128, needed: u128 } = "insufficient_credits",
    9 => DelegateToSelf {} = "delegate_to_self",
    10 => UnknownPayer { payer: Address } = "unknown_payer",
    11 => BadPayerSignature {} = "bad_payer_signature",
    12 => EmptyReceipt {} = "empty_receipt",
    13 => BadPeriod {} = "bad_period",
    14 => PeriodInFuture { ahead_ms: u64 } = "period_in_future",
    15 => ReceiptTooOld { age_ms: u64, max_ms: u64 } = "receipt_too_old",
    16 => DuplicateReceipt {} = "duplicate_receipt",
    17 => PeriodOverlap { last_end_ms: u64 } = "period_overlap",
    18 => CostOverflow {} = "cost_overflow",
    19 => PriceUnreliable { spread_bps: u64, max_bps: u32 } = "price_unreliable",
}

impl fmt::Display for DemandRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DemandRejection::*;
        match self {
            NotOracle { signer } => write!(
                f,
                "{signer} is not an authorised oracle; only keys in the oracle set may submit prices"
            ),
            ZeroPrice {} => write!(
                f,
                "a price of 0 USD is not a price; submit the market price"
            ),
            StalePrice { age_ms, max_ms } => write!(
                f,
                "the price was observed {age_ms} ms before this block, more than the {max_ms} ms allowed; submit a fresh observation"
            ),
            PriceFromFuture { ahead_ms } => write!(
                f,
                "the price's observation time is {ahead_ms} ms after this block's time; fix the oracle's clock"
            ),
            PriceNotNewer { last_observed_ms } => write!(
                f,
                "this oracle already submitted a price observed at {last_observed_ms} ms; a new price must be observed later"
            ),
            PriceUnreliable {
                spread_bps,
                max_bps,
            } => write!(
                f,
                "the oracles' fresh prices spread {spread_bps} basis points around their median, more than the {max_bps} the network mints credits at; no credits are minted until they agree again"
            ),
            NoOraclePrice {} => write!(
                f,
                "the ledger has no fresh oracle price, so it cannot convert tokens to credits; wait for the oracles to submit"
            ),
            BurnTooSmall {} => write!(
                f,
                "the tokens burned are worth less than one credit at the minting price; burn more"
            ),
            BelowMinimum {
                credits,
                min_credits,
            } => write!(
                f,
                "at the current minting price the burn buys {credits} credits, fewer than the {min_credits} asked for; the price moved, quote again"
            ),
            InsufficientCredits { balance, needed } => write!(
                f,
                "the account can spend {balance} credits here but {needed} are needed; buy credits with `depin credits buy` (fees need credits the account holds itself, not delegated ones, and the ledger buys a fee's shortfall from tokens only while it has a fresh oracle price: see `depin oracle price show`)"
            ),
            DelegateToSelf {} => write!(f, "an account cannot delegate credits to itself"),
            UnknownPayer { payer } => write!(
                f,
                "payer {payer} has never held credits; buy or be delegated credits first"
            ),
            BadPayerSignature {} => write!(
                f,
                "the payer's signature over the receipt does not verify; both parties sign the same receipt bytes"
            ),
            EmptyReceipt {} => write!(f, "the receipt counts no packets and no bytes"),
            BadPeriod {} => write!(f, "the receipt's period must end after it starts"),
            PeriodInFuture { ahead_ms } => write!(
                f,
                "the receipt's period ends {ahead_ms} ms after this block's time; submit it once the period is over"
            ),
            ReceiptTooOld { age_ms, max_ms } => write!(
                f,
                "the receipt's period ended {age_ms} ms ago, more than the {max_ms} ms allowed; receipts must be settled promptly"
            ),
            DuplicateReceipt {} => write!(
                f,
                "this payer and device already settled a receipt for exactly this period"
            ),
            PeriodOverlap { last_end_ms } => write!(
                f,
                "this payer and device already settled usage up to {last_end_ms} ms; a new receipt must start at or after it"
            ),
            CostOverflow {} => write!(
                f,
                "the receipt's cost overflows; split it into smaller receipts"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Decode, Encode};

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes = DemandRejection::CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DemandRejection::CODES.len());
        let r = DemandRejection::InsufficientCredits {
            balance: 5,
            needed: 9,
        };
        assert_eq!(DemandRejection::from_bytes(&r.to_bytes()).unwrap(), r);
        assert!(r.to_string().contains("depin credits buy"));
    }
}
