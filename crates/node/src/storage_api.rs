//! HTTP endpoints of the storage module: its parameters and the proving window a deadline is in
//! (what a provider needs to prove), a provider with its deals, a deal with its proof history
//! and explanations, a client's deals, and a provider's proven work behind its reward (for the
//! generic reward view in [`crate::economy_api`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::Address;
use depin_core::modules::storage::StorageParams;
use depin_core::modules::storage::records::{Deal, StorageView};
use depin_store::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, Query, blocking, parse_path, snapshot};

/// Most deals or outcomes one listing returns.
pub const MAX_DEALS_PER_QUERY: usize = 1_000;

fn storage(node: &Node) -> ApiResult<Arc<StorageParams>> {
    node.live_params().modules.storage.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "storage_disabled",
            "this network's genesis has no [storage] section",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The module's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/storage/params", get(params))
        .route("/v1/storage/providers/{device}", get(provider))
        .route("/v1/storage/deals/{deal}", get(deal))
        .route("/v1/storage/clients/{address}/deals", get(client_deals))
        .route("/v1/storage/endpoints", get(endpoints))
}

/// How a provider's shares were earned in `epoch` (the `score` of a reward view).
pub fn explain_work(view: &Snapshot, epoch: u64, device: &Address, shares: u128) -> Value {
    let work = view.epoch_proof(epoch, device).unwrap_or_default();
    json!({
        "deals_proven": work.deals_proven,
        "bytes_proven": work.bytes_proven,
        "faults_declared": work.faults_declared,
        "faults_detected": work.faults_detected,
        "credits_paid": work.credits_paid.to_string(),
        "credits_verified": work.credits_verified.to_string(),
        "fees": work.fees,
        "shares": shares.to_string(),
        "explanation": "shares are the credits verified clients (holding a governed verified-data allowance) paid for the periods this provider proved; credits of other clients count only as paid service (the demand pool); fees are collateral paid to clients for faulty periods",
    })
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let p = storage(&node)?;
    let p = &*p;
    Ok(Json(json!({
        "chain_id": node.params.chain_id,
        "epoch_length_blocks": node.params.epoch_length_blocks,
        "block_interval_ms": node.params.block_interval_ms,
        "height": node.tip().height,
        "storage": p,
    })))
}

/// JSON view of a deal: its record, its proving window in the current period (with the
/// entropy once the window is open), and its outcomes with a sentence each.
fn deal_view(node: &Node, view: &Snapshot, id: u64, d: &Deal) -> ApiResult<Value> {
    let p = storage(node)?;
    let p = &*p;
    let length = node.params.epoch_length_blocks;
    let height = node.tip().height;
    let period = height / length;
    let (first, last) = p.window(length, period, d.deadline);
    let outcomes: Vec<Value> = view
        .outcomes(id, 0, MAX_DEALS_PER_QUERY)
        .into_iter()
        .map(|(period, o)| {
            json!({
                "period": period,
                "outcome": o.kind.name(),
                "paid_credits": o.paid_credits.to_string(),
                "refunded_credits": o.refunded_credits.to_string(),
                "fee": o.fee,
                "height": o.height,
                "explanation": o.kind.explain(),
            })
        })
        .collect();
    let mut out = serde_json::to_value(d).map_err(internal)?;
    out["id"] = json!(id);
    out["status"] = json!(d.status.name());
    out["end_period"] = json!(d.end_period());
    out["window"] = json!({
        "period": period,
        "first_height": first,
        "last_height": last,
        "entropy": view.window_entropy(period, d.deadline),
    });
    out["outcomes"] = json!(outcomes);
    Ok(out)
}

