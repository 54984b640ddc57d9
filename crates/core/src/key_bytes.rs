//! The key of a state entry as the in-memory maps hold it: its bytes inline, without a heap
//! allocation, up to [`INLINE_KEY_BYTES`].
//!
//! The state's module tables and the Merkle tree's buckets hold millions of keys. As `Vec<u8>`
//! each key is an allocation of its own, and every comparison during a lookup follows a pointer
//! to it (a cache miss each); inline, the keys a B-tree node compares sit in the node. Every key
//! the ledger writes fits (the longest, two addresses after the table bytes, is 66 bytes); a
//! longer one still works, on the heap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest key held inline, in bytes: covers the longest key the ledger writes (a module byte, a
/// table byte and two 32-byte addresses), and makes a key 72 bytes, nine words.
pub const INLINE_KEY_BYTES: usize = 70;

/// A state key's bytes. Compares, hashes and borrows exactly as its byte slice (`&[u8]`), so a
/// map keyed by it is looked up by `&[u8]` and iterates in the same order as one keyed by
/// `Vec<u8>`: scans and the state root do not depend on how a key is stored.
#[derive(Clone)]
pub enum KeyBytes {
    /// The first `len` bytes of `bytes`; the rest are zero.
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    /// A key longer than [`INLINE_KEY_BYTES`].
    Heap(Box<[u8]>),
}

const _: () = assert!(INLINE_KEY_BYTES <= u8::MAX as usize);
const _: () = assert!(std::mem::size_of::<KeyBytes>() == 72);

impl KeyBytes {
    /// A copy of `key`.
    pub fn new(key: &[u8]) -> KeyBytes {
        if key.len() > INLINE_KEY_BYTES {
            return KeyBytes::Heap(key.into());
        }
        let mut bytes = [0; INLINE_KEY_BYTES];
        bytes[..key.len()].copy_from_slice(key);
        KeyBytes::Inline {
            len: key.len() as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            KeyBytes::Heap(bytes) => bytes,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl From<&[u8]> for KeyBytes {
    fn from(key: &[u8]) -> KeyBytes {
        KeyBytes::new(key)
    }
}

impl From<Vec<u8>> for KeyBytes {
    /// Keeps the vector's allocation for a key too long to hold inline.
    fn from(key: Vec<u8>) -> KeyBytes {
        if key.len() > INLINE_KEY_BYTES {
            KeyBytes::Heap(key.into_boxed_slice())
        } else {
            KeyBytes::new(&key)
        }
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
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for KeyBytes {}

impl PartialOrd for KeyBytes {
    fn partial_cmp(&self, other: &KeyBytes) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyBytes {
    fn cmp(&self, other: &KeyBytes) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Keys around the inline bound, sharing prefixes, so that comparisons cross it: a short
    /// key that is a prefix of a long one, and long keys that differ only past the bound.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![
                0..4usize,
                INLINE_KEY_BYTES - 2..INLINE_KEY_BYTES + 3,
                0..2 * INLINE_KEY_BYTES,
            ],
            prop_oneof![Just(0u8), Just(0xff), any::<u8>()],
            any::<u8>(),
        )
            .prop_map(|(len, fill, last)| {
                let mut k = vec![fill; len];
                if let Some(l) = k.last_mut() {
                    *l = last;
                }
                k
            })
    }

    #[test]
    fn keys_up_to_the_bound_are_inline_and_longer_ones_on_the_heap() {
        for len in [0, 1, INLINE_KEY_BYTES - 1, INLINE_KEY_BYTES] {
            let k = vec![7u8; len];
            assert!(matches!(KeyBytes::new(&k), KeyBytes::Inline { .. }));
            assert!(matches!(KeyBytes::from(k.clone()), KeyBytes::Inline { .. }));
            assert_eq!(KeyBytes::new(&k).as_bytes(), &k[..]);
        }
        let long = vec![7u8; INLINE_KEY_BYTES + 1];
        assert!(matches!(KeyBytes::new(&long), KeyBytes::Heap(_)));
        assert!(matches!(KeyBytes::from(long.clone()), KeyBytes::Heap(_)));
        assert_eq!(KeyBytes::new(&long).as_bytes(), &long[..]);
    }

    #[test]
    fn a_key_s_trailing_zeros_are_its_own_not_padding() {
        // Inline padding is zero: a key must not equal its zero-extended self.
        let short = KeyBytes::new(&[1, 2]);
        let padded = KeyBytes::new(&[1, 2, 0]);
        assert_ne!(short, padded);
        assert!(short < padded);
        let at_bound = KeyBytes::new(&[0; INLINE_KEY_BYTES]);
        let past_bound = KeyBytes::new(&[0; INLINE_KEY_BYTES + 1]);
        assert!(at_bound < past_bound);
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
