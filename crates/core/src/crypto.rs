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
//! Batch verification ([`verify_many`], our own on `curve25519-dalek`) uses the same cofactored
//! equation, so a batch accepts exactly the set of signatures that single verification accepts
//! (except with probability 2^-128 for an invalid batch, whose coefficients are derived from all
//! of its inputs). Items that single verification refuses before any equation (a small-order or
//! undecodable key, a non-canonical `S`, an undecodable `R`) are refused without entering the
//! batch; a batch whose equation fails is checked item by item with [`verify`]. Signers' keys
//! repeat from batch to batch (the same providers sign every claim), so their decompressed points
//! are kept in a bounded cache keyed by the 32 key bytes; a small-order key never enters it. The
//! cache only saves work: a point found there is the decompression of exactly those bytes. The
//! rule was chosen over strict
//! verification (cofactorless equation, small-order `R` refused) because a batch that provably
//! matches strict verification must check every `R` for a torsion component, which costs about
//! what single verification costs and gives up the batch's twofold speed.
//!
//! [ZIP-215]: https://zips.z.cash/zip-0215

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use std::sync::{Mutex, OnceLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Digest, Sha512, Signer, SigningKey};
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
/// Items that cannot verify whatever the equation says (a small-order or undecodable key, a
/// non-canonical `S`, an undecodable `R`) are refused first; the rest are checked together with
/// one cofactored batch equation (about twice as fast as one by one, more when the signers' keys
/// are in the cache of decompressed keys); only if the batch fails are they checked one by one
/// to find the bad ones. The batch's random coefficients are drawn from a hash of all its
/// inputs, so they are fixed before anyone can know them and the verdicts are deterministic.
pub fn verify_many(items: &[(&Address, &[u8], &Signature)]) -> Vec<bool> {
    batch_verify(items, Some(key_cache()))
}

/// [`verify_many`] without the cache of decompressed keys: every key is decompressed for this
/// call. The same verdicts; for benchmarks that measure what the cache saves.
pub fn verify_many_uncached(items: &[(&Address, &[u8], &Signature)]) -> Vec<bool> {
    batch_verify(items, None)
}

