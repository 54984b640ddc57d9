//! One Monte Carlo run: a population of suppliers, users and a token market stepped one reward
//! epoch at a time through depin-core's own emission, pool, credit and payout functions.
//!
//! Each step: scheduled events apply; agents that act this step join or leave on expected USD
//! profit; coverage and service quality set the demand served; users buy tokens and burn them
//! for credits at the oracle's minting price; the epoch's pools are computed and paid to the
//! active suppliers exactly; then the market moves the price on the net of users' buying,
//! suppliers' selling, noise and crashes. Supplier state lives in flat arrays allocated once per
//! run; nothing is allocated per agent or per step in the agent loops.

use std::io::Write;

use anyhow::{Context, Result, ensure};
use depin_core::amount::Amount;
use depin_core::economics::{
    DemandRules, EmissionSchedule, EpochPlan, ModuleTotals, ProRata, TokenPrice, credits_for_burn,
    oracle_price, pay_validators, plan_epoch, token_value_of_credits, tokens_for_credits,
};

use crate::kpi::{KPI_COUNT, Kpi, Row};
use crate::rng::{Purpose, SETUP_STEP, Stream, threshold};
use crate::scenario::{Decided, EconomicsPlan, Event, Pricing, Scenario};

/// Integer weight of a quality (or quality x traffic) of 1.0 in the payout shares.
const WEIGHT_SCALE: f64 = 10_000.0;

/// ln(1.01): a net flow of `market.depth_usd` moves the price by 1%.
const LN_1_01: f64 = 0.009_950_330_853_168_083;

const ACTIVE: u8 = 1;
const EVER_JOINED: u8 = 2;
const PAID_BACK: u8 = 4;
const IN_PROFIT: u8 = 8;

/// Per-supplier state, one array per attribute.
struct Population {
    flags: Vec<u8>,
    /// Proof-of-coverage share weight: quality x WEIGHT_SCALE.
    coverage_weight: Vec<u32>,
    /// Weight of the demand a supplier serves: quality x traffic x WEIGHT_SCALE.
    service_weight: Vec<u32>,
    quality: Vec<f32>,
    service: Vec<f32>,
    hardware_usd: Vec<f32>,
    opex_usd: Vec<f32>,
    /// Cumulative USD earned and spent (hardware on each join, operating cost each active step).
    revenue_usd: Vec<f32>,
    cost_usd: Vec<f32>,
    first_joined: Vec<u32>,
    /// Credits attributed this step (scratch, reused).
    credits: Vec<u64>,
}

impl Population {
    fn new(sc: &Scenario, run: u64) -> Population {
        let s = &sc.suppliers;
        let n = s.population as usize;
        let seed = sc.scenario.seed;
        let stream = |p| Stream::new(seed, run, SETUP_STEP, p);
        let (hw, op, ql, tr) = (
            stream(Purpose::Hardware),
            stream(Purpose::Opex),
            stream(Purpose::Quality),
            stream(Purpose::Traffic),
        );
        let mut p = Population {
            flags: vec![0; n],
            coverage_weight: vec![0; n],
            service_weight: vec![0; n],
            quality: vec![0.0; n],
            service: vec![0.0; n],
            hardware_usd: vec![0.0; n],
            opex_usd: vec![0.0; n],
            revenue_usd: vec![0.0; n],
            cost_usd: vec![0.0; n],
            first_joined: vec![0; n],
            credits: vec![0; n],
        };
        for i in 0..n {
            let a = i as u64;
            let q = s.quality.sample(ql, a, 0.0, 1.0);
            let t = s.traffic.sample(tr, a, 0.0, 1e6);
            p.quality[i] = q as f32;
            p.service[i] = (q * t) as f32;
            p.coverage_weight[i] = (q * WEIGHT_SCALE).round() as u32;
            p.service_weight[i] = (q * t * WEIGHT_SCALE).round().min(u32::MAX as f64) as u32;
            p.hardware_usd[i] = s.hardware_usd.sample(hw, a, 0.0, f64::MAX) as f32;
            p.opex_usd[i] = s.opex_usd_per_step.sample(op, a, 0.0, f64::MAX) as f32;
            if (i as u32) < s.initial_active {
                p.flags[i] = ACTIVE | EVER_JOINED;
                p.cost_usd[i] = p.hardware_usd[i];
            }
        }
        p
    }
}

