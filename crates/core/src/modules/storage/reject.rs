//! Why a storage transaction was refused: one reason code and one sentence per check, so a
//! provider or a client can always find out what was wrong and what to do.

use std::fmt;

use crate::amount::Amount;
use crate::crypto::Hash;
use crate::module::reasons;

/// Which part of an opening is wrong.
pub const OPENING_LENGTH: u8 = 0;
pub const OPENING_PATH: u8 = 1;
pub const OPENING_ROOT: u8 = 2;

reasons! {
    /// A refused storage transaction.
    StorageRejection, "storage rejection";
    0 => ZeroCapacity {} = "zero_capacity",
    1 => EmptyShard {} = "empty_shard",
    2 => ShardTooLarge { size: u64, max: u64 } = "shard_too_large",
    3 => BadDuration { periods: u32, min: u32, max: u32 } = "bad_duration",
    4 => PriceBelowFloor { price: u128, floor: u128 } = "price_below_floor",
    5 => SelfDeal {} = "self_deal",
    6 => OverCapacity { free_bytes: u64, size: u64 } = "over_capacity",
    7 => InsufficientCollateral { free: Amount, needed: Amount } = "insufficient_collateral",
    8 => OfferExpired { valid_until_height: u64 } = "offer_expired",
    9 => BadProviderSignature {} = "bad_provider_signature",
    10 => DuplicateShard { root: Hash, deal: u64 } = "duplicate_shard",
    11 => UnknownDeal { deal: u64 } = "unknown_deal",
    12 => NotProvider { deal: u64 } = "not_provider",
    13 => DealNotLive { deal: u64, status: String } = "deal_not_live",
    14 => WindowNotOpen { period: u64, opens_at: u64 } = "window_not_open",
    15 => WindowClosed { period: u64, closed_at: u64 } = "window_closed",
    16 => AlreadyProven { deal: u64, period: u64 } = "already_proven",
    17 => WrongChallengeCount { expected: u32, got: u32 } = "wrong_challenge_count",
    18 => BadOpening { challenge: u32, chunk: u64, part: u8 } = "bad_opening",
    19 => NotFaulty { deal: u64 } = "not_faulty",
    20 => AlreadyDeclared { deal: u64, period: u64 } = "already_declared",
    21 => TooManyDeals { max: u32 } = "too_many_deals",
    22 => CollateralLocked { free: Amount, asked: Amount } = "collateral_locked",
    23 => NotStarted { deal: u64, start_period: u64 } = "not_started",
    24 => RecoveryNotDeclared { deal: u64 } = "recovery_not_declared",
    26 => WrongClient {} = "wrong_client",
    25 => AmountOverflow {} = "amount_overflow",
    27 => BadEndpoint { why: String } = "bad_endpoint",
}

impl fmt::Display for StorageRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StorageRejection::*;
        match self {
            ZeroCapacity {} => write!(
                f,
                "a provider must offer some capacity; give capacity_bytes above 0"
            ),
            EmptyShard {} => write!(f, "a shard must hold at least one byte"),
            ShardTooLarge { size, max } => write!(
                f,
                "the shard is {size} bytes, above the network's {max}; erasure-code the file into more, smaller shards"
            ),
            BadDuration { periods, min, max } => write!(
                f,
                "a deal of {periods} periods is outside the allowed {min} to {max}"
            ),
            PriceBelowFloor { price, floor } => write!(
                f,
                "{price} credits per period is below the floor of {floor} for this shard size; only paid storage earns, so deals pay at least storage.min_price_credits_per_gib"
            ),
            SelfDeal {} => write!(
                f,
                "the client owns the provider; a deal with yourself proves nothing anyone paid for"
            ),
            OverCapacity { free_bytes, size } => write!(
                f,
                "the provider has {free_bytes} bytes free, less than the shard's {size}; choose another provider or a smaller shard"
            ),
            InsufficientCollateral { free, needed } => write!(
                f,
                "the provider has {} base units of free collateral, less than the {} this shard locks; it must add collateral first",
                free.0, needed.0
            ),
            OfferExpired { valid_until_height } => write!(
                f,
                "the provider's offer was valid until height {valid_until_height}; ask it for a fresh one"
            ),
            BadProviderSignature {} => write!(
                f,
                "the provider's signature does not sign these terms for this client on this chain"
            ),
            DuplicateShard { root, deal } => write!(
                f,
                "this provider already holds shard {root} in live deal {deal}; give each provider a distinct shard"
            ),
            UnknownDeal { deal } => write!(f, "there is no deal {deal}"),
            NotProvider { deal } => write!(
                f,
                "the signer is not deal {deal}'s provider (its device key signs proofs and declarations, its owner terminates)"
            ),
            DealNotLive { deal, status } => write!(
                f,
                "deal {deal} is {status}; only active or faulty deals are proven, declared or terminated"
            ),
            WindowNotOpen { period, opens_at } => write!(
                f,
                "the provider's window of period {period} opens at height {opens_at}; its challenges are not known before"
            ),
            WindowClosed { period, closed_at } => write!(
                f,
                "the provider's window of period {period} closed at height {closed_at}; prove each period inside its window"
            ),
            AlreadyProven { deal, period } => {
                write!(f, "deal {deal} is already proven for period {period}")
            }
            WrongChallengeCount { expected, got } => write!(
                f,
                "{got} openings for the {expected} challenges still unanswered in this window; answer them in order, in one proof or several (at least one opening each)"
            ),
            BadOpening {
                challenge,
                chunk,
                part,
            } => {
                let what = match *part {
                    OPENING_LENGTH => "has the wrong length for that chunk",
                    OPENING_PATH => "has the wrong number of path hashes",
                    _ => "does not hash to the shard's root",
                };
                write!(
                    f,
                    "the opening of challenge {challenge} (chunk {chunk}) {what}; the shard is not held as agreed"
                )
            }
            NotFaulty { deal } => write!(
                f,
                "deal {deal} is not faulty; only a faulty deal can declare a recovery"
            ),
            AlreadyDeclared { deal, period } => write!(
                f,
                "deal {deal} already has a declaration for period {period}"
            ),
            TooManyDeals { max } => {
                write!(f, "a declaration names at most {max} deals; send several")
            }
            CollateralLocked { free, asked } => write!(
                f,
                "only {} base units of collateral are free ({} asked); the rest is locked by live deals",
                free.0, asked.0
            ),
            NotStarted { deal, start_period } => write!(
                f,
                "deal {deal} starts in period {start_period}; nothing to prove or declare before"
            ),
            RecoveryNotDeclared { deal } => write!(
                f,
                "deal {deal} is faulty and no recovery is declared for this period; declare the recovery before the cutoff, then prove"
            ),
            WrongClient {} => write!(
                f,
                "the offer names another client; the client named in the terms must sign the deal"
            ),
            AmountOverflow {} => write!(
                f,
                "the deal's total price or collateral does not fit the ledger's amounts"
            ),
            BadEndpoint { why } => write!(
                f,
                "the retrieval URL {why}; announce an http:// or https:// URL of at most 200 printable ASCII characters without spaces (an empty URL withdraws it)"
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
        let mut codes = StorageRejection::CODES.to_vec();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), StorageRejection::CODES.len());
        let r = StorageRejection::BadOpening {
            challenge: 1,
            chunk: 9,
            part: OPENING_ROOT,
        };
        assert_eq!(StorageRejection::from_bytes(&r.to_bytes()).unwrap(), r);
    }
}
