//! Block and epoch boundaries of the coverage module: recording each window's entropy, and at the
//! end of an epoch scoring the epoch's proofs into shares per hotspot (the ledger's one close
//! pays them).

use crate::codec::Decode;
use crate::crypto::Address;
use crate::module::{DeviceWork, EpochWork, address_suffix};
use crate::services::devices::DevicesView;
use crate::state::{State, StateRead};

use super::device::{
    BeaconRecord, CoverageView, beacon_range, entropy_key, hotspot_key, put_device, score_key,
};
use super::rewards::{Hotspot, ScoredBeacon, ring_signals, score_epoch_with};

/// Before a block's transactions: the block at `height` opens window `(height-1)/I` when
/// `height-1` is a multiple of the beacon interval; that window's entropy is the hash of block
/// `height-1`, which nobody knew before it was produced.
pub(crate) fn begin_block(state: &mut State, height: u64) {
    let Some(p) = state.params().modules.coverage.clone() else {
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

/// Scores the beacons whose reveal window has passed by the end of epoch `epoch` (windows
/// `[e·W − L, (e+1)·W − L)`, `W` windows per epoch, `L` the reveal lag) into shares per hotspot,
/// records each device's score, and drops the beacons. Each beacon's witnesses are already in
/// the order its reveal's selection entropy gave them.
pub(crate) fn epoch_work(state: &mut State, epoch: u64) -> EpochWork {
    let Some(p) = state.params().modules.coverage.clone() else {
        return EpochWork::default();
    };
    let mut beacons = take_epoch_beacons(state, epoch);
    // A beacon never revealed proves nothing: neither its beaconer nor its witnesses earn.
    let unrevealed = beacons.iter().filter(|(_, b)| b.revealed.is_none()).count() as u64;
    beacons.retain(|(_, b)| b.revealed.is_some());
    let sum = |f: fn(&BeaconRecord) -> u64| beacons.iter().map(|(_, b)| f(b)).sum::<u64>();
    let witnesses = sum(|b| b.witnesses.len() as u64);
    let mismatched = sum(|b| b.mismatched.len() as u64);
    let overflow = sum(|b| u64::from(b.overflow));
    let mut counters = vec![
        ("beacons".to_string(), beacons.len() as u64),
        ("witnesses".to_string(), witnesses),
        ("unrevealed".to_string(), unrevealed),
        ("mismatched".to_string(), mismatched),
        ("overflow".to_string(), overflow),
    ];

    // Every device with work this epoch, in address order (deterministic indices): a sorted,
    // deduplicated vector searched by bisection (a map with one insert per report was a third
    // of a million-device close).
    let mut reporters: Vec<Address> = Vec::with_capacity(beacons.len() * 8);
    for (beaconer, record) in &beacons {
        reporters.push(*beaconer);
        reporters.extend_from_slice(&record.witnesses);
    }
    reporters.sort_unstable();
    reporters.dedup();
    let mut hotspots = Vec::with_capacity(reporters.len());
    let mut owners = Vec::with_capacity(reporters.len());
    reporters.retain(|address| match state.device(address) {
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
    let index = |a: &Address| reporters.binary_search(a).ok().map(|i| i as u32);
    let scored: Vec<ScoredBeacon> = beacons
        .iter()
        .filter_map(|(beaconer, record)| {
            Some(ScoredBeacon {
                beaconer: index(beaconer)?,
                witnesses: record.witnesses.iter().filter_map(index).collect(),
            })
        })
        .collect();
    // Ring signals: owners as small integers in address order, then each hotspot's cluster.
    let mut owner_ids: Vec<Address> = owners.clone();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    let owner_index: Vec<u32> = owners
        .iter()
        .map(|o| owner_ids.binary_search(o).map_or(u32::MAX, |i| i as u32))
        .collect();
    let signals = ring_signals(hotspots.len(), &scored, &owner_index);
    let isolated: Vec<bool> = signals.iter().map(|s| s.2).collect();
    let mut scores = if hotspots.is_empty() {
        Vec::new()
    } else {
        score_epoch_with(&p.rewards, &hotspots, &scored, &isolated)
    };
    let mut isolated = 0u64;
    for (score, (size, owner_count, island)) in scores.iter_mut().zip(signals) {
        score.cluster_hotspots = size;
        score.cluster_owners = owner_count;
        score.isolated = island;
        isolated += u64::from(island);
    }
    counters.push(("isolated_hotspots".to_string(), isolated));
    let mut devices = Vec::with_capacity(hotspots.len());
    for ((hotspot, owner), score) in hotspots.iter().zip(owners).zip(scores) {
        devices.push(DeviceWork {
            device: hotspot.device,
            owner,
            shares: score.shares,
        });
        state.put(score_key(epoch, &hotspot.device), &score);
    }
    EpochWork { devices, counters }
}

/// Marks a hotspot active in `epoch` (its activity feeds the quality multiplier).
pub(crate) fn mark_active(state: &mut State, device: &Address, epoch: u64) {
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
    put_device(state, device, &d);
}

/// Drops what coverage keeps of a retired device.
pub(crate) fn forget(state: &mut State, device: &Address) {
    if state.contains(&hotspot_key(device)) {
        state.put_raw(hotspot_key(device), None);
    }
}

/// Removes and returns the beacons the close of `epoch` scores, in (window, beaconer) order:
/// those whose reveal window ended by the end of the epoch.
fn take_epoch_beacons(state: &mut State, epoch: u64) -> Vec<(Address, BeaconRecord)> {
    let Some(p) = state.params().modules.coverage.clone() else {
        return Vec::new();
    };
    let per_epoch = state.params().epoch_length_blocks / p.rules.beacon_interval_blocks;
    let lag = p.reveal_lag_windows();
    let first = (epoch * per_epoch).saturating_sub(lag);
    let end = ((epoch + 1) * per_epoch).saturating_sub(lag);
    let (from, to) = beacon_range(first, end);
    state
        .scan(&from, &to, usize::MAX)
        .into_iter()
        .map(|(key, value)| {
            let beaconer = address_suffix(&key);
            state.put_raw(key, None);
            (
                beaconer,
                BeaconRecord::from_bytes(&value).expect("the ledger wrote it"),
            )
        })
        .collect()
}
