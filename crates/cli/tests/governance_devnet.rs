//! `depin devnet` runs its scripted proposal on a real node (issue 18): two stakeholders lock
//! stake, one proposes raising the treasury's share from 10% to 15%, both vote yes, and the
//! devnet prints it passing and applied at the next epoch; `depin gov list`, `depin gov show 0`
//! and `depin gov params` show it, and the epoch it applied at is paid under the new share
//! while the one before was paid under the old.

mod common;

use std::time::Duration;

use common::{NodeProcess, UNIT, depin, wait_for};
use serde_json::Value;

#[test]
fn devnet_runs_a_scripted_proposal_through_to_the_next_epoch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    // No demand section: fees in tokens, so the script needs no oracle price (and no hotspots).
    depin(
        home,
        &[
            "init",
            "--block-interval-ms",
            "100",
            "--epoch-length-blocks",
            "30",
            "--no-demand",
        ],
    )
    .ok("depin init");
    let node = NodeProcess::start_devnet(home, 0);
    let log = wait_for("the proposal applied", Duration::from_secs(180), || {
        let log = node.log();
        log.contains("governance: proposal #0 applied")
            .then_some(log)
    });
    assert!(
        log.contains(
            "governance: staker1 proposed #0 \"Raise the treasury's share from 10% to 15%\""
        ),
        "{log}"
    );
    assert!(log.contains("governance: proposal #0 passed"), "{log}");
    assert!(log.contains("treasury_bps in force is now 1500"), "{log}");

    let list = depin(home, &["gov", "list"]).ok("gov list");
    assert!(
        list.stdout.contains("#0 economics [applied]"),
        "{}",
        list.stdout
    );
    let show = depin(home, &["gov", "show", "0"]).ok("gov show 0");
    assert!(
        show.stdout.contains("Raise the treasury's share"),
        "{}",
        show.stdout
    );
    let params = depin(home, &["gov", "params"]).ok("gov params");
    assert!(
        params.stdout.contains("EMERGENCY KEY (devnet)"),
        "depin init names an emergency key, shown as such: {}",
        params.stdout
    );

    let api = node.api();
    let p = api
        .get("/v1/governance/proposals/0")
        .expect("proposal 0")
        .json();
    let epoch = p["status"]["epoch"].as_u64().expect("applied at an epoch");
    assert!(epoch >= 1);
    let treasury = |e: u64| -> u128 {
        let v = wait_for("the epoch's summary", Duration::from_secs(60), || {
            let r = api.get(&format!("/v1/epochs/{e}")).ok()?;
            (r.status == 200).then(|| r.json())
        });
        let t: &Value = if v["summary"]["treasury"].is_null() {
            &v["treasury"]
        } else {
            &v["summary"]["treasury"]
        };
        t.as_str().expect("treasury amount").parse().unwrap()
    };
    // `depin init`: 10,000 tokens an epoch, no halving for 1,440 epochs.
    assert_eq!(treasury(epoch - 1), 1_000 * UNIT, "the old share");
    assert_eq!(treasury(epoch), 1_500 * UNIT, "the new share");
}
