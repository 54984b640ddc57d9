//! The storage provider's HTTP server on 127.0.0.1 (uploads of shards for new deals, and paid,
//! verified retrieval) and the client side of retrieval.
//!
//! **Retrieval is paid by receipts the client signs after checking the bytes.** A client opens a
//! session (`payer`, `session_ms`) and asks for a shard a segment of 16 KiB groups at a time;
//! every group comes with its BLAKE3 sibling path (bao-style), so the client checks each group
//! against the shard's root before it counts it. Before the next segment it signs the demand
//! service's [`UsageReceipt`] for all the bytes it has verified in the session (same period, the
//! byte count growing); the provider serves nothing more while bytes it served are not covered.
//! At the end the client sends its last receipt, and the provider co-signs it with its device key
//! and submits it: the ledger burns the client's credits for those bytes and counts them as the
//! provider's paid service (demand for storage's pool). The provider can charge for no byte the
//! client did not sign for (the ledger needs the client's signature, and the client signs only
//! what it verified); the client can take at most one unpaid segment ([`MAX_SEGMENT_GROUPS`]
//! groups) before the provider stops serving it. One session's receipts share one period, so
//! only one of them can ever be settled: the provider submits the largest.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::crypto::verify;
use depin_core::modules::storage::actions::DealTerms;
use depin_core::modules::storage::proof::{
    GROUP_BYTES, ShardTree, group_count, group_len, verify_group,
};
use depin_core::services::demand::actions::UsageReceipt;
use depin_core::{Action, Address, Hash, Keypair, Signature};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::shards::HeldShard;
use crate::client::{Client, Signer};

/// Most groups one retrieval request returns (1 MiB): the most a client can take unpaid.
pub const MAX_SEGMENT_GROUPS: u64 = 64;
/// Largest shard upload accepted, bytes.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// Longest request head read, bytes.
const MAX_HEAD_BYTES: u64 = 8 * 1024;
/// Largest JSON request body, bytes.
const MAX_JSON_BYTES: u64 = 64 * 1024;
/// Sessions with no request for this long have their last receipt submitted, milliseconds.
const SESSION_IDLE_MS: u64 = 30_000;
/// Longest an offer stays valid, blocks: an upload whose deal has not opened by then is
/// deleted ([`drop_unopened`]), so nobody can park bytes on a provider's disk for longer.
pub const MAX_OFFER_BLOCKS: u64 = 1_000;
/// Default bound on the bytes of uploads whose deals have not opened yet.
pub const DEFAULT_MAX_PENDING_BYTES: u64 = 1 << 30;

/// A retrieval request: groups `first_group .. first_group + groups` of the shard `root`, in the
/// session (`payer`, `session_ms`), with the client's receipt for what it was served before.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetrieveRequest {
    pub root: Hash,
    pub first_group: u64,
    pub groups: u64,
    pub payer: Address,
    pub session_ms: u64,
    pub receipt: Option<UsageReceipt>,
}

/// What the provider serves from.
pub struct ServerConfig {
    /// The provider's shard files (`<root>.shard`).
    pub shards: PathBuf,
    pub device: Arc<Keypair>,
    /// The node the provider submits receipts to (`http://host:port`).
    pub node: String,
    /// Most bytes of uploads whose deals have not opened yet that the server keeps; an upload
    /// past it is refused (507) until earlier ones open or expire.
    pub max_pending_bytes: u64,
}

#[derive(Default)]
struct Session {
    served: u64,
    paid: Option<UsageReceipt>,
    last_ms: u64,
}

struct Shared {
    cfg: ServerConfig,
    chain_id: String,
    sessions: Mutex<BTreeMap<(Address, u64), Session>>,
    trees: Mutex<BTreeMap<Hash, ShardTree>>,
}

