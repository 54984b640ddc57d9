//! The real node is SIGKILLed while transactions pour in; after a restart every transaction that
//! had been reported committed is still there, unchanged, the books balance, and a replay from
//! genesis agrees with the store.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, NodeProcess, UNIT, depin, init_home, sign, wait_for};
use depin_core::tx::Network;
use depin_core::{Action, Address, Amount, Encode, Keypair, Transaction};
use depin_node::Home;
use serde_json::{Value, json};

/// The store's checkpoint interval in blocks (`depin_store::CheckpointPolicy::BLOCKS_VAR`).
const CHECKPOINT_BLOCKS_VAR: &str = "DEPIN_STORE_CHECKPOINT_BLOCKS";
/// How long transactions flow before the kill.
const FLOW: Duration = Duration::from_millis(1500);
/// Most transactions the API submitter sends.
const MAX_API_TXS: usize = 2000;
/// Highest submission rate, in transactions per second: at it, [`MAX_API_TXS`] take longer
/// than [`FLOW`], so submission is still going on at the kill.
const MAX_TXS_PER_S: u64 = 800;
/// Transactions in each `POST /v1/txs` batch.
const BATCH_TXS: usize = 20;
/// Fresh accounts that only receive.
const RECIPIENTS: usize = 48;
/// Fresh accounts funded by the faucet that then send too.
const EXTRA_SIGNERS: usize = 3;
/// What the faucet gives each extra signer, in base units.
const SIGNER_FUNDS: u128 = 1000 * UNIT;
/// Whole-token genesis balances of `depin init`.
const FAUCET_GENESIS: u128 = 1_000_000_000 * UNIT;
const DEV_GENESIS: u128 = 1_000_000 * UNIT;
/// CLI transfers from alice to bob, 1.5 tokens each.
const CLI_TRANSFERS: u64 = 3;
const CLI_AMOUNT: u128 = 1_500_000;

/// Where and how a transaction was committed, as the node reported it.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    height: u64,
    index: u64,
    receipt: Value,
}

impl Seen {
    fn of(doc: &Value) -> Seen {
        Seen {
            height: doc["height"].as_u64().expect("committed tx has a height"),
            index: doc["index"].as_u64().expect("committed tx has an index"),
            receipt: doc["receipt"].clone(),
        }
    }
}

/// One transaction the API accepted.
#[derive(Clone, Debug)]
struct Sent {
    signer: usize,
    nonce: u64,
    recipient: usize,
    amount: u128,
}

/// What the submitter, the poller and the test share.
#[derive(Default)]
struct Flow {
    /// Accepted by the node, by hash.
    accepted: Mutex<BTreeMap<String, Sent>>,
    /// Reported committed by the node before the kill, by hash.
    committed: Mutex<BTreeMap<String, Seen>>,
    /// Anything the live node answered that it should not have.
    anomalies: Mutex<Vec<String>>,
    /// Polls that read an accepted transaction as unknown just before it showed up committed.
    transient_404s: AtomicUsize,
    stop: AtomicBool,
}

impl Flow {
    fn anomaly(&self, what: String) {
        self.anomalies.lock().expect("lock").push(what);
    }
}

