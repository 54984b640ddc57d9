//! Simulated IoT fleets, the demand side of the network: sensors placed around the city send
//! packets through their nearest hotspots, and the fleet operator pays for them. The operator
//! burns tokens for credits (topping up when they run low), optionally delegates them to a
//! router key that pays, and each period settles one usage receipt per hotspot, co-signed by the
//! payer and by the hotspot (whose key this agent rebuilds from the hotspot fleet's seed, as the
//! hotspot side of the exchange).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::economics::{OraclePrice, TokenPrice};
use depin_core::modules::coverage::actions::Location;
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::services::demand::actions::{BuyCredits, DelegateCredits, UsageReceipt};
use depin_core::{Action, Address, Amount, Explained, Hash, Keypair, Transaction};

use crate::blocks::{self, Follower};
use crate::client::Client;
use crate::hotspot::{
    HotspotArgs, Role, distance_m, layout, mix, now_ms, offset, onboarded_devices, parse_lat_lon,
    unit,
};
use crate::market::{self, Market, NO_PRICE_HINT, grouped, price_text};

/// Most hotspots one packet is paid to (Helium pays the first few that heard it).
pub const MAX_HOTSPOTS_PER_PACKET: usize = 8;
/// Largest fleet one agent simulates.
pub const MAX_SENSORS: usize = 100_000;
/// Sensors sit within this share of the hotspots' radius, so each has hotspots around it.
const SENSOR_SPREAD: f64 = 0.8;

/// Arguments of `depin agent fleet`.
#[derive(clap::Args, Debug, Clone)]
pub struct FleetArgs {
    /// IoT sensors sending packets.
    #[arg(long, default_value_t = 50)]
    pub sensors: usize,
    /// Packets a sensor sends per minute, on average.
    #[arg(long, default_value_t = 6.0)]
    pub packets_per_minute: f64,
    /// Payload of one packet, bytes.
    #[arg(long, default_value_t = 24)]
    pub packet_bytes: u64,
    /// Hotspots that carry, and are paid for, each packet: the sensor's nearest.
    #[arg(long, default_value_t = 1)]
    pub hotspots_per_packet: usize,
    /// Length of a receipt period, seconds: one receipt per hotspot per period.
    #[arg(long, default_value_t = 10)]
    pub period_s: u64,
    /// Credits the payer keeps, in periods of expected traffic: below it the operator buys
    /// (and delegates) enough for twice as many.
    #[arg(long, default_value_t = 30)]
    pub buffer_periods: u64,
    /// Delegate credits to a router key (derived from --seed) that pays the receipts, as an
    /// operator does with its network server, instead of paying them with its own credits.
    #[arg(long)]
    pub router: bool,
    /// Seed of the sensors' placement and traffic (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many periods [default: run until stopped].
    #[arg(long)]
    pub periods: Option<u64>,
    /// Honest hotspots of the coverage fleet the packets go through (its --hotspots).
    #[arg(long, default_value_t = 100)]
    pub hotspots: usize,
    /// Seed of the coverage fleet (its --seed): its hotspot keys co-sign the receipts.
    #[arg(long, default_value_t = 1)]
    pub hotspot_seed: u64,
    /// Radius of the coverage fleet, metres (its --radius-m).
    #[arg(long, default_value_t = 20_000.0)]
    pub radius_m: f64,
    /// Centre of the coverage fleet, "LAT,LON" [default: Berlin] (its --center).
    #[arg(long, value_parser = parse_lat_lon)]
    pub center: Option<Location>,
}

impl FleetArgs {
    /// The coverage fleet the packets go through, as `depin agent hotspot` lays it out.
    pub fn coverage(&self) -> HotspotArgs {
        HotspotArgs {
            center: self.center,
            ..HotspotArgs::honest(self.hotspots, self.radius_m, self.hotspot_seed)
        }
    }

