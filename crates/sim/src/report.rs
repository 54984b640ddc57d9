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
use crate::chart::{fan_chart, format_value, lines_chart, share_bars};
use crate::engine::Outcome;
use crate::kpi::{Kpi, Unit};
use crate::scenario::{Decided, Event, GovernanceChange, Loaded, Point, Scenario, Vote};

/// Indicators drawn as fan charts and shown in the report's table, in that order.
pub const CHARTED: [Kpi; 16] = [
    Kpi::ActiveSuppliers,
    Kpi::Coverage,
    Kpi::ServedDemand,
    Kpi::PriceUsd,
    Kpi::MarketCapUsd,
    Kpi::SupplyTokens,
    Kpi::MintedTokens,
    Kpi::BurnedTokens,
    Kpi::Treasury,
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
    let plan = sc.economics_plan().ok();
    for (i, event) in sc.events.iter().enumerate() {
        let label = match event {
            Event::Halving { .. } => "halving",
            Event::Governance { .. } => match plan.as_ref().and_then(|p| p.decided(i)) {
                Some(Decided::Rejected { .. }) => "proposal rejected",
                _ => "governance",
            },
            Event::PriceShock { .. } => "price shock",
            Event::DemandShock { .. } => "demand shock",
        };
        m.push((event.step(), label.to_string()));
    }
    m.sort();
    m
}

/// A scheduled governance change and what the ledger's code made of it.
#[derive(Clone, Debug, Serialize)]
pub struct GovernanceRecord<'a> {
    pub step: u32,
    /// The ledger proposals it was made into (`economics`, `module_params`).
    pub proposals: Vec<&'static str>,
    pub set: &'a GovernanceChange,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
    /// `applied` (in force from `step`) or `rejected` (nothing changed).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Every governance event of `sc` in the order they apply, with its outcome.
pub fn governance_log(sc: &Scenario) -> Vec<GovernanceRecord<'_>> {
    let Ok(plan) = sc.economics_plan() else {
        return Vec::new();
    };
    let mut out: Vec<GovernanceRecord<'_>> = sc
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, event)| {
            let Event::Governance { step, set, vote } = event else {
                return None;
            };
            let (outcome, code, why) = match plan.decided(i)? {
                Decided::Applied { .. } => ("applied", None, None),
                Decided::Rejected { code, why } => ("rejected", Some(*code), Some(why.clone())),
            };
            Some(GovernanceRecord {
                step: *step,
                proposals: sc
                    .economics
                    .proposals(set)
                    .iter()
                    .map(|k| k.name())
                    .collect(),
                set,
                vote: *vote,
                outcome,
                code,
                why,
            })
        })
        .collect();
    out.sort_by_key(|r| r.step);
    out
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
        let svg = fan_chart(k.title(), k.unit(), &outcome.fans[k as usize], &marks);
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
    /// The scheduled governance changes and their outcomes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub governance: Vec<GovernanceRecord<'a>>,
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
            governance: governance_log(&p.scenario),
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

fn band_cells(b: &Band, unit: Unit) -> String {
    format!(
        "<td>{}</td><td><b>{}</b></td><td>{}</td>",
        format_value(b.p10, unit),
        format_value(b.p50, unit),
        format_value(b.p90, unit)
    )
}

/// One labelled row of a p10/p50/p90 table.
fn band_row(h: &mut String, label: &str, b: &Band, unit: Unit) {
    let _ = write!(h, "<tr><td>{}</td>{}</tr>", esc(label), band_cells(b, unit));
}

/// A cell of the side-by-side table: the median, and the band under it.
fn compare_cell(b: &Band, unit: Unit) -> String {
    format!(
        "<td><b>{}</b><br><small>{} to {}</small></td>",
        format_value(b.p50, unit),
        format_value(b.p10, unit),
        format_value(b.p90, unit)
    )
}

/// The metrics of the side-by-side table and the money table: label, unit, band.
fn money_rows(s: &Summary) -> Vec<(&'static str, Unit, Band)> {
    let t = &s.totals;
    vec![
        ("Tokens minted over the run", Unit::Tokens, t.minted_tokens),
        ("Tokens burned over the run", Unit::Tokens, t.burned_tokens),
        (
            "Net new tokens (minted minus burned)",
            Unit::Tokens,
            t.net_minted_tokens,
        ),
        (
            "Bootstrap rewards (tokens)",
            Unit::Tokens,
            t.bootstrap_tokens,
        ),
        ("Demand rewards (tokens)", Unit::Tokens, t.demand_tokens),
        (
            "Bootstrap share of suppliers' rewards",
            Unit::Percent,
            t.bootstrap_share,
        ),
        (
            "Demand share of suppliers' rewards",
            Unit::Percent,
            t.demand_share,
        ),
        ("To the treasury (tokens)", Unit::Tokens, t.treasury_tokens),
        ("To validators (tokens)", Unit::Tokens, t.validators_tokens),
        (
            "Total supply at the last epoch",
            Unit::Tokens,
            s.at_end(Kpi::SupplyTokens),
        ),
        (
            "Token price at the last epoch",
            Unit::Usd,
            s.at_end(Kpi::PriceUsd),
        ),
        (
            "Market cap at the last epoch",
            Unit::Usd,
            s.at_end(Kpi::MarketCapUsd),
        ),
        ("Users' spend over the run", Unit::Usd, t.users_spend_usd),
        (
            "Suppliers' revenue over the run",
            Unit::Usd,
            t.supplier_revenue_usd,
        ),
        (
            "Suppliers' cost over the run (hardware and operating)",
            Unit::Usd,
            t.supplier_cost_usd,
        ),
        (
            "Suppliers' revenue / cost",
            Unit::Ratio,
            t.revenue_over_cost,
        ),
    ]
}

