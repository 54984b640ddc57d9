//! The one epoch close for the whole economy: emission (plus the re-mint of burned tokens), then
//! the treasury's share, then the validators' share of the emission (paid for produced leader
//! turns, [`super::validators`]), then one supplier pool per proof module by weight, then per module the
//! demand pool (following what users paid its devices) and the decaying bootstrap pool
//! (following proven work), each paid exactly, with the dust to the treasury.
//!
//! The ledger and the economic simulator both close epochs with [`plan_epoch`] and
//! [`EpochPlan::settle`]: the ledger over its devices, the simulator over its agents.
//!
//! Invariants, asserted in [`EpochPlan::settle`] and property-tested:
//! - `treasury + validators + Σ module pools + unassigned == emission + reminted`;
//! - per module `bootstrap + demand == pool`, and `demand <= demand_cap`;
//! - `minted + unminted == emission + reminted`, where minted is every payout (devices and
//!   validators) plus the treasury and its dust, and unminted is every pool nobody could be paid
//!   from plus what validators forfeited for skipped turns.

use serde::{Deserialize, Serialize};

use super::credits::{CreditError, remint};
use super::demand::BootstrapDecay;
use super::payout::{BPS_DENOMINATOR, ProRata, mul_div_floor, pro_rata, split_bps};
use super::validators::ValidatorPayout;
use crate::amount::Amount;

/// The demand side's rules for the close (genesis parameters of the demand service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemandRules {
    /// Share of the epoch's burned tokens minted again as rewards, basis points.
    pub remint_bps: u32,
    /// A module's demand pool is at most this share of what its devices' paid service is worth,
    /// basis points.
    pub demand_cap_bps: u32,
    /// The bootstrap pool's target share of each module's pool, decaying by epoch.
    pub bootstrap: BootstrapDecay,
}

impl DemandRules {
    /// The most of a payer's burn that can come back to the payer as rewards, basis points:
    /// the demand pool pays a device at most `demand_cap_bps` of its service's token cost, and
    /// the re-mint returns at most `remint_bps` of the burn to the pools the payer may share.
    /// At most [`BPS_DENOMINATOR`], paying your own devices never returns more than it burns,
    /// whoever else shares the pools (shown by `self_dealing_returns_at_most_the_burn` below
    /// and `self_dealing_never_pays` in the demand tests).
    pub fn burn_return_bps(&self) -> u64 {
        u64::from(self.remint_bps) + u64::from(self.demand_cap_bps)
    }

    /// Why these rules would let self-dealing pay, or `None` if they do not.
    pub fn self_dealing_pays(&self) -> Option<String> {
        let total = self.burn_return_bps();
        (total > u64::from(BPS_DENOMINATOR)).then(|| {
            format!(
                "remint_bps + demand_cap_bps is {total}, above {BPS_DENOMINATOR}: a payer's burn comes back up to demand_cap_bps through the demand pool plus remint_bps through the re-mint, so routing paid service through your own devices would return more than it burns; lower one of them (e.g. remint_bps = 2000 with demand_cap_bps = 8000)"
            )
        })
    }
}

/// What the close needs of one proof module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleTotals {
    /// The module's weight in the split of the suppliers' rewards (any units).
    pub weight: u32,
    /// Sum of its devices' proven-work shares.
    pub total_shares: u128,
    /// What the service users paid its devices for is worth, in tokens: the base of the
    /// demand cap.
    pub demand_value: Amount,
    /// Sum of the weights its demand pool is paid by (the ledger: each device's worth).
    pub total_demand_weight: u128,
}

/// One module's pools for the epoch.
#[derive(Clone, Copy, Debug)]
pub struct ModulePools {
    /// The module's part of the suppliers' rewards.
    pub pool: Amount,
    /// The bootstrap target share that applied, basis points.
    pub bootstrap_bps: u32,
    /// Paid pro rata to proven-work shares.
    pub bootstrap: Amount,
    /// Paid pro rata to the demand weights.
    pub demand: Amount,
    /// Most the demand pool could be: `demand_cap_bps` of the demand value.
    pub demand_cap: Amount,
    /// What the demand target could not use (the cap bound), left in the bootstrap pool.
    pub rolled_over: Amount,
    pub totals: ModuleTotals,
    bootstrap_payer: ProRata,
    demand_payer: ProRata,
}

