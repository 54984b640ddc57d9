//! HTTP endpoints of the demand module: the oracle's quote and the prices of data, an account's
//! credits and the delegations it made, and a device's paid traffic in the epoch in progress.
//!
//! Prices are given twice: as USD decimal strings (`"0.5"`) for people and as the ledger's raw
//! fixed-point integers (USD x 10^8) for scripts that convert with depin-core.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use depin_core::codec::Decode;
use depin_core::economics::credits::PRICE_DECIMALS;
use depin_core::economics::{CreditPeg, TokenPrice, credits_for_burn};
use depin_core::modules::coverage::device::{Device, address_suffix, device_key};
use depin_core::modules::demand::MarketParams;
use depin_core::modules::demand::records::{
    CreditBalance, DeviceUsage, OracleRecord, credits_key, delegation_key, quote_from, usage_key,
};
use depin_core::state::table;
use depin_core::{Address, Amount};
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, parse_path};
use crate::node::Node;

/// Most delegations one credits query lists.
pub const MAX_DELEGATIONS_PER_QUERY: usize = 10_000;
/// Most oracles `/v1/oracle` lists (the set is governed and small; this bounds a bad governor).
pub const MAX_ORACLES_PER_QUERY: usize = 1_000;

/// The demand parameters, or 404 `demand_disabled` on a network without a `[demand]` section.
pub fn demand(node: &Node) -> ApiResult<&MarketParams> {
    node.params.demand.as_deref().ok_or_else(|| {
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

/// USD decimal text of a fixed-point USD value (10^-8 USD units).
pub fn usd_text(units: u128) -> String {
    Amount(units).display(PRICE_DECIMALS)
}

/// A token price as `{"usd": "0.5", "raw": 50000000}`.
pub fn price_view(price: TokenPrice) -> Value {
    json!({"usd": usd_text(u128::from(price.0)), "raw": price.0})
}

/// USD value of `credits` at the peg, as a decimal string.
pub fn credits_usd(credits: u128, peg: CreditPeg) -> String {
    credits
        .checked_mul(u128::from(peg.0))
        .map_or_else(|| "overflow".into(), usd_text)
}

/// Whether a report counts toward the quote at `now_ms`: the same window as
/// [`quote_from`] applies.
/// The authorised oracles and their latest prices, in address order.
fn load_oracles(node: &Node) -> ApiResult<Vec<(Address, OracleRecord)>> {
    node.store
        .state_prefix(&[table::ORACLE], MAX_ORACLES_PER_QUERY)
        .map_err(internal)?
        .into_iter()
        .map(|(k, v)| {
            Ok((
                address_suffix(&k),
                OracleRecord::from_bytes(&v).map_err(internal)?,
            ))
        })
        .collect()
}

/// `GET /v1/oracle`: the quote at the tip's block time, each oracle's latest price, the credit
/// peg and the prices of data and fees in credits.
pub async fn oracle(State(node): State<Arc<Node>>) -> ApiResult<Json<Value>> {
    let p = demand(&node)?;
    let tip = node.tip();
    let now_ms = tip.time_ms;
    let oracles = load_oracles(&node)?;
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
                "price": price_view(r.price),
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
        let per_token = credits_for_burn(one_token, q.minting, decimals, p.credit_peg)
            .map_or_else(|_| "overflow".into(), |c| c.to_string());
        json!({
            "median": price_view(q.median),
            "minting": price_view(q.minting),
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
        "governor": p.governor,
        "oracles": listed,
        "credit_usd": {"usd": usd_text(u128::from(p.credit_peg.0)), "raw": p.credit_peg.0},
        "token": {"symbol": node.params.token_symbol, "decimals": decimals},
        "prices": {
            "packet_credits": p.packet_credits,
            "kb_credits": p.kb_credits,
            "onboard_fee_credits": p.onboard_fee_credits,
            "location_fee_credits": p.location_fee_credits,
        },
        "receipt_max_age_ms": p.receipt_max_age_ms,
    })))
}

/// `GET /v1/credits/{address}`: the account's credits, what it may spend them on, its totals,
/// the delegations it made and the USD value at the peg. An account that never held credits
/// answers zeros with `"known": false`.
pub async fn credits(
    State(node): State<Arc<Node>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = demand(&node)?;
    let address: Address = parse_path(&address, "address")?;
    let balance: Option<CreditBalance> = node
        .store
        .state_value(&credits_key(&address))
        .map_err(internal)?;
    let known = balance.is_some();
    let b = balance.unwrap_or_default();
    let prefix = &delegation_key(&address, &Address([0; 32]))[..33];
    let delegations: Vec<Value> = node
        .store
        .state_prefix(prefix, MAX_DELEGATIONS_PER_QUERY)
        .map_err(internal)?
        .into_iter()
        .map(|(k, v)| {
            let credits = u128::from_bytes(&v).map_err(internal)?;
            Ok(json!({"payer": address_suffix(&k), "credits": credits.to_string()}))
        })
        .collect::<ApiResult<_>>()?;
    let mut view = serde_json::to_value(b).map_err(internal)?;
    view["address"] = json!(address);
    view["known"] = json!(known);
    view["height"] = json!(node.tip().height);
    view["spendable_on_data"] = json!(b.spendable_on_data().to_string());
    view["spendable_on_fees"] = json!(b.own.to_string());
    view["usd_value"] = json!(credits_usd(b.spendable_on_data(), p.credit_peg));
    view["delegations"] = Value::Array(delegations);
    Ok(Json(view))
}

/// `GET /v1/usage/{device}`: the traffic a device carried and the credits burned for it in the
/// epoch in progress (a closed epoch's usage is in its reward record, `/v1/rewards/...`).
pub async fn usage(
    State(node): State<Arc<Node>>,
    Path(device): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = demand(&node)?;
    let device: Address = parse_path(&device, "address")?;
    let length = node.params.epoch_length_blocks;
    // The next block belongs to epoch `tip / length` (block `length` closes epoch 0).
    let epoch = node.tip().height / length;
    let used: Option<DeviceUsage> = node
        .store
        .state_value(&usage_key(epoch, &device))
        .map_err(internal)?;
    let registered = node
        .store
        .state_value::<Device>(&device_key(&device))
        .map_err(internal)?
        .is_some();
    if used.is_none() && !registered {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            format!("{device} is not an onboarded device (never onboarded, or retired)"),
        ));
    }
    let u = used.unwrap_or_default();
    let mut view = serde_json::to_value(u).map_err(internal)?;
    view["device"] = json!(device);
    view["registered"] = json!(registered);
    view["epoch"] = json!(epoch);
    view["epoch_closes_at_height"] = json!((epoch + 1) * length);
    view["usd_value"] = json!(credits_usd(u.credits, p.credit_peg));
    Ok(Json(view))
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
}
