//! The storage provider agent on one real node: a client opens a deal for a shard the provider
//! keeps as a file, the agent follows the node and proves it in each proving window from the
//! file, and the deal ends with every period paid.

mod common;

use std::time::{Duration, Instant};

use common::{start_network, test_genesis};
use depin_agent::client::Client;
use depin_agent::storage::provider::{ProviderArgs, run};
use depin_agent::storage::{HeldShard, generated};
use depin_core::economics::TokenPrice;
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, OpenDeal, RegisterProvider, sign_onboarding,
};
use depin_core::modules::storage::params::{GIB, preset};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::{Action, Amount, Keypair};
use depin_node::Home;

const CHAIN_ID: &str = "depin-storage";

/// Signs `action` with `key`, submits it and waits for its block.
fn send(client: &Client, key: &Keypair, action: Action) {
    let nonce = client.nonce(&key.address()).unwrap().unwrap_or(0);
    let signer = depin_agent::client::Signer::fetch(client).unwrap();
    let tx = signer.sign(key, nonce, action);
    let verdict = client.submit(&[tx]).unwrap().remove(0);
    assert!(verdict.is_ok(), "{verdict:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.nonce(&key.address()).unwrap().unwrap_or(0) <= nonce {
        assert!(
            Instant::now() < deadline,
            "the transaction was not committed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_provider_agent_proves_a_shard_it_keeps_on_disk_in_every_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::new(dir.path());
    let owner = Keypair::from_seed([2; 32]);
    let oracle = Keypair::from_seed([4; 32]);
    let buyer = Keypair::from_seed([5; 32]);
    let device = Keypair::from_seed([6; 32]);
    let mut genesis = test_genesis(
        CHAIN_ID,
        &[
            (owner.address(), "100000"),
            (buyer.address(), "1000"),
            (oracle.address(), "10"),
        ],
    );
    let coverage = genesis.modules.coverage.as_mut().expect("coverage");
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    genesis.modules.demand = Some(depin_core::services::demand::params::preset(
        vec![oracle.address()],
        None,
        100,
    ));
    genesis.modules.storage = Some(preset(5));
    let (url, _store) = start_network(&home, &genesis);
    let client = Client::new(&url);

    let now = depin_node::node::now_ms();
    send(
        &client,
        &oracle,
        Action::from(SubmitPrice {
            price: TokenPrice(50_000_000),
            observed_at_ms: now,
        }),
    );
    send(
        &client,
        &buyer,
        Action::from(BuyCredits {
            tokens: Amount(100_000_000),
            min_credits: 0,
            to: buyer.address(),
        }),
    );
    send(
        &client,
        &owner,
        Action::from(RegisterProvider {
            device: device.address(),
            capacity_bytes: GIB,
            device_signature: sign_onboarding(CHAIN_ID, &owner.address(), &device),
        }),
    );
    send(
        &client,
        &owner,
        Action::from(AddCollateral {
            device: device.address(),
            amount: Amount(100_000_000),
        }),
    );
    let shards = dir.path().join("shards");
    let data = generated(11, 150_000);
    let held = HeldShard::on_disk(&shards, &data).expect("shard file");
    let height = client.get("/v1/status").unwrap()["height"]
        .as_u64()
        .unwrap();
    let terms = DealTerms {
        client: buyer.address(),
        provider: device.address(),
        root: held.tree.root,
        size: data.len() as u64,
        periods: 2,
        price_per_period: 100,
        valid_until_height: height + 50,
    };
    let provider_signature = terms.sign(CHAIN_ID, &device);
    send(
        &client,
        &buyer,
        Action::from(OpenDeal {
            terms,
            provider_signature,
        }),
    );
    assert_eq!(
        client.get("/v1/storage/deals/0").unwrap()["status"],
        "active"
    );

    // The agent follows the node until the deal's last period is settled.
    let args = ProviderArgs {
        shards: Some(shards),
        poll_ms: Some(100),
        keep_per_mille: 1000,
        quiet: false,
        polls: 0,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled = ProviderArgs {
            polls: 10,
            ..args.clone()
        };
        run(&polled, &url, dir.path(), &device, false).expect("agent runs");
        let d = client.get("/v1/storage/deals/0").unwrap();
        if d["status"] == "ended" || Instant::now() > deadline {
            break;
        }
    }
    let d = client.get("/v1/storage/deals/0").unwrap();
    assert_eq!(d["status"], "ended", "{d}");
    assert_eq!(d["proven_periods"], 2, "{d}");
    let outcomes = d["outcomes"].as_array().unwrap();
    assert!(
        outcomes.iter().all(|o| o["outcome"] == "proven"),
        "{outcomes:?}"
    );
    assert_eq!(d["paid_credits"], "200");
}