/// Supplier outcomes: label, unit, band.
fn supplier_rows(s: &Summary) -> Vec<(&'static str, Unit, Band)> {
    let mut rows = vec![
        (
            "Peak active suppliers",
            Unit::Count,
            s.peak_active_suppliers,
        ),
        (
            "Active suppliers at the last epoch",
            Unit::Count,
            s.at_end(Kpi::ActiveSuppliers),
        ),
        (
            "Suppliers who ever joined",
            Unit::Count,
            s.totals.ever_joined,
        ),
        (
            "Share of them who paid back their costs",
            Unit::Percent,
            s.paid_back_share,
        ),
    ];
    if let Some(b) = s.payback_steps {
        rows.push(("Median payback of those who did (epochs)", Unit::Count, b));
    }
    rows
}

/// Indicators compared side by side as charts when a file has several points.
const COMPARED: [Kpi; 8] = [
    Kpi::ActiveSuppliers,
    Kpi::PriceUsd,
    Kpi::MarketCapUsd,
    Kpi::SupplyTokens,
    Kpi::BurnMintRatio,
    Kpi::BootstrapShare,
    Kpi::RevenuePerSupplierUsd,
    Kpi::InProfitShare,
];

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
.meta td{{text-align:left}}code{{background:#f3f5f8;padding:1px 4px}}
td:first-child{{min-width:240px}}.cmp{{font-size:13px}}.cmp th{{font-weight:normal;min-width:110px}}small{{color:#666}}.scroll{{overflow-x:auto}}</style></head><body>
<h1>depin sim: {name}</h1><p>{desc}</p>
<table class="meta"><tr><td>scenario file</td><td><code>{file}</code></td></tr>
<tr><td>BLAKE3 of the file</td><td><code>{hash}</code></td></tr>
<tr><td>seed, runs, steps, agents</td><td>{seed}, {runs} runs, {steps} epochs of {days} days, {pop} potential suppliers</td></tr></table>
<p>Every value is the median over runs with the 10th and 90th percentiles beside it (p10, p90); charts draw the band between them and the median as a line, with the last epoch's values written above. Each step is one reward epoch. Shares are percentages; money in tokens or US dollars at each epoch's price.</p>"#,
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
        compare_section(&mut h, loaded, outcomes);
    }
    for (i, (p, o)) in loaded.points.iter().zip(outcomes).enumerate() {
        point_section(&mut h, i, p, o);
    }
    h.push_str("<p>Written by <code>depin sim</code>; every run's steps are in <code>runs/</code>, percentiles in <code>percentiles.csv</code>, KPIs in <code>summary.json</code>.</p></body></html>\n");
    h
}

/// The points side by side: one column each, medians with their band, then the medians of a
/// few indicators over time on shared axes.
fn compare_section(h: &mut String, loaded: &Loaded, outcomes: &[Outcome]) {
    h.push_str("<h2>Side by side</h2><p>Each column is one point of the sweep, run with the same seeds. Cells give the median over runs and, below it, the 10th to 90th percentile.</p><div class=\"scroll\"><table class=\"cmp\"><tr><th></th>");
    for (i, p) in loaded.points.iter().enumerate() {
        let _ = write!(
            h,
            "<th><a href=\"#point-{i}\">{}</a></th>",
            esc(&p.label()).replace(", ", ",<br>")
        );
    }
    h.push_str("</tr>");
    let _ = write!(h, "<tr><td>Probability of supply collapse</td>");
    for o in outcomes {
        let _ = write!(
            h,
            "<td><b>{}</b></td>",
            format_value(o.summary.supply_collapse_probability, Unit::Percent)
        );
    }
    h.push_str("</tr>");
    let rows: Vec<Vec<(&str, Unit, Band)>> = outcomes
        .iter()
        .map(|o| {
            let mut r = supplier_rows(&o.summary);
            r.truncate(4);
            r.extend(money_rows(&o.summary));
            r
        })
        .collect();
    for (j, (label, unit, _)) in rows[0].iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", esc(label));
        for r in &rows {
            h.push_str(&compare_cell(&r[j].2, *unit));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div><div class=\"charts\">");
    for k in COMPARED {
        let series: Vec<(String, Vec<f64>)> = loaded
            .points
            .iter()
            .zip(outcomes)
            .map(|(p, o)| {
                (
                    p.label(),
                    o.fans[k as usize].iter().map(|b| b.p50).collect(),
                )
            })
            .collect();
        h.push_str(&lines_chart(k.title(), k.unit(), &series));
    }
    h.push_str("</div>");
}

/// The scheduled governance changes: what each set, the vote, and what the ledger's code
/// decided.
fn governance_table(h: &mut String, sc: &Scenario) {
    let log = governance_log(sc);
    if log.is_empty() {
        return;
    }
    h.push_str("<h3>Governance</h3><p>Each change goes through the ledger's own check and application of a proposal; a vote is decided by the ledger's quorum and threshold rule.</p><table><tr><th>from epoch</th><th>change</th><th>vote</th><th>outcome</th></tr>");
    for r in log {
        let set = serde_json::to_value(r.set)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let vote = match r.vote {
            Some(v) => format!(
                "{} turnout, {} yes",
                format_value(f64::from(v.turnout_bps) / 1e4, Unit::Percent),
                format_value(f64::from(v.yes_bps) / 1e4, Unit::Percent)
            ),
            None => "enacted".into(),
        };
        let outcome = match (&r.code, &r.why) {
            (Some(code), Some(why)) => format!("rejected ({code}): {why}; nothing changed"),
            _ => "applied".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{} <small>({})</small></td><td>{}</td><td>{}</td></tr>",
            r.step,
            esc(&set),
            r.proposals.join(", "),
            vote,
            esc(&outcome)
        );
    }
    h.push_str("</table>");
}

/// Medians at five epochs of the run, so the trend reads without a chart.
fn over_time(h: &mut String, o: &Outcome) {
    let steps = o.summary.steps as usize;
    if steps == 0 {
        return;
    }
    let mut at: Vec<usize> = [0, steps / 4, steps / 2, 3 * steps / 4, steps - 1].to_vec();
    at.dedup();
    h.push_str("<h3>Over time (medians)</h3><table><tr><th>epoch</th>");
    for t in &at {
        let _ = write!(h, "<th>{t}</th>");
    }
    h.push_str("</tr>");
    for k in CHARTED {
        let _ = write!(h, "<tr><td>{}</td>", esc(k.title()));
        for t in &at {
            let _ = write!(
                h,
                "<td>{}</td>",
                format_value(o.fans[k as usize][*t].p50, k.unit())
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn point_section(h: &mut String, i: usize, p: &Point, o: &Outcome) {
    let s = &o.summary;
    let _ = write!(h, "<h2 id=\"point-{i}\">{}</h2>", esc(&p.label()));
    h.push_str("<h3>Money</h3><table><tr><th></th><th>p10</th><th>p50</th><th>p90</th></tr>");
    for (label, unit, b) in money_rows(s) {
        band_row(h, label, &b, unit);
    }
    h.push_str(
        "</table><h3>Suppliers</h3><table><tr><th></th><th>p10</th><th>p50</th><th>p90</th></tr>",
    );
    let _ = write!(
        h,
        "<tr><td>Probability of supply collapse (active suppliers below {} of peak)</td><td colspan=3><b>{}</b></td></tr>",
        format_value(p.scenario.kpi.collapse_fraction, Unit::Percent),
        format_value(s.supply_collapse_probability, Unit::Percent)
    );
    for (label, unit, b) in supplier_rows(s) {
        band_row(h, label, &b, unit);
    }
    h.push_str("</table>");
    governance_table(h, &p.scenario);
    let w = s.payback.bin_epochs;
    let mut bars: Vec<(String, f64)> = s
        .payback
        .shares
        .iter()
        .enumerate()
        .map(|(b, share)| {
            let from = b as u32 * w;
            let label = if b + 1 == s.payback.shares.len() {
                format!("{from}+")
            } else {
                format!("{from}-{}", from + w - 1)
            };
            (label, *share)
        })
        .collect();
    bars.push(("never".into(), s.payback.never));
    h.push_str("<div class=\"charts\">");
    h.push_str(&share_bars(
        "Epochs from joining to paying back (share of suppliers who joined, all runs)",
        &bars,
    ));
    h.push_str("</div>");
    over_time(h, o);
    h.push_str(
        "<h3>At the last epoch</h3><table><tr><th></th><th>p10</th><th>p50</th><th>p90</th></tr>",
    );
    for k in CHARTED {
        band_row(h, k.title(), &s.at_end(k), k.unit());
    }
    h.push_str("</table><div class=\"charts\">");
    let marks = markers(&p.scenario);
    for k in CHARTED {
        h.push_str(&fan_chart(k.title(), k.unit(), &o.fans[k as usize], &marks));
    }
    h.push_str("</div>");
}
