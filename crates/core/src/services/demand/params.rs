//! The demand module's genesis parameters: the price oracle, the credit peg and prices, the fees
//! in credits, and how each epoch's rewards follow the credits users burned.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;
use crate::crypto::Address;
use crate::economics::payout::BPS_DENOMINATOR;
use crate::economics::{BootstrapDecay, CreditPeg, DemandRules};

/// How far ahead of the block time a price observation or a usage period may end: clocks of
/// oracles, hotspots and the block proposer disagree by a few seconds.
pub const MAX_CLOCK_SKEW_MS: u64 = 30_000;

/// The `[demand]` section of a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandGenesis {
    /// Keys allowed to submit token/USD prices.
    pub oracles: Vec<Address>,
    /// No longer accepted (refused with what to write instead): the oracle set is changed by
    /// `oracle_set` proposals, and the one shortcut is `[governance] emergency_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<Address>,
    /// Fresh prices needed before the ledger quotes a price at all.
    #[serde(default = "one")]
    pub min_oracle_prices: u32,
    /// An oracle's latest price counts toward the median for this long after it was observed.
    pub price_window_ms: u64,
    /// A price observed longer ago than this is refused when submitted.
    pub price_max_age_ms: u64,
    /// USD value of one credit, e.g. `"0.00001"` (Helium's data credit).
    pub credit_usd: String,
    /// Credits one packet of a usage receipt costs.
    pub packet_credits: u64,
    /// Credits 1,000 bytes of a usage receipt cost (rounded up to whole credits).
    pub kb_credits: u64,
    /// Fee to onboard a device, in credits.
    pub onboard_fee_credits: u64,
    /// Fee to assert or reassert a location, in credits.
    pub location_fee_credits: u64,
    /// Share of the tokens burned for credits that is minted back into the next reward pools,
    /// basis points (0: pure burn-and-mint).
    #[serde(default)]
    pub remint_bps: u32,
    /// The demand pool is at most this share of the USD value of the credits burned for
    /// traffic, basis points. With `remint_bps`, at most 10000: above it, paying your own
    /// devices would return more than it burns (see `DemandRules::burn_return_bps`).
    pub demand_cap_bps: u32,
    /// The suppliers' share that goes to coverage (bootstrap) rather than demand, decaying.
    pub bootstrap: BootstrapDecay,
    /// A usage receipt whose period ended longer ago than this is refused.
    pub receipt_max_age_ms: u64,
    /// Furthest one report may be from the current median, basis points (0: no bound); a
    /// report beyond it is recorded at the bound, so one oracle moves the price by at most this
    /// much per report.
    #[serde(default)]
    pub max_price_move_bps: u32,
    /// Circuit breaker: no credits are minted while the fresh prices spread wider than this
    /// around their median, basis points (0: off).
    #[serde(default)]
    pub max_price_spread_bps: u32,
}

fn one() -> u32 {
    1
}

/// The demand parameters the ledger keeps in its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketParams {
    /// The oracle set at genesis (the live set is in the state; governance changes it).
    pub oracles: Vec<Address>,
    pub min_oracle_prices: u32,
    pub price_window_ms: u64,
    pub price_max_age_ms: u64,
    pub credit_peg: CreditPeg,
    pub packet_credits: u64,
    pub kb_credits: u64,
    pub onboard_fee_credits: u64,
    pub location_fee_credits: u64,
    pub remint_bps: u32,
    pub demand_cap_bps: u32,
    pub bootstrap: BootstrapDecay,
    pub receipt_max_age_ms: u64,
    pub max_price_move_bps: u32,
    pub max_price_spread_bps: u32,
}

impl MarketParams {
    /// Credits a receipt for `packets` packets and `bytes` bytes costs, or `None` on overflow.
    pub fn receipt_cost(&self, packets: u64, bytes: u64) -> Option<u128> {
        let per_packets = u128::from(packets).checked_mul(u128::from(self.packet_credits))?;
        let per_bytes = (u128::from(bytes) * u128::from(self.kb_credits)).div_ceil(1_000);
        per_packets.checked_add(per_bytes)
    }
}

