//! HTTP endpoints of the economy, over every module: epoch summaries (emission, pools per
//! module, burns, outcomes, top earners) and each device's explained reward (its module's
//! explanation of the shares, the bootstrap and demand parts, and every refused report).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::economics::{EconomyView, EpochSummary, RewardRecord, TokenPrice};
use depin_core::{Address, Receipt};
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, blocking, parse_path, snapshot};

/// Most rejected reports a reward explanation lists.
pub const MAX_EXPLAINED_REPORTS: usize = 1_000;
/// Earners listed in an epoch summary.
pub const TOP_EARNERS: usize = 10;

/// Most reports of one device a reward explanation reads (each may decode its block): the
/// explanation says `truncated` when the device sent more in the epoch.
pub const MAX_SCANNED_REPORTS: usize = 2_000;
/// Closed epochs whose summary view is kept in memory (the explorer asks for the latest one
/// every few blocks per viewer; a closed epoch's view never changes).
pub const CACHED_EPOCH_VIEWS: usize = 8;

/// The economy's routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/epochs/latest", get(latest_epoch))
        .route("/v1/epochs/{epoch}", get(epoch))
        .route("/v1/rewards/{epoch}/{device}", get(reward))
        .layer(Extension(Arc::new(EpochViews::default())))
}

/// The views of the last few closed epochs asked for, by epoch number, most recent last.
#[derive(Default)]
pub struct EpochViews {
    views: Mutex<VecDeque<(u64, Arc<Value>)>>,
}

impl EpochViews {
    fn get(&self, epoch: u64) -> Option<Arc<Value>> {
        let views = self.views.lock().expect("epoch views lock");
        views
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, v)| v.clone())
    }

    fn keep(&self, epoch: u64, view: Arc<Value>) {
        let mut views = self.views.lock().expect("epoch views lock");
        if views.iter().any(|(e, _)| *e == epoch) {
            return;
        }
        if views.len() >= CACHED_EPOCH_VIEWS {
            views.pop_front();
        }
        views.push_back((epoch, view));
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// 404 for an epoch whose blocks are past the last height a `u64` can number.
fn beyond_heights(epoch: u64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_epoch",
        format!("epoch {epoch} lies beyond the last block height this chain can reach"),
    )
}

/// Heights of the first and last blocks of `epoch`, or 404 when they are past `u64::MAX`.
fn epoch_heights(node: &Node, epoch: u64) -> ApiResult<(u64, u64)> {
    let e = node.params.epoch_length_blocks;
    let first = epoch.checked_mul(e).and_then(|h| h.checked_add(1));
    let last = epoch.checked_add(1).and_then(|n| n.checked_mul(e));
    match (first, last) {
        (Some(first), Some(last)) => Ok((first, last)),
        _ => Err(beyond_heights(epoch)),
    }
}

