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
/// replayed as a transaction signature (or the reverse) although both use the same key.
pub const NAMESPACE: &[u8] = b"depin/simplex/v1";

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

/// The digest simplex orders for a block hash.
pub fn digest(hash: &Hash) -> Digest {
    commonware_cryptography::blake3::Digest(hash.0)
}

/// The block hash a digest stands for.
pub fn hash(digest: &Digest) -> Hash {
    Hash(digest.0)
}

/// What a BFT block records in its header's `consensus` field: the epoch, the view it was
/// proposed in and its parent's view, so a light client holding the block and a finalization
/// certificate can match them (24 bytes, big-endian).
pub fn consensus_record(context: &Context) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&context.round.epoch().get().to_be_bytes());
    out.extend_from_slice(&context.round.view().get().to_be_bytes());
    out.extend_from_slice(&context.parent.0.get().to_be_bytes());
    out
}
