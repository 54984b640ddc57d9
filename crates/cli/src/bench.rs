//! `depin bench ...`: measure performance on this machine with the benchmarks of `depin-bench`
//! and the simulator's own.

use anyhow::{Context, Result};
use clap::Subcommand;

/// Subcommands of `depin bench`.
#[derive(Subcommand)]
pub enum BenchCmd {
    /// Signed transfers end to end: mempool, block building, execution, durable commit.
    Transfers {
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 4096)]
        senders: usize,
        /// Transactions signed in advance.
        #[arg(long, default_value_t = 3_000_000)]
        txs: usize,
        #[arg(long, default_value_t = 100)]
        block_interval_ms: u64,
        #[arg(long, default_value_t = 50_000)]
        max_block_txs: u32,
    },
    /// Proof-of-coverage reports verified, executed and committed per second.
    Coverage {
        #[arg(long, default_value_t = 4096)]
        hotspots: usize,
        #[arg(long, default_value_t = 8)]
        windows: u64,
        #[arg(long, default_value_t = 10)]
        witnesses_per_beacon: usize,
    },
    /// Co-signed usage receipts verified, executed and committed per second.
    Usage {
        #[arg(long, default_value_t = 4096)]
        hotspots: usize,
        #[arg(long, default_value_t = 256)]
        payers: usize,
        /// Payers each hotspot settles a receipt with every period.
        #[arg(long, default_value_t = 4)]
        payers_per_hotspot: usize,
        #[arg(long, default_value_t = 8)]
        periods: u64,
    },
    /// Seconds to score and pay one epoch of coverage rewards.
    Epoch {
        #[arg(long, default_value_t = 1_000_000)]
        devices: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The explorer's map and page endpoints over HTTP against a real node holding a large
    /// coverage network after an epoch close: median time and bytes per endpoint, against
    /// reading the devices' cell index once.
    Explorer {
        #[arg(long, default_value_t = 100_000)]
        devices: usize,
        /// Requests per endpoint (the median is reported).
        #[arg(long, default_value_t = 21)]
        requests: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Honest transfers' latency through a real node flooded with junk, oversized, badly
    /// signed and slowloris requests (against the same node quiet), and the node's peak memory
    /// under concurrent maximum-size batches.
    Flood {
        /// Seconds of the quiet phase, and of the flood phase after it.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Honest clients, each sending one transfer at a time and waiting for its commit.
        #[arg(long, default_value_t = 4)]
        honest_clients: usize,
        /// Threads per attack kind (malformed, bad signature, maximum batch, oversized).
        #[arg(long, default_value_t = 2)]
        attackers: usize,
        /// Slowloris connections held open.
        #[arg(long, default_value_t = 256)]
        slowloris: usize,
        /// Funded keys each sending validly signed transfers as fast as they are admitted
        /// (spam that costs nothing until transactions pay fees); 0: none.
        #[arg(long, default_value_t = 0)]
        spam_keys: usize,
        #[arg(long, default_value_t = 200)]
        block_interval_ms: u64,
        /// Concurrent maximum-size batch requests in each memory burst (0: none).
        #[arg(long, default_value_t = 128)]
        burst: usize,
        /// Burst bodies to try, each on a fresh node: `decoded` (refused after decoding),
        /// `verified` (every signature checked).
        #[arg(long, value_delimiter = ',', default_value = "decoded,verified")]
        burst_kinds: Vec<depin_bench::flood::BurstKind>,
    },
    /// Proofs of storage: openings verified per second against the raw BLAKE3 rate, proof
    /// transactions through real blocks, and the block closing an epoch of live shards.
    Storage {
        #[arg(long, default_value_t = 100_000)]
        shards: usize,
        #[arg(long, default_value_t = 100)]
        providers: usize,
    },
    /// Compute tasks posted, claimed, committed, revealed and settled per second through real
    /// blocks, and the epoch close of a network of proven providers.
    Compute {
        /// Providers taking the market's tasks.
        #[arg(long, default_value_t = 2048)]
        market_providers: usize,
        /// Jobs of 1,024 tasks per round.
        #[arg(long, default_value_t = 16)]
        jobs_per_round: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Providers in the network whose epoch close is timed.
        #[arg(long, default_value_t = 100_000)]
        close_providers: usize,
        #[arg(long, default_value_t = 3)]
        closes: usize,
        /// Claims, commitments or reveals per provider transaction (1: one action each).
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Dashcam frames checked and applied per second through real blocks, and the epoch closes
    /// of about a million freshly mapped cells (and the blocks forgetting them a month later).
    Mapping {
        /// Lanes driven side by side, 15 m apart.
        #[arg(long, default_value_t = 1_200)]
        lanes: usize,
        /// Dashcams one after another in each lane.
        #[arg(long, default_value_t = 4)]
        cars_per_lane: usize,
        /// Rounds: each dashcam uploads one bundle of 48 frames per round.
        #[arg(long, default_value_t = 9)]
        rounds: usize,
    },
    /// Batch signature verification on all cores: `ed25519-zebra`'s batch against ours, with
    /// and without the cache of decompressed signer keys, for several numbers of distinct keys.
    Verify {
        /// Signatures verified per pass.
        #[arg(long, default_value_t = 65_536)]
        signatures: usize,
        /// Distinct signers among them, one row each (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "256,2048,16384,65536")]
        keys: Vec<usize>,
        /// Timed passes per method and row (the median is reported).
        #[arg(long, default_value_t = 3)]
        passes: usize,
    },
    /// The economic simulator: agent-steps per second and peak memory.
    Sim(depin_sim::cli::BenchArgs),
    /// A BFT network (commonware simplex) of N validators in this process on 127.0.0.1:
    /// finalized transfers per second and submission-to-commit latency, beside the solo
    /// driver's transfer rate measured in the same run.
    Bft {
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Length of each measured phase (BFT, then solo).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Transfers offered per second to the BFT network.
        #[arg(long, default_value_t = 10_000)]
        offered_per_s: u64,
        #[arg(long, default_value_t = 100)]
        block_interval_ms: u64,
    },
}

/// Runs `depin bench ...`.
pub fn run(cmd: &BenchCmd, json_out: bool) -> Result<()> {
    match cmd {
        BenchCmd::Bft {
            validators,
            seconds,
            offered_per_s,
            block_interval_ms,
        } => bft(
            *validators,
            *seconds,
            *offered_per_s,
            *block_interval_ms,
            json_out,
        ),
        BenchCmd::Transfers {
            seconds,
            senders,
            txs,
            block_interval_ms,
            max_block_txs,
        } => {
            let cfg = depin_bench::transfers::TransferBench {
                seconds: *seconds,
                senders: *senders,
                txs: *txs,
                block_interval_ms: *block_interval_ms,
                max_block_txs: *max_block_txs,
            };
            transfers(&cfg, json_out)
        }
        BenchCmd::Coverage {
            hotspots,
            windows,
            witnesses_per_beacon,
        } => {
            let cfg = depin_bench::coverage::CoverageBench {
                hotspots: *hotspots,
                windows: *windows,
                witnesses_per_beacon: *witnesses_per_beacon,
                ..Default::default()
            };
            coverage(&cfg, json_out)
        }
        BenchCmd::Usage {
            hotspots,
            payers,
            payers_per_hotspot,
            periods,
        } => {
            let cfg = depin_bench::usage::UsageBench {
                hotspots: *hotspots,
                payers: *payers,
                payers_per_hotspot: *payers_per_hotspot,
                periods: *periods,
                ..Default::default()
            };
            usage(&cfg, json_out)
        }
        BenchCmd::Epoch { devices, seed } => {
            let cfg = depin_bench::epoch::EpochBench {
                devices: *devices,
                seed: *seed,
            };
            epoch(&cfg, json_out)
        }
        BenchCmd::Explorer {
            devices,
            requests,
            seed,
        } => {
            let cfg = depin_bench::explorer::ExplorerBench {
                devices: *devices,
                seed: *seed,
                requests: *requests,
            };
            explorer(&cfg, json_out)
        }
        BenchCmd::Flood {
            seconds,
            honest_clients,
            attackers,
            slowloris,
            spam_keys,
            block_interval_ms,
            burst,
            burst_kinds,
        } => {
            let binary = std::env::current_exe().context("finding the depin binary")?;
            let cfg = depin_bench::flood::FloodBench {
                seconds: *seconds,
                honest_clients: *honest_clients,
                attackers: *attackers,
                slowloris: *slowloris,
                spam_keys: *spam_keys,
                block_interval_ms: *block_interval_ms,
                burst: *burst,
                burst_kinds: burst_kinds.clone(),
                ..depin_bench::flood::FloodBench::new(binary)
            };
            flood(&cfg, json_out)
        }
        BenchCmd::Storage { shards, providers } => storage(
            &depin_bench::storage::StorageBench {
                shards: *shards,
                providers: *providers,
                ..Default::default()
            },
            json_out,
        ),
        BenchCmd::Compute {
            market_providers,
            jobs_per_round,
            rounds,
            close_providers,
            closes,
            batch,
        } => {
            let cfg = depin_bench::compute::ComputeBench {
                market_providers: *market_providers,
                jobs_per_round: *jobs_per_round,
                rounds: *rounds,
                close_providers: *close_providers,
                closes: *closes,
                batch: *batch,
                ..Default::default()
            };
            compute(&cfg, json_out)
        }
        BenchCmd::Mapping {
            lanes,
            cars_per_lane,
            rounds,
        } => {
            let cfg = depin_bench::mapping::MappingBench {
                lanes: *lanes,
                cars_per_lane: *cars_per_lane,
                rounds: *rounds,
                ..Default::default()
            };
            mapping(&cfg, json_out)
        }
        BenchCmd::Verify {
            signatures,
            keys,
            passes,
        } => verify(
            &depin_bench::verify::VerifyBench {
                signatures: *signatures,
                keys: keys.clone(),
                passes: *passes,
            },
            json_out,
        ),
        BenchCmd::Sim(args) => depin_sim::cli::bench(args, json_out),
    }
}

/// `depin bench mapping`.
fn mapping(cfg: &depin_bench::mapping::MappingBench, json_out: bool) -> Result<()> {
    if cfg.lanes == 0 || cfg.cars_per_lane == 0 || cfg.rounds == 0 {
        anyhow::bail!("--lanes, --cars-per-lane and --rounds must be at least 1");
    }
    if !json_out {
        eprintln!(
            "{} dashcams in {} lanes, {} rounds of 48-frame bundles, then two epoch closes...",
            cfg.lanes * cfg.cars_per_lane,
            cfg.lanes,
            cfg.rounds
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let r = depin_bench::mapping::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    for (i, x) in r.rounds.iter().enumerate() {
        println!(
            "round {i}: {} frames in {} bundles, {:.0} frames/s ({} blocks, {:.2} s); raw verification {:.0}/s, H3 indexing {:.0}/s",
            x.frames,
            x.bundles,
            x.frames_per_s,
            x.blocks,
            x.seconds,
            x.raw_verify_per_s,
            x.cell_index_per_s
        );
    }
    println!(
        "median: {:.0} frames/s; bundles reach {:.3} of raw batch signature verification ({:.0}/s on {} cores) and frames {:.3} of H3 indexing alone ({:.0}/s)",
        r.frames_per_s,
        r.ratio_to_raw_verify,
        r.raw_verify_per_s,
        r.cores,
        r.ratio_to_cell_index,
        r.cell_index_per_s
    );
    println!(
        "{} fresh cells ({} frames flagged): epoch close {:.3} s; a month later {} blocks forgot {} cells in {:.3} s (slowest block {:.3} s); reading every cell once {:.3} s (close x{:.1})",
        r.fresh_cells,
        r.frames_flagged,
        r.close_seconds,
        r.forget_blocks,
        r.cells_forgotten,
        r.forget_seconds,
        r.forget_block_max_seconds,
        r.read_cells_seconds,
        r.close_vs_read
    );
    Ok(())
}

/// `depin bench verify`.
fn verify(cfg: &depin_bench::verify::VerifyBench, json_out: bool) -> Result<()> {
    if cfg.signatures < 2 || cfg.passes == 0 || cfg.keys.is_empty() || cfg.keys.contains(&0) {
        anyhow::bail!(
            "--signatures must be at least 2, --passes at least 1, and --keys a list of counts of at least 1 (e.g. --keys 256,2048)"
        );
    }
    let r = depin_bench::verify::run(cfg).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "signatures/s on {} cores, batches of {}, median of {} passes (cache of {} keys):",
        r.cores, r.chunk, r.passes, r.cache_entries
    );
    for x in &r.rows {
        println!(
            "{} keys, {} signatures: single {:.0}, ed25519-zebra batch {:.0}, ours uncached {:.0}, ours cached {:.0} (x{:.2} zebra)",
            x.keys,
            x.signatures,
            x.single_per_s,
            x.zebra_batch_per_s,
            x.ours_uncached_per_s,
            x.ours_cached_per_s,
            x.cached_vs_zebra
        );
    }
    Ok(())
}

/// `depin bench compute`.
fn compute(cfg: &depin_bench::compute::ComputeBench, json_out: bool) -> Result<()> {
    if cfg.rounds == 0 || cfg.closes == 0 || cfg.jobs_per_round == 0 || cfg.market_providers == 0 {
        anyhow::bail!(
            "--rounds, --closes, --jobs-per-round and --market-providers must be at least 1"
        );
    }
    let most = depin_core::modules::compute::params::MAX_TASK_BATCH;
    if cfg.batch == 0 || cfg.batch > most {
        anyhow::bail!(
            "--batch {} is outside 1 to {most} (items one claim_tasks, commit_results or reveal_results transaction may carry)",
            cfg.batch
        );
    }
    if !json_out {
        eprintln!(
            "registering {} providers, {} rounds of {} jobs of 1,024 tasks on {} of them, then {} epoch closes...",
            cfg.close_providers.max(cfg.market_providers),
            cfg.rounds,
            cfg.jobs_per_round,
            cfg.market_providers,
            cfg.closes
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let r = depin_bench::compute::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    for (i, x) in r.rounds.iter().enumerate() {
        println!(
            "round {i}: {} tasks, {:.0} task state changes/s, {:.0} tx/s ({} blocks, {:.2} s); raw verification {:.0}/s",
            x.tasks,
            x.state_changes_per_s,
            x.transactions_per_s,
            x.blocks,
            x.seconds,
            x.raw_verify_per_s
        );
    }
    println!(
        "median: {:.0} task state changes/s, {:.0} compute tx/s = {:.3} of raw batch signature verification ({:.0}/s on {} cores)",
        r.state_changes_per_s,
        r.transactions_per_s,
        r.ratio_to_raw_verify,
        r.raw_verify_per_s,
        r.cores
    );
    println!(
        "epoch close of {} proven providers: median {:.3} s ({:?}); reading every provider once {:.3} s (x{:.1}); {} devices paid",
        r.providers_proven,
        r.close_seconds,
        r.close_seconds_each,
        r.read_providers_seconds,
        r.close_vs_read,
        r.devices_paid
    );
    Ok(())
}

/// `depin bench flood`.
fn flood(cfg: &depin_bench::flood::FloodBench, json_out: bool) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let progress = |phase: &str| {
        if !json_out {
            eprintln!("{phase}...");
        }
    };
    if !json_out {
        eprintln!(
            "a `depin node` process with its default API limits; {} honest clients for {} s quiet, then {} s with {} threads per attack kind and {} slowloris connections; then {} concurrent maximum-size batches per burst",
            cfg.honest_clients, cfg.seconds, cfg.seconds, cfg.attackers, cfg.slowloris, cfg.burst
        );
    }
    let r = depin_bench::flood::run(cfg, dir.path(), &progress).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    if let Some(p) = &r.phases {
        println!("honest transfers, from first submission (ms):");
        println!("               transfers  accepted p50/p99   committed p50/p99   max");
        for (name, l) in [("quiet", &p.quiet), ("flood", &p.flood)] {
            println!(
                "  {name:<12} {:>9}  {:>8.1} {:>8.1}   {:>8.1} {:>8.1}  {:>8.1}",
                l.transfers,
                l.submit_ms_p50,
                l.submit_ms_p99,
                l.commit_ms_p50,
                l.commit_ms_p99,
                l.commit_ms_max
            );
        }
        println!(
            "flood / quiet: commit p50 x{:.2}, p99 x{:.2}; honest refused {}, lost {}, busy retries {}",
            p.commit_p50_ratio,
            p.commit_p99_ratio,
            p.honest_refused,
            p.honest_lost,
            p.honest_retries
        );
        println!(
            "node CPU: {:.1} s quiet, {:.1} s flood (of {} s x {} cores)",
            p.node_cpu_seconds_quiet, p.node_cpu_seconds_flood, p.seconds_per_phase, r.cores
        );
        for a in &p.attacks {
            println!(
                "  {:<14} {:>7} requests, answers {:?}, unanswered {}, unexpected 5xx {}, transactions admitted {}",
                a.kind, a.requests, a.statuses, a.unanswered, a.unexpected_5xx, a.admitted
            );
        }
        println!(
            "  slowloris      {} connections, closed by the node {} times, failed to reopen {}",
            p.slowloris.connections, p.slowloris.closed_by_node, p.slowloris.connect_failures
        );
    }
    const MIB: f64 = (1 << 20) as f64;
    for b in &r.bursts {
        println!(
            "burst {:?}: {} x {:.0} MiB bodies of {} transactions in {:.1} s, answers {:?}, unanswered {}\n  node RSS {:.0} MiB before, peak {:.0} MiB (bound {:.0} MiB), {:.0} MiB at the last answer; busy {:.1} s more, then {:.0} MiB; alive after: {}",
            b.kind,
            b.requests,
            b.body_bytes as f64 / MIB,
            b.txs_per_request,
            b.seconds,
            b.statuses,
            b.unanswered,
            b.rss_before_bytes as f64 / MIB,
            b.peak_rss_bytes as f64 / MIB,
            b.bound_bytes as f64 / MIB,
            b.rss_after_bytes as f64 / MIB,
            b.busy_after_seconds,
            b.rss_settled_bytes as f64 / MIB,
            b.node_alive_after
        );
    }
    Ok(())
}

/// `depin bench transfers`, with a progress bar while it runs.
fn transfers(cfg: &depin_bench::transfers::TransferBench, json_out: bool) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec})")
            .expect("valid template"),
    );
    let progress = |phase: &str, done: u64, total: u64| {
        bar.set_message(phase.to_string());
        bar.set_length(total);
        bar.set_position(done);
    };
    if !json_out {
        eprintln!(
            "signing {} transfers from {} accounts, then running for up to {} s...",
            cfg.txs, cfg.senders, cfg.seconds
        );
    }
    let report =
        depin_bench::transfers::run(cfg, dir.path(), &progress).map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "transfers committed   {} in {:.1} s",
            report.txs_committed, report.seconds
        );
        println!("throughput            {:.0} tx/s", report.tx_per_s);
        println!(
            "mempool sig check     {:.0}/s on {} cores ({:.0}/s on one)",
            report.sig_verify_per_s, report.cores, report.sig_verify_per_core_s
        );
        println!(
            "raw sig verification  batches {:.0}/s on {} cores ({:.0}/s on one), single {:.0}/s on one",
            report.raw_verify_batch_per_s,
            report.cores,
            report.raw_verify_batch_per_core_s,
            report.raw_verify_single_per_core_s
        );
        println!(
            "end to end / raw      {:.3} (committed transfers per raw batch verification, same run)",
            report.ratio_to_raw_verify
        );
        println!(
            "blocks                {} (mean build+commit {:.1} ms)",
            report.blocks, report.mean_block_ms
        );
    }
    Ok(())
}

