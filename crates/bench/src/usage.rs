//! End-to-end usage-receipt benchmark: receipts co-signed by a payer and a hotspot, submitted by
//! their payers, admitted to the mempool (batch verification of the envelope signatures),
//! executed with every demand check (including the two inner signatures, verified one by one)
//! and committed durably.
//!
//! Every period each hotspot carries data for a few payers and settles one receipt with each of
//! them; the periods of each (payer, hotspot) pair follow each other without overlap, so every
//! receipt passes every check. Signing is the payers' and devices' work, done in parallel between
//! timed phases and not counted. The inner signatures of the same receipts are also verified
//! outside the timed phases, once one by one (as execution does) and once in batches (as the
//! mempool verifies envelopes), to show what batching them would gain.

use std::path::Path;
use std::time::Instant;

use depin_core::crypto::{self, verify_many};
use depin_core::economics::TokenPrice;
use depin_core::genesis::Allocation;
use depin_core::modules::coverage::actions::{DeviceKind, OnboardDevice, sign_onboarding};
use depin_core::modules::coverage::preset;
use depin_core::services::demand::actions::{BuyCredits, SubmitPrice, UsageReceipt};
use depin_core::services::demand::params;
use depin_core::services::demand::records::DemandView;
use depin_core::{Action, Address, Amount, Keypair, Signature, Transaction};
use depin_node::mempool::VERIFY_CHUNK;
use rayon::prelude::*;
use serde::Serialize;

use crate::driver::Driver;

/// What to run.
#[derive(Clone, Debug)]
pub struct UsageBench {
    /// Onboarded hotspots that carry data.
    pub hotspots: usize,
    /// Payers (routers, fleet operators) that buy credits and pay for data.
    pub payers: usize,
    /// Payers each hotspot settles a receipt with every period, at most `payers`.
    pub payers_per_hotspot: usize,
    /// Periods measured (after one warm-up period).
    pub periods: u64,
    pub max_block_txs: u32,
}

impl Default for UsageBench {
    fn default() -> Self {
        UsageBench {
            hotspots: 4096,
            payers: 256,
            payers_per_hotspot: 4,
            periods: 8,
            max_block_txs: 50_000,
        }
    }
}

/// Results, printed as JSON by `depin bench usage --json`.
#[derive(Clone, Debug, Serialize)]
pub struct UsageReport {
    /// Receipts accepted per second over the timed phases (admission, execution, commit).
    pub receipts_per_s: f64,
    pub receipts_accepted: u64,
    pub receipts_rejected: u64,
    /// Packets the accepted receipts paid for.
    pub packets: u64,
    /// Credits the accepted receipts burned (checked against the ledger's epoch tally).
    pub credits_burned: u128,
    /// Seconds in the timed phases.
    pub seconds: f64,
    /// Seconds spent signing receipts and envelopes (client side, all cores; not in `seconds`).
    pub signing_seconds: f64,
    /// Seconds to verify the two inner signatures of the measured receipts one by one on one
    /// core, as execution did before it batched them per block (measured separately, not in
    /// `seconds`).
    pub inner_verify_seconds: f64,
    /// Seconds to verify the same signatures in batches on all cores, as the mempool verifies
    /// envelopes (not in `seconds`); execution batches them per block on one core.
    pub inner_batch_verify_seconds: f64,
    pub blocks: u64,
    pub hotspots: usize,
    pub payers: usize,
    pub payers_per_hotspot: usize,
    pub periods: u64,
    pub cores: usize,
}

/// Length of a usage period, blocks (one block a second: 10 s periods).
const PERIOD_BLOCKS: u64 = 10;
/// Periods run before measuring: the first receipt of each pair creates its records.
const WARMUP_PERIODS: u64 = 1;
/// Base units of one whole token (6 decimals).
const TOKEN: u128 = 1_000_000;
/// Oracle price, USD with 8 decimals ($0.50).
const PRICE_HALF_DOLLAR: u64 = 50_000_000;
/// Whole tokens each payer burns for credits before the run ($50: 5 million credits).
const PAYER_BURN_TOKENS: u128 = 100;
/// Bytes per packet in the receipts (a small LoRaWAN uplink).
const PACKET_BYTES: u64 = 24;

