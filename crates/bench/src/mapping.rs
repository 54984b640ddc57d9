//! Mapping benchmark: dashcam frames checked and applied per second through real blocks
//! (bundles signed by each dashcam, admitted to the mempool, executed with every frame check and
//! committed durably), and the epoch close of a network that freshly mapped about a million
//! resolution-12 cells, then the blocks a month later that forget them (a bounded number of
//! entries per block).
//!
//! Dashcams drive north in parallel lanes 15 m apart (closer than a cell is wide, so every cell
//! of the area is mapped) at 10 m/s, one keyframe a second with a distinct image and perceptual
//! hash, so every frame passes every check. Each round every dashcam uploads one bundle of 48
//! frames (48 s of driving). Signing (the dashcam's bundle signature and the transaction's) is
//! the dashcams' work, done before each round and not timed.
//!
//! Compared against, in the same run: the raw batch verification rate of the round's
//! signatures on all cores (each bundle carries two: the transaction's and the dashcam's), and
//! the rate of computing each frame's H3 cell alone on all cores (the one piece of a frame check
//! that is not integer arithmetic on a few fields). The closes are compared against reading
//! every mapped cell's record once from the same state.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use depin_core::crypto::{self, Hash};
use depin_core::economics::EconomyView;
use depin_core::genesis::Allocation;
use depin_core::modules::mapping::actions::{
    Frame, Location, OnboardDashcam, SubmitBundle, bundle_message, sign_onboarding,
};
use depin_core::modules::mapping::params::{MAX_FRAMES_PER_BUNDLE, RegionGenesis};
use depin_core::modules::mapping::preset::{self, DAY_MS};
use depin_core::modules::mapping::records::{MappingView, cell_age_range, group_of};
use depin_core::state::StateRead;
use depin_core::{Action, Address, Keypair, Signature, Transaction};
use depin_node::mempool::VERIFY_CHUNK;
use rayon::prelude::*;
use serde::Serialize;

use crate::driver::{Driver, Spent};
use crate::{median, seeded};

/// What to run.
#[derive(Clone, Debug)]
pub struct MappingBench {
    /// Lanes driven side by side, 15 m apart.
    pub lanes: usize,
    /// Dashcams one after another in each lane, `lane_km` / `cars_per_lane` apart.
    pub cars_per_lane: usize,
    /// Rounds: each dashcam uploads one bundle of 48 frames per round.
    pub rounds: usize,
    pub max_block_txs: u32,
}

impl Default for MappingBench {
    fn default() -> Self {
        // 1,200 lanes 15 m apart (18 km), each driven 17.3 km (4 cars, 9 rounds of 480 m):
        // about 311 km², a million cells of 307 m².
        MappingBench {
            lanes: 1_200,
            cars_per_lane: 4,
            rounds: 9,
            max_block_txs: 50_000,
        }
    }
}

/// One round: every dashcam's bundle.
#[derive(Clone, Debug, Serialize)]
pub struct MappingRound {
    pub frames: u64,
    pub bundles: u64,
    pub seconds: f64,
    pub frames_per_s: f64,
    pub blocks: u64,
    /// Where the round's time went: mempool admission (transaction signatures on all cores),
    /// executing the blocks (every check, the bundles' signatures, the state root), and their
    /// durable commit to the store.
    pub admission_seconds: f64,
    pub execute_seconds: f64,
    pub commit_seconds: f64,
    /// The longest block commit of the round (one that ran a store checkpoint, if any did).
    pub slowest_commit_seconds: f64,
    /// Raw batch verification of the round's signatures on all cores, per second.
    pub raw_verify_per_s: f64,
    /// H3 cells of the round's frames computed on all cores, per second.
    pub cell_index_per_s: f64,
}

