//! `depin credits ...` and the credit queries: burn tokens for credits at the oracle's minting
//! price, delegate credits to a payer, and show an account's credits or a device's paid traffic.

use anyhow::{Context, Result, bail};
use depin_agent::client::Client;
use depin_core::economics::credits::PRICE_DECIMALS;
use depin_core::economics::{CreditPeg, TokenPrice, tokens_for_credits};
use depin_core::modules::demand::actions::{BuyCredits, DelegateCredits};
use depin_core::{Action, Amount};
use depin_node::Home;
use serde_json::Value;

use crate::{ChainInfo, chain_info, resolve, send_action};

#[derive(clap::Subcommand)]
pub enum CreditsCmd {
    /// Burn tokens for credits at the oracle's minting price. With --credits or --usd the tokens
    /// are computed from the current quote and the purchase is refused rather than buy fewer.
    Buy {
        #[command(flatten)]
        amount: BuyAmount,
        /// Account that receives the credits: address or key name [default: the buyer].
        #[arg(long)]
        to: Option<String>,
        /// With --tokens: refuse rather than buy fewer credits than this.
        #[arg(long, requires = "tokens")]
        min_credits: Option<u128>,
        /// Key in --home that burns the tokens.
        #[arg(long, default_value = "faucet")]
        key: String,
    },
    /// Hand credits this key holds to a payer, who may spend them on data transfer only.
    Delegate {
        /// Payer: address or key name.
        payer: String,
        /// Whole credits.
        credits: u128,
        /// Key in --home whose credits are delegated.
        #[arg(long, default_value = "faucet")]
        key: String,
    },
}

/// What to buy: exactly one of tokens to burn, credits wanted, or their USD value.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct BuyAmount {
    /// Whole tokens to burn, e.g. 12.5.
    #[arg(long)]
    tokens: Option<String>,
    /// Credits wanted; at least this many are bought.
    #[arg(long)]
    credits: Option<u128>,
    /// USD worth of credits at the peg, e.g. 40 (rounded down to whole credits).
    #[arg(long)]
    usd: Option<String>,
}

pub fn run(home: &Home, client: &Client, cmd: &CreditsCmd, json_out: bool) -> Result<()> {
    let info = chain_info(client)?;
    match cmd {
        CreditsCmd::Buy {
            amount,
            to,
            min_credits,
            key,
        } => buy(
            home,
            client,
            &info,
            amount,
            to.as_deref(),
            *min_credits,
            key,
            json_out,
        ),
        CreditsCmd::Delegate {
            payer,
            credits,
            key,
        } => {
            let signer = home.load_key(key)?;
            let action = Action::DelegateCredits(DelegateCredits {
                payer: resolve(home, payer)?,
                credits: *credits,
            });
            if let Some(status) =
                send_action(client, &info, &signer, key, action, None, false, json_out)?
                && !json_out
            {
                println!(
                    "delegated {credits} credits from {key} to {payer} in block {}; {payer} may spend them on data transfer only",
                    status["height"]
                );
            }
            Ok(())
        }
    }
}

/// The ledger's quote as the CLI needs it to convert credits to tokens.
struct Quote {
    minting: TokenPrice,
    peg: CreditPeg,
}

fn raw_u64(v: &Value, what: &str) -> Result<u64> {
    v.as_u64()
        .with_context(|| format!("/v1/oracle has no {what}: {v}"))
}

/// The credit peg, from `GET /v1/oracle`.
fn peg(client: &Client) -> Result<CreditPeg> {
    let o = client.get("/v1/oracle")?;
    Ok(CreditPeg(raw_u64(&o["credit_usd"]["raw"], "credit peg")?))
}

/// `GET /v1/oracle`, or an error that says why there is no price and what to do.
fn quote(client: &Client) -> Result<Quote> {
    let o = client.get("/v1/oracle")?;
    let peg = CreditPeg(raw_u64(&o["credit_usd"]["raw"], "credit peg")?);
    if o["quote"].is_null() {
        bail!(
            "no_oracle_price: the ledger has no fresh oracle price ({} fresh of the {} needed), so credits cannot be priced; an oracle submits one with `depin oracle price submit PRICE_USD`",
            o["fresh_prices"],
            o["min_oracle_prices"]
        );
    }
    Ok(Quote {
        minting: TokenPrice(raw_u64(&o["quote"]["minting"]["raw"], "minting price")?),
        peg,
    })
}

