//! The storage client behind `depin storage put` / `get`: a file is erasure-coded into `k + m`
//! shards, each shard goes to a distinct registered provider with free capacity (uploaded to
//! its retrieval server, which signs the deal terms), one deal is opened per shard, and a small
//! manifest is kept; `get` retrieves shards (paid, each group checked against its shard's root)
//! until `k` are whole and rebuilds the file, so up to `m` providers may be gone or lie.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_core::modules::storage::actions::OpenDeal;
use depin_core::{Action, Address, Hash, Keypair};
use serde::{Deserialize, Serialize};

use super::erasure;
use super::retrieval::{Fetched, fetch_shard, provider_info, upload_shard};
use crate::client::{Client, Signer};

/// What `put` is asked for.
#[derive(Clone, Debug)]
pub struct PutArgs {
    /// Data shards (`k`).
    pub data_shards: usize,
    /// Parity shards (`m`).
    pub parity_shards: usize,
    /// Periods (epochs) each deal runs.
    pub periods: u32,
    /// Price per period of each deal in credits; `None`: ten times the network's floor.
    pub price: Option<u128>,
    /// Retrieval servers of candidate providers (`http://host:port`); empty: every provider
    /// that announced one on the ledger.
    pub providers: Vec<String>,
}

/// One shard of a stored file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// Its place in the code: `0..k` data, `k..k+m` parity.
    pub index: usize,
    pub root: Hash,
    pub size: u64,
    pub provider: Address,
    pub url: String,
    /// The deal's id on the ledger.
    pub deal: Option<u64>,
}

/// What `get` needs to find and rebuild a file: kept under `<home>/manifests/<root>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub name: String,
    /// BLAKE3 hash of the whole file (its id).
    pub root: Hash,
    pub size: u64,
    pub data_shards: usize,
    pub parity_shards: usize,
    pub shards: Vec<ShardEntry>,
}

impl Manifest {
    /// Where the manifest of the file `root` is kept under `dir`.
    pub fn path(dir: &Path, root: &Hash) -> PathBuf {
        dir.join(format!("{}.json", root.to_hex()))
    }

    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = Manifest::path(dir, &self.root);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Loads a manifest by file root (under `dir`), by the name the file was stored under (when
    /// one manifest under `dir` has it), or from a path.
    pub fn load(dir: &Path, id: &str) -> Result<Manifest> {
        let path = match id.parse::<Hash>() {
            Ok(root) => Manifest::path(dir, &root),
            Err(_) => {
                let named: Vec<Manifest> = Manifest::list(dir)?
                    .into_iter()
                    .filter(|m| m.name == id)
                    .collect();
                match named.as_slice() {
                    [one] => return Ok(one.clone()),
                    [] => PathBuf::from(id),
                    several => bail!(
                        "{} stored files are named {id}: give one's id instead ({})",
                        several.len(),
                        several
                            .iter()
                            .map(|m| m.root.to_hex())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
        };
        let text = std::fs::read(&path).with_context(|| {
            format!(
                "no manifest {}: give the file id `depin storage put` printed, the name it stored, or a manifest's path (`depin storage files` lists them)",
                path.display()
            )
        })?;
        serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a manifest", path.display()))
    }

    /// Every manifest under `dir` (none if it does not exist), by name then id; files that are
    /// not manifests are left out.
    pub fn list(dir: &Path) -> Result<Vec<Manifest>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "json")
                && let Ok(text) = std::fs::read(&path)
                && let Ok(m) = serde_json::from_slice::<Manifest>(&text)
            {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.root.cmp(&b.root)));
        Ok(out)
    }
}

/// A provider that may take a shard.
#[derive(Clone, Debug)]
struct Candidate {
    url: String,
    device: Address,
    free_bytes: u64,
}

/// The providers among `urls` that answer, are live on the ledger and have `shard_len` bytes
/// free, most free first; each device once.
fn candidates(
    node: &Client,
    urls: &[String],
    shard_len: u64,
) -> Result<(Vec<Candidate>, Vec<String>)> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut skipped = Vec::new();
    for url in urls {
        let device = match provider_info(url) {
            Ok(d) => d,
            Err(e) => {
                skipped.push(format!("{url}: {e:#}"));
                continue;
            }
        };
        if out.iter().any(|c| c.device == device) {
            skipped.push(format!("{url}: provider {device} is listed twice"));
            continue;
        }
        let Some(p) = node.get_opt(&format!("/v1/storage/providers/{device}"))? else {
            skipped.push(format!(
                "{url}: {device} is not a registered storage provider"
            ));
            continue;
        };
        let free = p["free_bytes"].as_u64().unwrap_or(0);
        if p["status"].as_str().is_some_and(|s| s != "active") {
            skipped.push(format!("{url}: provider {device} is {}", p["status"]));
        } else if free < shard_len {
            skipped.push(format!(
                "{url}: provider {device} has {free} bytes free, {shard_len} needed"
            ));
        } else {
            out.push(Candidate {
                url: url.clone(),
                device,
                free_bytes: free,
            });
        }
    }
    out.sort_by(|a, b| {
        b.free_bytes
            .cmp(&a.free_bytes)
            .then(a.device.cmp(&b.device))
    });
    Ok((out, skipped))
}

