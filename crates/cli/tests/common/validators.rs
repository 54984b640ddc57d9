//! What the multi-validator process tests share: free consecutive ports for a validator set's
//! p2p listeners, and reading heights and blocks off each validator's API.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

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
