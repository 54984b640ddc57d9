//! 128 concurrent maximum-size `POST /v1/txs` requests (16 MiB of JSON, 10,000 transactions
//! each, refused after decoding) against a real `depin node` process, through
//! `depin bench flood --seconds 0`: every one is answered, the node's peak resident memory
//! (`VmHWM`) stays under the bound its API limits allow (`depin_bench::flood::burst_bound_bytes`,
//! derived in `docs/SECURITY.md`), and the node serves afterwards. The measured peak is recorded
//! in `docs/BENCHMARKS.md`; this test only holds it to the bound.

#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::depin_within;
use serde_json::Value;

/// Longest the run may take (the node is built without optimizations of its own crates).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn concurrent_maximum_batches_stay_under_the_memory_bound() {
    let home = tempfile::tempdir().expect("tempdir");
    let args = [
        "--json",
        "bench",
        "flood",
        "--seconds",
        "0",
        "--burst",
        "128",
        "--burst-kinds",
        "decoded",
    ];
    let r = depin_within(home.path(), &args, RUN_TIMEOUT)
        .ok("depin bench flood")
        .json();
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
