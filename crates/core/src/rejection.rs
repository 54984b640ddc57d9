//! Why a transaction was refused: a stable machine-readable code and a sentence saying what to do.
//!
//! The same type explains a refusal at the API door (mempool) and inside a block (a receipt), so a
//! supplier who was not paid can always find out why.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::crypto::Address;
use crate::modules::{ModuleRejection, disabled_code, name_of};

/// A refused transaction and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The transaction names another network.
    WrongChain { expected: String, got: String },
    /// The signature does not verify for the signer over the transaction's canonical bytes.
    BadSignature,
    /// The nonce was already used: a replay, or a resubmission of an executed transaction.
    NonceReplayed { next: u64, got: u64 },
    /// The nonce is not the signer's next one (inside a block, nonces must be consecutive).
    NonceGap { next: u64, got: u64 },
    /// The nonce is further ahead of the account's next nonce than the mempool will hold.
    NonceTooFarAhead { next: u64, got: u64, max_ahead: u64 },
    /// The signer has never held tokens.
    UnknownAccount { address: Address },
    /// The balance does not cover the amount.
    InsufficientFunds { balance: Amount, needed: Amount },
    /// A transfer of nothing.
    ZeroAmount,
    /// The receiver's balance would overflow (only reachable with absurd genesis supplies).
    BalanceOverflow,
    /// The encoded transaction is larger than the limit.
    TooLarge { size: u64, max: u64 },
    /// The bytes or JSON are not a transaction.
    Malformed { detail: String },
    /// The same transaction, or another with the same signer and nonce, is already pending.
    Duplicate,
    /// The mempool is full; the client should retry later.
    MempoolFull,
    /// The action belongs to a module this network does not run (by its wire id).
    ModuleDisabled { module: u8 },
    /// The signer is not the network's emergency key, the one key that may make a governed
    /// change (denylist, oracle set) directly instead of by proposal.
    NotEmergencyKey,
    /// An action failed one of its module's checks.
    Module(ModuleRejection),
    /// The transaction's `max_fee` is below what its weight costs at the current base fee.
    FeeTooLow { offered: u64, needed: u64 },
    /// The transaction weighs more than a whole block may.
    TooHeavy { weight: u64, max: u64 },
    /// The fee's payer holds too little to pay it (credits, or tokens to buy them).
    FeeUnpaid { payer: Address, fee: u64 },
}

