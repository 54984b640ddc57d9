//! Keys, addresses, signatures and hashes.
//!
//! An account is an ed25519 public key. Its address is that key written in bech32m with the
//! human-readable prefix [`ADDRESS_PREFIX`], so a mistyped address fails its checksum instead of
//! sending tokens into the void. Hashes are BLAKE3 with a domain tag per use, so a transaction hash
//! can never collide with a header hash over the same bytes.
//!
//! # The signature rule
//!
//! Signatures are standard Ed25519 (RFC 8032) and are *verified* under one rule everywhere (the
//! mempool's batches, execution, replay, block signatures): [ZIP-215], as implemented by
//! `ed25519-zebra`, plus one restriction:
//!
//! - `S` must be canonical (`S < L`); `A` and `R` may be any encoding that decodes to a curve
//!   point, canonical or not;
//! - the cofactored equation `[8][S]B = [8]R + [8][k]A` decides, with `k = SHA-512(R || A || M)`
//!   over the bytes as given;
//! - restriction: a signer key `A` of small order (any of its 14 encodings) never verifies,
//!   because a signature under such a key proves nothing (anyone can make one).
//!
//! Batch verification uses the same cofactored equation, so a batch accepts exactly the set of
//! signatures that single verification accepts (except with probability 2^-128 for an invalid
//! batch, whose coefficients are derived from all of its inputs). The rule was chosen over strict
//! verification (cofactorless equation, small-order `R` refused) because a batch that provably
//! matches strict verification must check every `R` for a torsion component, which costs about
//! what single verification costs and gives up the batch's twofold speed.
//!
//! [ZIP-215]: https://zips.z.cash/zip-0215

use std::fmt;
use std::str::FromStr;

use std::sync::OnceLock;

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer, SigningKey};
use ed25519_zebra::{VerificationKey, VerificationKeyBytes};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::codec::{Decode, DecodeError, Encode, Reader};

/// Human-readable prefix of every address.
pub const ADDRESS_PREFIX: &str = "depin";

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    /// Hashes `parts` under a domain tag; the tag is length-prefixed so tags cannot run into data.
    pub fn tagged(tag: &str, parts: &[&[u8]]) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(&(tag.len() as u32).to_le_bytes());
        h.update(tag.as_bytes());
        for part in parts {
            h.update(part);
        }
        Hash(*h.finalize().as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseError::Hash(s.to_string()))?;
        Ok(Hash(out))
    }
}

/// An account: an ed25519 public key, shown as a bech32m address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The ed25519 key behind the address, if it can sign under the signature rule: the bytes
    /// decode to a curve point that is not of small order.
    pub fn verification_key(&self) -> Option<VerificationKey> {
        if is_small_order_encoding(&self.0) {
            return None;
        }
        VerificationKey::try_from(self.0).ok()
    }
}

/// True if `bytes` is one of the 14 encodings (8 canonical, 6 not) of the 8 points of small
/// order. Compared as bytes so that the check costs no point decompression.
pub fn is_small_order_encoding(bytes: &[u8; 32]) -> bool {
    small_order_encodings().contains(bytes)
}

/// Every encoding that decodes to a point of small order: the canonical encodings of the 8-torsion
/// points, their sign-flipped twins where `x = 0` (the flip then names the same point), and the
/// encodings with `y + p` for the two small `y` that leave room below 2^255 (`y = 0` and `y = 1`).
pub fn small_order_encodings() -> &'static [[u8; 32]] {
    static ENCODINGS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            let canonical = point.compress().to_bytes();
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            candidates.extend([canonical, flipped]);
        }
        for y in [0u8, 1] {
            // y + p = y + 2^255 - 19, little-endian, with the sign bit clear and set.
            let mut unreduced = [0xff; 32];
            unreduced[0] = 0xed + y;
            unreduced[31] = 0x7f;
            let mut signed = unreduced;
            signed[31] |= 0x80;
            candidates.extend([unreduced, signed]);
        }
        let mut found: Vec<[u8; 32]> = candidates
            .into_iter()
            .filter(|c| {
                CompressedEdwardsY(*c)
                    .decompress()
                    .is_some_and(|p| p.is_small_order())
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        assert_eq!(found.len(), 14, "the small-order points have 14 encodings");
        found
    })
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = bech32::Hrp::parse_unchecked(ADDRESS_PREFIX);
        let s = bech32::encode::<bech32::Bech32m>(hrp, &self.0)
            .expect("a 32-byte payload always fits a bech32m string");
        f.write_str(&s)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Why a string is not an address, hash, signature or amount.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error(
        "'{0}' is not a depin address: expected '{ADDRESS_PREFIX}1' followed by 58 characters with a valid checksum (check for a typo)"
    )]
    Address(String),
    #[error("'{0}' is not a 32-byte hash in hex (64 hex digits)")]
    Hash(String),
    #[error("'{0}' is not a 64-byte signature in hex (128 hex digits)")]
    Signature(String),
    #[error("'{input}' is not an amount: {why}")]
    Amount { input: String, why: String },
}