/// Most announced providers `put` reads from the ledger.
const MAX_ANNOUNCED: usize = 10_000;

/// The retrieval URLs storage providers announced on the ledger, in device order.
pub fn announced(node: &Client) -> Result<Vec<(Address, String)>> {
    let mut out = Vec::new();
    let mut after: Option<Address> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/storage/endpoints?limit=1000&after={a}"),
            None => "/v1/storage/endpoints?limit=1000".to_string(),
        };
        let page = node.get(&path)?;
        let list = page["providers"].as_array().cloned().unwrap_or_default();
        for p in &list {
            let device: Address = serde_json::from_value(p["device"].clone())
                .context("an endpoint listing without a device")?;
            let url = p["url"].as_str().unwrap_or_default().to_string();
            out.push((device, url));
            after = Some(device);
        }
        if list.len() < 1000 || out.len() >= MAX_ANNOUNCED {
            return Ok(out);
        }
    }
}

/// The servers to place shards with: `--provider` URLs if given, else every announced one.
fn candidate_urls(node: &Client, args: &PutArgs) -> Result<Vec<String>> {
    if args.providers.is_empty() {
        Ok(announced(node)?.into_iter().map(|(_, url)| url).collect())
    } else {
        Ok(args.providers.clone())
    }
}

/// Told `(bytes moved, bytes to move)` after each shard `put`, `get` or a repair uploads or
/// retrieves (for a progress bar).
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// A [`Progress`] that shows nothing.
pub fn quiet(_: u64, _: u64) {}

/// Erasure-codes `data` and stores each shard with a distinct provider under a deal paid by
/// `client`; returns the manifest (not yet saved).
pub fn put(
    node: &Client,
    client: &Keypair,
    name: &str,
    data: &[u8],
    args: &PutArgs,
) -> Result<Manifest> {
    put_with(node, client, name, data, args, &quiet)
}

/// [`put`], telling `progress` after each shard is uploaded.
pub fn put_with(
    node: &Client,
    client: &Keypair,
    name: &str,
    data: &[u8],
    args: &PutArgs,
    progress: Progress,
) -> Result<Manifest> {
    let (k, m) = (args.data_shards, args.parity_shards);
    let shards = erasure::encode(data, k, m)?;
    let shard_len = shards[0].len() as u64;
    let urls = candidate_urls(node, args)?;
    let (chosen, skipped) = candidates(node, &urls, shard_len)?;
    if chosen.len() < k + m {
        bail!(
            "{} shards need {} distinct live providers with {shard_len} bytes free; {} qualify{}. Wait for more providers to announce a retrieval URL, pass --provider URLs, or use fewer --data-shards/--parity-shards",
            k + m,
            k + m,
            chosen.len(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" (left out: {})", skipped.join("; "))
            }
        );
    }
    let params = node.get("/v1/storage/params")?;
    let price = match args.price {
        Some(p) => p,
        None => floor_of(&params, shard_len)?.saturating_mul(10),
    };
    let placed: Vec<(usize, &[u8])> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.as_slice()))
        .collect();
    let entries = place(
        node,
        client,
        &placed,
        &chosen,
        args.periods,
        price,
        progress,
    )?;
    Ok(Manifest {
        version: 1,
        name: name.to_string(),
        root: Hash(*blake3::hash(data).as_bytes()),
        size: data.len() as u64,
        data_shards: k,
        parity_shards: m,
        shards: entries,
    })
}

