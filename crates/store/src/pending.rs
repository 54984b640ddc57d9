//! Pending state writes: each committed block's state write set kept as one sequential blob until
//! a checkpoint applies it to the state table, and the in-memory index that lets reads see it.
//!
//! A blob is `count: u32`, then per entry `key_len: u32, key, tag: u8` and, when `tag` is 1,
//! `value_len: u32, value` (tag 0 deletes the key). Entries are in the order execution wrote
//! them; a later entry for the same key wins, as when they were applied one by one.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Bound;
use std::sync::Arc;

use depin_core::codec::{DecodeError, Encode, Reader};
use depin_core::key_bytes::KeyFilter;
pub(crate) use depin_core::key_bytes::key_hash;
use depin_core::state::WriteSet;

/// One block's pending write set: its blob and, sorted by key with one entry per key (the last
/// write), where each key and value sit in the blob.
pub(crate) struct Layer {
    /// The block whose writes these are.
    pub height: u64,
    blob: Vec<u8>,
    index: Vec<Slot>,
    /// Which keys this block may have written: a read misses most pending layers (a key is
    /// written by few of the up to 64 blocks between checkpoints), and without the filter each
    /// miss was a binary search of `memcmp`s, a third of a BFT validator's CPU. Read path only:
    /// it changes no stored byte and no result.
    filter: KeyFilter,
}

/// A key's place in a blob, and its value's (`None`: deleted).
#[derive(Clone, Copy)]
struct Slot {
    key: (u32, u32),
    value: Option<(u32, u32)>,
}

/// Largest blob a layer holds: offsets are `u32`.
const MAX_BLOB: usize = u32::MAX as usize;

impl Layer {
    /// Encodes a block's write set as its pending blob.
    pub fn encode(writes: &WriteSet) -> Vec<u8> {
        let bytes: usize = writes
            .iter()
            .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Vec::with_capacity(4 + bytes);
        (writes.len() as u32).encode(&mut out);
        for (key, value) in writes {
            (key.len() as u32).encode(&mut out);
            out.extend_from_slice(key);
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    (v.len() as u32).encode(&mut out);
                    out.extend_from_slice(v);
                }
            }
        }
        out
    }

    /// Indexes a blob (checking that it is whole and well formed).
    pub fn parse(height: u64, blob: Vec<u8>) -> Result<Layer, DecodeError> {
        if blob.len() > MAX_BLOB {
            return Err(DecodeError::TooLong {
                what: "pending write set",
                len: blob.len(),
                max: MAX_BLOB,
            });
        }
        let mut index = Vec::new();
        {
            let total = blob.len();
            let mut r = Reader::new(&blob);
            let count = r.length("pending write count", total)?;
            index.reserve(count.min(total / 5));
            let at = |r: &Reader<'_>| (total - r.remaining()) as u32;
            for _ in 0..count {
                let len = r.length("pending key", total)?;
                let key = (at(&r), len as u32);
                r.take(len, "pending key")?;
                let value = match r.take(1, "pending tag")?[0] {
                    0 => None,
                    1 => {
                        let len = r.length("pending value", total)?;
                        let value = (at(&r), len as u32);
                        r.take(len, "pending value")?;
                        Some(value)
                    }
                    _ => return Err(DecodeError::Invalid("pending write tag")),
                };
                index.push(Slot { key, value });
            }
            r.finish()?;
        }
        // Stable: of equal keys the last written stays last; keep it alone.
        index.sort_by(|a, b| slice(&blob, a.key).cmp(slice(&blob, b.key)));
        let mut unique: Vec<Slot> = Vec::with_capacity(index.len());
        for slot in index {
            match unique.last_mut() {
                Some(last) if slice(&blob, last.key) == slice(&blob, slot.key) => *last = slot,
                _ => unique.push(slot),
            }
        }
        let mut filter = KeyFilter::with_capacity(unique.len());
        for slot in &unique {
            filter.insert(key_hash(slice(&blob, slot.key)));
        }
        Ok(Layer {
            height,
            blob,
            index: unique,
            filter,
        })
    }

    /// The blob as stored.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// Keys this block wrote (each once).
    pub fn keys(&self) -> usize {
        self.index.len()
    }

    /// Bytes this layer holds in memory.
    pub fn bytes(&self) -> usize {
        self.blob.len() + self.index.len() * std::mem::size_of::<Slot>() + self.filter.bytes()
    }

    /// This block's write of `key`: `Some(None)` if it deleted it, `None` if it did not touch it.
    #[cfg(test)]
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.get_hashed(key, key_hash(key))
    }

    /// [`Layer::get`] with the key's [`key_hash`] computed once by the caller for all layers.
    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<Option<&[u8]>> {
        if !self.filter.may_hold(hash) {
            return None;
        }
        self.index
            .binary_search_by(|s| slice(&self.blob, s.key).cmp(key))
            .ok()
            .map(|i| self.value(i))
    }

    fn key(&self, i: usize) -> &[u8] {
        slice(&self.blob, self.index[i].key)
    }

    fn value(&self, i: usize) -> Option<&[u8]> {
        self.index[i].value.map(|v| slice(&self.blob, v))
    }

    /// Positions `lo..hi` of the index whose keys are in the range.
    fn bounds(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> (usize, usize) {
        let lo = match from {
            Bound::Included(f) => self.index.partition_point(|s| slice(&self.blob, s.key) < f),
            Bound::Excluded(f) => self
                .index
                .partition_point(|s| slice(&self.blob, s.key) <= f),
            Bound::Unbounded => 0,
        };
        let hi = match to {
            Bound::Included(t) => self
                .index
                .partition_point(|s| slice(&self.blob, s.key) <= t),
            Bound::Excluded(t) => self.index.partition_point(|s| slice(&self.blob, s.key) < t),
            Bound::Unbounded => self.index.len(),
        };
        (lo, hi.max(lo))
    }
}

