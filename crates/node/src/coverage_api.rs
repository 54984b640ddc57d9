//! HTTP endpoints of the coverage module: its parameters and current entropy (what hotspots
//! need to beacon), its devices (by address, owner, or H3 cell), and the score behind a
//! device's reward (for the generic reward view in [`crate::economy_api`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::module::address_suffix;
use depin_core::modules::coverage::CoverageParams;
use depin_core::modules::coverage::device::{CoverageView, Device};
use depin_core::services::devices::{DevicesView, cell_range};
use depin_core::{Address, Hash};
use depin_store::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, Query, blocking, parse_path, snapshot};

/// Most devices one listing returns.
pub const MAX_DEVICES_PER_QUERY: usize = 10_000;
/// Largest ring radius a cell query accepts.
pub const MAX_RING_K: u32 = 50;

fn coverage(node: &Node) -> ApiResult<Arc<CoverageParams>> {
    node.live_params().modules.coverage.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "coverage_disabled",
            "this network's genesis has no [coverage] section",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The module's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/coverage/params", get(params))
        .route("/v1/coverage/entropy", get(entropy))
        .route("/v1/devices", get(devices_in_cell))
        .route("/v1/devices/{address}", get(device))
        .route("/v1/accounts/{address}/devices", get(owner_devices))
}

/// How a coverage device's shares were scored in `epoch` (the `score` of a reward view).
pub fn explain_score(view: &Snapshot, epoch: u64, device: &Address, shares: u128) -> Value {
    let score = view.score(epoch, device).unwrap_or_default();
    json!({
        "beacons": score.beacons,
        "witnesses": score.witnesses,
        "beacon_units_ppm": score.beacon_units_ppm,
        "witness_units_ppm": score.witness_units_ppm,
        "hex_scale_ppm": score.hex_scale_ppm,
        "quality_bps": score.quality_bps,
        "shares": shares.to_string(),
        "ring_signals": {
            "cluster_hotspots": score.cluster_hotspots,
            "cluster_owners": score.cluster_owners,
            "isolated": score.isolated,
            "explanation": if score.isolated {
                format!("its witness-graph cluster this epoch ({} hotspots of {} owners) is not connected to the network's largest: its beacons were heard only inside that cluster, as a ring sharing payloads off-air would be (or a town far from the rest). Flagged for the governor; rewards are not cut automatically.", score.cluster_hotspots, score.cluster_owners)
            } else if score.cluster_hotspots == 0 {
                "no matched beacon or witness this epoch".to_string()
            } else {
                format!("part of the network's largest witness-graph cluster ({} hotspots of {} owners)", score.cluster_hotspots, score.cluster_owners)
            },
        },
    })
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let p = coverage(&node)?;
    let p = &*p;
    let mut view = serde_json::to_value(p).map_err(internal)?;
    // H3 indices exceed 2^53, which JSON readers in browsers cannot hold: give them as hex.
    for (i, region) in p.regions.iter().enumerate() {
        let hex: Vec<String> = region.cells.iter().map(|c| format!("{c:x}")).collect();
        view["regions"][i]["cells"] = json!(hex);
    }
    Ok(Json(json!({
        "chain_id": node.params.chain_id,
        "epoch_length_blocks": node.params.epoch_length_blocks,
        "block_interval_ms": node.params.block_interval_ms,
        "coverage": view,
    })))
}

pub async fn entropy(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = coverage(&node)?;
        let p = &*p;
        let height = node.tip().height;
        let interval = p.rules.beacon_interval_blocks;
        let window = p.window_of_height(height + 1);
        let entropy_height = window * interval;
        let entropy: Hash = if entropy_height == 0 {
            node.genesis_hash
        } else {
            node.store
                .block(entropy_height)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("block {entropy_height} is missing")))?
                .hash()
        };
        Ok(Json(json!({
            "height": height,
            "window": window,
            "entropy": entropy,
            "epoch": height / node.params.epoch_length_blocks,
            "window_first_height": entropy_height + 1,
        })))
    })
    .await
}