/// A running retrieval server; [`RetrievalServer::stop`] ends it.
pub struct RetrievalServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RetrievalServer {
    /// Listens on `addr` (port 0 picks a free one) and serves from a background thread.
    pub fn start(cfg: ServerConfig, addr: SocketAddr) -> Result<RetrievalServer> {
        let chain_id = Client::new(&cfg.node).get("/v1/status")?["chain_id"]
            .as_str()
            .context("the node's status has no chain_id")?
            .to_string();
        let listener = TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
        let bound = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            cfg,
            chain_id,
            sessions: Mutex::new(BTreeMap::new()),
            trees: Mutex::new(BTreeMap::new()),
        });
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                // One slow client must not hold the others up for long.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let reply = handle(&shared, &mut stream);
                let _ = match reply {
                    Ok((status, kind, body)) => respond(&mut stream, status, kind, &body),
                    Err(e) => respond(
                        &mut stream,
                        400,
                        "application/json",
                        json!({"error": format!("{e:#}")}).to_string().as_bytes(),
                    ),
                };
                flush_idle(&shared);
            }
        });
        Ok(RetrievalServer {
            addr: bound,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening (the provider goes offline).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RetrievalServer {
    fn drop(&mut self) {
        self.halt();
    }
}

type Reply = (u16, &'static str, Vec<u8>);

fn json_reply(status: u16, v: Value) -> Reply {
    (status, "application/json", v.to_string().into_bytes())
}

fn refuse(status: u16, why: String) -> Reply {
    json_reply(status, json!({ "error": why }))
}

fn respond(stream: &mut TcpStream, status: u16, kind: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        402 => "Payment Required",
        404 => "Not Found",
        507 => "Insufficient Storage",
        _ => "Bad Request",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// Reads one request: method, target, body (bounded by `Content-Length` and by what the target
/// accepts).
fn read_request(stream: &mut TcpStream) -> Result<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = (&mut reader).take(MAX_HEAD_BYTES);
    let mut line = String::new();
    head.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut length = 0u64;
    loop {
        let mut h = String::new();
        if head.read_line(&mut h)? == 0 {
            bail!("the request head ended early or is longer than {MAX_HEAD_BYTES} bytes");
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("a bad Content-Length")?;
        }
    }
    let limit = if target.starts_with("/v1/shards") {
        MAX_UPLOAD_BYTES
    } else {
        MAX_JSON_BYTES
    };
    if length > limit {
        bail!("the body is {length} bytes; at most {limit} are accepted here");
    }
    let mut body = vec![0; length as usize];
    reader.read_exact(&mut body).context("reading the body")?;
    Ok((method, target, body))
}

fn query<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn handle(shared: &Shared, stream: &mut TcpStream) -> Result<Reply> {
    let (method, target, body) = read_request(stream)?;
    let path = target.split('?').next().unwrap_or("");
    Ok(match (method.as_str(), path) {
        ("GET", "/v1/info") => json_reply(
            200,
            json!({"device": shared.cfg.device.address(), "chain_id": shared.chain_id}),
        ),
        ("POST", "/v1/shards") => upload(shared, &target, &body)?,
        ("POST", "/v1/retrieve") => retrieve(shared, &serde_json::from_slice(&body)?)?,
        ("POST", "/v1/receipts") => {
            let r: UsageReceipt = serde_json::from_slice(&body)?;
            settle(shared, r)?
        }
        _ => refuse(
            404,
            format!(
                "no route {method} {path}: the provider serves GET /v1/info, POST /v1/shards, /v1/retrieve and /v1/receipts"
            ),
        ),
    })
}

/// Stores an uploaded shard and signs the deal terms the client asked for (the ledger checks
/// the price floor, the capacity and the collateral when the client opens the deal).
fn upload(shared: &Shared, target: &str, body: &[u8]) -> Result<Reply> {
    let param = |name: &str| {
        query(target, name).with_context(|| {
            format!(
                "the upload names no {name}: POST /v1/shards?client=&periods=&price=&valid_until="
            )
        })
    };
    let client: Address = param("client")?
        .parse()
        .context("client is not an address")?;
    let periods: u32 = param("periods")?
        .parse()
        .context("periods is not a number")?;
    let price: u128 = param("price")?.parse().context("price is not a number")?;
    let valid_until: u64 = param("valid_until")?
        .parse()
        .context("valid_until is not a height")?;
    if body.is_empty() {
        return Ok(refuse(400, "an empty shard cannot be stored".into()));
    }
    let height = Client::new(&shared.cfg.node).get("/v1/status")?["height"]
        .as_u64()
        .context("the node's status has no height")?;
    if valid_until < height {
        return Ok(refuse(
            400,
            format!(
                "valid_until {valid_until} is already past: the chain is at height {height}; ask for a later height"
            ),
        ));
    }
    // The offer, and so the wait for its deal, lasts at most MAX_OFFER_BLOCKS.
    let valid_until = valid_until.min(height.saturating_add(MAX_OFFER_BLOCKS));
    let dir = &shared.cfg.shards;
    let tree = ShardTree::build(body);
    let waiting: u64 = pending_uploads(dir)?
        .iter()
        .filter(|p| p.root != tree.root)
        .map(|p| p.size)
        .sum();
    let max = shared.cfg.max_pending_bytes;
    if waiting.saturating_add(body.len() as u64) > max {
        return Ok(refuse(
            507,
            format!(
                "this provider already holds {waiting} bytes of uploads whose deals have not opened (it keeps at most {max}): open the deals of earlier uploads, or try again once their offers expire (at most {MAX_OFFER_BLOCKS} blocks)"
            ),
        ));
    }
    let held = HeldShard::write(dir, body, tree)?;
    // Kept only until the offer expires, unless a deal opens on it (the provider agent's
    // looks delete it then, or forget the mark once the deal is on the ledger).
    let mark = pending_file(dir, &held.tree.root);
    let until = read_pending(&mark).map_or(valid_until, |u| u.max(valid_until));
    std::fs::write(&mark, until.to_string())
        .with_context(|| format!("writing {}", mark.display()))?;
    let terms = DealTerms {
        client,
        provider: shared.cfg.device.address(),
        root: held.tree.root,
        size: body.len() as u64,
        periods,
        price_per_period: price,
        valid_until_height: valid_until,
    };
    let signature = terms.sign(&shared.chain_id, &shared.cfg.device);
    shared
        .trees
        .lock()
        .expect("lock")
        .insert(held.tree.root, held.tree);
    Ok(json_reply(
        200,
        json!({"terms": terms, "provider_signature": signature}),
    ))
}

/// Checks a client's receipt for its session: for this provider, the session's period, bytes no
/// more than served and no fewer than already signed, signed by the payer.
fn check_receipt(
    shared: &Shared,
    session: &Session,
    payer: &Address,
    session_ms: u64,
    r: &UsageReceipt,
) -> std::result::Result<(), String> {
    if r.payer != *payer || r.device != shared.cfg.device.address() {
        return Err("the receipt is for another payer or provider".into());
    }
    if (r.start_ms, r.end_ms) != (session_ms, session_ms + 1) || r.packets != 0 {
        return Err(format!(
            "a session's receipt covers the period {session_ms}..{} with no packets",
            session_ms + 1
        ));
    }
    if r.bytes > session.served {
        return Err(format!(
            "the receipt is for {} bytes but {} were served",
            r.bytes, session.served
        ));
    }
    if let Some(paid) = &session.paid
        && r.bytes < paid.bytes
    {
        return Err(format!(
            "the receipt is for {} bytes, fewer than the {} already signed",
            r.bytes, paid.bytes
        ));
    }
    if !verify(&r.payer, &r.message(&shared.chain_id), &r.payer_signature) {
        return Err("the payer's signature on the receipt is not valid".into());
    }
    Ok(())
}

fn shard_tree(shared: &Shared, root: &Hash) -> Result<Option<(ShardTree, PathBuf)>> {
    let path = shared.cfg.shards.join(format!("{}.shard", root.to_hex()));
    if !path.exists() {
        return Ok(None);
    }
    let mut trees = shared.trees.lock().expect("lock");
    if let Some(t) = trees.get(root) {
        return Ok(Some((t.clone(), path)));
    }
    let held = HeldShard::load(&path)?;
    if held.tree.root != *root {
        // A damaged file: it is not served (the proving loop declares the fault).
        return Ok(None);
    }
    trees.insert(*root, held.tree.clone());
    Ok(Some((held.tree, path)))
}

fn retrieve(shared: &Shared, req: &RetrieveRequest) -> Result<Reply> {
    let now = depin_core_now_ms();
    let mut sessions = shared.sessions.lock().expect("lock");
    let session = sessions.entry((req.payer, req.session_ms)).or_default();
    session.last_ms = now;
    if let Some(r) = &req.receipt {
        if let Err(why) = check_receipt(shared, session, &req.payer, req.session_ms, r) {
            return Ok(refuse(400, why));
        }
        session.paid = Some(r.clone());
    }
    let paid = session.paid.as_ref().map_or(0, |r| r.bytes);
    if session.served > paid {
        return Ok(refuse(
            402,
            format!(
                "{} bytes served in this session are not covered by a receipt: sign one for {} bytes",
                session.served - paid,
                session.served
            ),
        ));
    }
    let Some((tree, path)) = shard_tree(shared, &req.root)? else {
        return Ok(refuse(
            404,
            format!("this provider holds no shard {}", req.root),
        ));
    };
    let n = group_count(tree.size);
    if req.groups == 0 || req.groups > MAX_SEGMENT_GROUPS || req.first_group >= n {
        return Ok(refuse(
            400,
            format!(
                "ask for 1 to {MAX_SEGMENT_GROUPS} groups starting below {n} (the shard's group count)"
            ),
        ));
    }
    let end = (req.first_group + req.groups).min(n);
    let start_byte = req.first_group * GROUP_BYTES;
    let end_byte = (end * GROUP_BYTES).min(tree.size);
    let mut file = std::fs::File::open(&path)?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start_byte))?;
    let mut bytes = vec![0; (end_byte - start_byte) as usize];
    file.read_exact(&mut bytes)
        .context("the shard file is shorter than its deal")?;
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    for g in req.first_group..end {
        let path = tree.group_path(g);
        out.push(path.len() as u8);
        for h in &path {
            out.extend_from_slice(&h.0);
        }
        let from = ((g - req.first_group) * GROUP_BYTES) as usize;
        out.extend_from_slice(&bytes[from..from + group_len(tree.size, g) as usize]);
    }
    session.served += end_byte - start_byte;
    Ok((200, "application/octet-stream", out))
}

fn depin_core_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The client's last receipt of a session: co-signed and submitted to the node.
fn settle(shared: &Shared, r: UsageReceipt) -> Result<Reply> {
    let mut sessions = shared.sessions.lock().expect("lock");
    let Some(session) = sessions.get(&(r.payer, r.start_ms)) else {
        return Ok(refuse(404, "no such session".into()));
    };
    if let Err(why) = check_receipt(shared, session, &r.payer, r.start_ms, &r) {
        return Ok(refuse(400, why));
    }
    sessions.remove(&(r.payer, r.start_ms));
    drop(sessions);
    let hash = submit(shared, r)?;
    Ok(json_reply(200, json!({ "submitted": hash })))
}

/// Co-signs `r` with the device key and submits it (signed by the device too).
fn submit(shared: &Shared, mut r: UsageReceipt) -> Result<Hash> {
    r.device_signature = shared.cfg.device.sign(&r.message(&shared.chain_id));
    let node = Client::new(&shared.cfg.node);
    let signer = Signer::fetch(&node)?;
    let device = &shared.cfg.device;
    let nonce = node.nonce(&device.address())?.unwrap_or(0);
    let tx = signer.sign(device, nonce, Action::from(r));
    match node.submit(&[tx])?.remove(0) {
        Ok(hash) => Ok(hash),
        Err(e) => bail!("the node refused the receipt: {} ({})", e.message, e.code),
    }
}

/// Submits the last receipt of every session idle for [`SESSION_IDLE_MS`] (a client that went
/// away without closing still pays for what it signed).
fn flush_idle(shared: &Shared) {
    let now = depin_core_now_ms();
    let idle: Vec<UsageReceipt> = {
        let mut sessions = shared.sessions.lock().expect("lock");
        let keys: Vec<_> = sessions
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_ms) > SESSION_IDLE_MS)
            .map(|(k, _)| *k)
            .collect();
        keys.iter()
            .filter_map(|k| sessions.remove(k).and_then(|s| s.paid))
            .collect()
    };
    for r in idle {
        if let Err(e) = submit(shared, r) {
            eprintln!("an idle session's receipt was not settled: {e:#}");
        }
    }
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn read_reply(mut resp: ureq::http::Response<ureq::Body>, limit: u64) -> Result<(u16, Vec<u8>)> {
    let status = resp.status().as_u16();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .context("reading the provider's answer")?;
    Ok((status, bytes))
}

