//! Signature verification on all cores: `ed25519-zebra`'s batch verification against ours
//! (`crypto::verify_many`, with and without its cache of decompressed keys), for batches whose
//! signatures come from a given number of distinct keys.

use std::time::Instant;

use depin_core::crypto::{self, KEY_CACHE_ENTRIES};
use depin_core::{Address, Keypair, Signature};
use depin_node::mempool::VERIFY_CHUNK;
use rayon::prelude::*;
use serde::Serialize;

/// What to measure.
#[derive(Clone, Debug)]
pub struct VerifyBench {
    /// Signatures verified per pass.
    pub signatures: usize,
    /// One row per number of distinct signers among the signatures.
    pub keys: Vec<usize>,
    /// Timed passes per method and row; the median is reported.
    pub passes: usize,
}

impl Default for VerifyBench {
    fn default() -> Self {
        VerifyBench {
            signatures: 65_536,
            keys: vec![256, 2_048, 16_384, 65_536],
            passes: 3,
        }
    }
}

/// One row: signatures per second on all cores, in batches of `chunk`, each method's median.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub keys: usize,
    pub signatures: usize,
    /// `crypto::verify` one by one, on all cores.
    pub single_per_s: f64,
    /// `ed25519-zebra`'s batch (`crypto::verify_many_zebra`), every key decompressed per batch.
    pub zebra_batch_per_s: f64,
    /// Ours without the cache (`crypto::verify_many_uncached`).
    pub ours_uncached_per_s: f64,
    /// Ours with the cache (`crypto::verify_many`), after one untimed pass filled it.
    pub ours_cached_per_s: f64,
    /// `ours_cached_per_s / zebra_batch_per_s`.
    pub cached_vs_zebra: f64,
}

/// The report of `depin bench verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub rows: Vec<Row>,
    /// Signatures per batch (the mempool's chunk).
    pub chunk: usize,
    /// Keys the cache holds at most.
    pub cache_entries: usize,
    pub cores: usize,
    pub passes: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the benchmark; fails if a method refuses a valid signature.
pub fn run(cfg: &VerifyBench) -> Result<VerifyReport, String> {
    if cfg.signatures < 2 || cfg.passes == 0 || cfg.keys.contains(&0) {
        return Err("need at least 2 signatures, 1 pass and 1 key per row".into());
    }
    let mut rows = Vec::new();
    for &n in &cfg.keys {
        let n = n.min(cfg.signatures);
        let keys: Vec<Keypair> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                seed[8] = 0x5e;
                Keypair::from_seed(seed)
            })
            .collect();
        let addresses: Vec<Address> = keys.iter().map(Keypair::address).collect();
        // Messages the size of a compute transaction's signing bytes.
        let signed: Vec<(Vec<u8>, Signature)> = (0..cfg.signatures)
            .into_par_iter()
            .map(|j| {
                let mut m = vec![0u8; 160];
                m[..8].copy_from_slice(&(j as u64).to_le_bytes());
                let s = keys[j % n].sign(&m);
                (m, s)
            })
            .collect();
        let items: Vec<(&Address, &[u8], &Signature)> = signed
            .iter()
            .enumerate()
            .map(|(j, (m, s))| (&addresses[j % n], m.as_slice(), s))
            .collect();
        type Batch = fn(&[(&Address, &[u8], &Signature)]) -> Vec<bool>;
        let time = |f: Batch| -> Result<f64, String> {
            let t = Instant::now();
            let ok: usize = items
                .par_chunks(VERIFY_CHUNK)
                .map(|c| f(c).iter().filter(|v| **v).count())
                .sum();
            let rate = items.len() as f64 / t.elapsed().as_secs_f64();
            if ok != items.len() {
                return Err(format!(
                    "{} of {} valid signatures refused",
                    items.len() - ok,
                    items.len()
                ));
            }
            Ok(rate)
        };
        let single: Batch = |c| c.iter().map(|(a, m, s)| crypto::verify(a, m, s)).collect();
        let cached: Batch = crypto::verify_many;
        time(cached)?; // fills the cache
        let (mut s, mut z, mut u, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..cfg.passes {
            s.push(time(single)?);
            z.push(time(crypto::verify_many_zebra)?);
            u.push(time(crypto::verify_many_uncached)?);
            c.push(time(cached)?);
        }
        let (zebra, ours) = (median(z), median(c));
        rows.push(Row {
            keys: n,
            signatures: cfg.signatures,
            single_per_s: median(s),
            zebra_batch_per_s: zebra,
            ours_uncached_per_s: median(u),
            ours_cached_per_s: ours,
            cached_vs_zebra: ours / zebra,
        });
    }
    Ok(VerifyReport {
        rows,
        chunk: VERIFY_CHUNK,
        cache_entries: KEY_CACHE_ENTRIES,
        cores: rayon::current_num_threads(),
        passes: cfg.passes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_accepts_every_signature() {
        let r = run(&VerifyBench {
            signatures: 600,
            keys: vec![3, 600],
            passes: 1,
        })
        .unwrap();
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[1].keys, 600);
        assert!(r.rows.iter().all(|row| row.ours_cached_per_s > 0.0));
    }
}