/// What a run yields beyond its per-step rows.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Active suppliers fell below `kpi.collapse_fraction` of their running peak at some step.
    pub collapsed: bool,
    pub peak_active: u32,
    /// Steps from first joining to first having earned back all costs, median over the
    /// suppliers that did; `None` if none did.
    pub median_payback_steps: Option<f64>,
    /// Share of suppliers (ever joined) who earned back their costs at some step.
    pub paid_back_share: f64,
    pub ever_joined: u32,
    /// Suppliers who paid back, by epochs from joining to paying back, in bins of
    /// [`payback_bin_epochs`] (the last bin also holds anything longer).
    pub payback_histogram: [u32; PAYBACK_BINS],
}

/// A finished run: one row of indicators per step (as f32: they feed percentiles and charts).
#[derive(Clone, Debug)]
pub struct RunResult {
    pub rows: Vec<[f32; KPI_COUNT]>,
    pub summary: RunSummary,
}

/// Exact token accounting of a run, checked every step.
struct Ledger {
    genesis: u128,
    supply: u128,
    minted: u128,
    burned: u128,
}

/// Runs scenario `sc` once as run number `run` under its economics as the ledger runs them
/// (`plan`: [`Scenario::economics_plan`]), writing its per-step CSV to `csv` if given.
pub fn simulate(
    sc: &Scenario,
    plan: &EconomicsPlan,
    run: u32,
    mut csv: Option<&mut dyn Write>,
) -> Result<RunResult> {
    let run_key = u64::from(run);
    let seed = sc.scenario.seed;
    let steps = sc.scenario.steps;
    let decimals = sc.token.decimals;
    let base_units_per_token = 10f64.powi(i32::from(decimals));
    let steps_per_year = 365.0 / sc.scenario.step_days;
    let s = &sc.suppliers;
    let d = &sc.demand;
    let m = &sc.market;
    let n = s.population as usize;

    let mut pop = Population::new(sc, run_key);
    let mut schedule: EmissionSchedule = plan.initial.schedule.clone();
    let mut params = plan.initial.params;
    let mut validator_bps = plan.initial.validator_bps;
    let turns = sc.governance.validator_turns();
    let genesis = sc.genesis_supply().0;
    let mut ledger = Ledger {
        genesis,
        supply: genesis,
        minted: 0,
        burned: 0,
    };

    let mut price = sc.token.initial_price_usd;
    let initial_market_cap = genesis as f64 / base_units_per_token * price;
    let tokens_per_unit = d.usd_per_unit / sc.token.initial_price_usd;
    let window = sc.oracle.window_steps as usize;
    let mut oracle_window = vec![price_fixed(price); window];
    let mut potential = d.initial_units;

    // Expected tokens per unit of quality (bootstrap) and of served weight (demand) per step,
    // moving averages; they start from what the first epoch would pay the initial suppliers.
    let initial_q: f64 = pop.quality[..s.initial_active as usize]
        .iter()
        .map(|q| f64::from(*q))
        .sum();
    let first = schedule.at(0).0 as f64 / base_units_per_token;
    let to_others = f64::from(params.treasury_bps + validator_bps) / 1e4;
    let mut bootstrap_rate = first * (1.0 - to_others).max(0.0) / initial_q.max(1.0);
    let mut demand_rate = 0.0f64;
    let alpha = s.expectation_smoothing;
    let act_threshold = threshold(s.act_probability);
    let exit_level = 1.0 - s.exit_tolerance as f32;
    let payback_target = s.payback_target_steps as f32;

    let mut rows = Vec::with_capacity(steps as usize);
    let mut paybacks: Vec<u32> = Vec::new();
    let mut in_profit: u32 = 0;
    let mut ever_joined: u32 = s.initial_active;
    let mut total_revenue_usd = 0.0f64;
    let mut total_cost_usd: f64 = pop.cost_usd.iter().map(|c| f64::from(*c)).sum();
    let mut peak_active = 0u32;
    let mut collapsed = false;

    if let Some(w) = csv.as_deref_mut() {
        write_header(w)?;
    }

    for step in 0..steps {
        let epoch = u64::from(step);
        for (index, event) in sc.events.iter().enumerate() {
            if event.step() != step {
                continue;
            }
            match event {
                Event::Halving { .. } => {
                    schedule.initial_per_epoch = Amount(schedule.initial_per_epoch.0 >> 1);
                    schedule.tail_per_epoch = Amount(schedule.tail_per_epoch.0 >> 1);
                }
                // Decided by the ledger's code when the scenario was loaded; a proposal the
                // stakers voted down changes nothing.
                Event::Governance { .. } => {
                    if let Some(Decided::Applied {
                        economics,
                        emission_changed,
                    }) = plan.decided(index)
                    {
                        params = economics.params;
                        validator_bps = economics.validator_bps;
                        // A change to the emission replaces the schedule, earlier halving
                        // events included: governance sets the new emission outright.
                        if *emission_changed {
                            schedule = economics.schedule.clone();
                        }
                    }
                }
                Event::PriceShock { factor, .. } => price = (price * factor).max(1e-8),
                Event::DemandShock { factor, .. } => {
                    potential = (potential * factor).min(d.max_units)
                }
            }
        }
        let peg_usd_now = params.credit_peg.0 as f64 / 1e8;

        // 1. Suppliers who act this step decide on expected USD profit.
        let usd_per_quality = (bootstrap_rate * price) as f32;
        let usd_per_service = (demand_rate * price) as f32;
        let act = Stream::new(seed, run_key, epoch, Purpose::Act);
        let (mut joins, mut exits, mut active) = (0u32, 0u32, 0u32);
        let (mut sum_coverage_w, mut sum_service_w) = (0u64, 0u64);
        for i in 0..n {
            let mut flags = pop.flags[i];
            if act.bits(i as u64) < act_threshold {
                let expected = pop.quality[i] * usd_per_quality + pop.service[i] * usd_per_service;
                let opex = pop.opex_usd[i];
                if flags & ACTIVE != 0 {
                    if expected < exit_level * opex {
                        flags &= !ACTIVE;
                        exits += 1;
                    }
                } else if (expected - opex) * payback_target >= pop.hardware_usd[i] {
                    if flags & EVER_JOINED == 0 {
                        pop.first_joined[i] = step;
                        ever_joined += 1;
                    }
                    flags |= ACTIVE | EVER_JOINED;
                    let hw = pop.hardware_usd[i];
                    pop.cost_usd[i] += hw;
                    total_cost_usd += f64::from(hw);
                    joins += 1;
                }
                pop.flags[i] = flags;
            }
            if flags & ACTIVE != 0 {
                active += 1;
                sum_coverage_w += u64::from(pop.coverage_weight[i]);
                sum_service_w += u64::from(pop.service_weight[i]);
            }
        }
        peak_active = peak_active.max(active);
        if f64::from(active) < sc.kpi.collapse_fraction * f64::from(peak_active) {
            collapsed = true;
        }

        // 2. Coverage and quality set the demand served; users buy tokens and burn them.
        let sum_quality = sum_coverage_w as f64 / WEIGHT_SCALE;
        let sum_service = sum_service_w as f64 / WEIGHT_SCALE;
        let coverage = 1.0 - libm::exp2(-sum_quality / s.coverage_half_at);
        let service_quality = if active > 0 {
            sum_quality / f64::from(active)
        } else {
            0.0
        };
        let served = (potential * coverage * libm::pow(service_quality, d.quality_elasticity))
            .min(sum_quality * d.capacity_units_per_supplier);
        let quote = oracle_price(&oracle_window).context("the oracle window holds a price")?;
        let tokens_burned = match d.pricing {
            Pricing::Pegged => {
                let credits_wanted = (served * d.usd_per_unit / peg_usd_now).floor() as u128;
                tokens_for_credits(credits_wanted, quote.minting, decimals, params.credit_peg)?
            }
            Pricing::Token => {
                Amount((served * tokens_per_unit * base_units_per_token).floor() as u128)
            }
        };
        let credits = credits_for_burn(tokens_burned, quote.minting, decimals, params.credit_peg)?;
        let burned = tokens_burned.0;
        let demand_usd = burned as f64 / base_units_per_token * price;

        // 3. Credits to the devices that served them.
        let credit_payer = ProRata::new(Amount(credits), u128::from(sum_service_w));
        let mut attributed: u128 = 0;
        for i in 0..n {
            let c = if pop.flags[i] & ACTIVE != 0 {
                credit_payer.share(u128::from(pop.service_weight[i])).0 as u64
            } else {
                0
            };
            pop.credits[i] = c;
            attributed += u128::from(c);
        }

        // 4. The epoch's pools, by the ledger's own close: one proof module whose devices are
        // the agents, its demand valued at the median like the ledger's (credits bought at this
        // step's price, so their cost never binds), then both pools pro rata, exactly.
        let emission = schedule.at(epoch);
        let demand_value = if credits == 0 {
            Amount::ZERO
        } else {
            token_value_of_credits(credits, quote.median, decimals, params.credit_peg)?
        };
        let plan = plan_epoch(
            epoch,
            emission,
            tokens_burned,
            params.treasury_bps,
            validator_bps,
            Some(&DemandRules {
                remint_bps: params.remint_bps,
                demand_cap_bps: params.demand_cap_bps,
                bootstrap: params.bootstrap,
            }),
            &[ModuleTotals {
                weight: 1,
                total_shares: u128::from(sum_coverage_w),
                demand_value,
                total_demand_weight: attributed,
            }],
        )?;
        let pools = &plan.modules[0];
        let usd_per_base_unit = price / base_units_per_token;
        let (mut paid_bootstrap, mut paid_demand) = (0u128, 0u128);
        let (mut step_revenue_usd, mut step_opex_usd) = (0.0f64, 0.0f64);
        let mut losing = 0u32;
        for i in 0..n {
            let flags = pop.flags[i];
            if flags & ACTIVE == 0 {
                continue;
            }
            let b = pools.bootstrap_share(u128::from(pop.coverage_weight[i])).0;
            let c = pools.demand_share(u128::from(pop.credits[i])).0;
            paid_bootstrap += b;
            paid_demand += c;
            let tokens = b + c;
            let units = u128_to_f64(tokens);
            let usd = (units * usd_per_base_unit) as f32;
            let opex = pop.opex_usd[i];
            let revenue = pop.revenue_usd[i] + usd;
            let cost = pop.cost_usd[i] + opex;
            pop.revenue_usd[i] = revenue;
            pop.cost_usd[i] = cost;
            step_revenue_usd += f64::from(usd);
            step_opex_usd += f64::from(opex);
            losing += u32::from(usd < opex);
            let profitable = revenue >= cost;
            let mut f = flags;
            if profitable != (flags & IN_PROFIT != 0) {
                f ^= IN_PROFIT;
                if profitable {
                    in_profit += 1;
                } else {
                    in_profit -= 1;
                }
            }
            if profitable && flags & PAID_BACK == 0 {
                f |= PAID_BACK;
                paybacks.push(step - pop.first_joined[i]);
            }
            pop.flags[i] = f;
        }
        total_revenue_usd += step_revenue_usd;
        total_cost_usd += step_opex_usd;

        // 5. Conservation: the close settles every pool (a pool nobody holds a share of is not
        // minted, rounding dust goes to the treasury), and supply follows the flows.
        let validators = pay_validators(plan.validators, &turns);
        let settled = plan.settle(
            &[(Amount(paid_bootstrap), Amount(paid_demand))],
            &[u64::from(active)],
            &validators,
        );
        let treasury = settled.to_treasury.0;
        let minted = settled.minted.0;
        check_step(&mut ledger, &plan, minted, settled.unminted.0, burned)
            .with_context(|| format!("conservation broke in run {run} at step {step}"))?;

        // 6. The market: users bought what they burned, suppliers sell a share of rewards.
        let reward_tokens = (paid_bootstrap + paid_demand) as f64 / base_units_per_token;
        let sell_usd = m.sell_share * reward_tokens * price;
        let net_usd = demand_usd + m.net_flow_usd_per_step - sell_usd;
        // Depth grows and shrinks with the market cap: a scarce or cheap token moves more on
        // the same flow.
        let market_cap = ledger.supply as f64 / base_units_per_token * price;
        let depth = m.depth_usd * market_cap / initial_market_cap;
        let mut log_return = LN_1_01 * (net_usd / depth)
            + m.volatility * Stream::new(seed, run_key, epoch, Purpose::MarketNoise).normal(0)
            - 0.5 * m.volatility * m.volatility;
        if Stream::new(seed, run_key, epoch, Purpose::MarketCrash).bits(0)
            < threshold(m.crash_probability)
        {
            log_return += libm::log(1.0 - m.crash_size);
        }
        let price_before = price;
        price = (price * libm::exp(log_return)).clamp(1e-8, 1e12);
        oracle_window.rotate_left(1);
        oracle_window[window - 1] = price_fixed(price);

        // 7. Expectations: the rewards per unit of quality and of served weight just paid.
        let bootstrap_obs = pools.bootstrap.0 as f64 / base_units_per_token / sum_quality.max(1.0);
        let demand_obs = pools.demand.0 as f64 / base_units_per_token / sum_service.max(1.0);
        bootstrap_rate += alpha * (bootstrap_obs - bootstrap_rate);
        demand_rate += alpha * (demand_obs - demand_rate);
        potential += d.growth_per_step * potential * (1.0 - potential / d.max_units);
        potential = potential.max(0.0);

        let supply_before = (ledger.supply + burned - minted) as f64;
        let mut row: Row = [0.0; KPI_COUNT];
        let tok = |v: u128| v as f64 / base_units_per_token;
        row[Kpi::ActiveSuppliers as usize] = f64::from(active);
        row[Kpi::Joins as usize] = f64::from(joins);
        row[Kpi::Exits as usize] = f64::from(exits);
        row[Kpi::Coverage as usize] = coverage;
        row[Kpi::ServiceQuality as usize] = service_quality;
        row[Kpi::PotentialDemand as usize] = potential;
        row[Kpi::ServedDemand as usize] = served;
        row[Kpi::DemandUsd as usize] = demand_usd;
        row[Kpi::PriceUsd as usize] = price_before;
        row[Kpi::SupplyTokens as usize] = tok(ledger.supply);
        row[Kpi::MintedTokens as usize] = tok(minted);
        row[Kpi::BurnedTokens as usize] = tok(burned);
        row[Kpi::InflationAnnual as usize] = if supply_before > 0.0 {
            (minted as f64 - burned as f64) / supply_before * steps_per_year
        } else {
            0.0
        };
        row[Kpi::BurnMintRatio as usize] = burned as f64 / (minted.max(1)) as f64;
        row[Kpi::DemandPool as usize] = tok(pools.demand.0);
        row[Kpi::BootstrapPool as usize] = tok(pools.bootstrap.0);
        row[Kpi::Treasury as usize] = tok(treasury);
        row[Kpi::ValidatorsPaid as usize] = tok(validators.total_paid.0);
        row[Kpi::BootstrapShare as usize] = f64::from(pools.bootstrap_bps) / 1e4;
        row[Kpi::RevenuePerSupplierUsd as usize] = if active > 0 {
            step_revenue_usd / f64::from(active)
        } else {
            0.0
        };
        row[Kpi::LosingMoneyShare as usize] = if active > 0 {
            f64::from(losing) / f64::from(active)
        } else {
            0.0
        };
        row[Kpi::SupplierRoi as usize] = if total_cost_usd > 0.0 {
            total_revenue_usd / total_cost_usd - 1.0
        } else {
            0.0
        };
        row[Kpi::InProfitShare as usize] = if ever_joined > 0 {
            f64::from(in_profit) / f64::from(ever_joined)
        } else {
            0.0
        };
        row[Kpi::MarketCapUsd as usize] = tok(ledger.supply) * price_before;
        row[Kpi::RevenueTotalUsd as usize] = total_revenue_usd;
        row[Kpi::CostTotalUsd as usize] = total_cost_usd;
        if let Some(w) = csv.as_deref_mut() {
            write_row(w, step, &row, [ledger.supply, minted, burned])?;
        }
        rows.push(row.map(|v| v as f32));
    }

    let mut payback_histogram = [0u32; PAYBACK_BINS];
    let bin_epochs = payback_bin_epochs(steps);
    for p in &paybacks {
        payback_histogram[((p / bin_epochs) as usize).min(PAYBACK_BINS - 1)] += 1;
    }
    let median_payback_steps = if paybacks.is_empty() {
        None
    } else {
        let mid = paybacks.len() / 2;
        let (_, m, _) = paybacks.select_nth_unstable(mid);
        Some(f64::from(*m))
    };
    Ok(RunResult {
        rows,
        summary: RunSummary {
            collapsed,
            peak_active,
            median_payback_steps,
            paid_back_share: if ever_joined > 0 {
                paybacks.len() as f64 / f64::from(ever_joined)
            } else {
                0.0
            },
            ever_joined,
            payback_histogram,
        },
    })
}

