//! HTTP endpoints of the compute module: its parameters and totals, jobs with every task's
//! slots (each with its fate's code and sentence), a provider's stake, reputation and earnings
//! with why its reputation last moved, and block entropy (the capacity challenge's seed).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::Address;
use depin_core::modules::compute::records::{Job, Slot, Task};
use depin_core::modules::compute::verify::{proven_tier, role_name};
use depin_core::modules::compute::{ComputeParams, ComputeView};
use depin_core::services::devices::DevicesView;
use depin_store::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, Query, blocking, parse_path, snapshot};

/// Most jobs one listing returns.
pub const MAX_JOBS_PER_QUERY: usize = 200;
/// Most of a provider's slots one view lists (the most recent).
pub const MAX_PROVIDER_TASKS: usize = 200;

fn compute(node: &Node) -> ApiResult<Arc<ComputeParams>> {
    node.live_params().modules.compute.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "compute_disabled",
            "this network's genesis has no [compute] section",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The module's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/compute/params", get(params))
        .route("/v1/compute/jobs", get(jobs))
        .route("/v1/compute/jobs/{id}", get(job))
        .route("/v1/compute/providers/{address}", get(provider))
        .route("/v1/compute/entropy/{height}", get(entropy))
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = compute(&node)?;
        let p = &*p;
        let view = snapshot(&node)?;
        let totals = view.totals();
        let next_job = view.next_job_id();
        view.finish().map_err(internal)?;
        Ok(Json(json!({
            "chain_id": node.params.chain_id,
            "epoch_length_blocks": node.params.epoch_length_blocks,
            "block_interval_ms": node.params.block_interval_ms,
            "height": node.tip().height,
            "compute": p,
            "totals": totals,
            "next_job": next_job,
        })))
    })
    .await
}

fn slot_view(s: &Slot) -> Value {
    json!({
        "device": s.device,
        "owner": s.owner,
        "role": role_name(s.role),
        "claimed_height": s.claimed_height,
        "bond": s.bond.to_string(),
        "commitment": s.commitment,
        "tag": s.tag,
        "committed_height": s.committed_height,
        "result": s.result,
        "revealed_height": s.revealed_height,
        "fate": s.fate.code(),
        "why": s.fate.sentence(),
    })
}

fn task_view(index: u32, t: &Task) -> Value {
    json!({
        "task": index,
        "state": t.outcome.map_or("working", |o| o.code()),
        "why": t.outcome.map(|o| o.sentence()),
        "referees_called": t.referees_called,
        "rejections": t.rejections,
        "slots": t.slots.iter().map(slot_view).collect::<Vec<_>>(),
    })
}

fn job_view(id: u64, j: &Job, height: u64) -> Value {
    let state = if j.closed {
        "closed"
    } else if height > j.deadline_height {
        "past_deadline"
    } else {
        "open"
    };
    json!({
        "id": id,
        "state": state,
        "requester": j.requester,
        "spec_hash": j.spec_hash,
        "tasks": j.tasks,
        "unit": j.unit,
        "units_per_task": j.units_per_task,
        "price_per_unit": j.price_per_unit.to_string(),
        "posted_height": j.posted_height,
        "deadline_height": j.deadline_height,
        "min_tier": j.min_tier,
        "mode": j.mode,
        "canaries_revealed": j.canaries.is_some(),
        "escrow": j.escrow.to_string(),
        "paid": j.paid.to_string(),
        "refunded": j.refunded.to_string(),
        "settled": j.settled,
        "delivered": j.delivered,
        "caught": j.caught,
    })
}

#[derive(Deserialize)]
pub struct JobsQuery {
    from: Option<u64>,
    limit: Option<usize>,
    /// Only jobs still taking results.
    open: Option<bool>,
}

pub async fn jobs(
    State(node): State<Arc<Node>>,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        compute(&node)?;
        let limit = q.limit.unwrap_or(50).min(MAX_JOBS_PER_QUERY);
        let height = node.tip().height;
        let view = snapshot(&node)?;
        let open_only = q.open.unwrap_or(false);
        let mut out = Vec::new();
        let mut from = q.from.unwrap_or(0);
        // Open jobs are read in pages so closed ones do not use up the limit.
        loop {
            let page = view.jobs(from, MAX_JOBS_PER_QUERY);
            let Some((last, _)) = page.last() else { break };
            from = last + 1;
            for (id, j) in &page {
                if !open_only || (!j.closed && height <= j.deadline_height) {
                    out.push(job_view(*id, j, height));
                }
            }
            if out.len() >= limit || page.len() < MAX_JOBS_PER_QUERY {
                break;
            }
        }
        out.truncate(limit);
        view.finish().map_err(internal)?;
        Ok(Json(json!({"height": height, "jobs": out})))
    })
    .await
}