pub async fn provider(
    State(node): State<Arc<Node>>,
    Path(device): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        storage(&node)?;
        let device: Address = parse_path(&device, "device")?;
        let view = snapshot(&node)?;
        let Some(p) = view.provider(&device) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_provider",
                format!("{device} is not a registered storage provider"),
            ));
        };
        let limit = page.limit.unwrap_or(100).min(MAX_DEALS_PER_QUERY);
        let ids = view.provider_deals(&device, page.after.unwrap_or(0), limit);
        let deals = ids
            .iter()
            .filter_map(|&id| view.deal(id).map(|d| deal_view(&node, &view, id, &d)))
            .collect::<ApiResult<Vec<Value>>>()?;
        let endpoint = view.endpoint(&device);
        view.finish().map_err(internal)?;
        let mut out = serde_json::to_value(&p).map_err(internal)?;
        out["free_collateral"] = json!(p.record.free_collateral());
        out["free_bytes"] = json!(p.record.free_bytes());
        out["endpoint"] = json!(endpoint);
        out["deals"] = json!(deals);
        Ok(Json(out))
    })
    .await
}

pub async fn deal(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(move || {
        storage(&node)?;
        let id: u64 = id.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_deal",
                format!("'{id}' is not a deal number"),
            )
        })?;
        let view = snapshot(&node)?;
        let Some(d) = view.deal(id) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_deal",
                format!("there is no deal {id}"),
            ));
        };
        let out = deal_view(&node, &view, id, &d)?;
        view.finish().map_err(internal)?;
        Ok(Json(out))
    })
    .await
}

/// A page of a listing: ids from `after` on, at most `limit`.
#[derive(Deserialize)]
pub struct Page {
    after: Option<u64>,
    limit: Option<usize>,
}

/// A page of the endpoint listing: devices after `after` (a device address).
#[derive(Deserialize)]
pub struct EndpointPage {
    after: Option<String>,
    limit: Option<usize>,
}

/// Storage providers that announced a retrieval URL, with their free bytes and collateral (what
/// a client needs to place shards without being told where providers are).
pub async fn endpoints(
    State(node): State<Arc<Node>>,
    Query(page): Query<EndpointPage>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        storage(&node)?;
        let after: Option<Address> = page
            .after
            .as_deref()
            .map(|a| parse_path(a, "after"))
            .transpose()?;
        let view = snapshot(&node)?;
        let limit = page.limit.unwrap_or(100).min(MAX_DEALS_PER_QUERY);
        let providers: Vec<Value> = view
            .endpoints(after.as_ref(), limit)
            .into_iter()
            .filter_map(|(device, url)| {
                let p = view.provider(&device)?;
                Some(json!({
                    "device": device,
                    "url": url,
                    "free_bytes": p.record.free_bytes(),
                    "free_collateral": p.record.free_collateral(),
                }))
            })
            .collect();
        view.finish().map_err(internal)?;
        Ok(Json(json!({
            "providers": providers,
            "explanation": "storage providers that announced a retrieval URL (set_endpoint), by device address; page on with ?after=<last device>",
        })))
    })
    .await
}

pub async fn client_deals(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        storage(&node)?;
        let client: Address = parse_path(&address, "address")?;
        let view = snapshot(&node)?;
        let limit = page.limit.unwrap_or(100).min(MAX_DEALS_PER_QUERY);
        let ids = view.client_deals(&client, page.after.unwrap_or(0), limit);
        let deals = ids
            .iter()
            .filter_map(|&id| view.deal(id).map(|d| deal_view(&node, &view, id, &d)))
            .collect::<ApiResult<Vec<Value>>>()?;
        let p = storage(&node)?;
        let allowance = json!({
            "granted_bytes": p.allowance(&client),
            "used_bytes": view.allowance_used(&client),
            "explanation": "a verified-data allowance (granted in the [storage] section, by genesis or a governance proposal) makes a deal earn bootstrap shares; each deal uses its shard's size once when it opens",
        });
        view.finish().map_err(internal)?;
        Ok(Json(json!({"client": client, "allowance": allowance, "deals": deals})))
    })
    .await
}
