//! Bad input to the real node, over HTTP and through the CLI: each refusal has the right status
//! and reason code, says what to do, and leaves the node running.

mod common;

use std::time::Duration;

use common::{Api, NodeProcess, UNIT, depin, init_home};
use depin_core::tx::Network;
use depin_core::{Action, Address, Amount, Encode, Keypair, Transaction};
use depin_node::Home;
use serde_json::{Value, json};

fn transfer(to: Address, base_units: u128) -> Action {
    Action::Transfer {
        to,
        amount: Amount(base_units),
    }
}

/// Plenty for any transaction at the devnet's base fee.
const MAX_FEE: u64 = 1_000_000;

fn sign(network: &Network, key: &Keypair, nonce: u64, action: Action) -> Transaction {
    Transaction::sign(network, key, nonce, MAX_FEE, action)
}

fn tx_json(tx: &Transaction) -> Value {
    serde_json::to_value(tx).expect("transactions serialize")
}

/// Submits a transaction that must be accepted; returns its hash.
fn submit_ok(api: &Api, tx: &Transaction, what: &str) -> String {
    let reply = api.must_post_json("/v1/tx", &tx_json(tx));
    assert_eq!(reply.status, 202, "{what}: {}", reply.body);
    let hash = reply.json()["hash"].as_str().expect("hash").to_string();
    assert_eq!(
        hash,
        tx.hash().to_string(),
        "{what}: the node's hash is the tx hash"
    );
    hash
}

