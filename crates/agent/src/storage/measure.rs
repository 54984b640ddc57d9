//! What each kind of storage provider earns, measured on the real state machine: a network with
//! the demand and storage modules runs in process (the same `build_block` the node calls), an
//! honest client places distinct shards with an honest provider and with cheaters, and a
//! self-dealer pays itself for data it generates. Every provider follows the chain block by
//! block and proves (or fails to) exactly as `depin agent storage` would.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use clap::Args;
use depin_core::amount::Amount;
use depin_core::economics::EconomyView;
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::ModulesGenesis;
use depin_core::modules::storage::StorageView;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, DeclareRecovery, OpenDeal, RegisterProvider, sign_onboarding,
};
use depin_core::modules::storage::params::{GIB, VerifiedClient, preset};
use depin_core::modules::storage::proof::challenge_seed;
use depin_core::modules::storage::records::DealStatus;
use depin_core::services::demand::DemandView;
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::services::demand::params as demand_params;
use depin_core::{
    Action, Address, Genesis, Keypair, Receipt, Signatures, State, Transaction, build_block,
};
use serde::Serialize;

use super::shards::{Bytes, HeldShard, generated};

const CHAIN_ID: &str = "depin-storage-measure";
const EPOCH_BLOCKS: u64 = 50;
const WINDOW_BLOCKS: u64 = 5;
const TOKEN: u128 = 1_000_000;
/// $0.50 per token, 8 decimals.
const PRICE: u64 = 50_000_000;

/// What `depin agent storage --measure` runs.
#[derive(Args, Clone, Debug)]
pub struct MeasureArgs {
    /// Epochs (proving periods) to run.
    #[arg(long, default_value_t = 8)]
    pub epochs: u64,
    /// Deals the honest client opens with each provider.
    #[arg(long, default_value_t = 3)]
    pub deals: u32,
    /// Size of each client shard, KiB.
    #[arg(long, default_value_t = 256)]
    pub shard_kib: u64,
    /// Share of its groups the deleter keeps, per mille.
    #[arg(
        long = "deleter-keep-per-mille",
        id = "deleter_keep_per_mille",
        default_value_t = 900
    )]
    pub keep_per_mille: u16,
    /// Periods the slow provider is offline (from the second period), then it recovers.
    #[arg(long, default_value_t = 2)]
    pub offline_periods: u64,
    /// Size of each of the self-dealer's generated shards, KiB.
    #[arg(long, default_value_t = 4096)]
    pub self_deal_kib: u64,
    /// Deals the self-dealer's second key opens with its provider (many small deals or a few
    /// large ones: the shares follow the credits either way).
    #[arg(long, default_value_t = 3)]
    pub self_deal_deals: u32,
    /// Price the self-dealer pays itself, multiples of the floor: its lever, since its own
    /// credits come back as rewards.
    #[arg(long, default_value_t = 1)]
    pub self_deal_price_multiple: u128,
    /// The self-dealer's paying key holds a verified-data allowance for its deals (governance
    /// was fooled into granting one): what the rule allowed before allowances, when every
    /// paid deal earned bootstrap shares.
    #[arg(long)]
    pub self_deal_verified: bool,
    /// Price the honest client pays, multiples of the floor.
    #[arg(long, default_value_t = 10)]
    pub price_multiple: u128,
}

impl Default for MeasureArgs {
    fn default() -> Self {
        MeasureArgs {
            epochs: 8,
            deals: 3,
            shard_kib: 256,
            keep_per_mille: 900,
            offline_periods: 2,
            self_deal_kib: 4096,
            self_deal_deals: 3,
            self_deal_price_multiple: 1,
            self_deal_verified: false,
            price_multiple: 10,
        }
    }
}

