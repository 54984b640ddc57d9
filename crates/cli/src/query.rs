//! `depin query ...`: read the chain (status, accounts, blocks, transactions, rewards, epochs,
//! credits, usage).

use anyhow::{Result, bail};
use clap::Subcommand;
use depin_agent::client::Client;
use depin_core::{Amount, Hash};
use depin_node::Home;
use serde_json::Value;

use crate::submit::chain_info;
use crate::{credits, device};

/// Subcommands of `depin query`.
#[derive(Subcommand)]
pub enum QueryCmd {
    /// Chain status.
    Status,
    /// What transactions cost now: the base fee, the block limits, a transfer's fee.
    Fees,
    /// An account's balance and nonce (address or key name).
    Account { who: String },
    /// A block with its receipts [default: the latest].
    Block {
        /// Block height, from 1 (the first block) to the chain's height [default: the latest].
        #[arg(allow_hyphen_values = true)]
        height: Option<String>,
    },
    /// A transaction's status, sender, action, recipient, amount, fee and receipt.
    Tx {
        /// The transaction's hash (64 hex digits), as `depin tx` printed it.
        hash: String,
    },
    /// Why a device earned what it earned in an epoch: units, scale, multipliers, share, amount
    /// and every rejected report with its reason.
    Rewards {
        #[arg(long)]
        epoch: u64,
        /// Device address or key name.
        #[arg(long)]
        device: String,
    },
    /// An epoch's emission, pools, report outcomes and top earners [default: the last closed].
    Epoch { epoch: Option<u64> },
    /// An account's credits, what it can spend them on, and the delegations it made.
    Credits {
        /// Address or key name.
        who: String,
    },
    /// A device's paid traffic and credits burned in the epoch in progress.
    Usage {
        /// Device address or key name.
        device: String,
    },
}

/// A block height typed on the command line, with an error that says what a height is.
fn parse_height(text: &str) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(h) if h >= 1 => Ok(h),
        _ => bail!(
            "'{text}' is not a block height: give a whole number from 1 (the first block) up to the chain's height (`depin query status`), or nothing for the latest block"
        ),
    }
}

