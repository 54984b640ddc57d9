//! `depin oracle ...`: submit the token's USD price as an oracle, show the ledger's quote, and
//! change the oracle set with the network's emergency key (devnets; otherwise by proposal).

use anyhow::Result;
use depin_agent::client::Client;
use depin_core::Action;
use depin_core::economics::TokenPrice;
use depin_core::services::demand::actions::{SetOracle, SubmitPrice};
use depin_node::Home;
use serde_json::Value;

use crate::keys::resolve;
use crate::submit::{chain_info, send_action};

#[derive(clap::Subcommand)]
pub enum OracleCmd {
    /// Submit or show the token's USD price.
    #[command(subcommand)]
    Price(PriceCmd),
    /// Authorise a key as an oracle, or remove it (the network's emergency key only; anyone
    /// else proposes it: `depin gov propose oracle`).
    Set {
        /// Oracle: address or key name.
        oracle: String,
        /// true to authorise, false to remove.
        #[arg(long, action = clap::ArgAction::Set, required = true)]
        authorised: bool,
        /// The emergency key ([governance] emergency_key) in --home.
        #[arg(long, default_value = "emergency")]
        key: String,
    },
}

#[derive(clap::Subcommand)]
pub enum PriceCmd {
    /// Submit the USD price of one whole token, e.g. 0.5 (signed by an oracle key).
    Submit {
        /// USD per whole token, at most 8 decimals.
        price_usd: String,
        /// Oracle key in --home.
        #[arg(long, default_value = "oracle")]
        key: String,
        /// When the market was read, milliseconds since the Unix epoch [default: now].
        #[arg(long)]
        observed_at: Option<u64>,
    },
    /// The ledger's quote (median and minting price), every oracle's latest price, the credit
    /// peg and what data and fees cost in credits.
    Show,
}

pub fn run(home: &Home, client: &Client, cmd: &OracleCmd, json_out: bool) -> Result<()> {
    let (key_name, action, done) = match cmd {
        OracleCmd::Price(PriceCmd::Show) => return show(client, json_out),
        OracleCmd::Price(PriceCmd::Submit {
            price_usd,
            key,
            observed_at,
        }) => {
            let price = TokenPrice::parse(price_usd)?;
            let observed_at_ms = observed_at.unwrap_or_else(depin_node::node::now_ms);
            (
                key.clone(),
                Action::from(SubmitPrice {
                    price,
                    observed_at_ms,
                }),
                format!(
                    "oracle {key} submitted ${price_usd} per token, observed at {observed_at_ms} ms,"
                ),
            )
        }
        OracleCmd::Set {
            oracle,
            authorised,
            key,
        } => (
            key.clone(),
            Action::from(SetOracle {
                oracle: resolve(home, oracle)?,
                authorised: *authorised,
            }),
            format!(
                "{} {oracle} {} the oracle set",
                if *authorised { "added" } else { "removed" },
                if *authorised { "to" } else { "from" }
            ),
        ),
    };
    let info = chain_info(client)?;
    let key = home.load_key(&key_name)?;
    if let Some(status) = send_action(
        client, &info, &key, &key_name, action, None, false, json_out,
    )? && !json_out
    {
        println!("{done} in block {}", status["height"]);
        if matches!(cmd, OracleCmd::Price(_)) {
            let o = client.get("/v1/oracle")?;
            println!("{}", quote_line(&o));
        }
    }
    Ok(())
}

fn usd(v: &Value) -> String {
    format!("${}", v["usd"].as_str().unwrap_or("?"))
}

/// One line saying what the ledger quotes, or why it quotes nothing.
fn quote_line(o: &Value) -> String {
    let q = &o["quote"];
    if q.is_null() {
        format!(
            "no quote: {} fresh prices of the {} needed; purchases are refused (no_oracle_price) until oracles submit",
            o["fresh_prices"], o["min_oracle_prices"]
        )
    } else {
        format!(
            "quote: median {}, minting {} ({} credits per token; {} fresh prices, {} needed)",
            usd(&q["median"]),
            usd(&q["minting"]),
            q["credits_per_token"].as_str().unwrap_or("?"),
            o["fresh_prices"],
            o["min_oracle_prices"]
        )
    }
}

fn show(client: &Client, json_out: bool) -> Result<()> {
    let o = client.get("/v1/oracle")?;
    if json_out {
        println!("{o}");
        return Ok(());
    }
    let symbol = o["token"]["symbol"].as_str().unwrap_or("?");
    println!("at height {} ({} ms)", o["height"], o["time_ms"]);
    println!(
        "{}",
        quote_line(&o).replace("per token", &format!("per {symbol}"))
    );
    for x in o["oracles"].as_array().into_iter().flatten() {
        let address = x["address"].as_str().unwrap_or("?");
        if x["price"].is_null() {
            println!("  oracle {address}  no price yet");
        } else {
            println!(
                "  oracle {address}  {} observed {} s ago (block {}){}",
                usd(&x["price"]),
                x["age_ms"].as_u64().unwrap_or(0) / 1000,
                x["height"],
                if x["fresh"] == true { "" } else { "  STALE" }
            );
        }
    }
    if o["truncated"] == true {
        println!(
            "  (the node lists only the first {} oracles; the quote above covers those, and the ledger's may differ)",
            o["oracles"].as_array().map_or(0, Vec::len)
        );
    }
    let p = &o["prices"];
    println!(
        "credit peg {} per credit; data: {} credits per packet, {} per 1,000 bytes; fees: onboarding {} credits, location {} credits",
        usd(&o["credit_usd"]),
        p["packet_credits"],
        p["kb_credits"],
        p["onboard_fee_credits"],
        p["location_fee_credits"]
    );
    Ok(())
}
