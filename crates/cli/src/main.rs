//! `depin`: the command line for running a depin network and talking to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::actions::Location;
use depin_core::{Action, Address, Amount, Genesis, Hash, Keypair, Transaction};
use depin_node::{Home, MempoolLimits, RunConfig};
use serde_json::{Value, json};

use depin_agent::client::Client;
use depin_agent::hotspot::parse_lat_lon;

mod credits;
mod device;
mod oracle;

/// Default API port of a local node.
const DEFAULT_API: &str = "127.0.0.1:8645";

#[derive(Parser)]
#[command(
    name = "depin",
    version,
    about = "Run and use a depin network: a ledger that pays hardware for proven service."
)]
struct Cli {
    /// Node home directory (genesis, keys, data).
    #[arg(long, global = true, env = "DEPIN_HOME")]
    home: Option<PathBuf>,
    /// URL of the node's API [default: the one a node in --home wrote, else http://127.0.0.1:8645].
    #[arg(long, global = true, env = "DEPIN_NODE")]
    node: Option<String>,
    /// Print JSON for scripts instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new network in --home: genesis file, validator key and funded dev keys.
    Init(InitArgs),
    /// Run the node of the network in --home until Ctrl-C.
    Node(NodeArgs),
    /// Create a local network if --home has none, then run it with simulated hotspots: the
    /// quickest way to try depin.
    Devnet(DevnetArgs),
    /// Manage signing keys in --home.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(TxCmd),
    /// Read the chain.
    #[command(subcommand)]
    Query(QueryCmd),
    /// Re-execute every stored block from genesis and check the result (node must be stopped).
    Replay,
    /// Onboard and manage devices (hotspots) and list them.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Buy credits with tokens and delegate them to payers (demand module).
    #[command(subcommand)]
    Credits(credits::CreditsCmd),
    /// Submit and show the token's USD price, and change the oracle set (demand module).
    #[command(subcommand)]
    Oracle(oracle::OracleCmd),
    /// Run simulated device agents against a node.
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Run an economic simulation of a network (scenario TOML in, CSV/JSON/SVG/HTML out).
    Sim(depin_sim::cli::SimArgs),
    /// Measure performance on this machine.
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(clap::Args)]
struct InitArgs {
    #[arg(long, default_value = "depin-devnet")]
    chain_id: String,
    #[arg(long, default_value = "DPN")]
    symbol: String,
    #[arg(long, default_value_t = 6)]
    decimals: u8,
    #[arg(long, default_value_t = 1000)]
    block_interval_ms: u64,
    #[arg(long, default_value_t = 60)]
    epoch_length_blocks: u64,
    /// Whole tokens minted per epoch before the first halving.
    #[arg(long, default_value = "10000")]
    emission_per_epoch: String,
    /// Epochs between emission halvings (0: none).
    #[arg(long, default_value_t = 1440)]
    halving_interval_epochs: u64,
    /// Treasury's share of each epoch's emission, basis points.
    #[arg(long, default_value_t = 1000)]
    treasury_bps: u32,
    /// Blocks per proof-of-coverage beacon window (must divide the epoch length).
    #[arg(long, default_value_t = 10)]
    beacon_interval_blocks: u64,
    /// Centre of the coverage region, "LAT,LON" in degrees [default: Berlin].
    #[arg(long, value_parser = parse_lat_lon)]
    center: Option<Location>,
    /// Leave the wireless coverage module out of the genesis.
    #[arg(long)]
    no_coverage: bool,
    /// Leave out the demand module (oracle, credits, paid data); fees are then paid in tokens.
    #[arg(long)]
    no_demand: bool,
    /// Overwrite an existing network in --home (its data is deleted).
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct NodeArgs {
    /// Address for the HTTP API (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_API)]
    api: SocketAddr,
}

#[derive(clap::Args)]
struct DevnetArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Simulated hotspots started around the network's city (0: none).
    #[arg(long, default_value_t = 300)]
    hotspots: usize,
}

