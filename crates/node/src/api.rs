//! The HTTP JSON API under `/v1`, Prometheus metrics at `/metrics`, and a landing page at `/`.
//!
//! Every refusal is a 4xx (or 503 when the node is busy) with a body
//! `{"error": {"code": "...", "message": "..."}}`: a stable code for scripts and a sentence
//! saying what to do. The OpenAPI document at `/v1/openapi.json` describes every route; a test
//! checks that the router and the document list the same paths.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use depin_core::{Address, Block, Explained, Hash, Receipt, ReceiptView, Rejection, Transaction};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::batch::{self, BatchError};
use crate::limits::{self, ApiLimits};
use crate::metrics::Metrics;
use crate::node::Node;
pub use crate::reply::{ApiError, ApiResult, snapshot, status_of};
use crate::reply::{Path, blocking, parse_path};

/// Most transactions in one `POST /v1/txs`.
pub const MAX_BATCH_TXS: usize = 10_000;
/// Largest request body, in bytes (a full batch of JSON transactions fits).
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Paths served, as written in the OpenAPI document.
pub const ROUTES: &[&str] = &[
    "/v1/status",
    "/v1/fees",
    "/v1/genesis",
    "/v1/tx",
    "/v1/txs",
    "/v1/tx/{hash}",
    "/v1/accounts/{address}",
    "/v1/blocks/latest",
    "/v1/blocks/{height}",
    "/v1/blocks/{height}/certificate",
    "/v1/stream",
    "/v1/coverage/params",
    "/v1/coverage/entropy",
    "/v1/devices",
    "/v1/devices/{address}",
    "/v1/accounts/{address}/devices",
    "/v1/epochs/latest",
    "/v1/epochs/{epoch}",
    "/v1/rewards/{epoch}/{device}",
    "/v1/oracle",
    "/v1/credits/{address}",
    "/v1/usage/{device}",
    "/v1/compute/params",
    "/v1/compute/jobs",
    "/v1/compute/jobs/{id}",
    "/v1/compute/providers/{address}",
    "/v1/compute/entropy/{height}",
    "/v1/mapping/params",
    "/v1/mapping/cells",
    "/v1/mapping/cells/{cell}",
    "/v1/mapping/dashcams/{address}",
    "/v1/mapping/dashcams/{address}/bundles",
    "/v1/mapping/bounties/{id}",
    "/v1/governance/params",
    "/v1/governance/proposals",
    "/v1/governance/proposals/{id}",
    "/v1/governance/stake/{address}",
    "/v1/governance/slashes",
    "/v1/governance/validators",
    "/v1/storage/params",
    "/v1/storage/providers/{device}",
    "/v1/storage/deals/{deal}",
    "/v1/storage/clients/{address}/deals",
    "/v1/storage/endpoints",
    "/v1/explorer/cells",
    "/v1/explorer/history",
    "/v1/explorer/devices/{address}/rewards",
    "/v1/explorer/accounts/{address}/txs",
    "/v1/explorer/search",
    "/v1/openapi.json",
    "/metrics",
];

const OPENAPI: &str = include_str!("openapi.json");
const EXPLORER: &str = include_str!("../../../web/explorer.html");
/// The explorer's map reference: country borders and coastlines (Natural Earth 1:110m, public
/// domain; made by `scripts/world-reference.py`), shipped so a node without internet draws them.
const WORLD: &str = include_str!("../../../web/world.json");

/// The router over a shared node, with the default [`ApiLimits`].
pub fn router(node: Arc<Node>) -> Router {
    router_with_limits(node, &ApiLimits::default())
}

/// The router over a shared node: every route, the request limits of `limits` (concurrency,
/// request timeout, declared body length) and the request counter.
pub fn router_with_limits(node: Arc<Node>, limits: &ApiLimits) -> Router {
    let routes = Router::new()
        .route("/", get(landing))
        .route("/explorer/world.json", get(world))
        .route("/v1/status", get(status))
        .route("/v1/fees", get(fees))
        .route("/v1/genesis", get(genesis))
        .route("/v1/tx", post(submit_one))
        .route("/v1/txs", post(submit_many))
        .route("/v1/tx/{hash}", get(tx_status))
        .route("/v1/accounts/{address}", get(account))
        .route("/v1/blocks/latest", get(latest_block))
        .route("/v1/blocks/{height}", get(block_at))
        .route("/v1/blocks/{height}/certificate", get(block_certificate))
        .route("/v1/stream", get(stream))
        .merge(crate::economy_api::routes())
        .merge(crate::explorer_api::routes())
        .merge(crate::modules::routes())
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    limits::apply(routes, limits, MAX_BODY_BYTES)
        .layer(middleware::from_fn_with_state(node.clone(), count_requests))
        .with_state(node)
}