/// How a measured provider behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Keeps every byte, proves every window.
    Honest,
    /// Keeps only a share of each shard's groups and gambles that challenges miss the rest.
    Deleter,
    /// Offline for a few periods without warning, then declares recovery and proves again.
    Slow,
    /// Keeps nothing and tries to answer from other providers' copies of its shards.
    Outsourcer,
    /// Two providers of one owner, given the same shard by a naive client, storing one copy.
    SybilPair,
    /// Pays itself (through a second key) for data it generates from a seed, storing only the
    /// seeds.
    SelfDealer,
}

/// What one provider (or pair) earned over the run.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub behaviour: Behaviour,
    /// Bytes it actually kept (per period).
    pub stored_bytes: u64,
    /// Bytes of the deals it was paid for (per period).
    pub deal_bytes: u64,
    pub deals: u32,
    pub proven_periods: u32,
    pub faulty_periods: u32,
    pub terminated: u32,
    /// Credits released to it for proven periods.
    pub credits_paid: u128,
    /// Rewards minted to its owner (bootstrap and demand), base units.
    pub rewards: u128,
    /// Collateral it paid clients in fees and terminations, base units.
    pub fees: u128,
    /// Tokens it burned paying itself (self-dealing), base units.
    pub spent: u128,
    /// rewards - fees - spent, base units.
    pub net: i128,
    /// net per GiB kept per period, whole tokens (how much its disk earns).
    pub net_per_stored_gib_period: f64,
}

/// One measured provider: its owner, devices, and the shards it holds per deal.
struct Actor {
    behaviour: Behaviour,
    owner: Keypair,
    devices: Vec<Keypair>,
    /// Deal id -> (device index, shard key into `held`).
    deals: BTreeMap<u64, (usize, usize)>,
    held: Vec<HeldShard>,
    /// The self-dealer's paying key.
    client: Option<Keypair>,
    client_bought_tokens: u128,
    client_credits_bought: u128,
}

/// The in-process chain.
struct Chain {
    state: State,
    time_ms: u64,
    validator: Keypair,
}

impl Chain {
    fn tx(&self, key: &Keypair, extra: u64, action: Action) -> Transaction {
        let nonce = self.state.account(&key.address()).map_or(0, |a| a.nonce) + extra;
        Transaction::sign(&self.state.network(), key, nonce, 1_000_000, action)
    }

    fn block(&mut self, txs: Vec<Transaction>) -> Vec<Receipt> {
        self.time_ms += 1_000;
        let (_, applied) = build_block(
            &mut self.state,
            txs,
            self.time_ms,
            &self.validator,
            Signatures::Verify,
        );
        applied.receipts
    }

    fn send(&mut self, key: &Keypair, action: Action) -> Result<()> {
        let tx = self.tx(key, 0, action);
        match self.block(vec![tx]).remove(0) {
            Receipt::Success => Ok(()),
            Receipt::Rejected(r) => bail!("{}: {r}", r.code()),
        }
    }
}

fn key(tag: u8, i: u8) -> Keypair {
    let mut seed = [tag; 32];
    seed[1] = i;
    Keypair::from_seed(seed)
}

fn genesis(
    funded: &[Address],
    oracle: &Keypair,
    validator: &Keypair,
    verified: &[Address],
) -> Genesis {
    let mut storage = preset(WINDOW_BLOCKS);
    // Each verified client gets 1 TiB, as a governance proposal would grant.
    storage.verified_clients = verified
        .iter()
        .map(|&client| VerifiedClient {
            client,
            allowance_bytes: 1024 * GIB,
        })
        .collect();
    storage.verified_clients.sort_by_key(|v| v.client);
    let mut demand = demand_params::preset(vec![oracle.address()], 4);
    demand.price_window_ms = 100_000_000;
    demand.price_max_age_ms = 100_000_000;
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_700_000_000_000,
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 1_000,
            epoch_length_blocks: EPOCH_BLOCKS,
            max_block_txs: 10_000,
            validator: validator.address(),
            validators: Vec::new(),
        },
        allocations: funded
            .iter()
            .map(|a| Allocation {
                address: *a,
                amount: "100000".into(),
            })
            .collect(),
        economics: Some(EconomicsGenesis {
            emission_per_epoch: "5000".into(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: key(250, 0).address(),
            treasury_bps: 1_000,
            pool_weights: Default::default(),
        }),
        modules: ModulesGenesis {
            demand: Some(demand),
            storage: Some(storage),
            ..Default::default()
        },
        fees: None,
    }
}

