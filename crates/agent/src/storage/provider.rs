//! The live storage provider: it keeps its shards as files under `<home>/shards/`, follows the
//! node's view of its deals, and in each deal's proving window answers the challenges from the
//! bytes it holds (reading only the challenged chunk groups). When a file is damaged it declares
//! the fault before the cutoff (cheaper than being caught), and once the file is whole again it
//! declares the recovery and proves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use depin_core::modules::storage::actions::{
    DeclareFaults, DeclareRecovery, Opening, SetEndpoint, SubmitStorageProof,
};
use depin_core::modules::storage::params::openings_per_tx;
use depin_core::modules::storage::proof::challenge_seed;
use depin_core::{Action, Hash, Keypair, Transaction};
use serde_json::{Value, json};

use super::shards::HeldShard;
use crate::client::{Client, Signer};

/// What `depin agent storage` (live) is asked for.
#[derive(Args, Clone, Debug)]
pub struct ProviderArgs {
    /// Directory of the provider's shard files (`<root>.shard`); default `<home>/shards`.
    #[arg(long)]
    pub shards: Option<PathBuf>,
    /// Milliseconds between looks at the chain [default: one block interval, so no proving
    /// window, a few blocks long, is missed].
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Cheat: answer only from this share of each shard's 16 KiB groups, per mille (a deleter
    /// that kept the rest of its disk for something else); 1000 is honest.
    #[arg(long, default_value_t = 1000)]
    pub keep_per_mille: u16,
    /// Print only refusals (the devnet runs the provider beside the hotspots' summaries).
    #[arg(long)]
    pub quiet: bool,
    /// Stop after this many polls (0: run until stopped).
    #[arg(long, default_value_t = 0)]
    pub polls: u64,
    /// Also run the retrieval server here (e.g. 127.0.0.1:7400): clients upload shards for new
    /// deals (`depin storage put`) and retrieve them, paying per byte (`depin storage get`).
    #[arg(long)]
    pub serve: Option<std::net::SocketAddr>,
    /// The retrieval URL to announce on the ledger (clients find providers there) [default:
    /// the --serve address, `http://ADDR`]; `none` announces nothing.
    #[arg(long)]
    pub announce: Option<String>,
    /// Most bytes of uploaded shards whose deals have not opened yet that the server keeps
    /// (uploads past it are refused until earlier ones open or their offers expire).
    #[arg(long, default_value_t = super::retrieval::DEFAULT_MAX_PENDING_BYTES)]
    pub max_pending_bytes: u64,
}

/// Loads every `<root>.shard` file of `dir`, keyed by root; a file whose bytes no longer hash to
/// its name is kept as damaged (`None`).
pub fn load_shards(dir: &Path) -> Result<BTreeMap<Hash, Option<HeldShard>>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(hex) = name.strip_suffix(".shard") else {
            continue;
        };
        let Ok(root) = hex.parse::<Hash>() else {
            continue;
        };
        let held = HeldShard::load(&path)?;
        out.insert(root, (held.tree.root == root).then_some(held));
    }
    Ok(out)
}

/// The proof of one deal's window as transactions' actions: as many openings in each as a
/// transaction holds for a shard of `size` bytes, in challenge order (sent with consecutive
/// nonces, they are answered in order).
pub fn proof_actions(deal: u64, period: u64, size: u64, openings: Vec<Opening>) -> Vec<Action> {
    let per = openings_per_tx(size) as usize;
    openings
        .chunks(per)
        .map(|part| {
            Action::from(SubmitStorageProof {
                deal,
                period,
                openings: part.to_vec(),
            })
        })
        .collect()
}