async fn count_requests(State(node): State<Arc<Node>>, req: Request, next: Next) -> Response {
    Metrics::add(&node.metrics.http_requests_total, 1);
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such route; see /v1/openapi.json for the API",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong_method",
        "this route does not take that HTTP method; see /v1/openapi.json",
    )
}

/// The explorer: chain status, the last epoch's payouts and report outcomes, and a coverage map
/// of every located device, served from `web/explorer.html` (embedded in the binary).
async fn landing() -> Html<&'static str> {
    Html(EXPLORER)
}

async fn world() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        WORLD,
    )
}

async fn status(State(node): State<Arc<Node>>) -> Json<serde_json::Value> {
    let tip = node.tip();
    let p = &node.params;
    let (pending, pending_bytes) = {
        let pool = node.mempool.lock().expect("mempool lock");
        (pool.len(), pool.bytes())
    };
    Json(json!({
        "chain_id": p.chain_id,
        "genesis_hash": node.genesis_hash,
        "token": {"symbol": p.token_symbol, "decimals": p.decimals},
        "height": tip.height,
        "block_hash": tip.block_hash,
        "app_hash": tip.app_hash,
        "block_time_ms": tip.time_ms,
        "block_interval_ms": p.block_interval_ms,
        "epoch_length_blocks": p.epoch_length_blocks,
        "epoch": tip.height / p.epoch_length_blocks,
        "max_block_txs": p.max_block_txs,
        "validator": p.validator,
        "total_supply": tip.total_supply,
        "accounts": tip.accounts,
        "mempool": {"txs": pending, "bytes": pending_bytes},
        "base_fee": tip.base_fee,
        "fee_unit": fee_unit(&node.live_params()),
        // Tokens every new device locks while active (base units; "0" without bonds).
        "device_bond": node
            .live_params()
            .modules
            .devices
            .as_ref()
            .map_or(0, |d| d.bond.0)
            .to_string(),
    }))
}

/// What fees are paid in on this network.
fn fee_unit(p: &depin_core::Params) -> String {
    if p.modules.demand.is_some() {
        "credits".to_string()
    } else {
        format!("base units of {}", p.token_symbol)
    }
}

/// What transactions cost now: the base fee, the block limits, and what a transfer would cost
/// and should offer.
async fn fees(State(node): State<Arc<Node>>) -> Json<serde_json::Value> {
    use depin_core::services::fees::{BASE_FEE_SCALE, fee_for, suggested_max_fee};
    let tip = node.tip();
    let p = &node.params;
    let floor = node.mempool.lock().expect("mempool lock").eviction_floor();
    let transfer_weight = depin_core::services::fees::TRANSFER_WEIGHT;
    Json(json!({
        "base_fee": tip.base_fee,
        "base_fee_scale": BASE_FEE_SCALE as u64,
        "min_base_fee": p.fees.min_base_fee,
        "fee_unit": fee_unit(p),
        "max_block_weight": p.fees.max_block_weight,
        "max_block_bytes": p.fees.max_block_bytes,
        "signature_weight": depin_core::tx::SIGNATURE_WEIGHT,
        "transfer": {
            "weight": transfer_weight,
            "fee": fee_for(tip.base_fee, transfer_weight),
            "suggested_max_fee": suggested_max_fee(tip.base_fee, transfer_weight),
        },
        "mempool_min_tip_per_1000_weight": floor,
        "explained": "a transaction pays base_fee / base_fee_scale fee units per weight unit (its bytes, plus signature_weight per signature checked) plus its tip, never more than its max_fee; all of it is burned. Full blocks take the highest tips per weight first. The base fee rises by up to 1/8 per full block and falls back to min_base_fee when blocks are less than half full.",
    }))
}

async fn genesis(State(node): State<Arc<Node>>) -> Json<depin_core::Genesis> {
    Json(node.genesis.clone())
}

