//! Signing a transaction, submitting it to the node and waiting for its block: what every
//! command that changes the chain shares.

use std::time::{Duration, Instant};

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use depin_agent::client::{Client, Signer};
use depin_core::services::fees::suggested_max_fee;
use depin_core::tx::{Network, Offer};
use depin_core::{Action, Hash, Keypair, Transaction};
use serde_json::{Value, json};

/// The `--max-fee` and `--tip` the user gave, if any (set once by `main`).
pub static FEE_CHOICE: OnceLock<(Option<u64>, u64)> = OnceLock::new();

/// What commands need to know of the chain they sign for.
pub struct ChainInfo {
    pub chain_id: String,
    pub symbol: String,
    pub decimals: u8,
    /// Name and genesis hash: what signatures are bound to.
    pub network: Network,
    /// The base fee when the command started, and the unit fees are paid in.
    pub base_fee: u64,
    pub fee_unit: String,
}

/// The chain's id, token and fees, read from the node's status.
pub fn chain_info(client: &Client) -> Result<ChainInfo> {
    let s = client.get("/v1/status")?;
    let signer = Signer::from_status(&s)?;
    let symbol = s["token"]["symbol"].as_str().unwrap_or("?").to_string();
    let fee_unit = s["fee_unit"].as_str().unwrap_or("fee units").to_string();
    Ok(ChainInfo {
        chain_id: signer.network.chain_id.clone(),
        symbol,
        decimals: s["token"]["decimals"].as_u64().unwrap_or(0) as u8,
        base_fee: s["base_fee"].as_u64().unwrap_or(0),
        network: signer.network,
        fee_unit,
    })
}

impl ChainInfo {
    /// `action` signed by `key` with `--tip` (0 by default), offering `--max-fee` if given, else
    /// twice what its weight costs at the current base fee plus the tip (it pays only the base
    /// fee of its block and the tip).
    pub fn sign(&self, key: &Keypair, nonce: u64, action: Action) -> Transaction {
        let (max_fee, tip) = FEE_CHOICE.get().copied().unwrap_or_default();
        Transaction::sign_for(&self.network, key, nonce, action, |weight| Offer {
            max: max_fee
                .unwrap_or_else(|| suggested_max_fee(self.base_fee, weight).saturating_add(tip)),
            tip,
        })
    }

    /// "fee 4 credits" for a committed transaction's status.
    pub fn fee_of(&self, status: &Value) -> String {
        format!(
            "fee {} {}",
            status["fee"]["charged"].as_u64().unwrap_or(0),
            self.fee_unit
        )
    }
}

/// Signs `action` with `key` (named `key_name` in messages), submits it and, unless `no_wait`,
/// waits for its block. Returns the committed status of a successful transaction (`None` when
/// not waiting); a refusal in the block is an error with the reason's code and sentence. With
/// `json_out` the status is printed here.
#[allow(clippy::too_many_arguments)]
pub fn send_action(
    client: &Client,
    info: &ChainInfo,
    key: &Keypair,
    key_name: &str,
    action: Action,
    nonce: Option<u64>,
    no_wait: bool,
    json_out: bool,
) -> Result<Option<Value>> {
    let nonce = match nonce {
        Some(n) => n,
        None => match client.get_opt(&format!("/v1/accounts/{}", key.address()))? {
            Some(a) => a["nonce"].as_u64().unwrap_or(0),
            None => bail!(
                "account '{key_name}' ({}) has never held tokens on {}; fund it first",
                key.address(),
                info.chain_id
            ),
        },
    };
    let tx = info.sign(key, nonce, action);
    let accepted = client.post_json("/v1/tx", &serde_json::to_value(&tx)?)?;
    let hash: Hash = accepted["hash"]
        .as_str()
        .context("node did not return a hash")?
        .parse()?;
    if no_wait {
        if json_out {
            println!("{}", json!({"hash": hash, "status": "pending"}));
        } else {
            println!("submitted {hash} (nonce {nonce}); check it with `depin query tx {hash}`");
        }
        return Ok(None);
    }
    let status = wait_for_commit(client, &hash, Duration::from_secs(60))?;
    if json_out {
        println!("{status}");
    }
    let receipt = &status["receipt"];
    if receipt["success"].as_bool() == Some(true) {
        Ok(Some(status))
    } else {
        bail!(
            "transaction {hash} was included in block {} but refused ({}): {}",
            status["height"],
            receipt["rejection"]["code"].as_str().unwrap_or("?"),
            receipt["rejection"]["message"].as_str().unwrap_or("?")
        )
    }
}

/// The status of transaction `hash` once it is committed in a block; an error after `timeout`.
fn wait_for_commit(client: &Client, hash: &Hash, timeout: Duration) -> Result<Value> {
    let start = Instant::now();
    loop {
        if let Some(s) = client.get_opt(&format!("/v1/tx/{hash}"))?
            && s["status"] == "committed"
        {
            return Ok(s);
        }
        if start.elapsed() > timeout {
            bail!(
                "transaction {hash} is not in a block after {timeout:?}; check `depin query tx {hash}` later"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