    /// Refuses arguments that cannot make a fleet, saying what to pass instead.
    pub fn check(&self) -> Result<()> {
        if self.sensors == 0 || self.sensors > MAX_SENSORS {
            bail!("--sensors must be between 1 and {MAX_SENSORS}");
        }
        if !(self.packets_per_minute > 0.0 && self.packets_per_minute <= 6_000.0) {
            bail!("--packets-per-minute must be above 0 and at most 6000 (100 a second)");
        }
        if self.hotspots_per_packet == 0 || self.hotspots_per_packet > MAX_HOTSPOTS_PER_PACKET {
            bail!("--hotspots-per-packet must be between 1 and {MAX_HOTSPOTS_PER_PACKET}");
        }
        if self.period_s == 0 {
            bail!("--period-s must be at least 1");
        }
        if self.buffer_periods == 0 {
            bail!("--buffer-periods must be at least 1");
        }
        self.coverage().check()
    }

    /// Packets a sensor sends in one period, on average.
    fn packets_per_period(&self) -> f64 {
        self.packets_per_minute * self.period_s as f64 / 60.0
    }
}

/// One simulated sensor.
#[derive(Clone, Debug)]
pub struct Sensor {
    pub location: Location,
    /// Indices in [`IotFleet::hotspots`] of the hotspots that carry its packets.
    pub via: Vec<usize>,
}

/// A hotspot the fleet's packets go through.
pub struct Carrier {
    pub key: Keypair,
    pub location: Location,
    /// Start of the traffic not yet settled, ms since the Unix epoch.
    start_ms: u64,
    packets: u64,
    bytes: u64,
    /// The ledger refused its receipts for good (retired or denylisted): no more traffic.
    dropped: bool,
}

/// A transaction of the fleet waiting for its block.
#[derive(Clone, Debug)]
enum Pending {
    Buy {
        tokens: Amount,
    },
    Delegate {
        credits: u128,
    },
    /// A receipt's traffic (what goes back to the hotspot if it is refused) and its cost.
    Receipt {
        carrier: usize,
        start_ms: u64,
        packets: u64,
        bytes: u64,
        cost: u128,
    },
}

/// What happened in one period.
#[derive(Clone, Debug, Default)]
pub struct PeriodReport {
    pub period: u64,
    /// Packets and bytes the sensors sent this period.
    pub packets: u64,
    pub bytes: u64,
    /// Receipts the ledger settled, and the refusals (at the door or in blocks) by code.
    pub accepted: usize,
    pub refused: BTreeMap<String, usize>,
    /// Credits the settled receipts burned.
    pub credits_spent: u128,
    /// Tokens burned and credits bought this period.
    pub tokens_burned: Amount,
    pub credits_bought: u128,
    pub credits_delegated: u128,
    /// What the payer can spend on data after the period.
    pub balance: u128,
    /// The ledger's oracle median when the period was settled.
    pub price: Option<TokenPrice>,
    /// Receipts still not in a block when the period's wait ended.
    pub unsettled: usize,
}

/// A fleet of sensors and its operator, talking to one node.
pub struct IotFleet {
    client: Client,
    pub market: Market,
    follower: Follower,
    args: FleetArgs,
    operator: Keypair,
    router: Option<Keypair>,
    nonce: u64,
    pub sensors: Vec<Sensor>,
    pub hotspots: Vec<Carrier>,
    pending: BTreeMap<Hash, Pending>,
    /// The operator's own credits and the payer's delegated credits, as the ledger last said.
    own: u128,
    delegated: u128,
    /// Credits ever bought for the operator, as the ledger last said (what a period bought is
    /// the difference: only the operator buys for itself).
    bought: u128,
    period: u64,
    last_end_ms: u64,
    report: PeriodReport,
    /// Credits spent on receipts since the fleet started.
    pub total_spent: u128,
}