fn credits_field(doc: &Value, field: &str) -> u128 {
    doc[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
fn buy(
    home: &Home,
    client: &Client,
    info: &ChainInfo,
    amount: &BuyAmount,
    to: Option<&str>,
    min_credits: Option<u128>,
    key: &str,
    json_out: bool,
) -> Result<()> {
    let signer = home.load_key(key)?;
    let to_label = to.unwrap_or(key);
    let to = match to {
        Some(who) => resolve(home, who)?,
        None => signer.address(),
    };
    let wanted = match (&amount.tokens, amount.credits, &amount.usd) {
        (_, Some(credits), _) => Some(credits),
        (_, _, Some(usd)) => {
            let usd_units = TokenPrice::parse(usd)?.0;
            let peg = peg(client)?;
            let credits = u128::from(usd_units / peg.0);
            if credits == 0 {
                bail!(
                    "${usd} buys no whole credit at the peg of one credit per {} USD units (10^-8); ask for more",
                    peg.0
                );
            }
            Some(credits)
        }
        _ => None,
    };
    let (tokens, min_credits) = match (wanted, &amount.tokens) {
        (Some(credits), _) => {
            let q = quote(client)?;
            let tokens = tokens_for_credits(credits, q.minting, info.decimals, q.peg)?;
            (tokens, credits)
        }
        (None, Some(tokens)) => (
            Amount::parse(tokens, info.decimals)?,
            min_credits.unwrap_or(0),
        ),
        (None, None) => bail!("give --tokens X, --credits N or --usd D"),
    };
    let before = client.get(&format!("/v1/credits/{to}"))?;
    let action = Action::BuyCredits(BuyCredits {
        tokens,
        min_credits,
        to,
    });
    let Some(status) = send_action(client, info, &signer, key, action, None, false, json_out)?
    else {
        return Ok(());
    };
    if json_out {
        return Ok(());
    }
    // The receipt says only "success": the credits minted are the recipient's `bought` delta.
    let after = client.get(&format!("/v1/credits/{to}"))?;
    let bought = credits_field(&after, "bought").saturating_sub(credits_field(&before, "bought"));
    println!(
        "bought {bought} credits for {to_label} (${} at the peg), burning {} {} from {key}, in block {} (tx {})",
        usd_of(bought, peg(client)?),
        tokens.display(info.decimals),
        info.symbol,
        status["height"],
        status["hash"].as_str().unwrap_or("?")
    );
    println!(
        "{to_label} now holds {} credits of its own",
        credits_field(&after, "own")
    );
    Ok(())
}

/// USD text of `credits` at `peg`.
fn usd_of(credits: u128, peg: CreditPeg) -> String {
    credits
        .checked_mul(u128::from(peg.0))
        .map_or_else(|| "?".into(), |units| Amount(units).display(PRICE_DECIMALS))
}

/// `depin query credits WHO`.
pub fn show(home: &Home, client: &Client, who: &str, json_out: bool) -> Result<()> {
    let address = resolve(home, who)?;
    let c = client.get(&format!("/v1/credits/{address}"))?;
    if json_out {
        println!("{c}");
        return Ok(());
    }
    println!("address      {address}");
    if c["known"] != true {
        println!(
            "credits      none: {who} has never held credits; buy some with `depin credits buy --credits N --key NAME --to {who}`"
        );
        return Ok(());
    }
    let n = |f: &str| credits_field(&c, f);
    println!(
        "credits      {} own + {} delegated = {} spendable on data (${})",
        n("own"),
        n("delegated"),
        n("spendable_on_data"),
        c["usd_value"].as_str().unwrap_or("?")
    );
    println!(
        "             {} spendable on fees (own credits only)",
        n("spendable_on_fees")
    );
    println!(
        "totals       bought {}, delegated out {}, spent on data {}, spent on fees {}",
        n("bought"),
        n("delegated_out"),
        n("spent_on_data"),
        n("spent_on_fees")
    );
    for d in c["delegations"].as_array().into_iter().flatten() {
        println!(
            "delegated    {} credits to {}",
            d["credits"].as_str().unwrap_or("?"),
            d["payer"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// `depin query usage DEVICE`: paid traffic in the epoch in progress.
pub fn usage(home: &Home, client: &Client, device: &str, json_out: bool) -> Result<()> {
    let address = resolve(home, device)?;
    let u = client.get(&format!("/v1/usage/{address}"))?;
    if json_out {
        println!("{u}");
        return Ok(());
    }
    println!(
        "device {address}, epoch {} (closes at height {})",
        u["epoch"], u["epoch_closes_at_height"]
    );
    println!(
        "  {} receipts: {} packets, {} bytes, {} credits burned (${})",
        u["receipts"],
        u["packets"],
        u["bytes"],
        u["credits"].as_str().unwrap_or("0"),
        u["usd_value"].as_str().unwrap_or("0")
    );
    Ok(())
}