/// Uploads each `(index, shard)` to the candidate beside it, checks the terms its provider
/// signed, opens all the deals in one batch and returns the manifest entries with their deal ids.
fn place(
    node: &Client,
    client: &Keypair,
    shards: &[(usize, &[u8])],
    chosen: &[Candidate],
    periods: u32,
    price: u128,
    progress: Progress,
) -> Result<Vec<ShardEntry>> {
    let total: u64 = shards.iter().map(|(_, s)| s.len() as u64).sum();
    let mut done = 0u64;
    let height = node.get("/v1/status")?["height"].as_u64().unwrap_or(0);
    let signer = Signer::fetch(node)?;
    let first_nonce = node.nonce(&client.address())?.unwrap_or(0);
    let mut entries = Vec::new();
    let mut txs = Vec::new();
    for (&(index, shard), c) in shards.iter().zip(chosen) {
        let (terms, signature) = upload_shard(
            &c.url,
            shard,
            &client.address(),
            periods,
            price,
            height + 100,
        )?;
        done += shard.len() as u64;
        progress(done, total);
        let root = Hash(*blake3::hash(shard).as_bytes());
        if terms.root != root
            || terms.client != client.address()
            || terms.provider != c.device
            || terms.size != shard.len() as u64
            || terms.periods != periods
            || terms.price_per_period != price
        {
            bail!(
                "the provider at {} signed other terms than asked: {terms:?}",
                c.url
            );
        }
        txs.push(signer.sign(
            client,
            first_nonce + txs.len() as u64,
            Action::from(OpenDeal {
                terms,
                provider_signature: signature,
            }),
        ));
        entries.push(ShardEntry {
            index,
            root,
            size: shard.len() as u64,
            provider: c.device,
            url: c.url.clone(),
            deal: None,
        });
    }
    for (e, verdict) in entries.iter().zip(node.submit(&txs)?) {
        if let Err(r) = verdict {
            bail!(
                "the deal for shard {} with {} was refused: {} ({})",
                e.index,
                e.provider,
                r.message,
                r.code
            );
        }
    }
    wait_for_nonce(node, &client.address(), first_nonce + txs.len() as u64)?;
    let listed = node.get(&format!("/v1/storage/clients/{}/deals", client.address()))?;
    for e in &mut entries {
        e.deal = listed["deals"].as_array().and_then(|ds| {
            ds.iter()
                .filter(|d| {
                    d["root"].as_str().and_then(|r| r.parse::<Hash>().ok()) == Some(e.root)
                        && d["provider"]
                            .as_str()
                            .and_then(|p| p.parse::<Address>().ok())
                            == Some(e.provider)
                })
                .filter_map(|d| d["id"].as_u64())
                .max()
        });
    }
    Ok(entries)
}

