//! `depin credits ...` and the credit queries: burn tokens for credits at the oracle's minting
//! price, delegate credits to a payer, and show an account's credits or a device's paid traffic.

use anyhow::{Context, Result, anyhow, bail};
use depin_agent::client::Client;
use depin_core::economics::{CreditPeg, TokenPrice, credits_for_burn, tokens_for_credits};
use depin_core::services::demand::actions::{BuyCredits, DelegateCredits};
use depin_core::{Action, Amount};
use depin_node::Home;
use serde_json::Value;

use crate::keys::resolve;
use crate::submit::{ChainInfo, chain_info, send_action};

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
        /// With --credits or --usd: how many fewer credits than quoted to accept, in basis
        /// points (100 = 1%), if the oracle's price moves between the quote and the block; the
        /// purchase is refused below that.
        #[arg(long, default_value_t = DEFAULT_SLIPPAGE_BPS, value_parser = clap::value_parser!(u32).range(0..=5_000))]
        slippage_bps: u32,
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

/// Credits a `--credits`/`--usd` purchase may come short of its quote by, basis points: the
/// devnet's own price feed moves the price by about this much between a quote and its block.
pub const DEFAULT_SLIPPAGE_BPS: u32 = 100;

/// The fewest credits to accept for `quoted` with a tolerance of `bps` basis points (at least 1).
fn with_slippage(quoted: u128, bps: u32) -> u128 {
    let cut = quoted / 10_000 * u128::from(bps) + quoted % 10_000 * u128::from(bps) / 10_000;
    quoted.saturating_sub(cut).max(1)
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
            slippage_bps,
            key,
        } => buy(
            home,
            client,
            &info,
            amount,
            to.as_deref(),
            (*min_credits, *slippage_bps),
            key,
            json_out,
        ),
        CreditsCmd::Delegate {
            payer,
            credits,
            key,
        } => {
            let signer = home.load_key(key)?;
            let action = Action::from(DelegateCredits {
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

/// What `GET /v1/oracle` says about pricing a purchase, read once per command.
struct Oracle {
    peg: CreditPeg,
    /// The price credits are minted at; `None` while too few oracle prices are fresh.
    minting: Option<TokenPrice>,
    /// Why there is no minting price and what to do, for the error.
    no_price: String,
}

fn raw_u64(v: &Value, what: &str) -> Result<u64> {
    v.as_u64()
        .with_context(|| format!("/v1/oracle has no {what}: {v}"))
}

impl Oracle {
    fn fetch(client: &Client) -> Result<Oracle> {
        let o = client.get("/v1/oracle")?;
        let minting = if o["quote"].is_null() {
            None
        } else {
            Some(TokenPrice(raw_u64(
                &o["quote"]["minting"]["raw"],
                "minting price",
            )?))
        };
        Ok(Oracle {
            peg: CreditPeg(raw_u64(&o["credit_usd"]["raw"], "credit peg")?),
            minting,
            no_price: format!(
                "no_oracle_price: the ledger has no fresh oracle price ({} fresh of the {} needed), so credits cannot be priced; an oracle submits one with `depin oracle price submit PRICE_USD`",
                o["fresh_prices"], o["min_oracle_prices"]
            ),
        })
    }

    /// The minting price, or an error that says why there is none and what to do.
    fn minting(&self) -> Result<TokenPrice> {
        self.minting.ok_or_else(|| anyhow!("{}", self.no_price))
    }
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
    (min_credits, slippage_bps): (Option<u128>, u32),
    key: &str,
    json_out: bool,
) -> Result<()> {
    let signer = home.load_key(key)?;
    let to_label = to.unwrap_or(key);
    let to = match to {
        Some(who) => resolve(home, who)?,
        None => signer.address(),
    };
    let oracle = Oracle::fetch(client)?;
    let wanted = match (&amount.tokens, amount.credits, &amount.usd) {
        (_, Some(credits), _) => Some(credits),
        (_, _, Some(usd)) => {
            let usd_units = TokenPrice::parse(usd)?.0;
            let credits = u128::from(usd_units / oracle.peg.0);
            if credits == 0 {
                bail!(
                    "${usd} buys no whole credit at the peg of one credit per {} USD units (10^-8); ask for more",
                    oracle.peg.0
                );
            }
            Some(credits)
        }
        _ => None,
    };
    let (tokens, min_credits) = match (wanted, &amount.tokens) {
        (Some(credits), _) => {
            let minting = oracle.minting()?;
            let tokens = tokens_for_credits(credits, minting, info.decimals, oracle.peg)?;
            (tokens, with_slippage(credits, slippage_bps))
        }
        (None, Some(tokens)) => (
            Amount::parse(tokens, info.decimals)?,
            min_credits.unwrap_or(0),
        ),
        (None, None) => bail!("give --tokens X, --credits N or --usd D"),
    };
    let action = Action::from(BuyCredits {
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
    let block = format!(
        "in block {} (tx {})",
        status["height"],
        status["hash"].as_str().unwrap_or("?")
    );
    let burned = format!("{} {}", tokens.display(info.decimals), info.symbol);
    // The receipt says only "success"; the credits are computed from the quote this command
    // read, since the ledger prices at the block's own quote, which may have moved since.
    match oracle.minting {
        Some(minting) => {
            let bought = credits_for_burn(tokens, minting, info.decimals, oracle.peg)?;
            println!(
                "bought {bought} credits for {to_label} (${} at the peg), burning {burned} from {key}, {block}",
                usd_of(bought, oracle.peg)
            );
            let priced = format!(
                "{bought} credits at the quoted minting price of ${} per {}",
                minting.usd_text(),
                info.symbol
            );
            if wanted.is_some() {
                println!(
                    "  {priced}; the ledger credits at its own quote in the block and refuses below {min_credits} (--slippage-bps {slippage_bps})"
                );
            } else if min_credits > 0 {
                println!(
                    "  {priced}; the ledger credits at its own quote in the block, which may have moved (never below {min_credits})"
                );
            } else {
                println!(
                    "  {priced}; the ledger credits at its own quote in the block, which may have moved"
                );
            }
        }
        None => println!(
            "bought credits for {to_label}, burning {burned} from {key}, {block}; no quote was available when the command priced it, so the count is the ledger's: see `depin query credits {to_label}`"
        ),
    }
    let after = client.get(&format!("/v1/credits/{to}"))?;
    println!(
        "{to_label} now holds {} credits of its own",
        credits_field(&after, "own")
    );
    Ok(())
}

/// USD text of `credits` at `peg`, or `?` past 128 bits.
fn usd_of(credits: u128, peg: CreditPeg) -> String {
    peg.usd_text(credits).unwrap_or_else(|| "?".into())
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
    if c["truncated"] == true {
        println!("delegated    (the node lists only the first delegations; there are more)");
    }
    Ok(())
}

/// `depin query usage DEVICE`: paid traffic in the epoch in progress.
pub fn usage(home: &Home, client: &Client, device: &str, json_out: bool) -> Result<()> {
    let address = crate::keys::resolve_device(home, client, device)?;
    let u = client.get(&format!("/v1/usage/{address}"))?;
    if json_out {
        println!("{u}");
        return Ok(());
    }
    println!(
        "device {address}, epoch {} (closes at height {})",
        u["epoch"], u["epoch_closes_at_height"]
    );
    let closed = u["closed"] == true;
    println!(
        "  {}{} packets, {} bytes, {} credits burned (${})",
        if closed {
            String::new()
        } else {
            format!("{} receipts: ", u["receipts"])
        },
        u["packets"],
        u["bytes"],
        u["credits"].as_str().unwrap_or("0"),
        u["usd_value"].as_str().unwrap_or("?")
    );
    if closed {
        println!(
            "  the epoch closed as the node answered; its rewards: `depin query rewards --epoch {} --device {device}`",
            u["epoch"]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_takes_basis_points_off_the_quote_and_leaves_at_least_one_credit() {
        assert_eq!(with_slippage(1_000_000, 100), 990_000);
        assert_eq!(with_slippage(1_000_000, 0), 1_000_000);
        assert_eq!(with_slippage(10, 5_000), 5);
        assert_eq!(with_slippage(1, 100), 1);
        assert_eq!(with_slippage(u128::MAX, 100), u128::MAX - u128::MAX / 100);
    }
}
