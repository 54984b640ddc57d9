//! Scenario files: what is simulated (token, economics, suppliers, demand, market, events) and
//! how (steps, runs, seed, sweeps), read from TOML with every field checked.
//!
//! Unknown keys are errors (a typo never silently falls back to a default), and every value is
//! validated with a message naming the field and the range it must be in.

use std::path::Path;

use anyhow::{Context, Result, bail};
use depin_core::amount::Amount;
use depin_core::economics::{BootstrapDecay, DemandParams, EmissionSchedule};
use depin_core::genesis::{EconomicsGenesis, Genesis, GenesisError, Params};
use depin_core::services::demand::params::{DemandGenesis, preset};
use depin_core::services::governance::{GovernanceGenesis, ProposalKind};
use depin_core::{Address, Hash};
use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;

/// Most agents a scenario may hold (memory per run is about 40 bytes each).
pub const MAX_POPULATION: u32 = 10_000_000;
/// Most epochs a run may last (step indices are stored as u32).
pub const MAX_STEPS: u32 = 1_000_000;

/// A whole scenario file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    pub token: Token,
    pub economics: Economics,
    #[serde(default)]
    pub oracle: Oracle,
    pub suppliers: Suppliers,
    pub demand: Demand,
    pub market: Market,
    #[serde(default)]
    pub governance: Voting,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub kpi: Kpi,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

/// `[scenario]`: name and run control.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Epochs simulated; one step is one reward epoch.
    pub steps: u32,
    /// Days per epoch, to annualise inflation.
    #[serde(default = "one")]
    pub step_days: f64,
    /// Monte Carlo runs.
    pub runs: u32,
    pub seed: u64,
}

fn one() -> f64 {
    1.0
}

/// `[token]`: the native token at genesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub decimals: u8,
    /// Whole tokens in existence at step 0 (genesis allocations), e.g. "200_000_000".
    pub genesis_supply: String,
    /// Market price at step 0, USD per token.
    pub initial_price_usd: f64,
}

/// `[economics]`: the genesis economics a network would launch with (same names as a genesis
/// file's `[economics]`, plus the demand-side parameters).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Economics {
    /// Whole tokens minted per epoch before the first halving.
    pub emission_per_epoch: String,
    /// Epochs between halvings; 0 for none.
    pub halving_interval_epochs: u64,
    /// Whole tokens per epoch the emission never falls below.
    #[serde(default = "zero_tokens")]
    pub tail_per_epoch: String,
    pub treasury_bps: u32,
    /// Share of burned tokens minted again as rewards (0: pure burn-and-mint).
    pub remint_bps: u32,
    /// Demand pool cap as a multiple of the USD users paid, basis points (30000 = 3x).
    pub demand_cap_bps: u32,
    /// USD value of one credit, e.g. "0.00001".
    pub credit_usd: String,
    pub bootstrap_start_bps: u32,
    pub bootstrap_floor_bps: u32,
    pub bootstrap_decay_epochs: u64,
}

fn zero_tokens() -> String {
    "0".into()
}

/// `[oracle]`: how the price credits are minted at is formed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oracle {
    /// Steps of market prices in the oracle's window (median and conservative side).
    pub window_steps: u32,
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle { window_steps: 5 }
    }
}

/// `[suppliers]`: the population of potential hardware operators and how they decide.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppliers {
    /// Agents: every potential supplier, active or not.
    pub population: u32,
    /// Agents active at step 0.
    pub initial_active: u32,
    /// Chance that an agent reconsiders joining or leaving in a step.
    pub act_probability: f64,
    /// An idle agent joins when its expected profit per step repays its hardware within this
    /// many steps.
    pub payback_target_steps: f64,
    /// An active agent leaves when its expected revenue falls below (1 - this) times its
    /// operating cost; the gap between the join and exit rules is the hysteresis.
    pub exit_tolerance: f64,
    /// Weight of the latest epoch in the expected rewards (exponential moving average).
    pub expectation_smoothing: f64,
    /// Quality-weighted active suppliers at which half the target area is covered.
    pub coverage_half_at: f64,
    /// Hardware cost, USD, paid on each join.
    pub hardware_usd: Distribution,
    /// Operating cost, USD per step while active.
    pub opex_usd_per_step: Distribution,
    /// Service quality, 0 to 1: weights proof-of-coverage rewards and served demand.
    pub quality: Distribution,
    /// Relative demand at the supplier's site (1 = average).
    pub traffic: Distribution,
}

