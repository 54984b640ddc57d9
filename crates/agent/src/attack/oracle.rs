//! The `oracle-spike` attack: colluding oracle keys push the token price up as far as the
//! ledger lets them, every block, while an accomplice buys credits at the inflated minting price
//! (more credits per token burned: cheaper onboarding for Sybils, cheaper data). The best lie is
//! not `u64::MAX` (held within `max_price_move_bps` of the median) but the highest price that
//! keeps the circuit breaker open; this attacker computes it from the fresh prices it sees.
//!
//! The bound it is measured against: with at least one honest oracle fresh at price `h` and the
//! breaker at spread `s`, every fresh price is within `s` of the median, so the highest is at most
//! `h / (1 - s)`, and the minting price (the median less half the spread) is at most
//! `h (2 - s) / (2 (1 - s))`, whatever the number of colluders: 12.5% above `h` at `s` = 20%.

use anyhow::{Context, Result, bail};
use depin_core::economics::{CreditPeg, TokenPrice, credits_for_burn, oracle_price};
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice};
use depin_core::{Action, Address, Amount, Explained, Keypair, Transaction};
use serde::Serialize;
use serde_json::Value;

use crate::blocks::{self, Follower};
use crate::client::{Client, Signer};
use crate::hotspot::now_ms;
use crate::market;

/// One block of the attack.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeRound {
    pub height: u64,
    /// The lowest fresh price of an oracle outside the ring (`None`: none is fresh).
    pub honest: Option<u64>,
    /// What each colluder submitted this round.
    pub submitted: u64,
    /// The ledger's quote after the colluders' prices landed.
    pub median: u64,
    pub minting: u64,
    /// Minting price above the honest price, basis points (negative: below).
    pub minting_over_honest_bps: Option<i64>,
    /// Credits the accomplice's burn bought, or the ledger's reason code if it refused.
    pub bought: Result<u128, String>,
    /// Credits the same burn buys at the honest price.
    pub at_honest: u128,
}

/// What an `oracle-spike` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeReport {
    pub colluders: usize,
    pub oracles: usize,
    pub max_price_move_bps: u32,
    pub max_price_spread_bps: u32,
    /// The stated bound: how far above the lowest honest fresh price the minting price can be
    /// pushed while one honest oracle is fresh, basis points.
    pub bound_bps: i64,
    pub rounds: Vec<SpikeRound>,
}

impl SpikeReport {
    /// The highest minting price over the honest one seen in any round with an honest price.
    pub fn max_over_honest_bps(&self) -> Option<i64> {
        self.rounds
            .iter()
            .filter_map(|r| r.minting_over_honest_bps)
            .max()
    }

    /// Credits bought over what the same burns buy at the honest price, basis points: the
    /// accomplice's gain.
    pub fn credit_gain_bps(&self) -> i64 {
        let (mut bought, mut honest) = (0u128, 0u128);
        for r in &self.rounds {
            if let Ok(c) = r.bought {
                bought += c;
                honest += r.at_honest;
            }
        }
        over_bps(bought, honest)
    }

    /// Rounds whose burn the circuit breaker (or anything else) refused.
    pub fn refused(&self) -> usize {
        self.rounds.iter().filter(|r| r.bought.is_err()).count()
    }

