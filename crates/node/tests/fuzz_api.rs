//! Fuzzing of the HTTP API in-process (`api::router` over a node on a temporary store, with
//! blocks, transactions, devices and an oracle price in it): random bodies and headers to
//! `POST /v1/tx` and `/v1/txs` (JSON and `application/octet-stream`, mutations of valid
//! transactions and batches, and arbitrary bytes), random methods, paths and query strings on
//! every route.
//!
//! No request may panic the handler or be answered 5xx, except 503 `busy`, `mempool_full` or
//! `timeout` with `Retry-After`; every refusal is JSON `{"error":{"code","message"}}`.
//!
//! `DEPIN_FUZZ_CASES` sets the number of requests (default 128, for CI); the long run is
//! `DEPIN_FUZZ_CASES=500000 cargo test --release -p depin-node --test fuzz_api -- --nocapture`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use depin_core::codec::Encode;
use depin_core::economics::TokenPrice;
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::ModulesGenesis;
use depin_core::modules::coverage::actions::{DeviceKind, OnboardDevice, sign_onboarding};
use depin_core::modules::coverage::preset;
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::services::demand::params;
use depin_core::services::devices::DevicesGenesis;
use depin_core::{Action, Amount, Genesis, Keypair, Transaction};
use depin_node::Node;
use depin_node::api::{ROUTES, router};
use depin_node::chain::Producer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tower::ServiceExt;

const CHAIN_ID: &str = "depin-fuzz-api";
const GENESIS_MS: u64 = 1_700_000_000_000;

fn cases() -> u32 {
    std::env::var("DEPIN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

fn validator() -> Keypair {
    Keypair::from_seed([3; 32])
}
fn owner() -> Keypair {
    Keypair::from_seed([7; 32])
}
fn oracle() -> Keypair {
    Keypair::from_seed([8; 32])
}
fn hotspot(i: u8) -> Keypair {
    Keypair::from_seed([20 + i; 32])
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: GENESIS_MS,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 1000,
            epoch_length_blocks: 10,
            max_block_txs: 1000,
            validator: validator().address(),
            validators: Vec::new(),
        },
        allocations: vec![
            Allocation {
                address: owner().address(),
                amount: "100000".into(),
            },
            Allocation {
                address: oracle().address(),
                amount: "1".into(),
            },
        ],
        economics: Some(EconomicsGenesis {
            emission_per_epoch: "5000".into(),
            halving_interval_epochs: 2,
            tail_per_epoch: "0".into(),
            treasury: Keypair::from_seed([9; 32]).address(),
            treasury_bps: 1_000,
            pool_weights: BTreeMap::new(),
        }),
        fees: None,
        modules: ModulesGenesis {
            storage: None,
            devices: Some(DevicesGenesis::default()),
            demand: Some(params::preset(vec![oracle().address()], 4)),
            coverage: Some({
                let mut c = preset::single_region(preset::BERLIN, 5);
                c.onboard_fee = "0".into();
                c.location_fee = "0".into();
                c
            }),
            ..Default::default()
        },
    }
}

/// A node with a few epochs of blocks: a price, credits bought, two hotspots onboarded,
/// transfers. Returns it with transactions it would admit next (seeds for the bodies).
fn node() -> (Arc<Node>, tempfile::TempDir, Vec<Transaction>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(depin_store::Store::open(&dir.path().join("db.redb")).expect("store"));
    let (node, mut producer) =
        Node::open(genesis(), store, validator(), Default::default()).expect("node");
    let mut time_ms = GENESIS_MS;
    let mut produce = |node: &Node, producer: &mut Producer, txs: Vec<Transaction>| {
        for verdict in node.submit(txs) {
            verdict.expect("setup transactions are admitted");
        }
        time_ms += 1000;
        node.produce_block(producer, time_ms).expect("block");
    };
    let network = genesis().network();
    let sign = |key: &Keypair, nonce: u64, action: Action| {
        Transaction::sign(&network, key, nonce, 1_000_000, action)
    };
    let price = Action::from(SubmitPrice {
        price: TokenPrice(50_000_000),
        observed_at_ms: GENESIS_MS,
    });
    produce(&node, &mut producer, vec![sign(&oracle(), 0, price)]);
    let buy = Action::from(BuyCredits {
        tokens: Amount(1_000_000_000),
        min_credits: 0,
        to: owner().address(),
    });
    let mut txs = vec![sign(&owner(), 0, buy)];
    for i in 0..2u8 {
        let device = hotspot(i);
        txs.push(sign(
            &owner(),
            1 + u64::from(i),
            Action::from(OnboardDevice {
                device: device.address(),
                kind: DeviceKind::Hotspot,
                region: "EU868".into(),
                location: Some(preset::BERLIN),
                gain_cdbi: 300,
                elevation_m: 10,
                device_signature: sign_onboarding(CHAIN_ID, &owner().address(), &device),
            }),
        ));
    }
    produce(&node, &mut producer, txs);
    for n in 3..30u64 {
        let pay = Action::Transfer {
            to: hotspot((n % 4) as u8).address(),
            amount: Amount(u128::from(n)),
        };
        produce(&node, &mut producer, vec![sign(&owner(), n, pay)]);
    }
    // Seeds: a transaction of each kind the node would admit, signed for the next nonces.
    let seeds = vec![
        sign(
            &owner(),
            30,
            Action::Transfer {
                to: hotspot(1).address(),
                amount: Amount(5),
            },
        ),
        sign(
            &owner(),
            31,
            Action::from(BuyCredits {
                tokens: Amount(10),
                min_credits: 0,
                to: owner().address(),
            }),
        ),
        sign(
            &oracle(),
            1,
            Action::from(SubmitPrice {
                price: TokenPrice(51_000_000),
                observed_at_ms: time_ms,
            }),
        ),
    ];
    (node, dir, seeds)
}