/// The router key of the fleet of `seed` run by `operator`.
pub fn router_key(seed: u64, operator: &Address) -> Keypair {
    Keypair::from_seed(
        Hash::tagged(
            "depin/agent/fleet-router",
            &[&seed.to_le_bytes(), &operator.0],
        )
        .0,
    )
}

impl IotFleet {
    /// Reads the network, places the sensors and finds the onboarded hotspots nearest to each.
    pub fn new(args: &FleetArgs, node_url: &str, operator: Keypair) -> Result<IotFleet> {
        args.check()?;
        let client = Client::new(node_url);
        let market = Market::read(&client)?.context(
            "this network has no demand module (no [demand] in its genesis): there are no credits to pay hotspots with",
        )?;
        let follower = Follower::from(crate::blocks::height(&client)? + 1);
        let owner = operator.address();
        let nonce = client.nonce(&owner)?.with_context(|| {
            format!("the fleet operator {owner} has no account on this network; fund it first")
        })?;
        let members = layout(&args.coverage());
        let onboarded = onboarded_devices(&client, members.iter().map(|m| m.key.address()))?;
        let mut hotspots = Vec::new();
        for m in members {
            debug_assert_eq!(m.role, Role::Honest);
            if onboarded.contains(&m.key.address()) {
                hotspots.push(Carrier {
                    key: m.key,
                    location: m.asserted,
                    start_ms: 0,
                    packets: 0,
                    bytes: 0,
                    dropped: false,
                });
            }
        }
        if hotspots.is_empty() {
            bail!(
                "none of the {} hotspots of seed {} is onboarded on this network; start them first (`depin agent hotspot --hotspots {} --seed {}`) or pass the --hotspots/--hotspot-seed/--radius-m/--center they run with",
                args.hotspots,
                args.hotspot_seed,
                args.hotspots,
                args.hotspot_seed
            );
        }
        let router = args.router.then(|| router_key(args.seed, &owner));
        let mut fleet = IotFleet {
            client,
            market,
            follower,
            args: args.clone(),
            operator,
            router,
            nonce,
            sensors: Vec::new(),
            hotspots,
            pending: BTreeMap::new(),
            own: 0,
            delegated: 0,
            bought: 0,
            period: 0,
            last_end_ms: now_ms(),
            report: PeriodReport::default(),
            total_spent: 0,
        };
        fleet.place();
        for h in &mut fleet.hotspots {
            h.start_ms = fleet.last_end_ms;
        }
        fleet.read_credits()?;
        Ok(fleet)
    }

    /// Places the sensors around the centre and routes each through its nearest hotspots.
    fn place(&mut self) {
        let center = self.args.center.unwrap_or(BERLIN);
        let seed = self.args.seed;
        self.sensors = (0..self.args.sensors as u64)
            .map(|i| {
                let r = self.args.radius_m * SENSOR_SPREAD * unit(mix(&[seed, 41, i, 1])).sqrt();
                let a = unit(mix(&[seed, 41, i, 2])) * std::f64::consts::TAU;
                Sensor {
                    location: offset(center, r * a.sin(), r * a.cos()),
                    via: Vec::new(),
                }
            })
            .collect();
        self.route();
    }

    /// Routes every sensor through its nearest hotspots still carrying traffic.
    fn route(&mut self) {
        let live: Vec<usize> = (0..self.hotspots.len())
            .filter(|h| !self.hotspots[*h].dropped)
            .collect();
        for s in &mut self.sensors {
            let mut by_distance: Vec<(f64, usize)> = live
                .iter()
                .map(|h| (distance_m(s.location, self.hotspots[*h].location), *h))
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.via = by_distance
                .into_iter()
                .take(self.args.hotspots_per_packet)
                .map(|(_, h)| h)
                .collect();
        }
    }