/// Runs the benchmark with its database in `dir`.
pub fn run(cfg: &UsageBench, dir: &Path) -> Result<UsageReport, String> {
    let n = cfg.hotspots.max(1);
    let m = cfg.payers.max(1);
    let k = cfg.payers_per_hotspot.clamp(1, m);
    let seeded = |tag: u8, i: usize| {
        let mut seed = [tag; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        Keypair::from_seed(seed)
    };
    let validator = Keypair::from_seed([0xd0; 32]);
    let owner = Keypair::from_seed([0xd1; 32]);
    let treasury = Keypair::from_seed([0xd2; 32]);
    let oracle = Keypair::from_seed([0xd3; 32]);
    let hotspots: Vec<Keypair> = (0..n).map(|i| seeded(0xd4, i)).collect();
    let payers: Vec<Keypair> = (0..m).map(|i| seeded(0xd5, i)).collect();

    let mut coverage = preset::single_region(preset::BERLIN, 4);
    // With a [demand] section fees are paid in credits.
    coverage.onboard_fee = "0".into();
    coverage.location_fee = "0".into();
    let demand = params::preset(vec![oracle.address()], 100);
    // The owner pays the onboarding fees in credits, bought by burning tokens on the way.
    let onboard_usd = demand.onboard_fee_credits as f64 * 0.000_01;
    let owner_tokens = (n as f64 * onboard_usd / 0.5 * 2.0).ceil() as u64 + 1;
    let mut allocations = vec![Allocation {
        address: owner.address(),
        amount: owner_tokens.to_string(),
    }];
    allocations.extend(payers.iter().map(|p| Allocation {
        address: p.address(),
        amount: (PAYER_BURN_TOKENS * 2).to_string(),
    }));
    // The oracle pays its price's fee.
    allocations.push(Allocation {
        address: oracle.address(),
        amount: "10".into(),
    });
    let genesis = crate::BenchNetwork {
        name: "usage",
        // No epoch ends inside the run: this bench is about receipts.
        epoch_length_blocks: 40_000,
        max_block_txs: cfg.max_block_txs,
        validator: validator.address(),
        treasury: treasury.address(),
        allocations,
        modules: depin_core::modules::ModulesGenesis {
            coverage: Some(coverage),
            demand: Some(demand),
            ..Default::default()
        },
    }
    .genesis();
    let network = genesis.network();
    let chain_id = network.chain_id.clone();
    let market = genesis
        .params()
        .modules
        .demand
        .clone()
        .expect("the bench genesis has demand");
    let (node, mut producer) = crate::open_node(genesis, dir, validator, 1_000_000, 1 << 30)?;
    let mut chain = Driver::new(&node, &mut producer);

    // A price first: fees and credits are priced by it. It stays fresh for the whole run (the
    // price window is an hour; the run is a few hundred blocks of one second).
    let price = Action::from(SubmitPrice {
        price: TokenPrice(PRICE_HALF_DOLLAR),
        observed_at_ms: chain.time_ms,
    });
    chain.settle(vec![crate::sign(&network, &oracle, 0, price)], "price")?;
    let buys: Vec<Transaction> = payers
        .par_iter()
        .map(|p| {
            let buy = Action::from(BuyCredits {
                tokens: Amount(PAYER_BURN_TOKENS * TOKEN),
                min_credits: 0,
                to: p.address(),
            });
            crate::sign(&network, p, 0, buy)
        })
        .collect();
    chain.settle(buys, "a credit purchase")?;
    let onboard: Vec<Transaction> = (0..n)
        .into_par_iter()
        .map(|i| {
            let action = Action::from(OnboardDevice {
                device: hotspots[i].address(),
                kind: DeviceKind::Hotspot,
                region: "EU868".into(),
                location: None,
                gain_cdbi: 300,
                elevation_m: 10,
                device_signature: sign_onboarding(&chain_id, &owner.address(), &hotspots[i]),
            });
            crate::sign(&network, &owner, i as u64, action)
        })
        .collect();
    // One owner signs them all; stay inside the mempool's nonce window.
    for chunk in onboard.chunks(1000) {
        chain.settle(chunk.to_vec(), "onboarding")?;
    }

    // Hotspot h settles with payers h*k .. h*k+k-1 (mod m): every payer gets the same share.
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|h| (0..k).map(move |j| (h, (h * k + j) % m)))
        .collect();
    // Each payer submits its receipts with consecutive nonces, in the order of `pairs`.
    let mut payer_nonces = vec![1u64; m];
    let (mut accepted, mut rejected, mut packets, mut credits) = (0u64, 0u64, 0u64, 0u128);
    let (mut all_receipts, mut all_credits) = (0u64, 0u128);
    let (mut timed, mut signing, mut inner, mut inner_batch) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut start_ms = chain.time_ms;
    for round in 0..cfg.periods + WARMUP_PERIODS {
        // The period ends at the block that closes it; its receipts follow in the next blocks.
        while chain.time_ms < start_ms + PERIOD_BLOCKS * 1000 {
            chain.produce()?;
        }
        let end_ms = chain.time_ms;

        let t = Instant::now();
        let signed: Vec<(UsageReceipt, Transaction)> = pairs
            .par_iter()
            .enumerate()
            .map(|(i, &(h, p))| {
                // Packets vary by pair and period, 20 to 99.
                let count = 20 + (i as u64 * 7 + round * 13) % 80;
                let receipt = UsageReceipt::signed(
                    &chain_id,
                    &payers[p],
                    &hotspots[h],
                    start_ms,
                    end_ms,
                    count,
                    count * PACKET_BYTES,
                );
                // Pair i is paid by payer i % m (see `pairs`); its nonce is the pair's rank among
                // that payer's pairs this period.
                debug_assert_eq!(p, i % m);
                let nonce = payer_nonces[p] + (i / m) as u64;
                let tx = crate::sign(&network, &payers[p], nonce, Action::from(receipt.clone()));
                (receipt, tx)
            })
            .collect();
        for i in 0..pairs.len() {
            payer_nonces[i % m] += 1;
        }
        let (receipts, txs): (Vec<UsageReceipt>, Vec<Transaction>) = signed.into_iter().unzip();
        let round_signing = t.elapsed().as_secs_f64();
        let round_packets: u64 = receipts.iter().map(|r| r.packets).sum();
        let round_credits: u128 = receipts
            .iter()
            .map(|r| market.receipt_cost(r.packets, r.bytes).expect("small"))
            .sum();

        let t = Instant::now();
        let (a, r) = chain.apply_all(txs)?;
        let round_time = t.elapsed().as_secs_f64();
        start_ms = end_ms;
        all_receipts += a;
        all_credits += round_credits;

        if round >= WARMUP_PERIODS {
            let (one_by_one, batched) = time_inner_verification(&chain_id, &receipts)?;
            timed += round_time;
            signing += round_signing;
            inner += one_by_one;
            inner_batch += batched;
            accepted += a;
            rejected += r;
            packets += round_packets;
            credits += round_credits;
        }
    }

    // The ledger must have charged every receipt exactly what it costs.
    let tally = chain.producer.state().tally(0);
    if tally.receipts != all_receipts || tally.credits_on_data != all_credits {
        return Err(format!(
            "the ledger counted {} receipts and {} credits; the bench sent {all_receipts} and {all_credits}",
            tally.receipts, tally.credits_on_data
        ));
    }
    let blocks = chain.blocks;
    Ok(UsageReport {
        receipts_per_s: accepted as f64 / timed,
        receipts_accepted: accepted,
        receipts_rejected: rejected,
        packets,
        credits_burned: credits,
        seconds: timed,
        signing_seconds: signing,
        inner_verify_seconds: inner,
        inner_batch_verify_seconds: inner_batch,
        blocks,
        hotspots: n,
        payers: m,
        payers_per_hotspot: k,
        periods: cfg.periods,
        cores: rayon::current_num_threads(),
    })
}

