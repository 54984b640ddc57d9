//! Aggregated and paged views for the explorer: devices per H3 cell at a map's resolution inside
//! a bounding box, the economy per epoch as series, a device's rewards per epoch, an account's
//! recent transactions, and one search box over heights, hashes, addresses and address prefixes.
//! Each answer is bounded, so a page never downloads every record of a large network.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::economics::{EconomyView, TokenPrice};
use depin_core::module::address_suffix;
use depin_core::services::devices::{DevicesView, cell_range, device_key};
use depin_core::{Action, Address, Hash, Receipt, ReceiptView, StateRead};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, Query, blocking, parse_path, snapshot};

/// Most located devices one cell aggregate reads (a network larger than this is drawn from its
/// first devices in cell order, and the answer says `truncated`).
pub const MAX_AGGREGATED_DEVICES: usize = 1_000_000;
/// Most cells one map answer lists (the page asks for a coarser resolution past this).
pub const MAX_MAP_CELLS: usize = 4_000;
/// Coarsest and finest resolutions the map aggregates at.
pub const MAP_RESOLUTIONS: std::ops::RangeInclusive<u8> = 0..=10;
/// Aggregates kept in memory (per height and resolution): a new block makes them stale.
pub const CACHED_AGGREGATES: usize = 6;
/// Most epochs one history answer covers.
pub const MAX_HISTORY_EPOCHS: u64 = 500;
/// Most recent blocks an account's transaction list scans.
pub const MAX_SCANNED_BLOCKS: u64 = 2_000;
/// Most transactions an account's list returns.
pub const MAX_ACCOUNT_TXS: usize = 200;
/// Most devices a prefix search lists.
pub const MAX_PREFIX_MATCHES: usize = 20;

/// The explorer's routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/explorer/cells", get(cells))
        .route("/v1/explorer/history", get(history))
        .route(
            "/v1/explorer/devices/{address}/rewards",
            get(device_rewards),
        )
        .route("/v1/explorer/accounts/{address}/txs", get(account_txs))
        .route("/v1/explorer/search", get(search))
        .layer(Extension(Arc::new(Aggregates::default())))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

