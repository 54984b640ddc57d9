//! More idle and slow connections than the node process has file descriptors: a real
//! `depin node` with `RLIMIT_NOFILE` lowered to [`FD_LIMIT`] (below its default connection limit
//! of 512, as on a host with a low `ulimit -n`), held open by a client that never finishes a
//! request. The node closes them after its header-read timeout, serves a normal client, and
//! keeps committing blocks and transactions.
//!
//! `crates/node/tests/api_connections.rs` covers the connection limit itself (in process, with a
//! small `max_connections`); this test covers the case where the descriptors run out first, which
//! needs the node in its own process.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{Api, NodeProcess, init_home, wait_for};
use depin_core::tx::Network;
use depin_core::{Action, Amount, Keypair, Transaction};
use depin_node::Home;
use serde_json::Value;

/// The node's file-descriptor limit (soft and hard).
const FD_LIMIT: u64 = 128;
/// Connections the test holds open: twice the limit, a fifth of them slowloris heads.
const HELD: usize = 2 * FD_LIMIT as usize;
/// How long a normal client may wait to be served: three times the node's default header-read
/// timeout (10 s), after which the held connections are closed and their descriptors free.
const SERVED_WITHIN: Duration = Duration::from_secs(30);

/// Every transaction of this file is built here.
fn transfer(network: &Network, key: &Keypair, nonce: u64, to: &Keypair) -> Transaction {
    common::sign(
        network,
        key,
        nonce,
        Action::Transfer {
            to: to.address(),
            amount: Amount(1),
        },
    )
}

/// Sends one request with `Connection: close` and returns the status line's code, if any
/// answer came within `timeout`.
fn status_of(addr: SocketAddr, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    std::str::from_utf8(raw.get(9..12)?).ok()?.parse().ok()
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn connections_past_the_descriptor_limit_are_closed_and_others_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_home(dir.path(), 200);
    let node = NodeProcess::start_with(dir.path(), |cmd| {
        let limit = libc::rlimit {
            rlim_cur: FD_LIMIT,
            rlim_max: FD_LIMIT,
        };
        // SAFETY: runs in the forked child before exec and only calls setrlimit, which is
        // async-signal-safe; `limit` is a plain value copied into the closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", node.pid())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(&format!(" {FD_LIMIT} "))),
        "the node runs under the lowered limit:\n{limits}"
    );
    let addr: SocketAddr = node
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let api = Api::new(&node.url);
    let status = api.get_ok("/v1/status");
    let network = api.network();
    let height_before = status["height"].as_u64().expect("height");

    // Idle connections, and slowloris heads that never end, twice as many as the node has
    // descriptors: those past its limit wait in the listen queue.
    let mut held: Vec<TcpStream> = (0..HELD)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i % 5 == 0 {
                s.write_all(b"POST /v1/tx HTTP/1.1\r\nHost: t\r\nX-Slow: a")
                    .expect("a slow head");
            }
            s
        })
        .collect();
    wait_for("the node to run out of descriptors", SERVED_WITHIN, || {
        (open_files(node.pid()) as u64 >= FD_LIMIT - 2).then_some(())
    });

    // A normal client is served once the node has closed the held connections (by its
    // header-read timeout: the test never closes them).
    let started = Instant::now();
    let served = loop {
        let left = SERVED_WITHIN.saturating_sub(started.elapsed());
        if left.is_zero() {
            break None;
        }
        if status_of(addr, left) == Some(200) {
            break Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let served = served.unwrap_or_else(|| {
        panic!(
            "no normal client was served within {SERVED_WITHIN:?} while {HELD} connections were held:\n{}",
            node.log()
        )
    });
    eprintln!(
        "served after {served:?} with {HELD} connections held against {FD_LIMIT} descriptors"
    );

    // Every held connection was closed by the node (a read ends), none left open.
    for s in &mut held {
        s.set_read_timeout(Some(SERVED_WITHIN)).expect("timeout");
        let mut buf = Vec::new();
        if let Err(e) = s.read_to_end(&mut buf) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset,
                "a held connection was left open: {e}"
            );
        }
    }

    // The node kept producing blocks and still commits a transfer.
    let home = Home::new(dir.path());
    let (alice, bob) = (
        home.load_key("alice").expect("alice"),
        home.load_key("bob").expect("bob"),
    );
    let nonce = api.nonce(&alice.address().to_string());
    let tx = transfer(&network, &alice, nonce, &bob);
    let reply = api
        .post_json("/v1/tx", &serde_json::to_value(&tx).expect("json"))
        .expect("the node answers");
    assert_eq!(reply.status, 202, "{}", reply.body);
    let doc: Value = api.wait_committed(&tx.hash().to_string());
    assert_eq!(doc["receipt"]["success"], true, "{doc}");
    assert!(api.height() > height_before, "blocks kept coming");
    drop(held);
}