fn error_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// The device address of the provider at `url`.
pub fn provider_info(url: &str) -> Result<Address> {
    let resp = http()
        .get(format!("{}/v1/info", url.trim_end_matches('/')))
        .call()
        .with_context(|| format!("cannot reach the storage provider at {url}"))?;
    let (status, body) = read_reply(resp, MAX_JSON_BYTES)?;
    if status != 200 {
        bail!(
            "the provider at {url} answered {status}: {}",
            error_of(&body)
        );
    }
    let v: Value = serde_json::from_slice(&body)?;
    v["device"]
        .as_str()
        .context("the provider's info has no device")?
        .parse()
        .context("the provider's device is not an address")
}

/// Uploads a shard to the provider at `url` and gets the terms it signed.
pub fn upload_shard(
    url: &str,
    shard: &[u8],
    client: &Address,
    periods: u32,
    price: u128,
    valid_until: u64,
) -> Result<(DealTerms, Signature)> {
    let target = format!(
        "{}/v1/shards?client={client}&periods={periods}&price={price}&valid_until={valid_until}",
        url.trim_end_matches('/')
    );
    let resp = http()
        .post(&target)
        .header("content-type", "application/octet-stream")
        .send(shard)
        .with_context(|| format!("cannot reach the storage provider at {url}"))?;
    let (status, body) = read_reply(resp, MAX_JSON_BYTES)?;
    if status != 200 {
        bail!(
            "the provider at {url} refused the shard ({status}): {}",
            error_of(&body)
        );
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok((
        serde_json::from_value(v["terms"].clone()).context("the provider's answer has no terms")?,
        serde_json::from_value(v["provider_signature"].clone())
            .context("the provider's answer has no signature")?,
    ))
}

/// How a retrieval from one provider went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// Every byte, each group verified against the root; `paid` bytes were signed for.
    Whole { bytes: Vec<u8>, paid: u64 },
    /// The provider could not be reached, did not have the shard, or sent bytes that do not
    /// verify; `paid` bytes (verified ones) were signed for before it failed.
    Failed { why: String, paid: u64 },
}