/// `[demand]`: users of the service.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// "pegged": users pay a USD price through credits; "token": a fixed number of tokens per
    /// unit (set from the initial price), so their USD spend moves with the token.
    pub pricing: Pricing,
    /// Price of one unit of service, USD (at the initial token price for "token" pricing).
    pub usd_per_unit: f64,
    /// Units demanded per step at step 0, before coverage and quality.
    pub initial_units: f64,
    /// Logistic growth rate of demand per step.
    pub growth_per_step: f64,
    /// Units per step demand saturates at.
    pub max_units: f64,
    /// Served demand scales with (mean quality of active suppliers)^this.
    pub quality_elasticity: f64,
    /// Units one supplier of quality 1 can serve per step.
    pub capacity_units_per_supplier: f64,
}

/// How users pay for service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pricing {
    Pegged,
    Token,
}

/// `[market]`: the token's market.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Market {
    /// Net USD bought in one step that raises the price by 1% (sold: lowers it by 1%) at the
    /// initial market cap; depth scales with the market cap (supply x price) after that.
    pub depth_usd: f64,
    /// Standard deviation of the log price per step, from flows outside the model.
    pub volatility: f64,
    /// Share of their rewards suppliers sell each step.
    pub sell_share: f64,
    /// Net USD bought by speculators each step (negative: sold).
    #[serde(default)]
    pub net_flow_usd_per_step: f64,
    /// Chance of a crash jump in a step.
    #[serde(default)]
    pub crash_probability: f64,
    /// Fraction of the price a crash jump removes (0.5 halves it).
    #[serde(default = "half")]
    pub crash_size: f64,
}

fn half() -> f64 {
    0.5
}

/// A scheduled event, applied at the start of its step.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Halves the emission (and its tail) from this step on, on top of the schedule.
    Halving { step: u32 },
    /// Governance changes economics parameters from this step on: the change goes through
    /// the ledger's own check and typed application of a proposal (an `economics` proposal for
    /// the emission and treasury fields, a `module_params` proposal of the demand service for
    /// the others). With `vote`, the stakers' vote decides it by the ledger's rule first.
    Governance {
        step: u32,
        set: GovernanceChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vote: Option<Vote>,
    },
    /// The token price is multiplied by `factor` (0.3: a 70% crash).
    PriceShock { step: u32, factor: f64 },
    /// Demand (potential units) is multiplied by `factor`.
    DemandShock { step: u32, factor: f64 },
}

impl Event {
    pub fn step(&self) -> u32 {
        match self {
            Event::Halving { step }
            | Event::Governance { step, .. }
            | Event::PriceShock { step, .. }
            | Event::DemandShock { step, .. } => *step,
        }
    }
}

/// Economics parameters a governance event may change; names as in `[economics]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emission_per_epoch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halving_interval_epochs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_per_epoch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treasury_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remint_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demand_cap_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_usd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_start_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_floor_bps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_decay_epochs: Option<u64>,
}

/// How the stakers voted on a scheduled proposal, as shares of the stake that could vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// Share of the eligible stake that voted, basis points.
    pub turnout_bps: u32,
    /// Share of the votes that were yes (the rest no), basis points.
    pub yes_bps: u32,
}

/// `[governance]`: how the ledger decides a scheduled proposal's vote, and what it pays the
/// validators (as a genesis file's `[governance]`; its other fields do not matter to the
/// simulator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voting {
    /// Share of the eligible stake that must vote, basis points.
    pub quorum_bps: u32,
    /// Yes must be more than this share of yes and no, basis points (5000 to 9999).
    pub threshold_bps: u32,
    /// Share of each epoch's emission paid to the validators for the blocks they produce,
    /// basis points, as the ledger's `governance.validator_reward_bps` (`depin init` sets 600).
    /// 0 (the default) leaves the whole emission to suppliers and the treasury.
    #[serde(default)]
    pub validator_reward_bps: u32,
    /// Validators sharing that pay, each leading an equal share of an epoch's turns.
    #[serde(default = "default_validators")]
    pub validators: u32,
    /// Share of its turns each validator produces a block in, basis points; the pay of the
    /// skipped turns is not minted, as on the ledger.
    #[serde(default = "full_uptime")]
    pub validator_uptime_bps: u32,
}