/// Submits transfers from several signers to the recipients, one at a time (JSON and binary)
/// and in batches, until told to stop, the limit, or the node is gone. Returns how many it sent.
fn submit_until_stopped(
    api: Api,
    network: Network,
    signers: Vec<Keypair>,
    mut nonces: Vec<u64>,
    recipients: Vec<Address>,
    flow: Arc<Flow>,
) -> usize {
    let started = Instant::now();
    let mut sent = 0;
    let mut round = 0;
    let mut next_tx = |sent: usize| {
        let signer = sent % signers.len();
        let recipient = (sent / signers.len()) % recipients.len();
        let amount = (sent as u128 % 997 + 1) * 1000;
        let nonce = nonces[signer];
        nonces[signer] += 1;
        let tx = sign(
            &network,
            &signers[signer],
            nonce,
            Action::Transfer {
                to: recipients[recipient],
                amount: Amount(amount),
            },
        );
        let info = Sent {
            signer,
            nonce,
            recipient,
            amount,
        };
        (tx, info)
    };
    while sent < MAX_API_TXS && !flow.stop.load(Ordering::SeqCst) {
        round += 1;
        let count = if round % 10 == 0 { BATCH_TXS } else { 1 };
        let txs: Vec<(Transaction, Sent)> = (sent..sent + count).map(&mut next_tx).collect();
        let reply = if count > 1 {
            let body = Value::Array(
                txs.iter()
                    .map(|(tx, _)| serde_json::to_value(tx).expect("tx json"))
                    .collect(),
            );
            api.post_json("/v1/txs", &body)
        } else if round % 2 == 0 {
            api.post("/v1/tx", "application/octet-stream", &txs[0].0.to_bytes())
        } else {
            api.post_json("/v1/tx", &serde_json::to_value(&txs[0].0).expect("tx json"))
        };
        let Ok(reply) = reply else {
            break; // the node is gone
        };
        let hashes: Vec<Option<String>> = if count > 1 {
            let doc = reply.json();
            doc["results"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|r| r["hash"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            vec![
                (reply.status == 202)
                    .then(|| reply.json()["hash"].as_str().map(String::from))
                    .flatten(),
            ]
        };
        if hashes.len() != txs.len() || hashes.iter().any(Option::is_none) {
            // Nonces are managed here, so one refusal would stall that signer: stop and report.
            flow.anomaly(format!(
                "refused submission: {} {}",
                reply.status, reply.body
            ));
            break;
        }
        let mut accepted = flow.accepted.lock().expect("lock");
        for ((tx, info), hash) in txs.into_iter().zip(hashes) {
            let hash = hash.expect("checked above");
            if hash != tx.hash().to_string() {
                flow.anomaly(format!("node answered hash {hash} for {}", tx.hash()));
            }
            accepted.insert(hash, info);
        }
        drop(accepted);
        sent += count;
        let due = started + Duration::from_millis(sent as u64 * 1000 / MAX_TXS_PER_S);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    sent
}

/// Polls `GET /v1/tx/{hash}` for every accepted transaction not yet seen committed, recording
/// height, index and receipt when it is. Stops when told to or when the node is gone.
fn poll_until_stopped(api: Api, flow: Arc<Flow>) {
    while !flow.stop.load(Ordering::SeqCst) {
        let waiting: Vec<String> = {
            let committed = flow.committed.lock().expect("lock");
            let accepted = flow.accepted.lock().expect("lock");
            accepted
                .keys()
                .filter(|h| !committed.contains_key(*h))
                .cloned()
                .collect()
        };
        if waiting.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        for hash in waiting {
            let Ok(reply) = api.get(&format!("/v1/tx/{hash}")) else {
                return; // the node is gone
            };
            // An accepted transaction is pending or committed, never unknown: it leaves the
            // mempool only after its block is committed.
            let doc = if reply.status == 404 {
                flow.transient_404s.fetch_add(1, Ordering::SeqCst);
                flow.anomaly(format!(
                    "accepted tx {hash} reads as unknown: {}",
                    reply.body
                ));
                continue;
            } else if reply.status == 200 {
                reply.json()
            } else {
                flow.anomaly(format!(
                    "accepted tx {hash} polled: {} {}",
                    reply.status, reply.body
                ));
                continue;
            };
            if doc["status"] == "committed" {
                flow.committed
                    .lock()
                    .expect("lock")
                    .insert(hash, Seen::of(&doc));
            }
        }
    }
}

/// Runs `depin tx transfer` alice -> bob, waiting for each to commit; returns what it printed.
fn cli_transfers(home: std::path::PathBuf) -> Vec<(String, Seen)> {
    (0..CLI_TRANSFERS)
        .map(|_| {
            let doc = depin(
                &home,
                &[
                    "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1.5", "--json",
                ],
            )
            .ok("depin tx transfer")
            .json();
            assert_eq!(doc["status"], "committed", "{doc}");
            assert_eq!(doc["receipt"]["success"], true, "{doc}");
            let hash = doc["hash"].as_str().expect("hash").to_string();
            (hash, Seen::of(&doc))
        })
        .collect()
}

#[test]
fn kill_dash_nine_while_transactions_flow_loses_nothing_committed() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 100);
    let keys = Home::new(home);
    // A checkpoint of the store's pending state writes every other block, so the kill lands in
    // commits and checkpoints alike, with pending sets to restore.
    let mut node = NodeProcess::start_with(home, |c| {
        c.env(CHECKPOINT_BLOCKS_VAR, "2");
    });
    let api = node.api();
    let status = api.get_ok("/v1/status");
    let network = api.network();
    let supply = status["total_supply"].clone();

    // The faucet funds a few fresh signers first, so that several accounts send at once.
    let faucet = keys.load_key("faucet").expect("faucet key");
    let mut signers = vec![faucet];
    signers.extend((0..EXTRA_SIGNERS).map(|_| Keypair::generate()));
    let funding: Vec<String> = (1..signers.len())
        .map(|i| {
            let tx = sign(
                &network,
                &signers[0],
                i as u64 - 1,
                Action::Transfer {
                    to: signers[i].address(),
                    amount: Amount(SIGNER_FUNDS),
                },
            );
            let reply = api.must_post_json("/v1/tx", &serde_json::to_value(&tx).expect("json"));
            assert_eq!(reply.status, 202, "funding: {}", reply.body);
            tx.hash().to_string()
        })
        .collect();
    for hash in &funding {
        let doc = api.wait_committed(hash);
        assert_eq!(doc["receipt"]["success"], true, "funding: {doc}");
    }
    let signer_addresses: Vec<Address> = signers.iter().map(Keypair::address).collect();
    let mut nonces = vec![0; signers.len()];
    nonces[0] = EXTRA_SIGNERS as u64;
    let recipients: Vec<Address> = (0..RECIPIENTS)
        .map(|_| Keypair::generate().address())
        .collect();

    // Transactions flow: API submitter, committed-poller, and CLI transfers at once.
    let flow = Arc::new(Flow::default());
    let flow_start = Instant::now();
    let submitter = {
        let (api, network, recipients, flow) = (
            api.clone(),
            network.clone(),
            recipients.clone(),
            flow.clone(),
        );
        std::thread::spawn(move || {
            submit_until_stopped(api, network, signers, nonces, recipients, flow)
        })
    };
    let poller = {
        let (api, flow) = (api.clone(), flow.clone());
        std::thread::spawn(move || poll_until_stopped(api, flow))
    };
    let cli = {
        let home = home.to_path_buf();
        std::thread::spawn(move || cli_transfers(home))
    };
    // The flow starts just after a block; a jitter of up to one block interval makes the kill
    // land anywhere in the cycle (between blocks, while building, while committing).
    let jitter = Duration::from_millis(u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos()
            % 100,
    ));
    wait_for(
        "the flow to run and the CLI transfers to finish",
        Duration::from_secs(30),
        || (flow_start.elapsed() >= FLOW + jitter && cli.is_finished()).then_some(()),
    );
    let still_submitting = !submitter.is_finished();

    node.kill_hard();
    let killed_at = flow_start.elapsed();
    flow.stop.store(true, Ordering::SeqCst);
    let submitted = submitter.join().expect("submitter thread");
    poller.join().expect("poller thread");
    let cli_seen = cli.join().expect("CLI transfers (see the panic above)");

    let anomalies = flow.anomalies.lock().expect("lock").clone();
    assert!(
        anomalies.is_empty(),
        "the live node misbehaved: {anomalies:#?}"
    );
    assert!(
        still_submitting,
        "the submitter finished all {MAX_API_TXS} transactions before the kill; slow it down"
    );
    let accepted = flow.accepted.lock().expect("lock").clone();
    let mut committed = flow.committed.lock().expect("lock").clone();
    let api_committed = committed.len();
    assert!(
        api_committed >= 100,
        "only {api_committed} of {submitted} API transactions were seen committed before the kill"
    );
    for (hash, seen) in &cli_seen {
        committed.insert(hash.clone(), seen.clone());
    }
    let max_height = committed.values().map(|s| s.height).max().expect("some");
    // Every transfer in the flow is affordable and correctly numbered.
    let refused: Vec<_> = committed
        .iter()
        .filter(|(_, s)| s.receipt["success"] != true)
        .collect();
    assert!(refused.is_empty(), "refused inside blocks: {refused:#?}");

    // Restart on the same home: a killed node leaves a stale api.url, so it gets a new one.
    let mut node = NodeProcess::start_with(home, |c| {
        c.env(CHECKPOINT_BLOCKS_VAR, "2");
    });
    let api = node.api();
    let restart_height = api.height();
    assert!(
        restart_height >= max_height,
        "restarted at height {restart_height}, below {max_height} where txs were seen committed"
    );
    for (hash, before) in &committed {
        let doc = api.get_ok(&format!("/v1/tx/{hash}"));
        assert_eq!(
            doc["status"], "committed",
            "tx {hash} after the restart: {doc}"
        );
        assert_eq!(
            &Seen::of(&doc),
            before,
            "tx {hash} changed across the crash"
        );
    }
    // The blocks themselves hold those transactions where the index says.
    let heights: BTreeSet<u64> = committed.values().map(|s| s.height).collect();
    for height in heights {
        let block = api.get_ok(&format!("/v1/blocks/{height}"));
        for (hash, seen) in committed.iter().filter(|(_, s)| s.height == height) {
            let entry = &block["txs"][seen.index as usize];
            assert_eq!(
                entry["hash"],
                json!(hash),
                "block {height} index {}",
                seen.index
            );
            assert_eq!(entry["receipt"], seen.receipt, "block {height} tx {hash}");
        }
    }

    // The books balance: faucet-funded accounts hold what the faucet had less the tokens
    // burned for their fees; each recipient has at least what was seen committed to it and at
    // most what was accepted.
    let status = api.get_ok("/v1/status");
    let amount = |v: &Value| -> u128 { v.as_str().expect("amount").parse().expect("a number") };
    let burned = amount(&supply) - amount(&status["total_supply"]);
    assert!(burned > 0, "transactions paid fees");
    let faucet_family: u128 = signer_addresses
        .iter()
        .chain(&recipients)
        .map(|a| api.balance(&a.to_string()))
        .sum();
    assert!(faucet_family <= FAUCET_GENESIS, "faucet money was created");
    for (i, recipient) in recipients.iter().enumerate() {
        let to_it = accepted.iter().filter(|(_, s)| s.recipient == i);
        let most: u128 = to_it.clone().map(|(_, s)| s.amount).sum();
        let least: u128 = to_it
            .filter(|(h, _)| committed.contains_key(*h))
            .map(|(_, s)| s.amount)
            .sum();
        let balance = api.balance(&recipient.to_string());
        assert!(
            (least..=most).contains(&balance),
            "recipient {i} holds {balance}, outside [{least}, {most}]"
        );
    }
    for (i, signer) in signer_addresses.iter().enumerate() {
        let from_it = accepted.iter().filter(|(_, s)| s.signer == i);
        let sent = from_it.clone().count() as u64 + if i == 0 { EXTRA_SIGNERS as u64 } else { 0 };
        let seen = from_it
            .filter(|(h, _)| committed.contains_key(*h))
            .map(|(_, s)| s.nonce + 1)
            .max()
            .unwrap_or(0);
        let nonce = api.nonce(&signer.to_string());
        assert!(
            (seen..=sent).contains(&nonce),
            "signer {i} has nonce {nonce}, outside [{seen}, {sent}]"
        );
    }
    let cli_total = u128::from(CLI_TRANSFERS) * CLI_AMOUNT;
    let alice = keys.load_key("alice").expect("alice").address().to_string();
    let bob = keys.load_key("bob").expect("bob").address().to_string();
    let alice_fees = DEV_GENESIS - cli_total - api.balance(&alice);
    assert_eq!(api.balance(&bob), DEV_GENESIS + cli_total);
    assert_eq!(
        (FAUCET_GENESIS - faucet_family) + alice_fees,
        burned,
        "every token that left the books was burned for a fee"
    );

    // The restarted chain goes on, and takes the faucet's next nonce.
    let faucet_nonce = api.nonce(&signer_addresses[0].to_string());
    let next = sign(
        &network,
        &keys.load_key("faucet").expect("faucet key"),
        faucet_nonce,
        Action::Transfer {
            to: recipients[0],
            amount: Amount(1),
        },
    );
    let reply = api.must_post_json("/v1/tx", &serde_json::to_value(&next).expect("json"));
    assert_eq!(
        reply.status, 202,
        "a transfer after the restart: {}",
        reply.body
    );
    let doc = api.wait_committed(&next.hash().to_string());
    assert_eq!(doc["receipt"]["success"], true, "{doc}");
    assert!(doc["height"].as_u64().expect("height") > restart_height);

    // A clean stop, then a replay from genesis must agree with the store.
    let last_seen = api.height();
    let exit = node.terminate();
    assert!(
        exit.success(),
        "the node exited with {exit} after SIGTERM:\n{}",
        node.log()
    );
    assert!(
        node.log().contains("node stopped cleanly"),
        "{}",
        node.log()
    );
    assert!(
        !home.join("api.url").exists(),
        "a cleanly stopped node left api.url behind"
    );
    drop(node);
    let replay = depin(home, &["replay", "--json"]).ok("depin replay").json();
    let blocks = replay["blocks"].as_u64().expect("blocks");
    assert!(
        blocks >= last_seen,
        "replayed {blocks} blocks, the node had {last_seen}"
    );
    // Seen committed, the funding, and the transfer after the restart are all in blocks.
    let least_txs = (committed.len() + funding.len()) as u64 + 1;
    assert!(
        replay["txs"].as_u64().expect("txs") >= least_txs,
        "replay counted fewer than the {least_txs} transactions known committed: {replay}"
    );
    let node = NodeProcess::start(home);
    let block = node.api().get_ok(&format!("/v1/blocks/{blocks}"));
    assert_eq!(
        block["header"]["app_hash"], replay["app_hash"],
        "replay's app hash differs from block {blocks}"
    );
    drop(node);

    eprintln!(
        "crash test: {submitted} API txs submitted, {} accepted, {api_committed} seen committed \
         (+{CLI_TRANSFERS} CLI) by height {max_height}; {} transient 404s; killed at {killed_at:?}; restarted at \
         height {restart_height}; replayed {blocks} blocks; total {:?}",
        accepted.len(),
        flow.transient_404s.load(Ordering::SeqCst),
        started.elapsed()
    );
}

