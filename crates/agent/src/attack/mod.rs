//! `depin agent attack --strategy S`: one of the coverage attacks of issue 12 run against a
//! live node, beside honest hotspots the same command simulates (the attack's targets: a
//! forger can only forge reports of beacons it knows of), and measured from the node's own
//! reward explanations: the attackers' share of the fleet's coverage rewards each epoch, what
//! the honest hotspots kept (earnings, density scale), which devices the ledger flagged, what
//! the attack cost and what it returns over 30 epochs at the measured rate. The oracle and
//! self-dealing attacks ([`oracle`], [`self_deal`]) measure what their own targets say.

pub mod canary_grief;
pub mod oracle;
pub mod self_deal;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use depin_core::{Amount, Keypair};
use serde::Serialize;
use serde_json::Value;

use crate::hotspot::{Fleet, HotspotArgs, Role};

/// The attacks `depin agent attack` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// A witness farm: fakes 1-10 km from honest hotspots computing witness reports of every
    /// honest beacon from public data, filed before the honest ones.
    ForgeWitness,
    /// Fakes placed like the farm that also witness each other with payloads shared off-air.
    SpreadRing,
    /// Enough forgers racing every honest beacon to fill its witness places first.
    CrowdOut,
    /// Decoys asserted about 150 m from honest hotspots, kept active by witnessing each other,
    /// to cut the honest hotspots' density scale.
    DensityGrief,
    /// Colluding oracle keys report, every block, the highest price that keeps minting open,
    /// and an accomplice buys credits at the inflated minting price.
    OracleSpike,
    /// An owner pays its own hotspots for made-up traffic beside honest demand.
    SelfDeal,
    /// A compute requester commits false canary answers so that honest providers' correct
    /// results fail its canaries (issue 15); `--attackers` griefing jobs.
    CanaryGrief,
}

impl Strategy {
    /// The fleet role that carries out the strategy (`None`: honest hotspots only, the attack
    /// is on the market).
    pub fn role(self) -> Option<Role> {
        match self {
            Strategy::ForgeWitness | Strategy::CrowdOut => Some(Role::Forger),
            Strategy::SpreadRing => Some(Role::SpreadRing),
            Strategy::DensityGrief => Some(Role::Decoy),
            Strategy::OracleSpike | Strategy::SelfDeal | Strategy::CanaryGrief => None,
        }
    }

    /// Attackers used when `--attackers` is not given.
    pub fn default_attackers(self) -> usize {
        match self {
            // More than a beacon keeps reports of (64 by default): every place can be filled.
            Strategy::CrowdOut => 72,
            // Of the honest hotspots, the self-dealer's.
            Strategy::SelfDeal => 4,
            // Griefing jobs, one after another.
            Strategy::CanaryGrief => 3,
            _ => 8,
        }
    }
}

/// Arguments of `depin agent attack`.
#[derive(clap::Args, Debug, Clone)]
pub struct AttackArgs {
    /// The attack to run.
    #[arg(long, value_enum)]
    pub strategy: Strategy,
    /// Attacking hotspots [default: 8; crowd-out: 72, more than a beacon keeps reports of];
    /// canary-grief: griefing jobs [default: 3].
    #[arg(long)]
    pub attackers: Option<usize>,
    /// Honest hotspots simulated beside them: the attack's targets.
    #[arg(long, default_value_t = 25)]
    pub hotspots: usize,
    /// Radius the honest hotspots are spread over, metres.
    #[arg(long, default_value_t = 8_000.0)]
    pub radius_m: f64,
    /// Whole epochs measured after the one the fleet is onboarded in.
    #[arg(long, default_value_t = 2)]
    pub epochs: u64,
    /// Seed of keys and placement (a different seed gives a different, fresh fleet).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// oracle-spike: oracle keys in --home the ring lies with (repeat for each colluder).
    #[arg(long = "oracle-key")]
    pub oracle_keys: Vec<String>,
    /// oracle-spike: blocks the ring lies in (the accomplice buys credits in each).
    #[arg(long, default_value_t = 20)]
    pub rounds: u64,
    /// oracle-spike: whole tokens the accomplice burns for credits each round.
    #[arg(long, default_value_t = 1)]
    pub burn_tokens: u64,
    /// self-deal: whole tokens given to the honest payer and to the self-dealer's payer.
    #[arg(long, default_value_t = 2_000)]
    pub payer_tokens: u64,
    /// self-deal: packets a minute each of the honest payer's 40 sensors sends.
    #[arg(long, default_value_t = 600.0)]
    pub honest_ppm: f64,
    /// self-deal: packets a minute each of the self-dealer's 40 made-up sensors sends.
    #[arg(long, default_value_t = 3_000.0)]
    pub self_ppm: f64,
}

