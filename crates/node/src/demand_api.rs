//! HTTP endpoints of the demand module: the oracle's quote and the prices of data, an account's
//! credits and the delegations it made, and a device's paid traffic in the epoch in progress.
//!
//! Prices are given twice: as USD decimal strings (`"0.5"`) for people and as the ledger's raw
//! fixed-point integers (USD x 10^8) for scripts that convert with depin-core.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use depin_core::economics::{CreditPeg, EconomyView, RewardRecord, credits_for_burn, usd_text};
use depin_core::services::demand::MarketParams;
use depin_core::services::demand::records::{CreditBalance, DemandView, DeviceUsage, quote_from};
use depin_core::services::devices::DevicesView;
use depin_core::{Address, Amount};
use serde_json::{Value, json};

use crate::node::Node;
use crate::reply::{ApiError, ApiResult, Path, blocking, parse_path, snapshot};

/// The demand service's routes (one line in [`crate::modules::routes`]).
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/v1/oracle", get(oracle))
        .route("/v1/credits/{address}", get(credits))
        .route("/v1/usage/{device}", get(usage))
}

/// Most delegations one credits query lists.
pub const MAX_DELEGATIONS_PER_QUERY: usize = 10_000;
/// Most oracles `/v1/oracle` lists (the set is governed and small; this bounds a bad proposal).
pub const MAX_ORACLES_PER_QUERY: usize = 1_000;

/// The demand parameters, or 404 `demand_disabled` on a network without a `[demand]` section.
pub fn demand(node: &Node) -> ApiResult<Arc<MarketParams>> {
    node.live_params().modules.demand.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "demand_disabled",
            "this network's genesis has no [demand] section: no oracle, credits or paid data",
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// A fixed-point USD value (10^-8 USD units) as `{"usd": "0.5", "raw": 50000000}`.
fn usd_view(raw: u64) -> Value {
    json!({"usd": usd_text(u128::from(raw)), "raw": raw})
}

/// USD value of `credits` at the peg as a decimal string, or null past 128 bits.
fn credits_usd(credits: u128, peg: CreditPeg) -> Value {
    json!(peg.usd_text(credits))
}

/// At most `limit` of `entries` (read with one more than the limit) and whether more were left
/// out.
fn page<T>(mut entries: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let truncated = entries.len() > limit;
    entries.truncate(limit);
    (entries, truncated)
}

/// `GET /v1/oracle`: the quote at the tip's block time, each oracle's latest price, the credit
/// peg and the prices of data and fees in credits. `truncated` says the oracle list was cut at
/// [`MAX_ORACLES_PER_QUERY`], and then the quote, taken over the listed oracles only, may differ
/// from the ledger's.
pub async fn oracle(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = demand(&node)?;
        let p = &*p;
        let tip = node.tip();
        let now_ms = tip.time_ms;
        let view = snapshot(&node)?;
        let (oracles, truncated) = page(
            view.oracles(MAX_ORACLES_PER_QUERY.saturating_add(1)),
            MAX_ORACLES_PER_QUERY,
        );
        let emergency_key = depin_core::services::authority::emergency_key(&view);
        view.finish().map_err(internal)?;
        let quote = quote_from(p, oracles.iter().map(|(_, o)| o), now_ms);
        let fresh = oracles
            .iter()
            .filter_map(|(_, o)| o.latest)
            .filter(|r| r.is_fresh(p, now_ms))
            .count();
        let listed: Vec<Value> = oracles
            .iter()
            .map(|(address, o)| match o.latest {
                Some(r) => json!({
                    "address": address,
                    "price": usd_view(r.price.0),
                    "observed_at_ms": r.observed_at_ms,
                    "age_ms": now_ms.saturating_sub(r.observed_at_ms),
                    "height": r.height,
                    "fresh": r.is_fresh(p, now_ms),
                }),
                None => json!({"address": address, "price": null, "fresh": false}),
            })
            .collect();
        let decimals = node.params.decimals;
        let one_token = Amount(10u128.pow(u32::from(decimals)));
        let quote_view = quote.map(|q| {
            // Null past 128 bits, like every number this API cannot give.
            let per_token = credits_for_burn(one_token, q.minting, decimals, p.credit_peg)
                .ok()
                .map(|c| c.to_string());
            json!({
                "median": usd_view(q.median.0),
                "minting": usd_view(q.minting.0),
                "credits_per_token": per_token,
            })
        });
        Ok(Json(json!({
            "height": tip.height,
            "time_ms": now_ms,
            "quote": quote_view,
            "fresh_prices": fresh,
            "min_oracle_prices": p.min_oracle_prices,
            "price_window_ms": p.price_window_ms,
            "price_max_age_ms": p.price_max_age_ms,
            "emergency_key": emergency_key,
            "oracles": listed,
            "truncated": truncated,
            "credit_usd": usd_view(p.credit_peg.0),
            "token": {"symbol": node.params.token_symbol, "decimals": decimals},
            "prices": {
                "packet_credits": p.packet_credits,
                "kb_credits": p.kb_credits,
                "onboard_fee_credits": p.onboard_fee_credits,
                "location_fee_credits": p.location_fee_credits,
            },
            "receipt_max_age_ms": p.receipt_max_age_ms,
        })))
    })
    .await
}

