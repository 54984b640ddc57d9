//! A real node for the agent tests: a small coverage network around Berlin, started on
//! 127.0.0.1 in a background thread.

use std::sync::Arc;
use std::time::Duration;

use depin_core::genesis::{Allocation, ConsensusParams, EconomicsGenesis, TokenParams};
use depin_core::modules::coverage::preset;
use depin_core::{Address, Genesis, Keypair};
use depin_node::{Home, MempoolLimits, RunConfig};

/// Blocks per epoch of the test networks (200 ms blocks: four seconds).
pub const EPOCH_BLOCKS: u64 = 20;
/// Blocks per beacon window.
pub const BEACON_INTERVAL: u64 = 5;

/// The validator key of the test networks.
pub fn validator() -> Keypair {
    Keypair::from_seed([1; 32])
}

/// A network with 1,000 tokens of emission an epoch (10% to the treasury), a coverage region
/// around Berlin, and `allocations` (address, whole tokens).
pub fn test_genesis(chain_id: &str, allocations: &[(Address, &str)]) -> Genesis {
    Genesis {
        chain_id: chain_id.into(),
        // Now: block times may run at most MAX_BLOCK_TIME_STEP_MS ahead of their parent, so a
        // genesis in 1970 would keep block times days behind the agents' clocks.
        genesis_time_ms: depin_node::node::now_ms(),
        token: TokenParams {
            symbol: "DPN".into(),
            decimals: 6,
        },
        consensus: ConsensusParams {
            block_interval_ms: 200,
            epoch_length_blocks: EPOCH_BLOCKS,
            max_block_txs: 20_000,
            validator: validator().address(),
            validators: Vec::new(),
        },
        allocations: allocations
            .iter()
            .map(|(address, amount)| Allocation {
                address: *address,
                amount: amount.to_string(),
            })
            .collect(),
        economics: Some(EconomicsGenesis {
            emission_per_epoch: "1000".into(),
            halving_interval_epochs: 0,
            tail_per_epoch: "0".into(),
            treasury: Keypair::from_seed([3; 32]).address(),
            treasury_bps: 1000,
            pool_weights: Default::default(),
        }),
        fees: None,
        modules: depin_core::modules::ModulesGenesis {
            coverage: Some(preset::single_region(preset::BERLIN, BEACON_INTERVAL)),
            ..Default::default()
        },
    }
}

/// Writes `genesis` and the validator key into `home` and starts its node; returns its API URL
/// and its store.
pub fn start_network(home: &Home, genesis: &Genesis) -> (String, Arc<depin_store::Store>) {
    home.write_genesis(genesis).expect("genesis");
    home.save_key("validator", &validator()).expect("key");
    start_node(home)
}

/// Starts a node in `home` on a background thread; returns its API URL and its store.
pub fn start_node(home: &Home) -> (String, Arc<depin_store::Store>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let home = home.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let config = RunConfig {
            api_addr: "127.0.0.1:0".parse().expect("address"),
            mempool: MempoolLimits::default(),
            api: Default::default(),
        };
        runtime
            .block_on(depin_node::run(&home, config, |url, node| {
                tx.send((url.to_string(), node.store.clone()))
                    .expect("test waits for the url");
            }))
            .expect("node runs");
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the node starts")
}

/// Runs `fleet` (already onboarded) through the rest of this epoch, past the grace period, and
/// `epochs` whole epochs more; returns the first and last epoch counted and what each role's
/// devices earned over them (index by device, as [`earnings`] orders them).
#[allow(dead_code)] // used by the attack tests, not by every binary that includes this module
pub fn earnings_over(
    fleet: &mut depin_agent::hotspot::Fleet,
    epochs: u64,
) -> (
    u64,
    u64,
    std::collections::BTreeMap<depin_agent::hotspot::Role, Vec<u128>>,
) {
    let first = fleet.current_epoch().expect("epoch") + 1;
    let last = first + epochs;
    while fleet.current_epoch().expect("epoch") <= last {
        fleet.run_window().expect("a window");
    }
    let mut total: std::collections::BTreeMap<_, Vec<u128>> = Default::default();
    for epoch in first + 1..=last {
        for (role, amounts) in depin_agent::epoch_summary::earnings(fleet, epoch).expect("earnings")
        {
            let t = total.entry(role).or_insert_with(|| vec![0; amounts.len()]);
            for (i, a) in amounts.into_iter().enumerate() {
                t[i] += a;
            }
        }
    }
    (first + 1, last, total)
}