impl AttackArgs {
    /// Arguments for `strategy` with every default of the command line.
    pub fn new(strategy: Strategy) -> AttackArgs {
        AttackArgs {
            strategy,
            attackers: None,
            hotspots: 25,
            radius_m: 8_000.0,
            epochs: 2,
            seed: 7,
            oracle_keys: Vec::new(),
            rounds: 20,
            burn_tokens: 1,
            payer_tokens: 2_000,
            honest_ppm: 600.0,
            self_ppm: 3_000.0,
        }
    }
}

/// One measured epoch.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRow {
    pub epoch: u64,
    /// The attackers' part of what the fleet's devices earned, parts per million.
    pub attacker_share_ppm: u128,
    /// What all attackers earned, base units.
    pub attacker_total: u128,
    /// Median attacker and median honest hotspot earnings, base units.
    pub attacker_median: u128,
    pub honest_median: u128,
    /// Mean density scale of honest hotspots with shares, parts per million (1,000,000: not
    /// cut by any neighbour).
    pub honest_mean_scale_ppm: u64,
    /// Devices the ledger flagged `isolated` (the ring signal), by side.
    pub attackers_flagged: usize,
    pub honest_flagged: usize,
}

/// What an attack run measured.
#[derive(Clone, Debug, Serialize)]
pub struct AttackReport {
    pub strategy: Strategy,
    pub attackers: usize,
    pub honest: usize,
    pub symbol: String,
    pub decimals: u8,
    /// What onboarding one device took from its owner (fees, and the bond if any), base units.
    pub onboarding_cost_per_device: u128,
    /// The part of that cost that is a bond, returned when the device retires, base units.
    pub bond_per_device: u128,
    pub epochs: Vec<EpochRow>,
}

impl AttackReport {
    /// Mean earnings of one attacker per measured epoch, base units.
    pub fn per_attacker_epoch(&self) -> u128 {
        let total: u128 = self.epochs.iter().map(|e| e.attacker_total).sum();
        let n = (self.epochs.len() * self.attackers).max(1) as u128;
        total / n
    }

    /// Over 30 epochs at the measured rate, one attacker's earnings less the fees it burned
    /// (the bond is returned unless governance forfeits it), base units.
    pub fn net_over_30_epochs(&self) -> i128 {
        let fees = self.onboarding_cost_per_device - self.bond_per_device;
        30 * self.per_attacker_epoch() as i128 - fees as i128
    }

    /// The same if the bond is forfeited, base units.
    pub fn net_over_30_epochs_forfeited(&self) -> i128 {
        30 * self.per_attacker_epoch() as i128 - self.onboarding_cost_per_device as i128
    }

