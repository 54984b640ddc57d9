//! Merkle commitments: a binary root over a list (transactions, receipts) and the incremental
//! state tree behind the app hash.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::crypto::Hash;
use crate::key_bytes::KeyBytes;

/// Root of a binary Merkle tree over `leaves`, in order. An odd node is promoted unchanged, so
/// the root of one leaf is that leaf; the empty list has its own constant root.
pub fn list_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::tagged("depin/list-empty", &[]);
    }
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => Hash::tagged("depin/list-node", &[&l.0, &r.0]),
                [one] => *one,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

/// Bits of a key's hash that choose its bucket: 2^16 buckets, so a state of 10^6 keys holds about
/// 15 keys per bucket and an update rehashes one small bucket plus 16 inner nodes.
const BUCKET_BITS: u32 = 16;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// Nodes of one level hashed per task when a root is computed on all cores: a block that
/// touched a few keys stays on one thread.
const PARALLEL_MIN_NODES: usize = 256;
/// Buckets one task fills when a batch of entries is placed on all cores (64 tasks in all).
const PLACE_SPAN: usize = 1024;

/// The state commitment: a complete binary Merkle tree of depth 16 over buckets of keys, each
/// bucket committing to its `(key, value)` leaves in key order.
///
/// A key goes to the bucket named by the first 16 bits of its hash, so the shape is independent of
/// insertion order and the root depends only on the set of entries. Updates are incremental: only
/// touched buckets and their paths to the root are rehashed. A proof of one entry (for a later
/// light client) is its bucket's leaf hashes plus 16 sibling hashes.
#[derive(Clone)]
pub struct StateTree {
    buckets: Vec<BTreeMap<KeyBytes, Hash>>,
    /// Heap layout: node 1 is the root, node i has children 2i and 2i+1, buckets sit at
    /// `BUCKETS + b`.
    nodes: Vec<Hash>,
    dirty: Vec<u32>,
    /// The hashes of one level while [`StateTree::root`] computes them, kept between calls: a
    /// block's levels were a fresh allocation each, and fresh memory costs page faults.
    hashes: Vec<Hash>,
}

impl Default for StateTree {
    fn default() -> Self {
        Self::new()
    }
}