/// Retrieves the shard `root` of `size` bytes from the provider `device` at `url`, paying as
/// it goes: every group is checked against the root before it is signed for.
pub fn fetch_shard(
    url: &str,
    chain_id: &str,
    payer: &Keypair,
    device: &Address,
    root: &Hash,
    size: u64,
) -> Fetched {
    let session_ms = depin_core_now_ms();
    let mut out: Vec<u8> = Vec::with_capacity(size as usize);
    let mut receipt: Option<UsageReceipt> = None;
    let sign = |bytes: u64| {
        let mut r = UsageReceipt {
            payer: payer.address(),
            device: *device,
            start_ms: session_ms,
            end_ms: session_ms + 1,
            packets: 0,
            bytes,
            payer_signature: Signature([0; 64]),
            device_signature: Signature([0; 64]),
        };
        r.payer_signature = payer.sign(&r.message(chain_id));
        r
    };
    let n = group_count(size);
    let mut next = 0u64;
    let agent = http();
    let base = url.trim_end_matches('/');
    while next < n {
        let req = RetrieveRequest {
            root: *root,
            first_group: next,
            groups: MAX_SEGMENT_GROUPS.min(n - next),
            payer: payer.address(),
            session_ms,
            receipt: receipt.clone(),
        };
        let reply = agent
            .post(format!("{base}/v1/retrieve"))
            .header("content-type", "application/json")
            .send(serde_json::to_vec(&req).expect("json").as_slice())
            .map_err(anyhow::Error::from)
            .and_then(|r| read_reply(r, MAX_SEGMENT_GROUPS * (GROUP_BYTES + 2048)));
        let (status, body) = match reply {
            Ok(r) => r,
            Err(e) => {
                return Fetched::Failed {
                    why: format!("cannot reach {url}: {e:#}"),
                    paid: close(&agent, base, &receipt),
                };
            }
        };
        if status != 200 {
            return Fetched::Failed {
                why: format!("{url} answered {status}: {}", error_of(&body)),
                paid: close(&agent, base, &receipt),
            };
        }
        match verify_segment(root, size, next, req.groups, &body) {
            Ok(bytes) => {
                out.extend_from_slice(&bytes);
                next += req.groups;
                receipt = Some(sign(out.len() as u64));
            }
            Err(why) => {
                return Fetched::Failed {
                    why: format!("{url} sent bytes that are not the shard's: {why}"),
                    paid: close(&agent, base, &receipt),
                };
            }
        }
    }
    Fetched::Whole {
        paid: close(&agent, base, &receipt),
        bytes: out,
    }
}

