//! `depin init`: a new network in the home directory (genesis file, validator key, funded dev
//! keys).

use anyhow::{Context, Result, bail};
use clap::Parser;
use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::actions::Location;
use depin_core::{Genesis, Keypair};
use depin_node::Home;
use serde_json::{Value, json};

use depin_agent::hotspot::parse_lat_lon;

/// Options of `depin init`: the new network's genesis parameters.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Name of the network; every transaction signs it.
    #[arg(long, default_value = "depin-devnet")]
    chain_id: String,
    /// Ticker of the native token.
    #[arg(long, default_value = "DPN")]
    symbol: String,
    /// Decimals of the token: base units per whole token are 10^decimals.
    #[arg(long, default_value_t = 6)]
    decimals: u8,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    block_interval_ms: u64,
    /// Blocks per epoch (rewards are paid at each epoch's last block).
    #[arg(long, default_value_t = 60)]
    epoch_length_blocks: u64,
    /// Whole tokens minted per epoch before the first halving.
    #[arg(long, default_value = "10000")]
    emission_per_epoch: String,
    /// Epochs between emission halvings (0: none).
    #[arg(long, default_value_t = 1440)]
    halving_interval_epochs: u64,
    /// Treasury's share of each epoch's emission, basis points (at most 9400: the validators
    /// take 600).
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
    /// Add the compute module (GPU/CPU jobs paid in credits; needs the demand module).
    #[arg(long)]
    pub compute: bool,
    /// Add the street-level mapping module (a region around the centre); dashcams come from
    /// `depin agent dashcam`.
    #[arg(long)]
    pub mapping: bool,
    /// Add the storage module (needs demand; its proving windows are --beacon-interval-blocks).
    #[arg(long)]
    pub storage: bool,
    /// Leave the emergency key out: the denylists and the oracle set then change only by
    /// proposal and vote (`depin gov propose`). By default a devnet names one (the `emergency`
    /// key), shown as such by `depin gov params` and /v1/governance/params.
    #[arg(long)]
    no_emergency_key: bool,
    /// Overwrite an existing network in --home (its data is deleted).
    #[arg(long)]
    force: bool,
    /// Validators of a BFT network (commonware simplex): 1 is a solo network; N > 1 writes N
    /// validator keys into the genesis, this home as validator 0 and a home per other
    /// validator under <home>/validators/ (docs/GUIDE.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub validators: u16,
    /// First p2p port of a BFT network on 127.0.0.1 (validator i listens on this + i).
    #[arg(long, default_value_t = crate::testnet::DEFAULT_P2P_PORT)]
    pub p2p_port: u16,
}

/// The validators' share of each epoch's emission in a new genesis, basis points.
pub const VALIDATOR_REWARD_BPS: u32 = 600;

impl InitArgs {
    /// The `init` defaults, as declared on the flags above.
    pub fn defaults() -> InitArgs {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: InitArgs,
        }
        Defaults::parse_from(["init"]).args
    }
}

/// Tokens every device locks while active on a new network (returned when it retires, burned if
/// it is removed for fraud): about 50 epochs of what one of a hundred hotspots earns from the
/// default emission, so a ring forfeited within that loses money (docs/SECURITY.md).
const DEVICE_BOND: &str = "5000";

/// Dev accounts every new network starts with, and their whole-token balances.
const DEV_ACCOUNTS: [(&str, &str); 5] = [
    ("faucet", "1000000000"),
    ("alice", "1000000"),
    ("bob", "1000000"),
    // The stakeholders of `depin devnet`'s scripted proposal (keys of their own, so the script
    // never races the guide's commands for alice's or bob's nonce).
    ("staker1", "1000000"),
    ("staker2", "1000000"),
];

/// Runs `depin init`: writes the genesis and the keys to `home` and prints them.
pub fn run(home: &Home, args: &InitArgs, json_out: bool) -> Result<()> {
    create(home, args, json_out, true)
}

/// `depin init` as `depin devnet` runs it: the network is started right after, so no "start it
/// with" hint.
pub fn run_for_devnet(home: &Home, args: &InitArgs) -> Result<()> {
    create(home, args, false, false)
}

