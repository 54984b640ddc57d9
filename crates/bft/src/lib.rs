//! The BFT driver: runs the depin ledger on a validator set with commonware simplex consensus.
//!
//! Simplex orders 32-byte digests; here a digest is a block's hash. [`application`] is what the
//! engine asks to propose, verify and report finality: it builds and checks blocks through the
//! node's [`depin_node::chain::Producer`] (the ledger's driver interface), gossips blocks and
//! transactions on its own p2p channels, fetches blocks it misses from peers, and commits a
//! block only once a finalization certificate covers it. [`engine`] wires the application and
//! a simplex engine onto any commonware runtime and network: the deterministic runtime with the
//! simulated network in tests, tokio with authenticated p2p on real machines.

pub mod application;
pub mod bench;
pub mod engine;
pub mod evidence;
pub mod run;
pub mod wire;

use commonware_codec::DecodeExt;
use depin_core::{Address, Hash, Keypair};

/// A validator's consensus identity (the same ed25519 key as its account: see DECISIONS.md).
pub type PublicKey = commonware_cryptography::ed25519::PublicKey;
/// What simplex orders: a block hash (blake3, as the ledger computes it).
pub type Digest = commonware_cryptography::blake3::Digest;
/// The vote-signing scheme: one ed25519 signature per validator, so every vote is attributable
/// (evidence of equivocation names its signer).
pub type Scheme = commonware_consensus::simplex::scheme::ed25519::Scheme;
/// A finalization certificate over a block hash.
pub type Finalization = commonware_consensus::simplex::types::Finalization<Scheme, Digest>;
/// What the engine tells the application about a round.
pub type Context = commonware_consensus::simplex::types::Context<Digest, PublicKey>;

/// The namespace every consensus signature is domain-separated by, so a vote can never be
/// replayed as a transaction signature (or the reverse) although both use the same key. The
/// ledger checks equivocation evidence under the same one.
pub const NAMESPACE: &[u8] = depin_core::services::governance::evidence::CONSENSUS_NAMESPACE;

/// The consensus private key of an account key: the same ed25519 secret.
pub fn consensus_key(key: &Keypair) -> commonware_cryptography::ed25519::PrivateKey {
    commonware_cryptography::ed25519::PrivateKey::decode(commonware_runtime::IoBuf::from(
        key.seed().to_vec(),
    ))
    .expect("every 32-byte seed is an ed25519 private key")
}

/// The consensus public key of a validator address (an address is an ed25519 public key).
pub fn public_key(address: &Address) -> Option<PublicKey> {
    PublicKey::decode(commonware_runtime::IoBuf::from(address.0.to_vec())).ok()
}

/// The account address of a consensus public key.
pub fn address(key: &PublicKey) -> Address {
    let bytes: &[u8] = key.as_ref();
    Address(bytes.try_into().expect("an ed25519 public key is 32 bytes"))
}

/// The consensus participants of a validator set, in the engine's (sorted) order. An address
/// that is not an ed25519 public key could never sign a vote and is left out (every validator
/// leaves it out alike).
pub fn participants_of<'a>(validators: impl Iterator<Item = &'a Address>) -> Vec<PublicKey> {
    let mut keys: Vec<PublicKey> = validators.filter_map(public_key).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The digest simplex orders for a block hash.
pub fn digest(hash: &Hash) -> Digest {
    commonware_cryptography::blake3::Digest(hash.0)
}

/// The block hash a digest stands for.
pub fn hash(digest: &Digest) -> Hash {
    Hash(digest.0)
}

/// The hash a block's consensus record names its validator set by: the participants' keys in
/// the engine's (sorted) order.
pub fn set_hash(participants: &[PublicKey]) -> Hash {
    let keys: Vec<&[u8]> = participants.iter().map(|k| k.as_ref()).collect();
    Hash::tagged("depin/bft/validator-set/v1", &keys)
}

/// Length of a BFT block's consensus record.
pub const RECORD_BYTES: usize = 56;

/// What a BFT block records in its header's `consensus` field: the epoch, the view it was
/// proposed in, its parent's view and the hash of the validator set that runs the epoch, so a
/// light client holding the block and a finalization certificate can match them, and a
/// restarting validator can tell which epoch its last block belongs to (56 bytes, big-endian).
pub fn consensus_record(context: &Context, set: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_BYTES);
    out.extend_from_slice(&context.round.epoch().get().to_be_bytes());
    out.extend_from_slice(&context.round.view().get().to_be_bytes());
    out.extend_from_slice(&context.parent.0.get().to_be_bytes());
    out.extend_from_slice(&set.0);
    out
}

/// A block's consensus record, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    pub set: Hash,
}

/// Reads a consensus record (`None` for anything else, such as a solo block's empty record).
pub fn parse_record(bytes: &[u8]) -> Option<Record> {
    if bytes.len() != RECORD_BYTES {
        return None;
    }
    let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some(Record {
        epoch: word(0),
        view: word(1),
        parent_view: word(2),
        set: Hash(bytes[24..].try_into().expect("32 bytes")),
    })
}
