//! What the coverage module keeps in the state: each hotspot's radio and proof record (beside
//! its entry in the shared device registry), each window's entropy, the accepted beacons, and
//! the score behind each device's reward, with the layout of their keys.

use serde::{Deserialize, Serialize};

use crate::codec::struct_codec;
use crate::crypto::{Address, Hash};
use crate::module::{Module, module_key};
use crate::services::devices::{self, Asserted, DevicesView};
use crate::state::{State, StateRead};

use super::Coverage;
use super::actions::DeviceKind;
use super::rewards::Score;

/// What coverage keeps of a hotspot beside its registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hotspot {
    pub kind: DeviceKind,
    /// Index of the device's region plan in the coverage parameters.
    pub region: u16,
    /// Antenna gain, centi-dBi.
    pub gain_cdbi: i32,
    /// Antenna height above ground, metres.
    pub elevation_m: i32,
    /// Height of the last location assert (onboarding with a location counts).
    pub location_height: Option<u64>,
    /// Reciprocity is waived until this window (a new or moved hotspot must start somewhere).
    pub grace_until_window: u64,
    /// Last window in which it had a beacon accepted.
    pub last_beacon_window: Option<u64>,
    /// Last window of a beacon it witnessed.
    pub last_witness_window: Option<u64>,
    /// Bit i set: active (scored with a witnessed beacon) in epoch `activity_epoch - i`.
    pub activity: u32,
    pub activity_epoch: u64,
    /// Witness reports counted against window `witnessed_window` (the per-window cap).
    pub witnessed_count: u32,
    pub witnessed_window: u64,
}

/// A coverage device as the module's checks and the API see it: its registry entry (owner,
/// location) and its hotspot record together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub owner: Address,
    pub kind: DeviceKind,
    pub region: u16,
    pub asserted: Option<Asserted>,
    pub gain_cdbi: i32,
    pub elevation_m: i32,
    pub onboarded_height: u64,
    pub location_height: Option<u64>,
    pub grace_until_window: u64,
    pub last_beacon_window: Option<u64>,
    pub last_witness_window: Option<u64>,
    pub activity: u32,
    pub activity_epoch: u64,
    pub witnessed_count: u32,
    pub witnessed_window: u64,
}

impl Device {
    /// Activity bits relative to `epoch`: bit i set if active in epoch `epoch - 1 - i`.
    pub fn recent_activity(&self, epoch: u64) -> u32 {
        if self.activity == 0 || epoch <= self.activity_epoch {
            return 0;
        }
        let shift = epoch - self.activity_epoch - 1;
        if shift >= 32 {
            0
        } else {
            self.activity << shift
        }
    }

    fn hotspot(&self) -> Hotspot {
        Hotspot {
            kind: self.kind,
            region: self.region,
            gain_cdbi: self.gain_cdbi,
            elevation_m: self.elevation_m,
            location_height: self.location_height,
            grace_until_window: self.grace_until_window,
            last_beacon_window: self.last_beacon_window,
            last_witness_window: self.last_witness_window,
            activity: self.activity,
            activity_epoch: self.activity_epoch,
            witnessed_count: self.witnessed_count,
            witnessed_window: self.witnessed_window,
        }
    }

    /// Reports a witness report of `window` counts against: those of the latest window this
    /// hotspot reported in (a report of an older window counts there too, so alternating
    /// between windows never resets the cap).
    pub fn witnessed_before(&self, window: u64) -> u32 {
        if window > self.witnessed_window {
            0
        } else {
            self.witnessed_count
        }
    }

    /// Counts one more witness report of `window`.
    pub fn count_witnessed(&mut self, window: u64) {
        self.witnessed_count = self.witnessed_before(window).saturating_add(1);
        self.witnessed_window = self.witnessed_window.max(window);
    }
}

/// An accepted beacon and its witnesses. Before the reveal `witnesses` are the reports accepted
/// so far, with their `commitments` in the same order; the reveal keeps the witnesses whose
/// commitment matches the payload, in the order the selection entropy gives them (the first
/// `max_rewarded_witnesses` are paid), and moves the others to `mismatched`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconRecord {
    pub commitment: Hash,
    /// The window's entropy, which the reveal's signature covers.
    pub entropy: Hash,
    pub channel: u16,
    pub frequency_hz: u64,
    pub tx_power_cdbm: i32,
    pub sent_at_ms: u64,
    pub height: u64,
    pub witnesses: Vec<Address>,
    pub commitments: Vec<Hash>,
    /// The payload, once revealed.
    pub revealed: Option<Hash>,
    /// Witnesses whose commitment did not match the revealed payload (they did not hear it).
    pub mismatched: Vec<Address>,
    /// Reports that passed every check after `max_witnesses_per_beacon` were recorded: accepted
    /// (they count for the witness's reciprocity) but not kept.
    pub overflow: u32,
}

const HOTSPOT: u8 = 0;
const ENTROPY: u8 = 1;
const BEACON: u8 = 2;
const SCORE: u8 = 3;
const BEACON_WINDOWS: u8 = 4;

pub fn hotspot_key(device: &Address) -> Vec<u8> {
    module_key(Coverage::ID, HOTSPOT, &[&device.0])
}

pub fn entropy_key(window: u64) -> Vec<u8> {
    module_key(Coverage::ID, ENTROPY, &[&window.to_be_bytes()])
}