fn create(home: &Home, args: &InitArgs, json_out: bool, start_hint: bool) -> Result<()> {
    if home.is_initialized() {
        if !args.force {
            bail!(depin_node::HomeError::AlreadyInitialized(
                home.root().to_path_buf()
            ));
        }
        // A BFT network's other homes, engine journal and peer list go too.
        let _ = std::fs::remove_file(home.root().join(depin_bft::run::PEERS_FILE));
        for sub in ["data", "keys", "validators", "consensus"] {
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
    keys.push(("treasury".to_string(), treasury.address()));
    // The devnet's emergency key (issue 18): the one key that may change the denylists and the
    // oracle set without a proposal. It signs, so it needs an account for its nonce and fees.
    let emergency = (!args.no_emergency_key).then(Keypair::generate);
    if let Some(e) = &emergency {
        keys.push(("emergency".to_string(), e.address()));
        allocations.push(Allocation {
            address: e.address(),
            amount: "100".into(),
        });
    }
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
        // Three oracles, two fresh prices needed (issue 12): one key alone cannot set the price.
        let [second, third] = depin_agent::devnet::extra_oracles(&oracle);
        keys.push(("oracle-2".to_string(), second.address()));
        keys.push(("oracle-3".to_string(), third.address()));
        // The oracles pay their price transactions' fees.
        for o in [&oracle, &second, &third] {
            allocations.push(Allocation {
                address: o.address(),
                amount: "100".into(),
            });
        }
        // The bootstrap share decays over about 30 days of epochs.
        let epoch_ms = args.block_interval_ms * args.epoch_length_blocks;
        let decay_epochs = (30 * 86_400_000 / epoch_ms.max(1)).max(1);
        let [second, third] = depin_agent::devnet::extra_oracles(&oracle);
        depin_core::services::demand::params::preset(
            vec![oracle.address(), second.address(), third.address()],
            decay_epochs,
        )
    });
    let others: Vec<Keypair> = (1..args.validators).map(|_| Keypair::generate()).collect();
    let mut genesis = Genesis {
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
            validators: Vec::new(),
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
        fees: Some(Default::default()),
        modules: depin_core::modules::ModulesGenesis {
            storage: (args.storage && with_demand)
                .then(|| depin_core::modules::storage::params::preset(args.beacon_interval_blocks)),
            devices: Some(depin_core::services::devices::DevicesGenesis {
                governor: None,
                denylist: Vec::new(),
                // A cost to every identity (issue 12): locked while the device is active.
                bond: Some(DEVICE_BOND.into()),
            }),
            coverage,
            demand,
            // Staking and proposals (issue 18), with the devnet's emergency key unless left out.
            governance: Some(depin_core::services::governance::GovernanceGenesis {
                emergency_key: emergency.as_ref().map(Keypair::address),
                // 6% of the emission to the validators for the turns they produce (Helium's
                // consensus group got 6%; docs/DECISIONS.md). The election stays off
                // (`max_validators = 0`) so the devnet's set changes by the emergency key.
                validator_reward_bps: VALIDATOR_REWARD_BPS,
                ..depin_core::services::governance::GovernanceGenesis::devnet()
            }),
            compute: (args.compute && with_demand)
                .then(depin_core::modules::compute::ComputeGenesis::default),
            mapping: args.mapping.then(|| {
                let mut m = depin_core::modules::mapping::preset::single_region(
                    args.center
                        .unwrap_or(depin_core::modules::coverage::preset::BERLIN),
                );
                if with_demand {
                    m.onboard_fee = "0".into();
                }
                m
            }),
        },
    };
    if !others.is_empty() {
        genesis.consensus.validators = std::iter::once(&validator)
            .chain(&others)
            .map(Keypair::address)
            .collect();
    }
    genesis
        .validate()
        .context("the init options make an invalid genesis")?;
    home.write_genesis(&genesis)?;
    home.save_key("validator", &validator)?;
    home.save_key("treasury", &treasury)?;
    if let Some(e) = &emergency {
        home.save_key("emergency", e)?;
    }
    if genesis.modules.demand.is_some() {
        home.save_key("oracle", &oracle)?;
        let [second, third] = depin_agent::devnet::extra_oracles(&oracle);
        home.save_key("oracle-2", &second)?;
        home.save_key("oracle-3", &third)?;
    }
    for (name, key, _) in &dev {
        home.save_key(name, key)?;
    }
    if !others.is_empty() {
        crate::testnet::write_homes(home, &genesis, &validator, &others, args.p2p_port)?;
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
        if !others.is_empty() {
            crate::testnet::print_homes(home, &genesis);
        } else if start_hint {
            println!("Start it with: depin node --home {}", home.root().display());
        }
    }
    Ok(())
}
