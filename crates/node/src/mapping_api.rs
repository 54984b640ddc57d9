//! HTTP endpoints of the mapping module: its parameters (and the centre of its first region,
//! for agents), what a map user sees of a cell (freshness, last contributors, open bounties)
//! and of an area (the freshness of every recently mapped cell under a parent cell), a
//! dashcam's record with its recent tallies and earnings, its bundles with each frame's
//! verdict, and bounties.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::Address;
use depin_core::economics::EconomyView;
use depin_core::modules::mapping::MappingParams;
use depin_core::modules::mapping::records::{BundleRecord, CellRecord, MappingView, Tally};
use depin_core::modules::mapping::verify::freshness_ppm;
use depin_core::services::devices::DevicesView;
use depin_store::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, Query, blocking, parse_path, snapshot};

/// Most cells one area query returns.
pub const MAX_CELLS_PER_QUERY: usize = 20_000;
/// Most epochs of history one dashcam query reads.
pub const MAX_EPOCHS_PER_QUERY: u64 = 64;

fn mapping(node: &Node) -> ApiResult<Arc<MappingParams>> {
    node.live_params().modules.mapping.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "mapping_disabled",
            "this network's genesis has no [mapping] section",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The module's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/mapping/params", get(params))
        .route("/v1/mapping/cells", get(cells_under))
        .route("/v1/mapping/cells/{cell}", get(cell))
        .route("/v1/mapping/dashcams/{address}", get(dashcam))
        .route("/v1/mapping/dashcams/{address}/bundles", get(bundles))
        .route("/v1/mapping/bounties/{id}", get(bounty))
}

/// How a dashcam's shares were scored in `epoch` (the `score` of a reward view).
pub fn explain_score(view: &Snapshot, epoch: u64, device: &Address, shares: u128) -> Value {
    let t = view.tally(epoch, device).unwrap_or_default();
    let regions = node_regions(view);
    let mut v = tally_view(regions.as_deref(), &t, shares);
    // The bound on freshness per pass the close applied in each region.
    let medians: Vec<Value> = view
        .pass_medians(epoch)
        .iter()
        .map(|m| {
            json!({
                "region": regions.as_ref().and_then(|n| n.get(m.region as usize)).cloned(),
                "median_freshness_ppm": m.weight,
                "median_passes": m.passes,
                "capped_ppm": m.capped,
            })
        })
        .collect();
    v["pass_medians"] = json!(medians);
    v
}

fn node_regions(view: &Snapshot) -> Option<Vec<String>> {
    use depin_core::StateRead;
    let p = view.params().modules.mapping.as_ref()?;
    Some(p.regions.iter().map(|r| r.name.clone()).collect())
}

fn tally_view(regions: Option<&[String]>, t: &Tally, shares: u128) -> Value {
    let per_region: Vec<Value> = t
        .regions
        .iter()
        .map(|(r, w)| {
            let name = regions.and_then(|n| n.get(*r as usize)).cloned();
            let passes = t
                .passes
                .binary_search_by_key(r, |(x, _)| *x)
                .map_or(0, |i| t.passes[i].1);
            json!({"region": name, "freshness_ppm": w, "passes": passes})
        })
        .collect();
    json!({
        "bundles": t.bundles,
        "frames_paid": t.frames_paid,
        "frames_flagged": t.frames_flagged,
        "regions": per_region,
        "bounty_claimed": t.bounty,
        "shares": shares.to_string(),
    })
}

fn hex_cell(cell: u64) -> String {
    format!("{cell:x}")
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let p = mapping(&node)?;
    let mut view = serde_json::to_value(&*p).map_err(internal)?;
    // H3 indices exceed 2^53, which JSON readers in browsers cannot hold: give them as hex.
    for (i, region) in p.regions.iter().enumerate() {
        let hex: Vec<String> = region.cells.iter().map(|c| hex_cell(*c)).collect();
        view["regions"][i]["cells"] = json!(hex);
    }
    Ok(Json(json!({
        "chain_id": node.params.chain_id,
        "epoch_length_blocks": node.params.epoch_length_blocks,
        "block_interval_ms": node.params.block_interval_ms,
        "center": p.region_center(0),
        "mapping": view,
    })))
}

fn parse_cell(text: &str) -> ApiResult<u64> {
    let cell: h3o::CellIndex = text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_cell",
            format!("'{text}' is not an H3 cell index in hex"),
        )
    })?;
    Ok(u64::from(cell))
}

/// A cell's freshness as of `now_ms`.
fn cell_view(p: &MappingParams, cell: u64, c: Option<&CellRecord>, now_ms: u64) -> Value {
    // The weight a new dashcam's frame would earn now.
    let nobody = Address([0; 32]);
    let weight = freshness_ppm(p, c, &nobody, now_ms);
    json!({
        "cell": hex_cell(cell),
        "freshness_ppm": weight,
        "last_mapped_ms": c.map(|c| c.last_mapped_ms),
        "age_ms": c.map(|c| now_ms.saturating_sub(c.last_mapped_ms)),
        "last_dashcam": c.map(|c| c.last_device),
    })
}

