//! `depin bench bft`: a BFT network of N validators in this process on commonware's tokio
//! runtime, each with authenticated p2p on 127.0.0.1, fed signed transfers through their
//! mempools; measures finalized transfers per second and the latency from submission to
//! commit (on validator 0).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use commonware_cryptography::ChaCha20Poly1305;
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address as PeerAddress, AddressableManager};
use commonware_runtime::{Clock, Quota, Runner, Supervisor};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::Map;
use depin_core::genesis::{Allocation, ConsensusParams, TokenParams};
use depin_core::{Action, Amount, Genesis, Hash, Keypair, Transaction};
use depin_node::mempool::MempoolLimits;
use depin_node::metrics::process_cpu_seconds;
use depin_node::node::Node;
use serde::Serialize;

use crate::engine::{self, Channels, Timeouts};
use crate::{NAMESPACE, PublicKey, consensus_key, public_key, wire};

/// What to run.
#[derive(Clone, Debug)]
pub struct BftBench {
    pub validators: usize,
    /// Length of the measured phase.
    pub seconds: u64,
    pub senders: usize,
    pub block_interval_ms: u64,
    pub max_block_txs: u32,
    /// Transfers submitted per second (spread over the validators).
    pub offered_per_s: u64,
}

impl Default for BftBench {
    fn default() -> Self {
        BftBench {
            validators: 4,
            seconds: 20,
            senders: 4096,
            block_interval_ms: 100,
            max_block_txs: 20_000,
            offered_per_s: 10_000,
        }
    }
}

