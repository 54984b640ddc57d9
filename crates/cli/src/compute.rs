//! `depin compute ...`: the requester's side of the compute market. Submit a scene to render
//! (its credits escrowed), follow the job with a progress bar, approve or reject results, fetch
//! the verified frames from the providers (each checked against the hash the ledger verified),
//! and close the job to get back what was not spent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_agent::gpu::SceneSpec;
use depin_agent::gpu::outputs;
use depin_core::modules::compute::actions::{CloseJob, JudgeTasks, PostJob, Unit, VerifyMode};
use depin_core::{Action, Hash};
use depin_node::Home;
use serde_json::{Value, json};

use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum ComputeCmd {
    /// Post a job rendering FRAMES frames of the scene in SPEC (a JSON scene spec); its worst
    /// case is escrowed from the key's credits. Prints the job id.
    Submit {
        /// Scene spec file: {"scene": "julia", "width": 160, "height": 100, "max_iter": 200, "seed": 1}.
        spec: PathBuf,
        #[arg(long, default_value_t = 8)]
        frames: u32,
        /// Verification: approval, redundant:<replicas>, spot:<bps>.
        #[arg(long, default_value = "spot:2000")]
        mode: String,
        /// Credits paid per frame at most.
        #[arg(long, default_value_t = 10_000)]
        price: u128,
        /// Blocks from now to the deadline.
        #[arg(long, default_value_t = 300)]
        deadline_blocks: u64,
        /// Lowest provider tier (0: any).
        #[arg(long, default_value_t = 0)]
        min_tier: u8,
        /// Key in --home that pays.
        #[arg(long, default_value = "faucet")]
        key: String,
        /// Where providers find scene specs [default: <home>/compute/specs].
        #[arg(long)]
        specs: Option<PathBuf>,
    },
    /// Show a job's progress (with --watch, until every task is settled).
    Status {
        job: u64,
        #[arg(long)]
        watch: bool,
    },
    /// Approve or reject revealed results (approval mode).
    Judge {
        job: u64,
        /// Task numbers.
        #[arg(long, value_delimiter = ',', required = true)]
        tasks: Vec<u32>,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "faucet")]
        key: String,
    },
    /// Download the verified frames from providers into DIR (checked against their hashes).
    Fetch {
        job: u64,
        #[arg(long)]
        out: PathBuf,
        /// Providers' frame servers (as `depin agent compute` prints them).
        #[arg(long = "from", value_delimiter = ',', required = true)]
        from: Vec<String>,
    },
    /// Close a job after its deadline (or once every task settled) and refund its unused escrow.
    Close {
        job: u64,
        #[arg(long, default_value = "faucet")]
        key: String,
    },
}

fn mode_of(text: &str) -> Result<VerifyMode> {
    let (name, arg) = text.split_once(':').unwrap_or((text, ""));
    Ok(match name {
        "approval" => VerifyMode::Approval,
        "redundant" => VerifyMode::Redundant {
            replicas: arg
                .parse()
                .context("redundant:<replicas>, e.g. redundant:3")?,
        },
        "spot" => VerifyMode::SpotCheck {
            rate_bps: arg.parse().context("spot:<basis points>, e.g. spot:2000")?,
        },
        _ => bail!(
            "unknown mode '{text}': approval, redundant:<n> or spot:<bps> (canary jobs need their canaries: use the API)"
        ),
    })
}

pub fn run(home: &Home, client: &Client, cmd: &ComputeCmd, json_out: bool) -> Result<()> {
    match cmd {
        ComputeCmd::Submit {
            spec,
            frames,
            mode,
            price,
            deadline_blocks,
            min_tier,
            key,
            specs,
        } => {
            let text = std::fs::read_to_string(spec)
                .with_context(|| format!("reading {}", spec.display()))?;
            let scene = SceneSpec::from_json(
                &serde_json::from_str(&text).context("the spec is not JSON")?,
            )?;
            let hash = scene.hash();
            let dir = specs
                .clone()
                .unwrap_or_else(|| home.root().join("compute").join("specs"));
            std::fs::create_dir_all(&dir)?;
            std::fs::write(
                dir.join(format!("{}.json", hash.to_hex())),
                scene.to_json().to_string(),
            )?;
            let info = chain_info(client)?;
            let signer = home.load_key(key)?;
            let height = client.get("/v1/status")?["height"].as_u64().unwrap_or(0);
            let action = Action::from(PostJob {
                spec_hash: hash,
                tasks: *frames,
                unit: Unit::Frame,
                units_per_task: 1,
                price_per_unit: *price,
                deadline_height: height + deadline_blocks,
                min_tier: *min_tier,
                mode: mode_of(mode)?,
                canary_commitment: None,
            });
            let status = send_action(client, &info, &signer, key, action, None, false, false)?;
            let job = find_job(client, &signer.address().to_string(), &hash)?;
            if json_out {
                println!("{}", json!({"job": job, "spec_hash": hash, "tx": status}));
            } else {
                println!(
                    "job {job}: {frames} frames of {} (spec {hash}), escrowed from {key}; follow it with `depin compute status {job} --watch`",
                    spec.display()
                );
            }
            Ok(())
        }
        ComputeCmd::Status { job, watch } => loop {
            let j = client.get(&format!("/v1/compute/jobs/{job}"))?;
            if json_out {
                println!("{j}");
            } else {
                print_status(&j);
            }
            let done = j["settled"].as_u64() == j["tasks"].as_u64() || j["state"] != "open";
            if !watch || done {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(1));
        },
        ComputeCmd::Judge {
            job,
            tasks,
            reject,
            key,
        } => {
            let info = chain_info(client)?;
            let signer = home.load_key(key)?;
            let mut tasks = tasks.clone();
            tasks.sort_unstable();
            tasks.dedup();
            let action = Action::from(JudgeTasks {
                job: *job,
                tasks,
                approve: !reject,
            });
            send_action(client, &info, &signer, key, action, None, false, json_out)?;
            if !json_out {
                println!(
                    "job {job}: results {}",
                    if *reject {
                        "rejected (re-opened)"
                    } else {
                        "approved (paid)"
                    }
                );
            }
            Ok(())
        }
        ComputeCmd::Fetch { job, out, from } => fetch(client, *job, out, from, json_out),
        ComputeCmd::Close { job, key } => {
            let info = chain_info(client)?;
            let signer = home.load_key(key)?;
            send_action(
                client,
                &info,
                &signer,
                key,
                Action::from(CloseJob { job: *job }),
                None,
                false,
                json_out,
            )?;
            if !json_out {
                let j = client.get(&format!("/v1/compute/jobs/{job}"))?;
                println!(
                    "job {job} closed: paid {} credits, refunded {}",
                    j["paid"].as_str().unwrap_or("?"),
                    j["refunded"].as_str().unwrap_or("?")
                );
            }
            Ok(())
        }
    }
}

