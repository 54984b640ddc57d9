//! What demand transactions say: oracle prices, buying and delegating credits, and the usage
//! receipts a payer and a hotspot both sign for the data the hotspot moved.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Encode, struct_codec};
use crate::crypto::{Address, Hash, Keypair, Signature};
use crate::economics::TokenPrice;

/// An oracle's observation of the token's USD price (signed by the oracle key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitPrice {
    /// USD per whole token, 8 decimals (`50_000_000` is $0.50).
    pub price: TokenPrice,
    /// When the oracle read the market, milliseconds since the Unix epoch.
    pub observed_at_ms: u64,
}

/// Add a key to the oracle set or remove one (signed by the emergency key; otherwise an `oracle_set` proposal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetOracle {
    pub oracle: Address,
    pub authorised: bool,
}

/// Burn tokens for credits at the oracle's minting price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyCredits {
    /// Base units of the token to burn.
    pub tokens: Amount,
    /// Refuse rather than buy fewer credits than this (the price may move before the block).
    #[serde(with = "crate::amount::u128_string")]
    pub min_credits: u128,
    /// The account that receives the credits (usually the signer).
    pub to: Address,
}

/// Hand credits to a payer (a router or a fleet operator), who may spend them on data transfer
/// but never pass them on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegateCredits {
    pub payer: Address,
    #[serde(with = "crate::amount::u128_string")]
    pub credits: u128,
}

/// The data a device moved for a payer over a period, signed by both. Anyone may submit it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReceipt {
    pub payer: Address,
    pub device: Address,
    /// The period the usage covers, milliseconds since the Unix epoch, end exclusive.
    pub start_ms: u64,
    pub end_ms: u64,
    pub packets: u64,
    pub bytes: u64,
    /// The payer's signature over [`UsageReceipt::message`].
    pub payer_signature: Signature,
    /// The device key's signature over [`UsageReceipt::message`].
    pub device_signature: Signature,
}

impl UsageReceipt {
    /// Builds a receipt and signs it with both keys (client side).
    #[allow(clippy::too_many_arguments)]
    pub fn signed(
        chain_id: &str,
        payer: &Keypair,
        device: &Keypair,
        start_ms: u64,
        end_ms: u64,
        packets: u64,
        bytes: u64,
    ) -> UsageReceipt {
        let mut r = UsageReceipt {
            payer: payer.address(),
            device: device.address(),
            start_ms,
            end_ms,
            packets,
            bytes,
            payer_signature: Signature([0; 64]),
            device_signature: Signature([0; 64]),
        };
        let message = r.message(chain_id);
        r.payer_signature = payer.sign(&message);
        r.device_signature = device.sign(&message);
        r
    }

    /// The bytes both parties sign: everything but the signatures, bound to the chain.
    pub fn message(&self, chain_id: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(96);
        self.payer.encode(&mut body);
        self.device.encode(&mut body);
        self.start_ms.encode(&mut body);
        self.end_ms.encode(&mut body);
        self.packets.encode(&mut body);
        self.bytes.encode(&mut body);
        Hash::tagged("depin/demand/usage/v1", &[chain_id.as_bytes(), &body])
            .0
            .to_vec()
    }
}

struct_codec!(SubmitPrice {
    price: TokenPrice,
    observed_at_ms: u64,
});
struct_codec!(SetOracle {
    oracle: Address,
    authorised: bool,
});
struct_codec!(BuyCredits {
    tokens: Amount,
    min_credits: u128,
    to: Address,
});
struct_codec!(DelegateCredits {
    payer: Address,
    credits: u128,
});
struct_codec!(UsageReceipt {
    payer: Address,
    device: Address,
    start_ms: u64,
    end_ms: u64,
    packets: u64,
    bytes: u64,
    payer_signature: Signature,
    device_signature: Signature,
});