fn bad(code: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// Devices and last-epoch earnings of one aggregated cell.
#[derive(Clone, Default)]
struct CellTotals {
    devices: u64,
    /// Base units earned in the last closed epoch by the cell's devices.
    earned: u128,
}

/// One resolution's aggregate at one height.
struct Aggregate {
    /// The node's cell-index version it was built at (see [`Node::cell_index_version`]).
    version: u64,
    height: u64,
    resolution: u8,
    cells: BTreeMap<u64, CellTotals>,
    located: u64,
    truncated: bool,
    epoch: Option<u64>,
}

/// The last few aggregates built, most recent last.
#[derive(Default)]
pub struct Aggregates {
    built: Mutex<VecDeque<Arc<Aggregate>>>,
}

impl Aggregates {
    /// An aggregate still valid: no device moved since it was built and it counts the last
    /// closed epoch's earnings (blocks that change neither do not rebuild it).
    fn get(&self, version: u64, epoch: Option<u64>, resolution: u8) -> Option<Arc<Aggregate>> {
        let built = self.built.lock().expect("aggregates lock");
        built
            .iter()
            .find(|a| a.version == version && a.epoch == epoch && a.resolution == resolution)
            .cloned()
    }

    fn keep(&self, a: Arc<Aggregate>) {
        let mut built = self.built.lock().expect("aggregates lock");
        if built.len() >= CACHED_AGGREGATES {
            built.pop_front();
        }
        built.push_back(a);
    }
}

/// The last epoch closed at `height` (`None` before the first close): whose earnings the map
/// shows.
fn last_closed_epoch(node: &Node, height: u64) -> Option<u64> {
    (height / node.params.epoch_length_blocks).checked_sub(1)
}

/// Every located device counted under its parent cell at `resolution`, with what the devices
/// earned in the last closed epoch.
fn aggregate(node: &Node, resolution: u8) -> ApiResult<Aggregate> {
    let res = h3o::Resolution::try_from(resolution).map_err(internal)?;
    // Read before the snapshot: a block committed in between only makes this aggregate
    // newer than its version says, and the next request rebuilds it.
    let version = node.cell_index_version();
    let height = node.tip().height;
    let view = snapshot(node)?;
    let (from, to) = cell_range(0, u64::MAX);
    let entries = view.scan(&from, &to, MAX_AGGREGATED_DEVICES.saturating_add(1));
    let truncated = entries.len() > MAX_AGGREGATED_DEVICES;
    let epoch = last_closed_epoch(node, height);
    let earned: BTreeMap<Address, u128> = match epoch {
        Some(e) => view
            .epoch_rewards(e)
            .into_iter()
            .map(|(d, r)| (d, r.amount.0))
            .collect(),
        None => BTreeMap::new(),
    };
    view.finish().map_err(internal)?;
    let mut cells: BTreeMap<u64, CellTotals> = BTreeMap::new();
    let mut located = 0u64;
    // A cell index key is the prefix, the cell (8 bytes, big-endian), then the device.
    let cell_at = from.len() - 8;
    for (key, _) in entries.iter().take(MAX_AGGREGATED_DEVICES) {
        let Some(bytes) = key.get(cell_at..cell_at + 8) else {
            continue;
        };
        let raw = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        let Some(parent) = h3o::CellIndex::try_from(raw)
            .ok()
            .and_then(|c| c.parent(res))
        else {
            continue;
        };
        let t = cells.entry(u64::from(parent)).or_default();
        t.devices += 1;
        t.earned = t
            .earned
            .saturating_add(earned.get(&address_suffix(key)).copied().unwrap_or(0));
        located += 1;
    }
    Ok(Aggregate {
        version,
        height,
        resolution,
        cells,
        located,
        truncated,
        epoch,
    })
}

#[derive(Deserialize)]
pub struct CellsQuery {
    res: Option<u8>,
    west: Option<f64>,
    south: Option<f64>,
    east: Option<f64>,
    north: Option<f64>,
}

/// `GET /v1/explorer/cells?res=&west=&south=&east=&north=`: located devices per H3 cell at
/// resolution `res`, only cells whose centre is in the box, each with its outline.
pub async fn cells(
    State(node): State<Arc<Node>>,
    Extension(cache): Extension<Arc<Aggregates>>,
    Query(q): Query<CellsQuery>,
) -> ApiResult<Json<Value>> {
    let resolution = q.res.unwrap_or(5);
    if !MAP_RESOLUTIONS.contains(&resolution) {
        return Err(bad(
            "bad_resolution",
            format!(
                "res = {resolution} is outside {}..={}; the map aggregates at H3 resolutions 0 (continents) to 10 (streets)",
                MAP_RESOLUTIONS.start(),
                MAP_RESOLUTIONS.end()
            ),
        ));
    }
    let west = q.west.unwrap_or(-180.0);
    let east = q.east.unwrap_or(180.0);
    let south = q.south.unwrap_or(-90.0);
    let north = q.north.unwrap_or(90.0);
    for (name, v, lim) in [
        ("west", west, 180.0),
        ("east", east, 180.0),
        ("south", south, 90.0),
        ("north", north, 90.0),
    ] {
        if !v.is_finite() || v.abs() > lim {
            return Err(bad(
                "bad_box",
                format!("{name} = {v} is not a coordinate in -{lim}..={lim} degrees"),
            ));
        }
    }
    if south > north || west > east {
        return Err(bad(
            "bad_box",
            "the box needs south <= north and west <= east (degrees)".into(),
        ));
    }
    blocking(move || {
        let epoch = last_closed_epoch(&node, node.tip().height);
        let agg = match cache.get(node.cell_index_version(), epoch, resolution) {
            Some(a) => a,
            None => {
                let a = Arc::new(aggregate(&node, resolution)?);
                cache.keep(a.clone());
                a
            }
        };
        let mut out = Vec::new();
        let mut in_box = 0usize;
        for (raw, t) in &agg.cells {
            let Ok(cell) = h3o::CellIndex::try_from(*raw) else {
                continue;
            };
            let centre = h3o::LatLng::from(cell);
            let (lat, lon) = (centre.lat(), centre.lng());
            if lat < south || lat > north || lon < west || lon > east {
                continue;
            }
            in_box += 1;
            if out.len() >= MAX_MAP_CELLS {
                continue;
            }
            let outline: Vec<[f64; 2]> = cell
                .boundary()
                .iter()
                .map(|ll| [round5(ll.lat()), round5(ll.lng())])
                .collect();
            out.push(json!({
                "cell": cell.to_string(),
                "devices": t.devices,
                "earned": t.earned.to_string(),
                "center": [round5(lat), round5(lon)],
                "outline": outline,
            }));
        }
        Ok(Json(json!({
            "height": agg.height,
            "res": agg.resolution,
            "epoch": agg.epoch,
            "located_devices": agg.located,
            "cells_in_box": in_box,
            "cells": out,
            "truncated": agg.truncated || in_box > MAX_MAP_CELLS,
        })))
    })
    .await
}

fn round5(v: f64) -> f64 {
    (v * 1e5).round() / 1e5
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

/// `GET /v1/explorer/history?from=&limit=`: one row per closed epoch (the last `limit` by
/// default): minted, burned, pools, bootstrap and demand paid, price, credits, devices paid and
/// report outcomes.
pub async fn history(
    State(node): State<Arc<Node>>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_HISTORY_EPOCHS {
        return Err(bad(
            "bad_limit",
            format!("limit = {limit}: give 1 to {MAX_HISTORY_EPOCHS} epochs"),
        ));
    }
    blocking(move || {
        let length = node.params.epoch_length_blocks;
        let closed = node.tip().height / length;
        let first = q.from.unwrap_or(closed.saturating_sub(limit));
        let last = first.saturating_add(limit).min(closed);
        let view = snapshot(&node)?;
        let summaries: Vec<_> = (first..last).filter_map(|e| view.epoch_summary(e)).collect();
        view.finish().map_err(internal)?;
        let mut rows = Vec::with_capacity(summaries.len());
        for s in summaries {
            let from = s.epoch.saturating_mul(length).saturating_add(1);
            let to = s.epoch.saturating_add(1).saturating_mul(length);
            let outcomes: serde_json::Map<String, Value> = node
                .store
                .report_outcomes(from, to)
                .map_err(internal)?
                .into_iter()
                .map(|(code, n)| (code, json!(n)))
                .collect();
            let minted = s
                .emission
                .0
                .saturating_add(s.reminted.0)
                .saturating_sub(s.unminted.0);
            let credits_burned = s
                .credits_on_data
                .saturating_add(s.credits_void)
                .saturating_add(s.credits_on_fees);
            rows.push(json!({
                "epoch": s.epoch,
                "height": s.height,
                "emission": s.emission,
                "reminted": s.reminted,
                "minted": minted.to_string(),
                "burned": s.tokens_burned,
                "treasury": s.treasury,
                "bootstrap_pool": s.bootstrap_pool,
                "demand_pool": s.demand_pool,
                "bootstrap_paid": s.paid,
                "demand_paid": s.demand_paid,
                "bootstrap_bps": s.bootstrap_bps,
                "price_usd": s.price.map(TokenPrice::usd_text),
                "credits_bought": s.credits_bought.to_string(),
                "credits_burned": credits_burned.to_string(),
                "devices_paid": s.devices_paid,
                "pools": s.modules.iter().map(|m| (m.module.clone(), json!(m.bootstrap_pool))).collect::<serde_json::Map<_, _>>(),
                "report_outcomes": outcomes,
            }));
        }
        Ok(Json(json!({"closed_epochs": closed, "epochs": rows})))
    })
    .await
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<u64>,
}

/// `GET /v1/explorer/devices/{address}/rewards?limit=`: the device's reward in each of the last
/// `limit` closed epochs (zero rows for epochs it earned nothing in).
pub async fn device_rewards(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let device: Address = parse_path(&address, "address")?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_HISTORY_EPOCHS {
        return Err(bad(
            "bad_limit",
            format!("limit = {limit}: give 1 to {MAX_HISTORY_EPOCHS} epochs"),
        ));
    }
    blocking(move || {
        let closed = node.tip().height / node.params.epoch_length_blocks;
        let view = snapshot(&node)?;
        let entry = view.device_entry(&device);
        let denied = view.is_denied(&device);
        let rows: Vec<Value> = (closed.saturating_sub(limit)..closed)
            .map(|e| match view.reward(e, &device) {
                Some(r) => json!({
                    "epoch": e,
                    "amount": r.amount,
                    "bootstrap": r.bootstrap,
                    "demand": r.demand,
                    "credits": r.credits.to_string(),
                    "shares": r.shares.to_string(),
                }),
                None => json!({"epoch": e, "amount": "0", "bootstrap": "0", "demand": "0", "credits": "0", "shares": "0"}),
            })
            .collect();
        // Tokens the registry holds for it while it is active (any module's device).
        let bond = depin_core::StateRead::get::<depin_core::Amount>(
            &view,
            &depin_core::services::devices::bond_key(&device),
        )
        .map(|b| b.0.to_string());
        view.finish().map_err(internal)?;
        let Some(entry) = entry else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                format!("{device} is not an onboarded device (never onboarded, or retired)"),
            ));
        };
        Ok(Json(json!({
            "device": device,
            "owner": entry.owner,
            "module": depin_core::modules::name_of(entry.module),
            "location": entry.location.map(|a| a.location),
            "cell": entry.location.and_then(|a| h3o::CellIndex::try_from(a.cell).ok()).map(|c| c.to_string()),
            "onboarded_height": entry.onboarded_height,
            "denied": denied,
            "bond": bond,
            "rewards": rows,
        })))
    })
    .await
}