    /// The report as lines of text.
    pub fn table(&self) -> String {
        let mut out = format!(
            "attack OracleSpike: {} of {} oracles colluding; one report moves the median at most {} bps, minting stops past a {} bps spread\n",
            self.colluders, self.oracles, self.max_price_move_bps, self.max_price_spread_bps
        );
        out += "height | honest price | submitted | median | minting | minting over honest | credits bought (at honest)\n";
        let usd = |p: u64| market::price_text(TokenPrice(p));
        for r in &self.rounds {
            out += &format!(
                "{:>6} | {} | {} | {} | {} | {} | {}\n",
                r.height,
                r.honest.map_or("none fresh".into(), usd),
                usd(r.submitted),
                usd(r.median),
                usd(r.minting),
                r.minting_over_honest_bps
                    .map_or("-".into(), |b| format!("{:+.2}%", b as f64 / 100.0)),
                match &r.bought {
                    Ok(c) => format!("{c} ({})", r.at_honest),
                    Err(code) => format!("refused: {code}"),
                }
            );
        }
        out += &format!(
            "highest minting price over the honest one: {}; stated bound while one honest oracle is fresh: {:+.2}%\n",
            self.max_over_honest_bps()
                .map_or("no round had an honest price".into(), |b| format!(
                    "{:+.2}%",
                    b as f64 / 100.0
                )),
            self.bound_bps as f64 / 100.0
        );
        out += &format!(
            "the accomplice's credits over the honest price: {:+.2}% ({} burn(s) refused)\n",
            self.credit_gain_bps() as f64 / 100.0,
            self.refused()
        );
        out
    }
}

