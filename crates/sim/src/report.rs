//! Output files of a simulation: per-run CSVs (written by the engine), per-step percentiles,
//! SVG fan charts, `summary.json` and a self-contained `report.html`.
//!
//! Nothing here depends on the clock or the thread count, so the same scenario and seed give the
//! same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::aggregate::{Band, Summary};
use crate::chart::fan_chart;
use crate::engine::Outcome;
use crate::kpi::Kpi;
use crate::scenario::{Event, Loaded, Point, Scenario};

/// Indicators drawn as fan charts and shown in the report's table, in that order.
pub const CHARTED: [Kpi; 12] = [
    Kpi::ActiveSuppliers,
    Kpi::Coverage,
    Kpi::ServedDemand,
    Kpi::PriceUsd,
    Kpi::SupplyTokens,
    Kpi::InflationAnnual,
    Kpi::BurnMintRatio,
    Kpi::DemandPool,
    Kpi::RevenuePerSupplierUsd,
    Kpi::LosingMoneyShare,
    Kpi::SupplierRoi,
    Kpi::InProfitShare,
];

/// Where a point's files go: the output directory itself, or `point-NNN/` in a sweep.
pub fn point_dir(out: &Path, index: usize, points: usize) -> PathBuf {
    if points == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("point-{index:03}"))
    }
}

/// Steps to mark on charts: scheduled halvings and events.
pub fn markers(sc: &Scenario) -> Vec<(u32, String)> {
    let mut m = Vec::new();
    let interval = sc.economics.halving_interval_epochs;
    if interval > 0 {
        let mut e = interval;
        while e < u64::from(sc.scenario.steps) && m.len() < 20 {
            m.push((e as u32, "halving".to_string()));
            e += interval;
        }
    }
    for event in &sc.events {
        let label = match event {
            Event::Halving { .. } => "halving",
            Event::Governance { .. } => "governance",
            Event::PriceShock { .. } => "price shock",
            Event::DemandShock { .. } => "demand shock",
        };
        m.push((event.step(), label.to_string()));
    }
    m.sort();
    m
}