fn slice(blob: &[u8], (at, len): (u32, u32)) -> &[u8] {
    &blob[at as usize..at as usize + len as usize]
}

/// The pending writes of several blocks, oldest first, merged in key order: each key once, with
/// the newest block's write (`None`: deleted).
pub(crate) struct Merged<'a> {
    layers: &'a [Arc<Layer>],
    /// Per layer: next position and end.
    heads: Vec<(usize, usize)>,
    /// The layers with entries left, by their next key. A checkpoint merges up to 64 layers,
    /// and comparing every layer's next key for each key out was a third of its time.
    queue: BinaryHeap<Head<'a>>,
}

/// A layer's next key in [`Merged`]'s queue.
#[derive(PartialEq, Eq)]
struct Head<'a> {
    key: &'a [u8],
    layer: usize,
}

impl Ord for Head<'_> {
    /// The queue pops the greatest: the smallest key, and of equal keys the newest layer.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key.cmp(self.key)).then(self.layer.cmp(&other.layer))
    }
}

impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> Merged<'a> {
    pub fn new(layers: &'a [Arc<Layer>], from: Bound<&[u8]>, to: Bound<&[u8]>) -> Merged<'a> {
        let heads: Vec<(usize, usize)> = layers.iter().map(|l| l.bounds(from, to)).collect();
        let queue = (heads.iter().enumerate())
            .filter(|(_, (at, end))| at < end)
            .map(|(layer, &(at, _))| Head {
                key: layers[layer].key(at),
                layer,
            })
            .collect();
        Merged {
            layers,
            heads,
            queue,
        }
    }

    /// Moves `layer` past its next key.
    fn advance(&mut self, layer: usize) {
        let head = &mut self.heads[layer];
        head.0 += 1;
        if head.0 < head.1 {
            let key = self.layers[layer].key(head.0);
            self.queue.push(Head { key, layer });
        }
    }
}

impl<'a> Iterator for Merged<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let Head { key, layer } = self.queue.pop()?;
        let value = self.layers[layer].value(self.heads[layer].0);
        self.advance(layer);
        // Older layers' writes of the same key lose.
        while let Some(older) = self.queue.peek().filter(|h| h.key == key) {
            let older = older.layer;
            self.queue.pop();
            self.advance(older);
        }
        Some((key, value))
    }
}

