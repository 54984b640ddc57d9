//! Proofs that a provider holds a shard: the shard's root is its plain BLAKE3 hash (BLAKE3 is
//! itself a Merkle tree over 1 KiB chunks), a challenge names a chunk by unbiased sampling from
//! chain entropy, and an opening is the chunk with its inclusion path (bao-style), checked on
//! the ledger against the root.
//!
//! The tree is BLAKE3's own: chunks of [`CHUNK_BYTES`], paired bottom-up level by level with the
//! odd last node carried up unchanged, which is exactly BLAKE3's "the left subtree is the largest
//! power of two of chunks" shape. The provider side ([`ShardTree`]) keeps only the chaining values
//! of 16 KiB chunk groups (bao-tree's outboard layout, 0.2% of the data) and rehashes the one
//! group a challenge falls in, so committing hashes 16 KiB at a time (BLAKE3's SIMD width) and
//! answering reads only the challenged groups.

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

use crate::crypto::{Address, Hash};

/// BLAKE3's chunk: the leaf of the tree and of every opening, bytes.
pub const CHUNK_BYTES: u64 = 1024;
/// Chunks per group the provider keeps chaining values for (bao-tree's `chunk_log` 4).
pub const GROUP_CHUNKS: u64 = 16;
/// Bytes per chunk group.
pub const GROUP_BYTES: u64 = CHUNK_BYTES * GROUP_CHUNKS;

/// Chunks in a shard of `size` bytes (at least one).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_BYTES).max(1)
}

/// Sibling hashes an opening of any chunk of a `size`-byte shard carries, at most.
pub fn max_path_len(size: u64) -> usize {
    let n = chunk_count(size);
    (64 - (n - 1).leading_zeros()) as usize
}

/// Bytes of chunk `index` of a `size`-byte shard.
pub fn chunk_len(size: u64, index: u64) -> u64 {
    let start = index * CHUNK_BYTES;
    size.saturating_sub(start).min(CHUNK_BYTES)
}

/// The challenge seed of one deal in one proving window: nobody knows it before the block whose
/// hash is `entropy` is final, and it differs for every provider, deal and period.
pub fn challenge_seed(entropy: &Hash, provider: &Address, deal: u64, period: u64) -> Hash {
    Hash::tagged(
        "depin/storage/challenge/v1",
        &[
            &entropy.0,
            &provider.0,
            &deal.to_le_bytes(),
            &period.to_le_bytes(),
        ],
    )
}

/// A uniform integer below `n` (> 0) from a seed, with no modulo bias: 64-bit draws are widened
/// and multiplied by `n` (Lemire), and the few draws that fall in the biased low zone are
/// rejected and redrawn from the next counter.
pub fn uniform_below(seed: &Hash, stream: u64, n: u64) -> u64 {
    assert!(n > 0, "sampling from an empty range");
    // 2^64 mod n: draws whose low product word is below it would make small results likelier.
    let threshold = n.wrapping_neg() % n;
    for attempt in 0u64.. {
        let h = Hash::tagged(
            "depin/storage/uniform/v1",
            &[&seed.0, &stream.to_le_bytes(), &attempt.to_le_bytes()],
        );
        let x = u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"));
        let m = u128::from(x) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
    unreachable!("a rejection has probability below n / 2^64")
}

/// The chunks challenged in one window: `count` independent uniform draws below the shard's chunk
/// count (with replacement, so the pass probability of a shard missing a fraction `f` of its
/// chunks is exactly `(1 - f)^count`).
pub fn challenged_chunks(seed: &Hash, size: u64, count: u32) -> Vec<u64> {
    let n = chunk_count(size);
    (0..u64::from(count))
        .map(|i| uniform_below(seed, i, n))
        .collect()
}

/// Why an opening does not prove the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpeningFault {
    /// The chunk has the wrong number of bytes for its place in the shard.
    WrongLength { expected: u64, got: u64 },
    /// The path has the wrong number of sibling hashes for the chunk's place in the tree.
    WrongPathLength { expected: usize, got: usize },
    /// The hashes do not lead to the shard's root.
    RootMismatch,
}

