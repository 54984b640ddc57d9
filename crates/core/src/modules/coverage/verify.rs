//! Every check of the coverage module, and the state change each action makes once it passes.
//!
//! Each handler checks everything before it writes anything, so a refused action leaves the
//! state as it was (apart from the signer's nonce, which the executor has already used up).

use std::sync::Arc;

use crate::crypto::{Address, Hash};
use crate::module::{BlockContext, Module};
use crate::rejection::Rejection;
use crate::services::devices::{self, DeviceRejection};
use crate::services::fees::{self, FeeKind};
use crate::state::State;

use super::Coverage;
use super::actions::{
    AssertLocation, Beacon, DeviceKind, Location, OnboardDevice, Reveal, Witness, beacon_channel,
    beacon_commitment, beacon_message, beacon_payload, witness_commitment,
};
use super::device::{
    BeaconRecord, BeaconWindows, CoverageView, Device, beacon_key, beacon_windows_key, put_device,
};
use super::params::{CoverageParams, LOCATION_RESOLUTION};
use super::radio::{Link, Receiver, SignalFault, check_signal, great_circle_distance_m};
use super::reject::{CoverageRejection as R, RECIPROCITY_BEACON, RECIPROCITY_WITNESS};
use crate::services::devices::{Asserted, DevicesView};
use crate::state::StateRead;

fn params(state: &State) -> Result<Arc<CoverageParams>, Rejection> {
    state
        .params()
        .modules
        .coverage
        .clone()
        .ok_or(Rejection::ModuleDisabled {
            module: Coverage::ID,
        })
}

/// The fee for onboarding and/or asserting a location, in the module's token prices (used
/// on a network without the demand service).
fn plan_fee(
    state: &State,
    p: &CoverageParams,
    owner: &Address,
    onboard: bool,
    location: bool,
    ctx: BlockContext,
) -> Result<fees::FeePlan, Rejection> {
    let mut kinds = Vec::with_capacity(2);
    let mut tokens = crate::amount::Amount::ZERO;
    for (due, kind, part) in [
        (onboard, FeeKind::Onboard, p.onboard_fee),
        (location, FeeKind::Location, p.location_fee),
    ] {
        if due {
            kinds.push(kind);
            tokens = tokens.checked_add(part).expect("fees are far below u128");
        }
    }
    fees::plan(state, owner, &kinds, tokens, ctx)
}

/// Conducted transmit power a beacon may claim, centi-dBm (-30 to +40 dBm: every LoRa radio
/// lies inside; bounding it keeps the link arithmetic far from overflow).
pub const MIN_TX_POWER_CDBM: i32 = -3_000;
pub const MAX_TX_POWER_CDBM: i32 = 4_000;
/// Antenna height above ground a device may assert, metres.
pub const MIN_ELEVATION_M: i32 = -100;
pub const MAX_ELEVATION_M: i32 = 1_000;

fn check_elevation(elevation_m: i32) -> Result<(), R> {
    if !(MIN_ELEVATION_M..=MAX_ELEVATION_M).contains(&elevation_m) {
        return Err(R::ElevationOutOfRange {
            elevation_m,
            min_m: MIN_ELEVATION_M,
            max_m: MAX_ELEVATION_M,
        });
    }
    Ok(())
}

fn check_gain(p: &CoverageParams, gain_cdbi: i32) -> Result<(), R> {
    let (min, max) = (p.rules.min_gain_cdbi, p.rules.max_gain_cdbi);
    if gain_cdbi < min || gain_cdbi > max {
        return Err(R::GainOutOfRange {
            gain_cdbi,
            min_cdbi: min,
            max_cdbi: max,
        });
    }
    Ok(())
}

/// The asserted form of `location` if it is on Earth and inside region `region`.
fn assert_in_region(p: &CoverageParams, region: u16, location: Location) -> Result<Asserted, R> {
    let cell = location
        .cell(LOCATION_RESOLUTION)
        .ok_or(R::InvalidLocation {})?;
    if !p.region_contains(region, cell) {
        return Err(R::OutsideRegion {
            region: p.regions[region as usize].name.clone(),
        });
    }
    Ok(Asserted { location, cell })
}

