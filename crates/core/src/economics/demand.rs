//! An epoch's reward pools when users pay for service: the emission (plus re-minted burns) is
//! split into treasury, demand (service) and bootstrap (coverage) pools.
//!
//! Demand rewards follow credits users actually burned, capped at a multiple of what they paid
//! in USD, so rewards cannot be farmed by burning tokens to oneself for more than they cost.
//! Whatever the demand pool cannot use rolls into the bootstrap pool, which subsidises coverage
//! while demand is small; the bootstrap pool's *target* share decays on a schedule, so as demand
//! grows the rewards move to the suppliers who serve it.

use serde::{Deserialize, Serialize};

use super::credits::{CreditError, CreditPeg, TokenPrice, remint, token_value_of_credits};
use super::payout::{BPS_DENOMINATOR, Payout, mul_div_floor, pro_rata, split_bps};
use crate::amount::Amount;
use crate::codec::struct_codec;

/// The bootstrap pool's target share of supplier rewards, in basis points, by epoch: it falls in
/// a straight line from `start_bps` at epoch 0 to `floor_bps` at epoch `decay_epochs`, rounding
/// down, and stays at the floor after that. `decay_epochs = 0` means the floor from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapDecay {
    pub start_bps: u32,
    pub floor_bps: u32,
    pub decay_epochs: u64,
}

impl BootstrapDecay {
    /// Why the schedule is not usable, naming the field; `None` if it is.
    pub fn invalid(&self) -> Option<&'static str> {
        if self.start_bps > BPS_DENOMINATOR {
            Some("start_bps is a share in basis points: 0 to 10000")
        } else if self.floor_bps > self.start_bps {
            Some("floor_bps must not exceed start_bps (the share decays toward its floor)")
        } else {
            None
        }
    }

    /// The target bootstrap share in `epoch`, basis points.
    ///
    /// # Panics
    /// If the schedule is invalid (see [`BootstrapDecay::invalid`]).
    pub fn at(&self, epoch: u64) -> u32 {
        assert!(self.invalid().is_none(), "invalid bootstrap decay");
        if epoch >= self.decay_epochs {
            return self.floor_bps;
        }
        let drop = u128::from(self.start_bps - self.floor_bps);
        let fallen = mul_div_floor(drop, u128::from(epoch), u128::from(self.decay_epochs));
        // Truncation: `fallen` rounds down, so the share rounds up toward the start; it reaches
        // the floor exactly at `decay_epochs`.
        self.start_bps - fallen as u32
    }
}

/// Parameters of the demand-side reward split (genesis parameters governance may change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemandParams {
    /// Treasury's share of each epoch's rewards, basis points.
    pub treasury_bps: u32,
    /// Share of the tokens burned in an epoch minted again as rewards, basis points.
    pub remint_bps: u32,
    /// The demand pool pays at most this multiple (basis points: 30,000 = 3x) of the USD value
    /// of the credits burned in the epoch.
    pub demand_cap_bps: u32,
    /// Target share of the non-treasury rewards kept for the bootstrap pool.
    pub bootstrap: BootstrapDecay,
    /// USD value of one credit.
    pub credit_peg: CreditPeg,
}

impl DemandParams {
    /// Why the parameters are not usable, naming the field; `None` if they are.
    pub fn invalid(&self) -> Option<&'static str> {
        if self.treasury_bps > BPS_DENOMINATOR {
            Some("treasury_bps is a share in basis points: 0 to 10000")
        } else if self.remint_bps > BPS_DENOMINATOR {
            Some("remint_bps is a share in basis points: 0 to 10000")
        } else if self.credit_peg.0 == 0 {
            Some("credit_peg must be above zero")
        } else {
            self.bootstrap.invalid()
        }
    }
}

/// What happened in an epoch on the demand side, as the pool computation needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochDemand {
    /// The epoch being closed (counts from 0), for the bootstrap decay.
    pub epoch: u64,
    /// Tokens minted by the emission schedule this epoch.
    pub emission: Amount,
    /// Tokens burned for credits this epoch (base units).
    pub tokens_burned: Amount,
    /// Credits those burns bought.
    pub credits_burned: u128,
    /// The reference (median) oracle price, for the USD cap.
    pub price: TokenPrice,
    /// Decimals of the token.
    pub token_decimals: u8,
    /// At most what the credits are worth for the cap, in tokens (the ledger passes what the
    /// credits cost: credits bought before a price fall must not return more tokens than were
    /// burned for them). `None`: their value at `price`.
    pub value_limit: Option<Amount>,
}

