//! What a storage provider holds of each shard, and how it answers challenges from it: an honest
//! provider keeps every byte (on disk under its home, or in memory) with the shard's chunk-group
//! tree, and reads only the groups its challenges fall in. The cheaters hold less: a deleter keeps
//! a share of the groups, a regenerator keeps only the seed its own data came from, an
//! outsourcer keeps nothing.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use depin_core::Hash;
use depin_core::modules::storage::actions::Opening;
use depin_core::modules::storage::proof::{GROUP_BYTES, ShardTree, challenged_chunks};

/// Where the bytes of a shard are.
#[derive(Clone, Debug)]
pub enum Bytes {
    /// Every byte, in memory.
    Memory(Vec<u8>),
    /// Every byte, in a file (groups are read with a seek).
    Disk(PathBuf),
    /// Only the groups marked kept; the rest were deleted.
    Partial { bytes: Vec<u8>, kept: Vec<bool> },
    /// Nothing but the seed the (self-dealt) data is generated from.
    Seed(u64),
    /// Nothing at all.
    Nothing,
}

/// A shard as its provider holds it: the tree (the 0.2% outboard every cheater keeps too, since
/// it is cheap) and whatever bytes it kept.
#[derive(Clone, Debug)]
pub struct HeldShard {
    pub tree: ShardTree,
    pub bytes: Bytes,
}

