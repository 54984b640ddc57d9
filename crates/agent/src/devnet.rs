//! The devnet's agents: a price feed, simulated hotspots and an IoT fleet, started together
//! against one node, with the live summary of [`crate::epoch_summary`] after each epoch.

use std::collections::BTreeMap;
use std::thread::JoinHandle;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::modules::coverage::actions::Location;
use depin_core::{Action, Address, Amount, Hash, Keypair};

use crate::blocks;
use crate::client::{self, Client};
use crate::epoch_summary::{Summaries, short};
use crate::fleet::{FleetArgs, IotFleet};
use crate::hotspot::{Fleet, HotspotArgs, Role};
use crate::market::{self, NO_PRICE_HINT, price_text};
use crate::oracle_feed::{self, FeedArgs, PriceFeed};

/// The centre of the devnet's hotspots: Berlin, the default city of `depin init`.
pub fn default_center() -> Location {
    depin_core::modules::coverage::preset::BERLIN
}

/// Starts the devnet's agents without an oracle key: if the network has a demand module, the
/// hotspots wait for someone else's price (see [`spawn_with_oracle`]).
pub fn spawn(node_url: String, owner: Keypair, hotspots: usize) -> JoinHandle<()> {
    spawn_with_oracle(node_url, owner, None, hotspots)
}

/// Starts the devnet's agents on a background thread that prints a summary after each epoch:
/// first the price feed (signed by `oracle`), and once the ledger holds its price (onboarding
/// fees are burned at it), `hotspots` honest simulated hotspots plus a few cheaters (one spoofer
/// and one inflator per 60 honest, and a ring of 4), then an IoT fleet sending packets through
/// them and paying with credits. Agents end quietly when the node goes away.
pub fn spawn_with_oracle(
    node_url: String,
    owner: Keypair,
    oracle: Option<Keypair>,
    hotspots: usize,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("devnet-hotspots".into())
        .spawn(move || {
            let args = HotspotArgs {
                hotspots,
                center: Some(default_center()),
                // Wide enough that most beacons are heard by fewer than the 32 witnesses the
                // ledger records, as in a real city network.
                radius_m: 40_000.0,
                seed: 1,
                spoofers: hotspots.div_ceil(60),
                inflators: hotspots.div_ceil(60),
                ring: 4,
                forgers: hotspots.div_ceil(20),
                spread_ring: hotspots.div_ceil(20).max(2),
                decoys: 0,
                windows: None,
            };
            if let Err(e) = drive(&args, &node_url, owner, oracle)
                && !client::is_unreachable(&e)
            {
                println!("simulated agents stopped: {e:#}");
            }
        })
        .expect("spawning the hotspot thread")
}

/// Tokens the devnet's fleet operator is given when it holds less than a tenth of it, whole
/// tokens.
pub const FLEET_OPERATOR_FUNDING: u128 = 10_000;

/// The IoT fleet the devnet runs over its `hotspots` honest hotspots (those of `args`).
pub fn fleet_args(args: &HotspotArgs) -> FleetArgs {
    FleetArgs {
        sensors: args.hotspots,
        packets_per_minute: 12.0,
        packet_bytes: 24,
        hotspots_per_packet: 2,
        period_s: 10,
        buffer_periods: 30,
        router: true,
        seed: args.seed,
        periods: None,
        hotspots: args.hotspots,
        hotspot_seed: args.seed,
        radius_m: args.radius_m,
        center: args.center,
    }
}

/// The devnet's fleet operator: a key derived from the chain id (a devnet key, not a secret).
pub fn fleet_operator(chain_id: &str) -> Keypair {
    Keypair::from_seed(Hash::tagged("depin/agent/devnet-fleet-operator", &[chain_id.as_bytes()]).0)
}

