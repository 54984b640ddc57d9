//! The devnet's live summary: after each epoch closes, one block of text with the height, active
//! devices, report outcomes by reason, the price and the credits burned, bootstrap and demand
//! rewards, top earners and how the cheaters fared against honest hotspots.

use std::collections::BTreeMap;

use anyhow::Result;
use depin_core::economics::CreditPeg;
use depin_core::{Address, Amount};
use serde_json::Value;

use crate::hotspot::{Fleet, Role};
use crate::market::{self, grouped, usd};

/// Earnings of one epoch by role, base units per device.
pub type EarningsByRole = BTreeMap<Role, Vec<u128>>;

/// Follows closed epochs and turns each into summary lines.
pub struct Summaries {
    next_epoch: u64,
    /// USD value of one credit, read from the node's oracle view with the first summary
    /// (`None` inside: the network has no demand module).
    credit_peg: Option<Option<CreditPeg>>,
}

fn amount(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

pub(crate) fn short(address: &str) -> String {
    let tail = &address[address.len().saturating_sub(6)..];
    format!("{}…{tail}", &address[..address.len().min(12)])
}

fn median(v: &mut [u128]) -> u128 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// The demand side of a closed epoch as the node serves it: the oracle price, credits burned
/// for data, for traffic of devices gone before the close (void) and for fees, with their USD
/// value at the peg, and tokens burned for credits.
fn demand_line(e: &Value, peg: CreditPeg, tokens: &dyn Fn(u128) -> String) -> String {
    let price = match e["price_usd"].as_str() {
        Some(p) => format!("${p}"),
        None => "none fresh (no demand pool)".to_string(),
    };
    let credits = |field: &str| match e[field].as_str().and_then(|c| c.parse::<u128>().ok()) {
        Some(c) => format!(
            "{} ({})",
            grouped(c),
            peg.usd_units(c).map_or_else(|| "$?".to_string(), usd)
        ),
        None => "?".to_string(),
    };
    format!(
        "   price {price} · credits burned {}: {} for data in {} receipts, {} void, {} for fees · tokens burned for credits {}",
        credits("credits_burned"),
        credits("credits_on_data"),
        e["receipts"].as_u64().unwrap_or(0),
        credits("credits_void"),
        credits("credits_on_fees"),
        tokens(amount(&e["tokens_burned"])),
    )
}

/// One simulated hotspot's reward for a closed epoch.
#[derive(Clone, Debug)]
pub struct MemberReward {
    pub role: Role,
    pub device: Address,
    /// Base units paid to its owner.
    pub amount: u128,
    /// Reward shares its verified work earned; the ledger counts a device with shares as active.
    pub shares: u128,
}

/// Every member's reward in `epoch`, in fleet order.
pub fn rewards(fleet: &Fleet, epoch: u64) -> Result<Vec<MemberReward>> {
    fleet
        .members
        .iter()
        .map(|m| {
            let device = m.key.address();
            let r = fleet
                .client()
                .get(&format!("/v1/rewards/{epoch}/{device}"))?;
            Ok(MemberReward {
                role: m.role,
                device,
                amount: amount(&r["reward"]["amount"]),
                shares: amount(&r["reward"]["score"]["shares"]),
            })
        })
        .collect()
}

/// What each member earned in `epoch`, grouped by role.
pub fn earnings(fleet: &Fleet, epoch: u64) -> Result<EarningsByRole> {
    let mut out: EarningsByRole = BTreeMap::new();
    for r in rewards(fleet, epoch)? {
        out.entry(r.role).or_default().push(r.amount);
    }
    Ok(out)
}

impl Summaries {
    /// Starts with the epoch the chain is in now (earlier ones are history).
    pub fn new(fleet: &Fleet) -> Summaries {
        Summaries {
            next_epoch: fleet.current_epoch().unwrap_or(0),
            credit_peg: None,
        }
    }

    /// Starts with `epoch` (for a summary of history).
    pub fn from_epoch(epoch: u64) -> Summaries {
        Summaries {
            next_epoch: epoch,
            credit_peg: None,
        }
    }

    /// Lines for every epoch that closed since the last call.
    pub fn new_epochs(&mut self, fleet: &Fleet) -> Result<Vec<String>> {
        if self.credit_peg.is_none() {
            let oracle = market::oracle(fleet.client())?;
            self.credit_peg = Some(oracle.map(|o| o.credit_peg));
        }
        let mut lines = Vec::new();
        while let Some(e) = fleet
            .client()
            .get_opt(&format!("/v1/epochs/{}", self.next_epoch))?
        {
            lines.extend(self.lines(fleet, &e)?);
            self.next_epoch += 1;
        }
        Ok(lines)
    }

    fn lines(&self, fleet: &Fleet, e: &Value) -> Result<Vec<String>> {
        let tokens =
            |base: u128| format!("{} {}", Amount(base).display(fleet.decimals), fleet.symbol);
        let epoch = e["epoch"].as_u64().unwrap_or(0);
        let mut accepted = 0u64;
        let mut rejected: Vec<(String, u64)> = Vec::new();
        if let Some(o) = e["report_outcomes"].as_object() {
            for (code, n) in o {
                let n = n.as_u64().unwrap_or(0);
                if code == "accepted" {
                    accepted = n;
                } else {
                    rejected.push((code.clone(), n));
                }
            }
        }
        rejected.sort_by_key(|r| std::cmp::Reverse(r.1));
        let rejected_text = if rejected.is_empty() {
            "none".to_string()
        } else {
            rejected
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let top: Vec<String> = e["top_earners"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|t| {
                format!(
                    "{} {}",
                    short(t["device"].as_str().unwrap_or("?")),
                    tokens(amount(&t["amount"]))
                )
            })
            .collect();
        let rewards = rewards(fleet, epoch)?;
        let active = rewards.iter().filter(|r| r.shares > 0).count();
        let top_text = if top.is_empty() {
            "nobody yet".to_string()
        } else {
            top.join(", ")
        };
        let mut out = vec![format!(
            "── epoch {epoch} closed at height {} · {} devices paid · {active} of {} simulated hotspots active · reports: {accepted} accepted; refused: {rejected_text}",
            e["height"],
            e["devices_paid"],
            rewards.len(),
        )];
        match self
            .credit_peg
            .flatten()
            .map(|peg| demand_line(e, peg, &tokens))
        {
            Some(line) => {
                out.push(line);
                out.push(format!(
                    "   rewards: bootstrap {}, demand {} to owners, {}{} to the treasury (+{} dust) · top: {top_text}",
                    tokens(amount(&e["paid"])),
                    tokens(amount(&e["demand_paid"])),
                    validators_text(e, &tokens),
                    tokens(amount(&e["treasury"])),
                    tokens(amount(&e["dust"])),
                ));
            }
            None => out.push(format!(
                "   paid {} to owners, {}{} to the treasury (+{} dust) · top: {top_text}",
                tokens(amount(&e["paid"])),
                validators_text(e, &tokens),
                tokens(amount(&e["treasury"])),
                tokens(amount(&e["dust"])),
            )),
        }
        out.extend(module_lines(e, &tokens));
        let mut by_role: EarningsByRole = BTreeMap::new();
        for r in &rewards {
            by_role.entry(r.role).or_default().push(r.amount);
        }
        if by_role.keys().any(|r| *r != Role::Honest) {
            let honest = median(by_role.get_mut(&Role::Honest).map_or(&mut [], |v| v));
            let parts: Vec<String> = by_role
                .iter()
                .filter(|(r, _)| **r != Role::Honest)
                .map(|(r, v)| {
                    let n = v.len();
                    let mut v = v.clone();
                    // Per device, as the honest figure beside it: a median each.
                    format!("{n} {} {} each", r.plural(), tokens(median(&mut v)))
                })
                .collect();
            out.push(format!(
                "   median earned per device: {}; an honest hotspot {}",
                parts.join(", "),
                tokens(honest)
            ));
        }
        Ok(out)
    }
}

/// What the validators were paid for the blocks they produced (and what their skipped turns
/// forfeited), followed by ", "; empty on a network without a validators' share.
fn validators_text(e: &Value, tokens: &dyn Fn(u128) -> String) -> String {
    if amount(&e["validator_pool"]) == 0 {
        return String::new();
    }
    let forfeited = amount(&e["validator_forfeited"]);
    format!(
        "{} to validators{}, ",
        tokens(amount(&e["validator_paid"])),
        if forfeited > 0 {
            format!(" ({} forfeited for skipped turns)", tokens(forfeited))
        } else {
            String::new()
        }
    )
}

/// One line per module other than coverage (whose line is the hotspots' above): its pool, what
/// it paid and to how many devices, and the module's own counters, as the ledger reported them.
fn module_lines(e: &Value, tokens: &dyn Fn(u128) -> String) -> Vec<String> {
    e["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["module"] != "coverage")
        .map(|m| {
            let counters: Vec<String> = m["counters"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
                .map(|(k, n)| format!("{} {n}", k.replace('_', " ")))
                .collect();
            format!(
                "   {}: pool {}, {} devices paid {} (bootstrap {}, demand {}) · {}",
                m["module"].as_str().unwrap_or("?"),
                tokens(amount(&m["pool"])),
                m["devices_paid"],
                tokens(amount(&m["paid"]) + amount(&m["demand_paid"])),
                tokens(amount(&m["paid"])),
                tokens(amount(&m["demand_paid"])),
                if counters.is_empty() {
                    "no activity".to_string()
                } else {
                    counters.join(", ")
                }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_module_but_coverage_gets_a_line_with_its_counters() {
        let e = serde_json::json!({"modules": [
            {"module": "coverage", "pool": "5", "paid": "5", "demand_paid": "0", "devices_paid": 3,
             "counters": {"beacons": 4}},
            {"module": "storage", "pool": "2125000000", "paid": "1000000", "demand_paid": "581",
             "devices_paid": 1, "counters": {"deals_proven": 3, "bytes_proven": 786432, "faults_detected": 0}},
            {"module": "mapping", "pool": "7", "paid": "0", "demand_paid": "0", "devices_paid": 0,
             "counters": {"bundles": 0}},
        ]});
        let tokens = |base: u128| format!("{} DPN", Amount(base).display(6));
        let lines = module_lines(&e, &tokens);
        assert_eq!(
            lines,
            [
                "   storage: pool 2125 DPN, 1 devices paid 1.000581 DPN (bootstrap 1 DPN, demand 0.000581 DPN) · bytes proven 786432, deals proven 3",
                "   mapping: pool 0.000007 DPN, 0 devices paid 0 DPN (bootstrap 0 DPN, demand 0 DPN) · no activity",
            ]
        );
    }
}