/// An amount the API sends as a decimal string of base units (0 if absent).
fn amount_of(v: &Value) -> Amount {
    Amount(v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
}

/// Runs `depin query ...`.
pub fn run(home: &Home, client: &Client, cmd: &QueryCmd, json_out: bool) -> Result<()> {
    match cmd {
        QueryCmd::Status => {
            let s = client.get("/v1/status")?;
            if json_out {
                println!("{s}");
            } else {
                let decimals = s["token"]["decimals"].as_u64().unwrap_or(0) as u8;
                println!("chain         {}", s["chain_id"].as_str().unwrap_or("?"));
                println!("node          {}", client.base());
                println!("height        {}", s["height"]);
                println!(
                    "epoch         {} ({} blocks each)",
                    s["epoch"], s["epoch_length_blocks"]
                );
                println!("block hash    {}", s["block_hash"].as_str().unwrap_or("?"));
                println!("app hash      {}", s["app_hash"].as_str().unwrap_or("?"));
                println!(
                    "supply        {} {}",
                    amount_of(&s["total_supply"]).display(decimals),
                    s["token"]["symbol"].as_str().unwrap_or("?")
                );
                println!("accounts      {}", s["accounts"]);
                println!("mempool       {} txs", s["mempool"]["txs"]);
            }
        }
        QueryCmd::Fees => {
            let f = client.get("/v1/fees")?;
            if json_out {
                println!("{f}");
            } else {
                let scale = f["base_fee_scale"].as_u64().unwrap_or(1).max(1) as f64;
                let unit = f["fee_unit"].as_str().unwrap_or("fee units");
                let per_1000 = |v: &Value| v.as_u64().unwrap_or(0) as f64 * 1000.0 / scale;
                println!(
                    "base fee      {} {unit} per 1,000 weight (minimum {})",
                    per_1000(&f["base_fee"]),
                    per_1000(&f["min_base_fee"])
                );
                println!(
                    "a transfer    weighs {}, costs {} {unit}; offer up to {} (--max-fee)",
                    f["transfer"]["weight"],
                    f["transfer"]["fee"],
                    f["transfer"]["suggested_max_fee"]
                );
                println!(
                    "block limits  {} weight, {} bytes",
                    f["max_block_weight"], f["max_block_bytes"]
                );
                if let Some(floor) = f["mempool_min_tip_per_1000_weight"].as_u64() {
                    println!(
                        "mempool full  tip more than {floor} {unit} per 1,000 weight to get in (--tip)"
                    );
                }
            }
        }
        QueryCmd::Account { who } => {
            let address = crate::keys::resolve_device(home, client, who)?;
            let info = chain_info(client)?;
            let Some(a) = client.get_opt(&format!("/v1/accounts/{address}"))? else {
                bail!(
                    "account {address} has never held tokens on {}",
                    info.chain_id
                );
            };
            if json_out {
                println!("{a}");
            } else {
                println!("address   {address}");
                println!(
                    "balance   {} {}",
                    amount_of(&a["balance"]).display(info.decimals),
                    info.symbol
                );
                println!("nonce     {}", a["nonce"]);
            }
        }
        QueryCmd::Block { height } => {
            let path = match height {
                Some(h) => format!("/v1/blocks/{}", parse_height(h)?),
                None => "/v1/blocks/latest".to_string(),
            };
            let Some(b) = client.get_opt(&path)? else {
                bail!("no block there yet; `depin query status` shows the height");
            };
            if json_out {
                println!("{b}");
            } else {
                let h = &b["header"];
                println!(
                    "block {}  {}",
                    h["height"],
                    b["hash"].as_str().unwrap_or("?")
                );
                println!("  time      {} ms", h["time_ms"]);
                println!("  proposer  {}", h["proposer"].as_str().unwrap_or("?"));
                println!("  app hash  {}", h["app_hash"].as_str().unwrap_or("?"));
                let txs = b["txs"].as_array().cloned().unwrap_or_default();
                println!("  {} transactions", txs.len());
                for t in txs.iter().take(50) {
                    let outcome = if t["receipt"]["success"] == true {
                        "ok".to_string()
                    } else {
                        format!(
                            "refused: {}",
                            t["receipt"]["rejection"]["code"].as_str().unwrap_or("?")
                        )
                    };
                    println!("    {}  {}", t["hash"].as_str().unwrap_or("?"), outcome);
                }
            }
        }
        QueryCmd::Rewards { epoch, device } => {
            device::rewards(home, client, *epoch, device, json_out)?
        }
        QueryCmd::Epoch { epoch } => device::epoch(client, *epoch, json_out)?,
        QueryCmd::Credits { who } => credits::show(home, client, who, json_out)?,
        QueryCmd::Usage { device } => credits::usage(home, client, device, json_out)?,
        QueryCmd::Tx { hash } => {
            let hash: Hash = hash.parse()?;
            let Some(t) = client.get_opt(&format!("/v1/tx/{hash}"))? else {
                bail!(
                    "no transaction {hash} is pending or committed on {}",
                    client.base()
                );
            };
            if json_out {
                println!("{t}");
            } else {
                println!("tx       {hash}");
                println!("status   {}", t["status"].as_str().unwrap_or("?"));
                if t["status"] == "committed" {
                    let info = chain_info(client)?;
                    let tx = &t["tx"];
                    let action = &tx["action"];
                    println!("block    {} (index {})", t["height"], t["index"]);
                    println!("sender   {}", tx["signer"].as_str().unwrap_or("?"));
                    println!("action   {}", action["type"].as_str().unwrap_or("?"));
                    if let Some(to) = action["to"].as_str() {
                        println!("to       {to}");
                    }
                    if action["amount"].is_string() {
                        println!(
                            "amount   {} {}",
                            amount_of(&action["amount"]).display(info.decimals),
                            info.symbol
                        );
                    }
                    println!(
                        "fee      {} {} (offered at most {})",
                        t["fee"]["charged"], info.fee_unit, t["fee"]["max_fee"]
                    );
                    let r = &t["receipt"];
                    if r["success"] == true {
                        println!("receipt  success");
                    } else {
                        println!(
                            "receipt  refused: {} ({})",
                            r["rejection"]["code"].as_str().unwrap_or("?"),
                            r["rejection"]["message"].as_str().unwrap_or("?")
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
