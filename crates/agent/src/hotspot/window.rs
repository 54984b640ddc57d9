//! The fleet's beacon windows: every member beacons, then reports the beacons its radio heard;
//! and `depin agent hotspot`, which runs window after window.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use depin_core::modules::coverage::actions::{
    Beacon, Reveal, Witness, beacon_channel, beacon_commitment, beacon_payload, sign_beacon,
};
use depin_core::{Action, Hash, Keypair, Transaction};

use super::args::HotspotArgs;
use super::clock::now_ms;
use super::fleet::Fleet;
use super::witness::{Sighting, witness_report};
use crate::blocks::{self, Follower};

/// What happened in one window.
#[derive(Clone, Debug, Default)]
pub struct WindowReport {
    pub window: u64,
    pub beacons_sent: usize,
    pub beacons_accepted: usize,
    pub witnesses_sent: usize,
    /// Reveals sent of the beacons of an earlier window.
    pub reveals_sent: usize,
    /// The window the chain had reached when the witness reports were ready, if that was too
    /// late to send them (the fleet cannot keep up with the chain).
    pub fell_behind: Option<u64>,
    /// Refusals at the node's door (mempool), by code; refusals inside blocks are in receipts.
    pub refused: BTreeMap<String, usize>,
}

impl Fleet {
    /// Waits for the next beacon window, beacons from every member, waits for the beacons to be
    /// committed, then sends the witness reports of everything each radio heard.
    pub fn run_window(&mut self) -> Result<WindowReport> {
        let (window, entropy, height) = loop {
            let e = self.client.get("/v1/coverage/entropy")?;
            let window = e["window"].as_u64().context("entropy has no window")?;
            if self.last_window.is_none_or(|l| window > l) {
                let entropy: Hash = e["entropy"]
                    .as_str()
                    .context("entropy has no hash")?
                    .parse()
                    .context("entropy is not a hash")?;
                break (window, entropy, e["height"].as_u64().unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.last_window = Some(window);
        let mut report = WindowReport {
            window,
            ..WindowReport::default()
        };
        let sent_at_ms = now_ms();
        let n_channels = self.plan.channels_hz.len();
        let tx_power_cdbm = self.plan.tx_power_cdbm();
        let mut resync = Vec::new();

        // Reveal the beacons whose reveal window this is; older ones are void already.
        let lag = self.entropy_max_age_windows + 1;
        self.unrevealed.retain(|(w, _, _)| w + lag >= window);
        let due: Vec<(u64, Hash, Vec<bool>)> = self
            .unrevealed
            .iter()
            .filter(|(w, _, _)| w + lag == window)
            .cloned()
            .collect();
        self.unrevealed.retain(|(w, _, _)| w + lag > window);
        let mut reveals = Vec::new();
        for (w, entropy, accepted) in &due {
            for i in 0..self.members.len() {
                if accepted.get(i).copied().unwrap_or(false) {
                    let m = &self.members[i];
                    let action = Action::from(Reveal {
                        window: *w,
                        signature: sign_beacon(&self.chain_id, &m.key, entropy, *w),
                    });
                    reveals.push(self.sign(&m.key, m.nonce, action));
                    self.members[i].nonce += 1;
                }
            }
        }
        report.reveals_sent = reveals.len();
        for (tx, verdict) in reveals.iter().zip(self.client.submit(&reveals)?) {
            if let Err(e) = verdict {
                *report.refused.entry(e.code).or_default() += 1;
                resync.push(tx.signer);
            }
        }

        // What each member transmits (fakes never do, but commit all the same).
        let payloads: Vec<Hash> = self
            .members
            .iter()
            .map(|m| beacon_payload(&sign_beacon(&self.chain_id, &m.key, &entropy, window)))
            .collect();
        let commitments: Vec<Hash> = self
            .members
            .iter()
            .zip(&payloads)
            .map(|(m, p)| beacon_commitment(p, window, &m.key.address()))
            .collect();
        let beacons: Vec<Transaction> = self
            .members
            .iter()
            .zip(&commitments)
            .map(|(m, commitment)| {
                let action = Action::from(Beacon {
                    window,
                    commitment: *commitment,
                    channel: beacon_channel(commitment, n_channels),
                    tx_power_cdbm,
                    sent_at_ms,
                });
                self.sign(&m.key, m.nonce, action)
            })
            .collect();
        report.beacons_sent = beacons.len();
        let verdicts = self.client.submit(&beacons)?;
        let mut hashes: Vec<Option<Hash>> = Vec::with_capacity(beacons.len());
        for (i, v) in verdicts.into_iter().enumerate() {
            match v {
                Ok(h) => {
                    self.members[i].nonce += 1;
                    hashes.push(Some(h));
                }
                Err(e) => {
                    *report.refused.entry(e.code).or_default() += 1;
                    hashes.push(None);
                }
            }
        }
        // Read the blocks after `height` until each beacon is found in one: one request per
        // block, however many hotspots the fleet has.
        let accepted = self.await_receipts(height, &hashes)?;
        report.beacons_accepted = accepted.iter().filter(|a| **a).count();
        self.unrevealed.push((window, entropy, accepted.clone()));

        let mut witnesses = Vec::new();
        for (b, beaconer) in self.members.iter().enumerate() {
            if !accepted[b] {
                continue;
            }
            let sighting = Sighting {
                window,
                payload: payloads[b],
                commitment: commitments[b],
                sent_at_ms,
            };
            let mut heard: Vec<(usize, Witness)> = self
                .members
                .iter()
                .enumerate()
                .filter_map(|(w, witness)| {
                    witness_report(&self.plan, self.seed, (b, beaconer), (w, witness), sighting)
                        .map(|r| (w, r))
                })
                .collect();
            // The ledger records the first `max_witnesses_per_beacon` valid reports; past twice
            // that, more can only be refused as too_many_witnesses. Real hotspots would send
            // them anyway; the fleet does not, so its load grows with its size, not its square.
            heard.sort_by_key(|(_, r)| r.heard_at_ms);
            heard.truncate(2 * self.max_witnesses_per_beacon);
            witnesses.extend(heard);
        }
        // One radio reports at most `max_witnessed_per_window` beacons a window: each keeps its
        // strongest. Fake hotspots race: their reports go first.
        witnesses.sort_by_key(|(w, r)| (*w, std::cmp::Reverse(r.rssi_cdbm)));
        let mut kept = 0;
        let mut last = usize::MAX;
        witnesses.retain(|(w, _)| {
            kept = if *w == last { kept + 1 } else { 1 };
            last = *w;
            kept <= self.max_witnessed_per_window
        });
        witnesses.sort_by_key(|(w, _)| !self.members[*w].role.is_fake());
        let witnesses: Vec<(usize, Action)> = witnesses
            .into_iter()
            .map(|(w, r)| (w, Action::from(r)))
            .collect();
        // Reports for a window that has closed would all be refused: say so instead.
        let now = self.client.get("/v1/coverage/entropy")?;
        let current = now["window"].as_u64().context("entropy has no window")?;
        let windows_per_epoch = self.epoch_length_blocks / self.beacon_interval_blocks;
        if current > window + self.entropy_max_age_windows
            || current / windows_per_epoch != window / windows_per_epoch
        {
            report.fell_behind = Some(current);
            return Ok(report);
        }
        let txs: Vec<Transaction> = witnesses
            .into_iter()
            .map(|(w, action)| {
                let m = &mut self.members[w];
                let tx = self.signer.sign(&m.key, m.nonce, action);
                m.nonce += 1;
                tx
            })
            .collect();
        report.witnesses_sent = txs.len();
        for (tx, verdict) in txs.iter().zip(self.client.submit(&txs)?) {
            if let Err(e) = verdict {
                *report.refused.entry(e.code).or_default() += 1;
                resync.push(tx.signer);
            }
        }
        // A refusal at the door leaves a nonce unused: learn the right one again.
        resync.sort();
        resync.dedup();
        for address in resync {
            let nonce = self.client.nonce(&address)?.unwrap_or(0);
            if let Some(m) = self.members.iter_mut().find(|m| m.key.address() == address) {
                m.nonce = nonce;
            }
        }
        Ok(report)
    }

    /// Whether each transaction of `hashes` succeeded, read from the blocks after `height` as
    /// they are committed. `None` entries (refused at the door) and transactions still not in a
    /// block after [`blocks::NO_BLOCK_PATIENCE_S`] count as not accepted.
    fn await_receipts(&self, height: u64, hashes: &[Option<Hash>]) -> Result<Vec<bool>> {
        let sent: Vec<Hash> = hashes.iter().flatten().copied().collect();
        let mut follower = Follower::from(height + 1);
        let mut outcomes = blocks::await_outcomes(&self.client, &mut follower, &sent, |_| {})?
            .into_iter()
            .map(|o| matches!(o, Some(Ok(()))));
        Ok(hashes
            .iter()
            .map(|h| h.is_some() && outcomes.next().unwrap_or(false))
            .collect())
    }

    /// A sentence on what to do when `report` shows the fleet fell behind the chain.
    pub fn behind_warning(&self, report: &WindowReport) -> Option<String> {
        let current = report.fell_behind?;
        Some(format!(
            "the fleet cannot keep up: witness reports for window {} were ready only in window {current}, too late for the ledger, so none were sent; simulate fewer than {} hotspots or use a release build",
            report.window,
            self.members.len()
        ))
    }
}

/// Runs `depin agent hotspot`: onboard, then beacon and witness window after window.
pub fn run(args: &HotspotArgs, node_url: &str, owner: &Keypair, json: bool) -> Result<()> {
    let mut fleet = Fleet::new(args, node_url, Keypair::from_seed(owner.seed()))?;
    let onboarded = fleet.onboard()?;
    if !json {
        println!(
            "{} hotspots ready ({onboarded} newly onboarded): {} honest, {} spoofers, {} inflators, ring of {}, {} witness forgers, spread ring of {}",
            fleet.members.len(),
            args.hotspots,
            args.spoofers,
            args.inflators,
            args.ring,
            args.forgers,
            args.spread_ring
        );
    }
    let mut summaries = crate::epoch_summary::Summaries::new(&fleet);
    let mut done = 0u64;
    let mut warned = false;
    while args.windows.is_none_or(|w| done < w) {
        let report = fleet.run_window()?;
        done += 1;
        if let Some(warning) = fleet.behind_warning(&report).filter(|_| !warned) {
            eprintln!("warning: {warning}");
            warned = true;
        }
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "window": report.window,
                    "beacons_sent": report.beacons_sent,
                    "beacons_accepted": report.beacons_accepted,
                    "witnesses_sent": report.witnesses_sent,
                    "reveals_sent": report.reveals_sent,
                    "fell_behind_to_window": report.fell_behind,
                    "refused_at_door": report.refused,
                })
            );
        } else {
            for line in summaries.new_epochs(&fleet)? {
                println!("{line}");
            }
        }
    }
    Ok(())
}
