//! Block and epoch boundaries of the coverage module: recording each window's entropy, and at the
//! end of an epoch minting the emission, scoring the epoch's proofs and paying owners exactly.

use std::collections::BTreeMap;

use crate::amount::Amount;
use crate::crypto::Address;
use crate::economics::{pay_demand_pool, pro_rata, split_bps};
use crate::modules::BlockContext;
use crate::state::State;

use super::device::{
    BeaconRecord, CoverageView, EpochSummary, RewardRecord, beacon_key, entropy_key, epoch_key,
    put_device, reward_key,
};
use super::rewards::{Hotspot, ScoredBeacon, score_epoch};

/// Before a block's transactions: the block at `height` opens window `(height-1)/I` when
/// `height-1` is a multiple of the beacon interval; that window's entropy is the hash of block
/// `height-1`, which nobody knew before it was produced.
pub(crate) fn begin_block(state: &mut State, height: u64) {
    let Some(p) = state.params().coverage.clone() else {
        return;
    };
    let interval = p.rules.beacon_interval_blocks;
    if !(height - 1).is_multiple_of(interval) {
        return;
    }
    let window = (height - 1) / interval;
    let entropy = state.last_block_hash();
    state.put(entropy_key(window), &entropy);
    // Entropy older than any report may name is no longer needed.
    if let Some(old) = window.checked_sub(p.rules.entropy_max_age_windows + 1)
        && state.entropy(old).is_some()
    {
        state.put_raw(entropy_key(old), None);
    }
}

/// After a block's transactions: the block whose height is a multiple of the epoch length closes
/// that epoch.
pub(crate) fn end_block(state: &mut State, ctx: BlockContext) {
    let epoch_length = state.params().epoch_length_blocks;
    if ctx.height.is_multiple_of(epoch_length) {
        end_epoch(state, ctx.height / epoch_length - 1, ctx);
    }
}