/// What to send: the body's origin and how it is labelled.
#[derive(Clone, Debug)]
enum BodyPlan {
    Empty,
    Bytes(Vec<u8>),
    /// A seed transaction's JSON or binary encoding (one, or a batch of the seeds) with bytes
    /// changed.
    Mutated {
        binary: bool,
        batch: bool,
        seed: usize,
        edits: Vec<(usize, u8)>,
        truncate: Option<usize>,
    },
    /// A JSON value of the right shape with a hostile value in it.
    Json(String),
}

#[derive(Clone, Debug)]
struct RequestPlan {
    method: &'static str,
    path: String,
    content_type: Option<String>,
    extra_headers: Vec<(String, String)>,
    body: BodyPlan,
}

/// A path segment: something plausible, an edge number, or percent-encoded arbitrary bytes.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        Just("latest".to_string()),
        Just("0".repeat(64)),
        Just(hotspot(0).address().to_string()),
        Just(owner().address().to_string()),
        Just("8a1f1d48b6dffff".to_string()),
        "[0-9]{1,25}",
        "[a-z0-9]{0,70}",
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
            bytes
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        }),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("cell".to_string()),
        Just("k".to_string()),
        Just("limit".to_string()),
        Just("after".to_string()),
        "[a-z]{1,8}",
    ];
    let value = prop_oneof![
        Just("8a1f1d48b6dffff".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
        Just("51".to_string()),
        Just("%FF".to_string()),
        "[0-9a-z]{0,20}",
    ];
    proptest::collection::vec((key, value), 0..4).prop_map(|pairs| {
        if pairs.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("?{}", parts.join("&"))
    })
}

fn path() -> impl Strategy<Value = String> {
    let templated = (0..ROUTES.len(), segment(), segment(), query()).prop_map(|(r, a, b, q)| {
        let mut p = ROUTES[r].to_string();
        for name in ["{hash}", "{address}", "{height}", "{epoch}", "{device}"] {
            let value = if p.find(name) == p.find('{') { &a } else { &b };
            p = p.replacen(name, value, 1);
        }
        format!("{p}{q}")
    });
    let random = (proptest::collection::vec(segment(), 0..5), query())
        .prop_map(|(segments, q)| format!("/{}{q}", segments.join("/")));
    prop_oneof![4 => templated, 1 => random]
}