    /// Sends traffic only through the hotspots `keep` accepts (a payer that pays only its own
    /// devices, or only others'), routing every sensor again; an error if none is left.
    pub fn only_through(&mut self, keep: impl Fn(&Address) -> bool) -> Result<()> {
        for h in &mut self.hotspots {
            h.dropped |= !keep(&h.key.address());
        }
        if self.hotspots.iter().all(|h| h.dropped) {
            bail!("no onboarded hotspot of the fleet is left to carry traffic");
        }
        self.route();
        Ok(())
    }

    /// The key that pays the receipts: the router if there is one, else the operator.
    pub fn payer(&self) -> &Keypair {
        self.router.as_ref().unwrap_or(&self.operator)
    }

    /// What the payer can spend on data, as the ledger last said.
    pub fn balance(&self) -> u128 {
        if self.router.is_some() {
            self.delegated
        } else {
            self.own + self.delegated
        }
    }

    /// Credits one period of the expected traffic costs.
    fn expected_period_cost(&self) -> u128 {
        let packets = (self.args.packets_per_period()
            * self.args.sensors as f64
            * self.args.hotspots_per_packet as f64)
            .ceil() as u64;
        let receipts = self
            .hotspots
            .len()
            .min(self.args.sensors * self.args.hotspots_per_packet);
        self.market
            .params
            .receipt_cost(packets, packets.saturating_mul(self.args.packet_bytes))
            .unwrap_or(u128::MAX / 4)
            + receipts as u128
    }

    /// Waits for the period to end, then settles it: the sensors' packets become one receipt per
    /// hotspot, credits are bought first if they run low, and everything waits for its block.
    pub fn run_period(&mut self) -> Result<PeriodReport> {
        let end_ms = self.last_end_ms + self.args.period_s * 1_000;
        let now = now_ms();
        if now < end_ms {
            std::thread::sleep(Duration::from_millis(end_ms - now));
        }
        self.period += 1;
        self.report = PeriodReport {
            period: self.period,
            ..PeriodReport::default()
        };
        self.send_traffic();
        self.last_end_ms = end_ms;
        // Outcomes of the last period's transactions that were still not in a block.
        for b in self.follower.poll(&self.client)? {
            for t in &b.txs {
                if let Some(pending) = self.pending.remove(&t.hash) {
                    self.take_outcome(pending, &t.outcome);
                }
            }
        }
        let (receipts, costs): (Vec<(usize, UsageReceipt)>, u128) = self.receipts(end_ms);
        let mut txs: Vec<(Transaction, Pending)> = Vec::new();
        self.read_credits()?;
        let bought_before = self.bought;
        self.top_up(costs, &mut txs)?;
        for (carrier, receipt) in receipts {
            let cost = self
                .market
                .params
                .receipt_cost(receipt.packets, receipt.bytes)
                .unwrap_or(u128::MAX);
            let pending = Pending::Receipt {
                carrier,
                start_ms: receipt.start_ms,
                packets: receipt.packets,
                bytes: receipt.bytes,
                cost,
            };
            txs.push((self.sign(Action::from(receipt)), pending));
        }
        self.submit(txs)?;
        self.settle()?;
        self.report.price = market::quote(&self.client)?.map(|q| q.median);
        self.read_credits()?;
        self.report.credits_bought = self.bought.saturating_sub(bought_before);
        self.report.balance = self.balance();
        Ok(self.report.clone())
    }

    /// The packets every sensor sent this period, added to its hotspots' unsettled traffic.
    fn send_traffic(&mut self) {
        let mean = self.args.packets_per_period();
        for (i, s) in self.sensors.iter().enumerate() {
            // Whole packets with the right mean: the fraction is sent with that probability.
            let draw = unit(mix(&[self.args.seed, 42, i as u64, self.period]));
            let packets = (mean + draw).floor() as u64;
            if packets == 0 {
                continue;
            }
            self.report.packets += packets;
            self.report.bytes += packets * self.args.packet_bytes;
            for h in &s.via {
                let c = &mut self.hotspots[*h];
                c.packets += packets;
                c.bytes += packets * self.args.packet_bytes;
            }
        }
    }