/// Checks that fewer than `max_hotspots_per_cell` other coverage devices already assert the
/// resolution-12 cell (about 300 m²) of `at`: two hotspots on one spot prove nothing more than
/// one, and cheap decoys stacked in an honest hotspot's hex would dilute its density scale.
fn check_spot(
    state: &State,
    p: &CoverageParams,
    at: Asserted,
    moving: Option<&Address>,
) -> Result<(), R> {
    let max = p.rules.max_hotspots_per_cell;
    let (from, to) = devices::cell_range(at.cell, at.cell.saturating_add(1));
    let there = state
        .scan(&from, &to, max as usize + 2)
        .into_iter()
        .map(|(key, _)| crate::module::address_suffix(&key))
        .filter(|d| Some(d) != moving)
        .filter(|d| {
            state
                .device_entry(d)
                .is_some_and(|e| e.module == Coverage::ID)
        })
        .count();
    if there >= max as usize {
        return Err(R::SpotTaken { max });
    }
    Ok(())
}

/// Registers a hotspot to `owner`.
pub fn onboard(
    state: &mut State,
    owner: &Address,
    a: &OnboardDevice,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    devices::check_new(state, owner, &a.device, &a.device_signature)?;
    let region = p.region_index(&a.region).ok_or_else(|| R::UnknownRegion {
        name: a.region.clone(),
    })?;
    check_gain(&p, a.gain_cdbi)?;
    check_elevation(a.elevation_m)?;
    let asserted = a
        .location
        .map(|l| assert_in_region(&p, region, l))
        .transpose()?;
    if let Some(a) = asserted {
        check_spot(state, &p, a, None)?;
    }
    let fee = plan_fee(state, &p, owner, true, asserted.is_some(), ctx)?;
    devices::check_bond(state, owner, fee.tokens())?;
    fees::pay(state, owner, fee, ctx)?;
    devices::register(state, owner, &a.device, Coverage::ID, asserted, ctx);
    let window = p.window_of_height(ctx.height);
    let device = Device {
        owner: *owner,
        kind: a.kind,
        region,
        asserted,
        gain_cdbi: a.gain_cdbi,
        elevation_m: a.elevation_m,
        onboarded_height: ctx.height,
        location_height: asserted.map(|_| ctx.height),
        grace_until_window: window + p.rules.reciprocity_grace_windows,
        last_beacon_window: None,
        last_witness_window: None,
        activity: 0,
        activity_epoch: 0,
        witnessed_count: 0,
        witnessed_window: 0,
    };
    put_device(state, &a.device, &device);
    Ok(())
}

/// A coverage device `owner` owns.
fn owned_device(state: &State, owner: &Address, device: &Address) -> Result<Device, Rejection> {
    devices::owned(state, owner, device)?;
    state.device(device).ok_or_else(|| not_coverage(device))
}

/// A registered device of another module is unknown to coverage.
fn not_coverage(device: &Address) -> Rejection {
    DeviceRejection::WrongModule {
        device: *device,
        module: Coverage::NAME.into(),
    }
    .into()
}

/// Moves a device's asserted location (rate-limited, with a fee).
pub fn assert_location(
    state: &mut State,
    owner: &Address,
    a: &AssertLocation,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let mut d = owned_device(state, owner, &a.device)?;
    if let Some(last) = d.location_height {
        let next_height = last + p.rules.reassert_interval_blocks;
        if ctx.height < next_height {
            return Err(R::LocationTooSoon { next_height }.into());
        }
    }
    check_gain(&p, a.gain_cdbi)?;
    check_elevation(a.elevation_m)?;
    let asserted = assert_in_region(&p, d.region, a.location)?;
    check_spot(state, &p, asserted, Some(&a.device))?;
    let fee = plan_fee(state, &p, owner, false, true, ctx)?;
    fees::pay(state, owner, fee, ctx)?;
    d.asserted = Some(asserted);
    d.gain_cdbi = a.gain_cdbi;
    d.elevation_m = a.elevation_m;
    d.location_height = Some(ctx.height);
    d.grace_until_window = p.window_of_height(ctx.height) + p.rules.reciprocity_grace_windows;
    put_device(state, &a.device, &d);
    Ok(())
}

/// A reporting hotspot: registered, a hotspot, not denied, with a location.
fn reporter(state: &State, address: &Address) -> Result<(Device, Asserted), Rejection> {
    devices::usable(state, address)?;
    let d = state.device(address).ok_or_else(|| not_coverage(address))?;
    if d.kind != DeviceKind::Hotspot {
        return Err(R::NotCapable {}.into());
    }
    let asserted = d.asserted.ok_or(R::NoLocation { device: *address })?;
    Ok((d, asserted))
}

