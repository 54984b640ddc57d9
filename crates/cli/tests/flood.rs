//! `depin bench flood` in a short run, checked for correctness only (its timings are for
//! `docs/BENCHMARKS.md`): a real `depin node` process flooded with junk, oversized, badly signed,
//! maximum-size and slowloris requests and validly signed spam keeps committing honest
//! transfers, admits none of the junk, and never answers a 5xx other than `busy` or `timeout`.

mod common;

use std::time::Duration;

use common::depin_within;
use serde_json::Value;

/// Longest one bench run may take (the node is built without optimizations of its own crates).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// Runs `depin --json bench flood ARGS...` and returns its report.
fn bench_flood(args: &[&str]) -> Value {
    let home = tempfile::tempdir().expect("tempdir");
    let mut all = vec!["--json", "bench", "flood"];
    all.extend_from_slice(args);
    depin_within(home.path(), &all, RUN_TIMEOUT)
        .ok("depin bench flood")
        .json()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn honest_transfers_keep_committing_through_a_flood() {
    let r = bench_flood(&[
        "--seconds",
        "3",
        "--honest-clients",
        "2",
        "--attackers",
        "1",
        "--slowloris",
        "48",
        "--spam-keys",
        "2",
        "--block-interval-ms",
        "100",
        "--burst",
        "0",
    ]);
    let p = &r["phases"];
    assert!(u(&p["quiet"]["transfers"]) > 0, "{p:#}");
    assert!(
        u(&p["flood"]["transfers"]) > 0,
        "honest transfers committed during the flood: {p:#}"
    );
    assert_eq!(u(&p["honest_refused"]), 0, "{p:#}");
    assert_eq!(u(&p["honest_lost"]), 0, "{p:#}");
    let attacks = p["attacks"].as_array().expect("attacks");
    let kinds: Vec<&str> = attacks
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "bad_signature",
            "malformed",
            "max_batch",
            "oversized",
            "spam"
        ],
        "{p:#}"
    );
    for a in attacks {
        assert!(u(&a["requests"]) > 0, "every attack ran: {a}");
        let spam = a["kind"] == "spam";
        assert_eq!(
            u(&a["admitted"]) > 0,
            spam,
            "only the validly signed spam is admitted: {a}"
        );
        assert_eq!(u(&a["unexpected_5xx"]), 0, "{a}");
        let statuses = a["statuses"].as_object().expect("statuses");
        assert!(!statuses.is_empty(), "the node answered: {a}");
        for (outcome, _) in statuses {
            let status: u16 = outcome[..3].parse().unwrap();
            let allowed = match a["kind"].as_str().unwrap() {
                // Refused, or busy: never admitted.
                "bad_signature" | "malformed" => (400..500).contains(&status) || status == 503,
                // A batch is answered 200 with one verdict each (all refused), or busy.
                "max_batch" => status == 200 || status == 503,
                "oversized" => status == 413 || status == 400 || status == 503,
                // Validly signed: admitted (200), or the pool is full (503).
                "spam" => status == 200 || status == 503,
                other => panic!("unknown attack {other}"),
            };
            assert!(allowed, "{outcome} for {a}");
        }
    }
    assert_eq!(u(&p["slowloris"]["connections"]), 48);
}