/// Who a transaction moves tokens to, and how much, when its action says so.
fn recipient(action: &Action) -> Option<(Address, String)> {
    match action {
        Action::Transfer { to, amount } => Some((*to, amount.0.to_string())),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct BlocksQuery {
    blocks: Option<u64>,
}

/// `GET /v1/explorer/accounts/{address}/txs?blocks=`: transactions the account signed or was
/// sent tokens by in the last `blocks` blocks, newest first (the node keeps no per-account
/// index, so the window is bounded).
pub async fn account_txs(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
    Query(q): Query<BlocksQuery>,
) -> ApiResult<Json<Value>> {
    let account: Address = parse_path(&address, "address")?;
    let window = q.blocks.unwrap_or(500);
    if window == 0 || window > MAX_SCANNED_BLOCKS {
        return Err(bad(
            "bad_limit",
            format!("blocks = {window}: give 1 to {MAX_SCANNED_BLOCKS} blocks"),
        ));
    }
    blocking(move || {
        let tip = node.tip().height;
        let lowest = tip.saturating_sub(window).max(1);
        let mut txs = Vec::new();
        let mut height = tip;
        while height >= lowest && txs.len() < MAX_ACCOUNT_TXS {
            let block = node.store.block(height).map_err(internal)?;
            let receipts = node.store.receipts(height).map_err(internal)?;
            if let (Some(block), Some(receipts)) = (block, receipts) {
                for (tx, r) in block.txs.iter().zip(&receipts) {
                    let to = recipient(&tx.action);
                    if tx.signer == account || to.as_ref().is_some_and(|(a, _)| *a == account) {
                        txs.push(tx_row(tx, r, height, to));
                    }
                }
            }
            height -= 1;
        }
        txs.truncate(MAX_ACCOUNT_TXS);
        Ok(Json(json!({
            "address": account,
            "from_height": lowest,
            "to_height": tip,
            "txs": txs,
        })))
    })
    .await
}

fn tx_row(
    tx: &depin_core::Transaction,
    r: &Receipt,
    height: u64,
    to: Option<(Address, String)>,
) -> Value {
    json!({
        "hash": tx.hash(),
        "height": height,
        "signer": tx.signer,
        "type": crate::economy_api::action_type(&tx.action),
        "to": to.as_ref().map(|(a, _)| *a),
        "amount": to.map(|(_, n)| n),
        "receipt": ReceiptView::from(r),
    })
}

/// The bech32 alphabet: a character's position is its 5-bit value.
const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// The address key range `[from, to)` whose encodings start with `prefix` (`depin1` then at
/// least one data character), or `None` if it is not such a prefix.
pub fn address_prefix_range(prefix: &str) -> Option<([u8; 32], Option<[u8; 32]>)> {
    let data = prefix
        .to_ascii_lowercase()
        .strip_prefix(&format!("{}1", depin_core::crypto::ADDRESS_PREFIX))?
        .to_string();
    // 52 characters carry the 256 bits (the last 4 bits of the 52nd are padding); the six
    // after them are the checksum, read as part of a prefix only to be ignored.
    if data.is_empty() || data.len() > 58 {
        return None;
    }
    let mut bits: Vec<bool> = Vec::with_capacity(data.len() * 5);
    for ch in data.chars().take(52) {
        let v = BECH32.find(ch)?;
        for i in (0..5).rev() {
            bits.push((v >> i) & 1 == 1);
        }
    }
    bits.truncate(256);
    let mut from = [0u8; 32];
    for (i, b) in bits.iter().enumerate() {
        if *b {
            from[i / 8] |= 0x80 >> (i % 8);
        }
    }
    // The end: add one at the last fixed bit, carrying; none when every fixed bit is one.
    let mut to = from;
    let n = bits.len();
    let mut i = n;
    loop {
        if i == 0 {
            return Some((from, None));
        }
        i -= 1;
        let (byte, mask) = (i / 8, 0x80u8 >> (i % 8));
        if to[byte] & mask == 0 {
            to[byte] |= mask;
            for j in i + 1..256 {
                to[j / 8] &= !(0x80u8 >> (j % 8));
            }
            return Some((from, Some(to)));
        }
    }
}

/// Devices whose address starts with `prefix`, at most `limit`.
pub fn devices_with_prefix<R: StateRead>(view: &R, prefix: &str, limit: usize) -> Vec<Address> {
    let Some((from, to)) = address_prefix_range(prefix) else {
        return Vec::new();
    };
    let start = device_key(&Address(from));
    let end = match to {
        Some(to) => device_key(&Address(to)),
        None => {
            let mut k = device_key(&Address([0xff; 32]));
            k.push(0);
            k
        }
    };
    view.scan(&start, &end, limit)
        .into_iter()
        .map(|(k, _)| address_suffix(&k))
        .collect()
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /v1/explorer/search?q=`: what `q` names: a block height, a transaction or block hash,
/// an account or device address, or the devices whose address starts with it.
pub async fn search(
    State(node): State<Arc<Node>>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let text = q.q.unwrap_or_default().trim().to_string();
    if text.is_empty() || text.len() > 128 {
        return Err(bad(
            "bad_query",
            "give ?q= a block height, a transaction hash, an address or the start of a device's address (up to 128 characters)".into(),
        ));
    }
    blocking(move || {
        let tip = node.tip().height;
        if let Ok(height) = text.parse::<u64>() {
            if (1..=tip).contains(&height) {
                return Ok(Json(json!({"kind": "block", "height": height})));
            }
            return Ok(Json(json!({"kind": "none", "message": format!("no block at height {height}; the chain is at height {tip} (blocks start at 1)")})));
        }
        if let Ok(hash) = text.parse::<Hash>() {
            if node.store.transaction(&hash).map_err(internal)?.is_some() {
                return Ok(Json(json!({"kind": "tx", "hash": hash})));
            }
            return Ok(Json(json!({"kind": "none", "message": format!("no committed transaction {hash}")})));
        }
        if let Ok(address) = text.parse::<Address>() {
            let view = snapshot(&node)?;
            let device = view.device_entry(&address).is_some();
            view.finish().map_err(internal)?;
            let account = node.store.account(&address).map_err(internal)?.is_some();
            let kind = if device { "device" } else if account { "account" } else { "none" };
            return Ok(Json(json!({"kind": kind, "address": address, "message": if kind == "none" { Some(format!("{address} has never held tokens and is no device")) } else { None }})));
        }
        if address_prefix_range(&text).is_some() {
            let view = snapshot(&node)?;
            let found = devices_with_prefix(&view, &text, MAX_PREFIX_MATCHES + 1);
            view.finish().map_err(internal)?;
            let more = found.len() > MAX_PREFIX_MATCHES;
            let found: Vec<Address> = found.into_iter().take(MAX_PREFIX_MATCHES).collect();
            return Ok(Json(match found.len() {
                0 => json!({"kind": "none", "message": format!("no device's address starts with {text}; an address is 'depin1' and 58 more characters")}),
                1 => json!({"kind": "device", "address": found[0]}),
                _ => json!({"kind": "devices", "addresses": found, "truncated": more}),
            }));
        }
        Ok(Json(json!({"kind": "none", "message": format!("'{text}' is no block height, 64-digit hash or depin1… address")})))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_exactly_the_addresses_that_start_with_it() {
        let a = depin_core::Keypair::from_seed([9; 32]).address();
        let text = a.to_string();
        for len in [7, 10, 20, 40, 58, 62] {
            let (from, to) = address_prefix_range(&text[..len]).expect("a prefix");
            assert!(a.0 >= from, "{len}");
            if let Some(to) = to {
                assert!(a.0 < to, "{len}");
            }
        }
        let b = depin_core::Keypair::from_seed([10; 32]).address();
        let (from, to) = address_prefix_range(&text[..20]).unwrap();
        assert!(!(b.0 >= from && to.is_none_or(|t| b.0 < t)));
        assert!(address_prefix_range("depin1").is_none());
        assert!(address_prefix_range("depin1b").is_none(), "b is not bech32");
        assert!(address_prefix_range("xyz1qq").is_none());
    }
}
