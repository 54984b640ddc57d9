//! HTTP endpoints of the coverage module: its parameters and current entropy (what hotspots
//! need to beacon), the device registry, epoch summaries and explained rewards (with the demand
//! part of each, when the network has the demand module).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use depin_core::codec::Decode;
use depin_core::economics::records::reward_range;
use depin_core::economics::{EconomyView, EpochSummary, RewardRecord, TokenPrice};
use depin_core::module::address_suffix;
use depin_core::modules::coverage::CoverageParams;
use depin_core::modules::coverage::device::{CoverageView, Device};
use depin_core::services::devices::{DevicesView, cell_range};
use depin_core::{Address, Hash, Receipt};
use depin_store::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, parse_path};
use crate::node::Node;

/// Most devices one listing returns.
pub const MAX_DEVICES_PER_QUERY: usize = 10_000;
/// Largest ring radius a cell query accepts.
pub const MAX_RING_K: u32 = 50;
/// Most rejected reports a reward explanation lists.
pub const MAX_EXPLAINED_REPORTS: usize = 1_000;
/// Earners listed in an epoch summary.
pub const TOP_EARNERS: usize = 10;

fn coverage(node: &Node) -> ApiResult<&CoverageParams> {
    node.params.modules.coverage.as_deref().ok_or_else(|| {
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

/// The committed state, read through the ledger's own views.
pub fn snapshot(node: &Node) -> ApiResult<Snapshot> {
    node.store.snapshot(node.params.clone()).map_err(internal)
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let p = coverage(&node)?;
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
    let p = coverage(&node)?;
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
}

/// JSON view of a device.
pub fn device_view(node: &Node, view: &Snapshot, address: &Address, d: &Device) -> Value {
    let denied = view.is_denied(address);
    let region = node
        .params
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
    })
}

pub async fn device(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
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
    coverage(&node)?;
    let owner: Address = parse_path(&owner, "address")?;
    let view = snapshot(&node)?;
    let devices = views(&node, &view, view.devices_of(&owner, MAX_DEVICES_PER_QUERY));
    view.finish().map_err(internal)?;
    Ok(Json(json!({"owner": owner, "devices": devices})))
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
        let room = MAX_DEVICES_PER_QUERY.saturating_sub(addresses.len());
        for (key, _) in depin_core::StateRead::scan(&view, &from, &to, room) {
            addresses.push(address_suffix(&key));
        }
    }
    let devices = views(&node, &view, addresses);
    view.finish().map_err(internal)?;
    Ok(Json(json!({"cell": text, "k": k, "devices": devices})))
}

/// Heights of the blocks of `epoch`.
fn epoch_heights(node: &Node, epoch: u64) -> (u64, u64) {
    let e = node.params.epoch_length_blocks;
    (epoch * e + 1, (epoch + 1) * e)
}

fn load_summary(node: &Node, epoch: u64) -> ApiResult<EpochSummary> {
    let view = snapshot(node)?;
    let found = view.epoch_summary(epoch);
    view.finish().map_err(internal)?;
    found.ok_or_else(|| {
            let closes = (epoch + 1) * node.params.epoch_length_blocks;
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_epoch",
                format!(
                    "epoch {epoch} has not closed yet: it closes at height {closes}, the chain is at {}",
                    node.tip().height
                ),
            )
        })
}

fn epoch_view(node: &Node, s: &EpochSummary) -> ApiResult<Value> {
    let (from, to) = epoch_heights(node, s.epoch);
    let outcomes: serde_json::Map<String, Value> = node
        .store
        .report_outcomes(from, to)
        .map_err(internal)?
        .into_iter()
        .map(|(code, n)| (code, json!(n)))
        .collect();
    let (from_key, to_key) = reward_range(s.epoch);
    let mut earners: Vec<(Address, RewardRecord)> = node
        .store
        .state_range(&from_key, &to_key, usize::MAX)
        .map_err(internal)?
        .into_iter()
        .filter_map(|(k, v)| Some((address_suffix(&k), RewardRecord::from_bytes(&v).ok()?)))
        .filter(|(_, r)| !r.amount.is_zero())
        .collect();
    earners.sort_by(|a, b| b.1.amount.cmp(&a.1.amount).then(a.0.cmp(&b.0)));
    let top: Vec<Value> = earners
        .iter()
        .take(TOP_EARNERS)
        .map(|(d, r)| {
            json!({
                "device": d,
                "owner": r.owner,
                "amount": r.amount,
                "bootstrap": r.bootstrap,
                "demand": r.demand,
                "credits": r.credits.to_string(),
                "module": r.module,
                "shares": r.shares.to_string(),
            })
        })
        .collect();
    let mut v = serde_json::to_value(s).map_err(internal)?;
    // The coverage module's part, at the top level where dashboards and the CLI read it.
    if let Some(m) = s.module("coverage") {
        v["coverage_pool"] = json!(m.bootstrap_pool);
        for (name, n) in &m.counters {
            v[name.as_str()] = json!(n);
        }
    }
    v["modules"] = json!(
        s.modules
            .iter()
            .map(|m| {
                let mut mv = serde_json::to_value(m).unwrap_or_default();
                mv["counters"] = json!(
                    m.counters
                        .iter()
                        .map(|(k, n)| (k.clone(), json!(n)))
                        .collect::<serde_json::Map<_, _>>()
                );
                mv
            })
            .collect::<Vec<_>>()
    );
    v["report_outcomes"] = Value::Object(outcomes);
    v["top_earners"] = Value::Array(top);
    // Every credit burned in the epoch, whether it pays a device or not; null past 128 bits.
    let credits_burned = s
        .credits_on_data
        .checked_add(s.credits_void)
        .and_then(|c| c.checked_add(s.credits_on_fees));
    v["credits_burned"] = json!(credits_burned.map(|c| c.to_string()));
    v["price_usd"] = json!(s.price.map(TokenPrice::usd_text));
    Ok(v)
}