impl Rejection {
    /// Stable code for scripts and dashboards.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::WrongChain { .. } => "wrong_chain",
            Rejection::BadSignature => "bad_signature",
            Rejection::NonceReplayed { .. } => "nonce_replayed",
            Rejection::NonceGap { .. } => "nonce_gap",
            Rejection::NonceTooFarAhead { .. } => "nonce_too_far_ahead",
            Rejection::UnknownAccount { .. } => "unknown_account",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::ZeroAmount => "zero_amount",
            Rejection::BalanceOverflow => "balance_overflow",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Malformed { .. } => "malformed",
            Rejection::Duplicate => "duplicate",
            Rejection::MempoolFull => "mempool_full",
            Rejection::ModuleDisabled { module } => disabled_code(*module),
            Rejection::NotEmergencyKey => "not_emergency_key",
            Rejection::Module(r) => r.code(),
            Rejection::FeeTooLow { .. } => "fee_too_low",
            Rejection::TooHeavy { .. } => "too_heavy",
            Rejection::FeeUnpaid { .. } => "fee_unpaid",
        }
    }

    /// True for a refusal that left no trace in a block: the transaction was refused before it
    /// paid its fee and used its nonce (wrong network, size, signature, signer, nonce, or a fee
    /// it did not offer or could not pay). Every other refusal in a block paid the fee and used
    /// the nonce.
    pub fn left_no_trace(&self) -> bool {
        matches!(
            self,
            Rejection::WrongChain { .. }
                | Rejection::TooLarge { .. }
                | Rejection::Malformed { .. }
                | Rejection::BadSignature
                | Rejection::UnknownAccount { .. }
                | Rejection::NonceReplayed { .. }
                | Rejection::NonceGap { .. }
                | Rejection::NonceTooFarAhead { .. }
                | Rejection::Duplicate
                | Rejection::MempoolFull
                | Rejection::FeeTooLow { .. }
                | Rejection::TooHeavy { .. }
                | Rejection::FeeUnpaid { .. }
        )
    }

    /// True if the same transaction may succeed later without change.
    pub fn is_transient(&self) -> bool {
        matches!(self, Rejection::MempoolFull | Rejection::FeeTooLow { .. })
    }

    fn tag(&self) -> u8 {
        match self {
            Rejection::WrongChain { .. } => 0,
            Rejection::BadSignature => 1,
            Rejection::NonceReplayed { .. } => 2,
            Rejection::NonceGap { .. } => 3,
            Rejection::NonceTooFarAhead { .. } => 4,
            Rejection::UnknownAccount { .. } => 5,
            Rejection::InsufficientFunds { .. } => 6,
            Rejection::ZeroAmount => 7,
            Rejection::BalanceOverflow => 8,
            Rejection::TooLarge { .. } => 9,
            Rejection::Malformed { .. } => 10,
            Rejection::Duplicate => 11,
            Rejection::MempoolFull => 12,
            Rejection::ModuleDisabled { .. } => 13,
            Rejection::NotEmergencyKey => 14,
            Rejection::Module(_) => 15,
            Rejection::FeeTooLow { .. } => 16,
            Rejection::TooHeavy { .. } => 17,
            Rejection::FeeUnpaid { .. } => 18,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::WrongChain { expected, got } => write!(
                f,
                "transaction is for chain '{got}' but this node runs '{expected}'; sign it with --chain-id {expected} or send it to the right network"
            ),
            Rejection::BadSignature => write!(
                f,
                "signature does not verify for the signer over the transaction's canonical bytes; sign with the signer's own key and do not change the transaction after signing"
            ),
            Rejection::NonceReplayed { next, got } => write!(
                f,
                "nonce {got} was already used (the account's next nonce is {next}); this looks like a replay, sign a new transaction with nonce {next}"
            ),
            Rejection::NonceGap { next, got } => write!(
                f,
                "nonce {got} is not the account's next nonce {next}; transactions of one account execute in nonce order"
            ),
            Rejection::NonceTooFarAhead {
                next,
                got,
                max_ahead,
            } => write!(
                f,
                "nonce {got} is more than {max_ahead} ahead of the account's next nonce {next}; send the missing nonces first"
            ),
            Rejection::UnknownAccount { address } => write!(
                f,
                "account {address} has never held tokens; fund it with a transfer first"
            ),
            Rejection::InsufficientFunds { balance, needed } => write!(
                f,
                "balance {balance} base units is less than the {needed} base units needed; lower the amount or fund the account"
            ),
            Rejection::ZeroAmount => write!(f, "amount is zero; transfer at least one base unit"),
            Rejection::BalanceOverflow => write!(
                f,
                "the receiver's balance would exceed the largest representable amount"
            ),
            Rejection::TooLarge { size, max } => write!(
                f,
                "transaction is {size} bytes, more than the limit of {max} bytes"
            ),
            Rejection::Malformed { detail } => write!(
                f,
                "not a valid transaction: {detail}; see /v1/openapi.json for the format"
            ),
            Rejection::Duplicate => write!(
                f,
                "a transaction with this signer and nonce is already pending; wait for it or use the next nonce"
            ),
            Rejection::MempoolFull => {
                write!(f, "the node's mempool is full; retry in a few seconds")
            }
            Rejection::ModuleDisabled { module } => match name_of(*module) {
                Some(name) => write!(
                    f,
                    "this network runs no {name} module (its genesis has no [{name}] section), so its actions are refused"
                ),
                None => write!(f, "this network runs no module with id {module}"),
            },
            Rejection::NotEmergencyKey => write!(
                f,
                "only the network's emergency key ([governance] emergency_key, for devnets) may make this change directly; anyone else proposes it and stakers vote (`depin gov propose denylist|pair-denylist|oracle ...`)"
            ),
            Rejection::Module(r) => r.fmt(f),
            Rejection::FeeTooLow { offered, needed } => write!(
                f,
                "max_fee {offered} is below the {needed} fee units this transaction costs at the current base fee; sign it again with a higher max_fee (GET /v1/fees suggests one)"
            ),
            Rejection::TooHeavy { weight, max } => write!(
                f,
                "transaction weighs {weight}, more than a whole block may carry ({max}); split it into smaller transactions"
            ),
            Rejection::FeeUnpaid { payer, fee } => write!(
                f,
                "the fee's payer {payer} cannot pay {fee} fee units: it holds too few credits, and too few tokens to buy the rest; fund it (a device's fees are paid by its owner)"
            ),
        }
    }
}

