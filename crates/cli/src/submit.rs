//! Signing a transaction, submitting it to the node and waiting for its block: what every
//! command that changes the chain shares.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::{Action, Hash, Keypair, Transaction};
use serde_json::{Value, json};

/// What commands need to know of the chain they sign for.
pub struct ChainInfo {
    pub chain_id: String,
    pub symbol: String,
    pub decimals: u8,
}

/// The chain's id and token, read from the node's status.
pub fn chain_info(client: &Client) -> Result<ChainInfo> {
    let s = client.get("/v1/status")?;
    Ok(ChainInfo {
        chain_id: s["chain_id"]
            .as_str()
            .context("status has no chain_id")?
            .to_string(),
        symbol: s["token"]["symbol"].as_str().unwrap_or("?").to_string(),
        decimals: s["token"]["decimals"].as_u64().unwrap_or(0) as u8,
    })
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
    let tx = Transaction::sign(&info.chain_id, key, nonce, action);
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
