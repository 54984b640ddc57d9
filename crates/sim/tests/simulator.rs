//! The simulator end to end: shipped scenarios, reproducibility, conservation, qualitative
//! behaviour of the economics, and errors on bad scenario files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use depin_core::Keypair;
use depin_core::services::demand::params::preset;
use depin_sim::cli::{BenchArgs, bench, simulate_to};
use depin_sim::engine::{Options, run_point};
use depin_sim::kpi::Kpi;
use depin_sim::scenario::{Loaded, Pricing, Scenario, load, load_text};
use indicatif::ProgressBar;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn baseline_text() -> String {
    std::fs::read_to_string(scenarios_dir().join("baseline.toml")).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("depin-sim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Shrinks every point to a small population (tests stay fast in debug builds).
fn shrink(loaded: &mut Loaded, population: u32, runs: u32) {
    for p in &mut loaded.points {
        let sc = &mut p.scenario;
        sc.suppliers.population = population;
        sc.suppliers.initial_active = sc.suppliers.initial_active.min(population / 4);
        sc.suppliers.coverage_half_at = f64::from(population) / 6.0;
        sc.scenario.runs = runs;
        sc.validate().unwrap();
    }
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

#[test]
fn every_shipped_scenario_parses_and_runs() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            names.push(path);
        }
    }
    names.sort();
    for expected in [
        "baseline",
        "pure-burn-and-mint",
        "full-remint",
        "weak-demand",
        "slow-cold-start",
        "price-crash",
        "no-halving",
    ] {
        assert!(
            names.iter().any(|p| p.file_stem().unwrap() == expected),
            "scenarios/{expected}.toml is shipped"
        );
    }
    for path in names {
        let mut loaded = load(&path).unwrap();
        shrink(&mut loaded, 120, 2);
        let out = temp_dir(&format!(
            "shipped-{}",
            path.file_stem().unwrap().to_string_lossy()
        ));
        let summary = simulate_to(&loaded, &out, 2, true)
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        assert_eq!(
            summary["points"].as_array().unwrap().len(),
            loaded.points.len()
        );
        assert!(out.join("report.html").exists() && out.join("summary.json").exists());
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn same_bytes_with_one_or_two_threads() {
    let mut loaded = load_text(&baseline_text(), "baseline.toml").unwrap();
    shrink(&mut loaded, 150, 5);
    loaded.points[0].scenario.scenario.steps = 120;
    let (one, two) = (temp_dir("threads-1"), temp_dir("threads-2"));
    simulate_to(&loaded, &one, 1, true).unwrap();
    simulate_to(&loaded, &two, 2, true).unwrap();
    let (a, b) = (tree(&one), tree(&two));
    assert!(
        a.len() >= 5 + 12,
        "runs, percentiles, charts, summary, report"
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{} differs between 1 and 2 threads",
            path.display()
        );
    }
    // The summary names the scenario's hash and the seed that reproduce it.
    let summary: serde_json::Value = serde_json::from_slice(&a[Path::new("summary.json")]).unwrap();
    assert_eq!(summary["scenario"]["blake3"], loaded.blake3.as_str());
    assert_eq!(summary["scenario"]["seed"], 20260101);
    // A different seed gives different runs.
    loaded.points[0].scenario.scenario.seed += 1;
    let other = temp_dir("threads-seed");
    simulate_to(&loaded, &other, 2, true).unwrap();
    assert_ne!(
        tree(&other)[Path::new("runs/run-0000.csv")],
        a[Path::new("runs/run-0000.csv")]
    );
    for d in [one, two, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn supply_is_genesis_plus_minted_minus_burned_every_step() {
    let mut loaded = load_text(&baseline_text(), "baseline.toml").unwrap();
    shrink(&mut loaded, 150, 2);
    let genesis = loaded.points[0].scenario.genesis_supply().0;
    let out = temp_dir("conservation");
    simulate_to(&loaded, &out, 2, true).unwrap();
    for run in ["runs/run-0000.csv", "runs/run-0001.csv"] {
        let text = std::fs::read_to_string(out.join(run)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (s, m, b) = (
            col("supply_base_units"),
            col("minted_base_units"),
            col("burned_base_units"),
        );
        let (mut minted, mut burned) = (0u128, 0u128);
        let mut steps = 0;
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            minted += f[m].parse::<u128>().unwrap();
            burned += f[b].parse::<u128>().unwrap();
            assert_eq!(
                f[s].parse::<u128>().unwrap() + burned,
                genesis + minted,
                "{run} step {}",
                f[0]
            );
            steps += 1;
        }
        assert_eq!(steps, 730);
        assert!(minted > 0 && burned > 0, "both flows are exercised");
    }
    let _ = std::fs::remove_dir_all(&out);
}

fn run(sc: &Scenario) -> depin_sim::engine::Outcome {
    run_point(
        sc,
        &Options {
            threads: 2,
            csv_dir: None,
            progress: &ProgressBar::hidden(),
        },
    )
    .unwrap()
}

fn p50(outcome: &depin_sim::engine::Outcome, kpi: Kpi, step: usize) -> f64 {
    outcome.fans[kpi as usize][step].p50
}

#[test]
fn without_demand_supply_shrinks_once_the_subsidy_decays() {
    let mut loaded = load_text(&baseline_text(), "baseline.toml").unwrap();
    shrink(&mut loaded, 300, 6);
    let sc = &mut loaded.points[0].scenario;
    sc.scenario.steps = 360;
    sc.demand.initial_units = 0.0;
    // The baseline's emission scaled to 300 of its 10,000 agents, halving every 60 epochs.
    sc.economics.emission_per_epoch = "900".into();
    sc.economics.halving_interval_epochs = 60;
    sc.validate().unwrap();
    let o = run(sc);
    let before = p50(&o, Kpi::ActiveSuppliers, 59);
    let end = p50(&o, Kpi::ActiveSuppliers, 359);
    assert_eq!(p50(&o, Kpi::ServedDemand, 200), 0.0);
    assert!(
        before > 2.0 * end,
        "active suppliers {before} before the first halving, {end} after five"
    );
    assert!(p50(&o, Kpi::LosingMoneyShare, 359) > 0.0 || end == 0.0);
    assert!(o.summary.supply_collapse_probability > 0.5);

    // The same network with demand keeps its suppliers.
    sc.demand.initial_units = 60.0;
    sc.demand.max_units = 4_500.0;
    let with_demand = run(sc);
    assert!(p50(&with_demand, Kpi::ActiveSuppliers, 359) > 2.0 * end);
}

#[test]
fn a_crash_hurts_suppliers_less_when_credits_are_pegged() {
    let text = std::fs::read_to_string(scenarios_dir().join("price-crash.toml")).unwrap();
    let mut loaded = load_text(&text, "price-crash.toml").unwrap();
    shrink(&mut loaded, 300, 6);
    let sc = &mut loaded.points[0].scenario;
    sc.scenario.steps = 400;
    assert_eq!(sc.demand.pricing, Pricing::Pegged);
    let pegged = run(sc);
    sc.demand.pricing = Pricing::Token;
    let token = run(sc);
    let after_crash = |o: &depin_sim::engine::Outcome| {
        (180..400)
            .map(|t| p50(o, Kpi::RevenuePerSupplierUsd, t))
            .sum::<f64>()
            / 220.0
    };
    // Before the crash both pay the same (token pricing is set at the launch price)...
    let before = |o: &depin_sim::engine::Outcome| p50(o, Kpi::DemandUsd, 10);
    assert!((before(&pegged) / before(&token) - 1.0).abs() < 0.05);
    // ...after it, pegged credits keep users' USD spend and the demand pool's USD cap.
    assert!(
        after_crash(&pegged) > 1.1 * after_crash(&token),
        "revenue per supplier after the crash: pegged {} vs token {}",
        after_crash(&pegged),
        after_crash(&token)
    );
    assert!(p50(&pegged, Kpi::DemandUsd, 300) > 1.5 * p50(&token, Kpi::DemandUsd, 300));
}

#[test]
fn sweeps_expand_grid_and_zip_including_initial_state() {
    let grid = format!(
        "{}\n[sweep]\nmode = \"grid\"\n[sweep.values]\n\"economics.remint_bps\" = [0, 1000, 2000]\n\"suppliers.initial_active\" = [10, 100]\n",
        baseline_text()
    );
    let loaded = load_text(&grid, "grid").unwrap();
    assert_eq!(loaded.points.len(), 6);
    assert_eq!(loaded.points[5].scenario.economics.remint_bps, 2_000);
    assert_eq!(loaded.points[5].scenario.suppliers.initial_active, 100);
    assert_eq!(
        loaded.points[0].label(),
        "economics.remint_bps=0, suppliers.initial_active=10"
    );
    let zip = format!(
        "{}\n[sweep]\nmode = \"zip\"\n[sweep.values]\n\"token.initial_price_usd\" = [0.1, 1.0]\n\"demand.initial_units\" = [10, 20]\n",
        baseline_text()
    );
    let loaded = load_text(&zip, "zip").unwrap();
    assert_eq!(loaded.points.len(), 2);
    assert_eq!(loaded.points[1].scenario.token.initial_price_usd, 1.0);
    assert_eq!(loaded.points[1].scenario.demand.initial_units, 20.0);

    let mut small = load_text(&grid, "grid").unwrap();
    shrink(&mut small, 80, 2);
    for p in &mut small.points {
        p.scenario.scenario.steps = 50;
    }
    let out = temp_dir("sweep");
    let summary = simulate_to(&small, &out, 2, true).unwrap();
    assert_eq!(summary["points"][3]["dir"], "point-003");
    assert!(out.join("point-005/charts/active_suppliers.svg").exists());
    let _ = std::fs::remove_dir_all(&out);
}

fn error_of(text: &str) -> String {
    format!("{:#}", load_text(text, "test.toml").unwrap_err())
}

#[test]
fn bad_scenarios_are_refused_naming_the_field() {
    let base = baseline_text();
    let typo = base.replace("act_probability", "act_probabilty");
    let e = error_of(&typo);
    assert!(e.contains("unknown field `act_probabilty`"), "{e}");
    let missing = base.replace("runs = 200", "");
    let e = error_of(&missing);
    assert!(e.contains("missing field `runs`"), "{e}");
    let e = error_of(&base.replace("act_probability = 0.05", "act_probability = 1.5"));
    assert!(e.contains("suppliers.act_probability = 1.5"), "{e}");
    let e = error_of(&base.replace("bootstrap_floor_bps = 2000", "bootstrap_floor_bps = 9500"));
    assert!(e.contains("economics.bootstrap_floor_bps = 9500"), "{e}");
    let e = error_of(&base.replace("treasury_bps = 1000", "treasury_bps = 12000"));
    assert!(e.contains("economics.treasury_bps = 12000"), "{e}");
    let e = error_of(&base.replace("initial_active = 300", "initial_active = 20000"));
    assert!(e.contains("suppliers.initial_active = 20000"), "{e}");
    let hardware = base
        .lines()
        .find(|l| l.starts_with("hardware_usd"))
        .unwrap();
    let e = error_of(&base.replace(
        hardware,
        "hardware_usd = { dist = \"lognormal\", median = -4, sigma = 0.3 }",
    ));
    assert!(e.contains("suppliers.hardware_usd"), "{e}");
    let e = error_of(&base.replace(
        "emission_per_epoch = \"30_000\"",
        "emission_per_epoch = \"3.0000001\"",
    ));
    assert!(e.contains("economics.emission_per_epoch"), "{e}");
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"price_shock\"\nstep = 9999\nfactor = 0.5\n"
    ));
    assert!(e.contains("events[0].step = 9999"), "{e}");
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{ remint_bpz = 1 }}\n"
    ));
    assert!(e.contains("unknown field `remint_bpz`"), "{e}");
    let e = error_of(&format!(
        "{base}\n[sweep]\nmode = \"zip\"\n[sweep.values]\n\"economics.remint_bps\" = [0, 1]\n\"economics.treasury_bps\" = [0]\n"
    ));
    assert!(e.contains("one length"), "{e}");
    let e = error_of(&format!(
        "{base}\n[sweep]\nmode = \"grid\"\n[sweep.values]\n\"economics.remint_bpz\" = [0, 1]\n"
    ));
    assert!(e.contains("remint_bpz"), "{e}");
}

