//! Monte Carlo: many runs of a scenario in parallel, merged in run order, folded into per-step
//! percentiles and summary KPIs.
//!
//! Runs share nothing but the scenario; each draws its random numbers from (seed, run, step,
//! agent), so the results are the same bytes whatever the number of threads. Every point of a
//! sweep uses the same seeds (common random numbers), so differences between points come from
//! the parameters, not from luck.

use std::fs::File;
use std::io::BufWriter;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::aggregate::{Band, Summary, fans, summarise};
use crate::run::{RunResult, simulate};
use crate::scenario::Scenario;

/// How to execute a point.
pub struct Options<'a> {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Directory for one CSV per run, or none.
    pub csv_dir: Option<PathBuf>,
    /// Advanced once per finished run.
    pub progress: &'a ProgressBar,
}

/// The result of all runs of one scenario point.
pub struct Outcome {
    /// `fans[kpi][step]`: p10/p50/p90 across runs.
    pub fans: Vec<Vec<Band>>,
    pub summary: Summary,
}

/// Runs every Monte Carlo run of `sc` and aggregates them.
pub fn run_point(sc: &Scenario, options: &Options<'_>) -> Result<Outcome> {
    let economics = sc.economics_plan()?;
    if let Some(dir) = &options.csv_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .context("cannot start the worker threads")?;
    let runs: Vec<RunResult> = pool.install(|| {
        (0..sc.scenario.runs)
            .into_par_iter()
            .map(|run| {
                let result = match &options.csv_dir {
                    Some(dir) => simulate_to_csv(sc, &economics, run, dir),
                    None => simulate(sc, &economics, run, None),
                };
                options.progress.inc(1);
                result
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let fans = fans(&runs);
    let summary = summarise(&runs, &fans);
    Ok(Outcome { fans, summary })
}

fn simulate_to_csv(
    sc: &Scenario,
    economics: &crate::scenario::EconomicsPlan,
    run: u32,
    dir: &Path,
) -> Result<RunResult> {
    let path = dir.join(run_file_name(run));
    let file = File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = BufWriter::new(file);
    let result = simulate(sc, economics, run, Some(&mut w))?;
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(result)
}

/// `run-0007.csv`: names sort in run order.
pub fn run_file_name(run: u32) -> String {
    format!("run-{run:04}.csv")
}