/// Runs the measurement and returns one row per behaviour.
pub fn measure(args: &MeasureArgs) -> Result<Vec<Row>> {
    let validator = key(240, 0);
    let oracle = key(241, 0);
    let client = key(242, 0);
    let behaviours = [
        Behaviour::Honest,
        Behaviour::Deleter,
        Behaviour::Slow,
        Behaviour::Outsourcer,
        Behaviour::SybilPair,
        Behaviour::SelfDealer,
    ];
    let mut actors: Vec<Actor> = behaviours
        .iter()
        .enumerate()
        .map(|(i, &behaviour)| Actor {
            behaviour,
            owner: key(200, i as u8),
            devices: (0..if behaviour == Behaviour::SybilPair {
                2
            } else {
                1
            })
                .map(|d| key(210 + d, i as u8))
                .collect(),
            deals: BTreeMap::new(),
            held: Vec::new(),
            client: (behaviour == Behaviour::SelfDealer).then(|| key(220, i as u8)),
            client_bought_tokens: 0,
            client_credits_bought: 0,
        })
        .collect();
    let mut funded = vec![client.address(), oracle.address()];
    for a in &actors {
        funded.push(a.owner.address());
        funded.extend(a.client.as_ref().map(|c| c.address()));
    }
    // The honest client holds a verified-data allowance; the self-dealer's key only if asked.
    let mut verified = vec![client.address()];
    if args.self_deal_verified {
        verified.extend(
            actors
                .iter()
                .filter_map(|a| a.client.as_ref().map(|c| c.address())),
        );
    }
    let g = genesis(&funded, &oracle, &validator, &verified);
    let mut chain = Chain {
        state: State::genesis(&g)?,
        time_ms: g.genesis_time_ms,
        validator,
    };
    let price = |chain: &Chain| {
        Action::from(SubmitPrice {
            price: depin_core::economics::TokenPrice(PRICE),
            observed_at_ms: chain.time_ms,
        })
    };
    let a = price(&chain);
    chain.send(&oracle, a)?;
    chain.send(
        &client,
        Action::from(BuyCredits {
            tokens: Amount(20_000 * TOKEN),
            min_credits: 0,
            to: client.address(),
        }),
    )?;
    // Providers: registered, with collateral.
    for a in &actors {
        for d in &a.devices {
            chain.send(
                &a.owner,
                Action::from(RegisterProvider {
                    device: d.address(),
                    capacity_bytes: 64 * GIB,
                    device_signature: sign_onboarding(CHAIN_ID, &a.owner.address(), d),
                }),
            )?;
            chain.send(
                &a.owner,
                Action::from(AddCollateral {
                    device: d.address(),
                    amount: Amount(10_000 * TOKEN),
                }),
            )?;
        }
    }
    let p = chain
        .state
        .params()
        .modules
        .storage
        .clone()
        .expect("storage");
    let shard_bytes = (args.shard_kib * 1024) as usize;
    // Deals.
    let mut shard_seed = 0u64;
    for actor in actors.iter_mut() {
        let (payer, size, multiple, deals) = match &actor.client {
            Some(c) => (
                Keypair::from_seed(c.seed()),
                (args.self_deal_kib * 1024) as usize,
                args.self_deal_price_multiple,
                args.self_deal_deals,
            ),
            None => (
                Keypair::from_seed(client.seed()),
                shard_bytes,
                args.price_multiple,
                args.deals,
            ),
        };
        if let Some(c) = &actor.client {
            // Credits for exactly its deals (the rest is refunded at the end and not counted),
            // and 100 for its transactions' fees.
            let credits = p.price_floor(size as u64)
                * multiple
                * u128::from(deals)
                * u128::from(args.epochs + 1)
                + 100;
            let tokens = depin_core::economics::tokens_for_credits(
                credits,
                depin_core::economics::TokenPrice(PRICE),
                6,
                chain
                    .state
                    .params()
                    .modules
                    .demand
                    .as_ref()
                    .unwrap()
                    .credit_peg,
            )?;
            chain.send(
                c,
                Action::from(BuyCredits {
                    tokens,
                    min_credits: 0,
                    to: c.address(),
                }),
            )?;
            actor.client_bought_tokens = tokens.0;
            actor.client_credits_bought = chain.state.credits(&c.address()).map_or(0, |b| b.own);
        }
        for _ in 0..deals {
            shard_seed += 1;
            let data = generated(shard_seed, size);
            let held = match actor.behaviour {
                Behaviour::Honest | Behaviour::Slow | Behaviour::SybilPair => {
                    HeldShard::in_memory(data.clone())
                }
                Behaviour::Deleter => HeldShard::partial(data.clone(), args.keep_per_mille),
                Behaviour::Outsourcer => HeldShard {
                    tree: depin_core::modules::storage::proof::ShardTree::build(&data),
                    bytes: Bytes::Nothing,
                },
                Behaviour::SelfDealer => HeldShard::from_seed(shard_seed, size),
            };
            actor.held.push(held);
            let slot = actor.held.len() - 1;
            for (d, device) in actor.devices.iter().enumerate() {
                let terms = DealTerms {
                    client: payer.address(),
                    provider: device.address(),
                    root: actor.held[slot].tree.root,
                    size: size as u64,
                    periods: args.epochs as u32,
                    price_per_period: p.price_floor(size as u64) * multiple,
                    valid_until_height: chain.state.height() + 10,
                };
                let id = chain.state.storage_meta().next_deal;
                let provider_signature = terms.sign(CHAIN_ID, device);
                chain.send(
                    &payer,
                    Action::from(OpenDeal {
                        terms,
                        provider_signature,
                    }),
                )?;
                actor.deals.insert(id, (d, slot));
            }
        }
    }
    let start = chain.state.height() / EPOCH_BLOCKS + 1;
    let end_height = (start + args.epochs + 1) * EPOCH_BLOCKS;
    while chain.state.height() < end_height {
        let h = chain.state.height();
        let period = h / EPOCH_BLOCKS;
        let mut txs = Vec::new();
        if h.is_multiple_of(EPOCH_BLOCKS) {
            txs.push(chain.tx(&oracle, 0, price(&chain)));
        }
        for actor in &actors {
            let offline = actor.behaviour == Behaviour::Slow
                && (start + 1..start + 1 + args.offline_periods).contains(&period);
            if offline {
                continue;
            }
            let mut extra = vec![0u64; actor.devices.len()];
            for (&id, &(d, slot)) in &actor.deals {
                let deal = chain.state.deal(id).expect("opened");
                if !deal.status.is_live() {
                    continue;
                }
                let device = &actor.devices[d];
                let held = &actor.held[slot];
                if deal.status == DealStatus::Faulty
                    && deal.recovery.is_none_or(|r| r < period)
                    && held.stored_bytes() > 0
                {
                    // Back (or never gone): declare the recovery for the next window.
                    txs.push(chain.tx(
                        device,
                        extra[d],
                        Action::from(DeclareRecovery { deals: vec![id] }),
                    ));
                    extra[d] += 1;
                    continue;
                }
                let (first, last) = p.window(EPOCH_BLOCKS, period, deal.deadline);
                if h < first || h >= last || deal.proven_period == Some(period) {
                    continue;
                }
                if deal.status == DealStatus::Faulty && deal.recovery != Some(period) {
                    continue;
                }
                let entropy = chain
                    .state
                    .window_entropy(period, deal.deadline)
                    .expect("open window");
                let seed = challenge_seed(&entropy, &device.address(), id, period);
                let mut answer = held.answer(&seed, p.challenges_per_window)?;
                if answer.is_none() && actor.behaviour == Behaviour::Outsourcer {
                    // Look for the same shard at another provider (the client gave distinct
                    // shards, so there is none).
                    answer = actors
                        .iter()
                        .flat_map(|o| o.held.iter())
                        .filter(|o| o.tree.root == held.tree.root && o.stored_bytes() > 0)
                        .find_map(|o| o.answer(&seed, p.challenges_per_window).ok().flatten());
                }
                if let Some(openings) = answer {
                    for action in
                        super::provider::proof_actions(id, period, held.tree.size, openings)
                    {
                        txs.push(chain.tx(device, extra[d], action));
                        extra[d] += 1;
                    }
                }
            }
        }
        chain.block(txs);
    }

    let mut rows = Vec::new();
    let epochs_closed = chain.state.height() / EPOCH_BLOCKS;
    for actor in &actors {
        let mut row = Row {
            behaviour: actor.behaviour,
            stored_bytes: 0,
            deal_bytes: 0,
            deals: actor.deals.len() as u32,
            proven_periods: 0,
            faulty_periods: 0,
            terminated: 0,
            credits_paid: 0,
            rewards: 0,
            fees: 0,
            spent: 0,
            net: 0,
            net_per_stored_gib_period: 0.0,
        };
        for (&id, &(_, slot)) in &actor.deals {
            let d = chain.state.deal(id).expect("opened");
            row.deal_bytes += d.size;
            row.proven_periods += d.proven_periods;
            row.faulty_periods += d.fault_periods;
            row.terminated += u32::from(matches!(
                d.status,
                DealStatus::TerminatedFaults | DealStatus::TerminatedByProvider
            ));
            row.credits_paid += d.paid_credits;
            row.fees += d.paid_to_client.0;
            let _ = slot;
        }
        row.stored_bytes = actor.held.iter().map(HeldShard::stored_bytes).sum();
        for device in &actor.devices {
            for e in 0..epochs_closed {
                if let Some(r) = chain.state.reward(e, &device.address()) {
                    row.rewards += r.amount.0;
                }
            }
        }
        if let Some(c) = &actor.client {
            let left = chain.state.credits(&c.address()).map_or(0, |b| b.own);
            let used = actor.client_credits_bought - left;
            row.spent = depin_core::economics::mul_div_floor(
                actor.client_bought_tokens,
                used,
                actor.client_credits_bought.max(1),
            );
        }
        row.net = row.rewards as i128 - row.fees as i128 - row.spent as i128;
        let stored_gib_periods = row.stored_bytes.max(1) as f64 / GIB as f64 * args.epochs as f64;
        row.net_per_stored_gib_period = row.net as f64 / TOKEN as f64 / stored_gib_periods;
        rows.push(row);
    }
    Ok(rows)
}