pub async fn cell(
    State(node): State<Arc<Node>>,
    Path(text): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = mapping(&node)?;
        let cell = parse_cell(&text)?;
        let now_ms = node.tip().time_ms;
        let view = snapshot(&node)?;
        let record = view.cell(cell);
        let mut out = cell_view(&p, cell, record.as_ref(), now_ms);
        let recent: Vec<Value> = record
            .iter()
            .flat_map(|c| c.recent.iter())
            .map(|s| json!({"dashcam": s.device, "time_ms": s.time_ms, "phash": format!("{:016x}", s.phash)}))
            .collect();
        out["recent"] = json!(recent);
        let bounties: Vec<Value> = view
            .bounties_on(cell)
            .into_iter()
            .filter_map(|(id, claimants)| {
                let b = view.bounty(id)?;
                Some(json!({
                    "id": id,
                    "per_pass": b.per_part,
                    "passes": b.passes,
                    "until_ms": b.until_ms,
                    "claimed_by": claimants,
                }))
            })
            .collect();
        out["bounties"] = json!(bounties);
        view.finish().map_err(internal)?;
        Ok(Json(out))
    })
    .await
}

#[derive(Deserialize)]
pub struct AreaQuery {
    parent: Option<String>,
    limit: Option<usize>,
}

pub async fn cells_under(
    State(node): State<Arc<Node>>,
    Query(q): Query<AreaQuery>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = mapping(&node)?;
        let text = q.parent.ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_cell",
                "give ?parent=<H3 cell index in hex, resolution 12 or coarser>",
            )
        })?;
        let parent = parse_cell(&text)?;
        let limit = q
            .limit
            .unwrap_or(MAX_CELLS_PER_QUERY)
            .min(MAX_CELLS_PER_QUERY);
        let now_ms = node.tip().time_ms;
        let view = snapshot(&node)?;
        let mut found = view.cells_under(parent, limit.saturating_add(1));
        let truncated = found.len() > limit;
        found.truncate(limit);
        let cells: Vec<Value> = found
            .iter()
            .map(|(cell, c)| cell_view(&p, *cell, Some(c), now_ms))
            .collect();
        view.finish().map_err(internal)?;
        Ok(Json(json!({
            "parent": text,
            "now_ms": now_ms,
            "cells": cells,
            "truncated": truncated,
        })))
    })
    .await
}

pub async fn dashcam(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        mapping(&node)?;
        let address: Address = parse_path(&address, "address")?;
        let tip = node.tip();
        let view = snapshot(&node)?;
        let Some(d) = view.dashcam(&address) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_dashcam",
                format!("{address} is not an onboarded dashcam (never onboarded, or retired)"),
            ));
        };
        let regions = node_regions(&view);
        let current = tip.height / node.params.epoch_length_blocks;
        let mut epochs = Vec::new();
        for e in (current.saturating_sub(MAX_EPOCHS_PER_QUERY - 1)..=current).rev() {
            let Some(t) = view.tally(e, &address) else {
                continue;
            };
            let reward = view.reward(e, &address);
            let shares = reward.as_ref().map_or(0, |r| r.shares);
            let mut v = tally_view(regions.as_deref(), &t, shares);
            v["epoch"] = json!(e);
            v["closed"] = json!(e < current);
            v["reward"] = json!(reward.map(|r| r.amount));
            epochs.push(v);
        }
        let out = json!({
            "address": address,
            "module": "mapping",
            "owner": d.entry.owner,
            "denied": view.is_denied(&address),
            "onboarded_height": d.entry.onboarded_height,
            "last_seq": d.record.last_seq,
            "last_frame_ms": d.record.last_frame_ms,
            "bundles": d.record.bundles,
            "frames_paid": d.record.frames_paid,
            "frames_flagged": d.record.frames_flagged,
            "epochs": epochs,
        });
        view.finish().map_err(internal)?;
        Ok(Json(out))
    })
    .await
}

fn bundle_view(seq: u64, b: &BundleRecord) -> Value {
    let frames: Vec<Value> = b
        .verdicts
        .iter()
        .map(|v| match &v.fault {
            None => json!({"cell": hex_cell(v.cell), "freshness_ppm": v.weight_ppm}),
            Some(f) => json!({
                "cell": hex_cell(v.cell),
                "freshness_ppm": 0,
                "flagged": f.code(),
                "why": f.to_string(),
            }),
        })
        .collect();
    json!({
        "seq": seq,
        "height": b.height,
        "uploader": b.uploader,
        "first_ms": b.first_ms,
        "last_ms": b.last_ms,
        "frames": frames,
    })
}

#[derive(Deserialize)]
pub struct EpochQuery {
    epoch: Option<u64>,
}

pub async fn bundles(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
    Query(q): Query<EpochQuery>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        mapping(&node)?;
        let address: Address = parse_path(&address, "address")?;
        let epoch = q
            .epoch
            .unwrap_or(node.tip().height / node.params.epoch_length_blocks);
        let view = snapshot(&node)?;
        let list: Vec<Value> = view
            .bundles(epoch, &address, 10_000)
            .iter()
            .map(|(seq, b)| bundle_view(*seq, b))
            .collect();
        view.finish().map_err(internal)?;
        Ok(Json(
            json!({"dashcam": address, "epoch": epoch, "bundles": list}),
        ))
    })
    .await
}

pub async fn bounty(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        mapping(&node)?;
        let id: u64 = id.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_id",
                format!("'{id}' is not a bounty id"),
            )
        })?;
        let view = snapshot(&node)?;
        let b = view.bounty(id);
        view.finish().map_err(internal)?;
        let b = b.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_bounty",
                format!("bounty {id} is not open (never opened, or ended and settled)"),
            )
        })?;
        let cells: Vec<String> = b.cells.iter().map(|c| hex_cell(*c)).collect();
        Ok(Json(json!({
            "id": id,
            "funder": b.funder,
            "amount": b.amount,
            "per_pass": b.per_part,
            "passes": b.passes,
            "cells": cells,
            "opened_ms": b.opened_ms,
            "until_ms": b.until_ms,
            "claimed_passes": b.claimed_parts,
        })))
    })
    .await
}