impl ModulePools {
    /// A device's payout from the bootstrap pool for `shares` of the module's total.
    #[inline]
    pub fn bootstrap_share(&self, shares: u128) -> Amount {
        if shares == 0 {
            return Amount::ZERO;
        }
        self.bootstrap_payer.share(shares)
    }

    /// A device's payout from the demand pool for `weight` of the module's total.
    #[inline]
    pub fn demand_share(&self, weight: u128) -> Amount {
        if weight == 0 {
            return Amount::ZERO;
        }
        self.demand_payer.share(weight)
    }
}

/// An epoch's pools before anyone is paid.
#[derive(Clone, Debug)]
pub struct EpochPlan {
    pub emission: Amount,
    pub reminted: Amount,
    /// The treasury's share (before the rounding dust of the payouts joins it).
    pub treasury: Amount,
    /// The validators' share: `validator_bps` of the emission (not of the re-mint, which
    /// returns users' burns to suppliers), taken from the suppliers' part.
    pub validators: Amount,
    /// Per proof module, in the order given.
    pub modules: Vec<ModulePools>,
    /// The suppliers' rewards no module could take (a network with no proof module): never
    /// minted.
    pub unassigned: Amount,
}

/// What an epoch minted, once paid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochSettlement {
    /// Everything minted: payouts, treasury share and dust.
    pub minted: Amount,
    /// Pools nobody could be paid from (no shares, no paid service), and the unassigned part.
    pub unminted: Amount,
    /// Rounding left by the pro-rata payouts; minted to the treasury.
    pub dust: Amount,
    /// `treasury + dust`: what the treasury account receives.
    pub to_treasury: Amount,
    /// Per module: (bootstrap unminted, demand unminted).
    pub module_unminted: Vec<(Amount, Amount)>,
}

/// Plans epoch `epoch`'s pools: `emission` plus the re-mint of `tokens_burned`, the treasury's
/// `treasury_bps`, the validators' `validator_bps` of the emission, the rest split by module
/// weight, and per module the demand and bootstrap pools. Without demand rules every module
/// pool is bootstrap. With `validator_bps` 0 the pools are exactly those of a network without
/// validator rewards.
pub fn plan_epoch(
    epoch: u64,
    emission: Amount,
    tokens_burned: Amount,
    treasury_bps: u32,
    validator_bps: u32,
    demand: Option<&DemandRules>,
    modules: &[ModuleTotals],
) -> Result<EpochPlan, CreditError> {
    let reminted = demand.map_or(Amount::ZERO, |d| remint(tokens_burned, d.remint_bps));
    let rewards = emission
        .checked_add(reminted)
        .ok_or(CreditError::Overflow)?;
    let parts = split_bps(rewards, &[treasury_bps, BPS_DENOMINATOR - treasury_bps]);
    let (mut treasury, suppliers) = (parts[0], parts[1]);
    // The suppliers' part is at least `(10000 - treasury_bps)` of the emission (the split's
    // remainder is theirs), so within `treasury_bps + validator_bps <= 10000` (checked at
    // genesis and by proposals) the minimum never binds; it keeps the split whole regardless.
    let validators = Amount(mul_div_floor(
        emission.0,
        u128::from(validator_bps.min(BPS_DENOMINATOR)),
        u128::from(BPS_DENOMINATOR),
    ))
    .min(suppliers);
    let suppliers = Amount(suppliers.0 - validators.0);
    let weights: Vec<(usize, u128)> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (i, u128::from(m.weight)))
        .collect();
    let (pools, unassigned) = if weights.iter().all(|(_, w)| *w == 0) {
        (vec![Amount::ZERO; modules.len()], suppliers)
    } else {
        let split = pro_rata(suppliers, &weights);
        // The weight split's rounding is the treasury's, like every payout's dust.
        treasury = treasury
            .checked_add(split.dust)
            .ok_or(CreditError::Overflow)?;
        (
            split.payouts.into_iter().map(|(_, a)| a).collect(),
            Amount::ZERO,
        )
    };
    let modules = modules
        .iter()
        .zip(pools)
        .map(|(totals, pool)| module_pools(epoch, pool, demand, *totals))
        .collect();
    Ok(EpochPlan {
        emission,
        reminted,
        treasury,
        validators,
        modules,
        unassigned,
    })
}