    /// The report as lines of text.
    pub fn table(&self) -> String {
        let t = |a: u128| format!("{} {}", Amount(a).display(self.decimals), self.symbol);
        let signed = |a: i128| {
            let sign = if a < 0 { "-" } else { "" };
            format!("{sign}{}", t(a.unsigned_abs()))
        };
        let mut out = format!(
            "attack {:?}: {} attackers beside {} honest hotspots\n",
            self.strategy, self.attackers, self.honest
        );
        out += "epoch | attackers' share | attackers earned | attacker median | honest median | honest density scale | flagged isolated (attackers/honest)\n";
        for e in &self.epochs {
            out += &format!(
                "{:>5} | {:>8.3}% | {} | {} | {} | {:.1}% | {}/{}\n",
                e.epoch,
                e.attacker_share_ppm as f64 / 10_000.0,
                t(e.attacker_total),
                t(e.attacker_median),
                t(e.honest_median),
                e.honest_mean_scale_ppm as f64 / 10_000.0,
                e.attackers_flagged,
                e.honest_flagged
            );
        }
        out += &format!(
            "cost per attacker: {} at onboarding, of which {} is a bond returned on retire\n",
            t(self.onboarding_cost_per_device),
            t(self.bond_per_device)
        );
        out += &format!(
            "over 30 epochs at this rate, one attacker nets {} (bond kept) or {} (bond forfeited)\n",
            signed(self.net_over_30_epochs()),
            signed(self.net_over_30_epochs_forfeited())
        );
        out
    }
}