/// Results, printed as JSON by `depin bench mapping --json`.
#[derive(Clone, Debug, Serialize)]
pub struct MappingReport {
    /// Median over the rounds of frames checked, applied and committed per second.
    pub frames_per_s: f64,
    /// Median over the rounds of the raw signature verification rate (all cores).
    pub raw_verify_per_s: f64,
    /// `bundles per second x 2 / raw_verify_per_s`: the share of the machine's signature
    /// verification the bundles reach (two signatures each).
    pub ratio_to_raw_verify: f64,
    /// Median over the rounds of the H3 indexing rate of frames alone (all cores).
    pub cell_index_per_s: f64,
    /// `frames_per_s / cell_index_per_s`.
    pub ratio_to_cell_index: f64,
    pub rounds: Vec<MappingRound>,
    /// Blocks whose state writes still waited for the store's checkpoint after the rounds.
    pub pending_blocks: usize,
    /// The store's checkpoint of those blocks' writes, timed right after the rounds (a
    /// checkpoint the policy ran during a round is inside that round's time).
    pub checkpoint_seconds: f64,
    /// Every round's frames over the rounds' time plus `checkpoint_seconds`: the rate with
    /// the deferred state writes paid.
    pub frames_per_s_with_checkpoint: f64,
    /// Distinct resolution-12 cells the frames fall in (every one fresh: never mapped before).
    pub fresh_cells: u64,
    /// Frames the ledger flagged (0: every bench frame passes).
    pub frames_flagged: u64,
    /// The block closing the epoch of the drives.
    pub close_seconds: f64,
    /// A month later (the memory window passed) the blocks of the next epoch forget every cell,
    /// at most `FORGET_PER_BLOCK` entries each: the slowest of those blocks.
    pub forget_block_max_seconds: f64,
    /// The blocks until the age index was empty, and their total time.
    pub forget_blocks: u64,
    pub forget_seconds: f64,
    pub cells_forgotten: u64,
    /// Reading every mapped cell's record once from the same state (each cell group once).
    pub read_cells_seconds: f64,
    /// `close_seconds / read_cells_seconds`.
    pub close_vs_read: f64,
    pub dashcams: usize,
    /// Seconds spent signing (not timed).
    pub signing_seconds: f64,
    pub cores: usize,
}

/// Blocks per epoch: every round fits in the first epoch.
const EPOCH_BLOCKS: u64 = 2_000;
/// Lane spacing, micro-degrees of longitude at Berlin (about 15 m).
const LANE_UDEG: i32 = 222;
/// Northward step a second at 10 m/s, micro-degrees of latitude (10.02 m).
const STEP_UDEG: i32 = 90;
const SPEED_CMS: u16 = 1_000;
/// Capture time of the first frame, ms.
const T0_MS: u64 = 1_000_000;
const DEVICES_PER_OWNER: usize = 1_000;
/// Bundles a round's uploader submits at a time while the blocks are produced.
const STREAM_CHUNK: usize = 400;

/// Frame `k` (from the start of the run) of dashcam `car`.
fn frame(car: usize, start: Location, k: usize) -> Frame {
    let tag = Hash::tagged(
        "depin/bench/mapping/frame",
        &[&(car as u64).to_le_bytes(), &(k as u64).to_le_bytes()],
    );
    Frame {
        time_ms: T0_MS + 1_000 * k as u64,
        lat_udeg: start.lat_udeg + STEP_UDEG * k as i32,
        lon_udeg: start.lon_udeg,
        speed_cms: SPEED_CMS,
        heading_cdeg: 0,
        satellites: 12,
        hdop_centi: 90,
        image: tag,
        phash: u64::from_le_bytes(tag.0[8..16].try_into().expect("8 bytes")),
    }
}

