//! A validator that is in nobody's `peers.toml` joins a BFT network of four `depin node`
//! processes on 127.0.0.1: the emergency key adds it to the set, it registers where its p2p
//! listens (`depin stake p2p`) once seated, and the four connect to it from that on-chain
//! endpoint; it catches up, proposes, and all five agree on every block and app hash. Without
//! the driver reading endpoints from the chain nobody would ever dial or admit it.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use common::validators::{
    PROGRESS_TIMEOUT, agree_on_blocks, block, free_ports, height, validator_homes, wait_height,
};
use common::{Api, NodeProcess, depin, wait_for};
use depin_bft::run::{Peer, load_peers, write_peers};
use depin_core::{Action, Amount, Transaction};
use depin_node::Home;

/// Blocks per ledger epoch: the set enacted in one epoch takes office at the next one's first
/// block.
const EPOCH_BLOCKS: u64 = 10;

#[test]
fn a_validator_in_nobodys_peers_toml_joins_from_the_endpoint_it_registered() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("net");
    let port = free_ports();
    depin(
        &home,
        &[
            "init",
            "--validators",
            "4",
            "--p2p-port",
            &port.to_string(),
            "--block-interval-ms",
            "200",
            "--epoch-length-blocks",
            &EPOCH_BLOCKS.to_string(),
            "--beacon-interval-blocks",
            "5",
        ],
    )
    .ok("depin init --validators 4");
    let homes = validator_homes(&home);
    let four = load_peers(&Home::new(&home)).unwrap();
    let mut nodes: Vec<NodeProcess> = homes.iter().map(|h| NodeProcess::start(h)).collect();
    let mut apis: Vec<Api> = nodes.iter().map(NodeProcess::api).collect();
    wait_height(&apis, 2, "the four validators to finalize 2 blocks");

    // The newcomer: the same genesis, its own key, a peers.toml with the four and itself (its
    // listen address); the four's peers.toml never names it.
    let new_home = dir.path().join("newcomer");
    std::fs::create_dir_all(&new_home).unwrap();
    std::fs::copy(home.join("genesis.toml"), new_home.join("genesis.toml")).unwrap();
    depin(&new_home, &["keys", "new", "validator"]).ok("depin keys new validator");
    let newcomer = Home::new(&new_home).load_key("validator").unwrap();
    let listen = {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        probe.local_addr().unwrap()
    };
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port()));
    let mut own = four.clone();
    own.push(Peer {
        address: newcomer.address(),
        p2p: listen,
    });
    write_peers(&Home::new(&new_home), &own).unwrap();

    // Tokens for its registration's fee (bought as credits when it is charged).
    let faucet = Home::new(&home).load_key("faucet").unwrap();
    let funding = Transaction::sign(
        &apis[0].network(),
        &faucet,
        0,
        1_000_000_000,
        Action::Transfer {
            to: newcomer.address(),
            amount: Amount(100_000_000),
        },
    );
    let reply = apis[0].must_post_json("/v1/tx", &serde_json::to_value(&funding).unwrap());
    assert_eq!(reply.status, 202, "funding the newcomer: {}", reply.body);
    common::validators::wait_committed(&apis[0], &funding.hash().to_string());

    // The emergency key enacts the five; they take office at the next boundary.
    let mut propose: Vec<String> = ["gov", "propose", "validators"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    propose.extend(four.iter().map(|p| p.address.to_string()));
    propose.push(newcomer.address().to_string());
    propose.extend(
        ["--title", "five", "--key", "emergency", "--emergency"]
            .iter()
            .map(|s| s.to_string()),
    );
    let propose: Vec<&str> = propose.iter().map(String::as_str).collect();
    depin(&home, &propose).ok("depin gov propose validators ... --emergency");
    let me = newcomer.address().to_string();
    let boundary = wait_for("the newcomer to take office", PROGRESS_TIMEOUT, || {
        let v = apis[0].get_ok("/v1/governance/validators");
        v["validators"]
            .to_string()
            .contains(&me)
            .then(|| height(&apis[0]))
    });

    // Seated but unreachable: it registers where it listens, through a validator's API.
    let endpoint = listen.to_string();
    let via = apis[0].base.clone();
    depin(
        &new_home,
        &[
            "--node",
            &via,
            "stake",
            "p2p",
            &endpoint,
            "--key",
            "validator",
        ],
    )
    .ok("depin stake p2p");

    // The newcomer starts; after the boundary the four dial it at its registered endpoint.
    nodes.push(NodeProcess::start(&new_home));
    apis.push(nodes[4].api());
    let proposed = wait_for(
        "the newcomer to propose a finalized block",
        PROGRESS_TIMEOUT * 2,
        || {
            let tip = height(&apis[0]);
            (boundary..=tip).find(|h| block(&apis[0], *h)["header"]["proposer"] == me.as_str())
        },
    );
    let target = apis.iter().map(height).max().unwrap() + 2;
    wait_height(
        &apis,
        target,
        "all five validators to reach the same height",
    );
    agree_on_blocks(&apis, target);
    // Before it registered, the others could only warn that it had no address: the endpoint
    // they then dialed came from the chain, nowhere else.
    let log = nodes[0].log();
    assert!(
        log.contains("has no p2p address here") && log.contains(&me),
        "validator 0 warned about the newcomer while it had no endpoint:\n{log}"
    );
    println!(
        "the newcomer took office at block {boundary}, proposed block {proposed}; blocks \
         1..={target} agree on all five"
    );
}
