//! The demand module through the real binary and API: oracle prices, buying credits by tokens,
//! by credits and by USD, delegation, a co-signed usage receipt posted to `/v1/tx`, and the
//! demand part of the rewards once the epoch closes; refusals that name their reason.

mod common;

use std::time::Duration;

use common::{Api, NodeProcess, base_units, depin, init_fast_home, sign, wait_for};
use depin_core::Action;
use depin_core::services::demand::actions::UsageReceipt;
use depin_node::Home;
use serde_json::Value;

/// Blocks per epoch in this test's network (100 ms blocks: an epoch closes every 2 s).
const EPOCH_BLOCKS: u64 = 20;

fn json_of(home: &std::path::Path, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    depin(home, &full).ok(&args.join(" ")).json()
}

/// Asserts that a command failed and that its error names `code`; returns stderr.
fn refused(home: &std::path::Path, args: &[&str], code: &str) -> String {
    let out = depin(home, args).failed(&args.join(" "));
    assert!(
        out.stderr.contains(code),
        "`{}` should fail with {code}: {}",
        args.join(" "),
        out.stderr
    );
    out.stderr
}

#[test]
fn credits_are_bought_delegated_spent_on_data_and_paid_as_demand_rewards() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_fast_home(home, EPOCH_BLOCKS);
    let node = NodeProcess::start(home);
    let api = node.api();

    // No price yet: nothing can be priced, and both paths say so with the same code.
    let oracle = json_of(home, &["oracle", "price", "show"]);
    assert!(oracle["quote"].is_null(), "{oracle}");
    assert_eq!(oracle["fresh_prices"], 0);
    let err = refused(
        home,
        &["credits", "buy", "--tokens", "10", "--key", "alice"],
        "no_oracle_price",
    );
    assert!(err.contains("oracle"), "{err}");
    let err = refused(
        home,
        &["credits", "buy", "--credits", "100", "--key", "alice"],
        "no_oracle_price",
    );
    assert!(err.contains("depin oracle price submit"), "{err}");
    refused(
        home,
        &["oracle", "price", "submit", "0.5", "--key", "alice"],
        "not_oracle",
    );

    // `depin init` makes three oracles and the ledger needs two fresh prices (issue 12).
    for key in ["oracle-2", "oracle-3"] {
        depin(home, &["oracle", "price", "submit", "0.5", "--key", key])
            .ok("another oracle's price");
    }
    let out = depin(home, &["oracle", "price", "submit", "0.5"]).ok("submit a price");
    assert!(out.stdout.contains("median $0.5"), "{}", out.stdout);
    let oracle = json_of(home, &["oracle", "price", "show"]);
    assert_eq!(oracle["quote"]["median"]["usd"], "0.5");
    assert_eq!(oracle["quote"]["minting"]["raw"], 50_000_000);
    // $0.50 a token, $0.00001 a credit.
    assert_eq!(oracle["quote"]["credits_per_token"], "50000");
    assert_eq!(oracle["oracles"][0]["fresh"], true);
    assert_eq!(oracle["truncated"], false, "{oracle}");
    let shown = depin(home, &["oracle", "price", "show"]).ok("show the quote");
    assert!(shown.stdout.contains("minting $0.5"), "{}", shown.stdout);

    // By tokens, by credits (never fewer than asked), by USD.
    let out = depin(
        home,
        &["credits", "buy", "--tokens", "10", "--key", "alice"],
    )
    .ok("buy by tokens");
    assert!(
        out.stdout.contains("bought 500000 credits") && out.stdout.contains("burning 10 DPN"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("500000 credits at the quoted minting price of $0.5 per DPN"),
        "{}",
        out.stdout
    );
    let out = depin(
        home,
        &["credits", "buy", "--credits", "123457", "--key", "alice"],
    )
    .ok("buy by credits");
    assert!(
        out.stdout.contains("bought 123457 credits") && out.stdout.contains("burning 2.46914 DPN"),
        "{}",
        out.stdout
    );
    let out = depin(
        home,
        &[
            "credits", "buy", "--usd", "1", "--key", "alice", "--to", "bob",
        ],
    )
    .ok("buy by USD for bob");
    assert!(
        out.stdout
            .contains("bought 100000 credits for bob ($1 at the peg)"),
        "{}",
        out.stdout
    );

    // Too few tokens, a minimum the price does not meet, delegating to oneself.
    let err = refused(
        home,
        &["credits", "buy", "--tokens", "0.000001", "--key", "alice"],
        "burn_too_small",
    );
    assert!(err.contains("burn more"), "{err}");
    refused(
        home,
        &[
            "credits",
            "buy",
            "--tokens",
            "1",
            "--min-credits",
            "50001",
            "--key",
            "alice",
        ],
        "credits_below_minimum",
    );
    let err = refused(
        home,
        &["credits", "delegate", "alice", "10", "--key", "alice"],
        "delegate_to_self",
    );
    assert!(err.contains("cannot delegate credits to itself"), "{err}");

    depin(home, &["keys", "new", "router"]).ok("router key");
    let out = depin(
        home,
        &["credits", "delegate", "router", "1000", "--key", "alice"],
    )
    .ok("delegate");
    assert!(
        out.stdout.contains("delegated 1000 credits"),
        "{}",
        out.stdout
    );
    let alice = json_of(home, &["query", "credits", "alice"]);
    let credits = |v: &Value| -> u64 { v.as_str().expect("credits").parse().expect("a number") };
    // Each transaction's fee was paid in credits (the first ones bought for it in the same step).
    let fees = credits(&alice["spent_on_fees"]);
    let bought = credits(&alice["bought"]);
    assert!(fees > 0, "{alice}");
    assert!(
        (500_000 + 123_457..500_000 + 123_457 + 100).contains(&bought),
        "{alice}"
    );
    assert_eq!(credits(&alice["own"]), bought - 1_000 - fees);
    assert_eq!(alice["delegated_out"], "1000");
    assert_eq!(alice["delegations"].as_array().map(Vec::len), Some(1));
    assert_eq!(alice["delegations"][0]["credits"], "1000");
    assert_eq!(alice["truncated"], false, "{alice}");
    let router = json_of(home, &["query", "credits", "router"]);
    assert_eq!(
        (router["own"].as_str(), router["delegated"].as_str()),
        (Some("0"), Some("1000"))
    );
    assert_eq!(router["usd_value"], "0.01");
    let human = depin(home, &["query", "credits", "router"]).ok("router's credits");
    assert!(
        human.stdout.contains("0 own + 1000 delegated"),
        "{}",
        human.stdout
    );
    let nobody = json_of(home, &["query", "credits", "treasury"]);
    assert_eq!(
        (nobody["known"].as_bool(), nobody["own"].as_str()),
        (Some(false), Some("0"))
    );

    // A device for the traffic; alice's credits pay its fees, tokens the shortfall.
    depin(
        home,
        &[
            "device",
            "onboard",
            "--owner",
            "alice",
            "--device",
            "spot1",
            "--location",
            "52.52,13.405",
        ],
    )
    .ok("onboard spot1");

    let receipt_height = settle_usage(home, &api, 100);
    let used = json_of(home, &["query", "usage", "spot1"]);
    let epoch = (receipt_height - 1) / EPOCH_BLOCKS;
    // The usage view covers the epoch in progress; the receipt's epoch may have closed since.
    let expected = if used["epoch"] == epoch {
        ("100", 100)
    } else {
        ("0", 0)
    };
    assert_eq!(
        (used["credits"].as_str(), used["packets"].as_u64()),
        (Some(expected.0), Some(expected.1)),
        "{used}"
    );
    // One tip answers the request: the epoch is the one of the height it reports.
    assert_eq!(
        used["epoch"].as_u64(),
        used["height"].as_u64().map(|h| h / EPOCH_BLOCKS),
        "{used}"
    );
    let router = json_of(home, &["query", "credits", "router"]);
    assert_eq!(
        router["delegated"], "900",
        "delegated credits are spent first: {router}"
    );
    assert_eq!(router["spent_on_data"], "100");

    // The epoch closes: spot1 earns a demand part for the credits burned for its traffic.
    let summary = wait_for(
        &format!("epoch {epoch} to close"),
        Duration::from_secs(30),
        || {
            let out = depin(home, &["--json", "query", "epoch", &epoch.to_string()]);
            out.status.success().then(|| out.json())
        },
    );
    assert_eq!(summary["credits_on_data"], "100", "{summary}");
    assert_eq!(summary["price_usd"], "0.5");
    assert!(base_units(&summary["demand_pool"]) > 0, "{summary}");
    let rewards = json_of(
        home,
        &[
            "query",
            "rewards",
            "--epoch",
            &epoch.to_string(),
            "--device",
            "spot1",
        ],
    );
    let reward = &rewards["reward"];
    assert_eq!(reward["traffic"]["credits"], "100", "{rewards}");
    assert!(base_units(&reward["demand"]) > 0, "{rewards}");
    assert!(
        base_units(&reward["traffic"]["credits_value"]) > 0,
        "{rewards}"
    );
    assert_eq!(
        base_units(&reward["amount"]),
        base_units(&reward["bootstrap"]) + base_units(&reward["demand"])
    );
    let human = depin(
        home,
        &[
            "query",
            "rewards",
            "--epoch",
            &epoch.to_string(),
            "--device",
            "spot1",
        ],
    )
    .ok("spot1's rewards");
    assert!(
        human.stdout.contains("100 credits burned") && human.stdout.contains("+ demand"),
        "{}",
        human.stdout
    );
    let human = depin(home, &["query", "epoch", &epoch.to_string()]).ok("the epoch");
    assert!(
        human.stdout.contains("| demand") && human.stdout.contains("price $0.5 per DPN"),
        "{}",
        human.stdout
    );
}