impl FromStr for Address {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError::Address(s.to_string());
        let checked = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32m>(s)
            .map_err(|_| err())?;
        if checked.hrp().as_str() != ADDRESS_PREFIX {
            return Err(err());
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        let key: [u8; 32] = bytes.try_into().map_err(|_| err())?;
        Ok(Address(key))
    }
}

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", &hex::encode(&self.0[..8]))
    }
}

impl FromStr for Signature {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let mut out = [0u8; 64];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseError::Signature(s.to_string()))?;
        Ok(Signature(out))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A signing key. It is never printed: `Debug` shows only the address.
pub struct Keypair {
    key: SigningKey,
}

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Keypair {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system has no random source");
        Keypair::from_seed(seed)
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The secret seed, for writing to a key file.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn address(&self) -> Address {
        Address(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.key.sign(message).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.address())
    }
}

/// Verifies one signature under the signature rule (see the module documentation).
pub fn verify(signer: &Address, message: &[u8], signature: &Signature) -> bool {
    let Some(key) = signer.verification_key() else {
        return false;
    };
    key.verify(&ed25519_zebra::Signature::from_bytes(&signature.0), message)
        .is_ok()
}

/// Verifies many signatures under the signature rule, returning one verdict per item; each
/// verdict equals what [`verify`] says of that item alone.
///
/// All items are first checked together with ZIP-215 batch verification (about twice as fast as
/// one by one); only if the batch fails are they checked one by one to find the bad ones. The
/// batch's random coefficients are drawn from a hash of all its inputs, so they are fixed before
/// anyone can know them and the verdicts are deterministic.
pub fn verify_many(items: &[(&Address, &[u8], &Signature)]) -> Vec<bool> {
    if items.len() < 2 {
        return items.iter().map(|(a, m, s)| verify(a, m, s)).collect();
    }
    let mut verdicts = vec![true; items.len()];
    let mut batch = ed25519_zebra::batch::Verifier::new();
    let mut transcript = blake3::Hasher::new_derive_key("depin batch signature coefficients v1");
    for ((signer, message, signature), verdict) in items.iter().zip(&mut verdicts) {
        if is_small_order_encoding(&signer.0) {
            *verdict = false;
            continue;
        }
        transcript.update(&signer.0);
        transcript.update(&signature.0);
        transcript.update(&(message.len() as u64).to_le_bytes());
        transcript.update(message);
        batch.queue((
            VerificationKeyBytes::from(signer.0),
            ed25519_zebra::Signature::from_bytes(&signature.0),
            *message,
        ));
    }
    if batch
        .verify(BatchCoefficients(transcript.finalize_xof()))
        .is_ok()
    {
        return verdicts;
    }
    items.iter().map(|(a, m, s)| verify(a, m, s)).collect()
}

/// The random source of a batch's coefficients: BLAKE3 output over the batch's inputs (a
/// Fiat-Shamir challenge, so a forger cannot choose signatures that cancel out).
struct BatchCoefficients(blake3::OutputReader);

impl rand_core::TryRng for BatchCoefficients {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for BatchCoefficients {}

macro_rules! bytes_codec {
    ($t:ident, $n:expr) => {
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($t(r.array::<$n>(stringify!($t))?))
            }
        }
    };
}
bytes_codec!(Hash, 32);
bytes_codec!(Address, 32);
bytes_codec!(Signature, 64);

macro_rules! string_serde {
    ($($t:ident),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
string_serde!(Hash, Address, Signature);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_and_catches_typos() {
        let kp = Keypair::from_seed([7; 32]);
        let text = kp.address().to_string();
        assert!(text.starts_with("depin1"));
        assert_eq!(text.parse::<Address>().unwrap(), kp.address());
        // Change one character: the checksum must catch it.
        let mut typo: Vec<char> = text.chars().collect();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == 'q' { 'p' } else { 'q' };
        let typo: String = typo.into_iter().collect();
        assert!(typo.parse::<Address>().is_err());
        assert!("depin1".parse::<Address>().is_err());
    }

    #[test]
    fn batch_verification_finds_the_bad_signature() {
        let keys: Vec<Keypair> = (0..8u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let addrs: Vec<Address> = keys.iter().map(Keypair::address).collect();
        let items = |sigs: &[Signature]| -> Vec<bool> {
            let v: Vec<_> = (0..8)
                .map(|i| (&addrs[i], msgs[i].as_slice(), &sigs[i]))
                .collect();
            verify_many(&v)
        };
        assert_eq!(items(&sigs), vec![true; 8]);
        sigs[3] = sigs[4];
        let verdicts = items(&sigs);
        assert_eq!(verdicts.iter().filter(|ok| !**ok).count(), 1);
        assert!(!verdicts[3]);
    }

    #[test]
    fn tagged_hashes_differ_by_domain() {
        assert_ne!(Hash::tagged("a", &[b"x"]), Hash::tagged("b", &[b"x"]));
        assert_ne!(Hash::tagged("ab", &[b"c"]), Hash::tagged("a", &[b"bc"]));
    }
}