/// Bins of the payback histogram: payback times from 0 to the run's length in equal widths.
pub const PAYBACK_BINS: usize = 12;

/// Width in epochs of one payback bin for a run of `steps` epochs.
pub fn payback_bin_epochs(steps: u32) -> u32 {
    steps.div_ceil(PAYBACK_BINS as u32).max(1)
}

/// `v` as a float from its two 64-bit halves: a u128 conversion is a library call, and this one
/// runs for every paid supplier every step. Within one rounding of `v as f64`.
#[inline]
fn u128_to_f64(v: u128) -> f64 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    (v >> 64) as u64 as f64 * TWO_64 + v as u64 as f64
}

/// USD price as the oracle's fixed point (never zero: a zero price is no price).
fn price_fixed(usd: f64) -> TokenPrice {
    TokenPrice(((usd * 1e8).round() as u64).max(1))
}

fn check_step(
    ledger: &mut Ledger,
    plan: &EpochPlan,
    minted: u128,
    unminted: u128,
    burned: u128,
) -> Result<()> {
    let rewards = plan.emission.0 + plan.reminted.0;
    let pools: u128 = plan
        .modules
        .iter()
        .map(|m| m.bootstrap.0 + m.demand.0)
        .sum();
    ensure!(
        plan.treasury.0 + plan.validators.0 + plan.unassigned.0 + pools == rewards,
        "pools do not sum to emission + re-mint"
    );
    ensure!(
        minted + unminted == rewards,
        "minted {minted} + unminted {unminted} != rewards {rewards}"
    );
    ledger.supply = ledger
        .supply
        .checked_add(minted)
        .and_then(|s| s.checked_sub(burned))
        .context("users burned more tokens than exist")?;
    ledger.minted += minted;
    ledger.burned += burned;
    ensure!(
        ledger.supply + ledger.burned == ledger.genesis + ledger.minted,
        "supply {} != genesis {} + minted {} - burned {}",
        ledger.supply,
        ledger.genesis,
        ledger.minted,
        ledger.burned
    );
    Ok(())
}