/// Checks that beacons and witness reports may still name `window` at `height`: opened already
/// and not more than `entropy_max_age_windows` ago (after that its beacons are revealed).
fn check_window(p: &CoverageParams, window: u64, height: u64) -> Result<(), R> {
    let current = p.window_of_height(height);
    if window > current {
        return Err(R::EntropyUnknown { window, current });
    }
    if current - window > p.rules.entropy_max_age_windows {
        return Err(R::EntropyExpired { window, current });
    }
    Ok(())
}

/// Checks a time a device reports (when it sent or heard a beacon) against the block's time:
/// at most `max_clock_skew_ms` after it and at most `max_report_age_ms` before it.
fn check_time(p: &CoverageParams, at_ms: u64, ctx: BlockContext) -> Result<(), R> {
    let (skew, age) = (p.rules.max_clock_skew_ms, p.rules.max_report_age_ms);
    let too_new = at_ms > ctx.time_ms.saturating_add(skew);
    let too_old = at_ms.saturating_add(age) < ctx.time_ms;
    if too_new || too_old {
        return Err(R::ReportTimeOutOfBounds {
            at_ms,
            block_time_ms: ctx.time_ms,
            max_skew_ms: skew,
            max_age_ms: age,
        });
    }
    Ok(())
}

fn recently(last: Option<u64>, window: u64, windows: u64) -> bool {
    last.is_some_and(|l| l + windows >= window)
}

/// Accepts a beacon from `hotspot`: a commitment to the secret payload it transmitted.
pub fn beacon(
    state: &mut State,
    hotspot: &Address,
    b: &Beacon,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let (mut d, _) = reporter(state, hotspot)?;
    check_window(&p, b.window, ctx.height)?;
    let entropy = state.entropy(b.window).ok_or(R::EntropyExpired {
        window: b.window,
        current: p.window_of_height(ctx.height),
    })?;
    if let Some(last) = d.last_beacon_window
        && last >= b.window
    {
        return Err(R::BeaconTooFrequent { window: last }.into());
    }
    let region = &p.regions[d.region as usize];
    let expected = beacon_channel(&b.commitment, region.channels_hz.len());
    if b.channel != expected {
        return Err(R::WrongChannel {
            expected,
            got: b.channel,
        }
        .into());
    }
    if !(MIN_TX_POWER_CDBM..=MAX_TX_POWER_CDBM).contains(&b.tx_power_cdbm) {
        return Err(R::TxPowerOutOfRange {
            tx_power_cdbm: b.tx_power_cdbm,
            min_cdbm: MIN_TX_POWER_CDBM,
            max_cdbm: MAX_TX_POWER_CDBM,
        }
        .into());
    }
    let eirp_cdbm = b.tx_power_cdbm.saturating_add(d.gain_cdbi);
    if eirp_cdbm > region.max_eirp_cdbm {
        return Err(R::PowerAboveLimit {
            eirp_cdbm,
            max_cdbm: region.max_eirp_cdbm,
        }
        .into());
    }
    check_time(&p, b.sent_at_ms, ctx)?;
    let windows = p.rules.reciprocity_windows;
    let mut network: BeaconWindows = state.get(&beacon_windows_key()).unwrap_or_default();
    // Reciprocity asks a hotspot to have witnessed someone; when the network accepted no beacon
    // in the windows it looks back over, there was nobody to witness (every hotspot was away),
    // and requiring it would refuse every beacon from then on.
    let had_something_to_witness = recently(network.before(b.window), b.window, windows);
    if b.window > d.grace_until_window
        && had_something_to_witness
        && !recently(d.last_witness_window, b.window, windows)
    {
        return Err(R::NoReciprocity {
            side: RECIPROCITY_BEACON,
            windows,
        }
        .into());
    }
    let record = BeaconRecord {
        commitment: b.commitment,
        entropy,
        channel: b.channel,
        frequency_hz: region.channels_hz[expected as usize],
        tx_power_cdbm: b.tx_power_cdbm,
        sent_at_ms: b.sent_at_ms,
        height: ctx.height,
        witnesses: Vec::new(),
        commitments: Vec::new(),
        revealed: None,
        mismatched: Vec::new(),
        overflow: 0,
    };
    state.put(beacon_key(b.window, hotspot), &record);
    network.accepted(b.window);
    state.put(beacon_windows_key(), &network);
    d.last_beacon_window = Some(b.window);
    put_device(state, hotspot, &d);
    Ok(())
}