/// The indexes of `manifest`'s shards whose deal was terminated (the provider failed past the
/// fault limit, quit, or retired), or never opened: the shards [`replace`] moves.
pub fn lost_shards(node: &Client, manifest: &Manifest) -> Result<Vec<usize>> {
    let mut lost = Vec::new();
    for e in &manifest.shards {
        let Some(id) = e.deal else {
            lost.push(e.index);
            continue;
        };
        let d = node.get(&format!("/v1/storage/deals/{id}"))?;
        if d["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("terminated"))
        {
            lost.push(e.index);
        }
    }
    Ok(lost)
}

/// Re-places the shards of `manifest` whose deal was terminated onto providers the file does
/// not use yet: the file is rebuilt from `k` whole shards (paid as in [`get`]), re-encoded and
/// placed by [`replace`]. Returns the updated manifest and the repaired indexes (none if every
/// deal is live or ended).
pub fn repair(
    node: &Client,
    chain_id: &str,
    client: &Keypair,
    manifest: &Manifest,
    args: &PutArgs,
) -> Result<(Manifest, Vec<usize>)> {
    let lost = lost_shards(node, manifest)?;
    if lost.is_empty() {
        return Ok((manifest.clone(), lost));
    }
    let (data, _) = get(node, chain_id, client, manifest)?;
    let repaired = replace(node, client, manifest, &data, &lost, args, &quiet)?;
    Ok((repaired, lost))
}

/// Places the `lost` shards of `manifest`, re-encoded from the whole file `data` (the code is
/// deterministic, so each lost shard has the same bytes and root), with live providers the file
/// does not use yet, a new deal each; returns the updated manifest.
pub fn replace(
    node: &Client,
    client: &Keypair,
    manifest: &Manifest,
    data: &[u8],
    lost: &[usize],
    args: &PutArgs,
    progress: Progress,
) -> Result<Manifest> {
    let shards = erasure::encode(data, manifest.data_shards, manifest.parity_shards)?;
    for &i in lost {
        if blake3::hash(&shards[i]).as_bytes() != &manifest.shards[i].root.0 {
            bail!(
                "shard {i} re-encoded to another root than the manifest's; was the manifest written by another version?"
            );
        }
    }
    let shard_len = shards[0].len() as u64;
    let urls = candidate_urls(node, args)?;
    let (candidates, skipped) = candidates(node, &urls, shard_len)?;
    let fresh: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| manifest.shards.iter().all(|e| e.provider != c.device))
        .collect();
    if fresh.len() < lost.len() {
        bail!(
            "{} shards to repair need as many live providers the file does not use yet, with {shard_len} bytes free; {} qualify{}",
            lost.len(),
            fresh.len(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" (left out: {})", skipped.join("; "))
            }
        );
    }
    let price = match args.price {
        Some(p) => p,
        None => floor_of(&node.get("/v1/storage/params")?, shard_len)?.saturating_mul(10),
    };
    let placed: Vec<(usize, &[u8])> = lost.iter().map(|&i| (i, shards[i].as_slice())).collect();
    let entries = place(node, client, &placed, &fresh, args.periods, price, progress)?;
    let mut repaired = manifest.clone();
    for e in entries {
        let i = e.index;
        repaired.shards[i] = e;
    }
    Ok(repaired)
}

/// What [`get_and_repair`] did after rebuilding the file.
#[derive(Debug)]
pub enum Repair {
    /// Every shard's deal is live or ended.
    NotNeeded,
    /// These shards were moved; the manifest is the updated one.
    Done(Manifest, Vec<usize>),
    /// These shards' deals were terminated but could not be moved (why); the file was still
    /// rebuilt, and `depin storage repair` may be run later.
    Failed(Vec<usize>, String),
}

/// [`get`], then, with the file in hand (no second retrieval), [`replace`] of every shard whose
/// deal was terminated, so a client that reads its file also keeps it stored at full strength.
pub fn get_and_repair(
    node: &Client,
    chain_id: &str,
    client: &Keypair,
    manifest: &Manifest,
    args: &PutArgs,
    progress: Progress,
) -> Result<(Vec<u8>, Vec<ShardReport>, Repair)> {
    let (data, reports) = get_with(node, chain_id, client, manifest, progress)?;
    let lost = lost_shards(node, manifest)?;
    let repair = if lost.is_empty() {
        Repair::NotNeeded
    } else {
        match replace(node, client, manifest, &data, &lost, args, progress) {
            Ok(m) => Repair::Done(m, lost),
            Err(e) => Repair::Failed(lost, format!("{e:#}")),
        }
    };
    Ok((data, reports, repair))
}