/// Checks that `chunk` is chunk `index` of the shard of `size` bytes whose BLAKE3 hash is `root`,
/// given the sibling chaining values from the leaf up (`path`). Costs one chunk compression and
/// one parent compression per level.
pub fn verify_opening(
    root: &Hash,
    size: u64,
    index: u64,
    chunk: &[u8],
    path: &[Hash],
) -> Result<(), OpeningFault> {
    let n = chunk_count(size);
    let expected = chunk_len(size, index);
    if index >= n || chunk.len() as u64 != expected {
        return Err(OpeningFault::WrongLength {
            expected,
            got: chunk.len() as u64,
        });
    }
    let expected_path = path_len(n, index);
    if path.len() != expected_path {
        return Err(OpeningFault::WrongPathLength {
            expected: expected_path,
            got: path.len(),
        });
    }
    let cv = (n > 1).then(|| subtree_cv(index * CHUNK_BYTES, chunk));
    climb(root, chunk, cv, index, n, path)
}

/// From a leaf (chunk or group) of a tree of `n` leaves up to the root: `leaf` is the leaf's
/// bytes (hashed as the root when it is the only leaf), `cv` its chaining value otherwise, and
/// `path` its siblings from the bottom up (its length already checked).
fn climb(
    root: &Hash,
    leaf: &[u8],
    cv: Option<ChainingValue>,
    index: u64,
    n: u64,
    path: &[Hash],
) -> Result<(), OpeningFault> {
    let Some(mut cv) = cv else {
        return if blake3::hash(leaf).as_bytes() == &root.0 {
            Ok(())
        } else {
            Err(OpeningFault::RootMismatch)
        };
    };
    let (mut idx, mut width) = (index, n);
    let mut siblings = path.iter();
    while width > 1 {
        let sibling = if idx % 2 == 1 {
            Some((true, siblings.next().expect("length checked")))
        } else if idx + 1 < width {
            Some((false, siblings.next().expect("length checked")))
        } else {
            None
        };
        if let Some((sibling_is_left, s)) = sibling {
            let (l, r) = if sibling_is_left {
                (&s.0, &cv)
            } else {
                (&cv, &s.0)
            };
            if width == 2 {
                let root_hash = merge_subtrees_root(l, r, Mode::Hash);
                return if root_hash.as_bytes() == &root.0 {
                    Ok(())
                } else {
                    Err(OpeningFault::RootMismatch)
                };
            }
            cv = merge_subtrees_non_root(l, r, Mode::Hash);
        }
        idx /= 2;
        width = width.div_ceil(2);
    }
    unreachable!("a tree of two or more leaves ends in a root merge")
}

/// 16 KiB chunk groups in a shard of `size` bytes (at least one).
pub fn group_count(size: u64) -> u64 {
    size.div_ceil(GROUP_BYTES).max(1)
}

/// Bytes of group `index` of a `size`-byte shard.
pub fn group_len(size: u64, index: u64) -> u64 {
    size.saturating_sub(index * GROUP_BYTES).min(GROUP_BYTES)
}

/// Checks that `bytes` are group `index` (16 KiB, shorter at the end) of the shard of `size`
/// bytes whose BLAKE3 hash is `root`, given the sibling chaining values of the group from the
/// group level up ([`ShardTree::group_path`]): what a retrieval client checks each group it is
/// served against, bao-style, without the rest of the shard.
pub fn verify_group(
    root: &Hash,
    size: u64,
    index: u64,
    bytes: &[u8],
    path: &[Hash],
) -> Result<(), OpeningFault> {
    let n = group_count(size);
    let expected = group_len(size, index);
    if index >= n || bytes.len() as u64 != expected {
        return Err(OpeningFault::WrongLength {
            expected,
            got: bytes.len() as u64,
        });
    }
    let expected_path = path_len(n, index);
    if path.len() != expected_path {
        return Err(OpeningFault::WrongPathLength {
            expected: expected_path,
            got: path.len(),
        });
    }
    let cv = (n > 1).then(|| subtree_cv(index * GROUP_BYTES, bytes));
    climb(root, bytes, cv, index, n, path)
}

/// Sibling hashes on the path of chunk `index` among `n` chunks (a node carried up unchanged has
/// none at that level).
fn path_len(n: u64, index: u64) -> usize {
    let (mut idx, mut width, mut len) = (index, n, 0);
    while width > 1 {
        if idx % 2 == 1 || idx + 1 < width {
            len += 1;
        }
        idx /= 2;
        width = width.div_ceil(2);
    }
    len
}