/// Batch verification as `ed25519-zebra` implements it (it decompresses every key on every
/// batch), with coefficients derived from its inputs and the same fallback. Not used by the ledger:
/// kept as the reference that benchmarks and the property tests compare [`verify_many`] with.
pub fn verify_many_zebra(items: &[(&Address, &[u8], &Signature)]) -> Vec<bool> {
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

/// One item admitted to the batch equation: its index, its commitment `R`, scalar `S`, challenge
/// `k` and the index of its signer among the batch's distinct keys.
struct Queued {
    item: usize,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
    key: usize,
}

/// The batch equation over `items`, with signers' keys looked up in (and added to) `cache`.
fn batch_verify(items: &[(&Address, &[u8], &Signature)], cache: Option<&KeyCache>) -> Vec<bool> {
    if items.len() < 2 {
        return items.iter().map(|(a, m, s)| verify(a, m, s)).collect();
    }
    let mut verdicts = vec![true; items.len()];

    // The distinct keys, in order of first appearance; small-order keys never verify.
    let mut key_index: HashMap<[u8; 32], usize> = HashMap::new();
    let mut keys: Vec<[u8; 32]> = Vec::new();
    let mut item_key: Vec<Option<usize>> = Vec::with_capacity(items.len());
    for ((signer, _, _), verdict) in items.iter().zip(&mut verdicts) {
        if is_small_order_encoding(&signer.0) {
            *verdict = false;
            item_key.push(None);
            continue;
        }
        let next = keys.len();
        let index = *key_index.entry(signer.0).or_insert(next);
        if index == next {
            keys.push(signer.0);
        }
        item_key.push(Some(index));
    }
    let points = match cache {
        Some(cache) => cache.points(&keys),
        None => keys
            .iter()
            .map(|k| CompressedEdwardsY(*k).decompress())
            .collect(),
    };

    // Items that cannot verify whatever the equation says are refused here, as `verify` would.
    let mut queued: Vec<Queued> = Vec::with_capacity(items.len());
    let mut transcript = blake3::Hasher::new_derive_key("depin batch signature coefficients v2");
    for (i, ((signer, message, signature), key)) in items.iter().zip(&item_key).enumerate() {
        let Some(key) = *key else { continue };
        let r_bytes: [u8; 32] = signature.0[..32].try_into().expect("32 of 64 bytes");
        let s_bytes: [u8; 32] = signature.0[32..].try_into().expect("32 of 64 bytes");
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes));
        let r = CompressedEdwardsY(r_bytes).decompress();
        let (Some(_), Some(s), Some(r)) = (points[key], s, r) else {
            verdicts[i] = false;
            continue;
        };
        let digest: [u8; 64] = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(signer.0)
            .chain_update(message)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&digest);
        transcript.update(&signer.0);
        transcript.update(&signature.0);
        transcript.update(&(message.len() as u64).to_le_bytes());
        transcript.update(message);
        queued.push(Queued {
            item: i,
            r,
            s,
            k,
            key,
        });
    }
    if queued.is_empty() {
        return verdicts;
    }

    // [8](-(Σ z_i S_i) B + Σ z_i R_i + Σ_A (Σ_{i signed by A} z_i k_i) A) == identity.
    let mut coefficients = transcript.finalize_xof();
    let mut b_coefficient = Scalar::ZERO;
    let mut a_coefficients = vec![Scalar::ZERO; keys.len()];
    let mut r_coefficients: Vec<Scalar> = Vec::with_capacity(queued.len());
    for q in &queued {
        let mut z = [0u8; 16];
        coefficients.fill(&mut z);
        let z = Scalar::from(u128::from_le_bytes(z));
        b_coefficient -= z * q.s;
        a_coefficients[q.key] += z * q.k;
        r_coefficients.push(z);
    }
    // Keys none of whose items were queued keep a zero coefficient; an undecodable key has no
    // queued item, so the identity stands in for it.
    let a_points = points.iter().map(|p| p.unwrap_or_default());
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(b_coefficient)
            .chain(a_coefficients)
            .chain(r_coefficients),
        std::iter::once(ED25519_BASEPOINT_POINT)
            .chain(a_points)
            .chain(queued.iter().map(|q| q.r)),
    );
    if check.mul_by_cofactor().is_identity() {
        return verdicts;
    }
    for q in &queued {
        let (signer, message, signature) = items[q.item];
        verdicts[q.item] = verify(signer, message, signature);
    }
    verdicts
}

/// Decompressed signer keys shared by every batch, at most [`KEY_CACHE_ENTRIES`] of them.
fn key_cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(|| KeyCache::new(KEY_CACHE_ENTRIES))
}

/// How many decompressed keys the batch verifier keeps: 32,768 points, about 6 MB, enough for
/// every provider of a large market signing block after block.
pub const KEY_CACHE_ENTRIES: usize = 32_768;

/// A bounded map from key bytes to their decompressed point, safe to share between threads.
///
/// Eviction is by generations: new keys go into the current generation; when it holds half the
/// bound, it becomes the previous one and the old previous one is dropped. A key found in the
/// previous generation moves back into the current one, so keys in use survive and the map never
/// holds more than the bound. Only keys that decode to a point not of small order enter it.
pub struct KeyCache {
    half: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<[u8; 32], EdwardsPoint>,
    previous: HashMap<[u8; 32], EdwardsPoint>,
}

impl Generations {
    fn insert(&mut self, half: usize, key: [u8; 32], point: EdwardsPoint) {
        if self.current.len() >= half {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, point);
    }
}