/// One look at the chain: the actions the provider `device` sends now (proofs in open windows,
/// fault declarations for shards it lost, recoveries for shards it has again).
pub fn actions_now(
    provider: &Value,
    device: &Keypair,
    k: u32,
    shards: &BTreeMap<Hash, Option<HeldShard>>,
) -> Result<Vec<Action>> {
    let height = provider["height"].as_u64().unwrap_or(0);
    let mut out = Vec::new();
    let deals = provider["deals"].as_array().cloned().unwrap_or_default();
    let mut faulty_to_declare = Vec::new();
    let mut recovered = Vec::new();
    for d in &deals {
        let status = d["status"].as_str().unwrap_or("");
        if status != "active" && status != "faulty" {
            continue;
        }
        let id = d["id"].as_u64().context("deal id")?;
        let root: Hash = d["root"].as_str().context("deal root")?.parse()?;
        let held = shards.get(&root).and_then(Option::as_ref);
        let w = &d["window"];
        let period = w["period"].as_u64().unwrap_or(0);
        let (first, last) = (
            w["first_height"].as_u64().unwrap_or(0),
            w["last_height"].as_u64().unwrap_or(0),
        );
        let start = d["start_period"].as_u64().unwrap_or(u64::MAX);
        match (status, held) {
            ("active", None) if d["declared_fault"].as_u64().is_none_or(|p| p < period) => {
                faulty_to_declare.push(id)
            }
            ("faulty", Some(_)) if d["recovery"].as_u64().is_none_or(|r| r < period) => {
                recovered.push(id)
            }
            _ => {}
        }
        let may_prove = status == "active" || d["recovery"].as_u64() == Some(period);
        let open = height >= first && height < last && period >= start;
        if let (true, true, Some(held)) = (may_prove, open, held)
            && d["proven_period"].as_u64() != Some(period)
        {
            // The provider was read a block before the height: its window's entropy is not in
            // that read yet; the next look has it.
            let Some(entropy) = w["entropy"].as_str() else {
                continue;
            };
            let entropy: Hash = entropy.parse()?;
            let seed = challenge_seed(&entropy, &device.address(), id, period);
            if let Some(openings) = held.answer(&seed, k)? {
                out.extend(proof_actions(id, period, held.tree.size, openings));
            }
        }
    }
    if !faulty_to_declare.is_empty() {
        out.push(Action::from(DeclareFaults {
            deals: faulty_to_declare,
        }));
    }
    if !recovered.is_empty() {
        out.push(Action::from(DeclareRecovery { deals: recovered }));
    }
    Ok(out)
}

/// Takes a refused proof out of `sent`, so the next look sends it again while its window lasts.
fn forget_proof(sent: &mut std::collections::BTreeSet<(u64, u64)>, action: &Action) {
    if let Action::Module(depin_core::modules::ModuleAction::Storage(
        depin_core::modules::storage::actions::StorageAction::SubmitStorageProof(p),
    )) = action
    {
        sent.remove(&(p.deal, p.period));
    }
}

/// Deals the agent reads per request (the API's most).
const DEALS_PER_PAGE: usize = 1_000;

/// The provider record of `device` with every one of its deals, page after page (the API
/// returns at most [`DEALS_PER_PAGE`] at once; a provider proves all of them, not the first
/// page's).
pub fn read_provider(client: &Client, device: &depin_core::Address) -> Result<Value> {
    read_provider_in_pages(client, device, DEALS_PER_PAGE)
}

/// [`read_provider`], `per_page` deals a request.
pub fn read_provider_in_pages(
    client: &Client,
    device: &depin_core::Address,
    per_page: usize,
) -> Result<Value> {
    let mut after = 0u64;
    let mut deals = Vec::new();
    let mut record: Option<Value> = None;
    loop {
        let page = client.get(&format!(
            "/v1/storage/providers/{device}?after={after}&limit={per_page}"
        ))?;
        let part = page["deals"].as_array().cloned().unwrap_or_default();
        let full = part.len() >= per_page.max(1);
        if let Some(last) = part.last() {
            after = last["id"].as_u64().context("a deal without an id")? + 1;
        }
        deals.extend(part);
        record.get_or_insert(page);
        if !full {
            break;
        }
    }
    let mut record = record.expect("read at least once");
    record["deals"] = Value::Array(deals);
    Ok(record)
}