/// The chaining value of the subtree of `data` starting at byte `offset` of the shard (`data` a
/// whole aligned subtree, or the right edge of the shard).
fn subtree_cv(offset: u64, data: &[u8]) -> ChainingValue {
    blake3::Hasher::new()
        .set_input_offset(offset)
        .update(data)
        .finalize_non_root()
}

/// Levels of a tree built bottom-up from `leaves`, leaves first, ending with the level of two
/// nodes (the root is not a chaining value and is not kept).
fn build_levels(leaves: Vec<ChainingValue>) -> Vec<Vec<ChainingValue>> {
    let mut levels = vec![leaves];
    while levels.last().expect("one level").len() > 2 {
        let below = levels.last().expect("one level");
        let mut up = Vec::with_capacity(below.len().div_ceil(2));
        for pair in below.chunks(2) {
            up.push(match pair {
                [l, r] => merge_subtrees_non_root(l, r, Mode::Hash),
                [single] => *single,
                _ => unreachable!(),
            });
        }
        levels.push(up);
    }
    levels
}

/// Sibling values of node `index` in `levels` from the bottom up.
fn siblings(levels: &[Vec<ChainingValue>], mut index: usize, out: &mut Vec<Hash>) {
    for level in levels {
        if level.len() < 2 {
            break;
        }
        let sibling = index ^ 1;
        if sibling < level.len() {
            out.push(Hash(level[sibling]));
        }
        index /= 2;
    }
}

/// A provider's commitment to one shard: the chaining values of its 16 KiB chunk groups and the
/// levels above them. Built once when the shard is stored; an opening then reads only the
/// challenged chunk's group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardTree {
    pub size: u64,
    pub root: Hash,
    /// Group chaining values and the levels above them (empty for a one-group shard).
    levels: Vec<Vec<ChainingValue>>,
}

impl ShardTree {
    /// Commits to `data` (hashing 16 KiB groups, BLAKE3's SIMD width, then the levels above).
    pub fn build(data: &[u8]) -> ShardTree {
        let size = data.len() as u64;
        if size <= GROUP_BYTES {
            return ShardTree {
                size,
                root: Hash(*blake3::hash(data).as_bytes()),
                levels: Vec::new(),
            };
        }
        let groups: Vec<ChainingValue> = data
            .chunks(GROUP_BYTES as usize)
            .enumerate()
            .map(|(g, bytes)| subtree_cv(g as u64 * GROUP_BYTES, bytes))
            .collect();
        let levels = build_levels(groups);
        // The root is the top pair's root merge: the bytes are hashed once.
        let top = levels.last().expect("two groups or more");
        let root = Hash(*merge_subtrees_root(&top[0], &top[1], Mode::Hash).as_bytes());
        ShardTree { size, root, levels }
    }

    /// Byte range of the group holding chunk `index` (what an opening must read).
    pub fn group_range(&self, index: u64) -> std::ops::Range<u64> {
        let start = index / GROUP_CHUNKS * GROUP_BYTES;
        start..(start + GROUP_BYTES).min(self.size)
    }

    /// The sibling chaining values of group `index` from the group level up (what
    /// [`verify_group`] checks a served group with).
    pub fn group_path(&self, index: u64) -> Vec<Hash> {
        let mut path = Vec::new();
        siblings(&self.levels, index as usize, &mut path);
        path
    }

