//! A real node on 127.0.0.1 for the API's tests, and a raw HTTP/1.1 client that can send what
//! well-behaved clients never would (bad bytes in a path, a lying Content-Length).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::{Genesis, Keypair};
use depin_node::{ApiLimits, Home, MempoolLimits, Node, RunConfig};

/// How long any one read from the node may take before a test gives up on it.
pub const READ_BOUND: Duration = Duration::from_secs(30);

/// The key funded in the test genesis.
pub fn funded() -> Keypair {
    Keypair::from_seed([7; 32])
}

pub const CHAIN_ID: &str = "api-hardening";

/// A node running on its own thread; stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// A node started by a test with its own genesis (see [`start`] for the pattern).
    pub fn new(
        addr: SocketAddr,
        node: Arc<Node>,
        thread: std::thread::JoinHandle<()>,
        dir: tempfile::TempDir,
    ) -> Running {
        Running {
            addr,
            node,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.node.request_shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The test network: one validator (seed 3), 1,000 tokens for [`funded`].
pub fn genesis() -> Genesis {
    let validator = Keypair::from_seed([3; 32]);
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 60_000,
            epoch_length_blocks: 10,
            max_block_txs: 100,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: vec![Allocation {
            address: funded().address(),
            amount: "1000".into(),
        }],
        economics: None,
        fees: None,
        modules: Default::default(),
    }
}

/// `action` signed by `key` with `nonce` for the test network, offering plenty of fee.
#[allow(dead_code)]
pub fn sign(key: &Keypair, nonce: u64, action: depin_core::Action) -> depin_core::Transaction {
    depin_core::Transaction::sign(&genesis().network(), key, nonce, 1_000_000, action)
}

/// Starts a node with a one-minute block interval (no block is produced during a test).
pub fn start(mempool: MempoolLimits, api: ApiLimits) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    let validator = Keypair::from_seed([3; 32]);
    let genesis = genesis();
    home.write_genesis(&genesis).expect("genesis");
    home.save_key("validator", &validator).expect("key");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().expect("address"),
            mempool,
            api,
        };
        runtime
            .block_on(depin_node::run(&home, config, |url, node| {
                tx.send((url.to_string(), node.clone())).expect("url");
            }))
            .expect("node runs");
    });
    let (url, node) = rx.recv_timeout(READ_BOUND).expect("the node starts");
    let addr = url.trim_start_matches("http://").parse().expect("addr");
    Running {
        addr,
        node,
        thread: Some(thread),
        _dir: dir,
    }
}

/// An answer read off the wire.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `{"error": {"code"}}` of a refusal.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", String::from_utf8_lossy(&self.body)))
            .to_string()
    }
}

/// Sends `head` (request line and headers, without the final blank line) and `body` on a new
/// connection with `Connection: close`, and reads the whole answer.
pub fn send(addr: SocketAddr, head: &[u8], body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(READ_BOUND)).expect("timeout");
    let mut req = head.to_vec();
    req.extend_from_slice(b"\r\nHost: test\r\nConnection: close\r\n");
    if !body.is_empty() {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    s.write_all(&req).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    parse(&raw)
}

/// Parses one HTTP/1.1 answer (its body read to the end of the connection).
pub fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Answer { status, head, body }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, format!("GET {path} HTTP/1.1").as_bytes(), b"")
}