/// Builds a usage receipt for `packets` packets of spot1's traffic, paid by the router and
/// signed by both, posts it to `/v1/tx` from alice (anyone may submit) and returns the height of
/// its block. A tampered copy is refused for its payer signature.
fn settle_usage(home: &std::path::Path, api: &Api, packets: u64) -> u64 {
    let keys = Home::new(home);
    let (router, spot1, alice) = (
        keys.load_key("router").expect("router key"),
        keys.load_key("spot1").expect("spot1 key"),
        keys.load_key("alice").expect("alice key"),
    );
    let chain_id = api.get_ok("/v1/status")["chain_id"]
        .as_str()
        .expect("chain id")
        .to_string();
    let network = api.network();
    let now = depin_node::node::now_ms();
    let receipt = UsageReceipt::signed(
        &chain_id,
        &router,
        &spot1,
        now - 10_000,
        now - 1_000,
        packets,
        0,
    );
    let mut tampered = receipt.clone();
    tampered.packets += 1;
    let nonce = api.nonce(&alice.address().to_string());
    let mut heights = Vec::new();
    for (i, r) in [tampered, receipt].into_iter().enumerate() {
        let tx = sign(&network, &alice, nonce + i as u64, Action::from(r));
        let reply = api.must_post_json("/v1/tx", &serde_json::to_value(&tx).expect("tx JSON"));
        assert_eq!(reply.status, 202, "{}", reply.body);
        let hash = reply.json()["hash"].as_str().expect("hash").to_string();
        let status = api.wait_committed(&hash);
        heights.push((
            status["height"].as_u64().expect("height"),
            status["receipt"].clone(),
        ));
    }
    assert_eq!(
        heights[0].1["rejection"]["code"], "bad_payer_signature",
        "{}",
        heights[0].1
    );
    assert_eq!(heights[1].1["success"], true, "{}", heights[1].1);
    heights[1].0
}
