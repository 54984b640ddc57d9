//! The demand market as an agent sees it: the network's demand parameters (from its genesis),
//! the ledger's oracle quote and oracle set (`GET /v1/oracle`, the quote depin-core computes at
//! the tip) and an account's credits (`GET /v1/credits/{address}`).

use anyhow::{Context, Result};
use depin_core::economics::{CreditPeg, OraclePrice, TokenPrice, tokens_for_credits};
use depin_core::services::demand::MarketParams;
use depin_core::services::demand::records::CreditBalance;
use depin_core::{Address, Amount, Genesis};
use serde_json::Value;

use crate::client::Client;

/// The hint given wherever a missing oracle price stops an agent.
pub const NO_PRICE_HINT: &str = "no oracle price yet: run the devnet's price feed (`depin agent oracle`, which `depin devnet` starts) or `depin oracle price submit`";

/// A network's demand parameters.
#[derive(Clone, Debug)]
pub struct Market {
    pub params: MarketParams,
    pub chain_id: String,
    /// Network and fee the market's transactions are signed for.
    pub signer: crate::client::Signer,
    pub decimals: u8,
    pub symbol: String,
}

/// The network's genesis as its node serves it.
pub fn genesis(client: &Client) -> Result<Genesis> {
    serde_json::from_value(client.get("/v1/genesis")?).context("the node's genesis does not parse")
}

/// The ledger's oracle as `GET /v1/oracle` serves it at the tip.
#[derive(Clone, Debug)]
pub struct OracleView {
    /// The quote (median and minting price), or `None` when too few fresh prices are in.
    pub quote: Option<OraclePrice>,
    /// The oracles the ledger takes prices from now (its governed set).
    pub oracles: Vec<Address>,
    pub credit_peg: CreditPeg,
    /// Credits the onboarding and the location fee of one device cost.
    pub device_fee_credits: u128,
}

fn raw_price(v: &Value, what: &str) -> Result<TokenPrice> {
    v["raw"]
        .as_u64()
        .map(TokenPrice)
        .with_context(|| format!("the node's oracle view has no raw {what}"))
}

fn credits_field(v: &Value, name: &str) -> Result<u128> {
    let field = &v["prices"][name];
    field
        .as_u64()
        .map(u128::from)
        .or_else(|| field.as_str().and_then(|s| s.parse().ok()))
        .with_context(|| format!("the node's oracle view has no {name}"))
}

/// The ledger's oracle view; `Ok(None)` on a network without the demand module.
pub fn oracle(client: &Client) -> Result<Option<OracleView>> {
    let Some(v) = client.get_opt("/v1/oracle")? else {
        return Ok(None);
    };
    let quote = match &v["quote"] {
        Value::Null => None,
        q => Some(OraclePrice {
            median: raw_price(&q["median"], "median")?,
            minting: raw_price(&q["minting"], "minting price")?,
        }),
    };
    let oracles = v["oracles"]
        .as_array()
        .context("the node's oracle view has no oracles")?
        .iter()
        .map(|o| {
            o["address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .context("an oracle of the node's oracle view has no address")
        })
        .collect::<Result<_>>()?;
    Ok(Some(OracleView {
        quote,
        oracles,
        credit_peg: CreditPeg(raw_price(&v["credit_usd"], "credit_usd")?.0),
        device_fee_credits: credits_field(&v, "onboard_fee_credits")?
            + credits_field(&v, "location_fee_credits")?,
    }))
}

/// The ledger's quote now, or `None` when it has no fresh price (or no demand module).
pub fn quote(client: &Client) -> Result<Option<OraclePrice>> {
    Ok(oracle(client)?.and_then(|o| o.quote))
}

/// An account's credits as the ledger holds them, or `None` when it never held any.
pub fn credits(client: &Client, address: &Address) -> Result<Option<CreditBalance>> {
    let v = client.get(&format!("/v1/credits/{address}"))?;
    if v["known"] == false {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .with_context(|| format!("the node's credits of {address} do not parse"))
}

/// A USD amount in units of 10^-8 USD, exactly: `$0.00012345`.
pub fn usd(units: u128) -> String {
    format!("${}", depin_core::economics::usd_text(units))
}

/// A token price, exactly: `$0.5`.
pub fn price_text(price: TokenPrice) -> String {
    format!("${}", price.usd_text())
}

impl Market {
    /// The market of the node's network, or `None` when its genesis has no demand module.
    pub fn read(client: &Client) -> Result<Option<Market>> {
        let g = genesis(client)?;
        let Some(d) = &g.modules.demand else {
            return Ok(None);
        };
        let params = d
            .to_params()
            .map_err(|(field, why)| anyhow::anyhow!("the node's genesis: {field} {why}"))?;
        Ok(Some(Market {
            params,
            signer: crate::client::Signer::fetch(client)?,
            chain_id: g.chain_id.clone(),
            decimals: g.token.decimals,
            symbol: g.token.symbol.clone(),
        }))
    }

    /// Tokens (base units) to burn at `quote` for at least `credits` credits.
    pub fn tokens_for(&self, credits: u128, quote: &OraclePrice) -> Result<Amount> {
        tokens_for_credits(
            credits,
            quote.minting,
            self.decimals,
            self.params.credit_peg,
        )
        .map_err(|e| anyhow::anyhow!("pricing {credits} credits: {e}"))
    }

    /// USD value of `credits` at the peg, exactly (`?` past 128 bits).
    pub fn usd_text(&self, credits: u128) -> String {
        self.params
            .credit_peg
            .usd_units(credits)
            .map_or_else(|| "$?".to_string(), usd)
    }

    /// Tokens as text with the symbol.
    pub fn tokens_text(&self, base: u128) -> String {
        format!("{} {}", Amount(base).display(self.decimals), self.symbol)
    }
}

/// `n` with thousands separators: `12,345`.
pub fn grouped(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
        // USD is exact: a small price keeps every digit the ledger has.
        assert_eq!(usd(1_234_500_000), "$12.345");
        assert_eq!(usd(0), "$0");
        assert_eq!(usd(12_345), "$0.00012345");
        assert_eq!(price_text(TokenPrice(12_345)), "$0.00012345");
        assert_eq!(price_text(TokenPrice(50_000_000)), "$0.5");
    }
}