/// Merges the committed table's entries (`base`, in key order) with pending writes over them,
/// skipping deleted entries, until `limit` entries are out.
pub(crate) fn merge_with_base<E>(
    base: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), E>>,
    pending: Merged<'_>,
    limit: usize,
) -> Result<crate::Entries, E> {
    let mut out = Vec::new();
    let mut base = base.peekable();
    let mut pending = pending.peekable();
    while out.len() < limit {
        let order = match (base.peek(), pending.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) => {
                return Err(base.next().expect("peeked").expect_err("an error"));
            }
            (Some(Ok(_)), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(Ok((b, _))), Some((p, _))) => b.as_slice().cmp(p),
        };
        match order {
            Ordering::Less => out.push(base.next().expect("peeked")?),
            Ordering::Equal | Ordering::Greater => {
                if order == Ordering::Equal {
                    base.next();
                }
                let (key, value) = pending.next().expect("peeked");
                if let Some(v) = value {
                    out.push((key.to_vec(), v.to_vec()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(height: u64, writes: &[(&[u8], Option<&[u8]>)]) -> Arc<Layer> {
        let set: WriteSet = writes
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        Arc::new(Layer::parse(height, Layer::encode(&set)).unwrap())
    }

    #[test]
    fn the_filter_finds_every_written_key_and_turns_away_most_others() {
        // Keys shaped like state keys: a table byte, then 32 bytes of address, some with a suffix.
        let key = |i: u32| {
            let mut k = vec![(i % 7) as u8];
            let mut x = u64::from(i);
            for _ in 0..4 {
                // splitmix64: 32 well-mixed bytes, like an address.
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                k.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
            }
            k.extend(std::iter::repeat_n(0xab, (i % 5) as usize));
            k
        };
        let written: Vec<Vec<u8>> = (0..10_000).map(key).collect();
        let writes: Vec<(&[u8], Option<&[u8]>)> = written
            .iter()
            .map(|k| (k.as_slice(), Some(&b"v"[..])))
            .collect();
        let l = layer(1, &writes);
        for k in &written {
            assert_eq!(
                l.get(k),
                Some(Some(&b"v"[..])),
                "a written key is always found"
            );
        }
        let maybes = (10_000..20_000)
            .filter(|i| l.filter.may_hold(key_hash(&key(*i))))
            .count();
        // 16 bits and three probes per key: about 1% of absent keys get a binary search.
        assert!(
            maybes < 500,
            "{maybes} of 10,000 absent keys passed the filter"
        );
        for i in 10_000..20_000 {
            assert_eq!(l.get(&key(i)), None);
        }
    }

    #[test]
    fn the_last_write_of_a_key_in_a_block_wins() {
        let l = layer(1, &[(b"b", Some(b"1")), (b"a", None), (b"b", Some(b"2"))]);
        assert_eq!(l.get(b"b"), Some(Some(&b"2"[..])));
        assert_eq!(l.get(b"a"), Some(None));
        assert_eq!(l.get(b"c"), None);
    }

    #[test]
    fn newer_blocks_win_and_deletes_hide_the_base() {
        let layers = vec![
            layer(
                1,
                &[(b"a", Some(b"1")), (b"c", Some(b"1")), (b"d", Some(b"1"))],
            ),
            layer(2, &[(b"a", None), (b"c", Some(b"2")), (b"e", Some(b"2"))]),
        ];
        let base: Vec<Result<_, ()>> = vec![
            Ok((b"a".to_vec(), b"0".to_vec())),
            Ok((b"b".to_vec(), b"0".to_vec())),
            Ok((b"d".to_vec(), b"0".to_vec())),
        ];
        let all = Merged::new(&layers, Bound::Unbounded, Bound::Unbounded);
        let got = merge_with_base(base.clone().into_iter(), all, usize::MAX).unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [("b", "0"), ("c", "2"), ("d", "1"), ("e", "2")]
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
        let some = Merged::new(&layers, Bound::Included(b"b"), Bound::Excluded(b"e"));
        let base_bd = base.into_iter().filter(|e| {
            let k = &e.as_ref().unwrap().0;
            k.as_slice() >= &b"b"[..] && k.as_slice() < &b"e"[..]
        });
        assert_eq!(
            merge_with_base(base_bd, some, 2).unwrap(),
            want[..2].to_vec()
        );
    }

    #[test]
    fn merging_is_applying_the_layers_in_order() {
        // Random layers over a small key space (so keys repeat across layers), some deletes,
        // merged over random ranges, against a map the layers are applied to one by one.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..200 {
            let count = 1 + next(12) as usize;
            let mut layers = Vec::new();
            let mut applied = std::collections::BTreeMap::new();
            for height in 0..count as u64 {
                let mut set = WriteSet::new();
                for _ in 0..next(20) {
                    let key = vec![b'k', next(4) as u8, next(6) as u8];
                    let value = (next(4) > 0).then(|| vec![height as u8, next(255) as u8]);
                    applied.insert(key.clone(), value.clone());
                    set.push((key, value));
                }
                layers.push(Arc::new(Layer::parse(height, Layer::encode(&set)).unwrap()));
            }
            let (a, b) = (vec![b'k', next(4) as u8], vec![b'k', next(5) as u8]);
            let (a, b) = (a.clone().min(b.clone()), a.max(b));
            let ranges = [
                (Bound::Unbounded, Bound::Unbounded),
                (Bound::Included(&a[..]), Bound::Excluded(&b[..])),
                (Bound::Excluded(&a[..]), Bound::Included(&b[..])),
            ];
            for (from, to) in ranges {
                let got: Vec<(Vec<u8>, Option<Vec<u8>>)> = Merged::new(&layers, from, to)
                    .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                    .collect();
                let want: Vec<(Vec<u8>, Option<Vec<u8>>)> = applied
                    .range::<[u8], _>((from, to))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want, "case {case}, {count} layers, {from:?}..{to:?}");
            }
        }
    }

    #[test]
    fn a_truncated_or_padded_blob_is_refused() {
        let set: WriteSet = vec![(b"key".to_vec(), Some(b"value".to_vec()))];
        let blob = Layer::encode(&set);
        for cut in 0..blob.len() {
            assert!(
                Layer::parse(1, blob[..cut].to_vec()).is_err(),
                "cut at {cut}"
            );
        }
        let mut padded = blob.clone();
        padded.push(0);
        assert!(Layer::parse(1, padded).is_err());
        let mut bad_tag = blob;
        bad_tag[4 + 4 + 3] = 7;
        assert!(Layer::parse(1, bad_tag).is_err());
    }
}