pub fn beacon_key(window: u64, beaconer: &Address) -> Vec<u8> {
    module_key(Coverage::ID, BEACON, &[&window.to_be_bytes(), &beaconer.0])
}

/// The beacons of windows `from..to`.
pub fn beacon_range(from: u64, to: u64) -> (Vec<u8>, Vec<u8>) {
    (
        module_key(Coverage::ID, BEACON, &[&from.to_be_bytes()]),
        module_key(Coverage::ID, BEACON, &[&to.to_be_bytes()]),
    )
}

/// Where the network's [`BeaconWindows`] are kept.
pub fn beacon_windows_key() -> Vec<u8> {
    module_key(Coverage::ID, BEACON_WINDOWS, &[])
}

/// The two latest distinct windows in which the network accepted a beacon: what tells a
/// hotspot's missing reciprocity (it witnessed nobody) from a network that had nothing to
/// witness (every hotspot was away, e.g. a devnet stopped and started again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconWindows {
    pub latest: Option<u64>,
    pub previous: Option<u64>,
}

impl BeaconWindows {
    /// The latest window before `window` in which a beacon was accepted.
    pub fn before(&self, window: u64) -> Option<u64> {
        match self.latest {
            Some(l) if l < window => Some(l),
            _ => self.previous.filter(|p| *p < window),
        }
    }

    /// A beacon of `window` was accepted (windows only grow: a beacon names the current one).
    pub fn accepted(&mut self, window: u64) {
        if self.latest != Some(window) {
            self.previous = self.latest;
            self.latest = Some(window);
        }
    }
}

struct_codec!(BeaconWindows {
    latest: Option<u64>,
    previous: Option<u64>,
});

pub fn score_key(epoch: u64, device: &Address) -> Vec<u8> {
    module_key(Coverage::ID, SCORE, &[&epoch.to_be_bytes(), &device.0])
}

/// Read access to coverage records, in the executing state or a store snapshot.
pub trait CoverageView {
    /// A coverage device (registered to this module, with its hotspot record).
    fn device(&self, device: &Address) -> Option<Device>;
    fn entropy(&self, window: u64) -> Option<Hash>;
    fn beacon(&self, window: u64, beaconer: &Address) -> Option<BeaconRecord>;
    /// How a device's shares were scored when `epoch` closed.
    fn score(&self, epoch: u64, device: &Address) -> Option<Score>;
}

impl<R: StateRead> CoverageView for R {
    fn device(&self, device: &Address) -> Option<Device> {
        let entry = self.device_entry(device)?;
        if entry.module != Coverage::ID {
            return None;
        }
        let h: Hotspot = self.get(&hotspot_key(device))?;
        Some(Device {
            owner: entry.owner,
            kind: h.kind,
            region: h.region,
            asserted: entry.location,
            gain_cdbi: h.gain_cdbi,
            elevation_m: h.elevation_m,
            onboarded_height: entry.onboarded_height,
            location_height: h.location_height,
            grace_until_window: h.grace_until_window,
            last_beacon_window: h.last_beacon_window,
            last_witness_window: h.last_witness_window,
            activity: h.activity,
            activity_epoch: h.activity_epoch,
            witnessed_count: h.witnessed_count,
            witnessed_window: h.witnessed_window,
        })
    }

    fn entropy(&self, window: u64) -> Option<Hash> {
        self.get(&entropy_key(window))
    }

    fn beacon(&self, window: u64, beaconer: &Address) -> Option<BeaconRecord> {
        self.get(&beacon_key(window, beaconer))
    }

    fn score(&self, epoch: u64, device: &Address) -> Option<Score> {
        self.get(&score_key(epoch, device))
    }
}

/// Writes a registered coverage device's hotspot record, and its location to the registry when
/// it moved. Owners change only through the registry.
pub(crate) fn put_device(state: &mut State, address: &Address, d: &Device) {
    let entry = state
        .device_entry(address)
        .expect("coverage writes only registered devices");
    if entry.location != d.asserted {
        devices::set_location(state, address, d.asserted);
    }
    state.put(hotspot_key(address), &d.hotspot());
}

struct_codec!(Hotspot {
    kind: DeviceKind,
    region: u16,
    gain_cdbi: i32,
    elevation_m: i32,
    location_height: Option<u64>,
    grace_until_window: u64,
    last_beacon_window: Option<u64>,
    last_witness_window: Option<u64>,
    activity: u32,
    activity_epoch: u64,
    witnessed_count: u32,
    witnessed_window: u64,
});
struct_codec!(BeaconRecord {
    commitment: Hash,
    entropy: Hash,
    channel: u16,
    frequency_hz: u64,
    tx_power_cdbm: i32,
    sent_at_ms: u64,
    height: u64,
    witnesses: Vec<Address>,
    commitments: Vec<Hash>,
    revealed: Option<Hash>,
    mismatched: Vec<Address>,
    overflow: u32,
});
struct_codec!(Score {
    beacons: u32,
    witnesses: u32,
    beacon_units_ppm: u64,
    witness_units_ppm: u64,
    hex_scale_ppm: u64,
    quality_bps: u32,
    shares: u128,
    cluster_hotspots: u32,
    cluster_owners: u32,
    isolated: bool,
});