#[test]
fn every_bad_request_is_refused_with_its_code_and_the_node_keeps_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 100);
    let node = NodeProcess::start(home);
    let api = node.api();
    let keys = Home::new(home);
    let alice = keys.load_key("alice").expect("alice's key");
    let bob = keys.load_key("bob").expect("bob's key").address();

    let status = api.get_ok("/v1/status");
    let chain_id = status["chain_id"].as_str().expect("chain id").to_string();
    let network = Network {
        chain_id: chain_id.clone(),
        genesis_hash: status["genesis_hash"]
            .as_str()
            .expect("genesis hash")
            .parse()
            .expect("a hash"),
    };
    let elsewhere = Network {
        chain_id: "another-chain".into(),
        ..network.clone()
    };
    let start_height = status["height"].as_u64().expect("height");
    let nonce = api.nonce(&alice.address().to_string());
    let bob_before = api.balance(&bob.to_string());

    // Bodies that are not transactions.
    api.post("/v1/tx", "application/json", b"{\"chain_id\": ")
        .expect("node reachable")
        .expect_error(400, "malformed", "truncated JSON");
    api.post("/v1/tx", "application/json", b"[1, 2, 3]")
        .expect("node reachable")
        .expect_error(400, "malformed", "JSON that is not a transaction");
    let mut extra = tx_json(&sign(&network, &alice, nonce, transfer(bob, 1)));
    extra["fee"] = json!(1);
    api.must_post_json("/v1/tx", &extra).expect_error(
        400,
        "malformed",
        "transaction with an unknown field",
    );
    api.post("/v1/tx", "application/octet-stream", &[1, 2, 3, 4, 5])
        .expect("node reachable")
        .expect_error(400, "malformed", "garbage binary");
    let mut trailing = sign(&network, &alice, nonce, transfer(bob, 1)).to_bytes();
    trailing.push(0);
    api.post("/v1/tx", "application/octet-stream", &trailing)
        .expect("node reachable")
        .expect_error(400, "malformed", "binary transaction with a trailing byte");
    api.post("/v1/tx", "application/octet-stream", &[0u8; 4097])
        .expect("node reachable")
        .expect_error(413, "too_large", "binary body over 4096 bytes");
    api.post("/v1/txs", "application/json", b"{\"not\": \"a list\"}")
        .expect("node reachable")
        .expect_error(400, "malformed", "batch that is not a list");

    // Well-formed transactions that must be refused at the door.
    let other_chain = sign(&elsewhere, &alice, nonce, transfer(bob, UNIT));
    let message = api
        .must_post_json("/v1/tx", &tx_json(&other_chain))
        .expect_error(400, "wrong_chain", "transaction for another chain");
    assert!(message.contains(&chain_id), "says which chain: {message}");
    let mut tampered = sign(&network, &alice, nonce, transfer(bob, UNIT));
    tampered.action = transfer(bob, 1000 * UNIT);
    api.must_post_json("/v1/tx", &tx_json(&tampered))
        .expect_error(400, "bad_signature", "amount changed after signing");
    let stranger = Keypair::generate();
    api.must_post_json(
        "/v1/tx",
        &tx_json(&sign(&network, &stranger, 0, transfer(bob, 1))),
    )
    .expect_error(422, "unknown_account", "sender that never held tokens");
    api.must_post_json(
        "/v1/tx",
        &tx_json(&sign(
            &network,
            &alice,
            nonce,
            transfer(bob, 2_000_000 * UNIT),
        )),
    )
    .expect_error(422, "insufficient_funds", "more than alice has");
    let stingy = Transaction::sign(&network, &alice, nonce, 0, transfer(bob, 1));
    let message = api
        .must_post_json("/v1/tx", &tx_json(&stingy))
        .expect_error(422, "fee_too_low", "a transaction that offers no fee");
    assert!(
        message.contains("/v1/fees"),
        "says where to look: {message}"
    );
    api.must_post_json(
        "/v1/tx",
        &tx_json(&sign(&network, &alice, nonce, transfer(bob, 0))),
    )
    .expect_error(422, "zero_amount", "transfer of nothing");
    api.must_post_json(
        "/v1/tx",
        &tx_json(&sign(&network, &alice, nonce + 1025, transfer(bob, 1))),
    )
    .expect_error(409, "nonce_too_far_ahead", "nonce 1025 past the next one");

    // A transaction waiting for its predecessor stays pending, so resubmitting it is a duplicate.
    let second = sign(&network, &alice, nonce + 1, transfer(bob, 2 * UNIT));
    let second_hash = submit_ok(&api, &second, "alice's second transfer, ahead of the first");
    assert_eq!(
        api.get_ok(&format!("/v1/tx/{second_hash}"))["status"],
        "pending"
    );
    api.must_post_json("/v1/tx", &tx_json(&second))
        .expect_error(409, "duplicate", "the same pending transaction again");
    api.post("/v1/tx", "application/octet-stream", &second.to_bytes())
        .expect("node reachable")
        .expect_error(
            409,
            "duplicate",
            "the same pending transaction again, binary",
        );
    api.must_post_json(
        "/v1/tx",
        &tx_json(&sign(&network, &alice, nonce + 1, transfer(bob, 3 * UNIT))),
    )
    .expect_error(
        409,
        "duplicate",
        "another pending transaction with the same nonce",
    );

    // The first fills the gap (sent as canonical bytes); both commit, then both are replays.
    let first = sign(&network, &alice, nonce, transfer(bob, UNIT));
    let reply = api
        .post("/v1/tx", "application/octet-stream", &first.to_bytes())
        .expect("node reachable");
    assert_eq!(reply.status, 202, "binary submission: {}", reply.body);
    let first_hash = reply.json()["hash"].as_str().expect("hash").to_string();
    let first_done = api.wait_committed(&first_hash);
    let second_done = api.wait_committed(&second_hash);
    assert_eq!(first_done["receipt"]["success"], true, "{first_done}");
    assert_eq!(second_done["receipt"]["success"], true, "{second_done}");
    api.must_post_json("/v1/tx", &tx_json(&first)).expect_error(
        409,
        "nonce_replayed",
        "a committed transaction again",
    );
    api.post("/v1/tx", "application/octet-stream", &second.to_bytes())
        .expect("node reachable")
        .expect_error(
            409,
            "nonce_replayed",
            "a committed transaction again, binary",
        );

    // A batch answers per transaction: one good, one for another chain, one replay.
    let third = sign(&network, &alice, nonce + 2, transfer(bob, 4 * UNIT));
    let batch = api.must_post_json(
        "/v1/txs",
        &json!([tx_json(&third), tx_json(&other_chain), tx_json(&first)]),
    );
    assert_eq!(batch.status, 200, "batch: {}", batch.body);
    let batch = batch.json();
    assert_eq!(batch["accepted"], 1, "{batch}");
    assert_eq!(
        batch["results"][0]["hash"],
        third.hash().to_string(),
        "{batch}"
    );
    assert_eq!(
        batch["results"][1]["error"]["code"], "wrong_chain",
        "{batch}"
    );
    assert_eq!(
        batch["results"][2]["error"]["code"], "nonce_replayed",
        "{batch}"
    );

    // Reads of things that do not exist, or cannot.
    let nobody = Keypair::generate().address();
    api.get(&format!("/v1/accounts/{nobody}"))
        .expect("node reachable")
        .expect_error(404, "unknown_account", "account that never held tokens");
    api.get("/v1/accounts/not-an-address")
        .expect("node reachable")
        .expect_error(400, "bad_address", "account path that is not an address");
    api.get(&format!("/v1/tx/{}", "0".repeat(64)))
        .expect("node reachable")
        .expect_error(404, "unknown_tx", "transaction nobody sent");
    api.get("/v1/tx/xyz").expect("node reachable").expect_error(
        400,
        "bad_hash",
        "tx path that is not a hash",
    );
    api.get("/v1/blocks/999999999")
        .expect("node reachable")
        .expect_error(404, "unknown_block", "block far past the tip");
    api.get("/v1/blocks/0")
        .expect("node reachable")
        .expect_error(404, "unknown_block", "block 0 (blocks start at 1)");
    api.get("/v1/blocks/tall")
        .expect("node reachable")
        .expect_error(400, "bad_height", "block path that is not a number");
    api.get("/v1/no/such/thing")
        .expect("node reachable")
        .expect_error(404, "no_such_route", "unknown route");

    // The self-description, metrics and the live stream.
    let openapi = api.get_ok("/v1/openapi.json");
    for path in depin_node::api::ROUTES {
        assert!(
            openapi["paths"].get(*path).is_some(),
            "/v1/openapi.json does not describe {path}"
        );
    }
    let metrics = api.get("/metrics").expect("node reachable");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.lines().any(|l| l.starts_with("depin_height ")),
        "metrics without depin_height:\n{}",
        metrics.body
    );
    let (_stream, event) = common::open_stream(&node.url, Duration::from_secs(5));
    assert!(event["height"].as_u64().is_some(), "block event: {event}");
    assert!(event["app_hash"].as_str().is_some(), "block event: {event}");

    // After all that the node still answers, still makes blocks and still takes transfers.
    let third_done = api.wait_committed(&third.hash().to_string());
    assert_eq!(third_done["receipt"]["success"], true, "{third_done}");
    let fourth = sign(&network, &alice, nonce + 3, transfer(bob, 5 * UNIT));
    let fourth_done = api.wait_committed(&submit_ok(&api, &fourth, "a valid transfer at the end"));
    assert_eq!(fourth_done["receipt"]["success"], true, "{fourth_done}");
    assert!(
        api.height() > start_height,
        "the chain did not advance from height {start_height}"
    );
    assert_eq!(
        api.balance(&bob.to_string()),
        bob_before + (1 + 2 + 4 + 5) * UNIT,
        "bob received exactly the four accepted transfers"
    );
    assert_eq!(api.nonce(&alice.address().to_string()), nonce + 4);
}