    /// The opening of chunk `index` given the bytes of its group (`group` read from
    /// [`ShardTree::group_range`]): the chunk and its path.
    pub fn open(&self, index: u64, group: &[u8]) -> (Vec<u8>, Vec<Hash>) {
        let range = self.group_range(index);
        assert_eq!(
            group.len() as u64,
            range.end - range.start,
            "the whole group"
        );
        let in_group = (index % GROUP_CHUNKS) as usize;
        let chunk_start = in_group * CHUNK_BYTES as usize;
        let chunk_end = (chunk_start + CHUNK_BYTES as usize).min(group.len());
        let chunk = group[chunk_start..chunk_end].to_vec();
        let mut path = Vec::new();
        let chunk_cvs: Vec<ChainingValue> = group
            .chunks(CHUNK_BYTES as usize)
            .enumerate()
            .map(|(c, bytes)| subtree_cv(range.start + c as u64 * CHUNK_BYTES, bytes))
            .collect();
        if chunk_cvs.len() > 1 {
            let mut inner = build_levels(chunk_cvs);
            // Within a group, the levels go up to the group's own node; the top pair is a
            // non-root merge unless the group is the whole shard.
            if self.levels.is_empty() {
                siblings(&inner, in_group, &mut path);
            } else {
                let top = inner.last().expect("a level");
                if top.len() == 2 {
                    let node = merge_subtrees_non_root(&top[0], &top[1], Mode::Hash);
                    inner.push(vec![node]);
                }
                siblings(&inner, in_group, &mut path);
            }
        }
        let group_index = (index / GROUP_CHUNKS) as usize;
        siblings(&self.levels, group_index, &mut path);
        (chunk, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 1024) as u8).collect()
    }

    /// Every chunk of shards of awkward sizes opens and verifies against the plain BLAKE3 hash,
    /// and a flipped byte, a wrong index or a cut path does not.
    #[test]
    fn openings_verify_against_the_plain_blake3_hash() {
        for len in [
            1usize, 1023, 1024, 1025, 3000, 16_384, 16_385, 40_000, 65_536, 100_000, 300_001,
        ] {
            let bytes = data(len);
            let tree = ShardTree::build(&bytes);
            assert_eq!(tree.root.0, *blake3::hash(&bytes).as_bytes());
            let n = chunk_count(len as u64);
            for index in 0..n {
                let r = tree.group_range(index);
                let (chunk, path) = tree.open(index, &bytes[r.start as usize..r.end as usize]);
                assert!(path.len() <= max_path_len(len as u64));
                assert_eq!(
                    verify_opening(&tree.root, len as u64, index, &chunk, &path),
                    Ok(()),
                    "len {len} chunk {index}"
                );
                let mut bad = chunk.clone();
                bad[0] ^= 1;
                assert!(verify_opening(&tree.root, len as u64, index, &bad, &path).is_err());
                if n > 1 {
                    let other = (index + 1) % n;
                    assert!(verify_opening(&tree.root, len as u64, other, &chunk, &path).is_err());
                    assert!(
                        verify_opening(
                            &tree.root,
                            len as u64,
                            index,
                            &chunk,
                            &path[..path.len() - 1]
                        )
                        .is_err()
                    );
                }
            }
        }
    }

    /// Every group of shards of awkward sizes verifies with its path against the plain BLAKE3
    /// hash; a flipped byte, another group's place or a cut path does not.
    #[test]
    fn groups_verify_against_the_plain_blake3_hash() {
        for len in [1usize, 16_384, 16_385, 40_000, 65_536, 300_001] {
            let bytes = data(len);
            let tree = ShardTree::build(&bytes);
            let n = group_count(len as u64);
            for g in 0..n {
                let r = tree.group_range(g * GROUP_CHUNKS);
                let group = &bytes[r.start as usize..r.end as usize];
                let path = tree.group_path(g);
                assert_eq!(
                    verify_group(&tree.root, len as u64, g, group, &path),
                    Ok(())
                );
                let mut bad = group.to_vec();
                let mid = bad.len() / 2;
                bad[mid] ^= 1;
                assert_eq!(
                    verify_group(&tree.root, len as u64, g, &bad, &path),
                    Err(OpeningFault::RootMismatch)
                );
                if n > 1 {
                    assert!(
                        verify_group(&tree.root, len as u64, (g + 1) % n, group, &path).is_err()
                    );
                    assert!(
                        verify_group(&tree.root, len as u64, g, group, &path[..path.len() - 1])
                            .is_err()
                    );
                }
            }
        }
    }

    /// Draws cover the range evenly (a chi-square bound with a fixed seed), including a range
    /// whose size does not divide 2^64.
    #[test]
    fn sampling_is_uniform() {
        let seed = Hash::tagged("test", &[]);
        let n = 7u64;
        let draws = 70_000u64;
        let mut counts = [0u64; 7];
        for i in 0..draws {
            counts[uniform_below(&seed, i, n) as usize] += 1;
        }
        let expected = draws / n;
        let chi2: u64 = counts
            .iter()
            .map(|&c| (c.abs_diff(expected)).pow(2) * 1000 / expected)
            .sum();
        // 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
        assert!(chi2 < 22_460, "chi2 x1000 = {chi2}, counts {counts:?}");
        assert_eq!(uniform_below(&seed, 0, 1), 0);
    }
}