/// `depin bench coverage`.
fn coverage(cfg: &depin_bench::coverage::CoverageBench, json_out: bool) -> Result<()> {
    if !json_out {
        eprintln!(
            "{} hotspots beaconing and witnessing for {} windows...",
            cfg.hotspots, cfg.windows
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let report = depin_bench::coverage::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{:.0} reports/s verified, checked and committed ({} accepted, {} rejected, {} blocks, {:.2} s timed; device-side signing {:.2} s not counted)",
            report.reports_per_s,
            report.reports_accepted,
            report.reports_rejected,
            report.blocks,
            report.seconds,
            report.signing_seconds
        );
    }
    Ok(())
}

/// `depin bench usage`.
fn usage(cfg: &depin_bench::usage::UsageBench, json_out: bool) -> Result<()> {
    if !json_out {
        eprintln!(
            "{} hotspots settling receipts with {} of {} payers for {} periods...",
            cfg.hotspots, cfg.payers_per_hotspot, cfg.payers, cfg.periods
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let report = depin_bench::usage::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{:.0} receipts/s verified, checked and committed ({} accepted, {} rejected, {} blocks, {:.2} s timed, of which inner signatures ~{:.2} s; signing {:.2} s not counted)",
            report.receipts_per_s,
            report.receipts_accepted,
            report.receipts_rejected,
            report.blocks,
            report.seconds,
            report.inner_verify_seconds,
            report.signing_seconds
        );
    }
    Ok(())
}