pub(crate) fn amount(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn median(mut v: Vec<u128>) -> u128 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// Onboards the attack's fleet with `owner`'s tokens, runs it for the measured epochs, and
/// reads what every member earned.
pub fn measure(args: &AttackArgs, node_url: &str, owner: Keypair) -> Result<AttackReport> {
    let attackers = args
        .attackers
        .unwrap_or_else(|| args.strategy.default_attackers());
    if attackers == 0 {
        bail!(
            "--attackers 0 attacks nothing; pass 1 or more (2 or more for spread-ring and density-grief)"
        );
    }
    if args.epochs == 0 {
        bail!("--epochs 0 measures nothing; pass 1 or more");
    }
    let mut hotspots = HotspotArgs::honest(args.hotspots, args.radius_m, args.seed);
    match args.strategy.role() {
        Some(Role::Forger) => hotspots.forgers = attackers,
        Some(Role::SpreadRing) => hotspots.spread_ring = attackers,
        Some(Role::Decoy) => hotspots.decoys = attackers,
        other => bail!(
            "{:?} is not a fleet attack ({other:?}); `depin agent attack` runs it with its own measure",
            args.strategy
        ),
    }
    if args.hotspots == 0 {
        bail!("--hotspots 0 leaves nothing to attack; pass 1 or more honest hotspots");
    }
    let owner_address = owner.address();
    let mut fleet = Fleet::new(&hotspots, node_url, owner)?;
    let balance = |fleet: &Fleet| -> Result<u128> {
        let a = fleet
            .client()
            .get(&format!("/v1/accounts/{owner_address}"))?;
        Ok(amount(&a["balance"]))
    };
    let before = balance(&fleet)?;
    let onboarded = fleet.onboard()?;
    let after = balance(&fleet)?;
    if onboarded != fleet.members.len() {
        bail!(
            "{} of the fleet's {} devices were on the network already (seed {}): pass another --seed so the cost is measured on a fresh fleet",
            fleet.members.len() - onboarded,
            fleet.members.len(),
            args.seed
        );
    }
    let genesis = fleet.client().get("/v1/genesis")?;
    let bond = match genesis["modules"]["devices"]["bond"].as_str() {
        Some(text) => {
            Amount::parse(text, fleet.decimals)
                .with_context(|| format!("the genesis bond {text:?} is not an amount"))?
                .0
        }
        None => 0,
    };
    let first = fleet.current_epoch()? + 1;
    let last = first + args.epochs - 1;
    while fleet.current_epoch()? <= last {
        fleet.run_window()?;
    }
    let mut epochs = Vec::new();
    for epoch in first..=last {
        epochs.push(measure_epoch(&fleet, epoch)?);
    }
    Ok(AttackReport {
        strategy: args.strategy,
        attackers,
        honest: args.hotspots,
        symbol: fleet.symbol.clone(),
        decimals: fleet.decimals,
        onboarding_cost_per_device: before.saturating_sub(after) / fleet.members.len() as u128,
        bond_per_device: bond,
        epochs,
    })
}

/// One epoch's rewards of the fleet, read from the node's explanations.
fn measure_epoch(fleet: &Fleet, epoch: u64) -> Result<EpochRow> {
    let mut earned: BTreeMap<bool, Vec<u128>> = BTreeMap::new();
    let (mut scale_sum, mut scaled) = (0u64, 0u64);
    let (mut attackers_flagged, mut honest_flagged) = (0, 0);
    for m in &fleet.members {
        let device = m.key.address();
        let r = fleet
            .client()
            .get(&format!("/v1/rewards/{epoch}/{device}"))?;
        let attacker = m.role != Role::Honest;
        earned
            .entry(attacker)
            .or_default()
            .push(amount(&r["reward"]["amount"]));
        let score = &r["reward"]["score"];
        if score["ring_signals"]["isolated"].as_bool() == Some(true) {
            if attacker {
                attackers_flagged += 1;
            } else {
                honest_flagged += 1;
            }
        }
        if !attacker && amount(&score["shares"]) > 0 {
            scale_sum += score["hex_scale_ppm"].as_u64().unwrap_or(0);
            scaled += 1;
        }
    }
    let attacker = earned.remove(&true).unwrap_or_default();
    let honest = earned.remove(&false).unwrap_or_default();
    let attacker_total: u128 = attacker.iter().sum();
    let all = attacker_total + honest.iter().sum::<u128>();
    Ok(EpochRow {
        epoch,
        attacker_share_ppm: attacker_total * 1_000_000 / all.max(1),
        attacker_total,
        attacker_median: median(attacker),
        honest_median: median(honest),
        honest_mean_scale_ppm: scale_sum / scaled.max(1),
        attackers_flagged,
        honest_flagged,
    })
}

/// `depin agent attack`: measures and prints the report (JSON with `--json`). `oracles` are the
/// keys of `--oracle-key` (oracle-spike only).
pub fn run(
    args: &AttackArgs,
    node_url: &str,
    owner: &Keypair,
    oracles: &[Keypair],
    json: bool,
) -> Result<()> {
    let print = |table: String, value: serde_json::Result<String>| -> Result<()> {
        if json {
            println!("{}", value?);
        } else {
            print!("{table}");
        }
        Ok(())
    };
    match args.strategy {
        Strategy::OracleSpike => {
            if !json {
                println!(
                    "{} colluding oracle(s) lying for {} blocks; the accomplice burns {} token(s) a block",
                    oracles.len(),
                    args.rounds,
                    args.burn_tokens
                );
            }
            let genesis = crate::market::genesis(&crate::client::Client::new(node_url))?;
            let burn = Amount(
                u128::from(args.burn_tokens) * 10u128.pow(u32::from(genesis.token.decimals)),
            );
            let r = oracle::measure(node_url, oracles, owner, args.rounds, burn)?;
            return print(r.table(), serde_json::to_string(&r));
        }
        Strategy::SelfDeal => {
            let own = args
                .attackers
                .unwrap_or_else(|| args.strategy.default_attackers());
            if !json {
                println!(
                    "onboarding {} honest hotspots ({own} of them the self-dealer's) and two payers, then measuring {} epoch(s) (several minutes on a devnet)",
                    args.hotspots, args.epochs
                );
            }
            let r = self_deal::measure(args, node_url, Keypair::from_seed(owner.seed()), own)?;
            return print(r.table(), serde_json::to_string(&r));
        }
        Strategy::CanaryGrief => {
            let jobs = args
                .attackers
                .unwrap_or_else(|| args.strategy.default_attackers());
            if !json {
                println!(
                    "registering {} honest compute providers, then posting {jobs} canary job(s) with false answers",
                    canary_grief::HONEST_PROVIDERS
                );
            }
            let dir = std::env::temp_dir().join(format!("depin-canary-grief-{}", args.seed));
            let r = canary_grief::measure(args, node_url, owner, jobs, &dir)?;
            return print(r.table(), serde_json::to_string(&r));
        }
        _ => {}
    }
    if !json {
        println!(
            "onboarding {} honest hotspots and the attackers, then measuring {} epoch(s) (several minutes on a devnet)",
            args.hotspots, args.epochs
        );
    }
    let report = measure(args, node_url, Keypair::from_seed(owner.seed()))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
