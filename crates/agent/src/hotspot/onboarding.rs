//! Onboarding the fleet: finding which members are already devices on the chain, paying the
//! fees of the others and checking the ledger accepted them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use depin_core::economics::tokens_for_credits;
use depin_core::modules::coverage::actions::{DeviceKind, OnboardDevice, sign_onboarding};
use depin_core::{Action, Address, Amount, Explained, Hash, Transaction};

use super::fleet::Fleet;
use super::layout::GAIN_CDBI;
use crate::blocks::{self, Follower};
use crate::client::Client;
use crate::market;

/// How long onboarding waits for a full mempool to drain before giving up, seconds.
pub const MEMPOOL_FULL_PATIENCE_S: u64 = 60;

/// Which of `addresses` are onboarded devices. The owner of each device found lists its devices
/// in one request, so a fleet onboarded by one owner costs two requests, not one per device.
pub fn onboarded_devices(
    client: &Client,
    addresses: impl IntoIterator<Item = Address>,
) -> Result<BTreeSet<Address>> {
    let mut onboarded = BTreeSet::new();
    let mut owners_listed = BTreeSet::new();
    for address in addresses {
        if onboarded.contains(&address) {
            continue;
        }
        let Some(device) = client.get_opt(&format!("/v1/devices/{address}"))? else {
            continue;
        };
        onboarded.insert(address);
        let Some(owner) = device["owner"].as_str() else {
            continue;
        };
        if owners_listed.insert(owner.to_string()) {
            let listing = client.get(&format!("/v1/accounts/{owner}/devices"))?;
            onboarded.extend(
                listing["devices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["address"].as_str()?.parse::<Address>().ok()),
            );
        }
    }
    Ok(onboarded)
}

impl Fleet {
    /// Onboards every member not yet on the chain (a restarted fleet finds its devices again),
    /// then learns each member's nonce.
    pub fn onboard(&mut self) -> Result<usize> {
        let owner = self.owner.address();
        let mut nonce = self.client.nonce(&owner)?.with_context(|| {
            format!("the owner {owner} has no account on this network; fund it first")
        })?;
        let mut pending = Vec::new();
        let onboarded =
            onboarded_devices(&self.client, self.members.iter().map(|m| m.key.address()))?;
        // A restarted fleet may have beaconed in the window in progress already: wait for the
        // next one rather than have every first beacon refused `beacon_too_frequent`.
        if !onboarded.is_empty() {
            let listing = self.client.get(&format!("/v1/accounts/{owner}/devices"))?;
            let last = listing["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["last_beacon_window"].as_u64())
                .max();
            self.last_window = self.last_window.max(last);
        }
        for m in &self.members {
            if onboarded.contains(&m.key.address()) {
                continue;
            }
            let action = Action::from(OnboardDevice {
                device: m.key.address(),
                kind: DeviceKind::Hotspot,
                region: self.plan.region.clone(),
                location: Some(m.asserted),
                gain_cdbi: GAIN_CDBI,
                elevation_m: 10,
                device_signature: sign_onboarding(&self.chain_id, &owner, &m.key),
            });
            pending.push(self.sign(&self.owner, nonce, action));
            nonce += 1;
        }
        let onboarded = pending.len();
        let n = onboarded as u128;
        let (credit_fee_each, paid_in_tokens) = self.credit_fee_tokens(n)?;
        let fee_each = self.fee_per_device + credit_fee_each;
        let cost = self.fee_per_device * n + credit_fee_each * paid_in_tokens;
        let balance: u128 = self.client.get(&format!("/v1/accounts/{owner}"))?["balance"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("the owner's account has no balance")?;
        if balance < cost {
            let show = |a: u128| format!("{} {}", Amount(a).display(self.decimals), self.symbol);
            bail!(
                "the owner {owner} holds {} but onboarding {onboarded} hotspots costs {} ({} each); fund it or pass fewer hotspots",
                show(balance),
                show(cost),
                show(fee_each)
            );
        }
        let mut follower = Follower::from(self.height()? + 1);
        let mut sent = Vec::with_capacity(pending.len());
        // The mempool holds at most 1,024 nonces ahead of an account: send in chunks.
        for chunk in pending.chunks(500) {
            let last = chunk.last().expect("chunks are not empty").nonce;
            // A full mempool drains as blocks are made: send what it refused again.
            let mut waiting: Vec<Transaction> = chunk.to_vec();
            let full_until = Instant::now() + Duration::from_secs(MEMPOOL_FULL_PATIENCE_S);
            while !waiting.is_empty() {
                let verdicts = self.client.submit(&waiting)?;
                let mut again = Vec::new();
                for (tx, verdict) in waiting.into_iter().zip(verdicts) {
                    match verdict {
                        Ok(hash) => sent.push(hash),
                        Err(e) if e.code == "mempool_full" && Instant::now() < full_until => {
                            again.push(tx)
                        }
                        Err(e) => {
                            bail!("the node refused an onboarding: {} ({})", e.message, e.code)
                        }
                    }
                }
                if !again.is_empty() {
                    std::thread::sleep(Duration::from_secs(1));
                }
                waiting = again;
            }
            let deadline = Instant::now() + Duration::from_secs(120);
            while self.client.nonce(&owner)?.unwrap_or(0) <= last {
                if Instant::now() > deadline {
                    bail!("onboarding transactions are not in a block after two minutes");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.check_onboarded(&mut follower, &sent)?;
        // Reports a previous run of this fleet left pending are committed by the next block;
        // nonces read before it would collide with them.
        let height = self.height()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.height()? <= height {
            if Instant::now() > deadline {
                bail!("no block for 30 s; is the node producing?");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for i in 0..self.members.len() {
            let address = self.members[i].key.address();
            self.members[i].nonce = self.client.nonce(&address)?.unwrap_or(0);
        }
        Ok(onboarded)
    }

    /// Tokens the owner burns for one device's onboarding and location fees in credits (the
    /// demand module's fees; the coverage fees are then 0) at the ledger's minting price, and
    /// how many of `devices` are paid so because the owner's own credits do not cover them.
    /// Nothing without the demand module, and without a price: the ledger then refuses the
    /// onboardings, and [`Fleet::check_onboarded`] says why.
    fn credit_fee_tokens(&self, devices: u128) -> Result<(u128, u128)> {
        let Some(oracle) = market::oracle(&self.client)? else {
            return Ok((0, 0));
        };
        let (Some(quote), fee) = (oracle.quote, oracle.device_fee_credits) else {
            return Ok((0, 0));
        };
        if fee == 0 {
            return Ok((0, 0));
        }
        let held = market::credits(&self.client, &self.owner.address())?.map_or(0, |c| c.own);
        let each = tokens_for_credits(fee, quote.minting, self.decimals, oracle.credit_peg)
            .map_err(|e| anyhow::anyhow!("pricing the onboarding fees in tokens: {e}"))?;
        Ok((each.0, devices - (held / fee).min(devices)))
    }

    /// Fails with the ledger's most common reason if any of the onboardings `sent` (committed
    /// in the blocks `follower` reads next) was refused.
    fn check_onboarded(&self, follower: &mut Follower, sent: &[Hash]) -> Result<()> {
        let mut refused: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let outcomes = blocks::await_outcomes(&self.client, follower, sent, |_| {})?;
        for why in outcomes.into_iter().flatten().filter_map(Result::err) {
            let Explained { code, message } = why;
            refused.entry(code).or_insert((0, message)).0 += 1;
        }
        let Some((code, (count, message))) =
            refused.into_iter().max_by_key(|(_, (count, _))| *count)
        else {
            return Ok(());
        };
        // With the demand module, fees are credits; an owner short of them pays the rest in
        // tokens at the oracle's price, so without a fresh price the ledger has no way to.
        let hint = if code == "insufficient_credits" {
            format!(
                "; onboarding fees are paid in credits and the owner {} holds too few, so the ledger burns its tokens for the rest at the oracle price, and it has none that is fresh. {}",
                self.owner.address(),
                crate::market::NO_PRICE_HINT
            )
        } else {
            String::new()
        };
        bail!(
            "the ledger refused {count} of {} onboardings: {message} ({code}){hint}",
            sent.len()
        )
    }
}