fn write_header(w: &mut dyn Write) -> Result<()> {
    write!(w, "step")?;
    for k in Kpi::ALL {
        write!(w, ",{}", k.name())?;
    }
    writeln!(w, ",supply_base_units,minted_base_units,burned_base_units")?;
    Ok(())
}

/// A CSV row: the indicators, then the exact token flows of the step in base units.
fn write_row(w: &mut dyn Write, step: u32, row: &Row, exact: [u128; 3]) -> Result<()> {
    write!(w, "{step}")?;
    for v in row {
        write!(w, ",{v}")?;
    }
    writeln!(w, ",{},{},{}", exact[0], exact[1], exact[2])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_check_catches_a_missing_token() {
        let totals = ModuleTotals {
            weight: 1,
            total_shares: 1,
            ..ModuleTotals::default()
        };
        let pools = plan_epoch(0, Amount(100), Amount::ZERO, 1_000, 0, None, &[totals]).unwrap();
        let mut ledger = Ledger {
            genesis: 1_000,
            supply: 1_000,
            minted: 0,
            burned: 0,
        };
        check_step(&mut ledger, &pools, 100, 0, 30).unwrap();
        assert_eq!(ledger.supply, 1_070);
        assert!(check_step(&mut ledger, &pools, 99, 0, 0).is_err());
        let mut broke = Ledger {
            genesis: 10,
            supply: 10,
            minted: 0,
            burned: 0,
        };
        assert!(check_step(&mut broke, &pools, 100, 0, 200).is_err());
    }
}