/// `curl -N /v1/stream` (which `depin devnet` suggests) must not keep a stopping node alive.
#[test]
fn sigterm_stops_the_node_while_a_stream_client_is_connected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 100);
    let mut node = NodeProcess::start(home);
    let (_stream, _event) = common::open_stream(&node.url, Duration::from_secs(5));
    node.send_term();
    let exit = node.exited_within(Duration::from_secs(5));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the node did not exit cleanly within 5 s of SIGTERM with a stream client connected: {exit:?}"
    );
}

/// A transaction admitted while the block with its signer's previous one commits still runs.
///
/// Hundreds of fresh signers each have nonce 1 in one large batch, while their nonce 0 arrive
/// one by one as the node works through that batch, so that some of those commit while the node
/// reads the batch's accounts. Every nonce 1 must then commit.
#[test]
fn a_transaction_admitted_during_a_commit_is_not_stranded() {
    const ROUNDS: usize = 3;
    const SIGNERS: usize = 500;
    const PADDING: usize = 9000;
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path();
    init_home(home, 20);
    let node = NodeProcess::start(home);
    let api = node.api();
    let network = api.network();
    let faucet = Home::new(home).load_key("faucet").expect("faucet key");
    let to = Keypair::generate().address();
    let transfer = |key: &Keypair, nonce, to, amount| {
        sign(
            &network,
            key,
            nonce,
            Action::Transfer {
                to,
                amount: Amount(amount),
            },
        )
    };
    let padding = transfer(&Keypair::generate(), 0, to, 1); // unknown signer: always refused
    let mut faucet_nonce = 0;
    let mut stranded = Vec::new();
    for _ in 0..ROUNDS {
        let signers: Vec<Keypair> = (0..SIGNERS).map(|_| Keypair::generate()).collect();
        let funding: Vec<Transaction> = signers
            .iter()
            .map(|k| {
                faucet_nonce += 1;
                transfer(&faucet, faucet_nonce - 1, k.address(), UNIT)
            })
            .collect();
        let reply = api
            .post("/v1/txs", "application/octet-stream", &funding.to_bytes())
            .expect("node reachable");
        assert_eq!(reply.json()["accepted"], SIGNERS, "{}", reply.body);
        api.wait_committed(&funding[SIGNERS - 1].hash().to_string());
        let firsts: Vec<Transaction> = signers.iter().map(|k| transfer(k, 0, to, 1)).collect();
        let seconds: Vec<Transaction> = signers.iter().map(|k| transfer(k, 1, to, 1)).collect();
        let mut batch = seconds.clone();
        batch.extend(std::iter::repeat_n(padding.clone(), PADDING));
        std::thread::scope(|s| {
            let batch_api = api.clone();
            let sent = s.spawn(move || {
                batch_api
                    .post("/v1/txs", "application/octet-stream", &batch.to_bytes())
                    .expect("node reachable")
            });
            for tx in &firsts {
                let reply = api
                    .post("/v1/tx", "application/octet-stream", &tx.to_bytes())
                    .expect("node reachable");
                assert_eq!(reply.status, 202, "{}", reply.body);
            }
            let reply = sent.join().expect("batch sender");
            assert_eq!(reply.json()["accepted"], SIGNERS, "{}", reply.body);
        });
        // 50 blocks after the last one was sent: still pending then means stranded (counted in
        // blocks, not seconds, so that a loaded machine producing slowly is not a failure).
        let sent_at = api.height();
        wait_for("50 more blocks", Duration::from_secs(60), || {
            (api.height() >= sent_at + 50).then_some(())
        });
        for (key, tx) in signers.iter().zip(&seconds) {
            let hash = tx.hash().to_string();
            let doc = api.get_ok(&format!("/v1/tx/{hash}"));
            if doc["status"] == "committed" {
                continue;
            }
            // Evidence for the cause: nonce 0 did commit, and one more tx from the same signer
            // (whose admission reads a fresh account) sets the sender's `next` right again.
            let chain_nonce = api.nonce(&tx.signer.to_string());
            let first = &firsts[seconds.iter().position(|t| t == tx).expect("listed")];
            let first_doc = api.get_ok(&format!("/v1/tx/{}", first.hash()));
            let third = transfer(key, 2, to, 1);
            let reply = api.must_post_json("/v1/tx", &serde_json::to_value(&third).expect("json"));
            assert_eq!(reply.status, 202, "{}", reply.body);
            let healed = api.wait_committed(&hash)["status"] == "committed";
            stranded.push(format!(
                "{} nonce 1 still {} 50 blocks later while its account's nonce is {chain_nonce} \
                 (nonce 0: {first_doc}); committed once nonce 2 arrived: {healed}",
                tx.signer, doc["status"]
            ));
        }
        if !stranded.is_empty() {
            break;
        }
    }
    assert!(
        stranded.is_empty(),
        "{} transactions stranded in the mempool, e.g. {:#?}",
        stranded.len(),
        &stranded[..stranded.len().min(3)]
    );
}
