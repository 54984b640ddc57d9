//! Storage benchmark: the ledger's cost of proofs of storage. Openings verified per second
//! against the raw BLAKE3 rate of the same run (and committing to a shard against hashing it);
//! proof transactions through real blocks (mempool, every check, durable commits); and the
//! block that settles a proving window of `shards` live deals and closes the epoch, against
//! reading every deal record once from the same state.

use std::path::Path;
use std::time::Instant;

use depin_core::economics::TokenPrice;
use depin_core::genesis::Allocation;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, OpenDeal, Opening, RegisterProvider, SubmitStorageProof,
    sign_onboarding,
};
use depin_core::modules::storage::params::{GIB, preset};
use depin_core::modules::storage::proof::{
    ShardTree, challenge_seed, challenged_chunks, verify_opening,
};
use depin_core::modules::storage::records::{StorageView, deal_key};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::services::demand::params;
use depin_core::{Action, Amount, Hash, Keypair, StateRead, Transaction};
use rayon::prelude::*;
use serde::Serialize;

use crate::driver::Driver;

/// What to run.
#[derive(Clone, Debug)]
pub struct StorageBench {
    /// Live deals (shards) settled in the measured window.
    pub shards: usize,
    /// Providers holding them (each proves its deals in the one window of the period).
    pub providers: usize,
    /// Bytes of each shard (one 16 KiB group by default, so the run needs little memory).
    pub shard_bytes: usize,
    /// Size of the shard whose openings are verified off-chain, MiB.
    pub opening_shard_mib: usize,
    pub max_block_txs: u32,
}

impl Default for StorageBench {
    fn default() -> Self {
        StorageBench {
            shards: 100_000,
            providers: 100,
            shard_bytes: 16 * 1024,
            opening_shard_mib: 64,
            max_block_txs: 10_000,
        }
    }
}

/// Results, printed as JSON by `depin bench storage --json`.
#[derive(Clone, Debug, Serialize)]
pub struct StorageReport {
    /// `blake3::hash` of the opening shard's bytes, MB/s (one core): the physical rate.
    pub raw_blake3_mb_per_s: f64,
    /// Committing to the same bytes (`ShardTree::build`), MB/s, and over the raw rate.
    pub commit_mb_per_s: f64,
    pub commit_over_raw: f64,
    /// Valid openings of the shard verified per second on one core (`verify_opening`).
    pub proof_openings_verified_per_s: f64,
    /// Bytes BLAKE3 compresses per opening (the chunk and one 64-byte block per path level),
    /// and the verification's hashing rate over the raw rate.
    pub bytes_hashed_per_opening: f64,
    pub openings_over_raw: f64,
    /// Deal openings through real blocks per second (setup, for scale).
    pub deals_opened_per_s: f64,
    /// Proof transactions (each `challenges` openings) admitted, executed and committed per
    /// second through real blocks; their openings per second.
    pub proof_txs_per_s: f64,
    pub proof_openings_per_s_in_blocks: f64,
    pub challenges: u32,
    /// The block settling the window of `shards` proven deals and closing the epoch, seconds.
    pub close_seconds: f64,
    /// Reading every deal record once from the same state, seconds; and the close over it.
    pub read_deals_seconds: f64,
    pub close_over_read: f64,
    /// Deals the close found proven (all of them, checked).
    pub deals_proven: u64,
    pub shards: usize,
    pub providers: usize,
    pub shard_bytes: usize,
    pub blocks: u64,
    pub cores: usize,
}

/// Base units of one whole token (6 decimals).
const TOKEN: u128 = 1_000_000;
/// Blocks per epoch (= one proving window: every provider proves in the same window).
const EPOCH_BLOCKS: u64 = 400;

