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
    /// The economic simulator: agent-steps per second and peak memory.
    Sim(depin_sim::cli::BenchArgs),
}

/// Runs `depin bench ...`.
pub fn run(cmd: &BenchCmd, json_out: bool) -> Result<()> {
    match cmd {
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
        BenchCmd::Sim(args) => depin_sim::cli::bench(args, json_out),
    }
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
            "raw sig verification  {:.0}/s on {} cores ({:.0}/s on one)",
            report.sig_verify_per_s, report.cores, report.sig_verify_per_core_s
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
