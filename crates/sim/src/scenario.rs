//! Scenario files: what is simulated (token, economics, suppliers, demand, market, events) and
//! how (steps, runs, seed, sweeps), read from TOML with every field checked.
//!
//! Unknown keys are errors (a typo never silently falls back to a default), and every value is
//! validated with a message naming the field and the range it must be in.

use std::path::Path;

use anyhow::{Context, Result, bail};
use depin_core::amount::Amount;
use depin_core::economics::{BootstrapDecay, CreditPeg, DemandParams, EmissionSchedule};
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
    /// Governance changes economics parameters from this step on.
    Governance { step: u32, set: GovernanceChange },
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
    pub emission_per_epoch: Option<String>,
    pub halving_interval_epochs: Option<u64>,
    pub tail_per_epoch: Option<String>,
    pub treasury_bps: Option<u32>,
    pub remint_bps: Option<u32>,
    pub demand_cap_bps: Option<u32>,
    pub credit_usd: Option<String>,
    pub bootstrap_start_bps: Option<u32>,
    pub bootstrap_floor_bps: Option<u32>,
    pub bootstrap_decay_epochs: Option<u64>,
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

/// The economics a run starts with, as depin-core types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreEconomics {
    pub schedule: EmissionSchedule,
    pub params: DemandParams,
}

fn bad(field: &str, value: impl std::fmt::Display, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{field} = {value}: {what}")
}

fn tokens(field: &str, text: &str, decimals: u8) -> Result<Amount> {
    Amount::parse(text, decimals).map_err(|e| bad(field, format!("{text:?}"), &e.to_string()))
}

impl Economics {
    /// The emission schedule and demand parameters this section describes.
    pub fn to_core(&self, decimals: u8) -> Result<CoreEconomics> {
        let params = DemandParams {
            treasury_bps: self.treasury_bps,
            remint_bps: self.remint_bps,
            demand_cap_bps: self.demand_cap_bps,
            bootstrap: BootstrapDecay {
                start_bps: self.bootstrap_start_bps,
                floor_bps: self.bootstrap_floor_bps,
                decay_epochs: self.bootstrap_decay_epochs,
            },
            credit_peg: CreditPeg::parse(&self.credit_usd).map_err(|e| {
                bad(
                    "economics.credit_usd",
                    format!("{:?}", self.credit_usd),
                    &e.to_string(),
                )
            })?,
        };
        let share = "a share in basis points: 0 to 10000";
        for (field, value) in [
            ("treasury_bps", self.treasury_bps),
            ("remint_bps", self.remint_bps),
            ("bootstrap_start_bps", self.bootstrap_start_bps),
        ] {
            if value > 10_000 {
                return Err(bad(&format!("economics.{field}"), value, share));
            }
        }
        if self.bootstrap_floor_bps > self.bootstrap_start_bps {
            return Err(bad(
                "economics.bootstrap_floor_bps",
                self.bootstrap_floor_bps,
                &format!(
                    "must not exceed economics.bootstrap_start_bps ({}): the bootstrap share decays toward its floor",
                    self.bootstrap_start_bps
                ),
            ));
        }
        if let Some(why) = params.invalid() {
            bail!("economics: {why}");
        }
        Ok(CoreEconomics {
            schedule: EmissionSchedule {
                initial_per_epoch: tokens(
                    "economics.emission_per_epoch",
                    &self.emission_per_epoch,
                    decimals,
                )?,
                halving_interval_epochs: self.halving_interval_epochs,
                tail_per_epoch: tokens("economics.tail_per_epoch", &self.tail_per_epoch, decimals)?,
            },
            params,
        })
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
        let mut economics = self.economics.clone();
        economics.to_core(self.token.decimals)?;
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
                Event::Governance { set, .. } => {
                    economics = economics.changed(set);
                    economics
                        .to_core(self.token.decimals)
                        .with_context(|| format!("after governance event events[{i}]"))?;
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
        check_range(
            "kpi.collapse_fraction",
            self.kpi.collapse_fraction,
            0.0,
            1.0,
            "a fraction of the peak: 0 to 1",
        )?;
        Ok(())
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