/// Data generated from a seed: what a self-dealer "stores" (it regenerates any group on demand).
pub fn generated(seed: u64, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    blake3::Hasher::new_derive_key("depin/agent/storage/generated/v1")
        .update(&seed.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn generated_range(seed: u64, start: u64, end: u64) -> Vec<u8> {
    let mut out = vec![0u8; (end - start) as usize];
    let mut xof = blake3::Hasher::new_derive_key("depin/agent/storage/generated/v1")
        .update(&seed.to_le_bytes())
        .finalize_xof();
    xof.set_position(start);
    xof.fill(&mut out);
    out
}

impl HeldShard {
    /// Holds `data` in memory.
    pub fn in_memory(data: Vec<u8>) -> HeldShard {
        HeldShard {
            tree: ShardTree::build(&data),
            bytes: Bytes::Memory(data),
        }
    }

    /// Writes `data` to `dir/<root>.shard` and holds it there.
    pub fn on_disk(dir: &Path, data: &[u8]) -> Result<HeldShard> {
        HeldShard::write(dir, data, ShardTree::build(data))
    }

    /// [`HeldShard::on_disk`] with the shard's tree already built from `data`.
    pub fn write(dir: &Path, data: &[u8], tree: ShardTree) -> Result<HeldShard> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.shard", tree.root.to_hex()));
        let mut f = File::create(&path).with_context(|| format!("writing {}", path.display()))?;
        f.write_all(data)?;
        f.sync_all()?;
        Ok(HeldShard {
            tree,
            bytes: Bytes::Disk(path),
        })
    }

    /// Loads a shard file written by [`HeldShard::on_disk`] (its tree is rebuilt from it).
    pub fn load(path: &Path) -> Result<HeldShard> {
        let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(HeldShard {
            tree: ShardTree::build(&data),
            bytes: Bytes::Disk(path.to_path_buf()),
        })
    }

    /// The shard of `data` with only about `keep_per_mille` of its groups kept (chosen from
    /// the root, so the deleter itself knows which).
    pub fn partial(data: Vec<u8>, keep_per_mille: u16) -> HeldShard {
        let tree = ShardTree::build(&data);
        let groups = data.len().div_ceil(GROUP_BYTES as usize).max(1);
        let kept = (0..groups)
            .map(|g| {
                let h = Hash::tagged(
                    "depin/agent/keep",
                    &[&tree.root.0, &(g as u64).to_le_bytes()],
                );
                u16::from_le_bytes([h.0[0], h.0[1]]) % 1000 < keep_per_mille
            })
            .collect();
        HeldShard {
            tree,
            bytes: Bytes::Partial { bytes: data, kept },
        }
    }

    /// A self-dealt shard of `size` bytes generated from `seed` (only the seed is kept).
    pub fn from_seed(seed: u64, size: usize) -> HeldShard {
        HeldShard {
            tree: ShardTree::build(&generated(seed, size)),
            bytes: Bytes::Seed(seed),
        }
    }

    /// Bytes actually kept.
    pub fn stored_bytes(&self) -> u64 {
        match &self.bytes {
            Bytes::Memory(b) => b.len() as u64,
            Bytes::Disk(_) => self.tree.size,
            Bytes::Partial { bytes, kept } => {
                let per = GROUP_BYTES.min(bytes.len() as u64);
                kept.iter().filter(|k| **k).count() as u64 * per
            }
            Bytes::Seed(_) => 8,
            Bytes::Nothing => 0,
        }
    }

    /// The bytes of the group holding `chunk`, if held.
    pub fn group(&self, chunk: u64) -> Result<Option<Vec<u8>>> {
        let r = self.tree.group_range(chunk);
        Ok(match &self.bytes {
            Bytes::Memory(b) => Some(b[r.start as usize..r.end as usize].to_vec()),
            Bytes::Disk(path) => {
                let mut f =
                    File::open(path).with_context(|| format!("opening {}", path.display()))?;
                f.seek(SeekFrom::Start(r.start))?;
                let mut out = vec![0; (r.end - r.start) as usize];
                match f.read_exact(&mut out) {
                    Ok(()) => Some(out),
                    // A damaged (truncated) file: that group is gone.
                    Err(_) => None,
                }
            }
            Bytes::Partial { bytes, kept } => {
                let g = (r.start / GROUP_BYTES) as usize;
                kept[g].then(|| bytes[r.start as usize..r.end as usize].to_vec())
            }
            Bytes::Seed(seed) => Some(generated_range(*seed, r.start, r.end)),
            Bytes::Nothing => None,
        })
    }

    /// Openings for the challenges of `seed` (`k` of them), or `None` if a challenged group is
    /// not held (or no longer matches the root).
    pub fn answer(&self, seed: &Hash, k: u32) -> Result<Option<Vec<Opening>>> {
        let mut openings = Vec::with_capacity(k as usize);
        for chunk in challenged_chunks(seed, self.tree.size, k) {
            let Some(group) = self.group(chunk)? else {
                return Ok(None);
            };
            let (chunk_bytes, path) = self.tree.open(chunk, &group);
            if depin_core::modules::storage::proof::verify_opening(
                &self.tree.root,
                self.tree.size,
                chunk,
                &chunk_bytes,
                &path,
            )
            .is_err()
            {
                // Damaged bytes: a proof would be refused; better declare the fault.
                return Ok(None);
            }
            openings.push(Opening {
                chunk: chunk_bytes,
                path,
            });
        }
        Ok(Some(openings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::modules::storage::proof::verify_opening;

    #[test]
    fn every_holding_answers_what_it_holds_and_only_that() {
        let data = generated(7, 200_000);
        let seed = Hash::tagged("t", &[]);
        let full = HeldShard::in_memory(data.clone());
        let openings = full.answer(&seed, 4).unwrap().expect("holds everything");
        let chunks = challenged_chunks(&seed, data.len() as u64, 4);
        for (c, o) in chunks.iter().zip(&openings) {
            verify_opening(&full.tree.root, full.tree.size, *c, &o.chunk, &o.path).unwrap();
        }
        let regenerated = HeldShard::from_seed(7, 200_000);
        assert_eq!(regenerated.tree.root, full.tree.root);
        assert_eq!(regenerated.answer(&seed, 4).unwrap(), Some(openings));
        let none = HeldShard {
            tree: full.tree.clone(),
            bytes: Bytes::Nothing,
        };
        assert_eq!(none.answer(&seed, 4).unwrap(), None);
        let dir = std::env::temp_dir().join(format!("depin-shards-{}", std::process::id()));
        let disk = HeldShard::on_disk(&dir, &data).unwrap();
        assert!(disk.answer(&seed, 4).unwrap().is_some());
        fs::remove_dir_all(dir).ok();
    }
}
