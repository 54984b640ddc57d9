//! `depin agent ...`: simulated device agents (hotspots, an IoT fleet, a price oracle) run
//! against a node with keys from the home directory.

use anyhow::Result;
use clap::Subcommand;
use depin_agent::client::Client;
use depin_node::Home;

/// Subcommands of `depin agent`.
#[derive(Subcommand)]
pub enum AgentCmd {
    /// Simulated hotspots: onboarding, a radio model, beacons and witnesses (optionally cheaters).
    Hotspot {
        /// Key in --home that owns the hotspots and pays their fees.
        #[arg(long, default_value = "faucet")]
        owner: String,
        #[command(flatten)]
        args: depin_agent::hotspot::HotspotArgs,
    },
    /// A simulated IoT fleet: sensors send packets through the nearest hotspots, and the
    /// operator buys credits and pays the hotspots with co-signed usage receipts.
    Fleet {
        /// Key in --home that buys the credits (burning its tokens) and submits the receipts.
        #[arg(long, default_value = "faucet")]
        payer: String,
        #[command(flatten)]
        args: depin_agent::fleet::FleetArgs,
    },
    /// Compute providers: render the frames of jobs whose scene they know, commit, reveal and
    /// serve them (optionally cheaters: --behaviour).
    Compute {
        /// Key in --home that funds the providers' owners.
        #[arg(long, default_value = "faucet")]
        funder: String,
        #[command(flatten)]
        args: depin_agent::gpu::ComputeArgs,
    },
    /// Simulated dashcams driving a street grid and uploading signed frame bundles (optionally
    /// cheaters); with --local, a measurement on an in-process ledger of what each kind earns.
    Dashcam {
        /// Key in --home that owns the dashcams and pays their fees.
        #[arg(long, default_value = "faucet")]
        owner: String,
        #[command(flatten)]
        args: depin_agent::dashcam::DashcamArgs,
    },
    /// A storage provider: keeps its shards under --home, proves them in each proving window,
    /// declares faults and recoveries. With --measure: honest and cheating providers on an
    /// in-process chain, and what each earns.
    Storage {
        /// Provider device key in --home (`depin storage register` creates it).
        #[arg(long, default_value = "provider")]
        device: String,
        #[command(flatten)]
        args: depin_agent::storage::ProviderArgs,
        /// Measure honest and cheating providers instead (no node needed).
        #[arg(long)]
        measure: bool,
        #[command(flatten)]
        measure_args: depin_agent::storage::MeasureArgs,
    },
    /// Runs one coverage attack (issue 12) beside honest hotspots it simulates, and measures
    /// what the attackers took, what it cost them and what the honest hotspots kept.
    Attack {
        /// Key in --home that owns every simulated hotspot and pays their fees and bonds.
        #[arg(long, default_value = "faucet")]
        owner: String,
        #[command(flatten)]
        args: depin_agent::attack::AttackArgs,
    },
    /// A price oracle: submits a token/USD price (a seeded random walk) every few blocks.
    Oracle {
        /// Oracle key in --home (`depin init` creates "oracle").
        #[arg(long, default_value = "oracle")]
        key: String,
        #[command(flatten)]
        args: depin_agent::oracle_feed::FeedArgs,
    },
}

/// Runs the agent `cmd` against the node of `client` until it stops.
pub fn run(home: &Home, client: &Client, cmd: &AgentCmd, json_out: bool) -> Result<()> {
    match cmd {
        AgentCmd::Hotspot { owner, args } => {
            let key = home.load_key(owner)?;
            depin_agent::hotspot::run(args, client.base(), &key, json_out)
        }
        AgentCmd::Fleet { payer, args } => {
            let key = home.load_key(payer)?;
            depin_agent::fleet::run(args, client.base(), &key, json_out)
        }
        AgentCmd::Compute { funder, args } => {
            let key = home.load_key(funder)?;
            depin_agent::gpu::run(args, client.base(), &key, home.root())
        }
        AgentCmd::Dashcam { owner, args } => {
            if args.local {
                // No node and no key needed: the run has its own ledger.
                return depin_agent::dashcam::run(
                    args,
                    client.base(),
                    &depin_core::Keypair::from_seed([0; 32]),
                    json_out,
                );
            }
            let key = home.load_key(owner)?;
            depin_agent::dashcam::run(args, client.base(), &key, json_out)
        }
        AgentCmd::Storage {
            device,
            args,
            measure,
            measure_args,
        } => {
            if *measure {
                let rows = depin_agent::storage::measure(measure_args)?;
                if json_out {
                    println!("{}", serde_json::to_string(&rows)?);
                } else {
                    print!("{}", depin_agent::storage::table(&rows));
                }
                return Ok(());
            }
            let key = home.load_key(device)?;
            depin_agent::storage::provider::run(args, client.base(), home.root(), &key, json_out)
        }
        AgentCmd::Attack { owner, args } => {
            let key = home.load_key(owner)?;
            let oracles = args
                .oracle_keys
                .iter()
                .map(|name| home.load_key(name))
                .collect::<Result<Vec<_>, _>>()?;
            depin_agent::attack::run(args, client.base(), &key, &oracles, json_out)
        }
        AgentCmd::Oracle { key, args } => {
            let key = home.load_key(key)?;
            depin_agent::oracle_feed::run(args, client.base(), &key, json_out)
        }
    }
}
