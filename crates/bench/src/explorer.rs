//! Explorer benchmark: the map and page endpoints a browser calls, over HTTP against a real node
//! whose store holds a large coverage network after an epoch close (devices located in their
//! cells, rewards paid, an epoch summary), timed per request with the bytes each answer carries.
//!
//! The network is the epoch bench's ([`crate::epoch::network`]): its records are written into
//! the state as onboarding and report transactions would have left them, the epoch is closed
//! by a real block, and every block (the network's records folded into the closing block's
//! writes) is committed to a real store, which a [`depin_node::node::Node`] then opens and
//! serves with the API's own router and HTTP server on 127.0.0.1.
//!
//! Compared against, in the same run: reading every key of the devices' cell index once from
//! the same store (what any map aggregate over all devices must at least read).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use depin_core::services::devices::cell_range;
use depin_core::{Keypair, Signatures, StateRead, build_block};
use serde::Serialize;

use crate::epoch::{
    BLOCK_INTERVAL_MS, CLOSED_EPOCH, EPOCH_LENGTH_BLOCKS, bench_genesis, bench_records, network,
};

/// What to run.
#[derive(Clone, Debug)]
pub struct ExplorerBench {
    pub devices: usize,
    pub seed: u64,
    /// Requests per endpoint (the median is reported).
    pub requests: usize,
}

/// One endpoint's measurement.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointReport {
    /// What the page calls it for.
    pub what: String,
    /// The request path (one of them, for the cycling map requests).
    pub path: String,
    pub median_ms: f64,
    pub max_ms: f64,
    /// Bytes of the answer's body (median over the requests).
    pub bytes: usize,
    /// `median_ms` over the time to read the cell index once.
    pub vs_read_index: f64,
}

/// Results, printed as JSON by `depin bench explorer --json`.
#[derive(Clone, Debug, Serialize)]
pub struct ExplorerReport {
    pub devices: usize,
    /// Devices in the cell index (located devices).
    pub located: usize,
    pub requests: usize,
    /// Reading every key of the devices' cell index once from the store, ms (median of
    /// `requests` reads).
    pub read_index_ms: f64,
    pub endpoints: Vec<EndpointReport>,
    /// Building the network, writing it into the state and committing the blocks (not timed
    /// in the endpoints).
    pub setup_seconds: f64,
}