/// `depin bench storage`.
fn storage(cfg: &depin_bench::storage::StorageBench, json_out: bool) -> Result<()> {
    if !json_out {
        eprintln!(
            "{} shards with {} providers: openings, deals, proofs through blocks, then the close...",
            cfg.shards, cfg.providers
        );
    }
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let r = depin_bench::storage::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "openings: {:.0}/s verified on one core ({:.0} B hashed each: {:.2}x the raw BLAKE3 rate of {:.0} MB/s); commit {:.0} MB/s ({:.2}x raw)",
            r.proof_openings_verified_per_s,
            r.bytes_hashed_per_opening,
            r.openings_over_raw,
            r.raw_blake3_mb_per_s,
            r.commit_mb_per_s,
            r.commit_over_raw
        );
        println!(
            "blocks: {:.0} deals opened/s; {:.0} proof txs/s ({:.0} openings/s) admitted, executed and committed",
            r.deals_opened_per_s, r.proof_txs_per_s, r.proof_openings_per_s_in_blocks
        );
        println!(
            "close: {:.3} s for the block settling {} proven shards and closing the epoch; reading every deal once {:.3} s ({:.1}x)",
            r.close_seconds, r.deals_proven, r.read_deals_seconds, r.close_over_read
        );
    }
    Ok(())
}