impl KeyCache {
    /// A cache of at most `entries` keys (at least 2).
    pub fn new(entries: usize) -> KeyCache {
        KeyCache {
            half: (entries / 2).max(1),
            generations: Mutex::new(Generations::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // A panic elsewhere while holding the lock leaves only whole entries behind.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The decompressed point of each key (`None` for bytes that do not decode to a point), or
    /// `None` for a small-order key. Keys missing from the cache are decompressed outside the
    /// lock and added.
    pub fn points(&self, keys: &[[u8; 32]]) -> Vec<Option<EdwardsPoint>> {
        let mut points: Vec<Option<EdwardsPoint>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<usize> = Vec::new();
        {
            let mut g = self.lock();
            for (i, key) in keys.iter().enumerate() {
                let mut found = g.current.get(key).copied();
                if found.is_none()
                    && let Some(p) = g.previous.remove(key)
                {
                    g.insert(self.half, *key, p);
                    found = Some(p);
                }
                if found.is_none() {
                    missing.push(i);
                }
                points.push(found);
            }
        }
        if missing.is_empty() {
            return points;
        }
        let mut fresh: Vec<([u8; 32], EdwardsPoint)> = Vec::with_capacity(missing.len());
        for &i in &missing {
            if is_small_order_encoding(&keys[i]) {
                continue;
            }
            if let Some(p) = CompressedEdwardsY(keys[i]).decompress() {
                points[i] = Some(p);
                fresh.push((keys[i], p));
            }
        }
        let mut g = self.lock();
        for (key, point) in fresh {
            g.insert(self.half, key, point);
        }
        points
    }

    /// How many keys the cache holds now.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.current.len() + g.previous.len()
    }

    /// True if the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the cache holds `key`.
    pub fn contains(&self, key: &[u8; 32]) -> bool {
        let g = self.lock();
        g.current.contains_key(key) || g.previous.contains_key(key)
    }
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
    fn the_key_cache_stays_bounded_keeps_keys_in_use_and_refuses_small_order_keys() {
        let cache = KeyCache::new(8);
        let keys: Vec<[u8; 32]> = (0..40u8)
            .map(|i| Keypair::from_seed([i; 32]).address().0)
            .collect();
        let hot = keys[0];
        for key in &keys[1..] {
            let got = cache.points(&[hot, *key]);
            assert_eq!(got[0], CompressedEdwardsY(hot).decompress());
            assert_eq!(got[1], CompressedEdwardsY(*key).decompress());
            assert!(cache.len() <= 8, "{} keys in a cache of 8", cache.len());
        }
        assert!(cache.contains(&hot), "a key used in every batch stays");
        assert!(!cache.contains(&keys[1]), "an old key is evicted");
        for key in small_order_encodings() {
            assert_eq!(cache.points(&[*key]), vec![None]);
            assert!(!cache.contains(key));
        }
        // Bytes that decode to no point: none, and not cached.
        let mut undecodable = [0u8; 32];
        undecodable[0] = 2;
        assert!(CompressedEdwardsY(undecodable).decompress().is_none());
        assert_eq!(cache.points(&[undecodable]), vec![None]);
        assert!(!cache.contains(&undecodable));
    }

    #[test]
    fn batches_with_repeated_keys_and_refused_items_give_the_single_verdicts() {
        let keys: Vec<Keypair> = (0..3u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let addrs: Vec<Address> = keys.iter().map(Keypair::address).collect();
        let msgs: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 7]).collect();
        let mut sigs: Vec<Signature> = (0..12).map(|i| keys[i % 3].sign(&msgs[i])).collect();
        // A non-canonical S, an R that does not decode, and a signature of another message.
        sigs[4].0[63] |= 0xf0;
        sigs[5].0[..32].copy_from_slice(&{
            let mut r = [0u8; 32];
            r[0] = 2;
            r
        });
        sigs[7] = keys[7 % 3].sign(b"another message");
        let items: Vec<(&Address, &[u8], &Signature)> = (0..12)
            .map(|i| (&addrs[i % 3], msgs[i].as_slice(), &sigs[i]))
            .collect();
        let single: Vec<bool> = items.iter().map(|(a, m, s)| verify(a, m, s)).collect();
        assert_eq!(single.iter().filter(|ok| !**ok).count(), 3);
        assert_eq!(verify_many(&items), single);
        assert_eq!(verify_many(&items), single, "with the keys cached");
        assert_eq!(verify_many_uncached(&items), single);
        assert_eq!(verify_many_zebra(&items), single);
    }

    #[test]
    fn tagged_hashes_differ_by_domain() {
        assert_ne!(Hash::tagged("a", &[b"x"]), Hash::tagged("b", &[b"x"]));
        assert_ne!(Hash::tagged("ab", &[b"c"]), Hash::tagged("a", &[b"bc"]));
    }
}