fn over_bps(value: u128, reference: u128) -> i64 {
    if reference == 0 {
        return 0;
    }
    let scaled = value as i128 * 10_000 / reference as i128 - 10_000;
    scaled.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The ledger's bound on the minting price over the lowest honest fresh price, basis points:
/// `(2 - s) / (2 (1 - s)) - 1` for a breaker at spread `s` (unbounded without a breaker).
pub fn bound_bps(max_price_spread_bps: u32) -> i64 {
    let s = i64::from(max_price_spread_bps);
    if s == 0 || s >= 10_000 {
        return i64::MAX;
    }
    (20_000 - s) * 10_000 / (2 * (10_000 - s)) - 10_000
}

/// The prices the breaker looks at: the fresh prices of every oracle, and the quote.
struct OracleNow {
    height: u64,
    /// (oracle, price) of each fresh price.
    fresh: Vec<(Address, u64)>,
    median: Option<u64>,
    minting: Option<u64>,
}

fn raw(v: &Value) -> Option<u64> {
    v["raw"].as_u64()
}

fn oracle_now(client: &Client) -> Result<OracleNow> {
    let v = client.get("/v1/oracle")?;
    let fresh = v["oracles"]
        .as_array()
        .context("the node's oracle view has no oracles")?
        .iter()
        .filter(|o| o["fresh"] == true)
        .filter_map(|o| Some((o["address"].as_str()?.parse().ok()?, raw(&o["price"])?)))
        .collect();
    Ok(OracleNow {
        height: v["height"]
            .as_u64()
            .context("the oracle view has no height")?,
        fresh,
        median: raw(&v["quote"]["median"]),
        minting: raw(&v["quote"]["minting"]),
    })
}

/// The highest price the ring can report so that, with every colluder at it and the honest
/// prices as they are, the fresh prices spread at most `spread_bps` around their median: a
/// binary search up to what one report may move (`move_bps` of `median`, the price the
/// ledger bounds the report by).
fn best_lie(honest: &[u64], colluders: usize, median: u64, move_bps: u32, spread_bps: u32) -> u64 {
    let ceiling = if move_bps == 0 {
        median.saturating_mul(2)
    } else {
        (u128::from(median) * u128::from(10_000 + move_bps) / 10_000) as u64
    };
    if honest.is_empty() || spread_bps == 0 {
        return ceiling;
    }
    let opens = |x: u64| -> bool {
        let mut window: Vec<TokenPrice> = honest.iter().map(|&p| TokenPrice(p)).collect();
        window.extend(std::iter::repeat_n(TokenPrice(x), colluders));
        let Some(q) = oracle_price(&window) else {
            return false;
        };
        let (low, high) = (
            window.iter().map(|p| p.0).min().unwrap_or(0),
            window.iter().map(|p| p.0).max().unwrap_or(0),
        );
        (u128::from(high - low) * 10_000).div_ceil(u128::from(q.median.0).max(1))
            <= u128::from(spread_bps)
    };
    let (mut lo, mut hi) = (median.min(ceiling), ceiling);
    if opens(hi) {
        return hi;
    }
    // `lo` opens (the median itself is inside every honest spread the ledger quotes at).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if opens(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Submits `txs` and waits for their outcomes; a refusal at the door is an outcome too.
pub(super) fn commit(client: &Client, txs: &[Transaction]) -> Result<Vec<Result<(), Explained>>> {
    let from = blocks::height(client)? + 1;
    let verdicts = client.submit(txs)?;
    let hashes: Vec<_> = verdicts
        .iter()
        .filter_map(|v| v.as_ref().ok())
        .copied()
        .collect();
    let mut decided =
        blocks::await_outcomes(client, &mut Follower::from(from), &hashes, |_| {})?.into_iter();
    verdicts
        .into_iter()
        .map(|v| match v {
            Err(e) => Ok(Err(e)),
            Ok(_) => decided
                .next()
                .flatten()
                .context("a transaction was not in a block after 30 s; the mempool dropped it"),
        })
        .collect()
}

fn nonce(client: &Client, key: &Keypair) -> Result<u64> {
    let address = key.address();
    client
        .nonce(&address)?
        .with_context(|| format!("{address} has no account on this network: fund it first"))
}

/// Runs the ring for `rounds` blocks: each round every colluder submits the best lie, then
/// `buyer` burns `burn` for credits at the resulting minting price.
pub fn measure(
    node_url: &str,
    colluders: &[Keypair],
    buyer: &Keypair,
    rounds: u64,
    burn: Amount,
) -> Result<SpikeReport> {
    if colluders.is_empty() {
        bail!("oracle-spike needs at least one oracle key to lie with (--oracle-key NAME)");
    }
    if rounds == 0 {
        bail!("--rounds 0 measures nothing; pass 1 or more");
    }
    let client = Client::new(node_url);
    let signer = Signer::fetch(&client)?;
    let genesis = market::genesis(&client)?;
    let Some(demand) = genesis.modules.demand.as_ref() else {
        bail!("this network has no demand module: there is no oracle to attack");
    };
    let view = market::oracle(&client)?.context("the node serves no oracle")?;
    let ring: Vec<Address> = colluders.iter().map(Keypair::address).collect();
    for a in &ring {
        if !view.oracles.contains(a) {
            bail!("{a} is not one of this network's oracles: pass the name of an oracle key");
        }
    }
    let (move_bps, spread_bps) = (demand.max_price_move_bps, demand.max_price_spread_bps);
    let peg: CreditPeg = view.credit_peg;
    let decimals = genesis.token.decimals;
    let mut nonces = colluders
        .iter()
        .map(|k| nonce(&client, k))
        .collect::<Result<Vec<_>>>()?;
    let mut buyer_nonce = nonce(&client, buyer)?;
    let mut last_observed = 0u64;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let now = oracle_now(&client)?;
        let honest: Vec<u64> = now
            .fresh
            .iter()
            .filter(|(a, _)| !ring.contains(a))
            .map(|(_, p)| *p)
            .collect();
        // Before the ring's first prices there may be no quote yet: it blends in at the honest
        // price first.
        let Some(median) = now.median.or(honest.iter().copied().min()) else {
            bail!(
                "no fresh honest price at height {}: start the honest price feed first",
                now.height
            );
        };
        // The ledger bounds a report by its oracle's own fresh price (else by the median).
        let own = now
            .fresh
            .iter()
            .filter(|(a, _)| ring.contains(a))
            .map(|(_, p)| *p)
            .min()
            .unwrap_or(median);
        let lie = best_lie(&honest, ring.len(), own, move_bps, spread_bps);
        last_observed = now_ms().max(last_observed + 1);
        let prices: Vec<Transaction> = colluders
            .iter()
            .zip(&nonces)
            .map(|(k, n)| {
                signer.sign(
                    k,
                    *n,
                    Action::from(SubmitPrice {
                        price: TokenPrice(lie),
                        observed_at_ms: last_observed,
                    }),
                )
            })
            .collect();
        for (i, outcome) in commit(&client, &prices)?.into_iter().enumerate() {
            match outcome {
                Ok(()) => nonces[i] += 1,
                Err(e) => {
                    nonces[i] = nonce(&client, &colluders[i])?;
                    eprintln!("a colluder's price was refused: {} ({})", e.message, e.code);
                }
            }
        }
        let after = oracle_now(&client)?;
        let honest_now = after
            .fresh
            .iter()
            .filter(|(a, _)| !ring.contains(a))
            .map(|(_, p)| *p)
            .min();
        let (median, minting) = (after.median.unwrap_or(0), after.minting.unwrap_or(0));
        // `bought` counts every credit ever bought for the account (fees do not touch it).
        let before = market::credits(&client, &buyer.address())?.map_or(0, |c| c.bought);
        let buy = signer.sign(
            buyer,
            buyer_nonce,
            Action::from(BuyCredits {
                tokens: burn,
                min_credits: 0,
                to: buyer.address(),
            }),
        );
        let bought = match commit(&client, std::slice::from_ref(&buy))?.pop() {
            Some(Ok(())) => {
                buyer_nonce += 1;
                let now = market::credits(&client, &buyer.address())?.map_or(0, |c| c.bought);
                Ok(now - before)
            }
            Some(Err(e)) => {
                buyer_nonce = nonce(&client, buyer)?;
                Err(e.code)
            }
            None => bail!("the node gave no verdict for the purchase"),
        };
        let at_honest = honest_now.map_or(Ok(0), |h| {
            credits_for_burn(burn, TokenPrice(h), decimals, peg).map_err(|e| anyhow::anyhow!("{e}"))
        })?;
        out.push(SpikeRound {
            height: after.height,
            honest: honest_now,
            submitted: lie,
            median,
            minting,
            minting_over_honest_bps: honest_now
                .map(|h| over_bps(u128::from(minting), u128::from(h))),
            bought,
            at_honest,
        });
    }
    Ok(SpikeReport {
        colluders: colluders.len(),
        oracles: view.oracles.len(),
        max_price_move_bps: move_bps,
        max_price_spread_bps: spread_bps,
        bound_bps: bound_bps(spread_bps),
        rounds: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stated_bound_is_twelve_and_a_half_percent_at_a_twenty_percent_breaker() {
        assert_eq!(bound_bps(2_000), 1_250);
        assert_eq!(bound_bps(0), i64::MAX);
    }

    #[test]
    fn the_best_lie_keeps_the_breaker_open_and_walks_at_most_one_move() {
        // Two colluders of three beside an honest $0.50: the lie opens the spread to exactly
        // 20% of the median (the colluders' own price).
        let x = best_lie(&[50_000_000], 2, 50_000_000, 1_000, 2_000);
        assert_eq!(x, 55_000_000, "one report moves the median at most 10%");
        let x = best_lie(&[50_000_000], 2, 60_000_000, 1_000, 2_000);
        assert_eq!(x, 62_500_000, "at the breaker: (x - h) / x = 20%");
        // No honest price fresh: the ring walks at the move bound.
        assert_eq!(best_lie(&[], 2, 60_000_000, 1_000, 2_000), 66_000_000);
        // One colluder of three cannot move the median, only widen the spread.
        let x = best_lie(&[50_000_000, 50_000_000], 1, 50_000_000, 1_000, 2_000);
        assert_eq!(x, 55_000_000);
        let q = oracle_price(&[
            TokenPrice(50_000_000),
            TokenPrice(50_000_000),
            TokenPrice(x),
        ])
        .expect("a quote");
        assert!(q.minting.0 <= 50_000_000);
    }
}
