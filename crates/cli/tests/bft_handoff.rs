//! A solo network handed over to four validators with real `depin` processes on 127.0.0.1,
//! following docs/GUIDE.md "From one validator to several" step by step: a solo node runs,
//! three new homes get the same genesis and a validator key each (`depin keys new`), the
//! emergency key enacts the four-validator set (`depin gov propose validators ...
//! --emergency`), the solo node stops at the boundary with its message, every home gets the
//! same `peers.toml`, the new validators start, the old node starts again, and all four reach
//! the same blocks and app hashes and keep committing transfers.

mod common;

use std::path::PathBuf;

use common::validators::{
    PROGRESS_TIMEOUT, agree_on_blocks, free_ports, height, transfer, wait_committed, wait_height,
};
use common::{Api, NodeProcess, depin};
use depin_node::Home;

/// Blocks per ledger epoch of the test network: the set enacted in one epoch takes effect at
/// the first block of the next.
const EPOCH_BLOCKS: &str = "10";

/// The address `depin keys new` printed ("NAME ADDRESS").
fn printed_address(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("`keys new` printed no address: {stdout}"))
        .to_string()
}

/// The height the solo node's stop message names ("... changed after block N: ...").
fn last_solo_block(log: &str) -> u64 {
    let marker = "the validator set changed after block ";
    let at = log
        .find(marker)
        .unwrap_or_else(|| panic!("the solo node stopped without its message:\n{log}"));
    log[at + marker.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no block number in the stop message:\n{log}"))
}

/// A `peers.toml` as GUIDE.md shows it: one `[[peer]]` per validator.
fn peers_toml(validators: &[(String, u16)]) -> String {
    validators
        .iter()
        .map(|(address, port)| {
            format!("[[peer]]\naddress = \"{address}\"\np2p = \"127.0.0.1:{port}\"\n\n")
        })
        .collect()
}

#[test]
fn a_solo_node_hands_over_to_four_validators_as_the_guide_says() {
    let dir = tempfile::tempdir().unwrap();
    let solo = dir.path().join("solo");
    // A solo network (`depin init`, `depin node`, no peers.toml), with short epochs so the set
    // change takes effect within seconds.
    depin(
        &solo,
        &[
            "init",
            "--block-interval-ms",
            "200",
            "--epoch-length-blocks",
            EPOCH_BLOCKS,
            "--beacon-interval-blocks",
            "5",
        ],
    )
    .ok("depin init");
    let mut solo_node = NodeProcess::start(&solo);
    let solo_api = solo_node.api();
    let faucet = Home::new(&solo).load_key("faucet").unwrap();
    let bob = Home::new(&solo).load_key("bob").unwrap();
    let mut nonce = 0;
    let mut hashes = Vec::new();
    for _ in 0..3 {
        hashes.push(transfer(&solo_api, &faucet, nonce, &bob));
        nonce += 1;
    }

    // New validators: a home each with the same genesis and its own validator key.
    let mut homes: Vec<PathBuf> = vec![solo.clone()];
    let mut addresses = vec![];
    for i in 1..=3 {
        let home = dir.path().join(format!("v{i}"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::copy(solo.join("genesis.toml"), home.join("genesis.toml")).unwrap();
        let out = depin(&home, &["keys", "new", "validator"]).ok("depin keys new validator");
        addresses.push(printed_address(&out.stdout));
        homes.push(home);
    }

    // The change, enacted at once by the emergency key (a devnet's), to take effect at the
    // next ledger epoch's first block.
    let mut propose = vec!["gov", "propose", "validators", "validator"];
    propose.extend(addresses.iter().map(String::as_str));
    propose.extend([
        "--title",
        "four validators",
        "--key",
        "emergency",
        "--emergency",
    ]);
    depin(&solo, &propose).ok("depin gov propose validators ... --emergency");
    for h in &hashes {
        wait_committed(&solo_api, h);
    }

    // At the boundary the solo node stops, saying after which block and what to do.
    let status = solo_node
        .exited_within(PROGRESS_TIMEOUT)
        .unwrap_or_else(|| panic!("the solo node did not stop at the boundary"));
    let log = solo_node.log();
    assert!(
        status.success(),
        "the solo node stopped with {status}:\n{log}"
    );
    let last_solo = last_solo_block(&log);
    assert!(
        log.contains("it now has 4 validators") && log.contains("peers.toml"),
        "the stop message says how many validators and what to do:\n{log}"
    );
    drop(solo_node);

    // The same peers.toml in every home.
    let port = free_ports();
    let solo_address = Home::new(&solo).load_key("validator").unwrap().address();
    let mut peers = vec![(solo_address.to_string(), port)];
    for (i, a) in addresses.iter().enumerate() {
        peers.push((a.clone(), port + 1 + i as u16));
    }
    let peers = peers_toml(&peers);
    for home in &homes {
        std::fs::write(home.join("peers.toml"), &peers).unwrap();
    }

    // The new validators first (they wait for the chain), then the old node again.
    let mut nodes: Vec<NodeProcess> = homes[1..].iter().map(|h| NodeProcess::start(h)).collect();
    nodes.insert(0, NodeProcess::start(&solo));
    let apis: Vec<Api> = nodes.iter().map(NodeProcess::api).collect();
    wait_height(
        &apis,
        last_solo + 3,
        "all four validators to finalize blocks after the last solo block",
    );

    // They keep committing transfers, submitted through every validator's API.
    let mut after = Vec::new();
    for api in apis.iter().cycle().take(8) {
        after.push(transfer(api, &faucet, nonce, &bob));
        nonce += 1;
    }
    for h in &after {
        for api in &apis {
            wait_committed(api, h);
        }
    }
    let target = apis.iter().map(height).max().unwrap() + 2;
    wait_height(
        &apis,
        target,
        "all four validators to reach the same height",
    );

    // The same blocks and app hashes everywhere; the solo blocks by the solo validator, and
    // the blocks after them by more than one of the four.
    let mut proposers = std::collections::BTreeSet::new();
    for (h, reference) in (1..=target).zip(agree_on_blocks(&apis, target)) {
        let proposer = reference["header"]["proposer"]
            .as_str()
            .unwrap()
            .to_string();
        if h <= last_solo {
            assert_eq!(proposer, solo_address.to_string(), "solo block {h}");
        } else {
            proposers.insert(proposer);
        }
    }
    assert!(
        proposers.len() > 1,
        "only {proposers:?} proposed after the hand-off at block {last_solo}"
    );
    for h in hashes.iter().chain(&after) {
        for api in &apis {
            let doc = api.get_ok(&format!("/v1/tx/{h}"));
            assert_eq!(doc["status"], "committed", "{h} at {}: {doc}", api.base);
        }
    }
    println!(
        "handed over after solo block {last_solo}; blocks 1..={target} agree on all four; \
         proposers after the hand-off: {}",
        proposers.len()
    );
}
