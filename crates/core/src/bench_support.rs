//! A large coverage network written straight into a [`State`], for benchmarks of the epoch
//! close (compiled only with the `bench` feature).
//!
//! Onboarding a million hotspots and reporting their beacons through signed transactions takes
//! minutes, and the close a benchmark times does not depend on how the records got there.
//! [`put_coverage_network`] writes them through the writers those transactions use (the
//! registry's [`register`], coverage's `put_device`, the beacon records under coverage's key),
//! each in the module's write scope, and commits: the state is the one the transactions would
//! have left, except that nothing was checked (the caller vouches for the reports) and nothing
//! was charged (the network must have zero fees, which is asserted).
#![cfg(feature = "bench")]
#![doc(hidden)]

use std::collections::HashMap;

use crate::crypto::{Address, Hash};
use crate::module::{BlockContext, Module};
use crate::modules::coverage::Coverage;
use crate::modules::coverage::actions::{DeviceKind, beacon_channel, beacon_commitment};
use crate::modules::coverage::device::{BeaconRecord, Device, beacon_key, put_device};
use crate::services::devices::{Asserted, LOCATION_RESOLUTION, Location, register};
use crate::state::{Account, State};

/// A hotspot to onboard.
#[derive(Clone, Debug)]
pub struct BenchHotspot {
    pub device: Address,
    pub owner: Address,
    pub location: Location,
    /// Antenna gain, centi-dBi.
    pub gain_cdbi: i32,
    /// Antenna height, metres.
    pub elevation_m: i32,
    /// Bit i set: active in epoch `e - 1 - i`, where `e` is the epoch the beacons belong to.
    pub recent_activity: u32,
}

/// An accepted beacon with its witnesses, first to arrive first.
#[derive(Clone, Debug)]
pub struct BenchBeacon {
    pub window: u64,
    pub beaconer: Address,
    pub witnesses: Vec<Address>,
}

/// What a device reported in the epoch, as its hotspot record and nonce remember it.
#[derive(Default)]
struct Reported {
    /// Antenna gain, centi-dBi (a beacon's power is the region's limit less it).
    gain_cdbi: i32,
    last_beacon_window: Option<u64>,
    last_witness_window: Option<u64>,
    /// Reports it signed (each used a nonce).
    reports: u64,
}

