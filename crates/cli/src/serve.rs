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
    #[command(flatten)]
    agents: Agents,
    /// A new network gets only the coverage, demand and governance modules (by default a devnet
    /// runs all four proof modules: coverage, storage, mapping and compute).
    #[arg(long)]
    coverage_only: bool,
    /// Validators of a new network (BFT on commonware simplex when above 1): the others run as
    /// child processes on 127.0.0.1, each with its own API.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    validators: u16,
}

/// The simulated devices `depin devnet` starts beside its node (a module's only if the network
/// has that module).
#[derive(clap::Args)]
pub struct Agents {
    /// Simulated hotspots started around the network's city (0: none).
    #[arg(long, default_value_t = 300)]
    hotspots: usize,
    /// Honest compute providers started (with a garbage provider and a requester posting a
    /// render job each epoch; 0: none). A disputed spot-check needs five owners, so four honest
    /// ones and the cheater.
    #[arg(long, default_value_t = 4)]
    compute_providers: u32,
    /// Simulated dashcams driving around the mapping region (0: none).
    #[arg(long, default_value_t = 4)]
    dashcams: usize,
    /// Storage providers, with a client storing a sample file across them and reading it back
    /// each epoch (0: none). `depin storage put` places 4 data + 2 parity shards on distinct
    /// providers, and a repair needs one more.
    #[arg(long, default_value_t = 7)]
    storage_providers: usize,
}

/// Runs `depin node`: the node until Ctrl-C.
pub fn node(home: &Home, args: &NodeArgs) -> Result<()> {
    serve(home, args, None)
}

/// Runs `depin devnet`: creates a network with the `init` defaults and every proof module if
/// `home` has none, then runs its node with simulated devices.
pub fn devnet(home: &Home, args: &DevnetArgs) -> Result<()> {
    if !home.is_initialized() {
        let mut init_args = InitArgs::defaults();
        init_args.validators = args.validators;
        let all = !args.coverage_only;
        (init_args.storage, init_args.mapping, init_args.compute) = (all, all, all);
        init::run_for_devnet(home, &init_args)?;
    }
    serve(home, &args.node, Some(&args.agents))
}

/// Runs the node; `devnet` is the simulated devices to start with it (`None`: a plain node).
fn serve(home: &Home, args: &NodeArgs, devnet: Option<&Agents>) -> Result<()> {
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
        if let Some(agents) = devnet {
            let modules = &node.params.modules;
            let plan = depin_agent::devnet::Plan {
                hotspots: if modules.coverage.is_some() {
                    agents.hotspots
                } else {
                    0
                },
                compute_providers: if modules.compute.is_some() {
                    agents.compute_providers
                } else {
                    0
                },
                dashcams: if modules.mapping.is_some() {
                    agents.dashcams
                } else {
                    0
                },
                storage_providers: if modules.storage.is_some() {
                    agents.storage_providers
                } else {
                    0
                },
                home: home.root().to_path_buf(),
            };
            match home.load_key("faucet") {
                Ok(faucet) => {
                    if plan.hotspots > 0 {
                        println!(
                            "Starting {} simulated hotspots around the network's city; a summary follows each epoch ({} blocks).",
                            plan.hotspots, node.params.epoch_length_blocks
                        );
                    }
                    let oracle = modules
                        .demand
                        .is_some()
                        .then(|| home.load_key("oracle").ok())
                        .flatten();
                    depin_agent::devnet::spawn_all(url.to_string(), faucet, oracle, plan);
                }
                Err(e) => println!("no simulated devices: {e}"),
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
