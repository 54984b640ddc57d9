//! The devnet's compute market: a few honest providers, one garbage provider, and a requester
//! that posts a short render job each epoch (spot-checked), closes it when done, and prints
//! what it paid, what the cheater lost and where the frames are.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;
use depin_core::modules::compute::actions::{CloseJob, PostJob, Unit, VerifyMode};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Amount, Keypair};

use super::provider::{Behaviour, ComputeArgs, Fleet};
use super::render::SceneSpec;
use crate::blocks::{self, Follower};
use crate::client::{self, Client, Signer};

/// Frames of each devnet job.
pub const DEVNET_FRAMES: u32 = 8;

fn args(providers: u32, seed: u64, behaviour: Behaviour, dir: &std::path::Path) -> ComputeArgs {
    ComputeArgs {
        providers,
        seed,
        benchmark: 20,
        stake: 2_000_000,
        fund_tokens: 200,
        behaviour,
        garbage_bps: 10_000,
        max_claims: 4,
        specs: Some(dir.join("specs")),
        out: Some(dir.join(format!("frames-{seed}"))),
        listen: "127.0.0.1:0".parse().expect("an address"),
    }
}

/// Starts the devnet's compute market on a background thread: `providers` honest providers and
/// one garbage provider funded by `funder`, and `requester` posting a job per epoch. Frames and
/// specs live under `dir`. Ends quietly when the node goes away.
pub fn spawn(
    node_url: String,
    funder: Keypair,
    requester: Keypair,
    dir: PathBuf,
    providers: u32,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("devnet-compute".into())
        .spawn(move || {
            if let Err(e) = drive(&node_url, &funder, &requester, &dir, providers)
                && !client::is_unreachable(&e)
            {
                println!("devnet compute stopped: {e:#}");
            }
        })
        .expect("spawning the compute thread")
}

fn send(client: &Client, signer: &Signer, key: &Keypair, action: Action) -> Result<bool> {
    let nonce = client.nonce(&key.address())?.unwrap_or(0);
    let tx = signer.sign(key, nonce, action);
    let Ok(hash) = client.submit(&[tx])?.remove(0) else {
        return Ok(false);
    };
    let mut follower = Follower::from(blocks::height(client)?);
    let outcome = blocks::await_outcomes(client, &mut follower, &[hash], |_| {})?;
    Ok(matches!(outcome[0], Some(Ok(()))))
}

fn drive(
    node_url: &str,
    funder: &Keypair,
    requester: &Keypair,
    dir: &std::path::Path,
    providers: u32,
) -> Result<()> {
    let client = Client::new(node_url);
    let signer = Signer::fetch(&client)?;
    let mut honest = Fleet::new(&args(providers, 101, Behaviour::Honest, dir), node_url, dir)?;
    let mut cheat = Fleet::new(&args(1, 102, Behaviour::Garbage, dir), node_url, dir)?;
    // Credits need the oracle's price: wait for it.
    let started = Instant::now();
    while let Err(e) = honest.setup(funder).and_then(|()| cheat.setup(funder)) {
        if started.elapsed() > Duration::from_secs(120) {
            return Err(e.context(
                "the compute providers could not register in two minutes (funds, oracle price)",
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let spec = SceneSpec {
        scene: "julia".into(),
        width: 160,
        height: 100,
        max_iter: 200,
        seed: 1,
    };
    std::fs::create_dir_all(dir.join("specs"))?;
    std::fs::write(
        dir.join("specs")
            .join(format!("{}.json", spec.hash().to_hex())),
        spec.to_json().to_string(),
    )?;
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    send(
        &client,
        &signer,
        requester,
        Action::from(BuyCredits {
            tokens: Amount(100 * 10u128.pow(decimals)),
            min_credits: 0,
            to: requester.address(),
        }),
    )?;
    println!(
        "devnet compute: {providers} honest providers and 1 garbage provider; frames under {}",
        dir.display()
    );
    let mut open: Option<u64> = None;
    loop {
        if open.is_none() {
            let id = client.get("/v1/compute/params")?["next_job"]
                .as_u64()
                .unwrap_or(0);
            let tip = blocks::height(&client)?;
            let posted = send(
                &client,
                &signer,
                requester,
                Action::from(PostJob {
                    spec_hash: spec.hash(),
                    tasks: DEVNET_FRAMES,
                    unit: Unit::Frame,
                    units_per_task: 1,
                    price_per_unit: 10_000,
                    deadline_height: tip + 300,
                    min_tier: 0,
                    mode: VerifyMode::SpotCheck { rate_bps: 3_000 },
                    canary_commitment: None,
                }),
            )?;
            if posted {
                open = Some(id);
            }
        }
        cheat.step()?;
        honest.step()?;
        if let Some(id) = open {
            let job = client.get(&format!("/v1/compute/jobs/{id}"))?;
            let settled = job["settled"].as_u64() == job["tasks"].as_u64();
            if settled || job["state"] == "past_deadline" {
                send(
                    &client,
                    &signer,
                    requester,
                    Action::from(CloseJob { job: id }),
                )?;
                let job = client.get(&format!("/v1/compute/jobs/{id}"))?;
                println!(
                    "devnet compute: job {id} closed: {} of {} frames delivered, paid {} credits, refunded {}",
                    job["delivered"],
                    job["tasks"],
                    job["paid"].as_str().unwrap_or("?"),
                    job["refunded"].as_str().unwrap_or("?")
                );
                cheat.report()?;
                open = None;
            }
        }
    }
}
