//! The devnet's dashcams: a few honest cars driving the street grid around the network's first
//! mapping region, their owner funded by the devnet's faucet, started beside the node.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use depin_core::{Action, Amount, Hash, Keypair};

use super::args::DashcamArgs;
use crate::blocks::{self, Follower};
use crate::client::{self, Client, Signer};

/// Whole tokens the faucet gives the dashcams' owner for its onboarding fees.
const OWNER_TOKENS: u128 = 100;
/// How long the dashcams wait for what onboarding needs (the owner's funds, an oracle price
/// when fees are in credits), seconds.
const PATIENCE_S: u64 = 120;

/// The devnet dashcams' owner: one key, the same on every run of the same devnet.
pub fn owner_key() -> Keypair {
    Keypair::from_seed(Hash::tagged("depin/devnet/dashcam-owner", &[]).0)
}

/// The arguments of the devnet's run: `cars` honest cars, until the node stops.
pub fn devnet_args(cars: usize) -> DashcamArgs {
    DashcamArgs {
        cars,
        center: None,
        radius_m: 1_500.0,
        block_m: 150.0,
        seed: 7,
        replayers: 0,
        replay_lag_s: 1_800,
        replay_bits: 3,
        desk: 0,
        farm: 0,
        parked: 0,
        teleporters: 0,
        spoofers: 0,
        spoof_fresh_pct: 100,
        pass_rate_margin_pct: None,
        minutes: None,
        local: false,
    }
}

/// Starts `cars` dashcams against the node at `node_url` on a background thread: the owner is
/// funded by `funder`, then the cars are onboarded and drive until the node goes away.
pub fn spawn(node_url: String, funder: Keypair, cars: usize) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("devnet-dashcams".into())
        .spawn(move || {
            if let Err(e) = drive(&node_url, &funder, cars)
                && !client::is_unreachable(&e)
            {
                println!("devnet dashcams stopped: {e:#}");
            }
        })
        .expect("spawning the dashcam thread")
}

fn drive(node_url: &str, funder: &Keypair, cars: usize) -> Result<()> {
    let client = Client::new(node_url);
    let signer = Signer::fetch(&client)?;
    let owner = owner_key();
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    let started = Instant::now();
    // The faucet's key is shared with the other devnet agents: retry until a transfer lands.
    while client.nonce(&owner.address())?.is_none() {
        let nonce = client.nonce(&funder.address())?.unwrap_or(0);
        let tx = signer.sign(
            funder,
            nonce,
            Action::Transfer {
                to: owner.address(),
                amount: Amount(OWNER_TOKENS * 10u128.pow(decimals)),
            },
        );
        if let Ok(hash) = client.submit(&[tx])?.remove(0) {
            let mut follower = Follower::from(blocks::height(&client)?);
            blocks::await_outcomes(&client, &mut follower, &[hash], |_| {})?;
        }
        if started.elapsed() > Duration::from_secs(PATIENCE_S) {
            bail!("the faucet could not fund the dashcams' owner in {PATIENCE_S} s");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    println!("devnet mapping: {cars} dashcams driving around the mapping region (docs/MAPPING.md)");
    let args = devnet_args(cars);
    loop {
        match super::node::run(&args, node_url, &owner, false) {
            Ok(()) => return Ok(()),
            // Onboarding waits for an oracle price when fees are in credits.
            Err(e) if started.elapsed() < Duration::from_secs(PATIENCE_S) => {
                if client::is_unreachable(&e) {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_secs(3));
            }
            Err(e) => return Err(e),
        }
    }
}