fn is_binary(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

fn body_error(e: BytesRejection) -> ApiError {
    ApiError::new(
        e.status(),
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "malformed"
        },
        format!("could not read the request body: {}", e.body_text()),
    )
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(bytes).map_err(|e| Rejection::Malformed {
        detail: format!("JSON: {e}"),
    })
}

async fn submit(
    node: &Arc<Node>,
    txs: Vec<Transaction>,
) -> ApiResult<Vec<Result<Hash, Rejection>>> {
    let node = node.clone();
    tokio::task::spawn_blocking(move || node.submit(txs))
        .await
        .map_err(ApiError::internal)
}

#[derive(Serialize)]
struct Accepted {
    hash: Hash,
}

async fn submit_one(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let body = body.map_err(body_error)?;
    let tx = if is_binary(&headers) {
        Transaction::from_wire(&body)
    } else {
        parse_json::<Transaction>(&body)
    }
    .map_err(|r| ApiError::from(&r))?;
    let verdict = submit(&node, vec![tx]).await?.remove(0);
    match verdict {
        Ok(hash) => Ok((StatusCode::ACCEPTED, Json(Accepted { hash }))),
        Err(r) => Err(ApiError::from(&r)),
    }
}

/// Decoding a batch is CPU work (16 MiB of JSON takes a core for a good part of a second), so
/// it runs on the blocking pool, at most one batch per core at a time. A burst of large batches
/// then neither stalls the runtime's workers (other requests, and the request deadline that
/// answers `timeout`) nor decodes more bodies at once than there are cores to decode them; a
/// batch still waiting for a core at its deadline is answered `timeout` and its body freed.
static DECODE_SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(cores))
});

async fn decode_batch(
    body: Bytes,
    binary: bool,
) -> ApiResult<Result<Vec<Transaction>, BatchError>> {
    let slot = DECODE_SLOTS
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        // Held until the decode ends, even if the request's deadline has dropped its future.
        let _slot = slot;
        if binary {
            batch::decode_binary(&body, MAX_BATCH_TXS)
        } else {
            batch::decode_json(&body, MAX_BATCH_TXS)
        }
    })
    .await
    .map_err(ApiError::internal)
}

async fn submit_many(
    State(node): State<Arc<Node>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let body = body.map_err(body_error)?;
    let binary = is_binary(&headers);
    let txs = decode_batch(body, binary).await?.map_err(|e| match e {
        BatchError::TooMany { count, max } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            match count {
                Some(n) => {
                    format!("batch of {n} transactions is more than the limit of {max}; split it")
                }
                None => {
                    format!("batch of more than {max} transactions is over the limit; split it")
                }
            },
        ),
        BatchError::Malformed(detail) => ApiError::from(&Rejection::Malformed { detail }),
    })?;
    let verdicts = submit(&node, txs).await?;
    // A batch refused whole because the pool is full is the node being busy, as for one
    // transaction: 503 with Retry-After, so clients back off instead of resubmitting at once.
    if !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|v| matches!(v, Err(Rejection::MempoolFull)))
    {
        return Err(ApiError::from(&Rejection::MempoolFull));
    }
    let results: Vec<serde_json::Value> = verdicts
        .into_iter()
        .map(|r| match r {
            Ok(hash) => json!({"hash": hash}),
            Err(r) => json!({"error": Explained::from(&r)}),
        })
        .collect();
    let accepted = results.iter().filter(|r| r.get("hash").is_some()).count();
    Ok(Json(json!({"accepted": accepted, "results": results})))
}

async fn tx_status(
    State(node): State<Arc<Node>>,
    Path(hash): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
    let hash: Hash = parse_path(&hash, "hash")?;
    // Store, then mempool, then store again: a transaction leaves the mempool only after its
    // block is committed, so one that is in neither place at the second look has none.
    for look in 0..2 {
        if let Some(c) = node.store.transaction(&hash).map_err(ApiError::internal)? {
            let header = node
                .store
                .header(c.height)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a committed transaction's block is missing"))?;
            let weight = c.tx.weight();
            let charged = if c.receipt.paid_fee() {
                depin_core::services::fees::charge(header.base_fee, &c.tx)
            } else {
                0
            };
            return Ok(Json(json!({
                "hash": hash,
                "status": "committed",
                "height": c.height,
                "index": c.index,
                "receipt": ReceiptView::from(&c.receipt),
                "fee": {
                    "charged": charged,
                    "max_fee": c.tx.max_fee,
                    "tip": c.tx.tip,
                    "weight": weight,
                    "base_fee": header.base_fee,
                },
                "tx": c.tx,
            })));
        }
        if look == 0 && node.mempool.lock().expect("mempool lock").contains(&hash) {
            return Ok(Json(json!({"hash": hash, "status": "pending"})));
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_tx",
        format!(
            "no transaction {hash} is pending or committed; it may have been refused at submission or dropped after waiting too long"
        ),
    ))
    })
    .await
}