fn default_validators() -> u32 {
    4
}

fn full_uptime() -> u32 {
    10_000
}

/// Turns (blocks) a simulated epoch has; the ledger pays validators by the turns they produced
/// out of all turns, so only the proportions matter.
const TURNS_PER_EPOCH: u64 = 10_000;

/// Most validators a scenario may name (each gets a share of an epoch's turns).
const MAX_VALIDATORS: u32 = 1_000;

impl Voting {
    /// The epoch's turns as the ledger's close counts them: (validator, produced, skipped),
    /// every validator leading an equal share (the remainder to the first ones) and producing
    /// `validator_uptime_bps` of it.
    pub fn validator_turns(&self) -> Vec<(Address, u64, u64)> {
        let n = u64::from(self.validators.max(1));
        (0..n)
            .map(|i| {
                let led = TURNS_PER_EPOCH / n + u64::from(i < TURNS_PER_EPOCH % n);
                let produced = led * u64::from(self.validator_uptime_bps) / 10_000;
                (
                    sim_address(&format!("validator-{i}")),
                    produced,
                    led - produced,
                )
            })
            .collect()
    }
}

impl Default for Voting {
    fn default() -> Self {
        let devnet = GovernanceGenesis::devnet();
        Voting {
            quorum_bps: devnet.quorum_bps,
            threshold_bps: devnet.threshold_bps,
            validator_reward_bps: devnet.validator_reward_bps,
            validators: default_validators(),
            validator_uptime_bps: full_uptime(),
        }
    }
}

/// `[kpi]`: definitions behind the summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// A run's supply collapses if active suppliers fall below this fraction of their peak.
    pub collapse_fraction: f64,
}

impl Default for Kpi {
    fn default() -> Self {
        Kpi {
            collapse_fraction: 0.5,
        }
    }
}

/// `[sweep]`: run the scenario at several points of parameter space.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// "grid": every combination; "zip": the i-th value of every list together.
    pub mode: SweepMode,
    /// Dotted path of a scenario key (e.g. "economics.remint_bps", "suppliers.initial_active")
    /// to the values it takes.
    pub values: toml::Table,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepMode {
    Grid,
    Zip,
}

/// The economics a run is paid under, as depin-core types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreEconomics {
    pub schedule: EmissionSchedule,
    pub params: DemandParams,
    /// The validators' share of the emission (`governance.validator_reward_bps`).
    pub validator_bps: u32,
}

impl CoreEconomics {
    /// The emission schedule and demand parameters in a network's ledger parameters (one
    /// with `[economics]` and the demand service, as [`Scenario::network`] builds).
    pub fn of(p: &Params) -> CoreEconomics {
        let e = p
            .economics
            .as_ref()
            .expect("the simulated network has [economics]");
        let d = p
            .modules
            .demand
            .as_deref()
            .expect("the simulated network runs the demand service");
        CoreEconomics {
            schedule: e.emission.clone(),
            params: DemandParams {
                treasury_bps: e.treasury_bps,
                remint_bps: d.remint_bps,
                demand_cap_bps: d.demand_cap_bps,
                bootstrap: d.bootstrap,
                credit_peg: d.credit_peg,
            },
            validator_bps: p
                .modules
                .governance
                .as_ref()
                .map_or(0, |g| g.validator_reward_bps),
        }
    }
}

/// What a scheduled `governance` event does, decided when the scenario is loaded (the same in
/// every run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// In force from the event's step: the economics after the change, and whether it set the
    /// emission (which then replaces the schedule, earlier halving events included).
    Applied {
        economics: CoreEconomics,
        emission_changed: bool,
    },
    /// The stakers' vote did not pass it, so nothing changed: the ledger's reason code and
    /// sentence.
    Rejected { code: &'static str, why: String },
}

/// The scenario's economics as the ledger runs them: where a run starts, and what each
/// governance event does.
#[derive(Clone, Debug)]
pub struct EconomicsPlan {
    pub initial: CoreEconomics,
    /// One entry per event of `events`, in the file's order: `None` for the other kinds.
    pub decided: Vec<Option<Decided>>,
}

