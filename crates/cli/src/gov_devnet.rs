//! The governance part of `depin devnet`: two stakeholders (the `staker1` and `staker2` keys
//! `depin init` makes) lock stake, staker1 proposes raising the treasury's share of each epoch's emission by five points,
//! both vote yes, and the devnet prints the proposal passing and the new share in force from
//! the first block of the next epoch (issue 18).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::services::governance::actions::{Choice, LockStake, ProposalKind, Propose, Vote};
use depin_core::{Action, Amount};
use depin_node::Home;

use crate::gov::proposal_opened;
use crate::submit::{chain_info, send_action};

/// Whole tokens each stakeholder locks: together more than the device bonds a devnet's
/// simulated hotspots lock (344 × 5,000), so their two votes make the quorum.
const STAKE_TOKENS: u128 = 900_000;
/// Basis points the proposal adds to the treasury's share.
const RAISE_BPS: u32 = 500;
/// Longest the script waits for the price, a vote's end or the epoch boundary.
const PATIENCE: Duration = Duration::from_secs(600);

/// Starts the script in a thread; it prints its progress prefixed `governance:` and stops at
/// the first error (printed, the devnet goes on).
pub fn spawn(url: String, home: Home) {
    std::thread::spawn(move || {
        if let Err(e) = run(&Client::new(&url), &home) {
            println!("governance: the scripted proposal stopped: {e:#}");
        }
    });
}

fn run(client: &Client, home: &Home) -> Result<()> {
    if client.get_opt("/v1/governance/params")?.is_none() {
        return Ok(());
    }
    let listed = client.get("/v1/governance/proposals")?;
    if listed["proposals"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
    {
        println!(
            "governance: this chain already has proposals (the scripted one ran on an earlier start); see them with `depin gov list`"
        );
        return Ok(());
    }
    let genesis = home.genesis()?;
    let Some(mut economics) = genesis.economics.clone() else {
        return Ok(());
    };
    let (Ok(one), Ok(two)) = (home.load_key("staker1"), home.load_key("staker2")) else {
        println!(
            "governance: no staker1 and staker2 keys in this home (made by an older `depin init`), so no scripted proposal; propose one with `depin gov propose`"
        );
        return Ok(());
    };
    wait_for(client, "the oracle's first price", |c| {
        Ok(genesis.modules.demand.is_none() || !c.get("/v1/oracle")?["quote"].is_null())
    })?;
    let info = chain_info(client)?;
    let stake = Amount(STAKE_TOKENS * 10u128.pow(u32::from(info.decimals)));
    // Both lock in the same block (each waits for its own).
    std::thread::scope(|s| -> Result<()> {
        let locks: Vec<_> = [("staker1", &one), ("staker2", &two)]
            .into_iter()
            .map(|(name, key)| {
                let info = &info;
                s.spawn(move || {
                    let lock = Action::from(LockStake { amount: stake });
                    send_action(client, info, key, name, lock, None, false, false)
                        .with_context(|| format!("{name} locking stake"))
                })
            })
            .collect();
        for l in locks {
            l.join().expect("the lock thread does not panic")?;
        }
        Ok(())
    })?;
    let from = economics.treasury_bps;
    economics.treasury_bps = from.saturating_add(RAISE_BPS).min(10_000);
    let title = format!(
        "Raise the treasury's share from {}% to {}%",
        f64::from(from) / 100.0,
        f64::from(economics.treasury_bps) / 100.0
    );
    let propose = Action::from(Propose {
        title: title.clone(),
        change: ProposalKind::Economics {
            section: serde_json::to_string(&economics)?,
        },
    });
    let status = send_action(client, &info, &one, "staker1", propose, None, false, false)?
        .context("the proposal's status")?;
    let height = status["height"]
        .as_u64()
        .context("the proposal's block height")?;
    let id = proposal_opened(client, &one.address(), height, &title)?;
    let p = client.get(&format!("/v1/governance/proposals/{id}"))?;
    println!(
        "governance: staker1 proposed #{id} \"{title}\" in block {} (economics.treasury_bps {from} -> {}); staker1 and staker2 locked {STAKE_TOKENS} {} each and vote yes; the vote ends at height {}",
        status["height"], economics.treasury_bps, info.symbol, p["voting_end_height"]
    );
    for (name, key) in [("staker1", &one), ("staker2", &two)] {
        let vote = Action::from(Vote {
            proposal: id,
            choice: Choice::Yes,
        });
        send_action(client, &info, key, name, vote, None, false, false)
            .with_context(|| format!("{name} voting"))?;
    }
    let path = format!("/v1/governance/proposals/{id}");
    let decided = wait_for_value(client, "the vote's end", |c| {
        let p = c.get(&path)?;
        Ok((p["status"]["state"] != "voting").then_some(p))
    })?;
    println!(
        "governance: proposal #{id} {}: {}",
        decided["status"]["state"].as_str().unwrap_or("?"),
        decided["explanation"].as_str().unwrap_or("")
    );
    if decided["status"]["state"] != "passed" {
        return Ok(());
    }
    let applied = wait_for_value(client, "the epoch boundary", |c| {
        let p = c.get(&path)?;
        Ok((p["status"]["state"] != "passed").then_some(p))
    })?;
    let in_force =
        client.get("/v1/governance/params")?["params_in_force"]["economics"]["treasury_bps"]
            .clone();
    println!(
        "governance: proposal #{id} {} at epoch {} (height {}): treasury_bps in force is now {in_force}; epoch {} and later pay the treasury under the new share (`depin gov show {id}`)",
        applied["status"]["state"].as_str().unwrap_or("?"),
        applied["status"]["epoch"],
        applied["status"]["height"],
        applied["status"]["epoch"],
    );
    Ok(())
}

fn wait_for(client: &Client, what: &str, done: impl Fn(&Client) -> Result<bool>) -> Result<()> {
    wait_for_value(client, what, |c| Ok(done(c)?.then_some(())))
}

fn wait_for_value<T>(
    client: &Client,
    what: &str,
    done: impl Fn(&Client) -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = done(client)? {
            return Ok(v);
        }
        if start.elapsed() > PATIENCE {
            bail!("waited {PATIENCE:?} for {what}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