/// Accepts a witness report from `hotspot`: its commitment to the payload it heard, checked
/// when the beaconer reveals.
pub fn witness(
    state: &mut State,
    hotspot: &Address,
    w: &Witness,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    let (mut wd, wloc) = reporter(state, hotspot)?;
    if w.beaconer == *hotspot {
        return Err(R::SelfWitness {}.into());
    }
    check_window(&p, w.window, ctx.height)?;
    let unknown = || R::UnknownBeacon {
        beaconer: w.beaconer,
        window: w.window,
    };
    let mut record = state.beacon(w.window, &w.beaconer).ok_or_else(unknown)?;
    // A beaconer retired or moved since its beacon cannot be checked against; its beacon is void.
    let bd = state.device(&w.beaconer).ok_or_else(unknown)?;
    let bloc = bd.asserted.ok_or_else(unknown)?;
    // No report reaches a revealed beacon: reveals open only once `check_window` refuses
    // reports of its window.
    if record.witnesses.contains(hotspot) {
        return Err(R::DuplicateWitness {}.into());
    }
    if state.is_pair_denied(&w.beaconer, hotspot) {
        return Err(R::PairDenied {
            beaconer: w.beaconer,
        }
        .into());
    }
    check_time(&p, w.heard_at_ms, ctx)?;
    // Both times are any u64 a client chose: subtract in 128 bits, report clamped to i64.
    let delay = i128::from(w.heard_at_ms) - i128::from(record.sent_at_ms);
    let delay_ms = delay.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let max_ms = p.rules.max_witness_delay_ms;
    if delay_ms < 0 || delay_ms as u64 > max_ms {
        return Err(R::WitnessTooLate { delay_ms, max_ms }.into());
    }
    let tolerance_hz = p.rules.frequency_tolerance_hz;
    if w.frequency_hz.abs_diff(record.frequency_hz) > tolerance_hz {
        return Err(R::FrequencyMismatch {
            got_hz: w.frequency_hz,
            expected_hz: record.frequency_hz,
            tolerance_hz,
        }
        .into());
    }
    if wd.region != bd.region {
        return Err(R::RegionMismatch {
            beaconer: p.regions[bd.region as usize].name.clone(),
            witness: p.regions[wd.region as usize].name.clone(),
        }
        .into());
    }
    let distance = great_circle_distance_m(
        bloc.location.lat_udeg,
        bloc.location.lon_udeg,
        wloc.location.lat_udeg,
        wloc.location.lon_udeg,
    );
    let distance_m = distance.min(f64::from(u32::MAX)) as u32;
    if distance_m > p.rules.max_witness_distance_m {
        return Err(R::TooFar {
            distance_m,
            max_m: p.rules.max_witness_distance_m,
        }
        .into());
    }
    let cells = grid_distance(bloc.cell, wloc.cell, p.rules.min_distance_resolution);
    if cells < p.rules.min_witness_distance_cells {
        return Err(R::TooClose {
            cells,
            min_cells: p.rules.min_witness_distance_cells,
        }
        .into());
    }
    let region = &p.regions[wd.region as usize];
    let link = Link {
        tx_power_cdbm: record.tx_power_cdbm,
        tx_gain_cdbi: bd.gain_cdbi,
        rx_gain_cdbi: wd.gain_cdbi,
        distance_m,
        frequency_hz: record.frequency_hz,
    };
    let rx = Receiver {
        sensitivity_cdbm: region.sensitivity_cdbm,
        noise_floor_cdbm: region.noise_floor_cdbm,
        tolerance_cdb: p.rules.signal_tolerance_cdb,
    };
    check_signal(&link, &rx, w.rssi_cdbm, w.snr_cdb).map_err(|fault| match fault {
        SignalFault::StrongerThanFreeSpace {
            rssi_cdbm,
            max_cdbm,
        } => R::RssiTooStrong {
            rssi_cdbm,
            max_cdbm,
        },
        SignalFault::BelowSensitivity {
            rssi_cdbm,
            sensitivity_cdbm,
        } => R::RssiBelowSensitivity {
            rssi_cdbm,
            sensitivity_cdbm,
        },
        SignalFault::SnrInconsistent { snr_cdb, max_cdb } => {
            R::SnrInconsistent { snr_cdb, max_cdb }
        }
    })?;
    let windows = p.rules.reciprocity_windows;
    if w.window > wd.grace_until_window && !recently(wd.last_beacon_window, w.window, windows) {
        return Err(R::NoReciprocity {
            side: RECIPROCITY_WITNESS,
            windows,
        }
        .into());
    }
    let cap = p.rules.max_witnessed_per_window;
    if wd.witnessed_before(w.window) >= cap {
        return Err(R::TooManyWitnesses { max: cap }.into());
    }
    // A full beacon still accepts the report (it counts for the witness's reciprocity, so
    // reports filed first cannot starve honest hotspots of it) but keeps no more of it.
    if record.witnesses.len() >= p.rules.max_witnesses_per_beacon as usize {
        record.overflow = record.overflow.saturating_add(1);
    } else {
        record.witnesses.push(*hotspot);
        record.commitments.push(w.commitment);
    }
    state.put(beacon_key(w.window, &w.beaconer), &record);
    wd.count_witnessed(w.window);
    if wd.last_witness_window.is_none_or(|l| l < w.window) {
        wd.last_witness_window = Some(w.window);
    }
    put_device(state, hotspot, &wd);
    Ok(())
}