async fn account(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let address: Address = parse_path(&address, "address")?;
        match node.store.account(&address).map_err(ApiError::internal)? {
            Some(a) => Ok(Json(json!({
                "address": address,
                "balance": a.balance,
                "nonce": a.nonce,
                "height": node.tip().height,
            }))),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_account",
                format!("account {address} has never held tokens on this network"),
            )),
        }
    })
    .await
}

/// JSON view of a block with its transactions and receipts.
pub fn block_view(block: &Block, receipts: &[Receipt]) -> serde_json::Value {
    let txs: Vec<serde_json::Value> = block
        .txs
        .iter()
        .zip(receipts)
        .map(|(tx, r)| json!({"hash": tx.hash(), "tx": tx, "receipt": ReceiptView::from(r)}))
        .collect();
    json!({
        "hash": block.hash(),
        "header": block.header,
        "signature": block.signature,
        "txs": txs,
    })
}

fn load_block(node: &Node, height: u64) -> ApiResult<Json<serde_json::Value>> {
    let block = node.store.block(height).map_err(ApiError::internal)?;
    let receipts = node.store.receipts(height).map_err(ApiError::internal)?;
    match (block, receipts) {
        (Some(b), Some(r)) => Ok(Json(block_view(&b, &r))),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_block",
            format!(
                "no block at height {height}; the chain is at height {} (blocks start at 1)",
                node.tip().height
            ),
        )),
    }
}

async fn latest_block(State(node): State<Arc<Node>>) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let height = node.tip().height;
        load_block(&node, height)
    })
    .await
}

async fn block_at(
    State(node): State<Arc<Node>>,
    Path(height): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let height: u64 = parse_path(&height, "height")?;
        load_block(&node, height)
    })
    .await
}

/// The finalization certificate a committed block is final through (BFT networks).
async fn block_certificate(
    State(node): State<Arc<Node>>,
    Path(height): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    blocking(move || {
        let height: u64 = parse_path(&height, "height")?;
        let tip = node.tip().height;
        let found = if height == 0 || height > tip {
            None
        } else {
            node.store
                .certificate_from(height)
                .map_err(ApiError::internal)?
        };
        let Some((certified, certificate)) = found else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_certificate",
                format!(
                    "no finalization certificate covers height {height}: the chain is at height {tip}, and only a BFT network's validators keep certificates (a solo node's blocks are final when committed)"
                ),
            ));
        };
        let block = node
            .store
            .header(certified)
            .map_err(ApiError::internal)?
            .map(|h| h.hash());
        Ok(Json(json!({
            "height": height,
            "certified_height": certified,
            "certified_block": block,
            "certificate": hex::encode(certificate),
        })))
    })
    .await
}

