//! HTTP endpoints of governance: its parameters (with the emergency key marked as such), the
//! network's parameters in force, proposals with their tallies and a sentence on where each
//! stands, an account's stake and voting weight, the slashes, and the validator set with its
//! candidates and who the next boundary would elect.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::services::governance::proposal::outcome;
use depin_core::services::governance::records::GovernanceView;
use depin_core::services::governance::stake::{is_member, voting_weight};
use depin_core::services::governance::{GovernanceParams, Proposal, Status};
use depin_core::{Address, StateRead};
use depin_store::Snapshot;
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, blocking, parse_path, snapshot};

/// Most proposals one list returns (the newest).
pub const MAX_PROPOSALS_PER_QUERY: usize = 100;
/// Most votes one proposal view lists.
pub const MAX_VOTES_PER_QUERY: usize = 1_000;

/// The module's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/governance/params", get(params))
        .route("/v1/governance/proposals", get(proposals))
        .route("/v1/governance/proposals/{id}", get(proposal))
        .route("/v1/governance/stake/{address}", get(stake))
        .route("/v1/governance/slashes", get(slashes))
        .route("/v1/governance/validators", get(validators))
}

fn governance(view: &Snapshot) -> ApiResult<GovernanceParams> {
    view.params()
        .modules
        .governance
        .as_deref()
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "governance_disabled",
                "this network's genesis has no [governance] section",
            )
        })
}

/// Where a proposal stands, in a sentence.
pub fn explain(p: &Proposal, height: u64) -> String {
    let turnout = p.yes.0 + p.no.0 + p.abstain.0;
    match &p.status {
        Status::Voting => {
            let now = match outcome(
                p.eligible,
                p.yes,
                p.no,
                p.abstain,
                p.quorum_bps,
                p.threshold_bps,
            ) {
                Ok(()) => "would pass if it closed now".to_string(),
                Err((code, why)) => format!("would fail now ({code}: {why})"),
            };
            format!(
                "voting until height {} ({} blocks left): {turnout} of {} eligible base units voted; {now}",
                p.voting_end_height,
                p.voting_end_height.saturating_sub(height),
                p.eligible.0
            )
        }
        Status::Passed { effective_epoch } if p.emergency => format!(
            "enacted by the emergency key without a vote; takes effect at the start of epoch {effective_epoch}"
        ),
        Status::Passed { effective_epoch } => format!(
            "passed with {} yes, {} no, {} abstain of {} eligible; takes effect at the start of epoch {effective_epoch}",
            p.yes.0, p.no.0, p.abstain.0, p.eligible.0
        ),
        Status::Rejected { code, why } => format!("rejected ({code}): {why}"),
        Status::Applied { epoch, height } => {
            format!("in force since height {height}, the first block of epoch {epoch}")
        }
        Status::Failed { code, why } => format!("passed but could not be applied ({code}): {why}"),
    }
}

fn proposal_view(p: &Proposal, height: u64) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    v["explanation"] = json!(explain(p, height));
    v
}

pub async fn params(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let view = snapshot(&node)?;
        let g = governance(&view)?;
        let in_force = serde_json::to_value(view.params()).map_err(ApiError::internal)?;
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(json!({
            "governance": g,
            "emergency_key": g.emergency_key.map(|k| json!({
                "address": k,
                "emergency": true,
                "note": "an emergency key (devnet): the one key that may change the denylists and the oracle set directly, and enact any change without a vote at the next epoch boundary; everyone else proposes",
            })),
            "params_in_force": in_force,
        })))
    })
    .await
}

pub async fn proposals(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let view = snapshot(&node)?;
        governance(&view)?;
        let height = node.tip().height;
        let list: Vec<Value> = view
            .proposals(MAX_PROPOSALS_PER_QUERY)
            .iter()
            .map(|p| proposal_view(p, height))
            .collect();
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(json!({ "proposals": list })))
    })
    .await
}

pub async fn proposal(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let id: u64 = parse_path(&id, "proposal")?;
        let view = snapshot(&node)?;
        governance(&view)?;
        let p = view.proposal(id).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_proposal",
                format!("there is no proposal {id}; list them at /v1/governance/proposals"),
            )
        })?;
        let mut out = proposal_view(&p, node.tip().height);
        let votes: Vec<Value> = view
            .votes_on(id, MAX_VOTES_PER_QUERY)
            .iter()
            .map(|(voter, v)| json!({"voter": voter, "choice": v.choice, "weight": v.weight}))
            .collect();
        out["votes"] = json!(votes);
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(out))
    })
    .await
}

