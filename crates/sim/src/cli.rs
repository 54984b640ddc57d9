//! Command-line entry points for `depin sim` and `depin bench sim`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::chart::format_value;
use crate::engine::{Options, run_point};
use crate::kpi::{Kpi, Unit};
use crate::report::{html_report, point_dir, summary_file, write_point_files};
use crate::scenario::{self, Loaded};

/// Arguments of `depin sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Scenario file (TOML); see scenarios/ and docs/SIM.md.
    pub scenario: PathBuf,
    /// Directory for the outputs (CSV per run, percentiles, summary.json, charts, report.html);
    /// created if missing, files in it overwritten.
    #[arg(long)]
    pub out: PathBuf,
    /// Monte Carlo runs, instead of the scenario's `scenario.runs`.
    #[arg(long)]
    pub runs: Option<u32>,
    /// Seed, instead of the scenario's `scenario.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Arguments of `depin bench sim`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Potential suppliers (agents) per run.
    #[arg(long, default_value_t = 10_000)]
    pub suppliers: u32,
    /// Steps (epochs) per run.
    #[arg(long, default_value_t = 365)]
    pub steps: u32,
    /// Monte Carlo runs.
    #[arg(long, default_value_t = 1_000)]
    pub runs: u32,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn progress_bar(total: u64, json: bool, what: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} runs, {elapsed} (eta {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Applies command-line overrides to every point.
fn apply_overrides(loaded: &mut Loaded, runs: Option<u32>, seed: Option<u64>) -> Result<()> {
    for p in &mut loaded.points {
        if let Some(r) = runs {
            p.scenario.scenario.runs = r;
        }
        if let Some(s) = seed {
            p.scenario.scenario.seed = s;
        }
        p.scenario.validate().context("after --runs/--seed")?;
    }
    Ok(())
}

/// Runs `depin sim`.
pub fn run(args: &SimArgs, json: bool) -> Result<()> {
    let mut loaded = scenario::load(&args.scenario)?;
    apply_overrides(&mut loaded, args.runs, args.seed)?;
    let summary = simulate_to(&loaded, &args.out, args.threads, json)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let base = &loaded.points[0].scenario;
    println!(
        "{}: {} runs x {} epochs x {} suppliers, seed {} (scenario BLAKE3 {})",
        base.scenario.name,
        base.scenario.runs,
        base.scenario.steps,
        base.suppliers.population,
        base.scenario.seed,
        &loaded.blake3[..16]
    );
    for p in &summary["points"].as_array().cloned().unwrap_or_default() {
        if loaded.points.len() > 1 {
            println!("\n{}", p["label"].as_str().unwrap_or(""));
        }
        let s = &p["summary"];
        println!(
            "  supply collapse probability {:.2}",
            s["supply_collapse_probability"]
                .as_f64()
                .unwrap_or(f64::NAN)
        );
        println!("  at the last epoch               p10          p50          p90");
        for k in [
            Kpi::ActiveSuppliers,
            Kpi::Coverage,
            Kpi::ServedDemand,
            Kpi::PriceUsd,
            Kpi::SupplyTokens,
            Kpi::InflationAnnual,
            Kpi::BurnMintRatio,
            Kpi::SupplierRoi,
            Kpi::LosingMoneyShare,
        ] {
            let b = &s["final_step"][k.name()];
            let v = |q: &str| b[q].as_f64().unwrap_or(f64::NAN);
            println!(
                "  {:<26} {:>12} {:>12} {:>12}",
                k.name(),
                short(v("p10")),
                short(v("p50")),
                short(v("p90"))
            );
        }
        let t = &s["totals"];
        let m = |k: &str| t[k]["p50"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  over the run (medians): minted {} and burned {} tokens, {} to the treasury, {} to validators; bootstrap {} and demand {} of suppliers' rewards; suppliers' revenue {} against cost {}",
            format_value(m("minted_tokens"), Unit::Tokens),
            format_value(m("burned_tokens"), Unit::Tokens),
            format_value(m("treasury_tokens"), Unit::Tokens),
            format_value(m("validators_tokens"), Unit::Tokens),
            format_value(m("bootstrap_share"), Unit::Percent),
            format_value(m("demand_share"), Unit::Percent),
            format_value(m("supplier_revenue_usd"), Unit::Usd),
            format_value(m("supplier_cost_usd"), Unit::Usd),
        );
    }
    let report = args.out.join("report.html");
    // A file URL opens from a terminal on every system (there is no `open` on Linux).
    let url = std::fs::canonicalize(&report)
        .map(|p| format!("file://{}", p.display()))
        .unwrap_or_else(|_| report.display().to_string());
    println!("\nReport: {url}  (also summary.json, percentiles.csv, charts/, runs/)");
    Ok(())
}

fn short(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.3e}", v)
    } else {
        format!("{v:.4}")
    }
}