/// An epoch's pools: `treasury + demand + bootstrap == emission + reminted`, always.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochPools {
    pub emission: Amount,
    /// Burned tokens minted again (`remint_bps` of the epoch's burns).
    pub reminted: Amount,
    pub treasury: Amount,
    /// Paid pro rata to credits burned per device.
    pub demand: Amount,
    /// Paid pro rata to proof-of-coverage shares.
    pub bootstrap: Amount,
    /// The bootstrap target share that applied, basis points.
    pub bootstrap_bps: u32,
    /// Most the demand pool could pay: `demand_cap_bps` of the credits' USD value, in tokens.
    pub demand_cap: Amount,
    /// What the demand pool's target share could not use, moved to the bootstrap pool.
    pub rolled_over: Amount,
}

/// Splits an epoch's rewards (emission plus re-mint) into treasury, demand and bootstrap pools.
///
/// Treasury takes `treasury_bps`; of the rest, the demand pool's target is the share the
/// bootstrap decay does not keep, capped at `demand_cap_bps` of the USD value of the epoch's
/// credits converted to tokens at `price` (rounded down); the bootstrap pool gets everything
/// else, including what the cap cut off.
pub fn epoch_pools(params: &DemandParams, demand: &EpochDemand) -> Result<EpochPools, CreditError> {
    let reminted = remint(demand.tokens_burned, params.remint_bps);
    let rewards = demand
        .emission
        .checked_add(reminted)
        .ok_or(CreditError::Overflow)?;
    let parts = split_bps(
        rewards,
        &[params.treasury_bps, BPS_DENOMINATOR - params.treasury_bps],
    );
    let (treasury, suppliers) = (parts[0], parts[1]);
    let bootstrap_bps = params.bootstrap.at(demand.epoch);
    let target = split_bps(suppliers, &[bootstrap_bps, BPS_DENOMINATOR - bootstrap_bps])[1];
    let paid_value = if demand.credits_burned == 0 {
        Amount::ZERO
    } else {
        token_value_of_credits(
            demand.credits_burned,
            demand.price,
            demand.token_decimals,
            params.credit_peg,
        )?
    };
    let paid_value = demand
        .value_limit
        .map_or(paid_value, |limit| paid_value.min(limit));
    // The cap may exceed a u128 only for absurd burns; then it does not bind.
    let demand_cap = paid_value
        .0
        .checked_mul(u128::from(params.demand_cap_bps))
        .map(|v| Amount(v / u128::from(BPS_DENOMINATOR)))
        .unwrap_or(Amount(u128::MAX));
    let demand_pool = target.min(demand_cap);
    let rolled_over = Amount(target.0 - demand_pool.0);
    let pools = EpochPools {
        emission: demand.emission,
        reminted,
        treasury,
        demand: demand_pool,
        bootstrap: Amount(suppliers.0 - demand_pool.0),
        bootstrap_bps,
        demand_cap,
        rolled_over,
    };
    debug_assert_eq!(
        pools.treasury.0 + pools.demand.0 + pools.bootstrap.0,
        rewards.0,
        "pools sum to the epoch's rewards"
    );
    Ok(pools)
}

/// Pays the demand pool to devices in proportion to the credits burned for their service:
/// `sum(payouts) + dust == pool`. Devices with no credits earn nothing; with no credits at all the
/// whole pool is dust (the epoch computation gives such an epoch no demand pool).
pub fn pay_demand_pool<K: Clone>(pool: Amount, credits_per_device: &[(K, u128)]) -> Payout<K> {
    pro_rata(pool, credits_per_device)
}

