//! Harness for tests that drive the real `depin` binary: a home directory made by `depin init`,
//! a node process that is killed when its guard drops, CLI runs with deadlines, and a small
//! HTTP client that returns every status instead of failing on 4xx.
//!
//! Nothing here may hang a test: every wait has a deadline and panics with what it waited for.

// Each test file uses a different part of the harness.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod validators;

/// The binary under test.
pub const DEPIN: &str = env!("CARGO_BIN_EXE_depin");
/// Base units per whole token in the networks `depin init` makes (6 decimals).
pub const UNIT: u128 = 1_000_000;
/// Longest a node may take to start listening.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest one CLI command may run.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a node may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a transaction may take to be committed once accepted.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls `probe` every few milliseconds until it returns `Some`, panicking after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a child to exit, killing it and panicking after `timeout`.
pub fn wait_child(child: &mut Child, what: &str, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("polling a child process") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn collect(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a finished CLI command printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with both streams unless the command succeeded.
    pub fn ok(self, what: &str) -> Output {
        assert!(
            self.status.success(),
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with both streams unless the command failed.
    pub fn failed(self, what: &str) -> Output {
        assert!(
            !self.status.success(),
            "{what} should have failed but succeeded:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `depin --home HOME ARGS...`, killing it if it runs longer than [`CLI_TIMEOUT`].
/// The binary on `home`, isolated from the caller's environment, with output captured.
fn depin_command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(DEPIN);
    cmd.arg("--home")
        .arg(home)
        .args(args)
        .env_remove("DEPIN_HOME")
        .env_remove("DEPIN_NODE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn depin(home: &Path, args: &[&str]) -> Output {
    depin_within(home, args, CLI_TIMEOUT)
}

/// [`depin`] for a command that may run up to `timeout` (a short benchmark).
pub fn depin_within(home: &Path, args: &[&str], timeout: Duration) -> Output {
    let what = format!("`depin {}`", args.join(" "));
    let mut child = depin_command(home, args)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let status = wait_child(&mut child, &what, timeout);
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Creates a network in `home` with the given block interval.
pub fn init_home(home: &Path, block_interval_ms: u64) {
    depin(
        home,
        &[
            "init",
            "--block-interval-ms",
            &block_interval_ms.to_string(),
        ],
    )
    .ok("depin init");
}

/// Creates a fast network in `home`: 100 ms blocks, `epoch_blocks` blocks an epoch, a beacon
/// window every 5 blocks.
pub fn init_fast_home(home: &Path, epoch_blocks: u64) {
    depin(
        home,
        &[
            "init",
            "--block-interval-ms",
            "100",
            "--epoch-length-blocks",
            &epoch_blocks.to_string(),
            "--beacon-interval-blocks",
            "5",
        ],
    )
    .ok("depin init");
}

/// A running `depin node`; SIGKILLed when dropped. On a failing test its output is printed.
pub struct NodeProcess {
    child: Child,
    home: PathBuf,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl NodeProcess {
    /// Starts `depin node --api 127.0.0.1:0` on `home` and waits until it listens.
    ///
    /// A node that was killed leaves a stale `api.url` behind, so it is deleted first and the
    /// URL is whatever the new node writes.
    pub fn start(home: &Path) -> NodeProcess {
        NodeProcess::start_with(home, |_| {})
    }

    /// [`NodeProcess::start`], with `adjust` applied to the command first (a resource limit,
    /// say).
    pub fn start_with(home: &Path, adjust: impl FnOnce(&mut Command)) -> NodeProcess {
        NodeProcess::start_command(home, &["node", "--api", "127.0.0.1:0"], adjust)
    }

    /// Starts `depin devnet --api 127.0.0.1:0 --hotspots <hotspots>` on `home` (the node with its
    /// simulated agents) and waits until it listens.
    pub fn start_devnet(home: &Path, hotspots: usize) -> NodeProcess {
        let hotspots = hotspots.to_string();
        NodeProcess::start_command(
            home,
            &["devnet", "--api", "127.0.0.1:0", "--hotspots", &hotspots],
            |_| {},
        )
    }

    /// Starts `depin <args>` (a command that runs a node) and waits until it listens.
    pub fn start_command(
        home: &Path,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> NodeProcess {
        let url_file = home.join("api.url");
        match std::fs::remove_file(&url_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", url_file.display()),
        }
        let mut command = depin_command(home, args);
        adjust(&mut command);
        let mut child = command.spawn().expect("spawning depin node");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped stderr")),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.lock()
                        .expect("log lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut node = NodeProcess {
            child,
            home: home.to_path_buf(),
            url: String::new(),
            log,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        node.url = loop {
            if let Some(status) = node.child.try_wait().expect("polling the node") {
                panic!("the node exited early ({status}):\n{}", node.log());
            }
            // The node writes "URL\n" in one call; the newline says the write is complete.
            if let Ok(text) = std::fs::read_to_string(&url_file)
                && text.ends_with('\n')
                && text.trim().starts_with("http://")
            {
                break text.trim().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the node did not write {} within {STARTUP_TIMEOUT:?}:\n{}",
                url_file.display(),
                node.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let banner = format!("API listening on {}", node.url);
        wait_for("the node's startup banner", STARTUP_TIMEOUT, || {
            node.log().contains(&banner).then_some(())
        });
        node
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the node printed so far, stdout and stderr interleaved.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("sending SIGKILL to the node");
        wait_child(&mut self.child, "the SIGKILLed node", STOP_TIMEOUT);
    }

    /// SIGTERM, then waits for the node to exit on its own.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_term();
        wait_child(&mut self.child, "the node after SIGTERM", STOP_TIMEOUT)
    }

    /// Sends SIGTERM (through `kill`, to need no libc binding).
    pub fn send_term(&self) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("running kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
    }

    /// The node's exit status if it exits within `timeout`; `None` if it is still running.
    pub fn exited_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the node") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- node output ({}) ---\n{}", self.url, self.log());
        }
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("HTTP {} body is not JSON ({e}): {}", self.status, self.body)
        })
    }

    /// Asserts that this is a refusal with `status` and `{"error": {"code": code, "message"}}`
    /// with a non-empty message; returns the message.
    pub fn expect_error(&self, status: u16, code: &str, what: &str) -> String {
        assert_eq!(
            (self.status, self.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: expected {status} {code}, got {}: {}",
            self.status,
            self.body
        );
        let message = self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !message.is_empty(),
            "{what}: error without a message: {}",
            self.body
        );
        message
    }
}

/// A blocking client that reports every HTTP status as a [`Reply`]; `Err` only when the node
/// cannot be reached.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Api {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn reply(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, ureq::Error> {
        let mut resp = resp?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string()?;
        Ok(Reply { status, body })
    }

    pub fn get(&self, path: &str) -> Result<Reply, ureq::Error> {
        Self::reply(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Reply, ureq::Error> {
        Self::reply(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .send(body),
        )
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Reply, ureq::Error> {
        self.post(path, "application/json", body.to_string().as_bytes())
    }

    /// GET that must answer 200 with JSON.
    pub fn get_ok(&self, path: &str) -> Value {
        let reply = self
            .get(path)
            .unwrap_or_else(|e| panic!("GET {path}: node unreachable: {e}"));
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.json()
    }

    /// POST that must reach the node.
    pub fn must_post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_json(path, body)
            .unwrap_or_else(|e| panic!("POST {path}: node unreachable: {e}"))
    }

    /// Balance in base units; 0 for an account that never held tokens.
    /// The network the node runs: what transactions are signed for.
    pub fn network(&self) -> depin_core::tx::Network {
        let status = self.get_ok("/v1/status");
        depin_core::tx::Network {
            chain_id: status["chain_id"].as_str().expect("chain id").to_string(),
            genesis_hash: status["genesis_hash"]
                .as_str()
                .expect("genesis hash")
                .parse()
                .expect("a hash"),
        }
    }

    pub fn balance(&self, address: &str) -> u128 {
        let reply = self
            .get(&format!("/v1/accounts/{address}"))
            .unwrap_or_else(|e| panic!("GET account {address}: {e}"));
        match reply.status {
            404 => 0,
            200 => base_units(&reply.json()["balance"]),
            s => panic!("GET account {address}: {s} {}", reply.body),
        }
    }

    /// The account's next nonce; 0 for an account that never held tokens.
    pub fn nonce(&self, address: &str) -> u64 {
        let reply = self
            .get(&format!("/v1/accounts/{address}"))
            .unwrap_or_else(|e| panic!("GET account {address}: {e}"));
        match reply.status {
            404 => 0,
            200 => reply.json()["nonce"].as_u64().expect("nonce is a number"),
            s => panic!("GET account {address}: {s} {}", reply.body),
        }
    }

    /// Waits until the transaction is committed and returns its status document.
    pub fn wait_committed(&self, hash: &str) -> Value {
        wait_for(&format!("tx {hash} to commit"), COMMIT_TIMEOUT, || {
            let reply = self.get(&format!("/v1/tx/{hash}")).ok()?;
            assert!(
                reply.status == 200,
                "GET /v1/tx/{hash} while waiting for it: {} {}",
                reply.status,
                reply.body
            );
            let doc = reply.json();
            (doc["status"] == "committed").then_some(doc)
        })
    }

    /// Current chain height.
    pub fn height(&self) -> u64 {
        self.get_ok("/v1/status")["height"]
            .as_u64()
            .expect("status has a height")
    }
}

/// An amount in base units, as the API writes it (a decimal string).
pub fn base_units(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}

/// Opens `/v1/stream` over a raw socket and reads until a `block` event with its data line
/// arrives; returns the still-open socket and that event.
pub fn open_stream(url: &str, timeout: Duration) -> (TcpStream, Value) {
    let addr = url.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).expect("connecting to the stream");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    write!(
        socket,
        "GET /v1/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("sending the stream request");
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match socket.read(&mut buf) {
            Ok(0) => panic!("the stream closed early; received:\n{text}"),
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading the stream: {e}; received:\n{text}"),
        }
        if text.len() < "HTTP/1.1 200".len() {
            continue;
        }
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        assert!(
            head.starts_with("HTTP/1.1 200")
                && head
                    .to_ascii_lowercase()
                    .contains("content-type: text/event-stream"),
            "the stream did not answer 200 with an event stream:\n{head}"
        );
        // Any complete block event will do (chunk framing may split a line; skip that one).
        for (at, _) in body.match_indices("event: block\n") {
            if let Some(data) = body[at..]
                .lines()
                .nth(1)
                .and_then(|l| l.strip_prefix("data: "))
                && let Ok(event) = serde_json::from_str::<Value>(data)
            {
                return (socket, event);
            }
        }
    }
    panic!("no `event: block` on /v1/stream within {timeout:?}; received:\n{text}");
}

/// Plenty for any test transaction at a devnet's base fee.
pub const MAX_FEE: u64 = 1_000_000;

/// `action` signed by `key` with `nonce` for `network`, offering [`MAX_FEE`].
#[allow(dead_code)]
pub fn sign(
    network: &depin_core::tx::Network,
    key: &depin_core::Keypair,
    nonce: u64,
    action: depin_core::Action,
) -> depin_core::Transaction {
    depin_core::Transaction::sign(network, key, nonce, MAX_FEE, action)
}