/// JSON view of a device.
pub fn device_view(node: &Node, view: &Snapshot, address: &Address, d: &Device) -> Value {
    let denied = view.is_denied(address);
    let region = node
        .live_params()
        .modules
        .coverage
        .as_ref()
        .and_then(|p| p.regions.get(d.region as usize))
        .map(|r| r.name.clone());
    let cell = d
        .asserted
        .and_then(|a| h3o::CellIndex::try_from(a.cell).ok().map(|c| c.to_string()));
    json!({
        "address": address,
        "module": "coverage",
        "owner": d.owner,
        "kind": d.kind,
        "region": region,
        "location": d.asserted.map(|a| a.location),
        "cell": cell,
        "gain_cdbi": d.gain_cdbi,
        "elevation_m": d.elevation_m,
        "denied": denied,
        "onboarded_height": d.onboarded_height,
        "location_height": d.location_height,
        "last_beacon_window": d.last_beacon_window,
        "last_witness_window": d.last_witness_window,
        // Tokens locked for it while it is active (base units); none on a network without bonds.
        "bond": depin_core::StateRead::get::<depin_core::Amount>(
            view,
            &depin_core::services::devices::bond_key(address),
        )
        .map(|b| b.0.to_string()),
    })
}

pub async fn device(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        coverage(&node)?;
        let address: Address = parse_path(&address, "address")?;
        let view = snapshot(&node)?;
        let found = view.device(&address);
        let out = found.map(|d| device_view(&node, &view, &address, &d));
        view.finish().map_err(internal)?;
        match out {
            Some(v) => Ok(Json(v)),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                format!("{address} is not an onboarded device (never onboarded, or retired)"),
            )),
        }
    })
    .await
}

fn views(node: &Node, view: &Snapshot, addresses: impl IntoIterator<Item = Address>) -> Vec<Value> {
    addresses
        .into_iter()
        .filter_map(|a| view.device(&a).map(|d| device_view(node, view, &a, &d)))
        .collect()
}

pub async fn owner_devices(
    State(node): State<Arc<Node>>,
    Path(owner): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        coverage(&node)?;
        let owner: Address = parse_path(&owner, "address")?;
        let view = snapshot(&node)?;
        let mut owned = view.devices_of(&owner, MAX_DEVICES_PER_QUERY.saturating_add(1));
        let truncated = owned.len() > MAX_DEVICES_PER_QUERY;
        owned.truncate(MAX_DEVICES_PER_QUERY);
        let devices = views(&node, &view, owned);
        view.finish().map_err(internal)?;
        Ok(Json(
            json!({"owner": owner, "devices": devices, "truncated": truncated}),
        ))
    })
    .await
}

#[derive(Deserialize)]
pub struct CellQuery {
    cell: Option<String>,
    k: Option<u32>,
}

pub async fn devices_in_cell(
    State(node): State<Arc<Node>>,
    Query(q): Query<CellQuery>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
    coverage(&node)?;
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_cell", msg);
    let text = q.cell.ok_or_else(|| {
        bad("give ?cell=<H3 cell index in hex> (any resolution up to 12), optionally &k=<ring radius>".into())
    })?;
    let cell: h3o::CellIndex = text
        .parse()
        .map_err(|_| bad(format!("'{text}' is not an H3 cell index")))?;
    let twelve = h3o::Resolution::Twelve;
    if cell.resolution() > twelve {
        return Err(bad(format!(
            "cell {text} is finer than resolution 12, the resolution of device locations"
        )));
    }
    let k = q.k.unwrap_or(0);
    if k > MAX_RING_K {
        return Err(bad(format!(
            "k = {k} is larger than the limit {MAX_RING_K}"
        )));
    }
    let mut addresses = Vec::new();
    let view = snapshot(&node)?;
    let disk: Vec<h3o::CellIndex> = cell.grid_disk(k);
    for c in disk {
        let count = c.children_count(twelve);
        let (Some(first), Some(last)) = (c.child_at(0, twelve), c.child_at(count - 1, twelve))
        else {
            continue;
        };
        let (from, to) = cell_range(u64::from(first), u64::from(last) + 1);
        // One past the limit, so a cut list says so.
        let room = (MAX_DEVICES_PER_QUERY + 1).saturating_sub(addresses.len());
        for (key, _) in depin_core::StateRead::scan(&view, &from, &to, room) {
            addresses.push(address_suffix(&key));
        }
    }
    let truncated = addresses.len() > MAX_DEVICES_PER_QUERY;
    addresses.truncate(MAX_DEVICES_PER_QUERY);
    let devices = views(&node, &view, addresses);
    view.finish().map_err(internal)?;
    Ok(Json(json!({"cell": text, "k": k, "devices": devices, "truncated": truncated})))
    })
    .await
}
