//! The `self-deal` attack: an owner pays its own hotspots for traffic it makes up, hoping the
//! rewards it gets back (their demand share, and its part of the re-minted burn) are worth more
//! than the tokens it burned for the credits. Honest demand pays the other hotspots beside it,
//! so the demand pool is shared as on a real network. What the self-dealer gets back is read
//! from the node's reward explanations: its hotspots' demand part (only it pays them) and, pro
//! rata, the re-mint of its burns in the pools its hotspots share; its cost is the tokens it
//! burned for the credits its hotspots were paid in the measured epochs. The ledger's bound
//! (`remint_bps + demand_cap_bps <= 10000`) says that return is at most the cost.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use depin_core::{Action, Address, Amount, Hash, Keypair};
use serde::Serialize;
use serde_json::Value;

use super::oracle::commit;
use super::{AttackArgs, amount};
use crate::client::Client;
use crate::fleet::{FleetArgs, IotFleet};
use crate::hotspot::{Fleet, HotspotArgs};
use crate::market;

/// One measured epoch of a self-dealing run.
#[derive(Clone, Debug, Serialize)]
pub struct DealEpoch {
    pub epoch: u64,
    /// Credits the self-dealer's hotspots were paid (by it alone), and what their demand part was.
    pub self_credits: u128,
    pub self_demand: u128,
    /// Everything its hotspots earned (bootstrap and demand).
    pub self_total: u128,
    /// Credits and demand rewards of the honest hotspots (paid by honest demand).
    pub honest_credits: u128,
    pub honest_demand: u128,
    /// The epoch's demand pool, emission and re-mint, base units.
    pub demand_pool: u128,
    pub emission: u128,
    pub reminted: u128,
    pub tokens_burned: u128,
}

/// What a `self-deal` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct DealReport {
    pub own_hotspots: usize,
    pub honest_hotspots: usize,
    pub remint_bps: u32,
    pub demand_cap_bps: u32,
    pub symbol: String,
    pub decimals: u8,
    /// Tokens the self-dealer burned for credits over the whole run, and the credits they bought.
    pub tokens_burned: u128,
    pub credits_bought: u128,
    pub epochs: Vec<DealEpoch>,
}

impl DealReport {
    /// Tokens the credits its hotspots were paid in the measured epochs cost it.
    pub fn cost(&self) -> u128 {
        let paid: u128 = self.epochs.iter().map(|e| e.self_credits).sum();
        (self.tokens_burned * paid)
            .checked_div(self.credits_bought)
            .unwrap_or(0)
    }

    /// What came back: its hotspots' demand part, and the re-mint of its burns it shares in
    /// (the epoch's re-mint times its share of the epoch's burns, times its hotspots' share of
    /// what the epoch paid out).
    pub fn returned(&self) -> u128 {
        let burned_all: u128 = self.epochs.iter().map(|e| e.tokens_burned).sum();
        let mut back = 0u128;
        for e in &self.epochs {
            back += e.self_demand;
            let mine = e.reminted * self.tokens_burned.min(burned_all) / burned_all.max(1);
            back += mine * e.self_total / (e.emission + e.reminted).max(1);
        }
        back
    }

    /// Return over cost, basis points (10,000: it gets back exactly what it burned).
    pub fn return_bps(&self) -> u128 {
        self.returned() * 10_000 / self.cost().max(1)
    }

    /// The report as lines of text.
    pub fn table(&self) -> String {
        let t = |a: u128| format!("{} {}", Amount(a).display(self.decimals), self.symbol);
        let mut out = format!(
            "attack SelfDeal: an owner pays its {} hotspots, honest demand pays the other {}; re-mint {} bps, demand cap {} bps\n",
            self.own_hotspots, self.honest_hotspots, self.remint_bps, self.demand_cap_bps
        );
        out += "epoch | self-paid credits | its demand part | its total | honest credits | honest demand | demand pool | re-minted\n";
        for e in &self.epochs {
            out += &format!(
                "{:>5} | {} | {} | {} | {} | {} | {} | {}\n",
                e.epoch,
                e.self_credits,
                t(e.self_demand),
                t(e.self_total),
                e.honest_credits,
                t(e.honest_demand),
                t(e.demand_pool),
                t(e.reminted)
            );
        }
        out += &format!(
            "the self-dealer burned {} for {} credits; the credits its hotspots were paid cost {}, and brought back {} ({:.2}% of the cost; the ledger's bound is 100%)\n",
            t(self.tokens_burned),
            self.credits_bought,
            t(self.cost()),
            t(self.returned()),
            self.return_bps() as f64 / 100.0
        );
        out
    }
}

/// A key of this attack derived from the owner's (`role` says which).
fn derived(owner: &Keypair, role: &str, seed: u64) -> Keypair {
    Keypair::from_seed(
        Hash::tagged(
            "depin/agent/attack/self-deal",
            &[&owner.seed(), role.as_bytes(), &seed.to_le_bytes()],
        )
        .0,
    )
}

fn balance(client: &Client, a: &Address) -> Result<u128> {
    Ok(amount(
        &client.get(&format!("/v1/accounts/{a}"))?["balance"],
    ))
}

/// A payer of traffic beside the coverage fleet: `sensors` sensors sending `ppm` packets a
/// minute each through the hotspots of `hotspots`.
fn payer_args(args: &AttackArgs, ppm: f64, salt: u64) -> FleetArgs {
    FleetArgs {
        sensors: 40,
        packets_per_minute: ppm,
        packet_bytes: 24,
        hotspots_per_packet: 1,
        period_s: 2,
        buffer_periods: 2,
        router: false,
        seed: args.seed.wrapping_add(salt),
        periods: None,
        hotspots: args.hotspots,
        hotspot_seed: args.seed,
        radius_m: args.radius_m,
        center: None,
    }
}