impl EconomicsPlan {
    /// What the event `index` of the scenario decided, if it is a governance event.
    pub fn decided(&self, index: usize) -> Option<&Decided> {
        self.decided.get(index).and_then(Option::as_ref)
    }
}

/// An address of the simulated network that no key signs for: the simulator needs the
/// ledger's parameters, never its accounts.
fn sim_address(role: &str) -> Address {
    Address(Hash::tagged("depin/sim/address", &[role.as_bytes()]).0)
}

fn bad(field: &str, value: impl std::fmt::Display, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{field} = {value}: {what}")
}

fn tokens(field: &str, text: &str, decimals: u8) -> Result<Amount> {
    Amount::parse(text, decimals).map_err(|e| bad(field, format!("{text:?}"), &e.to_string()))
}

impl Economics {
    /// The emission and treasury fields as a genesis file's `[economics]` section.
    pub fn economics_section(&self) -> EconomicsGenesis {
        EconomicsGenesis {
            emission_per_epoch: self.emission_per_epoch.clone(),
            halving_interval_epochs: self.halving_interval_epochs,
            tail_per_epoch: self.tail_per_epoch.clone(),
            treasury: sim_address("treasury"),
            treasury_bps: self.treasury_bps,
            pool_weights: Default::default(),
        }
    }

    /// The demand fields as the demand service's `[demand]` section: the ledger's preset (one
    /// oracle) with this credit peg, re-mint, cap and bootstrap decay.
    pub fn demand_section(&self) -> DemandGenesis {
        let mut d = preset(vec![sim_address("oracle")], self.bootstrap_decay_epochs);
        d.credit_usd = self.credit_usd.clone();
        d.remint_bps = self.remint_bps;
        d.demand_cap_bps = self.demand_cap_bps;
        d.bootstrap = BootstrapDecay {
            start_bps: self.bootstrap_start_bps,
            floor_bps: self.bootstrap_floor_bps,
            decay_epochs: self.bootstrap_decay_epochs,
        };
        d
    }

    /// This section with a governance change applied.
    pub fn changed(&self, c: &GovernanceChange) -> Economics {
        let mut e = self.clone();
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &c.$f { e.$f = v.clone(); } )* };
        }
        set!(
            emission_per_epoch,
            halving_interval_epochs,
            tail_per_epoch,
            treasury_bps,
            remint_bps,
            demand_cap_bps,
            credit_usd,
            bootstrap_start_bps,
            bootstrap_floor_bps,
            bootstrap_decay_epochs
        );
        e
    }

    /// The ledger proposals that make change `c` from this section: an `economics` proposal
    /// when it sets an emission or treasury field, a `module_params` proposal of the demand
    /// service when it sets a demand field; each carries the whole section, as on the ledger.
    pub fn proposals(&self, c: &GovernanceChange) -> Vec<ProposalKind> {
        let next = self.changed(c);
        let mut out = Vec::new();
        if c.sets_emission() || c.treasury_bps.is_some() {
            out.push(ProposalKind::Economics {
                section: serde_json::to_string(&next.economics_section())
                    .expect("a section serializes"),
            });
        }
        if c.sets_demand() {
            out.push(ProposalKind::ModuleParams {
                module: "demand".into(),
                section: serde_json::to_string(&next.demand_section())
                    .expect("a section serializes"),
            });
        }
        out
    }
}

impl GovernanceChange {
    /// Whether the change sets the emission schedule.
    pub fn sets_emission(&self) -> bool {
        self.emission_per_epoch.is_some()
            || self.halving_interval_epochs.is_some()
            || self.tail_per_epoch.is_some()
    }

    /// Whether the change sets a field of the demand service's section.
    pub fn sets_demand(&self) -> bool {
        self.remint_bps.is_some()
            || self.demand_cap_bps.is_some()
            || self.credit_usd.is_some()
            || self.bootstrap_start_bps.is_some()
            || self.bootstrap_floor_bps.is_some()
            || self.bootstrap_decay_epochs.is_some()
    }
}

impl Vote {
    /// Notional stake that could vote, base units: shares of shares in basis points of it are
    /// exact.
    const ELIGIBLE: u128 = 100_000_000;