/// Onboards `hotspots` (asserted, in the network's first region) as of the last committed
/// block, records `beacons` in the epoch the next block belongs to, and commits; returns the
/// app hash.
///
/// # Panics
/// If the network has no coverage or charges fees, a hotspot lies outside the first region or
/// has activity before epoch 0, or a beacon names an unknown hotspot or a window the close of
/// the current epoch does not score (windows `[e·W − L, (e+1)·W − L)`, `L` the reveal lag).
pub fn put_coverage_network(
    state: &mut State,
    hotspots: &[BenchHotspot],
    beacons: &[BenchBeacon],
) -> Hash {
    let p = state
        .params()
        .modules
        .coverage
        .clone()
        .expect("a coverage network");
    assert!(
        p.onboard_fee.is_zero() && p.location_fee.is_zero(),
        "the records are written as if onboarded for free: the network must charge no fees"
    );
    let ctx = BlockContext {
        height: state.height(),
        time_ms: state.meta().last_block_time_ms,
    };
    let windows_per_epoch = state.params().epoch_length_blocks / p.rules.beacon_interval_blocks;
    let epoch = state.height() / state.params().epoch_length_blocks;
    let region = &p.regions[0];

    let mut reported: HashMap<Address, Reported> = hotspots
        .iter()
        .map(|h| {
            let r = Reported {
                gain_cdbi: h.gain_cdbi,
                ..Reported::default()
            };
            (h.device, r)
        })
        .collect();
    let unknown = |a: &Address| format!("beacon reports name {a}, which is not onboarded");
    // The close of `epoch` scores the windows whose reveal window has passed by its end.
    let lag = p.reveal_lag_windows();
    let scored = (epoch * windows_per_epoch).saturating_sub(lag)
        ..((epoch + 1) * windows_per_epoch).saturating_sub(lag);
    for b in beacons {
        assert!(
            scored.contains(&b.window),
            "beacon window {} is not one the close of epoch {epoch} scores ({scored:?})",
            b.window
        );
        let r = reported
            .get_mut(&b.beaconer)
            .unwrap_or_else(|| panic!("{}", unknown(&b.beaconer)));
        r.last_beacon_window = r.last_beacon_window.max(Some(b.window));
        r.reports += 1;
        for w in &b.witnesses {
            let r = reported
                .get_mut(w)
                .unwrap_or_else(|| panic!("{}", unknown(w)));
            r.last_witness_window = r.last_witness_window.max(Some(b.window));
            r.reports += 1;
        }
    }

    let mut onboarded_by: HashMap<Address, u64> = HashMap::new();
    for h in hotspots {
        let cell = h
            .location
            .cell(LOCATION_RESOLUTION)
            .expect("a location on Earth");
        assert!(
            p.region_contains(0, cell),
            "hotspot {} lies outside region {}",
            h.device,
            region.name
        );
        let asserted = Asserted {
            location: h.location,
            cell,
        };
        let bits = h.recent_activity;
        assert!(epoch >= 32 || bits >> epoch == 0, "activity before epoch 0");
        // The record keeps the last active epoch and the bits before it (see `mark_active`).
        let (activity, activity_epoch) = match bits.trailing_zeros() {
            32 => (0, 0),
            idle => (bits >> idle, epoch - 1 - u64::from(idle)),
        };
        let r = &reported[&h.device];
        let device = Device {
            owner: h.owner,
            kind: DeviceKind::Hotspot,
            region: 0,
            asserted: Some(asserted),
            gain_cdbi: h.gain_cdbi,
            elevation_m: h.elevation_m,
            onboarded_height: ctx.height,
            location_height: Some(ctx.height),
            grace_until_window: p.window_of_height(ctx.height) + p.rules.reciprocity_grace_windows,
            last_beacon_window: r.last_beacon_window,
            last_witness_window: r.last_witness_window,
            activity,
            activity_epoch,
            witnessed_count: 0,
            witnessed_window: 0,
        };
        state.with_writer(Coverage::ID, |state| {
            register(
                state,
                &h.owner,
                &h.device,
                Coverage::ID,
                Some(asserted),
                ctx,
            );
            put_device(state, &h.device, &device);
        });
        state.put_account(
            h.device,
            Account {
                balance: crate::Amount::ZERO,
                nonce: r.reports,
            },
        );
        *onboarded_by.entry(h.owner).or_default() += 1;
    }
    // Each onboarding is a transaction its owner signed.
    for (owner, count) in onboarded_by {
        let mut account = state.account(&owner).copied().unwrap_or_default();
        account.nonce += count;
        state.put_account(owner, account);
    }

    // Nobody checks these payloads: any entropy serves, as long as the record is well formed.
    // Every beacon is recorded revealed, its witnesses the ones whose commitment matched.
    let entropy = |window: u64| Hash::tagged("depin/bench/entropy", &[&window.to_be_bytes()]);
    state.with_writer(Coverage::ID, |state| {
        for b in beacons {
            let payload = Hash::tagged(
                "depin/bench/payload",
                &[&entropy(b.window).0, &b.beaconer.0],
            );
            let commitment = beacon_commitment(&payload, b.window, &b.beaconer);
            let channel = beacon_channel(&commitment, region.channels_hz.len());
            let record = BeaconRecord {
                commitment,
                entropy: entropy(b.window),
                channel,
                frequency_hz: region.channels_hz[channel as usize],
                tx_power_cdbm: region.max_eirp_cdbm - reported[&b.beaconer].gain_cdbi,
                sent_at_ms: ctx.time_ms,
                height: b.window * p.rules.beacon_interval_blocks + 1,
                witnesses: b.witnesses.clone(),
                commitments: Vec::new(),
                revealed: Some(payload),
                mismatched: Vec::new(),
                overflow: 0,
            };
            state.put(beacon_key(b.window, &b.beaconer), &record);
        }
    });
    state.commit().0
}
