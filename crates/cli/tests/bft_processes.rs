//! Four `depin node` processes of one BFT network (commonware simplex) on 127.0.0.1:
//! transactions flow, one validator is SIGKILLed and restarted, the others keep finalizing,
//! and the restarted one catches up to the same blocks and app hashes.

mod common;

use common::validators::{
    agree_on_blocks, free_ports, height, transfer, validator_homes, wait_committed, wait_height,
};
use common::{Api, NodeProcess, depin};
use depin_node::Home;

#[test]
fn a_killed_validator_restarts_and_catches_up_while_the_others_finalize() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let port = free_ports();
    depin(
        home,
        &[
            "init",
            "--validators",
            "4",
            "--p2p-port",
            &port.to_string(),
            "--block-interval-ms",
            "200",
        ],
    )
    .ok("depin init --validators 4");
    let homes = validator_homes(home);
    let mut nodes: Vec<NodeProcess> = homes.iter().map(|h| NodeProcess::start(h)).collect();
    let apis: Vec<Api> = nodes.iter().map(NodeProcess::api).collect();
    wait_height(&apis, 3, "all four validators to finalize 3 blocks");

    // Transactions flow through every validator's API (each gossips to the others).
    let faucet = Home::new(home).load_key("faucet").unwrap();
    let bob = Home::new(home).load_key("bob").unwrap();
    let mut nonce = 0;
    let mut hashes = Vec::new();
    for i in 0..8 {
        hashes.push(transfer(&apis[i % 4], &faucet, nonce, &bob));
        nonce += 1;
    }
    for h in &hashes {
        wait_committed(&apis[0], h);
    }

    // SIGKILL validator 3; the other three keep finalizing, transactions still commit.
    nodes[3].kill_hard();
    let at_kill = height(&apis[0]);
    let mut after = Vec::new();
    for i in 0..6 {
        after.push(transfer(&apis[i % 3], &faucet, nonce, &bob));
        nonce += 1;
    }
    wait_height(
        &apis[..3],
        at_kill + 10,
        "the three others to finalize 10 more blocks",
    );
    for h in &after {
        wait_committed(&apis[1], h);
    }

    // Restarted from its store and journal, it fetches what it missed and agrees.
    nodes[3] = NodeProcess::start(&homes[3]);
    let restarted = nodes[3].api();
    let target = height(&apis[0]) + 3;
    let mut all = apis[..3].to_vec();
    all.push(restarted.clone());
    wait_height(&all, target, "the restarted validator to catch up");
    // The same blocks and app hashes as validator 0 (the restarted one is "validator 1" here).
    agree_on_blocks(&[apis[0].clone(), restarted.clone()], target);
    for h in hashes.iter().chain(&after) {
        let doc = restarted.get_ok(&format!("/v1/tx/{h}"));
        assert_eq!(
            doc["status"], "committed",
            "{h} on the restarted validator: {doc}"
        );
    }
}