/// The rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<12} {:>12} {:>12} {:>6} {:>7} {:>7} {:>5} {:>12} {:>12} {:>10} {:>10} {:>12} {:>14}\n",
        "behaviour",
        "stored B",
        "deal B",
        "deals",
        "proven",
        "faulty",
        "term",
        "credits",
        "rewards",
        "fees",
        "spent",
        "net",
        "net/GiB-period"
    );
    let t = |v: i128| format!("{:.3}", v as f64 / TOKEN as f64);
    for r in rows {
        out += &format!(
            "{:<12} {:>12} {:>12} {:>6} {:>7} {:>7} {:>5} {:>12} {:>12} {:>10} {:>10} {:>12} {:>14.1}\n",
            format!("{:?}", r.behaviour).to_lowercase(),
            r.stored_bytes,
            r.deal_bytes,
            r.deals,
            r.proven_periods,
            r.faulty_periods,
            r.terminated,
            r.credits_paid,
            t(r.rewards as i128),
            t(r.fees as i128),
            t(r.spent as i128),
            t(r.net),
            r.net_per_stored_gib_period
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(self_deal_verified: bool) -> MeasureArgs {
        MeasureArgs {
            epochs: 6,
            deals: 2,
            shard_kib: 64,
            keep_per_mille: 500,
            offline_periods: 2,
            self_deal_kib: 64,
            self_deal_deals: 4,
            self_deal_price_multiple: 1_000,
            self_deal_verified,
            price_multiple: 10,
        }
    }

    /// Each cheater gets what it deserves: the honest provider proves everything; the deleter
    /// is caught in some windows and pays fees; the slow provider recovers; the outsourcer with
    /// nobody to copy from is terminated; the self-dealer without an allowance gets back at
    /// most what it burned.
    #[test]
    fn each_behaviour_gets_the_outcome_it_deserves() {
        let rows = measure(&small(false)).unwrap();
        let row = |b| rows.iter().find(|r| r.behaviour == b).unwrap();
        let honest = row(Behaviour::Honest);
        assert_eq!((honest.proven_periods, honest.faulty_periods), (12, 0));
        assert_eq!(honest.fees, 0);
        assert!(honest.rewards > 0);
        let deleter = row(Behaviour::Deleter);
        assert!(
            deleter.faulty_periods > 0 && deleter.fees > 0,
            "{deleter:?}"
        );
        assert!(
            deleter.rewards < honest.rewards,
            "{deleter:?} vs {honest:?}"
        );
        let slow = row(Behaviour::Slow);
        assert_eq!(slow.terminated, 0, "the slow provider recovers: {slow:?}");
        assert!(
            slow.faulty_periods >= 4 && slow.proven_periods > 0,
            "{slow:?}"
        );
        assert!(slow.rewards < honest.rewards);
        let outsourcer = row(Behaviour::Outsourcer);
        assert_eq!(
            (outsourcer.proven_periods, outsourcer.terminated),
            (0, 2),
            "{outsourcer:?}"
        );
        let pair = row(Behaviour::SybilPair);
        assert_eq!(pair.proven_periods, 24, "one copy answers both deals");
        assert_eq!(pair.stored_bytes * 2, pair.deal_bytes);
        let dealer = row(Behaviour::SelfDealer);
        assert_eq!(dealer.stored_bytes, 32, "it keeps four seeds");
        assert_eq!(dealer.proven_periods, 24, "{dealer:?}");
        assert!(dealer.spent > 0, "{dealer:?}");
        assert!(
            dealer.rewards <= dealer.spent,
            "without an allowance its return is its demand share, at most what it burned: {dealer:?}"
        );
    }

    /// The best self-dealer (a second key paying its provider 10,000 times the floor for data
    /// generated from seeds) on the default network of `depin agent storage --measure`: holding
    /// an allowance (every paid deal earning bootstrap, the rule before allowances) it turns its
    /// burn into many times itself and takes the honest providers' bootstrap; without one it
    /// gets back at most what it burned. Prints both tables (`-- --nocapture`).
    #[test]
    fn a_self_dealer_with_an_allowance_buys_the_bootstrap_pool() {
        let args = |self_deal_verified| MeasureArgs {
            self_deal_price_multiple: 10_000,
            self_deal_verified,
            ..MeasureArgs::default()
        };
        let open = measure(&args(true)).unwrap();
        let closed = measure(&args(false)).unwrap();
        println!(
            "with an allowance (--self-deal-verified):\n{}",
            table(&open)
        );
        println!("without:\n{}", table(&closed));
        let row = |rows: &[Row], b| rows.iter().find(|r| r.behaviour == b).unwrap().clone();
        let (with, without) = (
            row(&open, Behaviour::SelfDealer),
            row(&closed, Behaviour::SelfDealer),
        );
        assert!(with.rewards > 10 * with.spent, "{with:?}");
        assert!(without.spent > 0, "{without:?}");
        assert!(without.rewards <= without.spent, "{without:?}");
        assert!(
            row(&open, Behaviour::Honest).rewards < row(&closed, Behaviour::Honest).rewards,
            "the honest provider loses what the self-dealer takes"
        );
    }
}
