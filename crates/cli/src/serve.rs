//! `depin node` and `depin devnet`: run the node of the network in the home directory, for
//! `devnet` creating the network first and starting simulated hotspots with it.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use depin_node::{Home, MempoolLimits, RunConfig};

use crate::connection::DEFAULT_API;
use crate::init::{self, InitArgs};

/// Options of `depin node`.
#[derive(clap::Args)]
pub struct NodeArgs {
    /// Address for the HTTP API (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_API)]
    api: SocketAddr,
}

/// Options of `depin devnet`.
#[derive(clap::Args)]
pub struct DevnetArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Simulated hotspots started around the network's city (0: none).
    #[arg(long, default_value_t = 300)]
    hotspots: usize,
    /// Honest compute providers started (with a garbage provider and a requester posting a
    /// render job each epoch) on a network made with `depin init --compute` (0: none). A
    /// disputed spot-check needs five owners, so four honest ones and the cheater.
    #[arg(long, default_value_t = 4)]
    compute_providers: u32,
    /// Simulated dashcams driving around the mapping region on a network made with
    /// `depin init --mapping` (0: none).
    #[arg(long, default_value_t = 4)]
    dashcams: usize,
    /// Validators of a new network (BFT on commonware simplex when above 1): the others run as
    /// child processes on 127.0.0.1, each with its own API.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    validators: u16,
}

/// Runs `depin node`: the node until Ctrl-C.
pub fn node(home: &Home, args: &NodeArgs) -> Result<()> {
    serve(home, args, None)
}

/// Runs `depin devnet`: creates a network with the `init` defaults if `home` has none, then
/// runs its node with simulated hotspots.
pub fn devnet(home: &Home, args: &DevnetArgs) -> Result<()> {
    if !home.is_initialized() {
        let mut init_args = InitArgs::defaults();
        init_args.validators = args.validators;
        init::run_for_devnet(home, &init_args)?;
    }
    serve(
        home,
        &args.node,
        Some((args.hotspots, args.compute_providers, args.dashcams)),
    )
}

/// Runs the node; `devnet` is the number of simulated hotspots, compute providers and dashcams
/// to start with it (`None`: a plain node).
fn serve(home: &Home, args: &NodeArgs, devnet: Option<(usize, u32, usize)>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let config = RunConfig {
        api_addr: args.api,
        mempool: MempoolLimits::default(),
        api: Default::default(),
    };
    let home_arg = home.root().display().to_string();
    let depin = command_name();
    let ready = |url: &str, node: &std::sync::Arc<depin_node::Node>| {
        let tip = node.tip();
        println!(
            "depin node '{}' at height {} (store: {})",
            node.params.chain_id,
            tip.height,
            home.db_path().display()
        );
        println!("API listening on {url}  (explorer page at {url}/, metrics at {url}/metrics)");
        if let Some((hotspots, compute_providers, dashcams)) = devnet {
            if dashcams > 0
                && node.params.modules.mapping.is_some()
                && let Ok(funder) = home.load_key("faucet")
            {
                depin_agent::dashcam::devnet::spawn(url.to_string(), funder, dashcams);
            }
            if compute_providers > 0
                && node.params.modules.compute.is_some()
                && let (Ok(funder), Ok(requester)) =
                    (home.load_key("faucet"), home.load_key("alice"))
            {
                depin_agent::gpu::devnet::spawn(
                    url.to_string(),
                    funder,
                    requester,
                    home.root().join("compute"),
                    compute_providers,
                );
            }
            if hotspots > 0 && node.params.modules.coverage.is_some() {
                match home.load_key("faucet") {
                    Ok(owner) => {
                        println!(
                            "Starting {hotspots} simulated hotspots around the network's city; a summary follows each epoch ({} blocks).",
                            node.params.epoch_length_blocks
                        );
                        let oracle = node
                            .params
                            .modules
                            .demand
                            .is_some()
                            .then(|| home.load_key("oracle").ok())
                            .flatten();
                        depin_agent::devnet::spawn_with_oracle(
                            url.to_string(),
                            owner,
                            oracle,
                            hotspots,
                        );
                    }
                    Err(e) => println!("no simulated hotspots: {e}"),
                }
            }
            if node.params.modules.storage.is_some()
                && let (Ok(owner), Ok(payer)) = (home.load_key("faucet"), home.load_key("alice"))
            {
                println!(
                    "Starting a storage provider and a client storing 3 shards (docs/STORAGE.md)."
                );
                let device = depin_core::Keypair::generate();
                depin_agent::storage::devnet::spawn(
                    url.to_string(),
                    home.root().to_path_buf(),
                    owner,
                    payer,
                    device,
                );
            }
            if node.params.modules.governance.is_some() && node.params.economics.is_some() {
                println!(
                    "Governance: staker1 and staker2 lock stake, staker1 proposes a treasury share 5 points higher, both vote yes; it applies at the next epoch (docs/GOVERNANCE.md)."
                );
                crate::gov_devnet::spawn(url.to_string(), home.clone());
            }
            println!();
            println!("Try, in another terminal:");
            println!("  {depin} --home {home_arg} query status");
            println!("  {depin} --home {home_arg} keys list");
            println!("  {depin} --home {home_arg} tx transfer --from alice --to bob --amount 12.5");
            println!("  {depin} --home {home_arg} query account bob");
            println!("  {depin} --home {home_arg} query epoch           # last epoch's rewards");
            println!("  {depin} --home {home_arg} device list --owner faucet");
            if node.params.modules.demand.is_some() {
                println!(
                    "  {depin} --home {home_arg} oracle price show      # the ledger's token price"
                );
                println!("  {depin} --home {home_arg} credits buy --usd 10 --key alice");
                println!("  {depin} --home {home_arg} query credits alice");
            }
            if node.params.modules.governance.is_some() {
                println!(
                    "  {depin} --home {home_arg} gov list              # proposals and tallies"
                );
            }
            println!("  curl -N {url}/v1/stream      # live blocks");
            println!();
            println!(
                "Ctrl-C stops the node; run `depin devnet` again to continue where it stopped."
            );
        }
    };
    if crate::testnet::is_bft(home)? {
        // A BFT validator runs on commonware's own tokio runtime; `devnet` starts the others.
        drop(runtime);
        let _others = match devnet {
            Some(_) => Some(crate::testnet::start_others(home)?),
            None => None,
        };
        let peers = depin_bft::run::load_peers(home)?;
        depin_bft::run::run_validator(home, &peers, config, ready)?;
    } else {
        runtime.block_on(depin_node::run(home, config, ready))?;
    }
    println!("node stopped cleanly");
    Ok(())
}

/// How the user can run this binary again: `depin` if that is on the PATH, else its full path
/// (after `cargo run`, `depin` usually is not).
fn command_name() -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("depin").is_file()));
    if on_path {
        return "depin".into();
    }
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "depin".into())
}
