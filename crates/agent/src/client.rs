//! A small blocking client for the node's HTTP API, turning API errors into sentences.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::services::fees::fee_for;
use depin_core::tx::{Network, Offer};
use depin_core::{Action, Address, Hash, Keypair, Transaction};
use serde_json::Value;

/// Transactions per batch request (the node accepts up to 10,000).
const MAX_BATCH: usize = 5_000;

/// Largest answer read, bytes: a block of a busy devnet holds tens of thousands of reports.
const MAX_ANSWER_BYTES: u64 = 512 << 20;

/// Talks to one node.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET a JSON document; `Ok(None)` on 404.
    pub fn get_opt(&self, path: &str) -> Result<Option<Value>> {
        self.get_with(path, true)
    }

    /// GET a JSON document that must exist; a 404 is an error carrying the node's reason.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.get_with(path, false)?
            .with_context(|| format!("{path} returned nothing on {}", self.base))
    }

    fn get_with(&self, path: &str, none_on_404: bool) -> Result<Option<Value>> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        self.read(resp, none_on_404)
    }

    /// The nonce of `address`'s next transaction, or `None` when the account does not exist.
    pub fn nonce(&self, address: &Address) -> Result<Option<u64>> {
        let Some(account) = self.get_opt(&format!("/v1/accounts/{address}"))? else {
            return Ok(None);
        };
        account["nonce"]
            .as_u64()
            .map(Some)
            .with_context(|| format!("the account {address} has no nonce"))
    }

    /// POST a JSON body; API errors become `Err` with the node's code and message.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| self.unreachable(e))?;
        Ok(self.read(resp, false)?.unwrap_or(Value::Null))
    }

    /// Submits signed transactions in one binary batch (`POST /v1/txs`, canonical
    /// `Vec<Transaction>`); one verdict per transaction, in order: its hash or the node's refusal.
    pub fn submit(
        &self,
        txs: &[depin_core::Transaction],
    ) -> Result<Vec<std::result::Result<depin_core::Hash, depin_core::Explained>>> {
        use depin_core::Encode;
        let mut out = Vec::with_capacity(txs.len());
        for chunk in txs.chunks(MAX_BATCH) {
            let url = format!("{}/v1/txs", self.base);
            let resp = self
                .agent
                .post(&url)
                .header("content-type", "application/octet-stream")
                .send(chunk.to_vec().to_bytes())
                .map_err(|e| self.unreachable(e))?;
            let reply = self.read(resp, false)?.unwrap_or(Value::Null);
            let results = reply["results"]
                .as_array()
                .context("the node's batch answer has no results")?;
            for r in results {
                out.push(match r.get("hash").and_then(Value::as_str) {
                    Some(h) => Ok(h.parse().context("the node returned a bad hash")?),
                    None => Err(serde_json::from_value(r["error"].clone())
                        .context("the node's refusal has no code")?),
                });
            }
        }
        Ok(out)
    }

    fn read(
        &self,
        mut resp: ureq::http::Response<ureq::Body>,
        none_on_404: bool,
    ) -> Result<Option<Value>> {
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .context("reading the node's answer")?;
        if status == 404 && none_on_404 {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let code = value["error"]["code"].as_str().unwrap_or("http_error");
            let message = value["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            bail!("node refused ({status} {code}): {message}");
        }
        Ok(Some(value))
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "{UNREACHABLE} a node at {} ({e}); start one with `depin devnet` or pass --node URL",
            self.base
        )
    }
}

/// How every error from a node that cannot be reached begins.
const UNREACHABLE: &str = "cannot reach";

/// Whether `e` says the node cannot be reached (it was stopped, or never started).
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains(UNREACHABLE)
}

/// Runs `step` over and over on behalf of a background agent named `agent`: each distinct error
/// is printed once and followed by `pause_after_error`, and the loop ends quietly when the node
/// cannot be reached (the devnet was stopped).
pub fn keep_running(
    agent: &str,
    pause_after_error: Duration,
    mut step: impl FnMut() -> Result<()>,
) {
    let mut last_error = String::new();
    loop {
        match step() {
            Ok(()) => {}
            Err(e) if is_unreachable(&e) => return,
            Err(e) => {
                let text = format!("{e:#}");
                if text != last_error {
                    println!("{agent}: {text}; retrying");
                    last_error = text;
                }
                std::thread::sleep(pause_after_error);
            }
        }
    }
}

/// How far above the base fee seen when an agent started its transactions offer to pay: enough
/// for about 18 full blocks of rising base fee before they wait (they only ever pay the base fee
/// of their block).
pub const FEE_HEADROOM: u64 = 8;

/// What an agent signs its transactions for: the node's network (name and genesis hash, both
/// in every signature) and the base fee it offers a multiple of.
#[derive(Clone, Debug)]
pub struct Signer {
    pub network: Network,
    base_fee: u64,
}

impl Signer {
    /// From the node's `GET /v1/status`.
    pub fn from_status(status: &Value) -> Result<Signer> {
        let chain_id = status["chain_id"]
            .as_str()
            .context("status has no chain_id")?
            .to_string();
        let genesis_hash = status["genesis_hash"]
            .as_str()
            .and_then(|h| h.parse::<Hash>().ok())
            .context("status has no genesis_hash")?;
        let base_fee = status["base_fee"]
            .as_u64()
            .context("status has no base_fee (a node from before fees?)")?;
        Ok(Signer {
            network: Network {
                chain_id,
                genesis_hash,
            },
            base_fee,
        })
    }

    /// Asks the node.
    pub fn fetch(client: &Client) -> Result<Signer> {
        Signer::from_status(&client.get("/v1/status")?)
    }

    /// `action` signed by `key` with `nonce`, offering [`FEE_HEADROOM`] times its fee now.
    pub fn sign(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        Transaction::sign_for(&self.network, key, nonce, action, |weight| Offer {
            max: fee_for(self.base_fee.saturating_mul(FEE_HEADROOM), weight),
            tip: 0,
        })
    }
}