/// Runs `iot` on its own thread until `stop`; its first error ends it and is returned.
fn keep_paying(
    mut iot: IotFleet,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<IotFleet>> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let r = iot.run_period()?;
            if !r.refused.is_empty() {
                bail!("the ledger refused receipts: {:?}", r.refused);
            }
        }
        Ok(iot)
    })
}

/// Onboards `args.hotspots` honest hotspots, of which the first `own` are the self-dealer's;
/// funds an honest payer and the self-dealer's payer from `owner`; runs the coverage fleet and
/// both payers for the measured epochs; reads what came back.
pub fn measure(
    args: &AttackArgs,
    node_url: &str,
    owner: Keypair,
    own: usize,
) -> Result<DealReport> {
    if own == 0 || own >= args.hotspots {
        bail!(
            "self-deal needs 1 to {} of the {} hotspots as the self-dealer's (--attackers), the rest honest",
            args.hotspots.saturating_sub(1),
            args.hotspots
        );
    }
    let client = Client::new(node_url);
    let genesis = market::genesis(&client)?;
    let Some(demand) = genesis.modules.demand.clone() else {
        bail!("this network has no demand module: there is nothing to pay hotspots with");
    };
    let decimals = genesis.token.decimals;
    let mut fleet = Fleet::new(
        &HotspotArgs::honest(args.hotspots, args.radius_m, args.seed),
        node_url,
        Keypair::from_seed(owner.seed()),
    )?;
    fleet.onboard()?;
    let mine: BTreeSet<Address> = fleet.members[..own]
        .iter()
        .map(|m| m.key.address())
        .collect();

    let honest_payer = derived(&owner, "honest payer", args.seed);
    let self_payer = derived(&owner, "self-dealer", args.seed);
    let whole = 10u128.pow(u32::from(decimals));
    let signer = crate::client::Signer::fetch(&client)?;
    let mut nonce = client
        .nonce(&owner.address())?
        .context("the owner has no account on this network")?;
    let funding: Vec<_> = [&honest_payer, &self_payer]
        .iter()
        .map(|k| {
            let tx = signer.sign(
                &owner,
                nonce,
                Action::Transfer {
                    to: k.address(),
                    amount: Amount(args.payer_tokens as u128 * whole),
                },
            );
            nonce += 1;
            tx
        })
        .collect();
    for outcome in commit(&client, &funding)? {
        if let Err(e) = outcome {
            bail!("funding the payers: {} ({})", e.message, e.code);
        }
    }
    let mut honest = IotFleet::new(
        &payer_args(args, args.honest_ppm, 100),
        node_url,
        honest_payer,
    )?;
    honest.only_through(|a| !mine.contains(a))?;
    let mut dealer = IotFleet::new(
        &payer_args(args, args.self_ppm, 200),
        node_url,
        Keypair::from_seed(self_payer.seed()),
    )?;
    dealer.only_through(|a| mine.contains(a))?;
    let tokens_before = balance(&client, &self_payer.address())?;
    let credits_before = market::credits(&client, &self_payer.address())?.map_or(0, |c| c.bought);

    let stop = Arc::new(AtomicBool::new(false));
    let payers = [
        keep_paying(honest, stop.clone()),
        keep_paying(dealer, stop.clone()),
    ];
    let first = fleet.current_epoch()? + 1;
    let last = first + args.epochs - 1;
    let ran = (|| -> Result<()> {
        while fleet.current_epoch()? <= last {
            fleet.run_window()?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    for p in payers {
        p.join()
            .map_err(|_| anyhow::anyhow!("a payer's thread panicked"))?
            .context("a payer stopped")?;
    }
    ran?;
    let tokens_burned = tokens_before.saturating_sub(balance(&client, &self_payer.address())?);
    let credits_bought = market::credits(&client, &self_payer.address())?
        .map_or(0, |c| c.bought)
        .saturating_sub(credits_before);

    let mut epochs = Vec::new();
    for epoch in first..=last {
        let s = client.get(&format!("/v1/epochs/{epoch}"))?;
        let field = |name: &str| amount(&s[name]);
        let mut row = DealEpoch {
            epoch,
            self_credits: 0,
            self_demand: 0,
            self_total: 0,
            honest_credits: 0,
            honest_demand: 0,
            demand_pool: field("demand_pool"),
            emission: field("emission"),
            reminted: field("reminted"),
            tokens_burned: field("tokens_burned"),
        };
        for m in &fleet.members {
            let a = m.key.address();
            let r: Value = client.get(&format!("/v1/rewards/{epoch}/{a}"))?;
            let r = &r["reward"];
            let (credits, demand_part) = (amount(&r["traffic"]["credits"]), amount(&r["demand"]));
            if mine.contains(&a) {
                row.self_credits += credits;
                row.self_demand += demand_part;
                row.self_total += amount(&r["amount"]);
            } else {
                row.honest_credits += credits;
                row.honest_demand += demand_part;
            }
        }
        epochs.push(row);
    }
    Ok(DealReport {
        own_hotspots: own,
        honest_hotspots: args.hotspots - own,
        remint_bps: demand.remint_bps,
        demand_cap_bps: demand.demand_cap_bps,
        symbol: fleet.symbol.clone(),
        decimals,
        tokens_burned,
        credits_bought,
        epochs,
    })
}
