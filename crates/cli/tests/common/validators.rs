//! What the multi-validator process tests share: free consecutive ports for a validator set's
//! p2p listeners, the homes `depin init --validators 4` writes, reading heights and blocks off
//! each validator's API, checking that they agree, and sending transfers and waiting for them.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use depin_core::{Action, Amount, Keypair, Transaction};
use serde_json::Value;

use super::{Api, wait_for};

/// Bound on each wait for the network to reach a height, or a transaction to commit.
pub const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Four consecutive free ports on 127.0.0.1 (checked by binding them).
pub fn free_ports() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first > 65_000 {
            continue;
        }
        let taken: Vec<_> = (0..4)
            .map(|i| TcpListener::bind((Ipv4Addr::LOCALHOST, first + i)))
            .collect();
        if taken.iter().all(Result::is_ok) {
            return first;
        }
    }
    panic!("no four consecutive free ports on 127.0.0.1");
}

pub fn height(api: &Api) -> u64 {
    api.get_ok("/v1/status")["height"].as_u64().expect("height")
}

pub fn block(api: &Api, h: u64) -> Value {
    api.get_ok(&format!("/v1/blocks/{h}"))
}

pub fn wait_height(apis: &[Api], at_least: u64, what: &str) {
    wait_for(what, PROGRESS_TIMEOUT, || {
        apis.iter().all(|a| height(a) >= at_least).then_some(())
    });
}

/// Waits until `api` shows `hash` committed (a validator may learn of a transaction another
/// one admitted only when its block is finalized, so "unknown" is waited through).
pub fn wait_committed(api: &Api, hash: &str) {
    wait_for(
        &format!("tx {hash} to be committed at {}", api.base),
        PROGRESS_TIMEOUT,
        || {
            let reply = api.get(&format!("/v1/tx/{hash}")).ok()?;
            (reply.status == 200 && reply.json()["status"] == "committed").then_some(())
        },
    );
}

/// Submits a transfer of `1,000 + nonce` base units from `from` to `to` through `api`; its hash.
pub fn transfer(api: &Api, from: &Keypair, nonce: u64, to: &Keypair) -> String {
    let tx = Transaction::sign(
        &api.network(),
        from,
        nonce,
        1_000_000_000,
        Action::Transfer {
            to: to.address(),
            amount: Amount(1_000 + u128::from(nonce)),
        },
    );
    let reply = api.must_post_json("/v1/tx", &serde_json::to_value(&tx).unwrap());
    assert_eq!(reply.status, 202, "submitting: {}", reply.body);
    tx.hash().to_string()
}

/// The four homes `depin init --validators 4` wrote in `home`: its own, then `validators/v1..v3`.
pub fn validator_homes(home: &Path) -> Vec<PathBuf> {
    std::iter::once(home.to_path_buf())
        .chain((1..4).map(|i| home.join("validators").join(format!("v{i}"))))
        .collect()
}

/// Asserts that every validator has the first one's block and app hash at each height
/// `1..=upto`; returns the first one's blocks, oldest first.
pub fn agree_on_blocks(apis: &[Api], upto: u64) -> Vec<Value> {
    (1..=upto)
        .map(|h| {
            let reference = block(&apis[0], h);
            for (i, api) in apis.iter().enumerate().skip(1) {
                let other = block(api, h);
                assert_eq!(
                    other["hash"], reference["hash"],
                    "height {h}: validator {i} has another block"
                );
                assert_eq!(
                    other["header"]["app_hash"], reference["header"]["app_hash"],
                    "height {h}: validator {i} has another app hash"
                );
            }
            reference
        })
        .collect()
}
