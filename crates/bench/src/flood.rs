//! Flood benchmark: a real `depin node` process on 127.0.0.1 under junk, oversized, badly signed
//! and slowloris requests sent at full speed from several threads while honest clients submit
//! signed transfers, and a burst of concurrent maximum-size `POST /v1/txs` bodies against the
//! node's memory.
//!
//! What it measures, and against what:
//! - the honest transfers' latency (submission answered; committed, seen through the API) during
//!   the flood, against a quiet phase on the same node just before it (the ratio is the result:
//!   absolute times depend on the machine and the block interval);
//! - what the node answered each kind of attack, and whether any answer was a 5xx other than
//!   `busy`/`timeout`/`mempool_full`;
//! - the node process's peak resident memory (`VmHWM` in `/proc/<pid>/status`) during the
//!   burst, against its resident memory just before, and the bound [`burst_bound_bytes`] the
//!   API limits allow.
//!
//! The node runs as a child process with the limits `depin node` ships with
//! ([`ApiLimits::default`]); clients and node share the machine's cores, so on a small machine
//! the attackers' own CPU use is part of what the honest clients feel.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use depin_core::codec::Encode;
use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::{Action, Amount, Genesis, Keypair, Transaction};
use depin_node::api::{MAX_BATCH_TXS, MAX_BODY_BYTES};
use depin_node::{ApiLimits, Home};
use serde::Serialize;

/// Longest an honest client waits for one transfer to be accepted and committed before it
/// counts it as lost.
const HONEST_GIVE_UP: Duration = Duration::from_secs(60);
/// Longest any client waits for one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the node may take to start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an honest client asks whether its transfer is committed.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// A slowloris connection sends one more header byte this often (well inside the node's
/// header-read timeout, so only that timeout, not idleness, can close it).
const SLOWLORIS_DRIP: Duration = Duration::from_millis(500);
/// How often the node's CPU use is sampled to see whether it still works after a burst.
const SETTLE_SAMPLE: Duration = Duration::from_millis(500);
/// Longest the bench waits for the node to stop working after a burst.
const SETTLE_MAX: Duration = Duration::from_secs(120);
/// Transactions in each `POST /v1/txs` of the `spam` attack.
pub const SPAM_BATCH_TXS: usize = 500;
/// Transactions in the batches of the `max_batch` attack and of the burst.
const BATCH_TXS: usize = MAX_BATCH_TXS;

/// What to run.
#[derive(Clone, Debug)]
pub struct FloodBench {
    /// The `depin` binary that runs the node (`depin node`).
    pub node_binary: PathBuf,
    /// Length of the quiet phase, and of the flood phase after it.
    pub seconds: u64,
    /// Honest clients, each submitting one transfer at a time and waiting for its commit.
    pub honest_clients: usize,
    /// Threads per attack kind (malformed, bad signature, maximum batch, oversized).
    pub attackers: usize,
    /// Slowloris connections held open (reopened whenever the node closes one).
    pub slowloris: usize,
    /// Funded keys that each send validly signed transfers as fast as the node admits them
    /// (batches of [`SPAM_BATCH_TXS`]), on a thread each; 0: none. Spam that costs nothing but
    /// the signature, until transactions pay fees.
    pub spam_keys: usize,
    pub block_interval_ms: u64,
    /// Concurrent maximum-size batch requests in each burst (0: no burst).
    pub burst: usize,
    /// The burst bodies to try, each on a fresh node.
    pub burst_kinds: Vec<BurstKind>,
}

impl FloodBench {
    pub fn new(node_binary: PathBuf) -> FloodBench {
        FloodBench {
            node_binary,
            seconds: 20,
            honest_clients: 4,
            attackers: 2,
            slowloris: 256,
            spam_keys: 0,
            block_interval_ms: 200,
            burst: ApiLimits::default().max_concurrent_requests,
            burst_kinds: vec![BurstKind::Decoded, BurstKind::Verified],
        }
    }
}

/// The body of each request of a burst: always `MAX_BODY_BYTES` of JSON holding
/// `MAX_BATCH_TXS` transfers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BurstKind {
    /// The transfers, then a malformed element: every one is decoded, then the batch is refused
    /// (400) without any signature check. The most memory for the least node CPU.
    Decoded,
    /// Validly signed transfers from one funded key: decoded, every signature verified, then
    /// admitted up to the mempool's limits (the same batch in every request).
    Verified,
}

