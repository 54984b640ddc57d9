//! The `canary-grief` attack (issue 15): a requester who posts canary jobs whose committed
//! canary answer is false, so that an honest provider's correct result "fails" the canary and
//! the provider loses its bond and its owner's stake. It runs beside an honest provider fleet it
//! simulates (the attack's targets, which also act as the referees the ledger assigns), and
//! measures from the node what each job cost the requester and the honest providers: credits
//! paid, stake forfeited, governance slashes, and each canary task's outcome.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_core::modules::compute::actions::{
    Canary, CloseJob, PostJob, RevealCanaries, Unit, VerifyMode, canary_commitment,
};
use depin_core::services::demand::actions::BuyCredits;
use depin_core::{Action, Amount, Hash, Keypair};
use serde::Serialize;

use super::{AttackArgs, amount};
use crate::blocks::{self, Follower};
use crate::client::{Client, Signer};
use crate::gpu::{Behaviour, ComputeArgs, Fleet, SceneSpec};

/// Honest providers simulated beside the griefer: one primary and two referees per disputed
/// canary, and one spare.
pub const HONEST_PROVIDERS: u32 = 4;
/// Credits a griefing job pays per task (one frame).
const PRICE: u128 = 10_000;
/// How long one job may take to settle.
const JOB_PATIENCE: Duration = Duration::from_secs(300);

/// One griefing job.
#[derive(Clone, Debug, Serialize)]
pub struct GriefJob {
    pub job: u64,
    /// How the canary task ended (`canary_disproved` once referees side with the provider).
    pub canary_outcome: String,
    /// The fates of the canary task's slots (the provider's first, then the referees').
    pub fates: Vec<String>,
    /// Credits the requester paid out of its escrow (the provider and the referees).
    pub requester_paid: u128,
}

/// What a `canary-grief` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct GriefReport {
    pub honest_providers: u32,
    pub jobs: Vec<GriefJob>,
    /// Honest providers' stake forfeited during the run, credits.
    pub honest_forfeited: u128,
    /// Honest providers' earnings during the run, credits.
    pub honest_earned: u128,
    /// Governance slashes of the honest providers' owners during the run.
    pub governance_slashes: u64,
    /// Credits the requester spent in all (payments out of escrow, work fees included).
    pub requester_spent: u128,
}

impl GriefReport {
    /// A table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("job  canary outcome      slot fates                     requester paid\n");
        for j in &self.jobs {
            out.push_str(&format!(
                "{:<4} {:<19} {:<30} {}\n",
                j.job,
                j.canary_outcome,
                j.fates.join(","),
                j.requester_paid
            ));
        }
        out.push_str(&format!(
            "honest providers ({}): forfeited {} credits, earned {}, governance slashes {}; the griefer spent {} credits\n",
            self.honest_providers,
            self.honest_forfeited,
            self.honest_earned,
            self.governance_slashes,
            self.requester_spent
        ));
        out
    }
}

/// Sends `actions` signed by `key` (consecutive nonces) and waits for their blocks; each must
/// succeed.
fn send(client: &Client, key: &Keypair, actions: Vec<Action>) -> Result<()> {
    let signer = Signer::fetch(client)?;
    let mut nonce = client.nonce(&key.address())?.unwrap_or(0);
    let txs: Vec<_> = actions
        .into_iter()
        .map(|a| {
            let tx = signer.sign(key, nonce, a);
            nonce += 1;
            tx
        })
        .collect();
    let mut hashes = Vec::new();
    for v in client.submit(&txs)? {
        match v {
            Ok(h) => hashes.push(h),
            Err(e) => bail!("the griefer's transaction was refused: {}", e.message),
        }
    }
    let mut follower = Follower::from(blocks::height(client)?);
    for o in blocks::await_outcomes(client, &mut follower, &hashes, |_| {})? {
        match o {
            Some(Ok(())) => {}
            Some(Err(e)) => bail!(
                "the griefer's transaction failed: {} ({})",
                e.message,
                e.code
            ),
            None => bail!("the griefer's transaction was dropped"),
        }
    }
    Ok(())
}

/// Sums a credit field of every honest provider.
fn provider_sum(client: &Client, fleet: &Fleet, field: &str) -> Result<u128> {
    let mut sum = 0;
    for a in fleet.devices() {
        if let Some(p) = client.get_opt(&format!("/v1/compute/providers/{a}"))? {
            sum += amount(&p[field]);
        }
    }
    Ok(sum)
}

/// Governance slashes of the honest providers' owners so far.
fn slashes(client: &Client, fleet: &Fleet) -> Result<u64> {
    let owners: Vec<String> = fleet.owners().iter().map(|a| a.to_string()).collect();
    let Some(v) = client.get_opt("/v1/governance/slashes")? else {
        return Ok(0);
    };
    Ok(v["slashes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            s["offender"]
                .as_str()
                .is_some_and(|a| owners.iter().any(|o| o == a))
        })
        .count() as u64)
}