/// Runs the benchmark with its database in `dir`.
pub fn run(cfg: &MappingBench, dir: &Path) -> Result<MappingReport, String> {
    let lanes = cfg.lanes.max(1);
    let per_lane = cfg.cars_per_lane.max(1);
    let rounds = cfg.rounds.max(1);
    let n = lanes * per_lane;
    let frames_per_round = MAX_FRAMES_PER_BUNDLE;
    // Each car drives `rounds` bundles; the cars of a lane start that far apart.
    let car_span_udeg = STEP_UDEG * (frames_per_round * rounds) as i32;
    let center = depin_core::modules::coverage::preset::BERLIN;
    let west = center.lon_udeg - LANE_UDEG * (lanes as i32) / 2;
    let south = center.lat_udeg - car_span_udeg * (per_lane as i32) / 2;
    let start_of = |car: usize| Location {
        lat_udeg: south + car_span_udeg * (car % per_lane) as i32,
        lon_udeg: west + LANE_UDEG * (car / per_lane) as i32,
    };

    let validator = Keypair::from_seed([0xb0; 32]);
    let treasury = Keypair::from_seed([0xb1; 32]);
    let owners: Vec<Keypair> = (0..n.div_ceil(DEVICES_PER_OWNER))
        .map(|i| seeded(0xb2, i))
        .collect();
    let cams: Vec<Keypair> = (0..n).into_par_iter().map(|i| seeded(0xb3, i)).collect();

    let mut mapping = preset::single_region(center);
    mapping.onboard_fee = "0".into();
    // The resolution-4 cells around the centre (about 120 km across): every lane inside.
    let c4 = h3o::LatLng::new(center.lat_deg(), center.lon_deg())
        .map_err(|e| e.to_string())?
        .to_cell(h3o::Resolution::Four);
    mapping.regions = vec![RegionGenesis {
        name: "bench".into(),
        h3_cells: c4
            .grid_disk::<Vec<_>>(1)
            .iter()
            .map(|c| c.to_string())
            .collect(),
        weight: 1,
        closed: false,
    }];
    let genesis = crate::BenchNetwork {
        name: "mapping",
        epoch_length_blocks: EPOCH_BLOCKS,
        max_block_txs: cfg.max_block_txs,
        validator: validator.address(),
        treasury: treasury.address(),
        allocations: owners
            .iter()
            .map(|o| Allocation {
                address: o.address(),
                amount: "1".into(),
            })
            .collect(),
        modules: depin_core::modules::ModulesGenesis {
            mapping: Some(mapping),
            ..Default::default()
        },
    }
    .genesis();
    let network = genesis.network();
    let chain_id = network.chain_id.clone();
    let (node, mut producer) = crate::open_node(genesis, dir, validator, 1_000_000, 1 << 31)?;
    let mut chain = Driver::new(&node, &mut producer);
    let sign =
        |key: &Keypair, nonce: u64, action: Action| crate::sign(&network, key, nonce, action);

    let t = Instant::now();
    let onboard: Vec<Transaction> = (0..n)
        .into_par_iter()
        .map(|i| {
            let owner = &owners[i / DEVICES_PER_OWNER];
            let a = Action::from(OnboardDashcam {
                device: cams[i].address(),
                device_signature: sign_onboarding(&chain_id, &owner.address(), &cams[i]),
            });
            sign(owner, (i % DEVICES_PER_OWNER) as u64, a)
        })
        .collect();
    let mut signing = t.elapsed().as_secs_f64();
    chain.settle(onboard, "a dashcam onboarding")?;

    let mut reports = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let t = Instant::now();
        let bundles: Vec<(SubmitBundle, Transaction)> = (0..n)
            .into_par_iter()
            .map(|car| {
                let start = start_of(car);
                let frames: Vec<Frame> = (r * frames_per_round..(r + 1) * frames_per_round)
                    .map(|k| frame(car, start, k))
                    .collect();
                let b = SubmitBundle::signed(&network, &cams[car], r as u64 + 1, frames);
                let tx = sign(&cams[car], r as u64, Action::from(b.clone()));
                (b, tx)
            })
            .collect();
        signing += t.elapsed().as_secs_f64();
        let (bundles, txs): (Vec<SubmitBundle>, Vec<Transaction>) = bundles.into_iter().unzip();
        let raw_verify_per_s = raw_verify_rate(&network, &txs, &bundles);
        let frames: Vec<Vec<Frame>> = bundles.into_iter().map(|b| b.frames).collect();
        let cell_index_per_s = cell_index_rate(&frames);
        // Block times follow the drive: the round's last frame is a second old.
        let round_end = T0_MS + 1_000 * ((r + 1) * frames_per_round) as u64;
        chain.time_ms = chain.time_ms.max(round_end);
        let blocks = chain.blocks;
        let spent = chain.spent;
        chain.spent.slowest_commit = Duration::ZERO;
        let t = Instant::now();
        chain.stream(txs, STREAM_CHUNK, "a bench bundle")?;
        let seconds = t.elapsed().as_secs_f64();
        let phase = |f: fn(&Spent) -> Duration| (f(&chain.spent) - f(&spent)).as_secs_f64();
        let count = (n * frames_per_round) as u64;
        reports.push(MappingRound {
            frames: count,
            bundles: n as u64,
            seconds,
            frames_per_s: count as f64 / seconds,
            blocks: chain.blocks - blocks,
            admission_seconds: phase(|s| s.admission),
            execute_seconds: phase(|s| s.execute),
            commit_seconds: phase(|s| s.commit),
            slowest_commit_seconds: chain.spent.slowest_commit.as_secs_f64(),
            raw_verify_per_s,
            cell_index_per_s,
        });
    }
    // The rounds' deferred state writes, applied to the store's state table now.
    let pending_blocks = node.store.pending_blocks();
    let t = Instant::now();
    node.store.checkpoint().map_err(|e| e.to_string())?;
    let checkpoint_seconds = t.elapsed().as_secs_f64();
    let frames_per_s_with_checkpoint = reports.iter().map(|r| r.frames).sum::<u64>() as f64
        / (reports.iter().map(|r| r.seconds).sum::<f64>() + checkpoint_seconds);
    let state = chain.producer.state();
    if state.height() + 1 >= EPOCH_BLOCKS {
        return Err("the rounds did not fit in the first epoch: use fewer dashcams".into());
    }
    // Every frame's cell, from the ledger's own records of the dashcams' bundles.
    let mut cells: Vec<u64> = (0..n)
        .into_par_iter()
        .flat_map_iter(|car| {
            let address = cams[car].address();
            state
                .bundles(0, &address, usize::MAX)
                .into_iter()
                .flat_map(|(_, b)| b.verdicts.into_iter().map(|v| v.cell))
        })
        .collect();
    let framed = cells.len() as u64;
    cells.par_sort_unstable();
    cells.dedup();
    if framed != (n * frames_per_round * rounds) as u64 {
        return Err(format!(
            "the ledger recorded {framed} frames of the bundles sent"
        ));
    }
    // Each cell's group and digit (cells are sorted by index, so a group's cells are adjacent).
    let placed: Vec<(u64, u8)> = (cells.iter())
        .map(|&c| group_of(c).ok_or_else(|| format!("frame cell {c:x} is not at resolution 12")))
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let found: usize = placed
        .chunk_by(|a, b| a.0 == b.0)
        .map(|same| {
            black_box(state.cell_group(same[0].0)).map_or(0, |g| {
                same.iter().filter(|&&(_, d)| g.get(d).is_some()).count()
            })
        })
        .sum();
    let read_cells_seconds = t.elapsed().as_secs_f64();
    if found != cells.len() {
        return Err(format!("{found} of {} cells have a record", cells.len()));
    }

    // The close of the drives' epoch.
    while chain.producer.state().height() + 1 < EPOCH_BLOCKS {
        chain.produce()?;
    }
    let t = Instant::now();
    chain.produce()?;
    let close_seconds = t.elapsed().as_secs_f64();
    let summary = chain
        .producer
        .state()
        .epoch_summary(0)
        .ok_or("the timed block did not close epoch 0")?;
    let counter = |s: &depin_core::economics::EpochSummary, name: &str| {
        s.module("mapping")
            .and_then(|m| m.counters.iter().find(|(c, _)| c == name).map(|(_, v)| *v))
            .unwrap_or(0)
    };
    let frames_flagged = counter(&summary, "frames_flagged");
    if counter(&summary, "frames_paid") + frames_flagged != framed {
        return Err("the close did not count every frame".into());
    }

    // A month later: the blocks that forget every cell, a bounded number each.
    chain.time_ms += 31 * DAY_MS;
    let (mut forget_block_max_seconds, mut forget_blocks, mut forget_seconds) = (0f64, 0u64, 0f64);
    let remembering = |state: &depin_core::State| {
        let (from, to) = cell_age_range(u64::MAX);
        !state.scan(&from, &to, 1).is_empty()
    };
    while remembering(chain.producer.state()) {
        if chain.producer.state().height() + 1 >= 2 * EPOCH_BLOCKS {
            return Err("the epoch ended before every cell was forgotten".into());
        }
        let t = Instant::now();
        chain.produce()?;
        let seconds = t.elapsed().as_secs_f64();
        forget_blocks += 1;
        forget_seconds += seconds;
        forget_block_max_seconds = forget_block_max_seconds.max(seconds);
    }
    while chain.producer.state().height() < 2 * EPOCH_BLOCKS {
        chain.produce()?;
    }
    let summary = chain
        .producer
        .state()
        .epoch_summary(1)
        .ok_or("the last block did not close epoch 1")?;
    let cells_forgotten = counter(&summary, "cells_forgotten");

    let fps: Vec<f64> = reports.iter().map(|r| r.frames_per_s).collect();
    let bps: Vec<f64> = reports
        .iter()
        .map(|r| r.bundles as f64 / r.seconds)
        .collect();
    let raw: Vec<f64> = reports.iter().map(|r| r.raw_verify_per_s).collect();
    let idx: Vec<f64> = reports.iter().map(|r| r.cell_index_per_s).collect();
    Ok(MappingReport {
        frames_per_s: median(&fps),
        raw_verify_per_s: median(&raw),
        ratio_to_raw_verify: median(&bps) * 2.0 / median(&raw),
        cell_index_per_s: median(&idx),
        ratio_to_cell_index: median(&fps) / median(&idx),
        rounds: reports,
        pending_blocks,
        checkpoint_seconds,
        frames_per_s_with_checkpoint,
        fresh_cells: cells.len() as u64,
        frames_flagged,
        close_seconds,
        forget_block_max_seconds,
        forget_blocks,
        forget_seconds,
        cells_forgotten,
        read_cells_seconds,
        close_vs_read: close_seconds / read_cells_seconds,
        dashcams: n,
        signing_seconds: signing,
        cores: rayon::current_num_threads(),
    })
}