/// Runs the benchmark with the store in `dir`.
pub fn run(cfg: &ExplorerBench, dir: &Path) -> Result<ExplorerReport, String> {
    let started = Instant::now();
    let windows_per_epoch = EPOCH_LENGTH_BLOCKS / crate::epoch::BEACON_INTERVAL_BLOCKS;
    let net = network::generate(cfg.devices, cfg.seed, windows_per_epoch);
    let validator = Keypair::from_seed([0xe1; 32]);
    let genesis = bench_genesis(&net, &validator);
    let store =
        Arc::new(depin_store::Store::open(&dir.join("bench.redb")).map_err(|e| e.to_string())?);
    let mut state = store.load_or_init(&genesis).map_err(|e| e.to_string())?;
    let commit = |state: &mut depin_core::State,
                  extra: Vec<(Vec<u8>, Option<Vec<u8>>)>|
     -> Result<(), String> {
        let time_ms = (state.height() + 1) * BLOCK_INTERVAL_MS;
        let (block, mut applied) =
            build_block(state, Vec::new(), time_ms, &validator, Signatures::Verify);
        if !extra.is_empty() {
            // The records written outside a block go to the store with the next block's writes
            // (that block's own writes last, so they win), as if that block had carried them.
            let mut writes = extra;
            writes.append(&mut applied.writes);
            applied.writes = writes;
        }
        store
            .commit_block(&block, &applied)
            .map_err(|e| e.to_string())
    };
    while state.height() + 1 < (CLOSED_EPOCH + 1) * EPOCH_LENGTH_BLOCKS {
        commit(&mut state, Vec::new())?;
    }
    let before: BTreeMap<Vec<u8>, Vec<u8>> = state.entries().into_iter().collect();
    let (hotspots, beacons) = bench_records(&net);
    depin_core::bench_support::put_coverage_network(&mut state, &hotspots, &beacons);
    let mut changed = Vec::new();
    let after: BTreeMap<Vec<u8>, Vec<u8>> = state.entries().into_iter().collect();
    for (k, v) in &after {
        if before.get(k) != Some(v) {
            changed.push((k.clone(), Some(v.clone())));
        }
    }
    for k in before.keys() {
        if !after.contains_key(k) {
            changed.push((k.clone(), None));
        }
    }
    drop((before, after));
    // The closing block, then one more so the tip is past the close as on a live network.
    commit(&mut state, changed)?;
    commit(&mut state, Vec::new())?;
    drop(state);

    let (node, _producer) = depin_node::node::Node::open(
        genesis,
        store.clone(),
        validator,
        depin_node::mempool::MempoolLimits::default(),
    )
    .map_err(|e| format!("the node does not open the bench store: {e}"))?;
    let setup_seconds = started.elapsed().as_secs_f64();

    // The least a map aggregate reads: every key of the cell index, once.
    let (from, to) = cell_range(0, u64::MAX);
    let mut reads = Vec::new();
    let mut located = 0;
    for _ in 0..cfg.requests.max(1) {
        let t = Instant::now();
        let view = store
            .snapshot(node.live_params().as_ref().clone())
            .map_err(|e| e.to_string())?;
        located = std::hint::black_box(view.scan(&from, &to, usize::MAX)).len();
        view.finish().map_err(|e| e.to_string())?;
        reads.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let read_index_ms = crate::median(&reads);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let limits = depin_node::limits::ApiLimits::default();
    let app = depin_node::api::router_with_limits(node.clone(), &limits);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        let _ = depin_node::server::serve(listener, app, &limits, async {
            let _ = stopped.await;
        })
        .await;
    });

    // A device the close paid: a beaconer that was heard.
    let pick = net
        .beacons
        .iter()
        .find(|b| !b.witnesses.is_empty())
        .map_or(net.hotspots.len() / 2, |b| b.beaconer as usize);
    let device = net.hotspots[pick].device;
    let owner = net.hotspots[pick].owner;
    let device_text = device.to_string();
    let cell = h3o::CellIndex::try_from(net.hotspots[pick].cell).map_err(|e| e.to_string())?;
    let centre = h3o::LatLng::from(cell);
    let (lat, lon) = (centre.lat(), centre.lng());
    let city = |res: u8, span: f64| {
        format!(
            "/v1/explorer/cells?res={res}&west={:.5}&south={:.5}&east={:.5}&north={:.5}",
            lon - span,
            lat - span / 2.0,
            lon + span,
            lat + span / 2.0
        )
    };
    let fixed: Vec<(&str, String)> = vec![
        (
            "map, whole world (res 2, cached aggregate)",
            "/v1/explorer/cells?res=2".into(),
        ),
        ("map, region (res 6, cached aggregate)", city(6, 1.0)),
        ("map, city (res 8, cached aggregate)", city(8, 0.15)),
        (
            "epoch history (charts)",
            "/v1/explorer/history?limit=500".into(),
        ),
        ("device page: device", format!("/v1/devices/{device}")),
        (
            "device page: rewards per epoch",
            format!("/v1/explorer/devices/{device}/rewards?limit=50"),
        ),
        (
            "device page: one epoch's explanation",
            format!("/v1/rewards/{CLOSED_EPOCH}/{device}"),
        ),
        (
            "search by a 24-character device prefix",
            format!("/v1/explorer/search?q={}", &device_text[..24]),
        ),
        (
            "hexagon click: devices in a cell",
            format!("/v1/devices?cell={cell}&k=0"),
        ),
        ("account page: account", format!("/v1/accounts/{owner}")),
        (
            "account page: devices",
            format!("/v1/accounts/{owner}/devices"),
        ),
        (
            "account page: transactions (last 2,000 blocks)",
            format!("/v1/explorer/accounts/{owner}/txs?blocks=2000"),
        ),
        (
            "block page",
            format!("/v1/blocks/{}", CLOSED_EPOCH * EPOCH_LENGTH_BLOCKS),
        ),
    ];
    let mut endpoints = Vec::new();
    // A map request after a block that moved a device (or closed an epoch): the aggregate is
    // rebuilt (the cache keeps six, per cell-index version, epoch and resolution, so cycling
    // eleven resolutions always misses).
    let mut cold = Vec::new();
    let mut cold_bytes = Vec::new();
    for i in 0..cfg.requests.max(1) {
        let path = city((i % 11) as u8, 0.15);
        let (ms, body) = get(addr, &path)?;
        cold.push(ms);
        cold_bytes.push(body.len() as f64);
    }
    endpoints.push(EndpointReport {
        what: "map after a device moved (aggregate rebuilt over every device)".into(),
        path: city(0, 0.15).replace("res=0", "res=0..10"),
        median_ms: crate::median(&cold),
        max_ms: cold.iter().copied().fold(0.0, f64::max),
        bytes: crate::median(&cold_bytes) as usize,
        vs_read_index: crate::median(&cold) / read_index_ms,
    });
    for (what, path) in fixed {
        let mut times = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..cfg.requests.max(1) {
            let (ms, body) = get(addr, &path)?;
            times.push(ms);
            sizes.push(body.len() as f64);
            if path == "/v1/explorer/cells?res=2" {
                // The world map counts every located device: the answer is the whole network.
                let v: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                if v["located_devices"].as_u64() != Some(located as u64) {
                    return Err(format!(
                        "the world map counts {} located devices, the cell index holds {located}",
                        v["located_devices"]
                    ));
                }
            }
        }
        // The first request of a map path builds its aggregate; the median is the cached one.
        endpoints.push(EndpointReport {
            what: what.into(),
            path,
            median_ms: crate::median(&times),
            max_ms: times.iter().copied().fold(0.0, f64::max),
            bytes: crate::median(&sizes) as usize,
            vs_read_index: crate::median(&times) / read_index_ms,
        });
    }
    let _ = stop.send(());
    let _ = runtime.block_on(server);
    Ok(ExplorerReport {
        devices: net.hotspots.len(),
        located,
        requests: cfg.requests.max(1),
        read_index_ms,
        endpoints,
        setup_seconds,
    })
}

/// One `GET` over a fresh connection: milliseconds to the last byte and the body.
/// Anything but `200 OK` is an error naming the path.
fn get(addr: SocketAddr, path: &str) -> Result<(f64, Vec<u8>), String> {
    let t = Instant::now();
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map_err(|e| format!("{path}: {e}"))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{path}: no HTTP header in the answer"))?;
    let head = String::from_utf8_lossy(&out[..head_end]);
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "{path}: {} {}",
            head.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&out[head_end + 4..])
        ));
    }
    Ok((ms, out.split_off(head_end + 4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_answers_over_a_small_network() {
        let dir = tempfile::tempdir().unwrap();
        let report = run(
            &ExplorerBench {
                devices: 2_000,
                seed: 1,
                requests: 2,
            },
            dir.path(),
        )
        .unwrap();
        assert_eq!(report.located, 2_000, "every device is in the cell index");
        assert_eq!(report.endpoints.len(), 14);
        for e in &report.endpoints {
            assert!(e.bytes > 2, "{} answered {} bytes", e.what, e.bytes);
        }
    }
}