impl Encode for Rejection {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            Rejection::WrongChain { expected, got } => {
                expected.encode(out);
                got.encode(out);
            }
            Rejection::NonceReplayed { next, got } | Rejection::NonceGap { next, got } => {
                next.encode(out);
                got.encode(out);
            }
            Rejection::NonceTooFarAhead {
                next,
                got,
                max_ahead,
            } => {
                next.encode(out);
                got.encode(out);
                max_ahead.encode(out);
            }
            Rejection::UnknownAccount { address } => address.encode(out),
            Rejection::InsufficientFunds { balance, needed } => {
                balance.encode(out);
                needed.encode(out);
            }
            Rejection::TooLarge { size, max } => {
                size.encode(out);
                max.encode(out);
            }
            Rejection::Malformed { detail } => detail.encode(out),
            Rejection::ModuleDisabled { module } => module.encode(out),
            Rejection::Module(r) => r.encode(out),
            Rejection::FeeTooLow { offered, needed } => {
                offered.encode(out);
                needed.encode(out);
            }
            Rejection::TooHeavy { weight, max } => {
                weight.encode(out);
                max.encode(out);
            }
            Rejection::FeeUnpaid { payer, fee } => {
                payer.encode(out);
                fee.encode(out);
            }
            Rejection::NotEmergencyKey
            | Rejection::BadSignature
            | Rejection::ZeroAmount
            | Rejection::BalanceOverflow
            | Rejection::Duplicate
            | Rejection::MempoolFull => {}
        }
    }
}

impl Decode for Rejection {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => Rejection::WrongChain {
                expected: String::decode(r)?,
                got: String::decode(r)?,
            },
            1 => Rejection::BadSignature,
            2 => Rejection::NonceReplayed {
                next: u64::decode(r)?,
                got: u64::decode(r)?,
            },
            3 => Rejection::NonceGap {
                next: u64::decode(r)?,
                got: u64::decode(r)?,
            },
            4 => Rejection::NonceTooFarAhead {
                next: u64::decode(r)?,
                got: u64::decode(r)?,
                max_ahead: u64::decode(r)?,
            },
            5 => Rejection::UnknownAccount {
                address: Address::decode(r)?,
            },
            6 => Rejection::InsufficientFunds {
                balance: Amount::decode(r)?,
                needed: Amount::decode(r)?,
            },
            7 => Rejection::ZeroAmount,
            8 => Rejection::BalanceOverflow,
            9 => Rejection::TooLarge {
                size: u64::decode(r)?,
                max: u64::decode(r)?,
            },
            10 => Rejection::Malformed {
                detail: String::decode(r)?,
            },
            11 => Rejection::Duplicate,
            12 => Rejection::MempoolFull,
            13 => Rejection::ModuleDisabled {
                module: u8::decode(r)?,
            },
            14 => Rejection::NotEmergencyKey,
            15 => Rejection::Module(ModuleRejection::decode(r)?),
            16 => Rejection::FeeTooLow {
                offered: u64::decode(r)?,
                needed: u64::decode(r)?,
            },
            17 => Rejection::TooHeavy {
                weight: u64::decode(r)?,
                max: u64::decode(r)?,
            },
            18 => Rejection::FeeUnpaid {
                payer: Address::decode(r)?,
                fee: u64::decode(r)?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "rejection",
                    tag,
                });
            }
        })
    }
}

/// The JSON face of a rejection: `{"code": "...", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    pub code: String,
    pub message: String,
}

impl From<&Rejection> for Explained {
    fn from(r: &Rejection) -> Self {
        Explained {
            code: r.code().to_string(),
            message: r.to_string(),
        }
    }
}