/// Raw batch verification of the round's signatures (each transaction's and each bundle's) on
/// all cores, signatures per second, the messages made first.
fn raw_verify_rate(
    network: &depin_core::tx::Network,
    txs: &[Transaction],
    bundles: &[SubmitBundle],
) -> f64 {
    let messages: Vec<(Vec<u8>, Vec<u8>)> = txs
        .par_iter()
        .zip(bundles)
        .map(|(tx, b)| {
            (
                tx.signing_bytes(&network.genesis_hash),
                bundle_message(network, &b.device, b.seq, &b.frames),
            )
        })
        .collect();
    let items: Vec<(&Address, &[u8], &Signature)> = txs
        .iter()
        .zip(bundles)
        .zip(&messages)
        .flat_map(|((tx, b), (m, bm))| {
            [
                (&tx.signer, m.as_slice(), &tx.signature),
                (&b.device, bm.as_slice(), &b.device_signature),
            ]
        })
        .collect();
    let t = Instant::now();
    let ok: usize = items
        .par_chunks(VERIFY_CHUNK)
        .map(|c| crypto::verify_many(c).iter().filter(|v| **v).count())
        .sum();
    let rate = items.len() as f64 / t.elapsed().as_secs_f64();
    assert_eq!(ok, items.len(), "the bench signatures verify");
    rate
}