pub async fn latest_epoch(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let closed = node.tip().height / node.params.epoch_length_blocks;
    let Some(epoch) = closed.checked_sub(1) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_epoch",
            format!(
                "no epoch has closed yet; the first closes at height {}",
                node.params.epoch_length_blocks
            ),
        ));
    };
    Ok(Json(epoch_view(&node, &load_summary(&node, epoch)?)?))
}

pub async fn epoch(
    State(node): State<Arc<Node>>,
    Path(epoch): Path<String>,
) -> ApiResult<Json<Value>> {
    let epoch: u64 = parse_path(&epoch, "epoch")?;
    Ok(Json(epoch_view(&node, &load_summary(&node, epoch)?)?))
}

pub async fn reward(
    State(node): State<Arc<Node>>,
    Path((epoch, device)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    coverage(&node)?;
    let epoch: u64 = parse_path(&epoch, "epoch")?;
    let device: Address = parse_path(&device, "address")?;
    let summary = load_summary(&node, epoch)?;
    let view = snapshot(&node)?;
    let record: Option<RewardRecord> = view.reward(epoch, &device);
    let score = view.score(epoch, &device).unwrap_or_default();
    view.finish().map_err(internal)?;
    let module = record
        .as_ref()
        .and_then(|r| summary.module(&r.module))
        .or_else(|| summary.module("coverage"));
    let (bootstrap_pool, total_shares) = module.map_or((Default::default(), 0), |m| {
        (m.bootstrap_pool, m.total_shares)
    });
    let share_ppm = record.as_ref().map_or(0, |r| ppm(r.shares, total_shares));
    let (from, to) = epoch_heights(&node, epoch);
    let rejected: Vec<Value> = node
        .store
        .device_reports(&device, from, to, usize::MAX)
        .map_err(internal)?
        .into_iter()
        .filter_map(|c| match &c.receipt {
            Receipt::Rejected(r) => Some(json!({
                "hash": c.tx.hash(),
                "height": c.height,
                "type": action_type(&c.tx.action),
                "code": r.code(),
                "message": r.to_string(),
            })),
            Receipt::Success => None,
        })
        .take(MAX_EXPLAINED_REPORTS)
        .collect();
    // The demand pool is paid pro rata to what credits are worth, not to their number.
    let demand_share_ppm = record
        .as_ref()
        .map_or(0, |r| ppm(r.demand.0, summary.demand_paid.0));
    let reward = record.map(|r| {
        json!({
            "owner": r.owner,
            "module": r.module,
            "score": {
                "beacons": score.beacons,
                "witnesses": score.witnesses,
                "beacon_units_ppm": score.beacon_units_ppm,
                "witness_units_ppm": score.witness_units_ppm,
                "hex_scale_ppm": score.hex_scale_ppm,
                "quality_bps": score.quality_bps,
                "shares": r.shares.to_string(),
            },
            "bootstrap": r.bootstrap,
            "traffic": {
                "credits": r.credits.to_string(),
                "credits_value": r.credits_value,
                "packets": r.packets,
                "bytes": r.bytes,
            },
            "demand": r.demand,
            "amount": r.amount,
        })
    });
    Ok(Json(json!({
        "epoch": epoch,
        "device": device,
        "reward": reward,
        "share_ppm": share_ppm,
        "bootstrap_pool": bootstrap_pool,
        "coverage_pool": bootstrap_pool,
        "total_shares": total_shares.to_string(),
        "demand_share_ppm": demand_share_ppm,
        "demand_pool": summary.demand_pool,
        "credits_on_data": summary.credits_on_data.to_string(),
        "bootstrap_bps": summary.bootstrap_bps,
        "price_usd": summary.price.map(TokenPrice::usd_text),
        "rejected_reports": rejected,
    })))
}

/// `part / total` in millionths, rounded down; 0 when there is no total.
fn ppm(part: u128, total: u128) -> u128 {
    if total == 0 {
        return 0;
    }
    // `mul_div_floor(a, b, c)` needs `b <= c`; a part never exceeds its total.
    depin_core::economics::mul_div_floor(1_000_000, part.min(total), total)
}

/// The JSON `type` tag of an action.
pub fn action_type(action: &depin_core::Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_holds_for_small_and_large_totals() {
        assert_eq!(ppm(1, 0), 0);
        assert_eq!(ppm(100, 100), 1_000_000);
        assert_eq!(ppm(1, 3), 333_333);
        assert_eq!(ppm(u128::MAX / 2, u128::MAX), 499_999);
    }
}