/// Starts the price feed and waits until the ledger holds its first price; without an oracle
/// key, waits for someone else's.
/// The devnet's second and third oracle keys, derived from its first: `depin init` authorises
/// all three (the ledger needs two fresh prices), and the devnet runs a feed for each.
pub fn extra_oracles(oracle: &Keypair) -> [Keypair; 2] {
    [2u8, 3]
        .map(|i| Keypair::from_seed(Hash::tagged("depin/devnet/oracle", &[&oracle.seed(), &[i]]).0))
}

fn start_price_feed(node_url: &str, oracle: Option<Keypair>) -> Result<()> {
    let client = Client::new(node_url);
    let Some(key) = oracle else {
        if market::quote(&client)?.is_none() {
            println!(
                "price feed: no oracle key given, so the hotspots wait for a price; {NO_PRICE_HINT}"
            );
        }
        while market::quote(&client)?.is_none() {
            std::thread::sleep(Duration::from_secs(1));
        }
        return Ok(());
    };
    let feed_args = FeedArgs::default();
    let extra = extra_oracles(&key);
    let mut feed = PriceFeed::new(&feed_args, node_url, key)?;
    let price = feed.first_price()?;
    // The other oracles `depin init` authorised (a network made before them has only one).
    for key in extra {
        if let Ok(mut other) = PriceFeed::new(&feed_args, node_url, key) {
            other.first_price()?;
            oracle_feed::spawn(other);
        }
    }
    println!(
        "Price feed: {} per token in the ledger; a new price every {} blocks (a seeded random walk around {}).",
        price_text(price),
        feed_args.every_blocks,
        price_text(feed_args.start_usd)
    );
    oracle_feed::spawn(feed);
    Ok(())
}

/// Gives the fleet operator tokens to burn for credits if it holds too few.
fn fund_operator(fleet: &Fleet, owner: &Keypair, operator: &Address) -> Result<()> {
    let client = fleet.client();
    let whole = 10u128.pow(u32::from(fleet.decimals));
    let held: u128 = client
        .get_opt(&format!("/v1/accounts/{operator}"))?
        .and_then(|a| a["balance"].as_str().and_then(|b| b.parse().ok()))
        .unwrap_or(0);
    if held >= FLEET_OPERATOR_FUNDING * whole / 10 {
        return Ok(());
    }
    fund(client, owner, &[(*operator, FLEET_OPERATOR_FUNDING)])
}

/// Runs the devnet's IoT fleet on its own thread, quietly: its traffic shows in the epoch
/// summaries (credits burned, demand rewards).
fn spawn_iot(args: FleetArgs, node_url: String, operator: Keypair) -> Result<()> {
    let mut iot = IotFleet::new(&args, &node_url, operator)?;
    println!(
        "{} IoT sensors send packets through their {} nearest of {} hotspots (a receipt per hotspot every {} s, paid by a router with credits its operator {} burned tokens for).",
        iot.sensors.len(),
        args.hotspots_per_packet,
        iot.hotspots.len(),
        args.period_s,
        short(&iot.payer().address().to_string())
    );
    std::thread::Builder::new()
        .name("devnet-iot".into())
        .spawn(move || {
            client::keep_running("IoT fleet", Duration::from_secs(1), || {
                iot.run_period().map(drop)
            })
        })
        .context("spawning the IoT fleet thread")?;
    Ok(())
}

fn drive(
    args: &HotspotArgs,
    node_url: &str,
    owner: Keypair,
    oracle: Option<Keypair>,
) -> Result<()> {
    let demand = market::oracle(&Client::new(node_url))?.is_some();
    if demand {
        start_price_feed(node_url, oracle)?;
    }
    let funder = Keypair::from_seed(owner.seed());
    let mut fleet = Fleet::new(args, node_url, owner)?;
    let new = fleet.onboard()?;
    println!(
        "{} simulated hotspots on the network ({new} onboarded now by the faucet key); the first summary comes when the next epoch closes",
        fleet.members.len()
    );
    if demand && args.hotspots > 0 {
        let operator = fleet_operator(&fleet.chain_id);
        let started = fund_operator(&fleet, &funder, &operator.address())
            .and_then(|()| spawn_iot(fleet_args(args), node_url.to_string(), operator));
        if let Err(e) = started {
            println!("no IoT fleet: {e:#}");
        }
    }
    let mut summaries = Summaries::new(&fleet);
    let mut warned = false;
    // Ends quietly when the node is gone (stopped with Ctrl-C).
    client::keep_running("simulated hotspots", Duration::from_secs(1), || {
        let report = fleet.run_window()?;
        if let Some(warning) = fleet.behind_warning(&report).filter(|_| !warned) {
            println!("simulated hotspots: {warning}");
            warned = true;
        }
        for line in summaries.new_epochs(&fleet)? {
            println!("{line}");
        }
        Ok(())
    });
    Ok(())
}