impl DemandGenesis {
    /// Checks the section and converts it; errors name the field and what to do.
    pub fn to_params(&self) -> Result<MarketParams, (&'static str, String)> {
        let err = |name: &'static str, why: &str| Err((name, why.to_string()));
        if let Some(key) = self.governor {
            return Err((
                "demand.governor",
                crate::services::devices::retired_governor(&key),
            ));
        }
        if self.oracles.is_empty() {
            return err(
                "demand.oracles",
                "name at least one oracle key, or leave out the [demand] section",
            );
        }
        let distinct: BTreeSet<_> = self.oracles.iter().collect();
        if distinct.len() != self.oracles.len() {
            return err(
                "demand.oracles",
                "an oracle key appears twice; list each once",
            );
        }
        if self.min_oracle_prices == 0 || self.min_oracle_prices as usize > self.oracles.len() {
            return err(
                "demand.min_oracle_prices",
                "must be between 1 and the number of oracles",
            );
        }
        if self.price_max_age_ms == 0 || self.price_window_ms < self.price_max_age_ms {
            return err(
                "demand.price_window_ms",
                "must be at least price_max_age_ms, which must be above 0 (a price is refused when older than the max age, and counts for the window)",
            );
        }
        let credit_peg =
            CreditPeg::parse(&self.credit_usd).map_err(|e| ("demand.credit_usd", e.to_string()))?;
        if self.remint_bps > BPS_DENOMINATOR {
            return err(
                "demand.remint_bps",
                "is a share in basis points: 0 to 10000",
            );
        }
        if self.demand_cap_bps > BPS_DENOMINATOR {
            return err(
                "demand.demand_cap_bps",
                "must be at most 10000 (1x the USD burned): above it, routing fake traffic through your own hotspot would pay more than it costs",
            );
        }
        if let Some(why) = self.bootstrap.invalid() {
            return err("demand.bootstrap", why);
        }
        let rules = DemandRules {
            remint_bps: self.remint_bps,
            demand_cap_bps: self.demand_cap_bps,
            bootstrap: self.bootstrap,
        };
        if let Some(why) = rules.self_dealing_pays() {
            return Err(("demand.remint_bps", why));
        }
        if self.receipt_max_age_ms == 0 {
            return err("demand.receipt_max_age_ms", "must be above 0");
        }
        if self.max_price_move_bps > BPS_DENOMINATOR {
            return err(
                "demand.max_price_move_bps",
                "is a share of the median in basis points: 0 (no bound) to 10000",
            );
        }
        if self.max_price_spread_bps > BPS_DENOMINATOR {
            return err(
                "demand.max_price_spread_bps",
                "is a share of the median in basis points: 0 (no breaker) to 10000",
            );
        }
        Ok(MarketParams {
            oracles: self.oracles.clone(),
            min_oracle_prices: self.min_oracle_prices,
            price_window_ms: self.price_window_ms,
            price_max_age_ms: self.price_max_age_ms,
            credit_peg,
            packet_credits: self.packet_credits,
            kb_credits: self.kb_credits,
            onboard_fee_credits: self.onboard_fee_credits,
            location_fee_credits: self.location_fee_credits,
            remint_bps: self.remint_bps,
            demand_cap_bps: self.demand_cap_bps,
            bootstrap: self.bootstrap,
            receipt_max_age_ms: self.receipt_max_age_ms,
            max_price_move_bps: self.max_price_move_bps,
            max_price_spread_bps: self.max_price_spread_bps,
        })
    }
}

