//! The key of a state entry as the in-memory maps hold it: its first [`HEAD_BYTES`] bytes inline,
//! so that most comparisons are one 128-bit integer comparison, and the whole key on the heap
//! only when it is longer.
//!
//! The state's module tables and the Merkle tree's buckets hold millions of keys. As `Vec<u8>`
//! each key is an allocation of its own, and every comparison during a lookup follows a pointer
//! to it (a cache miss each) and calls `memcmp`. With the head inline, the keys a B-tree node
//! compares sit in the node, 32 bytes each, and keys of one table mostly differ within their
//! first 16 bytes (a resolution-12 cell's key is 10 bytes; an address-keyed one holds the
//! address's first 14 bytes there).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Bytes of a key held inline: the whole key up to this length, its first bytes beyond it.
pub const HEAD_BYTES: usize = 16;

/// A state key's bytes. Compares, hashes and borrows exactly as its byte slice (`&[u8]`), so a
/// map keyed by it is looked up by `&[u8]` and iterates in the same order as one keyed by
/// `Vec<u8>`: scans and the state root do not depend on how a key is stored.
#[derive(Clone)]
pub struct KeyBytes {
    /// The key's first [`HEAD_BYTES`] bytes, zero-padded.
    head: [u8; HEAD_BYTES],
    tail: Tail,
}

#[derive(Clone)]
enum Tail {
    /// The key is the head's first `len` bytes.
    Short(u8),
    /// A key longer than the head, whole (shared by clones: a key copied into the undo log
    /// costs no allocation).
    Long(Arc<[u8]>),
}

const _: () = assert!(std::mem::size_of::<KeyBytes>() == 32);

impl KeyBytes {
    /// A copy of `key`.
    pub fn new(key: &[u8]) -> KeyBytes {
        let mut head = [0; HEAD_BYTES];
        let n = key.len().min(HEAD_BYTES);
        head[..n].copy_from_slice(&key[..n]);
        let tail = if key.len() <= HEAD_BYTES {
            Tail::Short(key.len() as u8)
        } else {
            Tail::Long(key.into())
        };
        KeyBytes { head, tail }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.tail {
            Tail::Short(len) => &self.head[..usize::from(*len)],
            Tail::Long(bytes) => bytes,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// Whether the key is held whole inline (no heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.tail, Tail::Short(_))
    }
}

impl From<&[u8]> for KeyBytes {
    fn from(key: &[u8]) -> KeyBytes {
        KeyBytes::new(key)
    }
}

impl From<Vec<u8>> for KeyBytes {
    fn from(key: Vec<u8>) -> KeyBytes {
        KeyBytes::new(&key)
    }
}

impl Deref for KeyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for KeyBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// `BTreeMap<KeyBytes, _>` is looked up and ranged by `&[u8]`: sound because equality, order
/// and hash below are those of the slice.
impl Borrow<[u8]> for KeyBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &KeyBytes) -> bool {
        self.head == other.head
            && match (&self.tail, &other.tail) {
                // The padding is zero: equal lengths and equal heads are equal slices.
                (Tail::Short(a), Tail::Short(b)) => a == b,
                (Tail::Long(a), Tail::Long(b)) => a == b,
                _ => false,
            }
    }
}

impl Eq for KeyBytes {}

impl PartialOrd for KeyBytes {
    fn partial_cmp(&self, other: &KeyBytes) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyBytes {
    /// Byte-slice order. The zero-padded heads compare as big-endian integers first: the first
    /// byte where they differ is where the slices differ, or where the longer key goes on past
    /// the shorter one with a non-zero byte (the pad is zero), which makes the longer greater
    /// either way. Equal heads fall back to the slices (two short keys: the shorter is a prefix
    /// of the longer). A map keyed by `KeyBytes` and looked up by `&KeyBytes` compares this way,
    /// mostly with no call to `memcmp` and no pointer followed.
    fn cmp(&self, other: &KeyBytes) -> Ordering {
        let (a, b) = (
            u128::from_be_bytes(self.head),
            u128::from_be_bytes(other.head),
        );
        if a != b {
            return a.cmp(&b);
        }
        match (&self.tail, &other.tail) {
            (Tail::Short(la), Tail::Short(lb)) => la.cmp(lb),
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

impl Hash for KeyBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBytes({})", hex::encode(self.as_bytes()))
    }
}

/// A fast 64-bit hash of a state key for [`KeyFilter`] (multiply-rotate over 8-byte words, then
/// a finalizer). Not a cryptographic hash: a key crafted to collide only costs the exact lookup
/// the filter was there to skip.
pub fn key_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^ (h >> 32)
}

/// A blocked Bloom filter over keys (by [`key_hash`]): one 64-bit word per key, three bits set
/// in it. It answers "certainly not inserted" or "maybe": a set of keys asked mostly about keys
/// it does not hold answers most of them without its exact lookup (a B-tree search or a binary
/// search of `memcmp`s). At 16 bits per key about 1 absent key in 100 gets a "maybe".
#[derive(Clone)]
pub struct KeyFilter {
    words: Vec<u64>,
}

impl KeyFilter {
    /// An empty filter sized for about `keys` keys at 16 bits each (it takes more, with more
    /// false "maybe"s).
    pub fn with_capacity(keys: usize) -> KeyFilter {
        KeyFilter {
            words: vec![0; (keys / 4).max(1).next_power_of_two()],
        }
    }