/// H3 resolution-12 cells of every frame, on all cores, per second.
fn cell_index_rate(frames: &[Vec<Frame>]) -> f64 {
    let t = Instant::now();
    let count: usize = frames
        .par_iter()
        .map(|b| {
            b.iter()
                .filter(|f| {
                    black_box(
                        Location {
                            lat_udeg: f.lat_udeg,
                            lon_udeg: f.lon_udeg,
                        }
                        .cell(12),
                    )
                    .is_some()
                })
                .count()
        })
        .sum();
    count as f64 / t.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_frame_passes_every_check_and_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = MappingBench {
            lanes: 6,
            cars_per_lane: 2,
            rounds: 2,
            max_block_txs: 1_000,
        };
        let r = run(&cfg, dir.path()).unwrap();
        assert_eq!(r.frames_flagged, 0, "{r:?}");
        assert_eq!(r.rounds[0].frames, 12 * 48);
        // Lanes 15 m apart, 10 m steps, cells of 307 m²: about a fresh cell every two frames.
        let frames = 12 * 48 * 2;
        assert!(
            r.fresh_cells * 3 > frames && r.fresh_cells < frames,
            "{r:?}"
        );
        assert_eq!(r.cells_forgotten, r.fresh_cells);
        assert!(r.forget_blocks >= 1, "{r:?}");
    }
}