/// Runs `jobs` griefing canary jobs one after another beside an honest fleet, funded by
/// `funder`; `dir` holds the fleet's scene specs and frames.
pub fn measure(
    args: &AttackArgs,
    node_url: &str,
    funder: &Keypair,
    jobs: usize,
    dir: &std::path::Path,
) -> Result<GriefReport> {
    let client = Client::new(node_url);
    if client.get_opt("/v1/compute/params")?.is_none() {
        bail!("the network runs no compute module: make it with `depin init --compute`");
    }
    let fleet_args = ComputeArgs {
        providers: HONEST_PROVIDERS,
        seed: args.seed,
        benchmark: 4,
        stake: 2_000_000,
        fund_tokens: 200,
        behaviour: Behaviour::Honest,
        garbage_bps: 0,
        max_claims: 4,
        specs: Some(dir.join("specs")),
        out: Some(dir.join("frames")),
        listen: "127.0.0.1:0".parse().expect("an address"),
    };
    let mut fleet = Fleet::new(&fleet_args, node_url, dir)?;
    fleet.setup(funder)?;
    // The requester: funded, with credits for every job's escrow (three executions a task).
    let requester = Keypair::from_seed(
        Hash::tagged(
            "depin/agent/attack/canary-grief",
            &[&args.seed.to_le_bytes()],
        )
        .0,
    );
    let decimals = client.get("/v1/status")?["token"]["decimals"]
        .as_u64()
        .unwrap_or(0) as u32;
    let tokens = 100 * 10u128.pow(decimals);
    send(
        &client,
        funder,
        vec![Action::Transfer {
            to: requester.address(),
            amount: Amount(tokens),
        }],
    )?;
    send(
        &client,
        &requester,
        vec![Action::from(BuyCredits {
            tokens: Amount(tokens - tokens / 100),
            min_credits: 0,
            to: requester.address(),
        })],
    )?;
    let spec = SceneSpec {
        scene: "julia".into(),
        width: 16,
        height: 12,
        max_iter: 24,
        seed: args.seed,
    };
    std::fs::create_dir_all(dir.join("specs"))?;
    std::fs::write(
        dir.join("specs")
            .join(format!("{}.json", spec.hash().to_hex())),
        spec.to_json().to_string(),
    )?;
    let forfeited_before = provider_sum(&client, &fleet, "slashed")?;
    let earned_before = provider_sum(&client, &fleet, "earned")?;
    let slashes_before = slashes(&client, &fleet)?;
    let credits = |c: &Client| -> Result<u128> {
        Ok(amount(
            &c.get(&format!("/v1/credits/{}", requester.address()))?["own"],
        ))
    };
    let credits_before = credits(&client)?;
    let mut out = Vec::new();
    for k in 0..jobs {
        let id = client.get("/v1/compute/params")?["next_job"]
            .as_u64()
            .context("the node does not say the next job id")?;
        // The lie: a canary answer no renderer produces.
        let canaries = vec![Canary {
            task: 0,
            result: Hash::tagged("depin/agent/attack/false-canary", &[&id.to_le_bytes()]),
        }];
        let salt = Hash::tagged(
            "depin/agent/attack/canary-salt",
            &[&(k as u64).to_le_bytes()],
        );
        let tip = blocks::height(&client)?;
        send(
            &client,
            &requester,
            vec![Action::from(PostJob {
                spec_hash: spec.hash(),
                tasks: 1,
                unit: Unit::Frame,
                units_per_task: 1,
                price_per_unit: PRICE,
                deadline_height: tip + 400,
                min_tier: 0,
                mode: VerifyMode::Canary,
                canary_commitment: Some(canary_commitment(&salt, &canaries)),
            })],
        )?;
        let started = Instant::now();
        let mut revealed = false;
        loop {
            fleet.step()?;
            let job = client.get(&format!("/v1/compute/jobs/{id}"))?;
            let task = &job["task_records"][0];
            if task["state"] != "working" && !task.is_null() {
                break;
            }
            // The provider's result is on chain: the griefer reveals its false answer.
            let shown = task["slots"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| !s["result"].is_null());
            if shown && !revealed {
                send(
                    &client,
                    &requester,
                    vec![Action::from(RevealCanaries {
                        job: id,
                        salt,
                        canaries: canaries.clone(),
                    })],
                )?;
                revealed = true;
            }
            if started.elapsed() > JOB_PATIENCE {
                bail!("griefing job {id} did not settle in {JOB_PATIENCE:?}: {job}");
            }
        }
        send(
            &client,
            &requester,
            vec![Action::from(CloseJob { job: id })],
        )?;
        let job = client.get(&format!("/v1/compute/jobs/{id}"))?;
        let task = &job["task_records"][0];
        out.push(GriefJob {
            job: id,
            canary_outcome: task["state"].as_str().unwrap_or("?").to_string(),
            fates: task["slots"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["fate"].as_str().unwrap_or("?").to_string())
                .collect(),
            requester_paid: amount(&job["paid"]),
        });
    }
    Ok(GriefReport {
        honest_providers: HONEST_PROVIDERS,
        jobs: out,
        honest_forfeited: provider_sum(&client, &fleet, "slashed")? - forfeited_before,
        honest_earned: provider_sum(&client, &fleet, "earned")? - earned_before,
        governance_slashes: slashes(&client, &fleet)? - slashes_before,
        requester_spent: credits_before.saturating_sub(credits(&client)?),
    })
}