/// Addresses of the fleet by role (for tests and tools).
pub fn addresses(fleet: &Fleet) -> BTreeMap<Role, Vec<Address>> {
    let mut out: BTreeMap<Role, Vec<Address>> = BTreeMap::new();
    for m in &fleet.members {
        out.entry(m.role).or_default().push(m.key.address());
    }
    out
}

/// A devnet agent's own key, derived from the faucet's: the same on every run of one devnet,
/// so a restarted devnet finds its devices and funds again.
pub fn agent_key(faucet: &Keypair, label: &str) -> Keypair {
    Keypair::from_seed(Hash::tagged("depin/devnet/agent", &[&faucet.seed(), label.as_bytes()]).0)
}

/// Gives each `(account, whole tokens)` holding less than half of its amount that amount, from
/// `faucet`, in one batch of consecutive nonces, and waits for the block. The module agents are
/// funded this way before the hotspots start onboarding with the faucet's key, so no two
/// agents ever race for one nonce.
pub fn fund(client: &Client, faucet: &Keypair, wants: &[(Address, u128)]) -> Result<()> {
    let signer = client::Signer::fetch(client)?;
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    let whole = 10u128.pow(decimals);
    let mut nonce = client.nonce(&faucet.address())?.unwrap_or(0);
    let mut txs = Vec::new();
    for (to, tokens) in wants {
        let held: u128 = client
            .get_opt(&format!("/v1/accounts/{to}"))?
            .and_then(|a| a["balance"].as_str().and_then(|b| b.parse().ok()))
            .unwrap_or(0);
        if held >= tokens * whole / 2 {
            continue;
        }
        txs.push(signer.sign(
            faucet,
            nonce,
            Action::Transfer {
                to: *to,
                amount: Amount(tokens * whole),
            },
        ));
        nonce += 1;
    }
    commit_all(client, &txs).context("funding the devnet's agents")
}

/// Submits `txs` together and waits for their block; fails with the node's reason for the
/// first one refused (at admission or in the block).
pub(crate) fn commit_all(client: &Client, txs: &[depin_core::Transaction]) -> Result<()> {
    if txs.is_empty() {
        return Ok(());
    }
    let height = blocks::height(client)?;
    let mut hashes = Vec::new();
    for verdict in client.submit(txs)? {
        match verdict {
            Ok(h) => hashes.push(h),
            Err(e) => bail!("{} ({})", e.message, e.code),
        }
    }
    let mut follower = blocks::Follower::from(height + 1);
    for outcome in blocks::await_outcomes(client, &mut follower, &hashes, |_| {})? {
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => bail!("{} ({})", e.message, e.code),
            None => bail!("a transaction is not in a block after 30 s"),
        }
    }
    Ok(())
}

/// What `depin devnet` runs beside its node (the caller leaves at 0 the agents of a module the
/// network does not have).
pub struct Plan {
    /// Simulated hotspots (coverage), with their cheaters and IoT fleet.
    pub hotspots: usize,
    /// Honest compute providers (with one garbage provider and a requester).
    pub compute_providers: u32,
    /// Dashcams driving the mapping region.
    pub dashcams: usize,
    /// Storage providers with a client that stores a file and reads it back each epoch.
    pub storage_providers: usize,
    /// The network's home: the agents keep their files under it.
    pub home: std::path::PathBuf,
}