#[derive(Subcommand)]
enum AgentCmd {
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
    /// A price oracle: submits a token/USD price (a seeded random walk) every few blocks.
    Oracle {
        /// Oracle key in --home (`depin init` creates "oracle").
        #[arg(long, default_value = "oracle")]
        key: String,
        #[command(flatten)]
        args: depin_agent::oracle_feed::FeedArgs,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Generate a key and store it as <home>/keys/NAME.key (mode 0600).
    New { name: String },
    /// List keys with their addresses.
    List,
    /// Show a key's address (the secret is never printed).
    Show { name: String },
}

#[derive(Subcommand)]
enum TxCmd {
    /// Send tokens.
    Transfer {
        /// Name of the sending key in --home.
        #[arg(long)]
        from: String,
        /// Receiving address, or the name of a key in --home.
        #[arg(long)]
        to: String,
        /// Whole tokens, e.g. 12.5.
        #[arg(long)]
        amount: String,
        /// Nonce to use [default: the account's next nonce].
        #[arg(long)]
        nonce: Option<u64>,
        /// Return once the node accepts it, without waiting for a block.
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Subcommand)]
enum QueryCmd {
    /// Chain status.
    Status,
    /// An account's balance and nonce (address or key name).
    Account { who: String },
    /// A block with its receipts [default: the latest].
    Block { height: Option<u64> },
    /// A transaction's status and receipt.
    Tx { hash: String },
    /// Why a device earned what it earned in an epoch: units, scale, multipliers, share, amount
    /// and every rejected report with its reason.
    Rewards {
        #[arg(long)]
        epoch: u64,
        /// Device address or key name.
        #[arg(long)]
        device: String,
    },
    /// An epoch's emission, pools, report outcomes and top earners [default: the last closed].
    Epoch { epoch: Option<u64> },
    /// An account's credits, what it can spend them on, and the delegations it made.
    Credits {
        /// Address or key name.
        who: String,
    },
    /// A device's paid traffic and credits burned in the epoch in progress.
    Usage {
        /// Device address or key name.
        device: String,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Signed transfers end to end: mempool, block building, execution, durable commit.
    Transfers {
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 4096)]
        senders: usize,
        /// Transactions signed in advance.
        #[arg(long, default_value_t = 3_000_000)]
        txs: usize,
        #[arg(long, default_value_t = 100)]
        block_interval_ms: u64,
        #[arg(long, default_value_t = 50_000)]
        max_block_txs: u32,
    },
    /// Proof-of-coverage reports verified, executed and committed per second.
    Coverage {
        #[arg(long, default_value_t = 4096)]
        hotspots: usize,
        #[arg(long, default_value_t = 8)]
        windows: u64,
        #[arg(long, default_value_t = 10)]
        witnesses_per_beacon: usize,
    },
    /// Co-signed usage receipts verified, executed and committed per second.
    Usage {
        #[arg(long, default_value_t = 4096)]
        hotspots: usize,
        #[arg(long, default_value_t = 256)]
        payers: usize,
        /// Payers each hotspot settles a receipt with every period.
        #[arg(long, default_value_t = 4)]
        payers_per_hotspot: usize,
        #[arg(long, default_value_t = 8)]
        periods: u64,
    },
    /// Seconds to score and pay one epoch of coverage rewards.
    Epoch {
        #[arg(long, default_value_t = 1_000_000)]
        devices: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The economic simulator: agent-steps per second and peak memory.
    Sim(depin_sim::cli::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn home_of(cli: &Cli) -> Home {
    let root = cli.home.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".depin")
    });
    Home::new(root)
}

fn client_of(cli: &Cli, home: &Home) -> Client {
    let url = cli
        .node
        .clone()
        .or_else(|| home.api_url())
        .unwrap_or_else(|| format!("http://{DEFAULT_API}"));
    Client::new(&url)
}