/// `depin bench epoch`.
fn epoch(cfg: &depin_bench::epoch::EpochBench, json_out: bool) -> Result<()> {
    if !json_out {
        eprintln!(
            "building {} synthetic hotspots, then scoring one epoch...",
            cfg.devices
        );
    }
    let report = serde_json::to_value(depin_bench::epoch::run(cfg))?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "one epoch of {} hotspots scored and paid in {:.3} s (density scaling included)",
            cfg.devices,
            report["seconds"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// `depin bench explorer`.
fn explorer(cfg: &depin_bench::explorer::ExplorerBench, json_out: bool) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    if !json_out {
        eprintln!(
            "building a node with {} hotspots after an epoch close, then {} requests per endpoint...",
            cfg.devices, cfg.requests
        );
    }
    let report = depin_bench::explorer::run(cfg, dir.path()).map_err(anyhow::Error::msg)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} devices ({} located); reading the cell index once: {:.1} ms (median of {})",
        report.devices, report.located, report.read_index_ms, report.requests
    );
    println!(
        "{:<62} {:>10} {:>10} {:>10} {:>9}",
        "endpoint", "median ms", "max ms", "bytes", "x read"
    );
    for e in &report.endpoints {
        println!(
            "{:<62} {:>10.2} {:>10.2} {:>10} {:>9.2}",
            e.what, e.median_ms, e.max_ms, e.bytes, e.vs_read_index
        );
    }
    Ok(())
}