fn body(seeds: usize) -> impl Strategy<Value = BodyPlan> {
    prop_oneof![
        1 => Just(BodyPlan::Empty),
        2 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(BodyPlan::Bytes),
        6 => (
            any::<bool>(),
            any::<bool>(),
            0..seeds,
            proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            proptest::option::weighted(0.2, any::<usize>()),
        )
            .prop_map(|(binary, batch, seed, edits, truncate)| BodyPlan::Mutated {
                binary,
                batch,
                seed,
                edits,
                truncate,
            }),
        2 => prop_oneof![
            Just("[]".to_string()),
            Just("{}".to_string()),
            Just("null".to_string()),
            Just("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_string()),
            "\\{\"chain_id\":\"[a-z\\-]{0,80}\",\"signer\":\"[a-z0-9]{0,70}\",\"nonce\":[0-9\\-]{1,22},\"action\":\\{\"type\":\"[a-z_]{0,20}\"\\},\"signature\":\"[0-9a-f]{0,130}\"\\}",
        ]
        .prop_map(BodyPlan::Json),
    ]
}

fn request() -> impl Strategy<Value = RequestPlan> {
    let method = prop_oneof![
        6 => Just("POST"),
        6 => Just("GET"),
        1 => Just("PUT"),
        1 => Just("DELETE"),
        1 => Just("HEAD"),
        1 => Just("OPTIONS"),
    ];
    let submit_path = prop_oneof![
        Just("/v1/tx".to_string()),
        Just("/v1/txs".to_string()),
        Just("/v1/tx?x=1".to_string()),
    ];
    let content_type = proptest::option::weighted(
        0.9,
        prop_oneof![
            Just("application/json".to_string()),
            Just("application/octet-stream".to_string()),
            Just("application/octet-stream; charset=utf-8".to_string()),
            Just("text/plain".to_string()),
            Just("multipart/form-data; boundary=x".to_string()),
            "[ -~]{0,30}",
        ],
    );
    let extra = proptest::collection::vec(
        prop_oneof![
            Just(("expect".to_string(), "100-continue".to_string())),
            Just(("content-length".to_string(), "200000000".to_string())),
            Just(("content-length".to_string(), "0".to_string())),
            Just(("content-length".to_string(), "-1".to_string())),
            Just(("transfer-encoding".to_string(), "chunked".to_string())),
            Just(("accept".to_string(), "text/event-stream".to_string())),
            Just(("content-encoding".to_string(), "gzip".to_string())),
            ("x-[a-z]{1,8}", "[ -~]{0,20}"),
        ],
        0..3,
    );
    let target = prop_oneof![
        4 => (Just("POST"), submit_path),
        4 => (Just("GET"), path()),
        1 => (method, prop_oneof![Just("/v1/txs".to_string()), path()]),
    ];
    (target, content_type, extra, body(3)).prop_map(
        |((method, path), content_type, extra_headers, body)| RequestPlan {
            method,
            path,
            content_type,
            extra_headers,
            body,
        },
    )
}

fn body_bytes(plan: &BodyPlan, seeds: &[Transaction]) -> Vec<u8> {
    match plan {
        BodyPlan::Empty => Vec::new(),
        BodyPlan::Bytes(b) => b.clone(),
        BodyPlan::Json(text) => text.clone().into_bytes(),
        BodyPlan::Mutated {
            binary,
            batch,
            seed,
            edits,
            truncate,
        } => {
            let txs: Vec<Transaction> = if *batch {
                seeds.to_vec()
            } else {
                vec![seeds[*seed].clone()]
            };
            let mut bytes = match (binary, batch) {
                (true, true) => txs.to_bytes(),
                (true, false) => txs[0].to_bytes(),
                (false, true) => serde_json::to_vec(&txs).expect("json"),
                (false, false) => serde_json::to_vec(&txs[0]).expect("json"),
            };
            for (at, byte) in edits {
                let n = bytes.len();
                bytes[at % n] = *byte;
            }
            if let Some(at) = truncate {
                bytes.truncate(at % (bytes.len() + 1));
            }
            bytes
        }
    }
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BY_STATUS: std::sync::Mutex<BTreeMap<u16, u64>> = std::sync::Mutex::new(BTreeMap::new());

async fn send(app: &Router, plan: &RequestPlan, seeds: &[Transaction]) -> Result<(), String> {
    let mut builder = Request::builder().method(plan.method).uri(&plan.path);
    if let Some(ct) = &plan.content_type {
        builder = builder.header(header::CONTENT_TYPE, ct.as_str());
    }
    for (name, value) in &plan.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let Ok(req) = builder.body(Body::from(body_bytes(&plan.body, seeds))) else {
        // Not an HTTP request at all (a URI or header hyper would refuse before the router).
        return Ok(());
    };
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    *BY_STATUS
        .lock()
        .expect("status counts")
        .entry(status.as_u16())
        .or_default() += 1;
    let is_stream = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let retry_after = resp.headers().contains_key(header::RETRY_AFTER);
    if is_stream {
        return if status == StatusCode::OK {
            Ok(())
        } else {
            Err(format!("event stream with status {status}"))
        };
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    if status.is_success() {
        return Ok(());
    }
    if plan.method == "HEAD" {
        // A HEAD answer has no body to read the error from; only its status counts.
        return match status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            true => Err(format!("{status} to HEAD")),
            false => Ok(()),
        };
    }
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")?.as_str()?;
            Some(e.get("code")?.as_str()?.to_string())
        })
        .ok_or_else(|| {
            format!(
                "refusal {status} is not {{\"error\":{{\"code\",\"message\"}}}}: {}",
                String::from_utf8_lossy(&body)
            )
        })?;
    if status.is_server_error() {
        let busy = status == StatusCode::SERVICE_UNAVAILABLE
            && ["busy", "mempool_full", "timeout"].contains(&code.as_str())
            && retry_after;
        if !busy {
            return Err(format!("{status} {code}"));
        }
    }
    Ok(())
}

#[test]
fn hostile_requests_get_json_refusals_and_never_a_5xx() {
    let (node, _dir, seeds) = node();
    let app = router(node);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let started = Instant::now();
    let outcome = runner.run(&request(), |plan| {
        runtime
            .block_on(send(&app, &plan, &seeds))
            .map_err(|e| TestCaseError::fail(format!("{} {}: {e}", plan.method, plan.path)))
    });
    eprintln!(
        "fuzz_api: {cases} cases, {} requests in {:.1} s; statuses {:?}",
        REQUESTS.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        BY_STATUS.lock().expect("status counts")
    );
    if let Err(e) = outcome {
        panic!("fuzz_api: {e}");
    }
}
