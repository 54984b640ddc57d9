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
pub mod peers;
pub mod run;
pub mod wire;

use commonware_codec::DecodeExt;
use depin_core::services::governance::liveness;
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
/// the engine's (sorted) order (the ledger computes the same from its set:
/// [`depin_core::services::governance::liveness::set_hash`]).
pub fn set_hash(participants: &[PublicKey]) -> Hash {
    let addresses: Vec<Address> = participants.iter().map(address).collect();
    liveness::set_hash(&addresses)
}

pub use depin_core::services::governance::liveness::{RECORD_BYTES, Record, parse_record};

/// What a BFT block records in its header's `consensus` field: the epoch, the view it was
/// proposed in, its parent's view and the hash of the validator set that runs the epoch, so a
/// light client holding the block and a finalization certificate can match them, a
/// restarting validator can tell which epoch its last block belongs to, and the ledger can
/// count the turns the chain skipped (downtime) from the block alone (56 bytes, big-endian).
pub fn consensus_record(context: &Context, set: &Hash) -> Vec<u8> {
    Record {
        epoch: context.round.epoch().get(),
        view: context.round.view().get(),
        parent_view: context.parent.0.get(),
        set: *set,
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use commonware_consensus::simplex::elector::{Config as ElectorConfig, Elector, RoundRobin};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::Sha256;
    use commonware_utils::ordered::Set;
    use depin_core::services::governance::liveness;

    use super::*;

    /// The ledger counts downtime with its own copy of the engine's leader rotation and key
    /// order: both must be the engine's, for every set size, epoch and view.
    #[test]
    fn the_ledgers_leader_rotation_is_the_engines() {
        for n in 1..=7u8 {
            let addresses: Vec<Address> = (0..n)
                .map(|i| Keypair::from_seed([i.wrapping_mul(37).wrapping_add(n); 32]).address())
                .collect();
            let keys = participants_of(addresses.iter());
            let ledger_order = liveness::participants(addresses.iter());
            assert_eq!(
                keys.iter().map(address).collect::<Vec<_>>(),
                ledger_order,
                "the same participants in the same order"
            );
            assert_eq!(set_hash(&keys), liveness::set_hash(&ledger_order));
            let set = Set::try_from(keys.clone()).expect("distinct keys");
            let elector =
                <RoundRobin<Sha256> as ElectorConfig<Scheme>>::build(RoundRobin::default(), &set);
            for epoch in 0..5u64 {
                for view in 1..40u64 {
                    let round = Round::new(Epoch::new(epoch), View::new(view));
                    let engine = Elector::<Scheme>::elect(&elector, round, ());
                    let engine = usize::try_from(engine.get()).unwrap();
                    assert_eq!(
                        liveness::leader_index(epoch, view, keys.len()),
                        engine,
                        "n {n}, epoch {epoch}, view {view}"
                    );
                }
            }
        }
    }
}