/// Runs the provider `device` against the node at `base` until stopped (or `args.polls`).
pub fn run(
    args: &ProviderArgs,
    base: &str,
    home: &Path,
    device: &Keypair,
    json_out: bool,
) -> Result<()> {
    let client = Client::new(base);
    let dir = args.shards.clone().unwrap_or_else(|| home.join("shards"));
    let status = client.get("/v1/status")?;
    let signer = Signer::from_status(&status)?;
    let params = client.get("/v1/storage/params")?;
    let k = params["storage"]["challenges_per_window"]
        .as_u64()
        .unwrap_or(2) as u32;
    let poll_ms = args
        .poll_ms
        .unwrap_or(params["block_interval_ms"].as_u64().unwrap_or(1_000));
    let server = match args.serve {
        Some(addr) => {
            let device = Keypair::from_seed(device.seed());
            let server = super::retrieval::RetrievalServer::start(
                super::retrieval::ServerConfig {
                    shards: dir.clone(),
                    device: std::sync::Arc::new(device),
                    node: base.to_string(),
                    max_pending_bytes: args.max_pending_bytes,
                },
                addr,
            )?;
            if !args.quiet {
                println!("serving shards on {}", server.url());
            }
            Some(server)
        }
        None => None,
    };
    let announce = match (args.announce.as_deref(), &server) {
        (Some("none"), _) => None,
        (Some(url), _) => Some(url.to_string()),
        (None, Some(s)) => Some(s.url()),
        (None, None) => None,
    };
    if let Some(url) = &announce
        && let Some(why) = depin_core::modules::storage::actions::endpoint_problem(url)
    {
        anyhow::bail!("--announce {url}: the URL {why}");
    }
    // The poll at which the announcement was last sent (resent if the ledger still differs ten
    // polls later).
    let mut announced_at: Option<u64> = None;
    let mut polls = 0u64;
    // Proofs already sent in this run: the next look may come before their block.
    let mut sent = std::collections::BTreeSet::new();
    let mut last_error = String::new();
    loop {
        // One look at the chain; a failed one (the node busy, a file being written) is told once
        // and the next look tries again: only a node that is gone ends the agent.
        let look = (|| -> Result<()> {
            let mut shards = load_shards(&dir)?;
            if args.keep_per_mille < 1000 {
                for held in shards.values_mut().flatten() {
                    if let super::shards::Bytes::Disk(path) = &held.bytes {
                        let data = std::fs::read(path)?;
                        *held = HeldShard::partial(data, args.keep_per_mille);
                    }
                }
            }
            // Read before the provider: every deal opened by this height is in the read.
            let settled_at = client.get("/v1/status")?["height"].as_u64().unwrap_or(0);
            let mut provider = read_provider(&client, &device.address())?;
            provider["height"] = client.get("/v1/status")?["height"].clone();
            let roots: std::collections::BTreeSet<Hash> = provider["deals"]
                .as_array()
                .map(|deals| {
                    deals
                        .iter()
                        .filter_map(|d| d["root"].as_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            for gone in super::retrieval::drop_unopened(&dir, &roots, settled_at)? {
                shards.remove(&gone.root);
                if !args.quiet {
                    println!(
                        "deleted the upload {} ({} bytes): no deal opened on it by height {}, when its offer expired",
                        gone.root, gone.size, gone.valid_until
                    );
                }
            }
            let mut actions = actions_now(&provider, device, k, &shards)?;
            if let Some(url) = &announce
                && provider["endpoint"].as_str() != Some(url.as_str())
                && announced_at.is_none_or(|at| polls >= at + 10)
            {
                announced_at = Some(polls);
                actions.push(Action::from(SetEndpoint {
                    device: device.address(),
                    url: url.clone(),
                }));
            }
            // A proof may be several actions of one (deal, period): all are sent, or none.
            let before = sent.clone();
            actions.retain(|a| match a {
                Action::Module(depin_core::modules::ModuleAction::Storage(
                    depin_core::modules::storage::actions::StorageAction::SubmitStorageProof(p),
                )) => {
                    sent.insert((p.deal, p.period));
                    !before.contains(&(p.deal, p.period))
                }
                _ => true,
            });
            if !actions.is_empty() {
                let mut nonce = client.nonce(&device.address())?.unwrap_or(0);
                let txs: Vec<Transaction> = actions
                    .into_iter()
                    .map(|a| {
                        let tx = signer.sign(device, nonce, a);
                        nonce += 1;
                        tx
                    })
                    .collect();
                let verdicts = client.submit(&txs)?;
                for (tx, v) in txs.iter().zip(verdicts) {
                    let kind = serde_json::to_value(&tx.action)?["type"].clone();
                    match v {
                        Ok(_) if args.quiet => {}
                        Ok(hash) if json_out => println!("{}", json!({"sent": kind, "hash": hash})),
                        Ok(hash) => println!("sent {} {hash}", kind.as_str().unwrap_or("?")),
                        // A nonce taken by a transaction still pending (an announcement, or the
                        // previous look's proof): sent again at the next look, once that one is
                        // in a block. (The proof was marked sent, and its window missed.)
                        Err(e) if e.code == "duplicate" => forget_proof(&mut sent, &tx.action),
                        Err(e) => {
                            forget_proof(&mut sent, &tx.action);
                            eprintln!("refused {}: {} ({})", kind, e.message, e.code);
                        }
                    }
                }
            }
            Ok(())
        })();
        match look {
            Ok(()) => last_error.clear(),
            Err(e) if crate::client::is_unreachable(&e) => return Err(e),
            Err(e) => {
                let text = format!("{e:#}");
                if text != last_error {
                    eprintln!("storage provider {}: {text}; retrying", device.address());
                    last_error = text;
                }
            }
        }
        polls += 1;
        if args.polls > 0 && polls >= args.polls {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(poll_ms));
    }
}