/// Sends the session's last receipt (the provider submits it); the bytes it covers.
fn close(agent: &ureq::Agent, base: &str, receipt: &Option<UsageReceipt>) -> u64 {
    let Some(r) = receipt else { return 0 };
    let sent = agent
        .post(format!("{base}/v1/receipts"))
        .header("content-type", "application/json")
        .send(serde_json::to_vec(r).expect("json").as_slice());
    if let Err(e) = sent {
        // The provider went away: it still holds the receipt before this one, and this one
        // was never handed over.
        eprintln!("the last receipt could not be handed to the provider: {e}");
    }
    r.bytes
}

/// Splits and checks a segment (`[path length][path][group bytes]` per group).
fn verify_segment(
    root: &Hash,
    size: u64,
    first: u64,
    groups: u64,
    body: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let mut at = 0usize;
    let mut out = Vec::new();
    for g in first..first + groups {
        let path_len = *body.get(at).ok_or("the segment is cut short")? as usize;
        at += 1;
        let path_end = at + path_len * 32;
        let path: Vec<Hash> = body
            .get(at..path_end)
            .ok_or("the segment is cut short")?
            .chunks(32)
            .map(|c| Hash(c.try_into().expect("32 bytes")))
            .collect();
        at = path_end;
        let len = group_len(size, g) as usize;
        let bytes = body.get(at..at + len).ok_or("the segment is cut short")?;
        at += len;
        verify_group(root, size, g, bytes, &path).map_err(|f| format!("group {g}: {f:?}"))?;
        out.extend_from_slice(bytes);
    }
    if at != body.len() {
        return Err("the segment has bytes past its last group".into());
    }
    Ok(out)
}