impl std::str::FromStr for BurstKind {
    type Err = String;
    fn from_str(s: &str) -> Result<BurstKind, String> {
        match s {
            "decoded" => Ok(BurstKind::Decoded),
            "verified" => Ok(BurstKind::Verified),
            _ => Err(format!("'{s}' is not a burst kind: decoded or verified")),
        }
    }
}

/// Results, printed as JSON by `depin bench flood --json`.
#[derive(Clone, Debug, Serialize)]
pub struct FloodReport {
    /// The quiet and flood phases (none when `seconds` is 0).
    pub phases: Option<Phases>,
    /// The bursts, in the order of `burst_kinds`.
    pub bursts: Vec<BurstReport>,
    pub cores: usize,
}

/// Honest transfers through a quiet node, then through the flood.
#[derive(Clone, Debug, Serialize)]
pub struct Phases {
    /// Honest transfers with no attack (the reference).
    pub quiet: Latencies,
    /// Honest transfers during the flood.
    pub flood: Latencies,
    /// Flood median commit latency over the quiet one.
    pub commit_p50_ratio: f64,
    /// Flood 99th-percentile commit latency over the quiet one.
    pub commit_p99_ratio: f64,
    /// Honest transfers refused with a 4xx (never expected: each is valid).
    pub honest_refused: u64,
    /// Honest transfers not committed within a minute of their first submission.
    pub honest_lost: u64,
    /// Honest requests answered 503 (busy) or not answered, then retried.
    pub honest_retries: u64,
    /// First refusals of honest transfers, for the record.
    pub honest_refusals: Vec<String>,
    pub attacks: Vec<AttackTally>,
    pub slowloris: SlowlorisTally,
    /// CPU seconds the node process used during the quiet and the flood phase.
    pub node_cpu_seconds_quiet: f64,
    pub node_cpu_seconds_flood: f64,
    pub seconds_per_phase: u64,
    pub honest_clients: usize,
    pub attackers_per_kind: usize,
    pub block_interval_ms: u64,
}

/// Latency of the honest transfers of one phase, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latencies {
    /// Transfers committed.
    pub transfers: usize,
    /// From the first submission attempt to the `202 Accepted` (busy retries included).
    pub submit_ms_p50: f64,
    pub submit_ms_p99: f64,
    /// From the first submission attempt to the API reporting it committed.
    pub commit_ms_p50: f64,
    pub commit_ms_p99: f64,
    pub commit_ms_max: f64,
}

/// What the node answered one kind of attack.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AttackTally {
    pub kind: &'static str,
    /// What each request of this kind is.
    pub what: &'static str,
    pub requests: u64,
    /// Answers by HTTP status and error code ("400 malformed", "200").
    pub statuses: BTreeMap<String, u64>,
    /// Requests that got no answer (connection refused, reset or timed out).
    pub unanswered: u64,
    /// 5xx answers whose code is not `busy`, `timeout` or `mempool_full` (never expected).
    pub unexpected_5xx: u64,
    /// Transactions the node admitted to its mempool (0 for every attack but `spam`).
    pub admitted: u64,
}

/// The slowloris connections.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SlowlorisTally {
    pub connections: usize,
    /// Times the node closed one (each was then reopened).
    pub closed_by_node: u64,
    /// Times a new one could not be opened within a second.
    pub connect_failures: u64,
}

/// One burst of concurrent maximum-size batches against a fresh node.
#[derive(Clone, Debug, Serialize)]
pub struct BurstReport {
    pub kind: BurstKind,
    pub requests: usize,
    pub body_bytes: usize,
    pub txs_per_request: usize,
    /// Answers by HTTP status and error code.
    pub statuses: BTreeMap<String, u64>,
    pub unanswered: u64,
    /// The node's resident memory just before the burst.
    pub rss_before_bytes: u64,
    /// The node's peak resident memory (VmHWM) from just before the burst to its end.
    pub peak_rss_bytes: u64,
    /// The node's resident memory once every answer was read.
    pub rss_after_bytes: u64,
    /// Seconds the node kept computing after the last answer (work of requests that were
    /// answered `timeout` goes on to its end).
    pub busy_after_seconds: f64,
    /// The node's resident memory once it stopped computing: what it keeps (freed memory the
    /// allocator did not give back to the system counts).
    pub rss_settled_bytes: u64,
    /// What the API limits allow: [`burst_bound_bytes`] above `rss_before_bytes`.
    pub bound_bytes: u64,
    pub seconds: f64,
    /// The node still answered `GET /v1/status` after the burst.
    pub node_alive_after: bool,
}