/// The newest job of `requester` naming `spec`.
fn find_job(client: &Client, requester: &str, spec: &Hash) -> Result<u64> {
    let next = client.get("/v1/compute/params")?["next_job"]
        .as_u64()
        .unwrap_or(0);
    let from = next.saturating_sub(200);
    let jobs = client.get(&format!("/v1/compute/jobs?from={from}&limit=200"))?;
    jobs["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|j| j["requester"] == requester && j["spec_hash"] == spec.to_string().as_str())
        .and_then(|j| j["id"].as_u64())
        .context("the job was posted but is not listed; see `depin query tx`")
}

fn print_status(j: &Value) {
    let tasks = j["tasks"].as_u64().unwrap_or(0);
    let settled = j["settled"].as_u64().unwrap_or(0);
    let delivered = j["delivered"].as_u64().unwrap_or(0);
    let width = 30u64;
    let filled = (settled * width).checked_div(tasks).unwrap_or(0);
    let bar: String = (0..width)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    println!(
        "job {} [{bar}] {settled}/{tasks} settled, {delivered} delivered; {} | escrow {} paid {} refunded {} | deadline {}",
        j["id"],
        j["state"].as_str().unwrap_or("?"),
        j["escrow"].as_str().unwrap_or("?"),
        j["paid"].as_str().unwrap_or("?"),
        j["refunded"].as_str().unwrap_or("?"),
        j["deadline_height"],
    );
    for t in j["task_records"].as_array().into_iter().flatten() {
        if t["state"] != "working" && t["state"] != "verified" {
            println!(
                "  task {}: {} ({})",
                t["task"],
                t["state"].as_str().unwrap_or("?"),
                t["why"].as_str().unwrap_or("")
            );
        }
        for s in t["slots"].as_array().into_iter().flatten() {
            let fate = s["fate"].as_str().unwrap_or("?");
            if !["pending", "paid"].contains(&fate) {
                println!(
                    "    {} ({}): {fate}: {}",
                    s["device"].as_str().unwrap_or("?"),
                    s["role"].as_str().unwrap_or("?"),
                    s["why"].as_str().unwrap_or("")
                );
            }
        }
    }
}

/// The verified result hash of each delivered task.
fn verified(j: &Value) -> Vec<(u32, Hash)> {
    j["task_records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "verified")
        .filter_map(|t| {
            let slot = t["slots"]
                .as_array()?
                .iter()
                .find(|s| s["fate"] == "paid")?;
            Some((
                t["task"].as_u64()? as u32,
                slot["result"].as_str()?.parse().ok()?,
            ))
        })
        .collect()
}

fn fetch(client: &Client, job: u64, out: &PathBuf, from: &[String], json_out: bool) -> Result<()> {
    let j = client.get(&format!("/v1/compute/jobs/{job}"))?;
    let frames = verified(&j);
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let mut missing = Vec::new();
    for (task, hash) in &frames {
        let mut got = None;
        for base in from {
            if let Ok(Some(bytes)) = outputs::fetch(base, hash) {
                got = Some(bytes);
                break;
            }
        }
        match got {
            Some(bytes) => {
                let path = out.join(format!("frame_{task:04}.ppm"));
                std::fs::write(&path, bytes)?;
                written.push(path);
            }
            None => missing.push(*task),
        }
    }
    if json_out {
        println!(
            "{}",
            json!({"job": job, "written": written, "missing": missing})
        );
    } else {
        println!(
            "job {job}: {} verified frames written to {}",
            written.len(),
            out.display()
        );
        if !missing.is_empty() {
            println!(
                "  not served by any of {from:?} (or served with other bytes): tasks {missing:?}"
            );
        }
    }
    Ok(())
}