/// Seconds to verify the payer's and the device's signatures of `receipts`: one by one on this
/// thread (what execution does), then in parallel batches (what the mempool does to envelopes).
fn time_inner_verification(
    chain_id: &str,
    receipts: &[UsageReceipt],
) -> Result<(f64, f64), String> {
    let t = Instant::now();
    let ok = receipts.iter().all(|r| {
        let message = r.message(chain_id);
        crypto::verify(&r.payer, &message, &r.payer_signature)
            && crypto::verify(&r.device, &message, &r.device_signature)
    });
    let one_by_one = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let messages: Vec<Vec<u8>> = receipts.par_iter().map(|r| r.message(chain_id)).collect();
    let items: Vec<(&Address, &[u8], &Signature)> = receipts
        .iter()
        .zip(&messages)
        .flat_map(|(r, msg)| {
            [
                (&r.payer, msg.as_slice(), &r.payer_signature),
                (&r.device, msg.as_slice(), &r.device_signature),
            ]
        })
        .collect();
    let batch_ok = items
        .par_chunks(VERIFY_CHUNK)
        .all(|chunk| verify_many(chunk).into_iter().all(|v| v));
    let batched = t.elapsed().as_secs_f64();
    if !(ok && batch_ok) {
        return Err("a bench receipt's inner signature does not verify".into());
    }
    Ok((one_by_one, batched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_receipt_passes_every_check() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = UsageBench {
            hotspots: 24,
            payers: 6,
            payers_per_hotspot: 2,
            periods: 2,
            max_block_txs: 1000,
        };
        let report = run(&cfg, dir.path()).unwrap();
        assert_eq!(report.receipts_rejected, 0, "{report:?}");
        assert_eq!(report.receipts_accepted, 24 * 2 * 2);
        assert!(
            report.packets >= 20 * report.receipts_accepted,
            "{report:?}"
        );
        assert!(
            report.credits_burned > u128::from(report.packets),
            "{report:?}"
        );
    }
}