/// Results, printed as JSON by `depin bench bft --json`.
#[derive(Clone, Debug, Serialize)]
pub struct BftReport {
    pub validators: usize,
    /// Successful transfers committed per second (validator 0) over the measured phase.
    pub tx_per_s: f64,
    /// Transfers offered per second.
    pub offered_per_s: u64,
    /// Submission (mempool admission) to commit on validator 0, milliseconds.
    pub finality_p50_ms: f64,
    pub finality_p99_ms: f64,
    pub blocks: u64,
    pub committed_txs: u64,
    /// Whether every validator ended at the same app hash for the lowest common height.
    pub app_hashes_agree: bool,
    /// CPU time the whole process (all validators, the feeder and the measuring loop) used
    /// during the measured phase, and that divided by the committed transfers.
    pub cpu_seconds: f64,
    pub cpu_ms_per_tx: f64,
    /// CPU cores busy on average over the measured phase (CPU time ÷ wall time).
    pub cores_busy: f64,
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// `count` transfers, round after round each sender its next nonce, signed on all cores.
fn sign_workload(
    network: &depin_core::tx::Network,
    senders: &[Keypair],
    count: u64,
) -> Vec<Transaction> {
    let n = senders.len();
    let count = count as usize;
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|from| {
                scope.spawn(move || {
                    (from..(from + chunk).min(count))
                        .map(|i| {
                            let (round, s) = (i / n, i % n);
                            Transaction::sign(
                                network,
                                &senders[s],
                                round as u64,
                                1_000_000_000,
                                Action::Transfer {
                                    to: senders[(s + 1 + round) % n].address(),
                                    amount: Amount(1),
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// Runs the benchmark with its stores in `dir`.
pub fn run(cfg: &BftBench, dir: &Path) -> Result<BftReport, String> {
    let keys: Vec<Keypair> = (0..cfg.validators)
        .map(|i| Keypair::from_seed([0xc0 + i as u8; 32]))
        .collect();
    let senders: Vec<Keypair> = (0..cfg.senders)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[8] = 0xb1;
            Keypair::from_seed(seed)
        })
        .collect();
    let genesis = Genesis {
        chain_id: "depin-bench-bft".into(),
        genesis_time_ms: 0,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: cfg.block_interval_ms,
            epoch_length_blocks: 3600,
            max_block_txs: cfg.max_block_txs,
            validator: keys[0].address(),
            validators: keys.iter().map(Keypair::address).collect(),
        },
        allocations: senders
            .iter()
            .map(|k| Allocation {
                address: k.address(),
                amount: "1000000".into(),
            })
            .collect(),
        economics: None,
        fees: None,
        modules: Default::default(),
    };
    let ports = (0..cfg.validators)
        .map(|_| free_port())
        .collect::<Result<Vec<_>, _>>()?;
    let peers: Vec<(PublicKey, PeerAddress)> = keys
        .iter()
        .zip(&ports)
        .map(|(k, p)| {
            (
                public_key(&k.address()).expect("a key's address"),
                PeerAddress::from(SocketAddr::from((Ipv4Addr::LOCALHOST, *p))),
            )
        })
        .collect();
    let mut nodes = Vec::new();
    let mut producers = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let path = dir.join(format!("v{i}.redb"));
        let store = Arc::new(depin_store::Store::open(&path).map_err(|e| e.to_string())?);
        let limits = MempoolLimits {
            max_txs: 8 * cfg.max_block_txs as usize,
            ..MempoolLimits::default()
        };
        let (node, producer) = Node::open(
            genesis.clone(),
            store,
            Keypair::from_seed(key.seed()),
            limits,
        )
        .map_err(|e| e.to_string())?;
        nodes.push(node);
        producers.push(producer);
    }
    let runtime = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(dir.join("consensus")),
    );
    let network = genesis.network();
    let workload = sign_workload(&network, &senders, cfg.offered_per_s * cfg.seconds);
    let cfg = cfg.clone();
    runtime.start(move |context| async move {
        let mut running = Vec::new();
        for (i, (key, producer)) in keys.iter().zip(producers).enumerate() {
            let me = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[i]));
            let p2p = lookup::Config::local(
                Cups::<_, ChaCha20Poly1305>::new(
                    Sake {
                        signer: consensus_key(key),
                        synchrony_bound: Duration::from_secs(5),
                        max_handshake_age: Duration::from_secs(10),
                        version: sake::Version::V1,
                    },
                    cups::Version::V1,
                ),
                NAMESPACE,
                me,
                NonZeroUsize::new(cfg.validators).expect("nonzero"),
                wire::MAX_MESSAGE_BYTES as u32,
                NonZeroUsize::new(wire::P2P_MAILBOX).expect("nonzero"),
            );
            let ctx = context.child("validator").with_attribute("index", i);
            let (mut net, mut oracle) = lookup::Network::new(ctx.child("p2p"), p2p);
            let directory: Map<PublicKey, PeerAddress> =
                peers.clone().try_into().map_err(|_| "duplicate peers")?;
            let _ = oracle.track(0, directory);
            let quota =
                Quota::per_second(NonZeroU32::new(wire::CHANNEL_RATE_PER_S).expect("nonzero"));
            let channels = Channels {
                votes: net.register(engine::VOTES, quota),
                certificates: net.register(engine::CERTIFICATES, quota),
                resolver: net.register(engine::RESOLVER, quota),
                blocks: net.register(engine::BLOCKS, quota),
                txs: net.register(engine::TXS, quota),
            };
            net.start();
            let r = engine::start(
                ctx,
                nodes[i].clone(),
                producer,
                key,
                &format!("v{i}"),
                Timeouts::default(),
                oracle,
                channels,
            )
            .map_err(|e| e.to_string())?;
            running.push(r);
        }
        // Wait for the network to finalize its first blocks.
        let warmup = Instant::now();
        while nodes.iter().any(|n| n.tip().height < 2) {
            if warmup.elapsed() > Duration::from_secs(30) {
                return Err("the validators did not finalize a block within 30 s".to_string());
            }
            context.sleep(Duration::from_millis(20)).await;
        }

        // Feed: every 10 ms, the next slice of transfers to the validators in turn.
        let submitted: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::default();
        let mut events = nodes[0].events.subscribe();
        let start = Instant::now();
        let cpu_at_start = process_cpu_seconds();
        let deadline = start + Duration::from_secs(cfg.seconds);
        let feeder = {
            let nodes = nodes.clone();
            let submitted = submitted.clone();
            let offered = cfg.offered_per_s;
            std::thread::spawn(move || {
                let per_tick = (offered / 100).max(1) as usize;
                let mut workload = workload.into_iter();
                let mut tick = 0usize;
                let mut at = Instant::now();
                while Instant::now() < deadline {
                    let batch: Vec<Transaction> = workload.by_ref().take(per_tick).collect();
                    if batch.is_empty() {
                        break;
                    }
                    let hashes: Vec<Hash> = batch.iter().map(Transaction::hash).collect();
                    let now = Instant::now();
                    let node = &nodes[tick % nodes.len()];
                    let verdicts = node.submit(batch);
                    {
                        let mut map = submitted.lock().expect("submitted lock");
                        for (h, v) in hashes.into_iter().zip(verdicts) {
                            if v.is_ok() {
                                map.insert(h, now);
                            }
                        }
                    }
                    tick += 1;
                    at += Duration::from_millis(10);
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        };

        let mut latencies_us: Vec<u64> = Vec::new();
        let mut committed = 0u64;
        let mut blocks = 0u64;
        while Instant::now() < deadline {
            let event = tokio::select! {
                e = events.recv() => e,
                () = context.sleep(Duration::from_millis(100)) => continue,
            };
            let Ok(event) = event else { continue };
            let now = Instant::now();
            blocks += 1;
            let Ok(Some(block)) = nodes[0].store.block(event.height) else {
                continue;
            };
            committed += event.txs - event.rejected;
            let map = submitted.lock().expect("submitted lock");
            for tx in &block.txs {
                if let Some(t) = map.get(&tx.hash()) {
                    latencies_us.push(now.duration_since(*t).as_micros() as u64);
                }
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu_seconds = cpu_at_start
            .zip(process_cpu_seconds())
            .map_or(f64::NAN, |(a, b)| b - a);
        feeder.join().map_err(|_| "the feeder panicked")?;
        let lowest = nodes.iter().map(|n| n.tip().height).min().unwrap_or(0);
        let hashes: Vec<Option<Hash>> = nodes
            .iter()
            .map(|n| n.store.header(lowest).ok().flatten().map(|h| h.app_hash))
            .collect();
        let app_hashes_agree = hashes.windows(2).all(|w| w[0] == w[1]);
        for r in &running {
            r.engine.abort();
            r.application.abort();
        }
        latencies_us.sort_unstable();
        let pct = |p: usize| {
            latencies_us
                .get((latencies_us.len().saturating_sub(1)) * p / 100)
                .map_or(f64::NAN, |us| *us as f64 / 1000.0)
        };
        Ok(BftReport {
            validators: cfg.validators,
            tx_per_s: committed as f64 / elapsed,
            offered_per_s: cfg.offered_per_s,
            finality_p50_ms: pct(50),
            finality_p99_ms: pct(99),
            blocks,
            committed_txs: committed,
            app_hashes_agree,
            cpu_seconds,
            cpu_ms_per_tx: cpu_seconds * 1000.0 / committed.max(1) as f64,
            cores_busy: cpu_seconds / elapsed,
        })
    })
}
