//! A built-in price oracle: a token/USD price following a seeded random walk that reverts to a
//! start price, signed with an oracle key and submitted every few blocks. The devnet starts one
//! before its hotspots, whose onboarding fees are burned at the oracle's price.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use depin_core::economics::TokenPrice;
use depin_core::services::demand::actions::SubmitPrice;
use depin_core::{Action, Explained, Hash, Keypair};

use crate::blocks::{self, Follower};
use crate::client::{self, Client, Signer};
use crate::hotspot::{mix, now_ms};
use crate::market::{self, price_text};
use crate::radio::normal_from_hash;

/// The walk never leaves `[start / MAX_DEVIATION_FACTOR, start * MAX_DEVIATION_FACTOR]`.
pub const MAX_DEVIATION_FACTOR: f64 = 4.0;
/// Largest volatility a walk accepts, basis points per step.
pub const MAX_VOLATILITY_BPS: u32 = 2_000;
/// How often the feed looks at the chain's height, ms.
const POLL_MS: u64 = 100;

/// Arguments of the price feed (`depin agent oracle`).
#[derive(clap::Args, Debug, Clone)]
pub struct FeedArgs {
    /// Price the walk starts at and reverts to, USD per whole token.
    #[arg(long, default_value = "0.50", value_parser = parse_price)]
    pub start_usd: TokenPrice,
    /// One standard deviation of a step, basis points of the price.
    #[arg(long, default_value_t = 150)]
    pub volatility_bps: u32,
    /// Share of the distance back to the start price closed each step, basis points.
    #[arg(long, default_value_t = 500)]
    pub reversion_bps: u32,
    /// Blocks between two prices.
    #[arg(long, default_value_t = 5)]
    pub every_blocks: u64,
    /// Seed of the walk (the same seed gives the same prices at the same heights).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many accepted prices [default: run until stopped].
    #[arg(long)]
    pub submissions: Option<u64>,
}

impl Default for FeedArgs {
    fn default() -> FeedArgs {
        FeedArgs {
            start_usd: TokenPrice(50_000_000),
            volatility_bps: 150,
            reversion_bps: 500,
            every_blocks: 5,
            seed: 1,
            submissions: None,
        }
    }
}