fn wait_for_nonce(node: &Client, who: &Address, nonce: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.nonce(who)?.unwrap_or(0) < nonce {
        if Instant::now() > deadline {
            bail!(
                "the deals were accepted but not committed within 60 s: check `depin storage deals`"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// How `get` went with one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardReport {
    pub index: usize,
    pub provider: Address,
    /// Bytes signed for (paid to that provider once it submits the receipt).
    pub paid: u64,
    /// `None`: retrieved whole and verified; else why not.
    pub failure: Option<String>,
}

/// Retrieves shards of `manifest` (data shards first) until `k` are whole, paying each provider
/// for the verified bytes it served, and rebuilds the file (checked against its root).
pub fn get(
    node: &Client,
    chain_id: &str,
    client: &Keypair,
    manifest: &Manifest,
) -> Result<(Vec<u8>, Vec<ShardReport>)> {
    get_with(node, chain_id, client, manifest, &quiet)
}

/// [`get`], telling `progress` after each whole shard is retrieved (of the `k` needed).
pub fn get_with(
    node: &Client,
    chain_id: &str,
    client: &Keypair,
    manifest: &Manifest,
    progress: Progress,
) -> Result<(Vec<u8>, Vec<ShardReport>)> {
    let (k, m) = (manifest.data_shards, manifest.parity_shards);
    if manifest.shards.len() != k + m {
        bail!(
            "the manifest lists {} shards, not {}",
            manifest.shards.len(),
            k + m
        );
    }
    let mut got: Vec<Option<Vec<u8>>> = vec![None; k + m];
    let total = manifest.shards.first().map_or(0, |e| e.size) * k as u64;
    let mut done = 0u64;
    let mut reports = Vec::new();
    for e in &manifest.shards {
        if got.iter().filter(|s| s.is_some()).count() >= k {
            break;
        }
        // Where the provider says it serves now (the ledger), then where it did at `put`.
        let mut urls = Vec::new();
        if let Ok(Some(p)) = node.get_opt(&format!("/v1/storage/providers/{}", e.provider))
            && let Some(url) = p["endpoint"].as_str()
        {
            urls.push(url.to_string());
        }
        if !urls.contains(&e.url) {
            urls.push(e.url.clone());
        }
        let mut paid = 0;
        let mut failure = None;
        for url in &urls {
            match fetch_shard(url, chain_id, client, &e.provider, &e.root, e.size) {
                Fetched::Whole { bytes, paid: p } => {
                    done += bytes.len() as u64;
                    got[e.index] = Some(bytes);
                    progress(done.min(total), total);
                    paid += p;
                    failure = None;
                    break;
                }
                Fetched::Failed { why, paid: p } => {
                    paid += p;
                    failure = Some(format!("{url}: {why}"));
                }
            }
        }
        reports.push(ShardReport {
            index: e.index,
            provider: e.provider,
            paid,
            failure,
        });
    }
    let data = erasure::decode(k, m, manifest.size, &got)?;
    if blake3::hash(&data).as_bytes() != &manifest.root.0 {
        bail!("the rebuilt file does not hash to the manifest's root");
    }
    Ok((data, reports))
}

/// The price floor for a shard of `size` bytes, credits per period.
pub fn floor_of(params: &serde_json::Value, size: u64) -> Result<u128> {
    let per_gib = params["storage"]["min_price_credits_per_gib"]
        .as_u64()
        .context("the node's storage parameters have no price floor")?;
    if size == 0 {
        bail!("an empty file cannot be a shard");
    }
    Ok((u128::from(per_gib) * u128::from(size)).div_ceil(1 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, byte: u8) -> Manifest {
        Manifest {
            version: 1,
            name: name.to_string(),
            root: Hash([byte; 32]),
            size: 10,
            data_shards: 4,
            parity_shards: 2,
            shards: Vec::new(),
        }
    }

    #[test]
    fn a_manifest_is_found_by_id_by_a_unique_name_or_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = manifest("a.txt", 1);
        let b1 = manifest("b.txt", 2);
        let b2 = manifest("b.txt", 3);
        let path = a.save(dir.path()).unwrap();
        b1.save(dir.path()).unwrap();
        b2.save(dir.path()).unwrap();
        std::fs::write(dir.path().join("notes.json"), b"{}").unwrap();
        assert_eq!(Manifest::load(dir.path(), &a.root.to_hex()).unwrap(), a);
        assert_eq!(Manifest::load(dir.path(), "a.txt").unwrap(), a);
        assert_eq!(
            Manifest::load(dir.path(), path.to_str().unwrap()).unwrap(),
            a
        );
        let twice = Manifest::load(dir.path(), "b.txt").unwrap_err().to_string();
        assert!(twice.contains("2 stored files are named b.txt"), "{twice}");
        assert!(twice.contains(&b1.root.to_hex()) && twice.contains(&b2.root.to_hex()));
        let none = format!("{:#}", Manifest::load(dir.path(), "c.txt").unwrap_err());
        assert!(none.contains("depin storage files"), "{none}");
        let listed: Vec<String> = Manifest::list(dir.path())
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            listed,
            ["a.txt", "b.txt", "b.txt"],
            "manifests only, by name"
        );
        assert!(
            Manifest::list(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