impl StateTree {
    /// The tree of the empty state.
    pub fn new() -> StateTree {
        let mut nodes = vec![Hash::ZERO; 2 * BUCKETS];
        let empty = bucket_hash(&BTreeMap::new());
        for node in &mut nodes[BUCKETS..] {
            *node = empty;
        }
        // Every subtree of a level is the same while the tree is empty: hash each level once.
        let mut level_start = BUCKETS / 2;
        while level_start >= 1 {
            let child = nodes[2 * level_start];
            let h = Hash::tagged("depin/state-node", &[&child.0, &child.0]);
            for node in &mut nodes[level_start..2 * level_start] {
                *node = h;
            }
            level_start /= 2;
        }
        StateTree {
            buckets: vec![BTreeMap::new(); BUCKETS],
            nodes,
            dirty: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// Sets `key` to `value`, or removes it with `None`. Takes effect in the next [`root`](Self::root).
    pub fn set(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.place(bucket_of(key), key, value.map(|v| leaf_hash(key, v)));
    }

    /// [`set`](Self::set) for each of `entries`, in order, on all cores (a block's write set):
    /// the buckets and leaf hashes are computed in parallel tasks, then the buckets are filled
    /// in slices of [`PLACE_SPAN`], one task per slice, each bucket's entries in their order.
    pub fn set_many(&mut self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) {
        let placed: Vec<(usize, Option<Hash>)> = entries
            .par_iter()
            .with_min_len(PARALLEL_MIN_NODES)
            .map(|(key, value)| (bucket_of(key), value.as_ref().map(|v| leaf_hash(key, v))))
            .collect();
        if entries.len() < PARALLEL_MIN_NODES {
            for ((key, _), (b, leaf)) in entries.iter().zip(placed) {
                self.place(b, key, leaf);
            }
            return;
        }
        // A stable sort: a key set twice in one batch keeps its last value.
        let mut order: Vec<u32> = (0..entries.len() as u32).collect();
        order.sort_by_key(|&i| placed[i as usize].0);
        let bucket = |i: &u32| placed[*i as usize].0;
        self.buckets
            .par_chunks_mut(PLACE_SPAN)
            .enumerate()
            .for_each(|(slice, buckets)| {
                let first = slice * PLACE_SPAN;
                let from = order.partition_point(|i| bucket(i) < first);
                let to = order.partition_point(|i| bucket(i) < first + PLACE_SPAN);
                for &i in &order[from..to] {
                    let (b, leaf) = placed[i as usize];
                    put_leaf(&mut buckets[b - first], &entries[i as usize].0, leaf);
                }
            });
        self.dirty.extend(order.iter().map(|i| bucket(i) as u32));
    }

    /// Puts `key`'s leaf (or its removal) in bucket `b`.
    fn place(&mut self, b: usize, key: &[u8], leaf: Option<Hash>) {
        put_leaf(&mut self.buckets[b], key, leaf);
        self.dirty.push(b as u32);
    }

    /// The root over every entry set so far; rehashes only what changed since the last call.
    pub fn root(&mut self) -> Hash {
        if self.dirty.is_empty() {
            return self.nodes[1];
        }
        // The touched nodes of one level (buckets first, as node numbers), in order, each once;
        // each level's hashes depend only on the level below: computed on all cores, then
        // stored. The buffers are the tree's own, reused.
        let mut level = std::mem::take(&mut self.dirty);
        let mut hashes = std::mem::take(&mut self.hashes);
        level.sort_unstable();
        level.dedup();
        let buckets = &self.buckets;
        level
            .par_iter()
            .with_min_len(PARALLEL_MIN_NODES)
            .map(|&b| bucket_hash(&buckets[b as usize]))
            .collect_into_vec(&mut hashes);
        for (b, hash) in level.iter_mut().zip(&hashes) {
            *b += BUCKETS as u32;
            self.nodes[*b as usize] = *hash;
        }
        while level[0] > 1 {
            for node in level.iter_mut() {
                *node /= 2;
            }
            level.dedup();
            let nodes = &self.nodes;
            level
                .par_iter()
                .with_min_len(PARALLEL_MIN_NODES)
                .map(|&p| {
                    let p = p as usize;
                    Hash::tagged("depin/state-node", &[&nodes[2 * p].0, &nodes[2 * p + 1].0])
                })
                .collect_into_vec(&mut hashes);
            for (&p, hash) in level.iter().zip(&hashes) {
                self.nodes[p as usize] = *hash;
            }
        }
        level.clear();
        self.dirty = level;
        self.hashes = hashes;
        self.nodes[1]
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sets (`Some`) or removes (`None`) `key`'s leaf in `bucket`.
fn put_leaf(bucket: &mut BTreeMap<KeyBytes, Hash>, key: &[u8], leaf: Option<Hash>) {
    match leaf {
        Some(leaf) => {
            bucket.insert(KeyBytes::new(key), leaf);
        }
        None => {
            bucket.remove(&KeyBytes::new(key));
        }
    }
}

fn bucket_of(key: &[u8]) -> usize {
    let h = blake3::hash(key);
    let b = h.as_bytes();
    (u16::from_be_bytes([b[0], b[1]]) as usize) & (BUCKETS - 1)
}

fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    Hash::tagged("depin/state-leaf", &[key, value])
}

fn bucket_hash(bucket: &BTreeMap<KeyBytes, Hash>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"depin/state-bucket");
    for leaf in bucket.values() {
        h.update(&leaf.0);
    }
    Hash(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn list_root_shapes() {
        let a = Hash::tagged("t", &[b"a"]);
        let b = Hash::tagged("t", &[b"b"]);
        assert_eq!(list_root(&[a]), a);
        assert_ne!(list_root(&[a, b]), list_root(&[b, a]));
        assert_ne!(list_root(&[]), list_root(&[a]));
    }

    #[test]
    fn removing_everything_returns_to_the_empty_root() {
        let mut t = StateTree::new();
        let empty = t.root();
        t.set(b"k", Some(b"v"));
        assert_ne!(t.root(), empty);
        t.set(b"k", None);
        assert_eq!(t.root(), empty);
    }

    /// Thousands of entries: leaves and levels hashed in parallel tasks give the root of
    /// setting them one by one.
    #[test]
    fn a_batch_on_all_cores_gives_the_root_of_one_by_one() {
        let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0u32..20_000)
            .map(|i| {
                let key = Hash::tagged("k", &[&i.to_le_bytes()]).0[..9].to_vec();
                let value = (i % 7 != 0).then(|| i.to_be_bytes().to_vec());
                (key, value)
            })
            .chain((0u32..2_000).map(|i| {
                // Keys set again later in the same batch: the last value counts.
                let key = Hash::tagged("k", &[&(i * 9).to_le_bytes()]).0[..9].to_vec();
                (key, (i % 3 != 0).then(|| vec![i as u8; 3]))
            }))
            .collect();
        let mut one_by_one = StateTree::new();
        for (k, v) in &entries {
            one_by_one.set(k, v.as_deref());
        }
        let mut batched = StateTree::new();
        batched.set_many(&entries[..7_000]);
        batched.root();
        batched.set_many(&entries[7_000..]);
        assert_eq!(entries.len(), 22_000);
        assert_eq!(batched.root(), one_by_one.root());
        assert_eq!(batched.len(), one_by_one.len());
    }

    proptest! {
        /// The root depends on the final entries only: not on order, batching or history.
        #[test]
        fn root_is_a_function_of_the_entries(
            ops in proptest::collection::vec((0u8..40, proptest::option::of(any::<u8>())), 1..120),
            split in 0usize..120,
        ) {
            let mut incremental = StateTree::new();
            let mut model: BTreeMap<Vec<u8>, u8> = BTreeMap::new();
            for (i, (k, v)) in ops.iter().enumerate() {
                let key = vec![*k];
                incremental.set(&key, v.as_ref().map(std::slice::from_ref));
                match v {
                    Some(v) => { model.insert(key, *v); }
                    None => { model.remove(&key); }
                }
                if i == split { incremental.root(); }
            }
            let mut fresh = StateTree::new();
            for (k, v) in model.iter().rev() {
                fresh.set(k, Some(std::slice::from_ref(v)));
            }
            // The same operations as one batch, leaves hashed on all cores.
            let mut batched = StateTree::new();
            let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                ops.iter().map(|(k, v)| (vec![*k], v.map(|v| vec![v]))).collect();
            batched.set_many(&entries);
            prop_assert_eq!(incremental.root(), fresh.root());
            prop_assert_eq!(batched.root(), fresh.root());
            prop_assert_eq!(incremental.len(), model.len());
        }
    }
}
