//! The node's module registry: every module's HTTP routes and its explanation of a device's
//! shares, one line each. Adding a module adds its `<name>_api.rs` and a line here.

use std::sync::Arc;

use axum::Router;
use depin_core::Address;
use depin_store::Snapshot;
use serde_json::Value;

use crate::node::Node;
use crate::{compute_api, coverage_api, demand_api, governance_api, mapping_api, storage_api};

/// The routes of every module this node knows (a network that does not run one answers its
/// routes with `<name>_disabled`).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .merge(coverage_api::routes())
        .merge(demand_api::routes())
        .merge(compute_api::routes())
        .merge(mapping_api::routes())
        .merge(storage_api::routes())
        .merge(governance_api::routes())
}

/// How module `module` scored a device's `shares` in `epoch`, for the reward view.
pub fn explain_shares(
    view: &Snapshot,
    module: &str,
    epoch: u64,
    device: &Address,
    shares: u128,
) -> Option<Value> {
    match module {
        "coverage" => Some(coverage_api::explain_score(view, epoch, device, shares)),
        "compute" => Some(compute_api::explain_shares(view, epoch, device, shares)),
        "mapping" => Some(mapping_api::explain_score(view, epoch, device, shares)),
        "storage" => Some(storage_api::explain_work(view, epoch, device, shares)),
        _ => None,
    }
}