/// Writes a point's percentiles CSV and fan charts into `dir`.
pub fn write_point_files(dir: &Path, sc: &Scenario, outcome: &Outcome) -> Result<()> {
    std::fs::create_dir_all(dir.join("charts"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut csv = String::from("step");
    for k in Kpi::ALL {
        let n = k.name();
        let _ = write!(csv, ",{n}_p10,{n}_p50,{n}_p90");
    }
    csv.push('\n');
    for t in 0..outcome.summary.steps as usize {
        let _ = write!(csv, "{t}");
        for k in Kpi::ALL {
            let b = outcome.fans[k as usize][t];
            let _ = write!(csv, ",{},{},{}", b.p10, b.p50, b.p90);
        }
        csv.push('\n');
    }
    write(&dir.join("percentiles.csv"), &csv)?;
    let marks = markers(sc);
    for k in CHARTED {
        let svg = fan_chart(k.title(), &outcome.fans[k as usize], &marks);
        write(&dir.join("charts").join(format!("{}.svg", k.name())), &svg)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `summary.json`: the scenario's identity and every point's KPIs.
#[derive(Serialize)]
pub struct SummaryFile<'a> {
    pub scenario: ScenarioId<'a>,
    pub points: Vec<PointSummary<'a>>,
}

/// What identifies a simulation: the file's hash and the seed reproduce it.
#[derive(Serialize)]
pub struct ScenarioId<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub file: &'a str,
    pub blake3: &'a str,
    pub seed: u64,
    pub runs: u32,
    pub steps: u32,
    pub population: u32,
}

#[derive(Serialize)]
pub struct PointSummary<'a> {
    pub label: String,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Directory of the point's files, relative to the output directory.
    pub dir: String,
    pub summary: &'a Summary,
}

/// Builds the JSON summary of a finished simulation.
pub fn summary_file<'a>(
    loaded: &'a Loaded,
    base: &'a Scenario,
    outcomes: &'a [Outcome],
) -> SummaryFile<'a> {
    let points = loaded
        .points
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (p, o))| PointSummary {
            label: p.label(),
            params: p
                .params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
            dir: if loaded.points.len() == 1 {
                ".".into()
            } else {
                format!("point-{i:03}")
            },
            summary: &o.summary,
        })
        .collect();
    SummaryFile {
        scenario: ScenarioId {
            name: &base.scenario.name,
            description: &base.scenario.description,
            file: &loaded.origin,
            blake3: &loaded.blake3,
            seed: base.scenario.seed,
            runs: base.scenario.runs,
            steps: base.scenario.steps,
            population: base.suppliers.population,
        },
        points,
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn band_cells(b: &Band) -> String {
    format!(
        "<td>{}</td><td><b>{}</b></td><td>{}</td>",
        fmt(b.p10),
        fmt(b.p50),
        fmt(b.p90)
    )
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole report as one HTML page with the charts inline.
pub fn html_report(loaded: &Loaded, outcomes: &[Outcome]) -> String {
    let base = &loaded.points[0].scenario;
    let m = &base.scenario;
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>depin sim: {name}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:1340px;margin:24px auto;padding:0 16px;color:#222}}
table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}}
th{{background:#f3f5f8}}td:first-child,th:first-child{{text-align:left}}.charts{{display:flex;flex-wrap:wrap;gap:8px}}
.meta td{{text-align:left}}code{{background:#f3f5f8;padding:1px 4px}}</style></head><body>
<h1>depin sim: {name}</h1><p>{desc}</p>
<table class="meta"><tr><td>scenario file</td><td><code>{file}</code></td></tr>
<tr><td>BLAKE3 of the file</td><td><code>{hash}</code></td></tr>
<tr><td>seed, runs, steps, agents</td><td>{seed}, {runs} runs, {steps} epochs of {days} days, {pop} potential suppliers</td></tr></table>
<p>Bands are the 10th to 90th percentile across runs; the line is the median. Each step is one reward epoch.</p>"#,
        name = esc(&m.name),
        desc = esc(&m.description),
        file = esc(&loaded.origin),
        hash = loaded.blake3,
        seed = m.seed,
        runs = m.runs,
        steps = m.steps,
        days = m.step_days,
        pop = base.suppliers.population,
    );
    if loaded.points.len() > 1 {
        h.push_str("<h2>Sweep: medians across runs</h2><table><tr><th>point</th><th>collapse probability</th>");
        for k in [
            Kpi::ActiveSuppliers,
            Kpi::PriceUsd,
            Kpi::SupplyTokens,
            Kpi::SupplierRoi,
        ] {
            let _ = write!(h, "<th>{} (end)</th>", esc(k.title()));
        }
        h.push_str("</tr>");
        for (i, (p, o)) in loaded.points.iter().zip(outcomes).enumerate() {
            let _ = write!(
                h,
                "<tr><td><a href=\"#point-{i}\">{}</a></td><td>{}</td>",
                esc(&p.label()),
                fmt(o.summary.supply_collapse_probability)
            );
            for k in [
                Kpi::ActiveSuppliers,
                Kpi::PriceUsd,
                Kpi::SupplyTokens,
                Kpi::SupplierRoi,
            ] {
                let _ = write!(h, "<td>{}</td>", fmt(o.summary.at_end(k).p50));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    for (i, (p, o)) in loaded.points.iter().zip(outcomes).enumerate() {
        point_section(&mut h, i, p, o);
    }
    h.push_str("<p>Written by <code>depin sim</code>; every run's steps are in <code>runs/</code>, percentiles in <code>percentiles.csv</code>, KPIs in <code>summary.json</code>.</p></body></html>\n");
    h
}

fn point_section(h: &mut String, i: usize, p: &Point, o: &Outcome) {
    let s = &o.summary;
    let _ = write!(h, "<h2 id=\"point-{i}\">{}</h2>", esc(&p.label()));
    h.push_str("<table><tr><th>KPI</th><th>p10</th><th>p50</th><th>p90</th></tr>");
    let _ = write!(
        h,
        "<tr><td>Probability of supply collapse (active suppliers below {} of peak)</td><td colspan=3><b>{}</b></td></tr>",
        p.scenario.kpi.collapse_fraction,
        fmt(s.supply_collapse_probability)
    );
    if let Some(b) = &s.payback_steps {
        let _ = write!(
            h,
            "<tr><td>Median payback of suppliers who paid back (epochs)</td>{}</tr>",
            band_cells(b)
        );
    }
    let _ = write!(
        h,
        "<tr><td>Share of suppliers who ever paid back their costs</td>{}</tr>",
        band_cells(&s.paid_back_share)
    );
    let _ = write!(
        h,
        "<tr><td>Peak active suppliers</td>{}</tr>",
        band_cells(&s.peak_active_suppliers)
    );
    for k in CHARTED {
        let _ = write!(
            h,
            "<tr><td>{} at the last epoch</td>{}</tr>",
            esc(k.title()),
            band_cells(&s.at_end(k))
        );
    }
    h.push_str("</table><div class=\"charts\">");
    let marks = markers(&p.scenario);
    for k in CHARTED {
        h.push_str(&fan_chart(k.title(), &o.fans[k as usize], &marks));
    }
    h.push_str("</div>");
}