#[test]
fn bench_runs_at_a_small_size() {
    bench(
        &BenchArgs {
            suppliers: 50,
            steps: 20,
            runs: 4,
            threads: 2,
        },
        true,
    )
    .unwrap();
}

/// The report states money in absolute terms and compares points side by side in text: the
/// totals are the runs' own CSV sums, shares add up, and no value needs hovering to read.
#[test]
fn the_report_gives_absolute_money_shares_and_points_side_by_side() {
    let grid = format!(
        "{}\n[[events]]\nkind = \"governance\"\nstep = 30\nset = {{ treasury_bps = 5000 }}\nvote = {{ turnout_bps = 5000, yes_bps = 5000 }}\n[sweep]\nmode = \"grid\"\n[sweep.values]\n\"economics.remint_bps\" = [0, 2000]\n",
        baseline_text()
    );
    let mut loaded = load_text(&grid, "grid").unwrap();
    shrink(&mut loaded, 120, 3);
    for p in &mut loaded.points {
        p.scenario.scenario.steps = 90;
    }
    let out = temp_dir("report-money");
    let summary = simulate_to(&loaded, &out, 2, true).unwrap();
    let decimals = loaded.points[0].scenario.token.decimals;
    for (i, point) in summary["points"].as_array().unwrap().iter().enumerate() {
        let totals = &point["summary"]["totals"];
        // Minted over the run, per run, from the exact base units of its CSV.
        let mut minted: Vec<f64> = (0..3)
            .map(|run| {
                let text = std::fs::read_to_string(
                    out.join(format!("point-{i:03}/runs/run-{run:04}.csv")),
                )
                .unwrap();
                let mut lines = text.lines();
                let header: Vec<&str> = lines.next().unwrap().split(',').collect();
                let m = header
                    .iter()
                    .position(|h| *h == "minted_base_units")
                    .unwrap();
                lines
                    .map(|l| l.split(',').nth(m).unwrap().parse::<u128>().unwrap())
                    .sum::<u128>() as f64
                    / 10f64.powi(i32::from(decimals))
            })
            .collect();
        minted.sort_by(f64::total_cmp);
        let p50 = totals["minted_tokens"]["p50"].as_f64().unwrap();
        assert!(
            (p50 - minted[1]).abs() <= 1e-4 * minted[1],
            "point {i}: summary says {p50} minted, the CSVs {}",
            minted[1]
        );
        assert!(p50 > 0.0);
        let b = totals["bootstrap_share"]["p50"].as_f64().unwrap();
        let d = totals["demand_share"]["p50"].as_f64().unwrap();
        assert!(b > 0.0 && d >= 0.0 && b + d <= 1.0 + 1e-9, "{b} + {d}");
        let payback = &point["summary"]["payback"];
        let shares: f64 = payback["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>()
            + payback["never"].as_f64().unwrap();
        assert!(
            (shares - 1.0).abs() < 1e-9,
            "payback shares sum to {shares}"
        );
        let revenue = totals["supplier_revenue_usd"]["p50"].as_f64().unwrap();
        let cost = totals["supplier_cost_usd"]["p50"].as_f64().unwrap();
        assert!(revenue > 0.0 && cost > 0.0);
    }
    // The tie voted down: listed with the ledger's reason, and nothing changed.
    let g = &summary["points"][1]["governance"][0];
    assert_eq!(
        (&g["step"], &g["outcome"], &g["code"]),
        (&30.into(), &"rejected".into(), &"below_threshold".into())
    );
    assert_eq!(g["proposals"][0], "economics");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for text in [
        "<h2>Side by side</h2>",
        "economics.remint_bps=0</a></th>",
        "economics.remint_bps=2000</a></th>",
        "<h3>Governance</h3>",
        "rejected (below_threshold): 25000000 yes against 25000000 no is not more than the threshold of 5000 basis points; nothing changed",
        ">proposal rejected<",
        "Tokens minted over the run",
        "Tokens burned over the run",
        "Bootstrap share of suppliers&#39; rewards",
        "To the treasury (tokens)",
        "Market cap at the last epoch",
        "Suppliers&#39; revenue / cost",
        "Epochs from joining to paying back",
        "<h3>Over time (medians)</h3>",
        ">never<",
    ] {
        assert!(
            html.contains(&text.replace("&#39;", "'")),
            "report.html has {text}"
        );
    }
    // Shares are written as percentages, dollars with their sign.
    assert!(html.contains("%</b>") && html.contains("<b>$"));
    // Every chart writes its last value in text.
    assert!(html.contains(">epoch 89: "));
    let _ = std::fs::remove_dir_all(&out);
}

/// The ledger's sentence for a `[demand]` section with `cap` (and the baseline's re-mint and
/// bootstrap), straight from depin-core.
fn ledger_refusal(remint: u32, cap: u32) -> String {
    let mut d = preset(vec![Keypair::from_seed([1; 32]).address()], 730);
    (d.remint_bps, d.demand_cap_bps) = (remint, cap);
    d.to_params().unwrap_err().1
}

#[test]
fn economics_and_scheduled_changes_are_checked_by_the_ledger() {
    let base = baseline_text();
    // A network the ledger would refuse at genesis is refused, naming the scenario's fields,
    // with the ledger's own sentence.
    let e = error_of(&base.replace("demand_cap_bps = 8000", "demand_cap_bps = 30000"));
    assert!(
        e.contains(
            "economics.remint_bps = 2000, economics.demand_cap_bps = 30000: the ledger refuses it"
        ),
        "{e}"
    );
    assert!(e.contains(&ledger_refusal(2_000, 30_000)), "{e}");
    let e = error_of(&base.replace("demand_cap_bps = 8000", "demand_cap_bps = 9000"));
    assert!(e.contains(&ledger_refusal(2_000, 9_000)), "{e}");
    assert!(e.contains("remint_bps + demand_cap_bps is 11000"), "{e}");

    // A scheduled change the ledger would refuse as a proposal is refused with the proposal's
    // reason code and sentence (the cap alone raised to 1x with the re-mint still on).
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{ demand_cap_bps = 10000 }}\n"
    ));
    assert!(
        e.contains("events[0] (governance at step 10): the ledger refuses the module_params proposal (bad_change)"),
        "{e}"
    );
    assert!(e.contains(&ledger_refusal(2_000, 10_000)), "{e}");
    // Checked on the parameters in force at that step: after an earlier change ended the
    // re-mint, the same cap is accepted.
    load_text(
        &format!(
            "{base}\n[[events]]\nkind = \"governance\"\nstep = 20\nset = {{ demand_cap_bps = 10000 }}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{ remint_bps = 0 }}\n"
        ),
        "in order",
    )
    .unwrap();
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{ emission_per_epoch = \"1.0000001\" }}\n"
    ));
    assert!(
        e.contains("the ledger refuses the economics proposal (bad_change)")
            && e.contains("economics.emission_per_epoch"),
        "{e}"
    );
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{}}\n"
    ));
    assert!(e.contains("events[0].set names no field"), "{e}");
    let e = error_of(&format!(
        "{base}\n[[events]]\nkind = \"governance\"\nstep = 10\nset = {{ treasury_bps = 1500 }}\nvote = {{ turnout_bps = 12000, yes_bps = 1 }}\n"
    ));
    assert!(e.contains("events[0].vote.turnout_bps = 12000"), "{e}");
    let e = error_of(&format!(
        "{base}\n[governance]\nquorum_bps = 3340\nthreshold_bps = 4000\n"
    ));
    assert!(
        e.contains("governance.threshold_bps = 4000: the ledger refuses it")
            && e.contains("so a minority never passes a change"),
        "{e}"
    );
}