fn run(cli: Cli) -> Result<()> {
    let home = home_of(&cli);
    match &cli.command {
        Command::Init(args) => init(&home, args, cli.json),
        Command::Node(args) => serve(&home, args, None),
        Command::Devnet(args) => {
            if !home.is_initialized() {
                init(&home, &InitArgs::defaults(), false)?;
            }
            serve(&home, &args.node, Some(args.hotspots))
        }
        Command::Device(cmd) => device::run(&home, &client_of(&cli, &home), cmd, cli.json),
        Command::Credits(cmd) => credits::run(&home, &client_of(&cli, &home), cmd, cli.json),
        Command::Oracle(cmd) => oracle::run(&home, &client_of(&cli, &home), cmd, cli.json),
        Command::Agent(AgentCmd::Hotspot { owner, args }) => {
            let key = home.load_key(owner)?;
            let client = client_of(&cli, &home);
            depin_agent::hotspot::run(args, client.base(), &key, cli.json)
        }
        Command::Agent(AgentCmd::Fleet { payer, args }) => {
            let key = home.load_key(payer)?;
            let client = client_of(&cli, &home);
            depin_agent::fleet::run(args, client.base(), &key, cli.json)
        }
        Command::Agent(AgentCmd::Oracle { key, args }) => {
            let key = home.load_key(key)?;
            let client = client_of(&cli, &home);
            depin_agent::oracle_feed::run(args, client.base(), &key, cli.json)
        }
        Command::Keys(cmd) => keys(&home, cmd, cli.json),
        Command::Tx(cmd) => tx(&home, &client_of(&cli, &home), cmd, cli.json),
        Command::Query(cmd) => query(&home, &client_of(&cli, &home), cmd, cli.json),
        Command::Replay => replay(&home, cli.json),
        Command::Sim(args) => depin_sim::cli::run(args, cli.json),
        Command::Bench(BenchCmd::Sim(args)) => depin_sim::cli::bench(args, cli.json),
        Command::Bench(cmd) => bench(cmd, cli.json),
    }
}

impl InitArgs {
    /// The `init` defaults, as declared on the flags above.
    fn defaults() -> InitArgs {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: InitArgs,
        }
        Defaults::parse_from(["init"]).args
    }
}

/// Dev accounts every new network starts with, and their whole-token balances.
const DEV_ACCOUNTS: [(&str, &str); 3] = [
    ("faucet", "1000000000"),
    ("alice", "1000000"),
    ("bob", "1000000"),
];