/// Memory the API limits let concurrent batch requests hold at once, above what the node held
/// before: each of `requests` (at most `max_concurrent_requests`; the others are refused before
/// their body is read) holds its body, read into contiguous memory from chunks that may all be
/// alive at the moment of the copy (2 x `MAX_BODY_BYTES`), and its decoded transactions
/// (`MAX_BATCH_TXS` of them, each its struct and its chain id on the heap, rounded up to a
/// multiple of 256 bytes). The mempool's own limit (`MempoolLimits`) comes on top.
pub fn burst_bound_bytes(requests: usize) -> u64 {
    let requests = requests.min(ApiLimits::default().max_concurrent_requests) as u64;
    let per_tx = (std::mem::size_of::<Transaction>() as u64 + 64).next_multiple_of(256);
    let per_request = 2 * MAX_BODY_BYTES as u64 + MAX_BATCH_TXS as u64 * per_tx;
    requests * per_request
}

/// Runs the benchmark in `dir` (an empty directory; each node's home is made inside it).
/// `progress` is told what phase starts.
pub fn run(cfg: &FloodBench, dir: &Path, progress: &dyn Fn(&str)) -> Result<FloodReport, String> {
    let phases = if cfg.seconds > 0 {
        Some(phases(cfg, &dir.join("flood"), progress)?)
    } else {
        None
    };
    let mut bursts = Vec::new();
    for (i, kind) in cfg.burst_kinds.iter().enumerate() {
        if cfg.burst == 0 {
            break;
        }
        progress(match kind {
            BurstKind::Decoded => "burst (decoded)",
            BurstKind::Verified => "burst (verified)",
        });
        bursts.push(burst(cfg, *kind, &dir.join(format!("burst-{i}")))?);
    }
    Ok(FloodReport {
        phases,
        bursts,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// The quiet phase, then the flood, on one node.
fn phases(cfg: &FloodBench, dir: &Path, progress: &dyn Fn(&str)) -> Result<Phases, String> {
    let net = Network::new(cfg.honest_clients, cfg.spam_keys, cfg.block_interval_ms);
    let node = NodeProcess::start(&cfg.node_binary, dir, &net.genesis, &net.validator)?;
    let addr = node.addr;

    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let honest_stop = Arc::new(AtomicBool::new(false));
    let flooding = Arc::new(AtomicBool::new(false));
    let honest: Vec<_> = net
        .honest
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let to = net.honest[(i + 1) % net.honest.len()].address();
            let (genesis, key) = (net.genesis.clone(), Keypair::from_seed(key.seed()));
            let (samples, stop, flooding) =
                (samples.clone(), honest_stop.clone(), flooding.clone());
            std::thread::spawn(move || {
                honest_client(addr, &genesis, &key, to, &stop, &flooding, &samples)
            })
        })
        .collect();

    progress("quiet");
    let cpu_0 = node.cpu_seconds();
    std::thread::sleep(Duration::from_secs(cfg.seconds));
    let cpu_1 = node.cpu_seconds();

    progress("flood");
    let attack_stop = Arc::new(AtomicBool::new(false));
    flooding.store(true, Ordering::SeqCst);
    let kinds = attack_kinds(&net);
    let mut attackers = Vec::new();
    for kind in &kinds {
        for t in 0..cfg.attackers {
            let (kind, stop) = (kind.clone(), attack_stop.clone());
            attackers.push(std::thread::spawn(move || attack(addr, &kind, t, &stop)));
        }
    }
    for key in &net.spammers {
        let (genesis, key, stop) = (
            net.genesis.clone(),
            Keypair::from_seed(key.seed()),
            attack_stop.clone(),
        );
        let to = net.honest[0].address();
        attackers.push(std::thread::spawn(move || {
            spam(addr, &genesis, &key, to, &stop)
        }));
    }
    let slowloris = {
        let (n, stop) = (cfg.slowloris, attack_stop.clone());
        std::thread::spawn(move || slowloris(addr, n, &stop))
    };
    std::thread::sleep(Duration::from_secs(cfg.seconds));
    let cpu_2 = node.cpu_seconds();
    attack_stop.store(true, Ordering::SeqCst);
    honest_stop.store(true, Ordering::SeqCst);

    let mut tallies: BTreeMap<&'static str, AttackTally> = BTreeMap::new();
    for a in attackers {
        let t = a.join().map_err(|_| "an attacker thread panicked")?;
        let sum = tallies.entry(t.kind).or_insert_with(|| AttackTally {
            kind: t.kind,
            what: t.what,
            ..Default::default()
        });
        sum.requests += t.requests;
        sum.unanswered += t.unanswered;
        sum.unexpected_5xx += t.unexpected_5xx;
        sum.admitted += t.admitted;
        for (s, n) in t.statuses {
            *sum.statuses.entry(s).or_default() += n;
        }
    }
    let slowloris = slowloris
        .join()
        .map_err(|_| "the slowloris thread panicked")?;
    let mut tally = HonestTally::default();
    for h in honest {
        let t = h.join().map_err(|_| "an honest client panicked")?;
        tally.refused += t.refused;
        tally.lost += t.lost;
        tally.retries += t.retries;
        tally.refusals.extend(t.refusals.into_iter().take(5));
    }
    drop(node);

    let samples = samples.lock().expect("samples lock");
    let quiet = latencies(samples.iter().filter(|s| !s.flood));
    let flood = latencies(samples.iter().filter(|s| s.flood));
    Ok(Phases {
        commit_p50_ratio: flood.commit_ms_p50 / quiet.commit_ms_p50,
        commit_p99_ratio: flood.commit_ms_p99 / quiet.commit_ms_p99,
        quiet,
        flood,
        honest_refused: tally.refused,
        honest_lost: tally.lost,
        honest_retries: tally.retries,
        honest_refusals: tally.refusals,
        attacks: tallies.into_values().collect(),
        slowloris,
        node_cpu_seconds_quiet: cpu_1 - cpu_0,
        node_cpu_seconds_flood: cpu_2 - cpu_1,
        seconds_per_phase: cfg.seconds,
        honest_clients: cfg.honest_clients,
        attackers_per_kind: cfg.attackers,
        block_interval_ms: cfg.block_interval_ms,
    })
}

/// The test network: a validator, the honest clients' keys and an attacker's, all funded.
struct Network {
    genesis: Genesis,
    validator: Keypair,
    honest: Vec<Keypair>,
    attacker: Keypair,
    spammers: Vec<Keypair>,
}

impl Network {
    fn new(honest_clients: usize, spam_keys: usize, block_interval_ms: u64) -> Network {
        let validator = Keypair::from_seed([0xf0; 32]);
        let honest: Vec<Keypair> = (0..honest_clients.max(1))
            .map(|i| {
                let mut seed = [0xf1; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Keypair::from_seed(seed)
            })
            .collect();
        let attacker = Keypair::from_seed([0xfa; 32]);
        let spammers: Vec<Keypair> = (0..spam_keys)
            .map(|i| {
                let mut seed = [0xfb; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Keypair::from_seed(seed)
            })
            .collect();
        let genesis = Genesis {
            chain_id: "depin-flood".into(),
            genesis_time_ms: 0,
            token: TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: ConsensusParams {
                block_interval_ms,
                epoch_length_blocks: 3600,
                max_block_txs: 10_000,
                validator: validator.address(),
                validators: Vec::new(),
            },
            allocations: honest
                .iter()
                .chain([&attacker])
                .chain(&spammers)
                .map(|k| Allocation {
                    address: k.address(),
                    amount: "1000000".into(),
                })
                .collect(),
            economics: None,
            fees: None,
            modules: depin_core::modules::ModulesGenesis {
                coverage: None,
                demand: None,
                ..Default::default()
            },
        };
        Network {
            genesis,
            validator,
            honest,
            attacker,
            spammers,
        }
    }
}

/// Every transaction of this benchmark is built here.
fn transfer(genesis: &Genesis, key: &Keypair, nonce: u64, to: depin_core::Address) -> Transaction {
    crate::sign(
        &genesis.network(),
        key,
        nonce,
        Action::Transfer {
            to,
            amount: Amount(1),
        },
    )
}

/// A `depin node` child process on a fresh home; killed when dropped.
struct NodeProcess {
    child: Child,
    addr: SocketAddr,
}

impl NodeProcess {
    fn start(
        binary: &Path,
        home_dir: &Path,
        genesis: &Genesis,
        validator: &Keypair,
    ) -> Result<NodeProcess, String> {
        let home = Home::new(home_dir);
        home.write_genesis(genesis).map_err(|e| e.to_string())?;
        home.save_key("validator", validator)
            .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(home_dir.join("node.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("--home")
            .arg(home_dir)
            .args(["node", "--api", "127.0.0.1:0"])
            .env_remove("DEPIN_HOME")
            .env_remove("DEPIN_NODE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {} node: {e}", binary.display()))?;
        let mut node = NodeProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                let log = std::fs::read_to_string(home_dir.join("node.log")).unwrap_or_default();
                return Err(format!("the node exited at startup ({status}): {log}"));
            }
            // The node writes "URL\n" in one call; the newline says the write is complete.
            if let Ok(text) = std::fs::read_to_string(home.api_url_path())
                && text.ends_with('\n')
                && let Ok(addr) = text.trim().trim_start_matches("http://").parse()
            {
                node.addr = addr;
                return Ok(node);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the node did not listen within {STARTUP_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`); 0 where there is none.
    fn status_bytes(&self, field: &str) -> u64 {
        proc_status_bytes(self.child.id(), field)
    }

    /// User and system CPU seconds the node has used; 0 where `/proc` is not there.
    fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else {
            return 0.0;
        };
        // Fields after the command name (which may hold spaces) end with ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        // USER_HZ is 100 on every Linux architecture the node runs on.
        ticks as f64 / 100.0
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`); 0 where there is none.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One HTTP answer: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    /// The `{"error": {"code"}}` of a refusal, if it has one.
    fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(v["error"]["code"].as_str()?.to_string())
    }

    /// The status and, for a refusal, its error code: "503 busy".
    fn outcome(&self) -> String {
        match self.error_code() {
            Some(code) => format!("{} {code}", self.status),
            None => self.status.to_string(),
        }
    }
}

/// A request with `Connection: close`, and its body if any.
fn request(method: &str, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Sends a whole request on a new connection and reads the answer to the end of the connection.
fn exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    s.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    // A node that answers before reading the whole body (413) may close while we write.
    let wrote = s.write_all(raw);
    let mut out = Vec::new();
    let read = s.read_to_end(&mut out);
    answer(out, wrote.and(read.map(drop)))
}

/// [`exchange`] for a large body: the answer is read while the body is still being sent, so
/// one given before the whole body was read (a request timeout during a slow upload) is seen
/// even though the node then resets the connection.
fn exchange_while_sending(addr: SocketAddr, raw: &[u8]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    s.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let mut reader = s.try_clone()?;
    let read = std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = reader.read_to_end(&mut out);
        (out, read)
    });
    let wrote = s.write_all(raw);
    if wrote.is_err() {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let (out, read) = read
        .join()
        .map_err(|_| std::io::Error::other("reader panicked"))?;
    answer(out, wrote.and(read.map(drop)))
}

/// Parses what was read off a connection; `io` is how sending and reading ended, reported when
/// no HTTP answer was read.
fn answer(out: Vec<u8>, io: std::io::Result<()>) -> std::io::Result<Answer> {
    if out.len() < 12 || !out.starts_with(b"HTTP/1.") {
        io?;
        return Err(std::io::Error::other("no HTTP answer"));
    }
    let status = std::str::from_utf8(&out[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status code"))?;
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(Vec::new(), |i| out[i + 4..].to_vec());
    Ok(Answer { status, body })
}

struct Sample {
    flood: bool,
    submit: Duration,
    commit: Duration,
}

#[derive(Default)]
struct HonestTally {
    refused: u64,
    lost: u64,
    retries: u64,
    refusals: Vec<String>,
}

/// One honest client: a transfer, wait until it is committed, the next; until `stop`.
fn honest_client(
    addr: SocketAddr,
    genesis: &Genesis,
    key: &Keypair,
    to: depin_core::Address,
    stop: &AtomicBool,
    flooding: &AtomicBool,
    samples: &Mutex<Vec<Sample>>,
) -> HonestTally {
    let mut tally = HonestTally::default();
    let mut nonce = 0;
    while !stop.load(Ordering::SeqCst) {
        let tx = transfer(genesis, key, nonce, to);
        let hash = tx.hash();
        let body = serde_json::to_vec(&tx).expect("a transaction serializes");
        let raw = request("POST", "/v1/tx", "application/json", &body);
        let flood = flooding.load(Ordering::SeqCst);
        let started = Instant::now();
        let accepted = loop {
            match exchange(addr, &raw) {
                Ok(a) if a.status == 202 => break true,
                Ok(a) if a.status == 503 => tally.retries += 1,
                Ok(a) => {
                    tally.refused += 1;
                    tally.refusals.push(format!(
                        "{} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    ));
                    break false;
                }
                Err(_) => tally.retries += 1,
            }
            if started.elapsed() > HONEST_GIVE_UP {
                tally.lost += 1;
                return tally;
            }
            std::thread::sleep(POLL_INTERVAL);
        };
        if !accepted {
            // A refused transfer used no nonce; wait a little so a refusing node is not spun on.
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let submit = started.elapsed();
        let poll = request("GET", &format!("/v1/tx/{hash}"), "application/json", b"");
        let committed = loop {
            if let Ok(a) = exchange(addr, &poll) {
                if a.status == 200
                    && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&a.body)
                    && v["status"] == "committed"
                {
                    break v["receipt"]["success"] == true;
                }
                if a.status == 503 {
                    tally.retries += 1;
                }
            } else {
                tally.retries += 1;
            }
            if started.elapsed() > HONEST_GIVE_UP {
                tally.lost += 1;
                return tally;
            }
            std::thread::sleep(POLL_INTERVAL);
        };
        if !committed {
            tally.refused += 1;
            tally
                .refusals
                .push(format!("transfer {hash} committed with a failure receipt"));
            return tally;
        }
        samples.lock().expect("samples lock").push(Sample {
            flood,
            submit,
            commit: started.elapsed(),
        });
        nonce += 1;
    }
    tally
}

fn latencies<'a>(samples: impl Iterator<Item = &'a Sample>) -> Latencies {
    let (mut submit, mut commit): (Vec<Duration>, Vec<Duration>) =
        samples.map(|s| (s.submit, s.commit)).unzip();
    submit.sort_unstable();
    commit.sort_unstable();
    let ms = |v: &[Duration], q: usize| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        // The q-th percentile by the nearest-rank method.
        let rank = (v.len() * q).div_ceil(100).max(1);
        v[rank - 1].as_secs_f64() * 1000.0
    };
    Latencies {
        transfers: commit.len(),
        submit_ms_p50: ms(&submit, 50),
        submit_ms_p99: ms(&submit, 99),
        commit_ms_p50: ms(&commit, 50),
        commit_ms_p99: ms(&commit, 99),
        commit_ms_max: ms(&commit, 100),
    }
}

/// One kind of attack: requests sent in turn, each on its own connection.
#[derive(Clone)]
struct AttackKind {
    kind: &'static str,
    what: &'static str,
    requests: Arc<Vec<Vec<u8>>>,
}

/// The attacks, their requests made in advance so the attackers spend their time sending.
fn attack_kinds(net: &Network) -> Vec<AttackKind> {
    let g = &net.genesis;
    let to = net.honest[0].address();
    // Transfers from the attacker's funded key whose signatures do not match (the nonce was
    // changed after signing): every one costs the node a signature check.
    let signed = transfer(g, &net.attacker, 0, to);
    let forged = |nonce: u64| {
        let mut tx = signed.clone();
        tx.nonce = nonce + 1_000_000;
        tx
    };
    let tx_json = serde_json::to_vec(&signed).expect("a transaction serializes");

    let mut malformed = vec![
        request(
            "POST",
            "/v1/tx",
            "application/json",
            &tx_json[..tx_json.len() / 2],
        ),
        request("POST", "/v1/tx", "application/json", b"{\"chain_id\": -1}"),
        request("POST", "/v1/tx", "application/octet-stream", &[0xff; 300]),
        request("POST", "/v1/txs", "application/json", b"[1, 2, 3]"),
        request(
            "POST",
            "/v1/txs",
            "application/octet-stream",
            &[7, 0, 0, 0, 1, 2],
        ),
        request("GET", "/v1/blocks/%FF", "text/plain", b""),
        request("GET", "/v1/epochs/18446744073709551615", "text/plain", b""),
        request("GET", "/v1/devices?cell=zz&k=-1", "text/plain", b""),
    ];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for len in [64usize, 1024, 65_536] {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        malformed.push(request("POST", "/v1/tx", "application/octet-stream", &junk));
        malformed.push(request("POST", "/v1/txs", "application/json", &junk));
    }

    let bad_signature: Vec<Vec<u8>> = (0..256)
        .map(|n| {
            let body = serde_json::to_vec(&forged(n)).expect("serializes");
            request("POST", "/v1/tx", "application/json", &body)
        })
        .collect();

    let batch: Vec<Transaction> = (0..BATCH_TXS as u64).map(forged).collect();
    let max_batch = vec![request(
        "POST",
        "/v1/txs",
        "application/octet-stream",
        &batch.to_bytes(),
    )];

    let mut huge_count = 16_700_000u32.to_le_bytes().to_vec();
    huge_count.extend_from_slice(&tx_json);
    let oversized = vec![
        // A declared length past the limit, and no body: refused on the head.
        format!(
            "POST /v1/txs HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        )
        .into_bytes(),
        b"POST /v1/txs HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 200000000\r\n\r\n".to_vec(),
        request("POST", "/v1/txs", "application/octet-stream", &huge_count),
    ];
    vec![
        AttackKind {
            kind: "malformed",
            what: "truncated or mistyped JSON, random bytes as a transaction or a batch, bad paths and queries",
            requests: Arc::new(malformed),
        },
        AttackKind {
            kind: "bad_signature",
            what: "POST /v1/tx: a transfer from a funded key with a signature that does not match",
            requests: Arc::new(bad_signature),
        },
        AttackKind {
            kind: "max_batch",
            what: "POST /v1/txs: 10,000 transfers (binary), none with a matching signature",
            requests: Arc::new(max_batch),
        },
        AttackKind {
            kind: "oversized",
            what: "a declared body over 16 MiB, Expect: 100-continue with 200 MB, a binary batch declaring 16.7 M transactions",
            requests: Arc::new(oversized),
        },
    ]
}

/// One attacker thread: sends its kind's requests in turn, from request `offset`, until `stop`.
fn attack(addr: SocketAddr, kind: &AttackKind, offset: usize, stop: &AtomicBool) -> AttackTally {
    let mut tally = AttackTally {
        kind: kind.kind,
        what: kind.what,
        ..Default::default()
    };
    let mut i = offset;
    while !stop.load(Ordering::SeqCst) {
        let raw = &kind.requests[i % kind.requests.len()];
        i += 1;
        tally.requests += 1;
        match exchange(addr, raw) {
            Ok(a) => {
                *tally.statuses.entry(a.outcome()).or_default() += 1;
                if a.status >= 500
                    && !matches!(
                        a.error_code().as_deref(),
                        Some("busy" | "timeout" | "mempool_full")
                    )
                {
                    tally.unexpected_5xx += 1;
                }
            }
            Err(_) => {
                tally.unanswered += 1;
                // Refused or reset: the node is at a limit; do not spin on it.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    tally
}

/// One spamming key: batches of validly signed transfers with its next nonces, as fast as the
/// node answers, until `stop`; backs off for a block when the mempool is full.
fn spam(
    addr: SocketAddr,
    genesis: &Genesis,
    key: &Keypair,
    to: depin_core::Address,
    stop: &AtomicBool,
) -> AttackTally {
    let mut tally = AttackTally {
        kind: "spam",
        what: "POST /v1/txs: 500 validly signed transfers of one base unit from each funded key, next nonces",
        ..Default::default()
    };
    let mut nonce = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let batch: Vec<Transaction> = (nonce..nonce + SPAM_BATCH_TXS as u64)
            .map(|n| transfer(genesis, key, n, to))
            .collect();
        let raw = request(
            "POST",
            "/v1/txs",
            "application/octet-stream",
            &batch.to_bytes(),
        );
        tally.requests += 1;
        match exchange(addr, &raw) {
            Ok(a) => {
                *tally.statuses.entry(a.outcome()).or_default() += 1;
                if a.status >= 500
                    && !matches!(
                        a.error_code().as_deref(),
                        Some("busy" | "timeout" | "mempool_full")
                    )
                {
                    tally.unexpected_5xx += 1;
                }
                // Admitted transactions are a prefix in nonce order: the rest wait on them.
                let admitted = serde_json::from_slice::<serde_json::Value>(&a.body)
                    .ok()
                    .and_then(|v| v["accepted"].as_u64())
                    .unwrap_or(0);
                tally.admitted += admitted;
                nonce += admitted;
                if admitted == 0 {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Err(_) => {
                tally.unanswered += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    tally
}

/// Holds `n` connections that each send a request head one byte at a time, reopening each one
/// the node closes, until `stop`.
fn slowloris(addr: SocketAddr, n: usize, stop: &AtomicBool) -> SlowlorisTally {
    let mut tally = SlowlorisTally {
        connections: n,
        ..Default::default()
    };
    let open = |tally: &mut SlowlorisTally| -> Option<TcpStream> {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
                let _ = (&s).write_all(b"GET /v1/status HTTP/1.1\r\nX-Slow: ");
                Some(s)
            }
            Err(_) => {
                tally.connect_failures += 1;
                None
            }
        }
    };
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| open(&mut tally)).collect();
    while !stop.load(Ordering::SeqCst) {
        let round = Instant::now();
        for c in conns.iter_mut() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let alive = c.as_mut().is_some_and(|s| s.write_all(b"a").is_ok());
            if !alive {
                if c.is_some() {
                    tally.closed_by_node += 1;
                }
                *c = open(&mut tally);
            }
        }
        std::thread::sleep(SLOWLORIS_DRIP.saturating_sub(round.elapsed()));
    }
    tally
}

/// `cfg.burst` concurrent maximum-size batches of `kind` against a fresh node; its memory
/// before, at peak and after.
fn burst(cfg: &FloodBench, kind: BurstKind, dir: &Path) -> Result<BurstReport, String> {
    let net = Network::new(1, 0, cfg.block_interval_ms);
    let node = NodeProcess::start(&cfg.node_binary, dir, &net.genesis, &net.validator)?;
    let to = net.honest[0].address();
    let mut body = b"[".to_vec();
    for nonce in 0..BATCH_TXS as u64 {
        if nonce > 0 {
            body.push(b',');
        }
        let tx = transfer(&net.genesis, &net.attacker, nonce, to);
        serde_json::to_writer(&mut body, &tx).expect("a transaction serializes");
    }
    let tail: &[u8] = match kind {
        BurstKind::Decoded => b",{\"not a transaction\"]",
        BurstKind::Verified => b"]",
    };
    // JSON whitespace up to the body limit: the most bytes the node reads for one request.
    let pad = MAX_BODY_BYTES
        .checked_sub(body.len() + tail.len())
        .ok_or("a batch of the maximum count does not fit the body limit")?;
    body.resize(body.len() + pad, b' ');
    body.extend_from_slice(tail);
    let raw = Arc::new(request("POST", "/v1/txs", "application/json", &body));
    let body_bytes = body.len();
    drop(body);

    // Settle, then restart the high-water mark at the current resident size.
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = node.status_bytes("VmRSS");
    std::fs::write(format!("/proc/{}/clear_refs", node.child.id()), "5")
        .map_err(|e| format!("resetting the node's peak RSS: {e}"))?;
    let start = Arc::new(Barrier::new(cfg.burst));
    let began = Instant::now();
    let senders: Vec<_> = (0..cfg.burst)
        .map(|_| {
            let (raw, start, addr) = (raw.clone(), start.clone(), node.addr);
            std::thread::spawn(move || {
                start.wait();
                exchange_while_sending(addr, &raw).map(|a| a.outcome()).ok()
            })
        })
        .collect();
    let mut statuses = BTreeMap::new();
    let mut unanswered = 0;
    for s in senders {
        match s.join().map_err(|_| "a burst thread panicked")? {
            Some(status) => *statuses.entry(status).or_default() += 1,
            None => unanswered += 1,
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    let peak = node.status_bytes("VmHWM");
    let rss_after = node.status_bytes("VmRSS");
    let answered = Instant::now();
    let mut cpu = node.cpu_seconds();
    loop {
        std::thread::sleep(SETTLE_SAMPLE);
        let now = node.cpu_seconds();
        // Under a tenth of a core over the sample: idle (the solo driver's empty blocks).
        if now - cpu < SETTLE_SAMPLE.as_secs_f64() / 10.0 || answered.elapsed() > SETTLE_MAX {
            break;
        }
        cpu = now;
    }
    let busy_after = answered.elapsed().saturating_sub(SETTLE_SAMPLE);
    let peak = peak.max(node.status_bytes("VmHWM"));
    let rss_settled = node.status_bytes("VmRSS");
    let alive = exchange(node.addr, &request("GET", "/v1/status", "text/plain", b""))
        .is_ok_and(|a| a.status == 200);
    Ok(BurstReport {
        kind,
        requests: cfg.burst,
        body_bytes,
        txs_per_request: BATCH_TXS,
        statuses,
        unanswered,
        rss_before_bytes: rss_before,
        peak_rss_bytes: peak,
        rss_after_bytes: rss_after,
        busy_after_seconds: busy_after.as_secs_f64(),
        rss_settled_bytes: rss_settled,
        bound_bytes: rss_before + burst_bound_bytes(cfg.burst),
        seconds,
        node_alive_after: alive,
    })
}