#[test]
fn a_voted_down_proposal_changes_nothing_and_a_passed_one_applies_from_its_step() {
    use depin_sim::scenario::{Decided, Event, Vote};
    let text = std::fs::read_to_string(scenarios_dir().join("weak-demand.toml")).unwrap();
    let mut loaded = load_text(&text, "weak-demand.toml").unwrap();
    shrink(&mut loaded, 200, 4);
    let sc = &mut loaded.points[0].scenario;
    sc.scenario.steps = 450;
    let plan = sc.economics_plan().unwrap();
    // Doubling the emission at 200: 40% turnout, 35% yes, below the threshold.
    match plan.decided(0) {
        Some(Decided::Rejected { code, why }) => {
            assert_eq!(*code, "below_threshold");
            assert!(
                why.contains("is not more than the threshold of 5000 basis points"),
                "{why}"
            );
        }
        other => panic!("the emission proposal is voted down: {other:?}"),
    }
    // Moving the re-mint into the cap at 400 passes; everything else stays as it was.
    match plan.decided(1) {
        Some(Decided::Applied {
            economics,
            emission_changed,
        }) => {
            assert!(!emission_changed);
            assert_eq!(economics.schedule, plan.initial.schedule);
            assert_eq!(
                (economics.params.remint_bps, economics.params.demand_cap_bps),
                (0, 10_000)
            );
            let mut expected = plan.initial.params;
            (expected.remint_bps, expected.demand_cap_bps) = (0, 10_000);
            assert_eq!(economics.params, expected);
        }
        other => panic!("the demand proposal passes: {other:?}"),
    }
    let voted_down = run(sc);

    // The voted-down proposal changed nothing: the run is the same without it.
    let mut without = sc.clone();
    without.events.remove(0);
    without.validate().unwrap();
    let without = run(&without);
    assert_eq!(voted_down.fans, without.fans);

    // Had it passed, the emission doubles from epoch 200 and not before.
    let mut passed = sc.clone();
    let Event::Governance { vote, .. } = &mut passed.events[0] else {
        panic!("events[0] is the emission proposal")
    };
    *vote = Some(Vote {
        turnout_bps: 4_000,
        yes_bps: 6_000,
    });
    passed.validate().unwrap();
    let passed = run(&passed);
    for t in 0..200 {
        assert_eq!(
            p50(&passed, Kpi::MintedTokens, t),
            p50(&voted_down, Kpi::MintedTokens, t),
            "epoch {t}"
        );
    }
    let minted = |o: &depin_sim::engine::Outcome| p50(o, Kpi::MintedTokens, 200);
    assert!(
        minted(&passed) > 1.5 * minted(&voted_down),
        "minted at epoch 200: {} passed vs {} voted down",
        minted(&passed),
        minted(&voted_down)
    );
}