/// The shard file `root` under `dir` (where uploads are kept).
pub fn shard_file(dir: &Path, root: &Hash) -> PathBuf {
    dir.join(format!("{}.shard", root.to_hex()))
}

/// The mark beside an uploaded shard whose deal has not opened yet: the height its offer is
/// valid until.
pub fn pending_file(dir: &Path, root: &Hash) -> PathBuf {
    dir.join(format!("{}.pending", root.to_hex()))
}

fn read_pending(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// An uploaded shard waiting for its deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub root: Hash,
    pub size: u64,
    /// The offer's last height; 0 if the mark could not be read (treated as expired).
    pub valid_until: u64,
}

/// Every upload of `dir` still waiting for its deal.
pub fn pending_uploads(dir: &Path) -> Result<Vec<PendingUpload>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry?.path();
        let Some(root) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pending"))
            .and_then(|hex| hex.parse::<Hash>().ok())
        else {
            continue;
        };
        let size = std::fs::metadata(shard_file(dir, &root)).map_or(0, |m| m.len());
        out.push(PendingUpload {
            root,
            size,
            valid_until: read_pending(&path).unwrap_or(0),
        });
    }
    out.sort_by_key(|p| p.root);
    Ok(out)
}

/// Settles the uploads of `dir` waiting for a deal, given the roots of every deal the ledger
/// has for this provider (read at or after `height`): an upload whose deal opened keeps its
/// shard and loses its mark; one whose offer expired before `height` (no deal can open on it
/// any more) is deleted. Returns the deleted ones.
pub fn drop_unopened(
    dir: &Path,
    deal_roots: &std::collections::BTreeSet<Hash>,
    height: u64,
) -> Result<Vec<PendingUpload>> {
    let mut dropped = Vec::new();
    for p in pending_uploads(dir)? {
        let mark = pending_file(dir, &p.root);
        if deal_roots.contains(&p.root) {
            std::fs::remove_file(&mark).with_context(|| format!("removing {}", mark.display()))?;
        } else if p.valid_until < height {
            let shard = shard_file(dir, &p.root);
            if shard.exists() {
                std::fs::remove_file(&shard)
                    .with_context(|| format!("removing {}", shard.display()))?;
            }
            std::fs::remove_file(&mark).with_context(|| format!("removing {}", mark.display()))?;
            dropped.push(p);
        }
    }
    Ok(dropped)
}
