//! What storage transactions say: registering a provider and moving its collateral (signed by
//! the owner), opening a deal (signed by the client, co-signed by the provider's device key),
//! proofs and fault or recovery declarations (signed by the provider's device key), and a
//! provider quitting a deal. Retrieval is paid with the demand service's usage receipts, which
//! the client and the provider's device both sign.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Keypair, Signature};
use crate::module::actions;

pub use crate::services::devices::{onboarding_message, sign_onboarding};

actions! {
    /// The storage module's actions.
    StorageAction, "storage action";
    0 => RegisterProvider(RegisterProvider),
    1 => AddCollateral(AddCollateral),
    2 => WithdrawCollateral(WithdrawCollateral),
    3 => OpenDeal(OpenDeal),
    4 => SubmitStorageProof(SubmitStorageProof),
    5 => DeclareFaults(DeclareFaults),
    6 => DeclareRecovery(DeclareRecovery),
    7 => TerminateDeal(TerminateDeal),
    8 => SetEndpoint(SetEndpoint),
}

/// Longest retrieval URL a provider may announce, bytes.
pub const MAX_ENDPOINT_BYTES: usize = 200;

/// Register a storage provider (a device) to the signer, with its capacity. The device key
/// co-signs, as for every device. Collateral is added with [`AddCollateral`] (the same block
/// will do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterProvider {
    pub device: Address,
    /// Bytes the provider offers.
    pub capacity_bytes: u64,
    /// The device key's signature over [`onboarding_message`].
    pub device_signature: Signature,
}

/// Add collateral to a provider the signer owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddCollateral {
    pub device: Address,
    pub amount: Amount,
}

/// Take back collateral no deal locks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawCollateral {
    pub device: Address,
    pub amount: Amount,
}

/// The terms of a deal, which the provider's device signs as its offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealTerms {
    /// The client who pays (the signer of the deal).
    pub client: Address,
    /// The provider's device.
    pub provider: Address,
    /// BLAKE3 hash of the shard.
    pub root: Hash,
    /// Shard size, bytes.
    pub size: u64,
    /// Periods (epochs) the deal runs, from the period after it opens.
    pub periods: u32,
    /// Credits paid per proven period.
    #[serde(with = "crate::amount::u128_string")]
    pub price_per_period: u128,
    /// The offer is void after this height.
    pub valid_until_height: u64,
}

impl DealTerms {
    /// The bytes the provider's device signs to offer these terms on `chain_id`.
    pub fn message(&self, chain_id: &str) -> Vec<u8> {
        Hash::tagged(
            "depin/storage/offer/v1",
            &[chain_id.as_bytes(), &self.to_bytes()],
        )
        .0
        .to_vec()
    }

    /// The provider device's signature of the offer (provider side).
    pub fn sign(&self, chain_id: &str, device: &Keypair) -> Signature {
        device.sign(&self.message(chain_id))
    }
}

/// Open a deal: the client (signer) pays the whole price into escrow, the provider's collateral
/// for it is locked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenDeal {
    pub terms: DealTerms,
    /// The provider device's signature over [`DealTerms::message`].
    pub provider_signature: Signature,
}

/// One challenged chunk with its inclusion path (sibling chaining values from the leaf up).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    #[serde(with = "hex_bytes")]
    pub chunk: Vec<u8>,
    pub path: Vec<Hash>,
}

/// A provider's answer to one deal's challenges in one period's window (signed by the device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitStorageProof {
    pub deal: u64,
    pub period: u64,
    /// One opening per challenge, in challenge order.
    pub openings: Vec<Opening>,
}

/// Deals the provider will not prove in its next window (signed by the device): a declared
/// fault costs less than a detected one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareFaults {
    pub deals: Vec<u64>,
}

/// Faulty deals the provider will prove again in its next window (signed by the device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareRecovery {
    pub deals: Vec<u64>,
}

/// The provider's owner ends a deal early: its collateral pays the client and the unspent
/// escrow is refunded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateDeal {
    pub deal: u64,
}

/// A provider announces (or, with an empty URL, withdraws) the URL of its retrieval server,
/// signed by the provider's device or its owner: clients find live providers and where to
/// fetch a deal's shard from the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEndpoint {
    pub device: Address,
    /// `http://` or `https://`, at most [`MAX_ENDPOINT_BYTES`] printable ASCII characters
    /// without spaces; empty to withdraw.
    pub url: String,
}

/// Why `url` is not an endpoint a provider may announce, if it is not.
pub fn endpoint_problem(url: &str) -> Option<String> {
    if url.is_empty() {
        return None;
    }
    if url.len() > MAX_ENDPOINT_BYTES {
        return Some(format!(
            "is {} bytes, above {MAX_ENDPOINT_BYTES}",
            url.len()
        ));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("has a space, a control or a non-ASCII character".into());
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        None => Some("does not start with http:// or https://".into()),
        Some("") => Some("names no host".into()),
        Some(_) => None,
    }
}

/// Bytes as a hex string in JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// Chunk bytes are encoded as one length-prefixed run (bounded by a chunk's size), not byte by
/// byte.
impl Encode for Opening {
    fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::encode_len(self.chunk.len(), out);
        out.extend_from_slice(&self.chunk);
        self.path.encode(out);
    }
}

impl Decode for Opening {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.length("chunk", super::proof::CHUNK_BYTES as usize)?;
        let chunk = r.take(len, "chunk")?.to_vec();
        let paths = r.length("path", 64)?;
        let path = crate::codec::decode_sequence(r, paths, "path")?;
        Ok(Opening { chunk, path })
    }
}

struct_codec!(RegisterProvider {
    device: Address,
    capacity_bytes: u64,
    device_signature: Signature,
});
struct_codec!(AddCollateral {
    device: Address,
    amount: Amount,
});
struct_codec!(WithdrawCollateral {
    device: Address,
    amount: Amount,
});
struct_codec!(DealTerms {
    client: Address,
    provider: Address,
    root: Hash,
    size: u64,
    periods: u32,
    price_per_period: u128,
    valid_until_height: u64,
});
struct_codec!(OpenDeal {
    terms: DealTerms,
    provider_signature: Signature,
});
struct_codec!(SubmitStorageProof {
    deal: u64,
    period: u64,
    openings: Vec<Opening>,
});
struct_codec!(DeclareFaults { deals: Vec<u64> });
struct_codec!(DeclareRecovery { deals: Vec<u64> });
struct_codec!(TerminateDeal { deal: u64 });
struct_codec!(SetEndpoint {
    device: Address,
    url: String,
});