#[test]
fn cli_errors_say_what_went_wrong_and_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 100);

    let again = depin(home, &["init"]).failed("init on an existing home");
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    let no_node = depin(home, &["--node", "http://127.0.0.1:9", "query", "status"])
        .failed("query status with no node");
    assert!(
        no_node.stderr.contains("depin devnet"),
        "{}",
        no_node.stderr
    );

    let _node = NodeProcess::start(home);

    let poor = depin(
        home,
        &[
            "tx",
            "transfer",
            "--from",
            "alice",
            "--to",
            "bob",
            "--amount",
            "99999999999",
        ],
    )
    .failed("transfer of more than alice has");
    assert!(
        poor.stderr.contains("insufficient_funds"),
        "{}",
        poor.stderr
    );

    let unknown = depin(home, &["query", "account", "nosuchkey"]).failed("query unknown key");
    assert!(
        unknown.stderr.contains("depin keys new"),
        "{}",
        unknown.stderr
    );

    let busy = depin(home, &["replay"]).failed("replay while the node runs");
    assert!(busy.stderr.contains("stop the node"), "{}", busy.stderr);

    // The same CLI still works against the same node.
    let sent = depin(
        home,
        &[
            "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1.5", "--json",
        ],
    )
    .ok("a valid transfer")
    .json();
    assert_eq!(sent["status"], "committed", "{sent}");
    assert_eq!(sent["receipt"]["success"], true, "{sent}");
    let bob = depin(home, &["query", "account", "bob", "--json"])
        .ok("query bob")
        .json();
    assert_eq!(
        common::base_units(&bob["balance"]),
        1_000_000 * UNIT + 1_500_000,
        "{bob}"
    );
}

/// `api.rs` promises `{"error": {"code", "message"}}` on every refusal.
#[test]
fn wrong_method_is_refused_with_an_error_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 100);
    let node = NodeProcess::start(home);
    let api = node.api();
    let reply = api
        .post("/v1/status", "application/json", b"{}")
        .expect("node reachable");
    assert_eq!(reply.status, 405, "{}", reply.body);
    let code = serde_json::from_str::<Value>(&reply.body).ok();
    assert!(
        code.as_ref()
            .and_then(|v| v["error"]["code"].as_str())
            .is_some(),
        "405 without an error document: {:?}",
        reply.body
    );
}