struct_codec!(BootstrapDecay {
    start_bps: u32,
    floor_bps: u32,
    decay_epochs: u64,
});

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(treasury_bps: u32, remint_bps: u32, cap_bps: u32) -> DemandParams {
        DemandParams {
            treasury_bps,
            remint_bps,
            demand_cap_bps: cap_bps,
            bootstrap: BootstrapDecay {
                start_bps: 8_000,
                floor_bps: 2_000,
                decay_epochs: 100,
            },
            credit_peg: CreditPeg::HUNDRED_THOUSANDTH_USD,
        }
    }

    #[test]
    fn decays_in_a_straight_line_to_the_floor() {
        let d = BootstrapDecay {
            start_bps: 8_000,
            floor_bps: 2_000,
            decay_epochs: 3,
        };
        assert_eq!(
            (0..5).map(|e| d.at(e)).collect::<Vec<_>>(),
            vec![8_000, 6_000, 4_000, 2_000, 2_000]
        );
        let none = BootstrapDecay {
            decay_epochs: 0,
            ..d
        };
        assert_eq!(none.at(0), 2_000);
        assert!(
            BootstrapDecay {
                floor_bps: 9_000,
                ..d
            }
            .invalid()
            .is_some()
        );
    }

    #[test]
    fn unused_demand_rolls_into_bootstrap() {
        // 1,000 tokens (0 decimals) at $1; 10% treasury; bootstrap target 80% at epoch 0, so
        // the demand target is 180; users paid $10 (1M credits) and the cap is 3x = 30 tokens.
        let pools = epoch_pools(
            &params(1_000, 0, 30_000),
            &EpochDemand {
                epoch: 0,
                emission: Amount(1_000),
                tokens_burned: Amount(10),
                credits_burned: 1_000_000,
                price: TokenPrice(100_000_000),
                token_decimals: 0,
                value_limit: None,
            },
        )
        .unwrap();
        assert_eq!(pools.treasury, Amount(100));
        assert_eq!(pools.demand_cap, Amount(30));
        assert_eq!(pools.demand, Amount(30));
        assert_eq!(pools.rolled_over, Amount(150));
        assert_eq!(pools.bootstrap, Amount(870));
    }

    #[test]
    fn full_remint_returns_burns_as_rewards() {
        let pools = epoch_pools(
            &params(0, 10_000, 30_000),
            &EpochDemand {
                epoch: 200,
                emission: Amount(0),
                tokens_burned: Amount(500),
                credits_burned: 50_000_000,
                price: TokenPrice(100_000_000),
                token_decimals: 0,
                value_limit: None,
            },
        )
        .unwrap();
        assert_eq!(pools.reminted, Amount(500));
        // Floor share 20% stays with bootstrap; the 80% target (400) is under the cap (1500).
        assert_eq!((pools.demand, pools.bootstrap), (Amount(400), Amount(100)));
    }

    #[test]
    fn demand_pool_follows_credits() {
        let p = pay_demand_pool(Amount(100), &[("a", 3u128), ("b", 1), ("c", 0)]);
        assert_eq!(
            p.payouts,
            vec![("a", Amount(75)), ("b", Amount(25)), ("c", Amount(0))]
        );
        assert_eq!(p.dust, Amount(0));
    }

    proptest! {
        #[test]
        fn pools_sum_exactly_to_emission_plus_remint(
            emission in 0u128..1 << 100,
            burned in 0u128..1 << 100,
            credits in 0u128..1 << 90,
            price in 1u64..u64::MAX,
            decimals in 0u8..=18,
            treasury_bps in 0u32..=10_000,
            remint_bps in 0u32..=10_000,
            cap_bps in 0u32..=100_000,
            epoch in 0u64..300,
        ) {
            let pools = epoch_pools(
                &params(treasury_bps, remint_bps, cap_bps),
                &EpochDemand {
                    epoch,
                    emission: Amount(emission),
                    tokens_burned: Amount(burned),
                    credits_burned: credits,
                    price: TokenPrice(price),
                    token_decimals: decimals,
                    value_limit: None,
                },
            )
            .unwrap();
            prop_assert_eq!(
                pools.treasury.0 + pools.demand.0 + pools.bootstrap.0,
                emission + pools.reminted.0
            );
            prop_assert!(pools.reminted.0 <= burned);
            prop_assert!(pools.demand <= pools.demand_cap);
            prop_assert!(pools.rolled_over <= pools.bootstrap);
            if credits == 0 {
                prop_assert_eq!(pools.demand, Amount::ZERO);
            }
        }

        #[test]
        fn decay_never_rises_and_stays_in_range(
            start in 0u32..=10_000,
            floor in 0u32..=10_000,
            decay in 0u64..10_000,
            e in 0u64..20_000,
        ) {
            let d = BootstrapDecay { start_bps: start.max(floor), floor_bps: floor.min(start), decay_epochs: decay };
            prop_assert!(d.at(e + 1) <= d.at(e));
            prop_assert!(d.at(e) >= d.floor_bps && d.at(e) <= d.start_bps);
        }
    }
}