/// `depin bench bft`: the BFT network, then the solo driver on the same machine.
fn bft(
    validators: usize,
    seconds: u64,
    offered_per_s: u64,
    block_interval_ms: u64,
    json_out: bool,
) -> Result<()> {
    if !(1..=32).contains(&validators) {
        anyhow::bail!("--validators {validators}: run 1 to 32 validators in one process");
    }
    let cfg = depin_bft::bench::BftBench {
        validators,
        seconds,
        offered_per_s,
        block_interval_ms,
        ..Default::default()
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    if !json_out {
        eprintln!(
            "running {validators} validators for {seconds} s, {offered_per_s} transfers/s offered..."
        );
    }
    let report = depin_bft::bench::run(&cfg, dir.path()).map_err(anyhow::Error::msg)?;
    let solo_cfg = depin_bench::transfers::TransferBench {
        seconds,
        txs: 1_000_000,
        block_interval_ms,
        ..Default::default()
    };
    let solo_dir = tempfile::tempdir().context("creating a temporary directory")?;
    if !json_out {
        eprintln!("running the solo driver for {seconds} s...");
    }
    let solo = depin_bench::transfers::run(&solo_cfg, solo_dir.path(), &|_, _, _| {})
        .map_err(anyhow::Error::msg)?;
    let ratio = report.tx_per_s / solo.tx_per_s;
    // What a committed transfer costs in CPU: the four validators sharing this machine each
    // verify and execute it, the solo node once. Their quotient is what the network could reach
    // against solo here if both were CPU-bound; times the validators, what one validator per
    // machine of this size would reach (a projection: it assumes the validators share the cost
    // evenly, and leaves out the network between machines).
    let cpu_share = solo.cpu_ms_per_tx / report.cpu_ms_per_tx;
    let per_machine = cpu_share * validators as f64;
    if json_out {
        println!(
            "{}",
            serde_json::json!({
                "bft": report,
                "solo_tx_per_s": solo.tx_per_s,
                "solo_cpu_ms_per_tx": solo.cpu_ms_per_tx,
                "solo_cores_busy": solo.cpu_seconds / solo.seconds,
                "bft_to_solo": ratio,
                "cpu_bound_bft_to_solo": cpu_share,
                "projected_bft_to_solo_one_validator_per_machine": per_machine,
            })
        );
    } else {
        println!("validators            {}", report.validators);
        println!(
            "finalized transfers/s {:.0} (offered {})",
            report.tx_per_s, report.offered_per_s
        );
        println!("finality p50          {:.1} ms", report.finality_p50_ms);
        println!("finality p99          {:.1} ms", report.finality_p99_ms);
        println!("blocks                {}", report.blocks);
        println!("app hashes agree      {}", report.app_hashes_agree);
        println!(
            "CPU per transfer      {:.3} ms ({:.2} cores busy)",
            report.cpu_ms_per_tx, report.cores_busy
        );
        println!(
            "solo transfers/s      {:.0} (same machine, same run; {:.3} ms CPU each, {:.2} cores busy)",
            solo.tx_per_s,
            solo.cpu_ms_per_tx,
            solo.cpu_seconds / solo.seconds
        );
        println!("BFT / solo            {ratio:.2}");
        println!(
            "CPU-bound BFT / solo  {cpu_share:.2} (solo CPU per transfer ÷ the network's, all validators on this machine)"
        );
        println!(
            "one validator per machine, projected: {per_machine:.2} of solo (× {validators} validators)"
        );
    }
    Ok(())
}