pub async fn job(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(move || {
        compute(&node)?;
        let id: u64 = parse_path(&id, "job")?;
        let height = node.tip().height;
        let view = snapshot(&node)?;
        let found = view.job(id);
        let tasks = view.tasks(id, 0, usize::MAX);
        view.finish().map_err(internal)?;
        let Some(j) = found else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_job",
                format!("there is no job {id}"),
            ));
        };
        let mut v = job_view(id, &j, height);
        v["task_records"] = json!(
            tasks
                .iter()
                .map(|(i, t)| task_view(*i, t))
                .collect::<Vec<_>>()
        );
        Ok(Json(v))
    })
    .await
}

/// JSON view of a provider, with its reputation explained.
pub fn provider_view(node: &Node, view: &Snapshot, address: &Address) -> Option<Value> {
    let p = view.provider(address)?;
    let params = node.live_params().modules.compute.clone()?;
    let epoch = node.tip().height / node.params.epoch_length_blocks;
    let owner = view.device_entry(address).map_or(p.owner, |e| e.owner);
    let mut tasks = view.provider_tasks(address, usize::MAX);
    let skip = tasks.len().saturating_sub(MAX_PROVIDER_TASKS);
    tasks.drain(..skip);
    let last = p.record.last.as_ref().map(|e| {
        json!({
            "height": e.height,
            "job": e.job,
            "task": e.task,
            "fate": e.fate.code(),
            "why": e.fate.sentence(),
        })
    });
    Some(json!({
        "address": address,
        "module": "compute",
        "owner": owner,
        "class": p.class,
        "benchmark": p.benchmark,
        "tier": proven_tier(&params, &p, epoch),
        "proven_epoch": p.proven_epoch,
        "retired": p.retired,
        "stake": p.stake.to_string(),
        "bonded": p.bonded.to_string(),
        "reputation_bps": p.record.reputation_bps(),
        "reputation_rule": "mean of Beta(verified + 1, failed + abandoned + 1); rejections by requesters do not count",
        "verified": p.record.verified,
        "failed": p.record.failed,
        "abandoned": p.record.abandoned,
        "rejected": p.record.rejected,
        "earned": p.record.earned.to_string(),
        "slashed": p.record.slashed.to_string(),
        "last_change": last,
        "tasks": tasks.iter().map(|(j, t)| json!({"job": j, "task": t})).collect::<Vec<_>>(),
    }))
}

pub async fn provider(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        compute(&node)?;
        let address: Address = parse_path(&address, "address")?;
        let view = snapshot(&node)?;
        let out = provider_view(&node, &view, &address);
        view.finish().map_err(internal)?;
        out.map(Json).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_provider",
                format!("{address} is not a compute provider"),
            )
        })
    })
    .await
}

pub async fn entropy(
    State(node): State<Arc<Node>>,
    Path(height): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        compute(&node)?;
        let height: u64 = parse_path(&height, "height")?;
        let view = snapshot(&node)?;
        let e = view.entropy(height);
        view.finish().map_err(internal)?;
        e.map(|e| Json(json!({"height": height, "entropy": e})))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_entropy",
                    format!("the ledger keeps no entropy for height {height} (not yet produced, or too old)"),
                )
            })
    })
    .await
}

/// How a compute provider's shares were earned in `epoch` (the `score` of a reward view): its
/// benchmark, proven by answering the epoch's capacity challenge in time.
pub fn explain_shares(view: &Snapshot, epoch: u64, device: &Address, shares: u128) -> Value {
    let p = view.provider(device);
    json!({
        "rule": "shares = the declared benchmark, for providers that answered the epoch's capacity challenge in time; paid work earns from the demand pool instead",
        "epoch": epoch,
        "benchmark": p.as_ref().map(|p| p.benchmark),
        "proven_epoch": p.as_ref().and_then(|p| p.proven_epoch),
        "shares": shares.to_string(),
    })
}
