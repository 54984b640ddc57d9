//! A run against a node, in real time: the fleet's dashcams are onboarded by one owner (those
//! already on the chain are found again, with their last bundle number), then every second
//! each car drives a second and every full bundle is uploaded, signed by its dashcam.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_core::modules::mapping::actions::{Location, OnboardDashcam, sign_onboarding};
use depin_core::{Action, Keypair, Transaction};
use serde_json::json;

use super::args::DashcamArgs;
use super::fleet::Fleet;
use super::local::{measure, print_table, report};
use crate::client::{Client, Signer};
use crate::hotspot::now_ms;

/// Signs a transaction (the one place this file builds them).
fn sign_tx(signer: &Signer, key: &Keypair, nonce: u64, action: Action) -> Transaction {
    signer.sign(key, nonce, action)
}

/// How long onboarding may take to reach a block, seconds.
const ONBOARD_PATIENCE_S: u64 = 60;

/// The centre of the network's first mapping region, as the node's parameters give it.
fn region_center(params: &serde_json::Value) -> Option<Location> {
    let c = &params["center"];
    Some(Location {
        lat_udeg: i32::try_from(c["lat_udeg"].as_i64()?).ok()?,
        lon_udeg: i32::try_from(c["lon_udeg"].as_i64()?).ok()?,
    })
}

/// `depin agent dashcam`: a local measurement with `--local`, else a fleet on the node.
pub fn run(args: &DashcamArgs, node_url: &str, owner: &Keypair, json_out: bool) -> Result<()> {
    args.check()?;
    if args.local {
        let outcomes = measure(args)?;
        if json_out {
            println!("{}", serde_json::to_string_pretty(&report(&outcomes))?);
        } else {
            print_table(&outcomes);
        }
        return Ok(());
    }
    let client = Client::new(node_url);
    let signer = Signer::fetch(&client)?;
    let params = client
        .get("/v1/mapping/params")
        .context("the network must run the mapping module (a [mapping] genesis section)")?;
    let center = args
        .center
        .or_else(|| region_center(&params))
        .unwrap_or(depin_core::modules::coverage::preset::BERLIN);
    let mut fleet = Fleet::new(args, center, now_ms());
    let mut nonces = onboard(&client, &signer, &mut fleet, owner)?;
    fleet.start_ms = now_ms();
    let started = Instant::now();
    let (mut sent, mut refused) = (0u64, 0u64);
    loop {
        let due = Duration::from_secs(fleet.clock_s + 1);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let done = args.minutes.is_some_and(|m| fleet.clock_s + 1 >= m * 60);
        let mut ready = fleet.tick(&signer.network);
        if done {
            ready.extend(fleet.flush(&signer.network));
        }
        if !ready.is_empty() {
            let txs: Vec<Transaction> = ready
                .into_iter()
                .map(|(m, bundle)| {
                    let tx = sign_tx(
                        &signer,
                        &fleet.members[m].key,
                        nonces[m],
                        Action::from(bundle),
                    );
                    nonces[m] += 1;
                    tx
                })
                .collect();
            for verdict in client.submit(&txs)? {
                match verdict {
                    Ok(_) => sent += 1,
                    Err(e) => {
                        refused += 1;
                        eprintln!(
                            "dashcam: a bundle was refused by the mempool: {}",
                            e.message
                        );
                    }
                }
            }
        }
        if fleet.clock_s.is_multiple_of(60) || done {
            let line = json!({
                "minute": fleet.clock_s / 60,
                "bundles_sent": sent,
                "bundles_refused_by_mempool": refused,
            });
            if json_out {
                println!("{line}");
            } else {
                println!(
                    "dashcam: minute {}: {sent} bundles sent, {refused} refused by the mempool",
                    fleet.clock_s / 60
                );
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// Onboards every member not yet on the chain and returns each member's next nonce (members
/// already on the chain continue after their last bundle number).
fn onboard(
    client: &Client,
    signer: &Signer,
    fleet: &mut Fleet,
    owner: &Keypair,
) -> Result<Vec<u64>> {
    let chain_id = &signer.network.chain_id;
    let owner_address = owner.address();
    let mut nonce = client.nonce(&owner_address)?.with_context(|| {
        format!("the owner {owner_address} has no account on this network; fund it first")
    })?;
    let mut txs = Vec::new();
    for m in &mut fleet.members {
        let device = m.key.address();
        match client.get_opt(&format!("/v1/mapping/dashcams/{device}"))? {
            Some(d) => m.seq = d["last_seq"].as_u64().unwrap_or(0),
            None => {
                let a = Action::from(OnboardDashcam {
                    device,
                    device_signature: sign_onboarding(chain_id, &owner_address, &m.key),
                });
                txs.push(sign_tx(signer, owner, nonce, a));
                nonce += 1;
            }
        }
    }
    let mut hashes = Vec::with_capacity(txs.len());
    for verdict in client.submit(&txs)? {
        match verdict {
            Ok(hash) => hashes.push(hash),
            Err(e) => bail!(
                "onboarding a dashcam was refused: {} ({})",
                e.message,
                e.code
            ),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(ONBOARD_PATIENCE_S);
    // Each onboarding's outcome: a refusal in the block says why (no oracle price for a fee in
    // credits, too few tokens...).
    for hash in hashes {
        loop {
            if let Some(s) = client.get_opt(&format!("/v1/tx/{hash}"))?
                && s["status"] == "committed"
            {
                let receipt = &s["receipt"];
                if receipt["success"].as_bool() != Some(true) {
                    bail!(
                        "onboarding a dashcam was refused in block {} ({}): {}",
                        s["height"],
                        receipt["rejection"]["code"].as_str().unwrap_or("?"),
                        receipt["rejection"]["message"].as_str().unwrap_or("?")
                    );
                }
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "onboarding transaction {hash} is not in a block after {ONBOARD_PATIENCE_S} s"
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let mut nonces = Vec::with_capacity(fleet.members.len());
    for m in &fleet.members {
        let device = m.key.address();
        loop {
            if let Some(n) = client.nonce(&device)? {
                nonces.push(n);
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "dashcam {device} was not onboarded within {ONBOARD_PATIENCE_S} s; see `depin query tx` for the owner's onboarding transactions"
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(nonces)
}