fn load_summary(node: &Node, epoch: u64) -> ApiResult<EpochSummary> {
    let (_, closes) = epoch_heights(node, epoch)?;
    let view = snapshot(node)?;
    let found = view.epoch_summary(epoch);
    view.finish().map_err(internal)?;
    found.ok_or_else(|| {
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

/// The view of closed epoch `epoch`, from the cache or built and kept.
fn cached_epoch_view(node: &Node, views: &EpochViews, epoch: u64) -> ApiResult<Arc<Value>> {
    if let Some(v) = views.get(epoch) {
        return Ok(v);
    }
    let v = Arc::new(epoch_view(node, &load_summary(node, epoch)?)?);
    views.keep(epoch, v.clone());
    Ok(v)
}

fn epoch_view(node: &Node, s: &EpochSummary) -> ApiResult<Value> {
    let (from, to) = epoch_heights(node, s.epoch)?;
    let outcomes: serde_json::Map<String, Value> = node
        .store
        .report_outcomes(from, to)
        .map_err(internal)?
        .into_iter()
        .map(|(code, n)| (code, json!(n)))
        .collect();
    let view = snapshot(node)?;
    let mut earners: Vec<(Address, RewardRecord)> = view
        .epoch_rewards(s.epoch)
        .into_iter()
        .filter(|(_, r)| !r.amount.is_zero())
        .collect();
    view.finish().map_err(internal)?;
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
    // Each module's bootstrap pool and counters also at the top level (`coverage_pool`,
    // `beacons`), where dashboards and the CLI read them.
    for m in &s.modules {
        v[format!("{}_pool", m.module)] = json!(m.bootstrap_pool);
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

pub async fn latest_epoch(
    State(node): State<Arc<Node>>,
    Extension(views): Extension<Arc<EpochViews>>,
) -> ApiResult<Json<Value>> {
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
    let v = blocking(move || cached_epoch_view(&node, &views, epoch)).await?;
    Ok(Json(Value::clone(&v)))
}

pub async fn epoch(
    State(node): State<Arc<Node>>,
    Extension(views): Extension<Arc<EpochViews>>,
    Path(epoch): Path<String>,
) -> ApiResult<Json<Value>> {
    let epoch: u64 = parse_path(&epoch, "epoch")?;
    let v = blocking(move || cached_epoch_view(&node, &views, epoch)).await?;
    Ok(Json(Value::clone(&v)))
}

pub async fn reward(
    State(node): State<Arc<Node>>,
    Path((epoch, device)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let epoch: u64 = parse_path(&epoch, "epoch")?;
    let device: Address = parse_path(&device, "address")?;
    blocking(move || reward_view(&node, epoch, &device))
        .await
        .map(Json)
}

/// A device's explained reward in `epoch`; reads at most [`MAX_SCANNED_REPORTS`] of its reports.
fn reward_view(node: &Node, epoch: u64, device: &Address) -> ApiResult<Value> {
    let summary = load_summary(node, epoch)?;
    let view = snapshot(node)?;
    let record: Option<RewardRecord> = view.reward(epoch, device);
    let score = record
        .as_ref()
        .map(|r| crate::modules::explain_shares(&view, &r.module, epoch, device, r.shares));
    view.finish().map_err(internal)?;
    let module = record
        .as_ref()
        .and_then(|r| summary.module(&r.module))
        .or_else(|| summary.module("coverage"));
    let (bootstrap_pool, total_shares) = module.map_or((Default::default(), 0), |m| {
        (m.bootstrap_pool, m.total_shares)
    });
    let share_ppm = record.as_ref().map_or(0, |r| ppm(r.shares, total_shares));
    let (from, to) = epoch_heights(node, epoch)?;
    let mut reports = node
        .store
        .device_reports(device, from, to, MAX_SCANNED_REPORTS.saturating_add(1))
        .map_err(internal)?;
    let truncated = reports.len() > MAX_SCANNED_REPORTS;
    reports.truncate(MAX_SCANNED_REPORTS);
    let rejected: Vec<Value> = reports
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
        let score = score.clone().flatten();
        json!({
            "owner": r.owner,
            "module": r.module,
            "score": score,
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
    Ok(json!({
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
        // The device sent more reports than were read; the rejected list covers the first ones.
        "truncated": truncated,
    }))
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
    fn epoch_views_keep_the_last_few() {
        let views = EpochViews::default();
        for e in 0..(CACHED_EPOCH_VIEWS as u64 + 2) {
            views.keep(e, Arc::new(json!({ "epoch": e })));
        }
        assert!(views.get(0).is_none() && views.get(1).is_none());
        let last = CACHED_EPOCH_VIEWS as u64 + 1;
        assert_eq!(views.get(last).unwrap()["epoch"], json!(last));
        assert_eq!(views.get(2).unwrap()["epoch"], json!(2));
    }

    #[test]
    fn ppm_holds_for_small_and_large_totals() {
        assert_eq!(ppm(1, 0), 0);
        assert_eq!(ppm(100, 100), 1_000_000);
        assert_eq!(ppm(1, 3), 333_333);
        assert_eq!(ppm(u128::MAX / 2, u128::MAX), 499_999);
    }
}
