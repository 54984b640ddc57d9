//! `depin bench flood` in short runs, checked for correctness only (its timings are for
//! `docs/BENCHMARKS.md`): a real `depin node` process flooded with junk, oversized, badly signed
//! and slowloris requests keeps committing honest transfers and never answers a 5xx other than
//! "busy"; and 128 concurrent maximum-size batches keep its peak memory under the bound its
//! limits allow.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{DEPIN, wait_child};
use serde_json::Value;

/// Longest one bench run may take (the node is built without optimizations of its own crates).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// Runs `depin bench flood ARGS... --json` and returns its report.
fn bench_flood(args: &[&str]) -> Value {
    let mut child = Command::new(DEPIN)
        .args(["--json", "bench", "flood"])
        .args(args)
        .env_remove("DEPIN_HOME")
        .env_remove("DEPIN_NODE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning depin bench flood");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let status = wait_child(&mut child, "depin bench flood", RUN_TIMEOUT);
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "depin bench flood failed: {status}\n{out}\n{err}"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"))
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
        ["bad_signature", "malformed", "max_batch", "oversized"],
        "{p:#}"
    );
    for a in attacks {
        assert!(u(&a["requests"]) > 0, "every attack ran: {a}");
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
                other => panic!("unknown attack {other}"),
            };
            assert!(allowed, "{outcome} for {a}");
        }
    }
    assert_eq!(u(&p["slowloris"]["connections"]), 48);
}

#[test]
fn concurrent_maximum_batches_stay_under_the_memory_bound() {
    let r = bench_flood(&[
        "--seconds",
        "0",
        "--burst",
        "128",
        "--burst-kinds",
        "decoded",
    ]);
    let b = &r["bursts"][0];
    assert_eq!(b["kind"], "decoded", "{b:#}");
    assert_eq!(u(&b["body_bytes"]), 16 << 20, "{b:#}");
    assert_eq!(u(&b["txs_per_request"]), 10_000, "{b:#}");
    assert_eq!(u(&b["unanswered"]), 0, "every request was answered: {b:#}");
    let statuses = b["statuses"].as_object().expect("statuses");
    let answered: u64 = statuses.values().map(u).sum();
    assert_eq!(answered, 128, "{b:#}");
    for (outcome, _) in statuses {
        assert!(
            ["400 malformed", "503 busy", "503 timeout"].contains(&outcome.as_str()),
            "refused as malformed, or busy or timed out: {b:#}"
        );
    }
    assert!(u(&b["peak_rss_bytes"]) > 0, "the peak was read: {b:#}");
    assert!(
        u(&b["peak_rss_bytes"]) <= u(&b["bound_bytes"]),
        "peak memory above the bound the limits allow: {b:#}"
    );
    assert_eq!(b["node_alive_after"], true, "{b:#}");
}