    /// The ledger's decision on this vote (`governance::proposal::outcome`, the rule a
    /// proposal is decided by when its vote ends): `Err` is the reason code and sentence.
    pub fn decide(&self, voting: &Voting) -> Result<(), (&'static str, String)> {
        let voted = Self::ELIGIBLE * u128::from(self.turnout_bps) / 10_000;
        let yes = voted * u128::from(self.yes_bps) / 10_000;
        depin_core::services::governance::proposal::outcome(
            Amount(Self::ELIGIBLE),
            Amount(yes),
            Amount(voted - yes),
            Amount::ZERO,
            voting.quorum_bps,
            voting.threshold_bps,
        )
    }
}

fn check_range(field: &str, v: f64, lo: f64, hi: f64, what: &str) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(bad(field, v, what));
    }
    Ok(())
}

fn check_positive(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(bad(field, v, "must be a number above zero"));
    }
    Ok(())
}

impl Scenario {
    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{origin} is not a valid scenario: {e}\nSee docs/SIM.md for every field."
            )
        })?;
        scenario
            .validate()
            .with_context(|| format!("{origin} is not a valid scenario"))?;
        Ok(scenario)
    }

    /// Checks every value, naming the field and the allowed range when one is out of it.
    pub fn validate(&self) -> Result<()> {
        let m = &self.scenario;
        if m.steps == 0 || m.steps > MAX_STEPS {
            return Err(bad(
                "scenario.steps",
                m.steps,
                &format!("must be 1 to {MAX_STEPS}"),
            ));
        }
        if m.runs == 0 {
            return Err(bad("scenario.runs", m.runs, "at least one run is needed"));
        }
        check_positive("scenario.step_days", m.step_days)?;
        if self.token.decimals > depin_core::amount::MAX_DECIMALS {
            return Err(bad(
                "token.decimals",
                self.token.decimals,
                "must be at most 30",
            ));
        }
        tokens(
            "token.genesis_supply",
            &self.token.genesis_supply,
            self.token.decimals,
        )?;
        check_range(
            "token.initial_price_usd",
            self.token.initial_price_usd,
            1e-8,
            1e10,
            "must be between 0.00000001 and 10^10 USD",
        )?;
        if self.oracle.window_steps == 0 {
            return Err(bad(
                "oracle.window_steps",
                0,
                "the oracle needs at least one price",
            ));
        }
        let s = &self.suppliers;
        if s.population == 0 || s.population > MAX_POPULATION {
            return Err(bad(
                "suppliers.population",
                s.population,
                &format!("must be 1 to {MAX_POPULATION}"),
            ));
        }
        if s.initial_active > s.population {
            return Err(bad(
                "suppliers.initial_active",
                s.initial_active,
                &format!("cannot exceed suppliers.population ({})", s.population),
            ));
        }
        let probability = "a probability: 0 to 1";
        check_range(
            "suppliers.act_probability",
            s.act_probability,
            0.0,
            1.0,
            probability,
        )?;
        check_positive("suppliers.payback_target_steps", s.payback_target_steps)?;
        check_range(
            "suppliers.exit_tolerance",
            s.exit_tolerance,
            0.0,
            1.0,
            "a fraction of operating cost: 0 to 1",
        )?;
        check_range(
            "suppliers.expectation_smoothing",
            s.expectation_smoothing,
            1e-9,
            1.0,
            "an averaging weight above 0, at most 1",
        )?;
        check_positive("suppliers.coverage_half_at", s.coverage_half_at)?;
        s.hardware_usd
            .validate("suppliers.hardware_usd", 0.0, None)?;
        s.opex_usd_per_step
            .validate("suppliers.opex_usd_per_step", 0.0, None)?;
        s.quality.validate("suppliers.quality", 0.0, Some(1.0))?;
        s.traffic.validate("suppliers.traffic", 0.0, None)?;
        let d = &self.demand;
        check_range(
            "demand.usd_per_unit",
            d.usd_per_unit,
            0.0,
            1e12,
            "a USD price of zero or more",
        )?;
        check_range(
            "demand.initial_units",
            d.initial_units,
            0.0,
            1e15,
            "units per step, zero or more",
        )?;
        check_range(
            "demand.growth_per_step",
            d.growth_per_step,
            -1.0,
            1.0,
            "a rate per step between -1 and 1",
        )?;
        check_range(
            "demand.max_units",
            d.max_units,
            d.initial_units,
            1e15,
            "must be at least demand.initial_units",
        )?;
        check_range(
            "demand.quality_elasticity",
            d.quality_elasticity,
            0.0,
            10.0,
            "an exponent: 0 to 10",
        )?;
        check_range(
            "demand.capacity_units_per_supplier",
            d.capacity_units_per_supplier,
            0.0,
            1e15,
            "units per step, zero or more",
        )?;
        let k = &self.market;
        check_positive("market.depth_usd", k.depth_usd)?;
        check_range(
            "market.volatility",
            k.volatility,
            0.0,
            2.0,
            "a standard deviation of log price per step: 0 to 2",
        )?;
        check_range("market.sell_share", k.sell_share, 0.0, 1.0, probability)?;
        check_range(
            "market.net_flow_usd_per_step",
            k.net_flow_usd_per_step,
            -1e15,
            1e15,
            "a USD amount",
        )?;
        check_range(
            "market.crash_probability",
            k.crash_probability,
            0.0,
            1.0,
            probability,
        )?;
        check_range(
            "market.crash_size",
            k.crash_size,
            0.0,
            0.999_999,
            "the fraction of the price lost: 0 to below 1",
        )?;
        for (i, event) in self.events.iter().enumerate() {
            let field = |f: &str| format!("events[{i}].{f}");
            if event.step() >= m.steps {
                return Err(bad(
                    &field("step"),
                    event.step(),
                    &format!(
                        "is past the last step ({}); steps count from 0",
                        m.steps - 1
                    ),
                ));
            }
            match event {
                Event::Governance { set, vote, .. } => {
                    if !set.sets_emission() && !set.sets_demand() && set.treasury_bps.is_none() {
                        bail!(
                            "events[{i}].set names no field: name at least one [economics] field to change, e.g. set = {{ treasury_bps = 1500 }}"
                        );
                    }
                    if let Some(v) = vote {
                        for (f, value) in [("turnout_bps", v.turnout_bps), ("yes_bps", v.yes_bps)] {
                            if value > 10_000 {
                                return Err(bad(
                                    &field(&format!("vote.{f}")),
                                    value,
                                    "a share in basis points: 0 to 10000",
                                ));
                            }
                        }
                    }
                }
                Event::PriceShock { factor, .. } | Event::DemandShock { factor, .. } => {
                    check_range(
                        &field("factor"),
                        *factor,
                        1e-6,
                        1e6,
                        "a multiplier above zero",
                    )?;
                }
                Event::Halving { .. } => {}
            }
        }
        let g = &self.governance;
        if g.validators == 0 || g.validators > MAX_VALIDATORS {
            return Err(bad(
                "governance.validators",
                g.validators,
                &format!("validators sharing the block pay: 1 to {MAX_VALIDATORS}"),
            ));
        }
        if g.validator_uptime_bps > 10_000 {
            return Err(bad(
                "governance.validator_uptime_bps",
                g.validator_uptime_bps,
                "a share of turns in basis points: 0 to 10000",
            ));
        }
        check_range(
            "kpi.collapse_fraction",
            self.kpi.collapse_fraction,
            0.0,
            1.0,
            "a fraction of the peak: 0 to 1",
        )?;
        self.economics_plan()?;
        Ok(())
    }

    /// The genesis of the network the scenario simulates: its token, `[economics]`, the demand
    /// service's `[demand]` (from the demand fields of the scenario's `[economics]`) and
    /// `[governance]` with the scenario's quorum and threshold.
    pub fn genesis(&self) -> Genesis {
        let mut g = Genesis::solo("depin-sim", sim_address("validator"), &[]);
        g.token.decimals = self.token.decimals;
        g.economics = Some(self.economics.economics_section());
        g.modules.demand = Some(self.economics.demand_section());
        g.modules.governance = Some(GovernanceGenesis {
            quorum_bps: self.governance.quorum_bps,
            threshold_bps: self.governance.threshold_bps,
            validator_reward_bps: self.governance.validator_reward_bps,
            ..GovernanceGenesis::devnet()
        });
        g
    }

    /// The simulated network's parameters as the ledger holds them, checked by the ledger's
    /// own genesis rules: a network the ledger would refuse is refused, naming the scenario's
    /// fields, with the ledger's sentence.
    pub fn network(&self) -> Result<Params> {
        let g = self.genesis();
        g.validate().map_err(|e| match &e {
            GenesisError::Field { field, .. } => {
                anyhow::anyhow!("{}: the ledger refuses it: {e}", self.named(field))
            }
            _ => anyhow::anyhow!("the ledger refuses the simulated network: {e}"),
        })?;
        Ok(g.params())
    }

    /// The scenario's fields (with their values) behind a field of the ledger's genesis.
    fn named(&self, ledger_field: &str) -> String {
        let e = &self.economics;
        match ledger_field {
            "economics.emission_per_epoch" => {
                format!("economics.emission_per_epoch = {:?}", e.emission_per_epoch)
            }
            "economics.tail_per_epoch" => {
                format!("economics.tail_per_epoch = {:?}", e.tail_per_epoch)
            }
            "economics.treasury_bps" => format!("economics.treasury_bps = {}", e.treasury_bps),
            "demand.credit_usd" => format!("economics.credit_usd = {:?}", e.credit_usd),
            "demand.remint_bps" | "demand.demand_cap_bps" => format!(
                "economics.remint_bps = {}, economics.demand_cap_bps = {}",
                e.remint_bps, e.demand_cap_bps
            ),
            "demand.bootstrap" => format!(
                "economics.bootstrap_start_bps = {}, economics.bootstrap_floor_bps = {}",
                e.bootstrap_start_bps, e.bootstrap_floor_bps
            ),
            "governance.quorum_bps" => {
                format!("governance.quorum_bps = {}", self.governance.quorum_bps)
            }
            "governance.validator_reward_bps" => format!(
                "governance.validator_reward_bps = {}, economics.treasury_bps = {}",
                self.governance.validator_reward_bps, e.treasury_bps
            ),
            "governance.threshold_bps" => {
                format!(
                    "governance.threshold_bps = {}",
                    self.governance.threshold_bps
                )
            }
            other => other.to_string(),
        }
    }

    /// The economics a run starts with and what each governance event does, by the ledger's
    /// code: each event's change is made into the ledger's proposals ([`Economics::proposals`]),
    /// checked by `governance::check_change_on` on the parameters in force (as a proposal is when
    /// it is made), decided by the stakers' vote if the event has one, and applied by
    /// `governance::params_after` (as a passed proposal is at an epoch boundary). Events apply
    /// in step order, events of one step in the file's order. A change the ledger refuses is an
    /// error naming the event, with the ledger's reason code and sentence.
    pub fn economics_plan(&self) -> Result<EconomicsPlan> {
        use depin_core::services::governance::{check_change_on, params_after};
        let mut params = self.network()?;
        let initial = CoreEconomics::of(&params);
        let mut section = self.economics.clone();
        let mut decided = vec![None; self.events.len()];
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|i| self.events[*i].step());
        for i in order {
            let Event::Governance { step, set, vote } = &self.events[i] else {
                continue;
            };
            let proposals = section.proposals(set);
            let mut encoded = Vec::with_capacity(proposals.len());
            for change in &proposals {
                encoded.push(check_change_on(&params, change).map_err(|r| {
                    anyhow::anyhow!(
                        "events[{i}] (governance at step {step}): the ledger refuses the {} proposal ({}): {r}",
                        change.name(),
                        r.code()
                    )
                })?);
            }
            let outcome = match vote {
                Some(v) => v.decide(&self.governance),
                None => Ok(()),
            };
            decided[i] = Some(match outcome {
                Ok(()) => {
                    for (change, bytes) in proposals.iter().zip(&encoded) {
                        params = params_after(&params, change, bytes)
                            .map_err(|(code, why)| {
                                anyhow::anyhow!(
                                    "events[{i}] (governance at step {step}): the ledger could not apply the {} change ({code}): {why}",
                                    change.name()
                                )
                            })?
                            .expect("economics and module_params changes have parameters");
                    }
                    section = section.changed(set);
                    Decided::Applied {
                        economics: CoreEconomics::of(&params),
                        emission_changed: set.sets_emission(),
                    }
                }
                Err((code, why)) => Decided::Rejected { code, why },
            });
        }
        Ok(EconomicsPlan { initial, decided })
    }

    /// The genesis supply in base units (validated).
    pub fn genesis_supply(&self) -> Amount {
        Amount::parse(&self.token.genesis_supply, self.token.decimals).expect("validated")
    }
}