    /// The word a hash falls in and the three bits it sets there.
    fn place(&self, h: u64) -> (usize, u64) {
        let word = (h as usize) & (self.words.len() - 1);
        let bits = (1u64 << ((h >> 40) & 63)) | (1 << ((h >> 46) & 63)) | (1 << ((h >> 52) & 63));
        (word, bits)
    }

    /// Inserts the key whose [`key_hash`] is `h`.
    pub fn insert(&mut self, h: u64) {
        let (word, bits) = self.place(h);
        self.words[word] |= bits;
    }

    /// `false` if the key whose [`key_hash`] is `h` was certainly not inserted.
    pub fn may_hold(&self, h: u64) -> bool {
        let (word, bits) = self.place(h);
        self.words[word] & bits == bits
    }

    /// Bytes of memory the filter holds.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Keys around the inline bound and the word edges, sharing prefixes, so that comparisons
    /// cross them: a short key that is a prefix of a long one, keys that differ in one byte
    /// anywhere, and long keys that differ only past the bound.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![
                0..4usize,
                6..11usize,
                14..19usize,
                HEAD_BYTES - 2..HEAD_BYTES + 3,
                60..72usize,
                0..140usize,
            ],
            prop_oneof![Just(0u8), Just(0xff), any::<u8>()],
            any::<usize>(),
            any::<u8>(),
            any::<u8>(),
        )
            .prop_map(|(len, fill, at, byte, last)| {
                let mut k = vec![fill; len];
                if len > 0 {
                    k[at % len] = byte;
                }
                if let Some(l) = k.last_mut() {
                    *l = last;
                }
                k
            })
    }

    #[test]
    fn keys_up_to_the_head_are_inline_and_longer_ones_on_the_heap() {
        for len in [0, 1, HEAD_BYTES - 1, HEAD_BYTES] {
            let k = vec![7u8; len];
            assert!(KeyBytes::new(&k).is_inline());
            assert!(KeyBytes::from(k.clone()).is_inline());
            assert_eq!(KeyBytes::new(&k).as_bytes(), &k[..]);
        }
        let long = vec![7u8; HEAD_BYTES + 1];
        assert!(!KeyBytes::new(&long).is_inline());
        assert!(!KeyBytes::from(long.clone()).is_inline());
        assert_eq!(KeyBytes::new(&long).as_bytes(), &long[..]);
    }

    #[test]
    fn a_key_s_trailing_zeros_are_its_own_not_padding() {
        // The head's padding is zero: a key must not equal its zero-extended self.
        let short = KeyBytes::new(&[1, 2]);
        let padded = KeyBytes::new(&[1, 2, 0]);
        assert_ne!(short, padded);
        assert!(short < padded);
        let at_bound = KeyBytes::new(&[0; HEAD_BYTES]);
        let past_bound = KeyBytes::new(&[0; HEAD_BYTES + 1]);
        assert_ne!(at_bound, past_bound);
        assert!(at_bound < past_bound);
        assert!(past_bound > at_bound);
    }

    proptest! {
        /// Two keys compare, and are equal, exactly as their byte slices.
        #[test]
        fn order_is_byte_slice_order(a in key(), b in key()) {
            let (ka, kb) = (KeyBytes::new(&a), KeyBytes::from(b.clone()));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
            prop_assert_eq!(ka.as_bytes(), &a[..]);
        }

        /// Keys that share a prefix of any length (one a prefix of the other, or differing in
        /// one byte after it, zeros included) compare as their byte slices.
        #[test]
        fn keys_sharing_a_prefix_compare_as_slices(
            a in key(),
            cut in any::<usize>(),
            tail in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..20),
        ) {
            let mut b = a[..cut % (a.len() + 1)].to_vec();
            b.extend(tail);
            let (ka, kb) = (KeyBytes::new(&a), KeyBytes::new(&b));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(kb.cmp(&ka), b.cmp(&a));
            prop_assert_eq!(ka == kb, a == b);
        }

        /// A map keyed by `KeyBytes` iterates and ranges (looked up by `&[u8]`) as one keyed
        /// by `Vec<u8>`.
        #[test]
        fn a_map_iterates_and_ranges_as_with_vec_keys(
            keys in proptest::collection::vec(key(), 0..60),
            from in key(),
            to in key(),
        ) {
            let by_vec: BTreeMap<Vec<u8>, usize> =
                keys.iter().cloned().enumerate().map(|(i, k)| (k, i)).collect();
            let by_inline: BTreeMap<KeyBytes, usize> =
                keys.iter().enumerate().map(|(i, k)| (KeyBytes::new(k), i)).collect();
            let listed: Vec<(Vec<u8>, usize)> =
                by_inline.iter().map(|(k, i)| (k.to_vec(), *i)).collect();
            let expected: Vec<(Vec<u8>, usize)> = by_vec.clone().into_iter().collect();
            prop_assert_eq!(listed, expected);
            if from <= to {
                let bounds = (
                    std::ops::Bound::Included(&from[..]),
                    std::ops::Bound::Excluded(&to[..]),
                );
                let ranged: Vec<usize> = by_inline.range::<[u8], _>(bounds).map(|(_, i)| *i).collect();
                let expected: Vec<usize> = by_vec.range::<[u8], _>(bounds).map(|(_, i)| *i).collect();
                prop_assert_eq!(ranged, expected);
            }
            for k in &keys {
                prop_assert_eq!(by_inline.get(&k[..]), by_vec.get(&k[..]));
            }
        }
    }
}