fn init(home: &Home, args: &InitArgs, json_out: bool) -> Result<()> {
    if home.is_initialized() {
        if !args.force {
            bail!(depin_node::HomeError::AlreadyInitialized(
                home.root().to_path_buf()
            ));
        }
        for sub in ["data", "keys"] {
            let p = home.root().join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    let validator = Keypair::generate();
    let mut allocations = Vec::new();
    let mut keys = vec![("validator".to_string(), validator.address())];
    let dev: Vec<(&str, Keypair, &str)> = DEV_ACCOUNTS
        .iter()
        .map(|(name, amount)| (*name, Keypair::generate(), *amount))
        .collect();
    for (name, key, amount) in &dev {
        allocations.push(Allocation {
            address: key.address(),
            amount: amount.to_string(),
        });
        keys.push((name.to_string(), key.address()));
    }
    let treasury = Keypair::generate();
    let governor = Keypair::generate();
    keys.push(("treasury".to_string(), treasury.address()));
    keys.push(("governor".to_string(), governor.address()));
    // The governor signs denylist changes, so it needs an account for its nonce.
    allocations.push(Allocation {
        address: governor.address(),
        amount: "100".into(),
    });
    let oracle = Keypair::generate();
    let with_demand = !args.no_coverage && !args.no_demand;
    let coverage = (!args.no_coverage).then(|| {
        let mut c = depin_core::modules::coverage::preset::single_region(
            args.center
                .unwrap_or(depin_core::modules::coverage::preset::BERLIN),
            args.beacon_interval_blocks,
        );
        if with_demand {
            // Fees are paid in credits (USD-stable) when the demand module is on.
            c.onboard_fee = "0".into();
            c.location_fee = "0".into();
        }
        c
    });
    let demand = with_demand.then(|| {
        keys.push(("oracle".to_string(), oracle.address()));
        // The bootstrap share decays over about 30 days of epochs.
        let epoch_ms = args.block_interval_ms * args.epoch_length_blocks;
        let decay_epochs = (30 * 86_400_000 / epoch_ms.max(1)).max(1);
        depin_core::services::demand::params::preset(
            vec![oracle.address()],
            Some(governor.address()),
            decay_epochs,
        )
    });
    let genesis = Genesis {
        chain_id: args.chain_id.clone(),
        genesis_time_ms: depin_node::node::now_ms(),
        token: TokenParams {
            symbol: args.symbol.clone(),
            decimals: args.decimals,
        },
        consensus: ConsensusParams {
            block_interval_ms: args.block_interval_ms,
            epoch_length_blocks: args.epoch_length_blocks,
            max_block_txs: 20_000,
            validator: validator.address(),
        },
        allocations,
        economics: Some(EconomicsGenesis {
            emission_per_epoch: args.emission_per_epoch.clone(),
            halving_interval_epochs: args.halving_interval_epochs,
            tail_per_epoch: "0".into(),
            treasury: treasury.address(),
            treasury_bps: args.treasury_bps,
            pool_weights: Default::default(),
        }),
        modules: depin_core::modules::ModulesGenesis {
            devices: Some(depin_core::services::devices::DevicesGenesis {
                governor: Some(governor.address()),
                denylist: Vec::new(),
            }),
            coverage,
            demand,
        },
    };
    genesis
        .validate()
        .context("the init options make an invalid genesis")?;
    home.write_genesis(&genesis)?;
    home.save_key("validator", &validator)?;
    home.save_key("treasury", &treasury)?;
    home.save_key("governor", &governor)?;
    if genesis.modules.demand.is_some() {
        home.save_key("oracle", &oracle)?;
    }
    for (name, key, _) in &dev {
        home.save_key(name, key)?;
    }
    if json_out {
        let keys: Vec<Value> = keys
            .iter()
            .map(|(n, a)| json!({"name": n, "address": a}))
            .collect();
        println!(
            "{}",
            json!({"home": home.root(), "chain_id": genesis.chain_id, "genesis_hash": genesis.hash(), "keys": keys})
        );
    } else {
        println!(
            "Created network '{}' in {}",
            genesis.chain_id,
            home.root().display()
        );
        println!("  genesis  {}", home.genesis_path().display());
        for (name, address) in &keys {
            println!("  key {name:<9} {address}");
        }
        println!("Start it with: depin node --home {}", home.root().display());
    }
    Ok(())
}

/// Runs the node; `devnet` is the number of simulated hotspots to start with it (`None`: a
/// plain node).
fn serve(home: &Home, args: &NodeArgs, devnet: Option<usize>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let config = RunConfig {
        api_addr: args.api,
        mempool: MempoolLimits::default(),
    };
    let home_arg = home.root().display().to_string();
    let depin = command_name();
    runtime.block_on(depin_node::run(home, config, |url, node| {
        let tip = node.tip();
        println!(
            "depin node '{}' at height {} (store: {})",
            node.params.chain_id,
            tip.height,
            home.db_path().display()
        );
        println!("API listening on {url}  (explorer page at {url}/, metrics at {url}/metrics)");
        if let Some(hotspots) = devnet {
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
            println!();
            println!("Try, in another terminal:");
            println!("  {depin} --home {home_arg} query status");
            println!("  {depin} --home {home_arg} keys list");
            println!("  {depin} --home {home_arg} tx transfer --from alice --to bob --amount 12.5");
            println!("  {depin} --home {home_arg} query account bob");
            println!("  {depin} --home {home_arg} query epoch           # last epoch's rewards");
            println!("  {depin} --home {home_arg} device list --owner faucet");
            if node.params.modules.demand.is_some() {
                println!("  {depin} --home {home_arg} oracle price show      # the ledger's token price");
                println!("  {depin} --home {home_arg} credits buy --usd 10 --key alice");
                println!("  {depin} --home {home_arg} query credits alice");
            }
            println!("  curl -N {url}/v1/stream      # live blocks");
            println!();
            println!(
                "Ctrl-C stops the node; run `depin devnet` again to continue where it stopped."
            );
        }
    }))?;
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

fn keys(home: &Home, cmd: &KeysCmd, json_out: bool) -> Result<()> {
    let print = |name: &str, address: &Address| {
        if json_out {
            println!("{}", json!({"name": name, "address": address}));
        } else {
            println!("{name:<12} {address}");
        }
    };
    match cmd {
        KeysCmd::New { name } => {
            let key = Keypair::generate();
            home.save_key(name, &key)?;
            print(name, &key.address());
        }
        KeysCmd::Show { name } => print(name, &home.load_key(name)?.address()),
        KeysCmd::List => {
            let keys = home.list_keys()?;
            if json_out {
                let list: Vec<Value> = keys
                    .iter()
                    .map(|(n, a)| json!({"name": n, "address": a}))
                    .collect();
                println!("{}", Value::Array(list));
            } else if keys.is_empty() {
                println!(
                    "no keys in {}; create one with `depin keys new NAME`",
                    home.keys_dir().display()
                );
            } else {
                for (n, a) in &keys {
                    print(n, a);
                }
            }
        }
    }
    Ok(())
}

/// An address, or the name of a key in the home directory.
pub(crate) fn resolve(home: &Home, who: &str) -> Result<Address> {
    if who.starts_with(depin_core::crypto::ADDRESS_PREFIX) && who.len() > 20 {
        return Ok(who.parse()?);
    }
    Ok(home
        .load_key(who)
        .with_context(|| format!("'{who}' is neither an address nor a key name"))?
        .address())
}

pub(crate) struct ChainInfo {
    pub chain_id: String,
    pub symbol: String,
    pub decimals: u8,
}

pub(crate) fn chain_info(client: &Client) -> Result<ChainInfo> {
    let s = client.get("/v1/status")?;
    Ok(ChainInfo {
        chain_id: s["chain_id"]
            .as_str()
            .context("status has no chain_id")?
            .to_string(),
        symbol: s["token"]["symbol"].as_str().unwrap_or("?").to_string(),
        decimals: s["token"]["decimals"].as_u64().unwrap_or(0) as u8,
    })
}

fn amount_of(v: &Value) -> Amount {
    Amount(v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
}

fn tx(home: &Home, client: &Client, cmd: &TxCmd, json_out: bool) -> Result<()> {
    let TxCmd::Transfer {
        from,
        to,
        amount,
        nonce,
        no_wait,
    } = cmd;
    let key = home.load_key(from)?;
    let to_label = to;
    let to = resolve(home, to)?;
    let info = chain_info(client)?;
    let amount = Amount::parse(amount, info.decimals)?;
    let sent = send_action(
        client,
        &info,
        &key,
        from,
        Action::Transfer { to, amount },
        *nonce,
        *no_wait,
        json_out,
    )?;
    if let Some(status) = sent
        && !json_out
    {
        println!(
            "sent {} {} from {from} to {to_label} in block {} (tx {})",
            amount.display(info.decimals),
            info.symbol,
            status["height"],
            status["hash"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// Signs `action` with `key` (named `key_name` in messages), submits it and, unless `no_wait`,
/// waits for its block. Returns the committed status of a successful transaction (`None` when
/// not waiting); a refusal in the block is an error with the reason's code and sentence. With
/// `json_out` the status is printed here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_action(
    client: &Client,
    info: &ChainInfo,
    key: &Keypair,
    key_name: &str,
    action: Action,
    nonce: Option<u64>,
    no_wait: bool,
    json_out: bool,
) -> Result<Option<Value>> {
    let nonce = match nonce {
        Some(n) => n,
        None => match client.get_opt(&format!("/v1/accounts/{}", key.address()))? {
            Some(a) => a["nonce"].as_u64().unwrap_or(0),
            None => bail!(
                "account '{key_name}' ({}) has never held tokens on {}; fund it first",
                key.address(),
                info.chain_id
            ),
        },
    };
    let tx = Transaction::sign(&info.chain_id, key, nonce, action);
    let accepted = client.post_json("/v1/tx", &serde_json::to_value(&tx)?)?;
    let hash: Hash = accepted["hash"]
        .as_str()
        .context("node did not return a hash")?
        .parse()?;
    if no_wait {
        if json_out {
            println!("{}", json!({"hash": hash, "status": "pending"}));
        } else {
            println!("submitted {hash} (nonce {nonce}); check it with `depin query tx {hash}`");
        }
        return Ok(None);
    }
    let status = wait_for_commit(client, &hash, Duration::from_secs(60))?;
    if json_out {
        println!("{status}");
    }
    let receipt = &status["receipt"];
    if receipt["success"].as_bool() == Some(true) {
        Ok(Some(status))
    } else {
        bail!(
            "transaction {hash} was included in block {} but refused ({}): {}",
            status["height"],
            receipt["rejection"]["code"].as_str().unwrap_or("?"),
            receipt["rejection"]["message"].as_str().unwrap_or("?")
        )
    }
}

fn wait_for_commit(client: &Client, hash: &Hash, timeout: Duration) -> Result<Value> {
    let start = Instant::now();
    loop {
        if let Some(s) = client.get_opt(&format!("/v1/tx/{hash}"))?
            && s["status"] == "committed"
        {
            return Ok(s);
        }
        if start.elapsed() > timeout {
            bail!(
                "transaction {hash} is not in a block after {timeout:?}; check `depin query tx {hash}` later"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn query(home: &Home, client: &Client, cmd: &QueryCmd, json_out: bool) -> Result<()> {
    match cmd {
        QueryCmd::Status => {
            let s = client.get("/v1/status")?;
            if json_out {
                println!("{s}");
            } else {
                let decimals = s["token"]["decimals"].as_u64().unwrap_or(0) as u8;
                println!("chain         {}", s["chain_id"].as_str().unwrap_or("?"));
                println!("node          {}", client.base());
                println!("height        {}", s["height"]);
                println!(
                    "epoch         {} ({} blocks each)",
                    s["epoch"], s["epoch_length_blocks"]
                );
                println!("block hash    {}", s["block_hash"].as_str().unwrap_or("?"));
                println!("app hash      {}", s["app_hash"].as_str().unwrap_or("?"));
                println!(
                    "supply        {} {}",
                    amount_of(&s["total_supply"]).display(decimals),
                    s["token"]["symbol"].as_str().unwrap_or("?")
                );
                println!("accounts      {}", s["accounts"]);
                println!("mempool       {} txs", s["mempool"]["txs"]);
            }
        }
        QueryCmd::Account { who } => {
            let address = resolve(home, who)?;
            let info = chain_info(client)?;
            let Some(a) = client.get_opt(&format!("/v1/accounts/{address}"))? else {
                bail!(
                    "account {address} has never held tokens on {}",
                    info.chain_id
                );
            };
            if json_out {
                println!("{a}");
            } else {
                println!("address   {address}");
                println!(
                    "balance   {} {}",
                    amount_of(&a["balance"]).display(info.decimals),
                    info.symbol
                );
                println!("nonce     {}", a["nonce"]);
            }
        }
        QueryCmd::Block { height } => {
            let path = match height {
                Some(h) => format!("/v1/blocks/{h}"),
                None => "/v1/blocks/latest".to_string(),
            };
            let Some(b) = client.get_opt(&path)? else {
                bail!("no block there yet; `depin query status` shows the height");
            };
            if json_out {
                println!("{b}");
            } else {
                let h = &b["header"];
                println!(
                    "block {}  {}",
                    h["height"],
                    b["hash"].as_str().unwrap_or("?")
                );
                println!("  time      {} ms", h["time_ms"]);
                println!("  proposer  {}", h["proposer"].as_str().unwrap_or("?"));
                println!("  app hash  {}", h["app_hash"].as_str().unwrap_or("?"));
                let txs = b["txs"].as_array().cloned().unwrap_or_default();
                println!("  {} transactions", txs.len());
                for t in txs.iter().take(50) {
                    let outcome = if t["receipt"]["success"] == true {
                        "ok".to_string()
                    } else {
                        format!(
                            "refused: {}",
                            t["receipt"]["rejection"]["code"].as_str().unwrap_or("?")
                        )
                    };
                    println!("    {}  {}", t["hash"].as_str().unwrap_or("?"), outcome);
                }
            }
        }
        QueryCmd::Rewards { epoch, device } => {
            device::rewards(home, client, *epoch, device, json_out)?
        }
        QueryCmd::Epoch { epoch } => device::epoch(client, *epoch, json_out)?,
        QueryCmd::Credits { who } => credits::show(home, client, who, json_out)?,
        QueryCmd::Usage { device } => credits::usage(home, client, device, json_out)?,
        QueryCmd::Tx { hash } => {
            let hash: Hash = hash.parse()?;
            let Some(t) = client.get_opt(&format!("/v1/tx/{hash}"))? else {
                bail!(
                    "no transaction {hash} is pending or committed on {}",
                    client.base()
                );
            };
            if json_out {
                println!("{t}");
            } else {
                println!("tx       {hash}");
                println!("status   {}", t["status"].as_str().unwrap_or("?"));
                if t["status"] == "committed" {
                    println!("block    {} (index {})", t["height"], t["index"]);
                    let r = &t["receipt"];
                    if r["success"] == true {
                        println!("receipt  success");
                    } else {
                        println!(
                            "receipt  refused: {} ({})",
                            r["rejection"]["code"].as_str().unwrap_or("?"),
                            r["rejection"]["message"].as_str().unwrap_or("?")
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn replay(home: &Home, json_out: bool) -> Result<()> {
    let genesis = home.genesis()?;
    let store = depin_store::Store::open(&home.db_path()).with_context(|| {
        format!(
            "opening {} (stop the node first: the store allows one process at a time)",
            home.db_path().display()
        )
    })?;
    let report = depin_store::replay_from_genesis(&store, &genesis)?;
    if json_out {
        println!(
            "{}",
            json!({"blocks": report.blocks, "txs": report.txs, "app_hash": report.app_hash})
        );
    } else {
        println!(
            "replayed {} blocks ({} transactions) from genesis: app hash {} matches the store",
            report.blocks, report.txs, report.app_hash
        );
    }
    Ok(())
}

fn bench(cmd: &BenchCmd, json_out: bool) -> Result<()> {
    let (seconds, senders, txs, block_interval_ms, max_block_txs) = match cmd {
        BenchCmd::Transfers {
            seconds,
            senders,
            txs,
            block_interval_ms,
            max_block_txs,
        } => (seconds, senders, txs, block_interval_ms, max_block_txs),
        BenchCmd::Coverage {
            hotspots,
            windows,
            witnesses_per_beacon,
        } => {
            let cfg = depin_bench::coverage::CoverageBench {
                hotspots: *hotspots,
                windows: *windows,
                witnesses_per_beacon: *witnesses_per_beacon,
                ..Default::default()
            };
            if !json_out {
                eprintln!("{hotspots} hotspots beaconing and witnessing for {windows} windows...");
            }
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let report =
                depin_bench::coverage::run(&cfg, dir.path()).map_err(anyhow::Error::msg)?;
            if json_out {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{:.0} reports/s verified, checked and committed ({} accepted, {} rejected, {} blocks, {:.2} s timed; device-side signing {:.2} s not counted)",
                    report.reports_per_s,
                    report.reports_accepted,
                    report.reports_rejected,
                    report.blocks,
                    report.seconds,
                    report.signing_seconds
                );
            }
            return Ok(());
        }
        BenchCmd::Usage {
            hotspots,
            payers,
            payers_per_hotspot,
            periods,
        } => {
            let cfg = depin_bench::usage::UsageBench {
                hotspots: *hotspots,
                payers: *payers,
                payers_per_hotspot: *payers_per_hotspot,
                periods: *periods,
                ..Default::default()
            };
            if !json_out {
                eprintln!(
                    "{hotspots} hotspots settling receipts with {payers_per_hotspot} of {payers} payers for {periods} periods..."
                );
            }
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let report = depin_bench::usage::run(&cfg, dir.path()).map_err(anyhow::Error::msg)?;
            if json_out {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{:.0} receipts/s verified, checked and committed ({} accepted, {} rejected, {} blocks, {:.2} s timed, of which inner signatures ~{:.2} s; signing {:.2} s not counted)",
                    report.receipts_per_s,
                    report.receipts_accepted,
                    report.receipts_rejected,
                    report.blocks,
                    report.seconds,
                    report.inner_verify_seconds,
                    report.signing_seconds
                );
            }
            return Ok(());
        }
        BenchCmd::Epoch { devices, seed } => {
            let cfg = depin_bench::epoch::EpochBench {
                devices: *devices,
                seed: *seed,
            };
            if !json_out {
                eprintln!("building {devices} synthetic hotspots, then scoring one epoch...");
            }
            let report = serde_json::to_value(depin_bench::epoch::run(&cfg))?;
            if json_out {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "one epoch of {devices} hotspots scored and paid in {:.3} s (density scaling included)",
                    report["seconds"].as_f64().unwrap_or(f64::NAN)
                );
            }
            return Ok(());
        }
        BenchCmd::Sim(_) => unreachable!("the simulator bench is dispatched in run()"),
    };
    let cfg = depin_bench::transfers::TransferBench {
        seconds: *seconds,
        senders: *senders,
        txs: *txs,
        block_interval_ms: *block_interval_ms,
        max_block_txs: *max_block_txs,
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec})")
            .expect("valid template"),
    );
    let progress = |phase: &str, done: u64, total: u64| {
        bar.set_message(phase.to_string());
        bar.set_length(total);
        bar.set_position(done);
    };
    if !json_out {
        eprintln!(
            "signing {txs} transfers from {senders} accounts, then running for up to {seconds} s..."
        );
    }
    let report =
        depin_bench::transfers::run(&cfg, dir.path(), &progress).map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "transfers committed   {} in {:.1} s",
            report.txs_committed, report.seconds
        );
        println!("throughput            {:.0} tx/s", report.tx_per_s);
        println!(
            "raw sig verification  {:.0}/s on {} cores ({:.0}/s on one)",
            report.sig_verify_per_s, report.cores, report.sig_verify_per_core_s
        );
        println!(
            "blocks                {} (mean build+commit {:.1} ms)",
            report.blocks, report.mean_block_ms
        );
    }
    Ok(())
}