#[test]
fn validators_are_paid_their_share_of_the_emission_for_the_turns_they_produce() {
    let with = |governance: &str| {
        let mut loaded = load_text(
            &format!("{}\n[governance]\n{governance}\n", baseline_text()),
            "baseline.toml",
        )
        .unwrap();
        shrink(&mut loaded, 150, 2);
        loaded.points[0].scenario.scenario.steps = 3;
        run(&loaded.points[0].scenario)
    };
    let voting = "quorum_bps = 3340\nthreshold_bps = 5000";
    let none = with(voting);
    let paid = with(&format!(
        "{voting}\nvalidator_reward_bps = 600\nvalidators = 3\nvalidator_uptime_bps = 9000"
    ));
    // 30,000 tokens emitted at step 0: 6% (1,800) is the validators' pool. Of an epoch's 10,000
    // turns the three led 3,334, 3,333 and 3,333 and produced 90% of each, rounded down (3,000,
    // 2,999, 2,999), so 1,800 x 8,998 / 10,000 = 1,619.64 tokens are paid.
    let to_validators = p50(&paid, Kpi::ValidatorsPaid, 0);
    assert!(
        (1_619.63..=1_619.65).contains(&to_validators),
        "{to_validators}"
    );
    assert_eq!(p50(&none, Kpi::ValidatorsPaid, 0), 0.0);
    // The share comes out of the suppliers' bootstrap pool, not out of the treasury's.
    let pool = |o: &depin_sim::engine::Outcome| p50(o, Kpi::BootstrapPool, 0);
    assert!(
        (pool(&none) - pool(&paid) - 1_800.0).abs() < 1.0,
        "{} vs {}",
        pool(&none),
        pool(&paid)
    );
    assert_eq!(p50(&none, Kpi::Treasury, 0), p50(&paid, Kpi::Treasury, 0));
    // The skipped turns' 180.36 tokens are not minted.
    assert!(
        (p50(&none, Kpi::MintedTokens, 0) - p50(&paid, Kpi::MintedTokens, 0) - 180.36).abs() < 0.01
    );

    let base = format!("{}\n[governance]\n{voting}\n", baseline_text());
    let e = error_of(&format!("{base}validator_reward_bps = 9500\n"));
    assert!(
        e.contains("governance.validator_reward_bps = 9500, economics.treasury_bps = 1000"),
        "{e}"
    );
    let e = error_of(&format!("{base}validators = 0\n"));
    assert!(e.contains("governance.validators = 0"), "{e}");
    let e = error_of(&format!("{base}validator_uptime_bps = 10001\n"));
    assert!(e.contains("governance.validator_uptime_bps = 10001"), "{e}");
}