/// One point of a sweep (or the scenario itself when there is no sweep).
#[derive(Clone, Debug)]
pub struct Point {
    /// `path=value` pairs that define the point; empty without a sweep.
    pub params: Vec<(String, toml::Value)>,
    pub scenario: Scenario,
}

impl Point {
    /// `economics.remint_bps=0, suppliers.initial_active=100`, or `base` without a sweep.
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return "base".into();
        }
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A scenario file as loaded: its points and the hash of its bytes.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub origin: String,
    /// BLAKE3 of the file's bytes, hex (what `b3sum` prints).
    pub blake3: String,
    pub points: Vec<Point>,
}

/// Reads a scenario file and expands its sweep.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read scenario file {}", path.display()))?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut loaded = load_text(&text, &path.display().to_string())?;
    loaded.blake3 = blake3::hash(&bytes).to_hex().to_string();
    Ok(loaded)
}

/// Parses scenario text and expands its sweep.
pub fn load_text(text: &str, origin: &str) -> Result<Loaded> {
    let base = Scenario::parse(text, origin)?;
    let blake3 = blake3::hash(text.as_bytes()).to_hex().to_string();
    let Some(sweep) = &base.sweep else {
        return Ok(Loaded {
            origin: origin.into(),
            blake3,
            points: vec![Point {
                params: Vec::new(),
                scenario: base,
            }],
        });
    };
    let mut table: toml::Table = toml::from_str(text)?;
    table.remove("sweep");
    let mut points = Vec::new();
    for params in sweep_points(sweep)? {
        let mut t = table.clone();
        for (path, value) in &params {
            set_path(&mut t, path, value.clone())?;
        }
        let label = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let scenario: Scenario = toml::Value::Table(t).try_into().map_err(|e| {
            anyhow::anyhow!("{origin}: sweep point [{label}] is not a valid scenario: {e}")
        })?;
        scenario
            .validate()
            .with_context(|| format!("{origin}: sweep point [{label}]"))?;
        points.push(Point { params, scenario });
    }
    Ok(Loaded {
        origin: origin.into(),
        blake3,
        points,
    })
}