fn module_pools(
    epoch: u64,
    pool: Amount,
    demand: Option<&DemandRules>,
    totals: ModuleTotals,
) -> ModulePools {
    let (bootstrap_bps, target, demand_cap) = match demand {
        Some(d) => {
            let bps = d.bootstrap.at(epoch);
            let target = split_bps(pool, &[bps, BPS_DENOMINATOR - bps])[1];
            // The cap may exceed a u128 only for absurd values; then it does not bind.
            let cap = totals
                .demand_value
                .0
                .checked_mul(u128::from(d.demand_cap_bps))
                .map(|v| Amount(v / u128::from(BPS_DENOMINATOR)))
                .unwrap_or(Amount(u128::MAX));
            (bps, target, cap)
        }
        None => (BPS_DENOMINATOR, Amount::ZERO, Amount::ZERO),
    };
    let demand_pool = target.min(demand_cap);
    let bootstrap = Amount(pool.0 - demand_pool.0);
    ModulePools {
        pool,
        bootstrap_bps,
        bootstrap,
        demand: demand_pool,
        demand_cap,
        rolled_over: Amount(target.0 - demand_pool.0),
        totals,
        bootstrap_payer: ProRata::new(bootstrap, totals.total_shares),
        demand_payer: ProRata::new(demand_pool, totals.total_demand_weight),
    }
}

impl EpochPlan {
    /// Accounts for what was paid from each module's pools (`(bootstrap, demand)` per module,
    /// in plan order) and from the validators' pool: a pool with no shares (or no demand
    /// weight) is left unminted, like the validators' forfeited turns; the rounding dust of the
    /// others goes to the treasury.
    ///
    /// # Panics
    /// If a pool paid more than it holds, paid something with no shares, or left more dust
    /// than one base unit per share-holder could: the payout code is wrong, and minting on
    /// would break the supply.
    pub fn settle(
        &self,
        paid: &[(Amount, Amount)],
        holders: &[u64],
        validators: &ValidatorPayout,
    ) -> EpochSettlement {
        assert_eq!(paid.len(), self.modules.len(), "one payment per module");
        assert_eq!(
            validators.pool, self.validators,
            "the validators were paid from this plan's pool"
        );
        assert_eq!(
            validators
                .total_paid
                .plus(validators.dust)
                .plus(validators.forfeited),
            validators.pool,
            "the validator pool balances"
        );
        let mut out = EpochSettlement {
            unminted: self.unassigned.plus(validators.forfeited),
            dust: validators.dust,
            ..EpochSettlement::default()
        };
        let mut paid_total = validators.total_paid;
        for ((m, &(b, d)), &n) in self.modules.iter().zip(paid).zip(holders) {
            let (b_unminted, b_dust) = settle_pool(m.bootstrap, b, m.totals.total_shares, n);
            let (d_unminted, d_dust) = settle_pool(m.demand, d, m.totals.total_demand_weight, n);
            out.unminted = out.unminted.plus(b_unminted).plus(d_unminted);
            out.dust = out.dust.plus(b_dust).plus(d_dust);
            out.module_unminted.push((b_unminted, d_unminted));
            paid_total = paid_total.plus(b).plus(d);
        }
        out.to_treasury = self.treasury.plus(out.dust);
        out.minted = paid_total.plus(out.to_treasury);
        assert_eq!(
            out.minted.plus(out.unminted),
            self.emission.plus(self.reminted),
            "an epoch mints its emission and re-mint or leaves them unminted, nothing else"
        );
        out
    }
}

/// (unminted, dust) of a pool that paid `paid` over weights summing to `total` among
/// `holders`.
fn settle_pool(pool: Amount, paid: Amount, total: u128, holders: u64) -> (Amount, Amount) {
    if total == 0 {
        assert!(paid.is_zero(), "a pool with no shares paid {paid}");
        return (pool, Amount::ZERO);
    }
    let dust = pool
        .checked_sub(paid)
        .unwrap_or_else(|| panic!("a pool of {pool} paid {paid}"));
    assert!(
        dust.0 < u128::from(holders.max(1)),
        "a pool left {dust} of dust among {holders} holders"
    );
    (Amount::ZERO, dust)
}

