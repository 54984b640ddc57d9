//! The demand market as an agent sees it: the network's demand parameters (from its genesis) and
//! the ledger's oracle price, replayed from the price submissions in committed blocks with
//! depin-core's own quote, so an agent needs no price endpoint and agrees with the ledger exactly.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use depin_core::economics::{OraclePrice, credits_for_burn, tokens_for_credits};
use depin_core::modules::demand::MarketParams;
use depin_core::modules::demand::records::{OracleRecord, PriceReport, quote_from};
use depin_core::{Action, Address, Amount, Genesis};

use crate::blocks::{CommittedBlock, CommittedTx, Follower};
use crate::client::Client;

/// Most blocks read back at start to find the oracles' latest prices (at one block a second,
/// ten minutes: the devnet's feed submits every few blocks).
pub const PRICE_LOOKBACK_BLOCKS: u64 = 600;

/// The hint given wherever a missing oracle price stops an agent.
pub const NO_PRICE_HINT: &str = "no oracle price yet: run the devnet's price feed (`depin agent oracle`, which `depin devnet` starts) or `depin oracle price submit`";

/// A network's demand parameters and the ledger's oracle records as of the last block read.
#[derive(Clone, Debug)]
pub struct Market {
    pub params: MarketParams,
    pub chain_id: String,
    pub decimals: u8,
    pub symbol: String,
    oracles: BTreeMap<Address, OracleRecord>,
    /// Time of the last block read, ms since the Unix epoch.
    pub last_block_ms: u64,
}

/// The network's genesis as its node serves it.
pub fn genesis(client: &Client) -> Result<Genesis> {
    serde_json::from_value(client.get("/v1/genesis")?).context("the node's genesis does not parse")
}

impl Market {
    /// The market of the node's network, or `None` when its genesis has no demand module.
    pub fn read(client: &Client) -> Result<Option<Market>> {
        let g = genesis(client)?;
        let Some(d) = &g.demand else {
            return Ok(None);
        };
        let params = d
            .to_params()
            .map_err(|(field, why)| anyhow::anyhow!("the node's genesis: {field} {why}"))?;
        let oracles = params
            .oracles
            .iter()
            .map(|a| (*a, OracleRecord::default()))
            .collect();
        Ok(Some(Market {
            params,
            chain_id: g.chain_id.clone(),
            decimals: g.token.decimals,
            symbol: g.token.symbol.clone(),
            oracles,
            last_block_ms: 0,
        }))
    }

    /// Reads the last [`PRICE_LOOKBACK_BLOCKS`] blocks for prices and returns a follower at the
    /// tip, from which [`Market::apply`] keeps the market current.
    pub fn catch_up(&mut self, client: &Client) -> Result<Follower> {
        let tip = crate::blocks::height(client)?;
        let mut follower = Follower::from(tip.saturating_sub(PRICE_LOOKBACK_BLOCKS) + 1);
        for b in follower.poll(client)? {
            self.apply(&b);
        }
        Ok(follower)
    }

    /// Takes in a block: its accepted prices and oracle changes.
    pub fn apply(&mut self, block: &CommittedBlock) {
        for t in &block.txs {
            self.apply_tx(block.height, t);
        }
        self.last_block_ms = block.time_ms;
    }

    /// Takes in one transaction of the block at `height` (for callers that need the market as
    /// it stood in the middle of a block).
    pub fn apply_tx(&mut self, height: u64, t: &CommittedTx) {
        if t.outcome.is_err() {
            return;
        }
        match &t.tx.action {
            Action::SubmitPrice(p) => {
                self.oracles.insert(
                    t.tx.signer,
                    OracleRecord {
                        latest: Some(PriceReport {
                            price: p.price,
                            observed_at_ms: p.observed_at_ms,
                            height,
                        }),
                    },
                );
            }
            Action::SetOracle(s) if s.authorised => {
                self.oracles.entry(s.oracle).or_default();
            }
            Action::SetOracle(s) => {
                self.oracles.remove(&s.oracle);
            }
            _ => {}
        }
    }

    /// The ledger's quote at `now_ms` (median and minting price), as depin-core computes it.
    pub fn quote(&self, now_ms: u64) -> Option<OraclePrice> {
        quote_from(&self.params, self.oracles.values(), now_ms)
    }

    /// Credits a burn of `tokens` buys at the minting price of `quote`.
    pub fn credits_for(&self, tokens: Amount, quote: &OraclePrice) -> u128 {
        credits_for_burn(tokens, quote.minting, self.decimals, self.params.credit_peg).unwrap_or(0)
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

    /// USD value of `credits`.
    pub fn usd(&self, credits: u128) -> f64 {
        credits as f64 * self.params.credit_peg.0 as f64
            / depin_core::economics::credits::USD_SCALE as f64
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

/// USD with enough decimals to show small sums: `$12.35`, `$0.0012`.
pub fn usd_text(usd: f64) -> String {
    if usd >= 1.0 || usd == 0.0 {
        format!("${usd:.2}")
    } else {
        let decimals = (-usd.log10()).ceil() as usize + 1;
        format!("${usd:.decimals$}")
    }
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
        assert_eq!(usd_text(12.345), "$12.35");
        assert_eq!(usd_text(0.0), "$0.00");
        assert_eq!(usd_text(0.12345), "$0.12");
        assert_eq!(usd_text(0.00123), "$0.0012");
    }
}