/// Accepts `hotspot`'s reveal of its beacon of `r.window`: checks the signature and the
/// commitment, keeps the witnesses whose commitment matches the payload (in the order the
/// current window's entropy, unknown to every witness when it committed, gives them) and sets
/// the others aside as mismatched.
pub fn reveal(
    state: &mut State,
    hotspot: &Address,
    r: &Reveal,
    ctx: BlockContext,
) -> Result<(), Rejection> {
    let p = params(state)?;
    reporter(state, hotspot)?;
    let current = p.window_of_height(ctx.height);
    let due = r.window.saturating_add(p.reveal_lag_windows());
    if current < due {
        return Err(R::RevealTooEarly {
            window: r.window,
            from_window: due,
        }
        .into());
    }
    if current > due {
        return Err(R::RevealTooLate {
            window: r.window,
            until_window: due,
        }
        .into());
    }
    let mut record = state.beacon(r.window, hotspot).ok_or(R::UnknownBeacon {
        beaconer: *hotspot,
        window: r.window,
    })?;
    if record.revealed.is_some() {
        return Err(R::AlreadyRevealed { window: r.window }.into());
    }
    let message = beacon_message(&state.params().chain_id, &record.entropy, r.window, hotspot);
    let payload = beacon_payload(&r.signature);
    if !crate::crypto::verify(hotspot, &message, &r.signature)
        || beacon_commitment(&payload, r.window, hotspot) != record.commitment
    {
        return Err(R::WrongPayload {}.into());
    }
    let selection = state.entropy(current).unwrap_or(record.entropy);
    let mut matched: Vec<(Hash, Address)> = Vec::with_capacity(record.witnesses.len());
    let mut mismatched = Vec::new();
    for (w, c) in record.witnesses.iter().zip(&record.commitments) {
        if witness_commitment(&payload, r.window, hotspot, w) == *c {
            let rank = Hash::tagged(
                "depin/coverage/select/v1",
                &[&selection.0, &r.window.to_le_bytes(), &hotspot.0, &w.0],
            );
            matched.push((rank, *w));
        } else {
            mismatched.push(*w);
        }
    }
    matched.sort_unstable();
    record.witnesses = matched.into_iter().map(|(_, w)| w).collect();
    record.commitments = Vec::new();
    record.mismatched = mismatched;
    record.revealed = Some(payload);
    state.put(beacon_key(r.window, hotspot), &record);
    Ok(())
}

/// H3 grid distance between the parents of two resolution-12 cells at `resolution`. Cells too
/// far apart for H3 to measure (or across a pentagon) count as far: the great-circle limit
/// already bounds them.
pub fn grid_distance(a: u64, b: u64, resolution: u8) -> u32 {
    let parent = |c: u64| {
        let cell = h3o::CellIndex::try_from(c).ok()?;
        cell.parent(h3o::Resolution::try_from(resolution).ok()?)
    };
    match (parent(a), parent(b)) {
        (Some(pa), Some(pb)) => pa
            .grid_distance(pb)
            .map(|d| d.unsigned_abs())
            .unwrap_or(u32::MAX),
        _ => u32::MAX,
    }
}