    /// One co-signed receipt per hotspot with unsettled traffic, for the period ending at
    /// `end_ms`, and what they cost together.
    fn receipts(&mut self, end_ms: u64) -> (Vec<(usize, UsageReceipt)>, u128) {
        let chain_id = self.market.chain_id.clone();
        let payer = Keypair::from_seed(self.payer().seed());
        let mut out = Vec::new();
        let mut cost = 0u128;
        for (i, c) in self.hotspots.iter_mut().enumerate() {
            if c.dropped || (c.packets == 0 && c.bytes == 0) || c.start_ms >= end_ms {
                continue;
            }
            let r = UsageReceipt::signed(
                &chain_id, &payer, &c.key, c.start_ms, end_ms, c.packets, c.bytes,
            );
            cost += self
                .market
                .params
                .receipt_cost(c.packets, c.bytes)
                .unwrap_or(u128::MAX / 4);
            c.start_ms = end_ms;
            c.packets = 0;
            c.bytes = 0;
            out.push((i, r));
        }
        (out, cost)
    }

    /// Buys (and delegates) credits when the payer holds fewer than `due` plus the buffer.
    fn top_up(&mut self, due: u128, txs: &mut Vec<(Transaction, Pending)>) -> Result<()> {
        let buffer = self.expected_period_cost() * u128::from(self.args.buffer_periods);
        // Receipts still waiting for their block will spend what they cost.
        let committed: u128 = self
            .pending
            .values()
            .map(|p| match p {
                Pending::Receipt { cost, .. } => *cost,
                _ => 0,
            })
            .sum();
        let spendable = self.balance().saturating_sub(committed);
        if spendable >= due + buffer {
            return Ok(());
        }
        let target = due + 2 * buffer;
        // Credits to move to the router, and credits the operator must buy first.
        let (delegate, mut buy) = if self.router.is_some() {
            let d = target - spendable;
            (d, d.saturating_sub(self.own))
        } else {
            (0, target - spendable)
        };
        if buy > 0 {
            match market::quote(&self.client)? {
                Some(quote) => self.buy(buy, &quote, txs)?,
                None => {
                    // Credits already held can still be delegated.
                    *self
                        .report
                        .refused
                        .entry("no_oracle_price".into())
                        .or_default() += 1;
                    buy = 0;
                }
            }
        }
        if let Some(router) = &self.router
            && delegate > 0
        {
            // At most what the operator is sure to hold once the purchase is in.
            let credits = delegate.min(self.own + buy * 9 / 10);
            let action = Action::from(DelegateCredits {
                payer: router.address(),
                credits,
            });
            txs.push((self.sign(action), Pending::Delegate { credits }));
        }
        Ok(())
    }

    /// Burns tokens at `quote`'s minting price for `credits` credits for the operator.
    fn buy(
        &mut self,
        credits: u128,
        quote: &OraclePrice,
        txs: &mut Vec<(Transaction, Pending)>,
    ) -> Result<()> {
        let tokens = self.market.tokens_for(credits, quote)?;
        let action = Action::from(BuyCredits {
            tokens,
            // The price may move before the block; a fall of more than 10% is refused.
            min_credits: credits * 9 / 10,
            to: self.operator.address(),
        });
        txs.push((self.sign(action), Pending::Buy { tokens }));
        Ok(())
    }

    fn sign(&mut self, action: Action) -> Transaction {
        let tx = self.market.signer.sign(&self.operator, self.nonce, action);
        self.nonce += 1;
        tx
    }