/// Runs every point of `loaded`, writes all outputs into `out`, and returns the summary JSON.
pub fn simulate_to(
    loaded: &Loaded,
    out: &std::path::Path,
    threads: usize,
    json: bool,
) -> Result<serde_json::Value> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let total: u64 = loaded
        .points
        .iter()
        .map(|p| u64::from(p.scenario.scenario.runs))
        .sum();
    let bar = progress_bar(total, json, "simulating");
    let mut outcomes = Vec::with_capacity(loaded.points.len());
    for (i, point) in loaded.points.iter().enumerate() {
        let dir = point_dir(out, i, loaded.points.len());
        let outcome = run_point(
            &point.scenario,
            &Options {
                threads,
                csv_dir: Some(dir.join("runs")),
                progress: &bar,
            },
        )
        .with_context(|| format!("simulating point [{}]", point.label()))?;
        write_point_files(&dir, &point.scenario, &outcome)?;
        outcomes.push(outcome);
    }
    bar.finish_and_clear();
    let summary = summary_file(loaded, &loaded.points[0].scenario, &outcomes);
    let value = serde_json::to_value(&summary)?;
    let text = serde_json::to_string_pretty(&value)? + "\n";
    std::fs::write(out.join("summary.json"), text).context("cannot write summary.json")?;
    std::fs::write(out.join("report.html"), html_report(loaded, &outcomes))
        .context("cannot write report.html")?;
    Ok(value)
}

/// The scenario `depin bench sim` runs: the shipped baseline at the requested size.
pub const BENCH_SCENARIO: &str = include_str!("../../../scenarios/baseline.toml");

/// Runs `depin bench sim`.
pub fn bench(args: &BenchArgs, json: bool) -> Result<()> {
    let mut loaded = scenario::load_text(BENCH_SCENARIO, "scenarios/baseline.toml")?;
    let point = &mut loaded.points[0].scenario;
    point.suppliers.population = args.suppliers;
    point.suppliers.initial_active = point.suppliers.initial_active.min(args.suppliers);
    point.scenario.steps = args.steps;
    point.scenario.runs = args.runs;
    point.events.retain(|e| e.step() < args.steps);
    point.validate().context("bench size")?;
    let threads = if args.threads == 0 {
        rayon::current_num_threads()
    } else {
        args.threads
    };
    let bar = progress_bar(u64::from(args.runs), json, "bench sim");
    let start = Instant::now();
    let outcome = run_point(
        point,
        &Options {
            threads,
            csv_dir: None,
            progress: &bar,
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let agent_steps = f64::from(args.suppliers) * f64::from(args.steps) * f64::from(args.runs);
    let result = serde_json::json!({
        "bench": "sim",
        "scenario": "scenarios/baseline.toml",
        "suppliers": args.suppliers,
        "steps": args.steps,
        "runs": args.runs,
        "agent_steps": agent_steps,
        "seconds": seconds,
        "agent_steps_per_s": agent_steps / seconds,
        "agent_steps_per_s_per_thread": agent_steps / seconds / threads as f64,
        "peak_rss_mib": peak_rss_mib(),
        "threads": threads,
        "cpu": cpu_model(),
        "median_active_suppliers_at_end": outcome.summary.at_end(Kpi::ActiveSuppliers).p50,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} suppliers x {} steps x {} runs = {:.3e} agent-steps in {seconds:.2} s on {threads} threads: {:.3e} agent-steps/s, peak RSS {:.1} MiB ({})",
            args.suppliers,
            args.steps,
            args.runs,
            agent_steps,
            agent_steps / seconds,
            result["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
            result["cpu"].as_str().unwrap_or("unknown CPU")
        );
    }
    Ok(())
}

/// Peak resident memory of this process (VmHWM), MiB; `None` where /proc is unavailable.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