trait Plus {
    fn plus(self, other: Amount) -> Amount;
}

impl Plus for Amount {
    /// Sums of amounts within one epoch's rewards, which fit a u128 by construction.
    fn plus(self, other: Amount) -> Amount {
        self.checked_add(other)
            .expect("bounded by the epoch's rewards")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> DemandRules {
        DemandRules {
            remint_bps: 2_000,
            demand_cap_bps: 10_000,
            bootstrap: BootstrapDecay {
                start_bps: 9_000,
                floor_bps: 2_000,
                decay_epochs: 10,
            },
        }
    }

    /// Pays a plan over explicit per-device weights, as the ledger does.
    fn pay(plan: &EpochPlan, devices: &[Vec<(u128, u128)>]) -> (Vec<(Amount, Amount)>, Amount) {
        let mut paid = Vec::new();
        let mut total = Amount::ZERO;
        for (m, devs) in plan.modules.iter().zip(devices) {
            let (mut b, mut d) = (Amount::ZERO, Amount::ZERO);
            for &(shares, worth) in devs {
                b = b.plus(m.bootstrap_share(shares));
                d = d.plus(m.demand_share(worth));
            }
            total = total.plus(b).plus(d);
            paid.push((b, d));
        }
        (paid, total)
    }

    #[test]
    fn a_network_with_no_proof_module_mints_only_the_treasury() {
        let plan = plan_epoch(0, Amount(1_000), Amount::ZERO, 1_000, 0, None, &[]).unwrap();
        let s = plan.settle(&[], &[], &ValidatorPayout::default());
        assert_eq!(s.to_treasury, Amount(100));
        assert_eq!(s.unminted, Amount(900));
    }

    #[test]
    fn demand_is_capped_by_what_the_service_is_worth_and_the_rest_rolls_into_bootstrap() {
        let totals = ModuleTotals {
            weight: 1,
            total_shares: 10,
            demand_value: Amount(50),
            total_demand_weight: 50,
        };
        let plan = plan_epoch(
            20,
            Amount(10_000),
            Amount::ZERO,
            0,
            0,
            Some(&rules()),
            &[totals],
        )
        .unwrap();
        let m = &plan.modules[0];
        assert_eq!(m.bootstrap_bps, 2_000);
        assert_eq!(m.demand, Amount(50), "capped at 1x the value paid");
        assert_eq!(m.rolled_over, Amount(8_000 - 50));
        assert_eq!(m.bootstrap, Amount(9_950));
    }

    /// What the devices `mine` (indexes into module 0's devices) are paid in an epoch whose
    /// modules' devices are `(shares, worth)`, with `burned` tokens burned.
    fn paid_to(
        rules: &DemandRules,
        epoch: u64,
        treasury_bps: u32,
        burned: u128,
        modules: &[(u32, Vec<(u128, u128)>)],
        mine: usize,
    ) -> u128 {
        let totals: Vec<ModuleTotals> = modules
            .iter()
            .map(|(w, devs)| ModuleTotals {
                weight: *w,
                total_shares: devs.iter().map(|d| d.0).sum(),
                demand_value: Amount(devs.iter().map(|d| d.1).sum()),
                total_demand_weight: devs.iter().map(|d| d.1).sum(),
            })
            .collect();
        let plan = plan_epoch(
            epoch,
            Amount(1_000_000_000),
            Amount(burned),
            treasury_bps,
            0,
            Some(rules),
            &totals,
        )
        .unwrap();
        let m = &plan.modules[0];
        modules[0].1[..mine]
            .iter()
            .map(|&(shares, worth)| m.bootstrap_share(shares).0 + m.demand_share(worth).0)
            .sum()
    }

    /// The gain of an owner of module 0's first `mine` devices who burns `x` tokens and routes
    /// the credits through the first of them: its payout with the self-dealt service minus
    /// without.
    fn self_dealing_gain(
        rules: &DemandRules,
        epoch: u64,
        treasury_bps: u32,
        burned: u128,
        modules: &[(u32, Vec<(u128, u128)>)],
        mine: usize,
        x: u128,
    ) -> i128 {
        let without = paid_to(rules, epoch, treasury_bps, burned, modules, mine);
        let mut dealt = modules.to_vec();
        dealt[0].1[0].1 += x;
        let with = paid_to(rules, epoch, treasury_bps, burned + x, &dealt, mine);
        with as i128 - without as i128
    }

    /// With `fill` (basis points), module 0's first honest device (after the `mine` ones) is
    /// given the honest demand that makes the module's demand value `fill` of what fills its
    /// demand target at the cap: where the cap and the target meet, a self-dealer gains most.
    fn near_the_target(
        rules: &DemandRules,
        epoch: u64,
        treasury_bps: u32,
        burned: u128,
        mut modules: Vec<(u32, Vec<(u128, u128)>)>,
        mine: usize,
        fill: Option<u128>,
    ) -> Vec<(u32, Vec<(u128, u128)>)> {
        let Some(fill) = fill else { return modules };
        if rules.demand_cap_bps == 0 {
            return modules;
        }
        let totals: Vec<ModuleTotals> = modules
            .iter()
            .map(|(w, devs)| ModuleTotals {
                weight: *w,
                total_shares: devs.iter().map(|d| d.0).sum(),
                ..ModuleTotals::default()
            })
            .collect();
        let plan = plan_epoch(
            epoch,
            Amount(1_000_000_000),
            Amount(burned),
            treasury_bps,
            0,
            Some(rules),
            &totals,
        )
        .unwrap();
        let m = &plan.modules[0];
        let target = m.pool.0 * u128::from(BPS_DENOMINATOR - m.bootstrap_bps) / 10_000;
        let value = target * 10_000 / u128::from(rules.demand_cap_bps) * fill / 10_000;
        let others: u128 = modules[0].1.iter().map(|d| d.1).sum::<u128>() - modules[0].1[mine].1;
        modules[0].1[mine].1 = value.saturating_sub(others).max(1);
        modules
    }

    #[test]
    fn above_the_bound_self_dealing_pays() {
        // Honest demand just fills the demand target (80% of the 1,000-token pool at the
        // floor); the owner of half the shares pays its own device 1 token. With the cap at 1x
        // and a 50% re-mint, it gets more back: nearly all of it through the demand pool, and
        // half the re-mint's bootstrap part.
        let rules = DemandRules {
            remint_bps: 5_000,
            demand_cap_bps: 10_000,
            ..rules()
        };
        assert!(rules.self_dealing_pays().is_some());
        let modules = vec![(1, vec![(500, 0), (500, 800_000_000)])];
        let gain = self_dealing_gain(&rules, 20, 0, 0, &modules, 1, 1_000_000);
        assert!(gain > 1_000_000, "gained {gain} for a burn of 1,000,000");
        // Within the bound (the re-mint fits under the cap's headroom) it does not.
        let rules = DemandRules {
            remint_bps: 2_000,
            demand_cap_bps: 8_000,
            ..rules
        };
        assert!(rules.self_dealing_pays().is_none());
        let gain = self_dealing_gain(&rules, 20, 0, 0, &modules, 1, 1_000_000);
        assert!(gain <= 1_000_000, "gained {gain} for a burn of 1,000,000");
    }

    proptest! {
        /// Whoever else shares the pools (honest devices with honest demand, other modules),
        /// whatever the re-mint, cap, treasury share and epoch: within the bound
        /// (`remint_bps + demand_cap_bps <= 10000`), a payer who burns `x` tokens and routes
        /// the credits through their own device gets back at most `x` across all their devices.
        #[test]
        fn self_dealing_returns_at_most_the_burn(
            remint_bps in 0u32..=10_000,
            cap_share in 0u32..=10_000,
            treasury_bps in 0u32..=5_000,
            epoch in 0u64..40,
            burned in 0u128..10_000_000_000,
            x in prop_oneof![1u128..1_000_000, 1u128..1_000_000_000, 1u128..100_000_000_000],
            mine in 1usize..4,
            fill in prop_oneof![Just(None), (10_000u128..10_100).prop_map(Some), (9_000u128..11_000).prop_map(Some)],
            modules in proptest::collection::vec(
                (1u32..5, proptest::collection::vec((0u128..1_000_000, prop_oneof![Just(0u128), 0u128..100_000_000, 0u128..100_000_000_000]), 4..8)),
                1..4,
            ),
        ) {
            let rules = DemandRules {
                remint_bps,
                // Any cap within the headroom the re-mint leaves.
                demand_cap_bps: ((10_000 - remint_bps) as u64 * cap_share as u64 / 10_000) as u32,
                ..rules()
            };
            prop_assert!(rules.self_dealing_pays().is_none());
            let modules = near_the_target(&rules, epoch, treasury_bps, burned, modules, mine, fill);
            let gain = self_dealing_gain(&rules, epoch, treasury_bps, burned, &modules, mine, x);
            prop_assert!(gain <= x as i128, "gained {} for a burn of {}", gain, x);
        }

        /// Across any set of proof modules, weights, work, demand, treasury and validator
        /// shares and validator turns, the close mints exactly its emission and re-mint or
        /// leaves them unminted (emission + re-mint = treasury + validator pool + module pools +
        /// unassigned; each pool = paid + dust + unminted), each module's pools sum to its
        /// part, no demand pool exceeds its cap, and the validators' pool is exactly their
        /// share of the emission when the shares fit.
        #[test]
        fn the_close_conserves_money_across_any_module_set(
            emission in 0u128..1_000_000_000_000,
            burned in 0u128..1_000_000_000,
            treasury_bps in 0u32..=10_000,
            validator_bps in prop_oneof![Just(0u32), 0u32..=10_000],
            epoch in 0u64..40,
            with_demand in any::<bool>(),
            modules in proptest::collection::vec(
                (0u32..5, proptest::collection::vec((0u128..1_000_000, 0u128..1_000_000), 0..8)),
                0..5,
            ),
            turns in proptest::collection::vec((0u64..1_000, 0u64..1_000), 0..6),
        ) {
            let rules = rules();
            let demand = with_demand.then_some(&rules);
            let totals: Vec<ModuleTotals> = modules
                .iter()
                .map(|(w, devs)| ModuleTotals {
                    weight: *w,
                    total_shares: devs.iter().map(|d| d.0).sum(),
                    demand_value: Amount(devs.iter().map(|d| d.1).sum()),
                    total_demand_weight: devs.iter().map(|d| d.1).sum(),
                })
                .collect();
            let plan = plan_epoch(
                epoch, Amount(emission), Amount(burned), treasury_bps, validator_bps, demand, &totals,
            )
            .unwrap();
            let without = plan_epoch(
                epoch, Amount(emission), Amount(burned), treasury_bps, 0, demand, &totals,
            )
            .unwrap();
            // The treasury's share does not move; only the dust of the module-weight split (less
            // than one base unit a module) can, as the suppliers' part it splits is smaller.
            prop_assert!(
                plan.treasury.0.abs_diff(without.treasury.0) < modules.len().max(1) as u128,
                "the treasury's share does not move"
            );
            if treasury_bps + validator_bps <= 10_000 {
                prop_assert_eq!(
                    plan.validators.0,
                    mul_div_floor(emission, u128::from(validator_bps), 10_000)
                );
            }
            let mut split = plan.treasury.plus(plan.unassigned).plus(plan.validators);
            for m in &plan.modules {
                prop_assert_eq!(m.bootstrap.plus(m.demand), m.pool);
                prop_assert!(m.demand <= m.demand_cap || m.demand.is_zero());
                split = split.plus(m.pool);
            }
            prop_assert_eq!(split, plan.emission.plus(plan.reminted));
            let devices: Vec<Vec<(u128, u128)>> = modules.iter().map(|(_, d)| d.clone()).collect();
            let holders: Vec<u64> = devices.iter().map(|d| d.len() as u64).collect();
            let (paid, total) = pay(&plan, &devices);
            let rows: Vec<(crate::crypto::Address, u64, u64)> = turns
                .iter()
                .enumerate()
                .map(|(i, (p, s))| (crate::crypto::Address([i as u8; 32]), *p, *s))
                .collect();
            let v = super::super::validators::pay_validators(plan.validators, &rows);
            let s = plan.settle(&paid, &holders, &v);
            prop_assert_eq!(s.minted, total.plus(v.total_paid).plus(s.to_treasury));
            prop_assert_eq!(s.minted.plus(s.unminted), Amount(emission).plus(plan.reminted));
            if validator_bps == 0 {
                // 0 is exactly the close without validators.
                let s0 = without.settle(&paid, &holders, &ValidatorPayout::default());
                prop_assert_eq!(s, s0);
            }
        }
    }
}
