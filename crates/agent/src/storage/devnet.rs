//! Storage on the devnet: once the oracle has priced the token, a client buys credits and opens
//! deals for a few generated shards with one provider, which keeps them as files under the
//! home's `shards/` and proves them in every window, like `depin agent storage`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use depin_core::modules::storage::actions::{
    AddCollateral, DealTerms, OpenDeal, RegisterProvider, sign_onboarding,
};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Amount, Keypair};

use super::provider::{ProviderArgs, run};
use super::shards::{HeldShard, generated};
use crate::client::{Client, Signer};

/// Shards the devnet's client stores, and their size in bytes.
const SHARDS: u64 = 3;
const SHARD_BYTES: usize = 256 * 1024;

/// Signs and submits `action`, waits for its block, and fails with the node's reason if the
/// block refused it.
fn send(client: &Client, signer: &Signer, key: &Keypair, action: Action) -> Result<()> {
    let nonce = client.nonce(&key.address())?.unwrap_or(0);
    let tx = signer.sign(key, nonce, action);
    let hash = match client.submit(&[tx])?.remove(0) {
        Ok(h) => h,
        Err(e) => bail!("{}: {}", e.code, e.message),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = client.get_opt(&format!("/v1/tx/{hash}"))?
            && s["status"] == "committed"
        {
            if s["receipt"]["success"].as_bool() == Some(true) {
                return Ok(());
            }
            bail!("{}", s["receipt"]);
        }
        if Instant::now() > deadline {
            bail!("transaction {hash} was not committed in 30 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sets up the devnet's storage (provider `device` of `owner`, deals paid by `payer`) and runs
/// the provider until the process ends.
pub fn run_devnet(
    url: &str,
    home: PathBuf,
    owner: &Keypair,
    payer: &Keypair,
    device: &Keypair,
) -> Result<()> {
    let client = Client::new(url);
    let signer = Signer::fetch(&client)?;
    let chain_id = signer.network.chain_id.clone();
    // Credits need a price: the devnet's oracle submits one within a few blocks.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let buy = Action::from(BuyCredits {
            tokens: Amount(1_000_000_000),
            min_credits: 0,
            to: payer.address(),
        });
        match send(&client, &signer, payer, buy) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_secs(1)),
            Err(e) => return Err(e.context("buying the storage client's credits")),
        }
    }
    send(
        &client,
        &signer,
        owner,
        Action::from(RegisterProvider {
            device: device.address(),
            capacity_bytes: 1 << 30,
            device_signature: sign_onboarding(&chain_id, &owner.address(), device),
        }),
    )?;
    send(
        &client,
        &signer,
        owner,
        Action::from(AddCollateral {
            device: device.address(),
            amount: Amount(1_000_000_000),
        }),
    )?;
    let shards = home.join("shards");
    let params = client.get("/v1/storage/params")?;
    let per_gib = params["storage"]["min_price_credits_per_gib"]
        .as_u64()
        .unwrap_or(1);
    for i in 0..SHARDS {
        let data = generated(i, SHARD_BYTES);
        let held = HeldShard::on_disk(&shards, &data)?;
        let height = client.get("/v1/status")?["height"].as_u64().unwrap_or(0);
        let terms = DealTerms {
            client: payer.address(),
            provider: device.address(),
            root: held.tree.root,
            size: SHARD_BYTES as u64,
            periods: 1_000,
            price_per_period: (u128::from(per_gib) * SHARD_BYTES as u128).div_ceil(1 << 30) * 10,
            valid_until_height: height + 100,
        };
        let provider_signature = terms.sign(&chain_id, device);
        send(
            &client,
            &signer,
            payer,
            Action::from(OpenDeal {
                terms,
                provider_signature,
            }),
        )?;
    }
    let args = ProviderArgs {
        shards: Some(shards),
        poll_ms: None,
        keep_per_mille: 1000,
        quiet: true,
        polls: 0,
        serve: None,
        announce: None,
    };
    run(&args, url, &home, device, false)
}

/// Starts [`run_devnet`] on a background thread; a failure is printed, not fatal to the node.
pub fn spawn(url: String, home: PathBuf, owner: Keypair, payer: Keypair, device: Keypair) {
    std::thread::spawn(move || {
        if let Err(e) = run_devnet(&url, home, &owner, &payer, &device) {
            eprintln!("devnet storage provider stopped: {e:#}");
        }
    });
}