async fn stream(
    State(node): State<Arc<Node>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = node.events.subscribe();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let event = Event::default()
                        .event("block")
                        .json_data(&*ev)
                        .expect("block events serialize");
                    return Some((Ok(event), rx));
                }
                // A slow subscriber skips what it missed rather than holding memory.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    // End the stream on shutdown, or graceful shutdown would wait for the client forever.
    let events = futures_util::StreamExt::take_until(events, async move { node.stopped().await });
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics(State(node): State<Arc<Node>>) -> ApiResult<impl IntoResponse> {
    let text = blocking(move || {
        use depin_core::economics::EconomyView;
        let tip = node.tip();
        let epoch = tip.height / node.params.epoch_length_blocks;
        let view = snapshot(&node)?;
        let last = epoch.checked_sub(1).and_then(|e| view.epoch_summary(e));
        view.finish().map_err(ApiError::internal)?;
        let mut text = node.metrics.render();
        text.push_str(&crate::metrics::render_economy(
            epoch,
            tip.total_supply.0,
            last.as_ref(),
        ));
        Ok(text)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every API path the explorer names (template parts `${...}` stand for one segment).
    fn explorer_paths() -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = EXPLORER;
        while let Some(at) = rest.find("/v1/") {
            let tail = &rest[at..];
            let mut path = String::new();
            let mut chars = tail.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek() == Some(&'{') {
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                    }
                    path.push('*');
                    continue;
                }
                if matches!(c, '?' | '`' | '"' | '\'' | ' ' | '<' | ')') {
                    break;
                }
                path.push(c);
            }
            out.push(path);
            rest = &tail[4..];
        }
        out
    }

    fn served(path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        ROUTES.iter().any(|route| {
            let r: Vec<&str> = route.split('/').collect();
            r.len() == segments.len()
                && r.iter()
                    .zip(&segments)
                    .all(|(r, s)| r == s || *s == "*" || (r.starts_with('{') && !s.is_empty()))
        })
    }

    #[test]
    fn the_explorer_reads_only_served_routes() {
        let used = explorer_paths();
        assert!(used.len() > 20, "found {used:?}");
        for path in &used {
            assert!(
                served(path),
                "the explorer reads {path}, which is not served"
            );
        }
        for route in [
            "/v1/explorer/cells",
            "/v1/explorer/history",
            "/v1/explorer/search",
            "/v1/stream",
            "/v1/rewards/*/*",
        ] {
            assert!(used.iter().any(|u| u == route), "the explorer uses {route}");
        }
        assert!(!served("/v1/explorer/nothing"));
        assert!(EXPLORER.contains("Coverage map"));
        assert!(EXPLORER.contains("Bootstrap and demand rewards"));
        assert!(EXPLORER.contains("/explorer/world.json"));
    }

    #[test]
    fn openapi_document_lists_exactly_the_served_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        let mut documented: Vec<&str> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .map(String::as_str)
            .collect();
        let mut served = ROUTES.to_vec();
        documented.sort_unstable();
        served.sort_unstable();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_rejection_maps_to_a_client_error_or_busy() {
        let all = [
            Rejection::Malformed { detail: "x".into() },
            Rejection::BadSignature,
            Rejection::Duplicate,
            Rejection::ZeroAmount,
            Rejection::MempoolFull,
            Rejection::TooLarge { size: 1, max: 0 },
        ];
        for r in &all {
            let s = status_of(r);
            assert!(
                s.is_client_error() || s == StatusCode::SERVICE_UNAVAILABLE,
                "{r:?}"
            );
        }
    }

    #[tokio::test]
    async fn every_listed_route_is_served() {
        use depin_core::genesis::{ConsensusParams, TokenParams};
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let validator = depin_core::Keypair::from_seed([3; 32]);
        let genesis = depin_core::Genesis {
            chain_id: "routes".into(),
            genesis_time_ms: 0,
            token: TokenParams {
                symbol: "DPN".into(),
                decimals: 6,
            },
            consensus: ConsensusParams {
                block_interval_ms: 1000,
                epoch_length_blocks: 10,
                max_block_txs: 10,
                validator: validator.address(),
                validators: Vec::new(),
            },
            allocations: vec![],
            economics: None,
            fees: None,
            modules: Default::default(),
        };
        let store = Arc::new(depin_store::Store::open(&dir.path().join("db.redb")).unwrap());
        let (node, _) = Node::open(genesis, store, validator, Default::default()).unwrap();
        let app = router(node);
        for route in ROUTES {
            let path = route
                .replace("{hash}", &"0".repeat(64))
                .replace(
                    "{address}",
                    &depin_core::Keypair::from_seed([4; 32])
                        .address()
                        .to_string(),
                )
                .replace("{height}", "1");
            let method = if path == "/v1/tx" || path == "/v1/txs" {
                "POST"
            } else {
                "GET"
            };
            let req = axum::http::Request::builder()
                .method(method)
                .uri(&path)
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            if path == "/v1/stream" {
                assert_eq!(resp.status(), StatusCode::OK);
                continue;
            }
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            // The OpenAPI document itself names the code, so look at the error's code only.
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
            assert_ne!(
                code.as_deref(),
                Some("no_such_route"),
                "{route} is listed but not served"
            );
        }
    }
}