    /// Sends the period's transactions in one batch; refusals at the door are counted and give
    /// their traffic back to the hotspots, and the nonce is learnt again.
    fn submit(&mut self, txs: Vec<(Transaction, Pending)>) -> Result<()> {
        if txs.is_empty() {
            return Ok(());
        }
        let signed: Vec<Transaction> = txs.iter().map(|(t, _)| t.clone()).collect();
        let mut resync = false;
        for ((_, pending), verdict) in txs.into_iter().zip(self.client.submit(&signed)?) {
            match verdict {
                Ok(hash) => {
                    self.pending.insert(hash, pending);
                }
                Err(e) => {
                    resync = true;
                    self.refused(pending, &e.code);
                }
            }
        }
        if resync {
            let owner = self.operator.address();
            self.nonce = self
                .client
                .nonce(&owner)?
                .with_context(|| format!("the operator {owner} has no account any more"))?;
        }
        Ok(())
    }

    /// Reads blocks until every pending transaction is in one (or the wait runs out).
    fn settle(&mut self) -> Result<()> {
        let hashes: Vec<Hash> = self.pending.keys().copied().collect();
        let outcomes = blocks::await_outcomes(&self.client, &mut self.follower, &hashes, |_| {})?;
        for (hash, outcome) in hashes.iter().zip(outcomes) {
            if let Some(outcome) = outcome
                && let Some(pending) = self.pending.remove(hash)
            {
                self.take_outcome(pending, &outcome);
            }
        }
        self.report.unsettled = self
            .pending
            .values()
            .filter(|p| matches!(p, Pending::Receipt { .. }))
            .count();
        Ok(())
    }

    /// Takes in what the ledger made of one of the fleet's transactions (the balances come from
    /// the ledger itself, see [`IotFleet::read_credits`]).
    fn take_outcome(&mut self, pending: Pending, outcome: &std::result::Result<(), Explained>) {
        match (outcome, pending) {
            (Ok(()), Pending::Buy { tokens }) => {
                self.report.tokens_burned = Amount(self.report.tokens_burned.0 + tokens.0);
            }
            (Ok(()), Pending::Delegate { credits }) => {
                self.report.credits_delegated += credits;
            }
            (Ok(()), Pending::Receipt { cost, .. }) => {
                self.report.accepted += 1;
                self.report.credits_spent += cost;
                self.total_spent += cost;
            }
            (Err(e), pending) => self.refused(pending, &e.code),
        }
    }

    /// Counts a refusal; unpaid traffic goes back to its hotspot when paying later can work.
    fn refused(&mut self, pending: Pending, code: &str) {
        *self.report.refused.entry(code.to_string()).or_default() += 1;
        let Pending::Receipt {
            carrier,
            start_ms,
            packets,
            bytes,
            ..
        } = pending
        else {
            return;
        };
        let c = &mut self.hotspots[carrier];
        match code {
            // Paid with the next receipt, once credits are bought: the packets were delivered.
            "insufficient_credits" | "mempool_full" | "nonce_gap" | "nonce_replayed" => {
                c.start_ms = c.start_ms.min(start_ms);
                c.packets += packets;
                c.bytes += bytes;
            }
            // The hotspot is gone: route its sensors elsewhere.
            "unknown_device" | "denylisted" => {
                c.dropped = true;
                self.route();
            }
            // Anything else cannot be paid; the traffic is written off.
            _ => {}
        }
    }