/// Mints epoch `epoch`'s emission (and the re-mint of burned tokens), splits it into treasury,
/// demand and coverage pools, pays the coverage pool to device owners in proportion to their
/// scored shares and the demand pool in proportion to the credits burned for their traffic, and
/// records every number that went into it.
fn end_epoch(state: &mut State, epoch: u64, ctx: BlockContext) {
    let economics = state.params().economics.clone();
    let emission = economics
        .as_ref()
        .map(|e| e.emission.at(epoch))
        .unwrap_or(Amount::ZERO);
    let treasury_bps = economics.as_ref().map(|e| e.treasury_bps).unwrap_or(10_000);
    let demand = state.params().demand.clone().map(|m| {
        crate::modules::demand::epoch::close(state, &m, epoch, emission, treasury_bps, ctx.time_ms)
    });
    let mut summary = EpochSummary {
        epoch,
        height: ctx.height,
        emission,
        ..EpochSummary::default()
    };
    match &demand {
        Some(d) => {
            let (pools, tally) = (&d.pools, &d.tally);
            summary.reminted = pools.reminted;
            summary.treasury = pools.treasury;
            summary.coverage_pool = pools.bootstrap;
            summary.demand_pool = pools.demand;
            summary.bootstrap_bps = pools.bootstrap_bps;
            summary.demand_cap = pools.demand_cap;
            summary.rolled_over = pools.rolled_over;
            summary.price = d.price;
            summary.tokens_burned = tally.tokens_burned;
            summary.credits_bought = tally.credits_bought;
            summary.credits_on_data = d.usage.iter().map(|(_, u, _)| u.credits).sum();
            summary.credits_void = d.void_credits;
            summary.credits_on_fees = tally.credits_on_fees;
            summary.receipts = tally.receipts;
        }
        None => {
            let parts = split_bps(emission, &[treasury_bps, 10_000 - treasury_bps]);
            summary.treasury = parts[0];
            summary.coverage_pool = parts[1];
            summary.bootstrap_bps = 10_000;
        }
    }

    let beacons = take_epoch_beacons(state, epoch);
    summary.beacons = beacons.len() as u64;
    summary.witnesses = beacons.iter().map(|(_, b)| b.witnesses.len() as u64).sum();

    // Every device with work this epoch, in address order (deterministic indices).
    let mut index: BTreeMap<Address, u32> = BTreeMap::new();
    for (beaconer, record) in &beacons {
        index.insert(*beaconer, 0);
        for w in &record.witnesses {
            index.insert(*w, 0);
        }
    }
    let mut hotspots = Vec::with_capacity(index.len());
    let mut owners = Vec::with_capacity(index.len());
    index.retain(|address, _| match state.device(address) {
        // Denied before the epoch closed: its work is void too.
        Some(_) if state.is_denied(address) => false,
        Some(d) => match d.asserted {
            Some(a) => {
                hotspots.push(Hotspot {
                    device: *address,
                    cell: a.cell,
                    recent_activity: d.recent_activity(epoch),
                });
                owners.push(d.owner);
                true
            }
            None => false,
        },
        // Retired before the epoch closed: its work is void.
        None => false,
    });
    for (i, slot) in index.values_mut().enumerate() {
        *slot = i as u32;
    }
    let scored: Vec<ScoredBeacon> = beacons
        .iter()
        .filter_map(|(beaconer, record)| {
            Some(ScoredBeacon {
                beaconer: *index.get(beaconer)?,
                witnesses: record
                    .witnesses
                    .iter()
                    .filter_map(|w| index.get(w).copied())
                    .collect(),
            })
        })
        .collect();

    let scores = match &state.params().coverage {
        Some(p) if !hotspots.is_empty() => score_epoch(&p.rewards, &hotspots, &scored),
        _ => Vec::new(),
    };
    let shares: Vec<(usize, u128)> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.shares > 0)
        .map(|(i, s)| (i, s.shares))
        .collect();
    summary.total_shares = shares.iter().map(|(_, s)| s).sum();

    // One record per device that did coverage work or carried paid traffic.
    let mut records: BTreeMap<Address, RewardRecord> = BTreeMap::new();
    let blank = |owner: Address| RewardRecord {
        owner,
        score: Default::default(),
        bootstrap: Amount::ZERO,
        credits: 0,
        credits_value: Amount::ZERO,
        packets: 0,
        bytes: 0,
        demand: Amount::ZERO,
        amount: Amount::ZERO,
    };
    let mut dust = Amount::ZERO;
    if summary.total_shares == 0 {
        summary.unminted = summary.coverage_pool;
    } else {
        let payout = pro_rata(summary.coverage_pool, &shares);
        for (i, amount) in payout.payouts {
            records
                .entry(hotspots[i].device)
                .or_insert_with(|| blank(owners[i]))
                .bootstrap = amount;
        }
        dust = payout.dust;
        summary.paid = summary
            .coverage_pool
            .checked_sub(dust)
            .expect("dust <= pool");
    }
    for (i, hotspot) in hotspots.iter().enumerate() {
        if scores[i].shares > 0 {
            mark_active(state, &hotspot.device, epoch);
        }
        records
            .entry(hotspot.device)
            .or_insert_with(|| blank(owners[i]))
            .score = scores[i].clone();
    }
    if let Some(d) = &demand {
        let worth: Vec<(Address, u128)> = d.usage.iter().map(|(a, _, v)| (*a, v.0)).collect();
        let payout = pay_demand_pool(d.pools.demand, &worth);
        for ((device, used, value), (_, amount)) in d.usage.iter().zip(payout.payouts) {
            let owner = state
                .device(device)
                .expect("close() kept registered devices")
                .owner;
            let r = records.entry(*device).or_insert_with(|| blank(owner));
            r.credits = used.credits;
            r.credits_value = *value;
            r.packets = used.packets;
            r.bytes = used.bytes;
            r.demand = amount;
        }
        dust = dust.checked_add(payout.dust).expect("bounded");
        summary.demand_paid = d
            .pools
            .demand
            .checked_sub(payout.dust)
            .expect("dust <= pool");
    }
    summary.dust = dust;

    let mut minted = Amount::ZERO;
    for (device, mut record) in records {
        record.amount = record
            .bootstrap
            .checked_add(record.demand)
            .expect("bounded");
        if !record.amount.is_zero() {
            credit(state, &record.owner, record.amount);
            minted = minted
                .checked_add(record.amount)
                .expect("bounded by the pools");
            summary.devices_paid += 1;
        }
        state.put(reward_key(epoch, &device), &record);
    }
    let to_treasury = summary.treasury.checked_add(dust).expect("bounded");
    if !to_treasury.is_zero() {
        let account = economics
            .as_ref()
            .map(|e| e.treasury)
            .expect("a non-zero emission has economics");
        credit(state, &account, to_treasury);
        minted = minted.checked_add(to_treasury).expect("bounded");
    }
    debug_assert_eq!(
        minted.checked_add(summary.unminted),
        emission.checked_add(summary.reminted),
        "an epoch mints its emission and re-mint or leaves them unminted, nothing else"
    );
    let meta = state.meta_mut();
    meta.minted = meta.minted.checked_add(minted).expect("supply fits u128");
    meta.total_supply = meta.total_supply.checked_add(minted).expect("supply fits");
    state.put(epoch_key(epoch), &summary);
}

fn credit(state: &mut State, account: &Address, amount: Amount) {
    let mut a = state.account(account).copied().unwrap_or_default();
    a.balance = a.balance.checked_add(amount).expect("supply fits u128");
    state.put_account(*account, a);
}

fn mark_active(state: &mut State, device: &Address, epoch: u64) {
    let Some(mut d) = state.device(device) else {
        return;
    };
    let shift = epoch.saturating_sub(d.activity_epoch);
    d.activity = if d.activity_epoch > epoch || shift >= 32 {
        1
    } else {
        (d.activity << shift) | 1
    };
    d.activity_epoch = epoch;
    put_device(state, device, Some(&d));
}

/// Removes and returns the epoch's beacons, in (window, beaconer) order.
fn take_epoch_beacons(state: &mut State, epoch: u64) -> Vec<(Address, BeaconRecord)> {
    let Some(p) = state.params().coverage.clone() else {
        return Vec::new();
    };
    let per_epoch = state.params().epoch_length_blocks / p.rules.beacon_interval_blocks;
    let from = beacon_key(epoch * per_epoch, &Address([0; 32]));
    let to = beacon_key((epoch + 1) * per_epoch, &Address([0; 32]));
    let found: Vec<(Vec<u8>, Address, BeaconRecord)> = state
        .range(&from, &to)
        .map(|(k, v)| {
            (
                k.to_vec(),
                super::device::address_suffix(k),
                crate::codec::Decode::from_bytes(v).expect("the ledger wrote it"),
            )
        })
        .collect();
    found
        .into_iter()
        .map(|(key, beaconer, record)| {
            state.put_raw(key, None);
            (beaconer, record)
        })
        .collect()
}