fn shard(i: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new_derive_key("depin/bench/storage/shard/v1")
        .update(&(i as u64).to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// The off-chain part: raw hashing, commit and opening verification of one shard.
fn openings(mib: usize) -> (f64, f64, f64, f64) {
    let data = shard(u32::MAX as usize, mib.max(1) << 20);
    let mb = data.len() as f64 / 1e6;
    let (mut raw, mut commit) = (f64::MAX, f64::MAX);
    let mut tree = None;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(blake3::hash(&data));
        raw = raw.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        tree = Some(ShardTree::build(&data));
        commit = commit.min(t.elapsed().as_secs_f64());
    }
    let tree = tree.expect("built");
    let seed = Hash::tagged("depin/bench/storage/openings", &[]);
    let opened: Vec<(u64, Vec<u8>, Vec<Hash>)> = challenged_chunks(&seed, tree.size, 50_000)
        .into_iter()
        .map(|c| {
            let r = tree.group_range(c);
            let (chunk, path) = tree.open(c, &data[r.start as usize..r.end as usize]);
            (c, chunk, path)
        })
        .collect();
    let hashed: usize = opened.iter().map(|(_, c, p)| c.len() + 64 * p.len()).sum();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for (c, chunk, path) in &opened {
            verify_opening(&tree.root, tree.size, *c, chunk, path).expect("a valid opening");
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let per_s = opened.len() as f64 / best;
    let bytes_per = hashed as f64 / opened.len() as f64;
    (mb / raw, mb / commit, per_s, bytes_per)
}

/// Runs the benchmark with its database in `dir`.
pub fn run(cfg: &StorageBench, dir: &Path) -> Result<StorageReport, String> {
    let (raw, commit, per_s, bytes_per) = openings(cfg.opening_shard_mib);

    let p = cfg.providers.max(1);
    let per = cfg.shards.div_ceil(p).max(1);
    let n = per * p;
    let seeded = |tag: u8, i: usize| {
        let mut seed = [tag; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        Keypair::from_seed(seed)
    };
    let validator = Keypair::from_seed([0xe0; 32]);
    let owner = Keypair::from_seed([0xe1; 32]);
    let treasury = Keypair::from_seed([0xe2; 32]);
    let oracle = Keypair::from_seed([0xe3; 32]);
    let devices: Vec<Keypair> = (0..p).map(|i| seeded(0xe4, i)).collect();
    // Provider i's deals are all paid by client i (a client never owns its provider).
    let clients: Vec<Keypair> = (0..p).map(|i| seeded(0xe5, i)).collect();
    // Shard j of every provider is the same bytes: one live deal per provider and root.
    let trees: Vec<(Vec<u8>, ShardTree)> = (0..per)
        .into_par_iter()
        .map(|j| {
            let bytes = shard(j, cfg.shard_bytes.max(1));
            let tree = ShardTree::build(&bytes);
            (bytes, tree)
        })
        .collect();

    let storage = preset(EPOCH_BLOCKS);
    let challenges = storage.challenges_per_window;
    let demand = params::preset(vec![oracle.address()], 100);
    let mut allocations = vec![
        Allocation {
            address: owner.address(),
            amount: "1000000".into(),
        },
        Allocation {
            address: oracle.address(),
            amount: "10".into(),
        },
    ];
    allocations.extend(clients.iter().map(|c| Allocation {
        address: c.address(),
        amount: "1000".into(),
    }));
    let genesis = crate::BenchNetwork {
        name: "storage",
        epoch_length_blocks: EPOCH_BLOCKS,
        max_block_txs: cfg.max_block_txs,
        validator: validator.address(),
        treasury: treasury.address(),
        allocations,
        modules: depin_core::modules::ModulesGenesis {
            storage: Some(storage),
            demand: Some(demand),
            ..Default::default()
        },
    }
    .genesis();
    let network = genesis.network();
    let chain_id = network.chain_id.clone();
    let (node, mut producer) = crate::open_node(genesis, dir, validator, 1_000_000, 1 << 30)?;
    let mut chain = Driver::new(&node, &mut producer);

    let price = Action::from(SubmitPrice {
        price: TokenPrice(50_000_000),
        observed_at_ms: chain.time_ms,
    });
    chain.settle(vec![crate::sign(&network, &oracle, 0, price)], "price")?;
    let mut buys: Vec<Transaction> = clients
        .par_iter()
        .map(|c| {
            let buy = Action::from(BuyCredits {
                tokens: Amount(100 * TOKEN),
                min_credits: 0,
                to: c.address(),
            });
            crate::sign(&network, c, 0, buy)
        })
        .collect();
    buys.push(crate::sign(
        &network,
        &owner,
        0,
        Action::from(BuyCredits {
            tokens: Amount(1000 * TOKEN),
            min_credits: 0,
            to: owner.address(),
        }),
    ));
    chain.settle(buys, "a credit purchase")?;
    let registrations: Vec<Transaction> = devices
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, d)| {
            let register = Action::from(RegisterProvider {
                device: d.address(),
                capacity_bytes: GIB,
                device_signature: sign_onboarding(&chain_id, &owner.address(), d),
            });
            let collateral = Action::from(AddCollateral {
                device: d.address(),
                amount: Amount(1000 * TOKEN),
            });
            let nonce = 1 + 2 * i as u64;
            [
                crate::sign(&network, &owner, nonce, register),
                crate::sign(&network, &owner, nonce + 1, collateral),
            ]
        })
        .collect();
    for chunk in registrations.chunks(1000) {
        chain.settle(chunk.to_vec(), "a provider's registration")?;
    }

    // Deals, opened in period 0 (challenged from period 1); at most 1,000 per client per batch
    // (the mempool's nonce window).
    let height = chain.producer.state().height();
    let mut opened = 0.0f64;
    for from in (0..per).step_by(1000) {
        let to = (from + 1000).min(per);
        let txs: Vec<Transaction> = (0..p)
            .into_par_iter()
            .flat_map_iter(|i| {
                let (client, device) = (&clients[i], &devices[i]);
                let chain_id = &chain_id;
                let network = &network;
                let trees = &trees;
                (from..to).map(move |j| {
                    let terms = DealTerms {
                        client: client.address(),
                        provider: device.address(),
                        root: trees[j].1.root,
                        size: trees[j].1.size,
                        periods: 2,
                        price_per_period: 1,
                        valid_until_height: height + EPOCH_BLOCKS,
                    };
                    let provider_signature = terms.sign(chain_id, device);
                    let open = Action::from(OpenDeal {
                        terms,
                        provider_signature,
                    });
                    crate::sign(network, client, 1 + j as u64, open)
                })
            })
            .collect();
        let t = Instant::now();
        chain.settle(txs, "a deal")?;
        opened += t.elapsed().as_secs_f64();
    }
    let state_height = chain.producer.state().height();
    if state_height >= EPOCH_BLOCKS {
        return Err(format!(
            "the deals took until block {state_height}, past period 0 ({EPOCH_BLOCKS} blocks): use fewer shards or more per block"
        ));
    }

    // Period 1: its window opens with block EPOCH_BLOCKS + 1, which records the entropy.
    while chain.producer.state().height() < EPOCH_BLOCKS + 1 {
        chain.produce()?;
    }
    let entropy = chain
        .producer
        .state()
        .window_entropy(1, 0)
        .ok_or("the window of period 1 has no entropy")?;
    let root_index: std::collections::BTreeMap<Hash, usize> = trees
        .iter()
        .enumerate()
        .map(|(j, (_, t))| (t.root, j))
        .collect();
    // (provider, deal, shard) for every deal, in each provider's deal order.
    let mut work: Vec<Vec<(u64, usize)>> = Vec::with_capacity(p);
    for d in &devices {
        let state = chain.producer.state();
        let ids = state.provider_deals(&d.address(), 0, usize::MAX);
        let mut mine = Vec::with_capacity(ids.len());
        for id in ids {
            let deal = state.deal(id).ok_or("a listed deal is missing")?;
            mine.push((id, root_index[&deal.root]));
        }
        work.push(mine);
    }
    let (mut proving, mut proofs) = (0.0f64, 0u64);
    for from in (0..per).step_by(1000) {
        let to = (from + 1000).min(per);
        let txs: Vec<Transaction> = (0..p)
            .into_par_iter()
            .flat_map_iter(|i| (from..to).map(move |j| (i, j)))
            .map(|(i, j)| {
                let (id, shard) = work[i][j];
                let device = &devices[i];
                let (bytes, tree) = &trees[shard];
                let seed = challenge_seed(&entropy, &device.address(), id, 1);
                let openings = challenged_chunks(&seed, tree.size, challenges)
                    .into_iter()
                    .map(|c| {
                        let r = tree.group_range(c);
                        let (chunk, path) = tree.open(c, &bytes[r.start as usize..r.end as usize]);
                        Opening { chunk, path }
                    })
                    .collect();
                let proof = Action::from(SubmitStorageProof {
                    deal: id,
                    period: 1,
                    openings,
                });
                crate::sign(&network, device, j as u64, proof)
            })
            .collect();
        let count = txs.len() as u64;
        let t = Instant::now();
        chain.settle(txs, "a storage proof")?;
        proving += t.elapsed().as_secs_f64();
        proofs += count;
    }
    if chain.producer.state().height() >= 2 * EPOCH_BLOCKS {
        return Err("the proofs ran past their window: use fewer shards or more per block".into());
    }

    // The last block of the window settles every deal and closes epoch 1.
    while chain.producer.state().height() < 2 * EPOCH_BLOCKS - 1 {
        chain.produce()?;
    }
    let t = Instant::now();
    chain.produce()?;
    let close = t.elapsed().as_secs_f64();
    let state = chain.producer.state();
    let proven: u64 = devices
        .iter()
        .map(|d| {
            state
                .epoch_proof(1, &d.address())
                .map_or(0, |w| u64::from(w.deals_proven))
        })
        .sum();
    if proven != n as u64 {
        return Err(format!(
            "the close found {proven} of {n} deals proven; the bench's proofs are wrong"
        ));
    }
    let t = Instant::now();
    let mut found = 0u64;
    for id in 0..n as u64 {
        if state
            .get::<depin_core::modules::storage::records::Deal>(&deal_key(id))
            .is_some()
        {
            found += 1;
        }
    }
    let read = t.elapsed().as_secs_f64();
    if found != n as u64 {
        return Err(format!("read {found} of {n} deal records"));
    }
    Ok(StorageReport {
        raw_blake3_mb_per_s: raw,
        commit_mb_per_s: commit,
        commit_over_raw: commit / raw,
        proof_openings_verified_per_s: per_s,
        bytes_hashed_per_opening: bytes_per,
        openings_over_raw: per_s * bytes_per / (raw * 1e6),
        deals_opened_per_s: n as f64 / opened,
        proof_txs_per_s: proofs as f64 / proving,
        proof_openings_per_s_in_blocks: proofs as f64 * f64::from(challenges) / proving,
        challenges,
        close_seconds: close,
        read_deals_seconds: read,
        close_over_read: close / read,
        deals_proven: proven,
        shards: n,
        providers: p,
        shard_bytes: cfg.shard_bytes,
        blocks: chain.blocks,
        cores: rayon::current_num_threads(),
    })
}
