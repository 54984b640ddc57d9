//! Devices through the real binary: onboard (fees in credits, bought at the oracle price), show,
//! list by owner and by H3 cell, denylist by the governor only, refusals that name the reason,
//! and epoch summaries and reward explanations.

mod common;

use std::time::Duration;

use common::{NodeProcess, depin, init_fast_home, wait_for};

#[test]
fn a_device_is_onboarded_listed_denied_and_its_epoch_explained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_fast_home(home, 10);
    let _node = NodeProcess::start(home);

    // Fees are paid in credits: with neither credits nor an oracle price to buy them at, the
    // owner is told what to do.
    let onboard_spot1 = [
        "device",
        "onboard",
        "--owner",
        "alice",
        "--device",
        "spot1",
        "--location",
        "52.52,13.405",
    ];
    let refused = depin(home, &onboard_spot1).failed("onboarding without credits or a price");
    assert!(
        refused.stderr.contains("insufficient_credits")
            && refused.stderr.contains("depin credits buy"),
        "{}",
        refused.stderr
    );
    // Two of the three oracles `depin init` makes must agree (issue 12).
    depin(home, &["oracle", "price", "submit", "0.5"]).ok("oracle price");
    depin(
        home,
        &["oracle", "price", "submit", "0.5", "--key", "oracle-2"],
    )
    .ok("oracle price");

    let out = depin(home, &onboard_spot1).ok("onboard spot1");
    assert!(
        out.stdout.contains("onboarded device spot1"),
        "{}",
        out.stdout
    );
    // The shortfall was bought from alice's tokens at the oracle price and burned as the fee.
    let credits = depin(home, &["--json", "query", "credits", "alice"]).ok("alice's credits");
    let credits = credits.json();
    assert_eq!(credits["known"], true);
    assert_ne!(credits["spent_on_fees"], "0", "{credits}");
    assert_eq!(credits["bought"], credits["spent_on_fees"], "{credits}");

    let shown = depin(home, &["--json", "device", "show", "spot1"]).ok("show spot1");
    let device = &shown.json()[0];
    assert_eq!(device["region"], "EU868");
    assert_eq!(device["kind"], "hotspot");
    assert_eq!(device["denied"], false);
    let cell = device["cell"]
        .as_str()
        .expect("an asserted device has a cell")
        .to_string();

    let by_owner = depin(home, &["--json", "device", "list", "--owner", "alice"]).ok("list");
    assert_eq!(by_owner.json().as_array().map(Vec::len), Some(1));
    let by_cell = depin(
        home,
        &["--json", "device", "list", "--cell", &cell, "--k", "1"],
    )
    .ok("list by cell");
    assert_eq!(by_cell.json()[0]["address"], device["address"]);

    // Another region's location, and a denylist change by someone who is not the governor.
    let refused = depin(
        home,
        &[
            "device",
            "onboard",
            "--owner",
            "alice",
            "--device",
            "spot2",
            "--location",
            "40.7128,-74.006",
        ],
    )
    .failed("onboarding in New York with the EU868 plan");
    assert!(
        refused.stderr.contains("outside_region"),
        "{}",
        refused.stderr
    );
    let refused = depin(
        home,
        &["device", "deny", "--governor", "alice", "--device", "spot1"],
    )
    .failed("deny by alice");
    assert!(
        refused.stderr.contains("not_governor"),
        "{}",
        refused.stderr
    );
    depin(home, &["device", "deny", "--device", "spot1"]).ok("deny by the governor");
    let shown = depin(home, &["--json", "device", "show", "spot1"]).ok("show spot1");
    assert_eq!(shown.json()[0]["denied"], true);

    // The first epoch closes with no proof: its coverage pool is not minted.
    let epoch = wait_for("epoch 0 to close", Duration::from_secs(30), || {
        let out = depin(home, &["--json", "query", "epoch", "0"]);
        out.status.success().then(|| out.json())
    });
    assert_eq!(epoch["epoch"], 0);
    assert_eq!(epoch["paid"], "0");
    assert_eq!(epoch["unminted"], epoch["coverage_pool"]);
    let human = depin(
        home,
        &["query", "rewards", "--epoch", "0", "--device", "spot1"],
    )
    .ok("rewards of spot1");
    assert!(human.stdout.contains("no scored work"), "{}", human.stdout);
    let future = depin(home, &["query", "epoch", "1000"]).failed("an epoch far ahead");
    assert!(future.stderr.contains("unknown_epoch"), "{}", future.stderr);
}