/// Parses a USD price such as `0.50`.
pub fn parse_price(text: &str) -> Result<TokenPrice, String> {
    match TokenPrice::parse(text) {
        Ok(p) if p.0 > 0 => Ok(p),
        Ok(_) => Err("a price must be above 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

impl FeedArgs {
    /// Refuses arguments that cannot make a feed, saying what to pass instead.
    pub fn check(&self) -> Result<()> {
        if self.every_blocks == 0 {
            bail!("--every-blocks must be at least 1");
        }
        if self.volatility_bps > MAX_VOLATILITY_BPS {
            bail!(
                "--volatility-bps {} is above {MAX_VOLATILITY_BPS} (20% a step); pass a smaller one",
                self.volatility_bps
            );
        }
        if self.reversion_bps > 10_000 {
            bail!("--reversion-bps is a share of the way back: 0 to 10000");
        }
        Ok(())
    }
}

/// A mean-reverting random walk of the log price (a discrete Ornstein-Uhlenbeck process), a
/// pure function of the seed and the step: the price at step `k` is the same on every run.
#[derive(Clone, Debug)]
pub struct PriceWalk {
    seed: u64,
    start_ln: f64,
    volatility: f64,
    reversion: f64,
    step: u64,
    ln_price: f64,
}

impl PriceWalk {
    pub fn new(args: &FeedArgs) -> PriceWalk {
        let start_ln = (args.start_usd.as_usd_f64()).ln();
        PriceWalk {
            seed: args.seed,
            start_ln,
            volatility: f64::from(args.volatility_bps) / 10_000.0,
            reversion: f64::from(args.reversion_bps) / 10_000.0,
            step: 0,
            ln_price: start_ln,
        }
    }

    /// The price at `step` (step 0 is the start price).
    pub fn at(&mut self, step: u64) -> TokenPrice {
        if step < self.step {
            self.step = 0;
            self.ln_price = self.start_ln;
        }
        let bound = MAX_DEVIATION_FACTOR.ln();
        while self.step < step {
            self.step += 1;
            let shock = self.volatility * normal_from_hash(mix(&[self.seed, 31, self.step]));
            self.ln_price += self.reversion * (self.start_ln - self.ln_price) + shock;
            self.ln_price = self
                .ln_price
                .clamp(self.start_ln - bound, self.start_ln + bound);
        }
        let usd = self.ln_price.exp();
        TokenPrice(((usd * 1e8).round() as u64).max(1))
    }
}

/// A price on its way into the ledger.
#[derive(Clone, Copy, Debug)]
pub struct Submission {
    /// Chain height when it was sent.
    pub height: u64,
    pub price: TokenPrice,
    pub hash: Hash,
}

/// An oracle key submitting the walk's price to one node.
pub struct PriceFeed {
    client: Client,
    key: Keypair,
    signer: Signer,
    nonce: u64,
    walk: PriceWalk,
    every_blocks: u64,
    last_step: Option<u64>,
    last_observed_ms: u64,
}

impl PriceFeed {
    /// Checks that the node's network has a demand module and that `key` is one of its oracles.
    pub fn new(args: &FeedArgs, node_url: &str, key: Keypair) -> Result<PriceFeed> {
        args.check()?;
        let client = Client::new(node_url);
        let signer = Signer::fetch(&client)?;
        let chain_id = signer.network.chain_id.clone();
        let Some(oracle) = market::oracle(&client)? else {
            bail!(
                "network '{chain_id}' has no demand module (no [demand] in its genesis), so it takes no prices"
            );
        };
        let address = key.address();
        if !oracle.oracles.contains(&address) {
            bail!(
                "{address} is not an oracle of network '{chain_id}' (its oracles now: {}); sign with the oracle key `depin init` created (--key oracle), or have it authorised by an `oracle_set` proposal (`depin gov propose oracle ...`) or the devnet's emergency key (`depin oracle set {address} --authorised true`)",
                oracle
                    .oracles
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let nonce = account_nonce(&client, &key)?;
        Ok(PriceFeed {
            client,
            key,
            signer,
            nonce,
            walk: PriceWalk::new(args),
            every_blocks: args.every_blocks,
            last_step: None,
            last_observed_ms: 0,
        })
    }

    /// Sends the walk's price for the current step if it has not been sent yet (the first call
    /// always sends). A refusal at the node's door is an error carrying its reason.
    pub fn tick(&mut self) -> Result<Option<Submission>> {
        let height = blocks::height(&self.client)?;
        let step = height / self.every_blocks;
        if self.last_step.is_some_and(|s| s >= step) {
            return Ok(None);
        }
        let price = self.walk.at(step);
        // A new observation must be later than the last one the ledger took.
        let observed_at_ms = now_ms().max(self.last_observed_ms + 1);
        let tx = self.signer.sign(
            &self.key,
            self.nonce,
            Action::from(SubmitPrice {
                price,
                observed_at_ms,
            }),
        );
        let verdict = self
            .client
            .submit(std::slice::from_ref(&tx))?
            .pop()
            .context("the node gave no verdict")?;
        self.last_step = Some(step);
        match verdict {
            Ok(hash) => {
                self.nonce += 1;
                self.last_observed_ms = observed_at_ms;
                Ok(Some(Submission {
                    height,
                    price,
                    hash,
                }))
            }
            Err(e) => {
                self.nonce = account_nonce(&self.client, &self.key)?;
                bail!("the node refused the price: {} ({})", e.message, e.code)
            }
        }
    }

    /// Waits for `s` to be in a block; `Err` inside is the ledger's refusal.
    pub fn outcome(&self, s: &Submission) -> Result<std::result::Result<(), Explained>> {
        let mut follower = Follower::from(s.height + 1);
        blocks::await_outcomes(&self.client, &mut follower, &[s.hash], |_| {})?
            .pop()
            .flatten()
            .context("the price was not in a block after 30 s; the mempool dropped it")
    }

    /// Sends a price now and waits until the ledger holds it, so that what follows (fees
    /// burned at the oracle price) can rely on it.
    pub fn first_price(&mut self) -> Result<TokenPrice> {
        self.last_step = None;
        let s = self.tick()?.context("the first tick always sends")?;
        match self.outcome(&s)? {
            Ok(()) => Ok(s.price),
            Err(e) => bail!("the ledger refused the price: {} ({})", e.message, e.code),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn account_nonce(client: &Client, key: &Keypair) -> Result<u64> {
    let address = key.address();
    client
        .nonce(&address)?
        .with_context(|| format!("the oracle {address} has no account on this network"))
}

/// Runs `depin agent oracle`: submits a price every `--every-blocks` blocks and prints each with
/// the ledger's verdict.
pub fn run(args: &FeedArgs, node_url: &str, oracle: &Keypair, json: bool) -> Result<()> {
    let mut feed = PriceFeed::new(args, node_url, Keypair::from_seed(oracle.seed()))?;
    if !json {
        println!(
            "price feed of {} on {}: a walk around {} (±{} bps a step), every {} blocks",
            oracle.address(),
            feed.client().base(),
            price_text(args.start_usd),
            args.volatility_bps,
            args.every_blocks
        );
    }
    let mut accepted = 0u64;
    while args.submissions.is_none_or(|n| accepted < n) {
        let Some(s) = feed.tick()? else {
            std::thread::sleep(Duration::from_millis(POLL_MS));
            continue;
        };
        let outcome = feed.outcome(&s)?;
        if outcome.is_ok() {
            accepted += 1;
        }
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "height": s.height,
                    "price_usd": s.price.as_usd_f64(),
                    "price": s.price.0,
                    "hash": s.hash,
                    "accepted": outcome.is_ok(),
                    "rejection": outcome.as_ref().err(),
                })
            );
        } else {
            match outcome {
                Ok(()) => println!("height {}: {} accepted", s.height, price_text(s.price)),
                Err(e) => println!(
                    "height {}: {} refused: {} ({})",
                    s.height,
                    price_text(s.price),
                    e.message,
                    e.code
                ),
            }
        }
    }
    Ok(())
}

/// Keeps `feed` submitting on a background thread (the devnet's oracle). Refusals are printed
/// once each; the thread ends quietly when the node goes away.
pub fn spawn(mut feed: PriceFeed) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("devnet-oracle".into())
        .spawn(move || {
            client::keep_running("price feed", Duration::ZERO, || {
                let ticked = feed.tick().map(drop);
                std::thread::sleep(Duration::from_millis(POLL_MS));
                ticked
            })
        })
        .expect("spawning the price feed thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_replays_stays_bounded_and_reverts() {
        let args = FeedArgs {
            volatility_bps: MAX_VOLATILITY_BPS,
            ..FeedArgs::default()
        };
        let mut a = PriceWalk::new(&args);
        let mut b = PriceWalk::new(&args);
        assert_eq!(a.at(0), args.start_usd);
        let path: Vec<TokenPrice> = (0..5_000).map(|k| a.at(k)).collect();
        // Same seed, same prices, whatever order the steps are asked in.
        assert_eq!(b.at(4_999), path[4_999]);
        assert_eq!(b.at(17), path[17]);
        let start = args.start_usd.0 as f64;
        for p in &path {
            let p = p.0 as f64;
            assert!(
                p >= start / MAX_DEVIATION_FACTOR - 1.0 && p <= start * MAX_DEVIATION_FACTOR + 1.0
            );
        }
        // Mean-reverting: the long-run geometric mean stays near the start price.
        let mean_ln = path.iter().map(|p| (p.0 as f64 / start).ln()).sum::<f64>() / 5_000.0;
        assert!(mean_ln.abs() < 0.15, "mean log deviation {mean_ln}");
        // It moves.
        assert!(path.windows(2).filter(|w| w[0] != w[1]).count() > 4_900);
        let other = PriceWalk::new(&FeedArgs {
            seed: 2,
            ..args.clone()
        })
        .at(100);
        assert_ne!(other, path[100]);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(FeedArgs::default().check().is_ok());
        for bad in [
            FeedArgs {
                every_blocks: 0,
                ..FeedArgs::default()
            },
            FeedArgs {
                volatility_bps: MAX_VOLATILITY_BPS + 1,
                ..FeedArgs::default()
            },
            FeedArgs {
                reversion_bps: 10_001,
                ..FeedArgs::default()
            },
        ] {
            assert!(bad.check().is_err());
        }
        assert_eq!(parse_price("0.5"), Ok(TokenPrice(50_000_000)));
        assert!(parse_price("0").is_err());
        assert!(parse_price("abc").is_err());
    }
}