    /// Reads the operator's and the payer's credits from the ledger.
    fn read_credits(&mut self) -> Result<()> {
        let operator = market::credits(&self.client, &self.operator.address())?.unwrap_or_default();
        self.own = operator.own;
        self.bought = operator.bought;
        self.delegated = match &self.router {
            Some(router) => {
                market::credits(&self.client, &router.address())?
                    .unwrap_or_default()
                    .delegated
            }
            None => operator.delegated,
        };
        Ok(())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Hotspots carrying the sensors' packets.
    pub fn carriers(&self) -> Vec<Address> {
        let mut used: Vec<usize> = self.sensors.iter().flat_map(|s| s.via.clone()).collect();
        used.sort_unstable();
        used.dedup();
        used.into_iter()
            .map(|h| self.hotspots[h].key.address())
            .collect()
    }

    /// One line on a period for people.
    pub fn describe(&self, r: &PeriodReport) -> String {
        let refused = if r.refused.is_empty() {
            String::new()
        } else {
            format!(
                ", refused: {}",
                r.refused
                    .iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut line = format!(
            "period {}: {} packets ({} bytes) from {} sensors · receipts: {} accepted{refused} · spent {} credits ({}) · balance {} credits",
            r.period,
            grouped(u128::from(r.packets)),
            grouped(u128::from(r.bytes)),
            self.sensors.len(),
            r.accepted,
            grouped(r.credits_spent),
            self.market.usd_text(r.credits_spent),
            grouped(r.balance),
        );
        if r.credits_bought > 0 {
            line += &format!(
                " · bought {} credits for {}",
                grouped(r.credits_bought),
                self.market.tokens_text(r.tokens_burned.0)
            );
        }
        if r.credits_delegated > 0 {
            line += &format!(
                " · delegated {} to the router",
                grouped(r.credits_delegated)
            );
        }
        match r.price {
            Some(p) => line += &format!(" · price {}", price_text(p)),
            None => line += &format!(" · {NO_PRICE_HINT}"),
        }
        if r.unsettled > 0 {
            line += &format!(" · {} receipts not yet in a block", r.unsettled);
        }
        line
    }
}

/// Runs `depin agent fleet`: sensors send packets period after period and the operator pays.
pub fn run(args: &FleetArgs, node_url: &str, operator: &Keypair, json: bool) -> Result<()> {
    let mut fleet = IotFleet::new(args, node_url, Keypair::from_seed(operator.seed()))?;
    if !json {
        println!(
            "{} sensors through {} of {} onboarded hotspots; payer {}{}; a line every {} s",
            fleet.sensors.len(),
            fleet.carriers().len(),
            fleet.hotspots.len(),
            fleet.payer().address(),
            if args.router {
                format!(" (router, credits delegated by {})", operator.address())
            } else {
                String::new()
            },
            args.period_s
        );
    }
    let mut done = 0u64;
    while args.periods.is_none_or(|p| done < p) {
        let r = fleet.run_period()?;
        done += 1;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "period": r.period,
                    "packets": r.packets,
                    "bytes": r.bytes,
                    "receipts_accepted": r.accepted,
                    "refused": r.refused,
                    "credits_spent": r.credits_spent.to_string(),
                    "credits_bought": r.credits_bought.to_string(),
                    "tokens_burned": r.tokens_burned,
                    "credits_delegated": r.credits_delegated.to_string(),
                    "balance": r.balance.to_string(),
                    "price": r.price,
                    "unsettled": r.unsettled,
                })
            );
        } else {
            println!("{}", fleet.describe(&r));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> FleetArgs {
        FleetArgs {
            sensors: 10,
            packets_per_minute: 6.0,
            packet_bytes: 24,
            hotspots_per_packet: 2,
            period_s: 10,
            buffer_periods: 5,
            router: false,
            seed: 1,
            periods: None,
            hotspots: 10,
            hotspot_seed: 1,
            radius_m: 5_000.0,
            center: None,
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(args().check().is_ok());
        for bad in [
            FleetArgs {
                sensors: 0,
                ..args()
            },
            FleetArgs {
                packets_per_minute: f64::NAN,
                ..args()
            },
            FleetArgs {
                hotspots_per_packet: MAX_HOTSPOTS_PER_PACKET + 1,
                ..args()
            },
            FleetArgs {
                period_s: 0,
                ..args()
            },
            FleetArgs {
                hotspots: 0,
                ..args()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_router_key_is_the_operators_and_the_seeds() {
        let a = Keypair::from_seed([1; 32]).address();
        let b = Keypair::from_seed([2; 32]).address();
        assert_eq!(router_key(1, &a).address(), router_key(1, &a).address());
        assert_ne!(router_key(1, &a).address(), router_key(2, &a).address());
        assert_ne!(router_key(1, &a).address(), router_key(1, &b).address());
    }
}