/// `GET /v1/credits/{address}`: the account's credits, what it may spend them on, its totals,
/// the delegations it made and the USD value at the peg. An account that never held credits
/// answers zeros with `"known": false`; `truncated` says the delegations were cut at
/// [`MAX_DELEGATIONS_PER_QUERY`].
pub async fn credits(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = demand(&node)?;
        let p = &*p;
        let address: Address = parse_path(&address, "address")?;
        let height = node.tip().height;
        let view = snapshot(&node)?;
        let balance: Option<CreditBalance> = view.credits(&address);
        let known = balance.is_some();
        let b = balance.unwrap_or_default();
        let (delegated, truncated) = page(
            view.delegations(&address, MAX_DELEGATIONS_PER_QUERY.saturating_add(1)),
            MAX_DELEGATIONS_PER_QUERY,
        );
        view.finish().map_err(internal)?;
        let delegations: Vec<Value> = delegated
            .into_iter()
            .map(|(payer, credits)| json!({"payer": payer, "credits": credits.to_string()}))
            .collect();
        let mut view = serde_json::to_value(b).map_err(internal)?;
        view["address"] = json!(address);
        view["known"] = json!(known);
        view["height"] = json!(height);
        view["spendable_on_data"] = json!(b.spendable_on_data().to_string());
        view["spendable_on_fees"] = json!(b.own.to_string());
        view["usd_value"] = credits_usd(b.spendable_on_data(), p.credit_peg);
        view["delegations"] = Value::Array(delegations);
        view["truncated"] = json!(truncated);
        Ok(Json(view))
    })
    .await
}

/// `GET /v1/usage/{device}`: the traffic a device carried and the credits burned for it in the
/// epoch of the tip (a closed epoch's usage is in its reward record, `/v1/rewards/...`).
///
/// The store may commit the block that closes that epoch while the request reads it; the close
/// takes the usage out of the state, so the answer then comes from the epoch's reward record,
/// with `"closed": true` and the receipt count and token cost, which it does not keep, null.
pub async fn usage(
    State(node): State<Arc<Node>>,
    Path(device): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let p = demand(&node)?;
        let p = &*p;
        let device: Address = parse_path(&device, "address")?;
        let length = node.params.epoch_length_blocks;
        // The next block belongs to epoch `tip / length` (block `length` closes epoch 0).
        let height = node.tip().height;
        let epoch = height / length;
        let closes_at = epoch.saturating_add(1).saturating_mul(length);
        let view = snapshot(&node)?;
        let used: Option<DeviceUsage> = view.usage(epoch, &device);
        // The store commits a block before the tip moves, so a close committed since the tip was
        // read shows here; a usage read before the close stays valid for the epoch.
        let closed = used.is_none() && node.store.height().map_err(internal)? >= closes_at;
        let rewarded: Option<RewardRecord> = if closed {
            view.reward(epoch, &device)
        } else {
            None
        };
        let registered = view.device_entry(&device).is_some();
        view.finish().map_err(internal)?;
        if used.is_none() && rewarded.is_none() && !registered {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_device",
                format!("{device} is not an onboarded device (never onboarded, or retired)"),
            ));
        }
        let (mut view, credits) = match rewarded {
            Some(r) => (
                json!({
                    "credits": r.credits.to_string(),
                    "packets": r.packets,
                    "bytes": r.bytes,
                    "receipts": null,
                    "token_cost": null,
                }),
                r.credits,
            ),
            None => {
                let u = used.unwrap_or_default();
                (serde_json::to_value(u).map_err(internal)?, u.credits)
            }
        };
        view["device"] = json!(device);
        view["registered"] = json!(registered);
        view["height"] = json!(height);
        view["epoch"] = json!(epoch);
        view["epoch_closes_at_height"] = json!(closes_at);
        view["closed"] = json!(closed);
        view["usd_value"] = credits_usd(credits, p.credit_peg);
        Ok(Json(view))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_text_has_eight_decimals_trimmed() {
        assert_eq!(usd_text(50_000_000), "0.5");
        assert_eq!(usd_text(1_000), "0.00001");
        assert_eq!(usd_text(123_400_000_000), "1234");
        assert_eq!(credits_usd(4_000_000, CreditPeg(1_000)), "40");
    }

    #[test]
    fn usd_past_128_bits_is_null_not_text() {
        assert_eq!(credits_usd(u128::MAX, CreditPeg(1_000)), Value::Null);
        assert_eq!(
            usd_view(50_000_000),
            json!({"usd": "0.5", "raw": 50_000_000})
        );
    }
}
