//! Reed-Solomon erasure coding of a file into `k` data and `m` parity shards of equal length
//! (any `k` of the `k + m` rebuild the file), the client side of `depin storage put` / `get`.
//!
//! Defaults: `k = 4`, `m = 2`. Storage overhead is `(k + m) / k` = 1.5x and any two providers
//! may vanish or lie. Lower `k` wastes more space per loss tolerated (`k = 2, m = 2` is 2x);
//! higher `k` needs more distinct providers per file, which a young network does not have
//! (Storj's 29-of-80 assumes thousands of nodes). Every shard's length is a multiple of 64
//! bytes (the coder's SIMD word; it requires an even length).

use anyhow::{Context, Result, bail};

/// Data shards by default.
pub const DEFAULT_DATA_SHARDS: usize = 4;
/// Parity shards by default.
pub const DEFAULT_PARITY_SHARDS: usize = 2;
/// Each shard's length is a multiple of this, bytes.
pub const SHARD_ALIGN: usize = 64;

/// The length of every shard of a `size`-byte file cut into `k` data shards.
pub fn shard_len(size: u64, k: usize) -> Result<usize> {
    if size == 0 {
        bail!("the file is empty: there is nothing to store");
    }
    let k = u64::try_from(k.max(1)).expect("small");
    let per = size.div_ceil(k).div_ceil(SHARD_ALIGN as u64) * SHARD_ALIGN as u64;
    usize::try_from(per).context("the file is too large for this machine")
}

/// Checks `k` and `m` (the coder supports up to 32,768 of each; a network rarely has more
/// providers than 256, so that is the bound here).
pub fn check_counts(k: usize, m: usize) -> Result<()> {
    if k == 0 || m == 0 || k + m > 256 {
        bail!(
            "erasure coding needs at least 1 data and 1 parity shard and at most 256 in all (got {k} data, {m} parity): pass --data-shards and --parity-shards"
        );
    }
    Ok(())
}

/// Cuts `data` into `k` zero-padded data shards and computes `m` parity shards: `k + m` shards
/// of [`shard_len`] bytes, data first.
pub fn encode(data: &[u8], k: usize, m: usize) -> Result<Vec<Vec<u8>>> {
    check_counts(k, m)?;
    let len = shard_len(data.len() as u64, k)?;
    let mut shards: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            let start = (i * len).min(data.len());
            let end = ((i + 1) * len).min(data.len());
            let mut s = data[start..end].to_vec();
            s.resize(len, 0);
            s
        })
        .collect();
    let parity = reed_solomon_simd::encode(k, m, &shards).context("erasure coding the file")?;
    shards.extend(parity);
    Ok(shards)
}

/// Rebuilds the `size`-byte file from the shards that were retrieved (`shards[i]` is shard `i`
/// if it was retrieved and verified); needs any `k` of them.
pub fn decode(k: usize, m: usize, size: u64, shards: &[Option<Vec<u8>>]) -> Result<Vec<u8>> {
    check_counts(k, m)?;
    if shards.len() != k + m {
        bail!("expected {} shards, got {}", k + m, shards.len());
    }
    let have = shards.iter().filter(|s| s.is_some()).count();
    if have < k {
        bail!(
            "only {have} of the {} shards could be retrieved and verified; {k} are needed to rebuild the file",
            k + m
        );
    }
    let len = shard_len(size, k)?;
    if shards.iter().flatten().any(|s| s.len() != len) {
        bail!("a shard is not {len} bytes long");
    }
    let originals = shards[..k]
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)));
    let recovery = shards[k..]
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)));
    let restored =
        reed_solomon_simd::decode(k, m, originals, recovery).context("rebuilding the file")?;
    let mut out = Vec::with_capacity(k * len);
    for (i, shard) in shards[..k].iter().enumerate() {
        match (shard, restored.get(&i)) {
            (Some(s), _) => out.extend_from_slice(s),
            (None, Some(s)) => out.extend_from_slice(s),
            (None, None) => bail!("data shard {i} was neither retrieved nor rebuilt"),
        }
    }
    out.truncate(usize::try_from(size).context("the file is too large for this machine")?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any `k` of the `k + m` shards rebuild the file, for awkward sizes; fewer do not.
    #[test]
    fn any_k_shards_rebuild_the_file() {
        for (size, k, m) in [
            (1usize, 1, 1),
            (1000, 4, 2),
            (100_001, 3, 2),
            (65_536, 2, 2),
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 + i / 7) as u8).collect();
            let shards = encode(&data, k, m).unwrap();
            assert_eq!(shards.len(), k + m);
            // Drop every set of m shards in turn (sliding window) and rebuild.
            for first in 0..k + m {
                let mut got: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
                for j in 0..m {
                    got[(first + j) % (k + m)] = None;
                }
                assert_eq!(
                    decode(k, m, size as u64, &got).unwrap(),
                    data,
                    "{size} {k} {m}"
                );
            }
            let mut too_few: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
            for s in too_few.iter_mut().take(m + 1) {
                *s = None;
            }
            assert!(decode(k, m, size as u64, &too_few).is_err());
        }
        assert!(encode(&[], 4, 2).is_err());
        assert!(encode(b"x", 0, 2).is_err());
    }
}