/// Whole tokens the faucet gives each module's agents before they start. Each of the compute fleet's owners gets 200 tokens for credits plus the device bond (5,000 on
/// a network `depin init` made): five owners.
const COMPUTE_FUNDER_TOKENS: u128 = 30_000;
const COMPUTE_REQUESTER_TOKENS: u128 = 1_000;
/// Per storage provider: the device bond (5,000 on a network `depin init` made), 1,000 of
/// collateral, and fees.
const STORAGE_OWNER_TOKENS_PER_PROVIDER: u128 = 6_100;
const STORAGE_CLIENT_TOKENS: u128 = 2_000;
/// Covers each dashcam's onboarding bond (5,000 on a network `depin init` made) and fees.
const DASHCAM_TOKENS_PER_CAR: u128 = 5_100;

/// Starts all of the devnet's agents on a background thread, in an order in which none of them
/// waits on another's nonce: the price feed (the credits every module needs are bought at its
/// price), one funding batch from the faucet for the module agents' own keys, the storage,
/// mapping and compute agents, and last the hotspots, which onboard with the faucet's key.
pub fn spawn_all(node_url: String, faucet: Keypair, oracle: Option<Keypair>, plan: Plan) {
    std::thread::Builder::new()
        .name("devnet".into())
        .spawn(move || {
            if let Err(e) = start_all(&node_url, faucet, oracle, &plan)
                && !client::is_unreachable(&e)
            {
                println!("devnet agents stopped: {e:#}");
            }
        })
        .expect("spawning the devnet thread");
}

fn start_all(node_url: &str, faucet: Keypair, oracle: Option<Keypair>, plan: &Plan) -> Result<()> {
    let client = Client::new(node_url);
    if market::oracle(&client)?.is_some() {
        start_price_feed(node_url, oracle)?;
    }
    let compute = (plan.compute_providers > 0).then(|| {
        (
            agent_key(&faucet, "compute"),
            agent_key(&faucet, "requester"),
        )
    });
    let storage = (plan.storage_providers > 0).then(|| {
        (
            agent_key(&faucet, "storage"),
            agent_key(&faucet, "storage-client"),
        )
    });
    let dashcams = plan.dashcams > 0;
    let mut wants = Vec::new();
    if let Some((funder, requester)) = &compute {
        wants.push((funder.address(), COMPUTE_FUNDER_TOKENS));
        wants.push((requester.address(), COMPUTE_REQUESTER_TOKENS));
    }
    if let Some((owner, client_key)) = &storage {
        let providers = plan.storage_providers as u128;
        wants.push((
            owner.address(),
            STORAGE_OWNER_TOKENS_PER_PROVIDER * providers,
        ));
        wants.push((client_key.address(), STORAGE_CLIENT_TOKENS));
    }
    if dashcams {
        wants.push((
            crate::dashcam::devnet::owner_key().address(),
            DASHCAM_TOKENS_PER_CAR * plan.dashcams as u128,
        ));
    }
    fund(&client, &faucet, &wants)?;
    if let Some((owner, client_key)) = storage {
        println!(
            "Starting {} storage providers and a client that stores a file across them and reads it back each epoch (docs/STORAGE.md).",
            plan.storage_providers
        );
        crate::storage::devnet::spawn(
            node_url.to_string(),
            plan.home.clone(),
            owner,
            client_key,
            plan.storage_providers,
        );
    }
    if dashcams {
        // Funded above: its own key, never the faucet's.
        crate::dashcam::devnet::spawn(
            node_url.to_string(),
            agent_key(&faucet, "unused"),
            plan.dashcams,
        );
    }
    if let Some((funder, requester)) = compute {
        crate::gpu::devnet::spawn(
            node_url.to_string(),
            funder,
            requester,
            plan.home.join("compute"),
            plan.compute_providers,
        );
    }
    if plan.hotspots > 0 {
        // The price feed runs already: the hotspots find its price.
        spawn_with_oracle(node_url.to_string(), faucet, None, plan.hotspots);
    }
    Ok(())
}
