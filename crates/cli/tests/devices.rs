//! Devices through the real binary: onboard (fees in credits, bought at the oracle price), show,
//! list by owner and by H3 cell, denylist by the emergency key only, refusals that name the reason,
//! and epoch summaries and reward explanations.

mod common;

use std::time::Duration;

use common::{NodeProcess, depin, init_fast_home, wait_for};

#[test]
fn a_device_is_onboarded_listed_denied_and_its_epoch_explained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_fast_home(home, 10);
    let node = NodeProcess::start(home);
    let api = node.api();

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
    // The device key the refused onboarding created is gone again (a retry starts clean).
    assert!(
        !home.join("keys/spot1.key").exists(),
        "a refused onboarding left its device key behind"
    );
    // Two of the three oracles `depin init` makes must agree (issue 12).
    depin(home, &["oracle", "price", "submit", "0.5"]).ok("oracle price");
    depin(
        home,
        &["oracle", "price", "submit", "0.5", "--key", "oracle-2"],
    )
    .ok("oracle price");

    // The map before any device: none located. Its aggregate is cached until a block changes
    // the cell index, so the onboarding below must show on the map at once.
    let before = api.get_ok("/v1/explorer/cells?res=7");
    assert_eq!(before["located_devices"], 0, "{before}");
    let out = depin(home, &onboard_spot1).ok("onboard spot1");
    assert!(
        out.stdout.contains("onboarded device spot1")
            && out.stdout.contains("cost: onboarding fee 4000000 credits ($40.00) + location fee 1000000 credits ($10.00)")
            && out.stdout.contains("bond: 5000 DPN locked from the owner while the device is active"),
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
    // The bond `depin init` sets (5,000 tokens of 6 decimals) is locked for it.
    assert_eq!(device["bond"], "5000000000", "{device}");
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

    // Another region's location, and a denylist change by someone who is not the emergency key.
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
    assert!(!home.join("keys/spot2.key").exists());

    // The explorer's views: the device under its cell, found by the first characters of its
    // address (on the node and in the CLI), and a shortened address named as such.
    let address = device["address"].as_str().unwrap().to_string();
    let cells = api.get_ok("/v1/explorer/cells?res=7");
    assert_eq!(cells["located_devices"], 1, "{cells}");
    assert_eq!(cells["cells"][0]["devices"], 1, "{cells}");
    assert_eq!(
        cells["cells"][0]["outline"].as_array().map(Vec::len),
        Some(6)
    );
    // Blocks that move no device keep the aggregate: the same one is served (built at the
    // same height) until the cell index changes or an epoch closes.
    let built = cells["height"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api.get_ok("/v1/status")["height"].as_u64().unwrap() < built + 2 {
        assert!(std::time::Instant::now() < deadline, "no new blocks");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let again = api.get_ok("/v1/explorer/cells?res=7");
    if again["epoch"] == cells["epoch"] {
        assert_eq!(
            again["height"], cells["height"],
            "rebuilt without a change: {again}"
        );
    }
    let far = api.get_ok("/v1/explorer/cells?res=7&west=-80&east=-70&south=40&north=41");
    assert_eq!(far["cells_in_box"], 0, "{far}");
    let found = api.get_ok(&format!("/v1/explorer/search?q={}", &address[..16]));
    assert_eq!(found["kind"], "device", "{found}");
    assert_eq!(found["address"], address.as_str());
    let short = format!("{}…{}", &address[..12], &address[address.len() - 6..]);
    let by_prefix = depin(home, &["query", "account", &short[..12]]).ok("a device's prefix");
    assert!(by_prefix.stdout.contains(&address), "{}", by_prefix.stdout);
    let typo = depin(
        home,
        &[
            "tx", "transfer", "--from", "alice", "--to", &short, "--amount", "1",
        ],
    )
    .failed("a transfer to a shortened address");
    assert!(
        typo.stderr.contains("incomplete address"),
        "{}",
        typo.stderr
    );
    let refused = depin(
        home,
        &["device", "deny", "--key", "alice", "--device", "spot1"],
    )
    .failed("deny by alice");
    assert!(
        refused.stderr.contains("not_emergency_key"),
        "{}",
        refused.stderr
    );
    depin(home, &["device", "deny", "--device", "spot1"]).ok("deny by the emergency key");
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
    // The same, named by a shortened address as the devnet prints it.
    depin(
        home,
        &["query", "rewards", "--epoch", "0", "--device", &short],
    )
    .ok("rewards of spot1 by a shortened address");

    // History and the device's rewards per epoch, as the explorer's charts read them.
    let history = api.get_ok("/v1/explorer/history?limit=10");
    assert_eq!(history["epochs"][0]["epoch"], 0, "{history}");
    assert_eq!(history["epochs"][0]["bootstrap_paid"], "0", "{history}");
    let rewards = api.get_ok(&format!("/v1/explorer/devices/{address}/rewards?limit=5"));
    assert_eq!(rewards["owner"], device["owner"]);
    assert_eq!(rewards["denied"], true);
    assert_eq!(rewards["rewards"][0]["epoch"], 0, "{rewards}");
    let metrics = api.get("/metrics").unwrap().body;
    assert!(
        metrics.contains("\ndepin_last_epoch_devices_paid "),
        "{metrics}"
    );
    // Command-line input the parser would refuse with a generic message.
    let negative = depin(
        home,
        &[
            "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "-5",
        ],
    )
    .failed("a negative amount");
    assert!(
        negative.stderr.contains("is negative"),
        "{}",
        negative.stderr
    );
    let block = depin(home, &["query", "block", "-1"]).failed("block -1");
    assert!(
        block.stderr.contains("is not a block height"),
        "{}",
        block.stderr
    );
    let no_scheme =
        depin(home, &["--node", "localhost:8645", "query", "status"]).failed("no http://");
    assert!(
        no_scheme.stderr.contains("add http://"),
        "{}",
        no_scheme.stderr
    );
}