pub async fn stake(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let address: Address = parse_path(&address, "address")?;
        let view = snapshot(&node)?;
        governance(&view)?;
        let height = node.tip().height;
        let s = view.stake_of(&address);
        // The weight it would have on a proposal opened in the next block.
        let (weight, devices) = voting_weight(&view, &address, height + 1, u64::MAX);
        // What the validator it backs paid it at the last close, and whether its stake is in
        // the exposure that shares the next one.
        use depin_core::services::governance::rewards::{exposure_of, split_of};
        let backs = s.backs(&address);
        let length = view.params().epoch_length_blocks.max(1);
        let last_epoch = (height / length).checked_sub(1);
        let last_reward = last_epoch.and_then(|e| {
            let split = split_of(&view, e, &backs)?;
            let paid = split.backers.iter().find(|b| b.staker == address)?;
            Some(json!({"epoch": e, "validator": backs, "amount": paid.amount}))
        });
        let exposed = backs != address
            && exposure_of(&view, &backs)
                .backers
                .iter()
                .any(|b| b.staker == address);
        let out = json!({
            "address": address,
            "bonded": s.amount,
            "backs": s.backs(&address),
            "since_height": s.since_height,
            "unbonding": s.unbonding,
            "voting_weight": weight,
            "devices_counted": devices.len(),
            "validator": is_member(&view, &address),
            "backing": view.backing_of(&address),
            "last_backer_reward": last_reward,
            "exposed_for_next_pay": exposed,
            "jail": view.jail_of(&address),
            "totals": view.stake_totals(),
        });
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(out))
    })
    .await
}

pub async fn slashes(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let view = snapshot(&node)?;
        governance(&view)?;
        let decimals = view.params().decimals;
        let list: Vec<Value> = view
            .slashes(MAX_PROPOSALS_PER_QUERY)
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                v["explanation"] = json!(s.explain(decimals));
                v
            })
            .collect();
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(json!({ "slashes": list })))
    })
    .await
}

/// The validator set in force, the election's parameters and last outcome, every declared
/// candidate with its self-bond, backing and rank, who the next boundary would elect if stake
/// stayed as it is, and each validator's turns in the reward epoch so far.
pub async fn validators(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    use depin_core::services::governance::election::{decide, guard, standings};
    use depin_core::services::governance::liveness::turns_of;
    blocking(move || {
        let view = snapshot(&node)?;
        let g = governance(&view)?;
        let set = view.validators();
        let all = standings(&view);
        let next = (g.max_validators > 0).then(|| decide(&all, &g, set.len()));
        use depin_core::services::governance::rewards::{
            FULL_COMMISSION_BPS, commission_record, exposure_of,
        };
        let epoch = node.tip().height / view.params().epoch_length_blocks.max(1);
        use depin_core::services::governance::p2p::p2p_endpoint_of;
        let commission = |a: &Address| {
            let record = commission_record(&view, a);
            json!({
                "bps": record.map_or(FULL_COMMISSION_BPS, |c| c.at(epoch)),
                "set": record.is_some(),
                "next": record.and_then(|c| c.next),
            })
        };
        let candidates: Vec<Value> = all
            .iter()
            .map(|c| {
                let rank = next
                    .as_ref()
                    .and_then(|o| o.elected.iter().position(|a| *a == c.address));
                json!({
                    "address": c.address,
                    "self_bond": c.self_bond,
                    "backing": c.backing,
                    "jailed": c.jailed,
                    "qualifies": c.qualifies(g.min_validator_bond),
                    "since_height": view.candidacy_of(&c.address).map(|d| d.since_height),
                    "rank": rank.map(|r| r + 1),
                    "commission": commission(&c.address),
                    "p2p": p2p_endpoint_of(&view, &c.address),
                    "elected_next": rank.is_some() && next.as_ref().is_some_and(|o| o.kept.is_none()),
                })
            })
            .collect();
        let members: Vec<Value> = set
            .iter()
            .map(|v| {
                json!({
                    "address": v.address,
                    "power": v.power,
                    "turns_this_epoch": turns_of(&view, &v.address),
                    "jail": view.jail_of(&v.address),
                    "commission": commission(&v.address),
                    "p2p": p2p_endpoint_of(&view, &v.address),
                    "exposed_backers": exposure_of(&view, &v.address).backers.len(),
                })
            })
            .collect();
        let out = json!({
            "election": g.max_validators > 0,
            "max_validators": g.max_validators,
            "min_validator_bond": g.min_validator_bond,
            "validator_reward_bps": g.validator_reward_bps,
            "validators": members,
            "candidates": candidates,
            "next": next.map(|o| {
                // What the boundary's liveness guard would seat if the epoch ended now: the
                // producers so far are this epoch's turns.
                let before: Vec<Address> = set.iter().map(|v| v.address).collect();
                let mut producers: Vec<Address> = before
                    .iter()
                    .filter(|a| turns_of(&view, a).produced > 0)
                    .copied()
                    .collect();
                producers.sort();
                let chosen = if o.kept.is_none() { o.elected.clone() } else { before.clone() };
                let guarded = guard(&chosen, &before, &producers, g.max_validators as usize, |a| {
                    view.jail_of(a).is_none_or(|j| j.reason != "equivocation")
                });
                json!({
                    "qualified": o.qualified,
                    "elected": if o.kept.is_none() { o.elected } else { Vec::new() },
                    "kept": o.kept.map(|(code, why)| json!({"code": code, "why": why})),
                    "takes_office_if_the_epoch_ended_now": guarded.set,
                    "reseated": guarded.reseated,
                    "deferred": guarded.deferred,
                })
            }),
            "last_election": view.last_election(),
        });
        view.finish().map_err(ApiError::internal)?;
        Ok(Json(out))
    })
    .await
}