fn sweep_points(sweep: &Sweep) -> Result<Vec<Vec<(String, toml::Value)>>> {
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (path, values) in &sweep.values {
        let Some(list) = values.as_array() else {
            bail!("sweep.values.\"{path}\" must be a list of values, e.g. [0, 5000, 10000]");
        };
        if list.is_empty() {
            bail!("sweep.values.\"{path}\" is empty: give at least one value");
        }
        axes.push((path.clone(), list.clone()));
    }
    if axes.is_empty() {
        bail!(
            "sweep.values is empty: name at least one key to sweep, e.g. \"economics.remint_bps\" = [0, 10000]"
        );
    }
    match sweep.mode {
        SweepMode::Zip => {
            let n = axes[0].1.len();
            if let Some((path, list)) = axes.iter().find(|(_, l)| l.len() != n) {
                bail!(
                    "sweep.mode = \"zip\" needs lists of one length: \"{}\" has {n} values but \"{path}\" has {}",
                    axes[0].0,
                    list.len()
                );
            }
            Ok((0..n)
                .map(|i| {
                    axes.iter()
                        .map(|(p, l)| (p.clone(), l[i].clone()))
                        .collect()
                })
                .collect())
        }
        SweepMode::Grid => {
            let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
            for (path, list) in &axes {
                points = points
                    .into_iter()
                    .flat_map(|p| {
                        list.iter().map(move |v| {
                            let mut q = p.clone();
                            q.push((path.clone(), v.clone()));
                            q
                        })
                    })
                    .collect();
            }
            if points.len() > 10_000 {
                bail!(
                    "the sweep grid has {} points; at most 10000 are allowed",
                    points.len()
                );
            }
            Ok(points)
        }
    }
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        bail!("sweep key \"{path}\" must name a section and a key, e.g. \"economics.remint_bps\"");
    }
    let mut current = table;
    for part in &parts[..parts.len() - 1] {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            anyhow::anyhow!("sweep key \"{path}\": \"{part}\" is not a section of the scenario")
        })?;
    }
    current.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}