/// A demand section with Helium's numbers: 1 credit = $0.00001, 1 credit per packet, a $40
/// onboarding fee and a $10 location fee; the bootstrap share falls from 90% to 10% over
/// `decay_epochs`. Oracle safety (issue 12): with three oracles or more, two fresh prices are
/// needed; a price is fresh for 10 minutes and refused when observed over 2 minutes before its
/// block; one report moves the median at most 10%; no credits are minted while the fresh
/// prices spread over 20% around their median.
pub fn preset(oracles: Vec<Address>, decay_epochs: u64) -> DemandGenesis {
    let min_oracle_prices = if oracles.len() >= 3 { 2 } else { 1 };
    DemandGenesis {
        oracles,
        governor: None,
        min_oracle_prices,
        price_window_ms: 600_000,
        price_max_age_ms: 120_000,
        credit_usd: "0.00001".into(),
        packet_credits: 1,
        kb_credits: 1,
        onboard_fee_credits: 4_000_000,
        location_fee_credits: 1_000_000,
        remint_bps: 0,
        demand_cap_bps: BPS_DENOMINATOR,
        bootstrap: BootstrapDecay {
            start_bps: 9_000,
            floor_bps: 1_000,
            decay_epochs,
        },
        receipt_max_age_ms: 86_400_000,
        max_price_move_bps: 1_000,
        max_price_spread_bps: 2_000,
    }
}

struct_codec!(MarketParams {
    oracles: Vec<Address>,
    min_oracle_prices: u32,
    price_window_ms: u64,
    price_max_age_ms: u64,
    credit_peg: CreditPeg,
    packet_credits: u64,
    kb_credits: u64,
    onboard_fee_credits: u64,
    location_fee_credits: u64,
    remint_bps: u32,
    demand_cap_bps: u32,
    bootstrap: BootstrapDecay,
    receipt_max_age_ms: u64,
    max_price_move_bps: u32,
    max_price_spread_bps: u32,
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Decode, Encode};
    use crate::crypto::Keypair;

    fn sample() -> DemandGenesis {
        preset(vec![Keypair::from_seed([3; 32]).address()], 100)
    }

    #[test]
    fn preset_is_valid_and_round_trips() {
        let p = sample().to_params().unwrap();
        assert_eq!(p.credit_peg, CreditPeg::HUNDRED_THOUSANDTH_USD);
        assert_eq!(MarketParams::from_bytes(&p.to_bytes()).unwrap(), p);
    }

    #[test]
    fn receipt_cost_rounds_bytes_up() {
        let p = sample().to_params().unwrap();
        assert_eq!(p.receipt_cost(3, 0), Some(3));
        assert_eq!(p.receipt_cost(1, 1), Some(2));
        assert_eq!(p.receipt_cost(0, 1_000), Some(1));
        assert_eq!(p.receipt_cost(0, 1_001), Some(2));
    }

    #[test]
    fn errors_name_the_field() {
        let check = |f: &dyn Fn(&mut DemandGenesis), field: &str| {
            let mut g = sample();
            f(&mut g);
            assert_eq!(g.to_params().unwrap_err().0, field);
        };
        check(&|g| g.oracles.clear(), "demand.oracles");
        check(&|g| g.oracles.push(g.oracles[0]), "demand.oracles");
        check(&|g| g.min_oracle_prices = 2, "demand.min_oracle_prices");
        check(&|g| g.price_window_ms = 1, "demand.price_window_ms");
        check(&|g| g.credit_usd = "abc".into(), "demand.credit_usd");
        check(&|g| g.remint_bps = 10_001, "demand.remint_bps");
        check(&|g| g.demand_cap_bps = 30_000, "demand.demand_cap_bps");
        check(&|g| g.bootstrap.floor_bps = 9_500, "demand.bootstrap");
        check(&|g| g.remint_bps = 1, "demand.remint_bps");
        check(
            &|g| {
                g.remint_bps = 2_500;
                g.demand_cap_bps = 8_000;
            },
            "demand.remint_bps",
        );
        let mut g = sample();
        (g.remint_bps, g.demand_cap_bps) = (2_000, 8_000);
        assert!(
            g.to_params().is_ok(),
            "a re-mint within the cap's headroom is valid"
        );
        check(&|g| g.receipt_max_age_ms = 0, "demand.receipt_max_age_ms");
    }
}
