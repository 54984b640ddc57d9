//! What coverage transactions say: onboarding a hotspot and asserting its location (signed by
//! the owner), and the proof-of-coverage reports, beacons and witnesses (signed by the hotspot's
//! own key). Transfers, retirement and the denylist are the device registry's actions.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Signature};
use crate::module::actions;

pub use crate::services::devices::{Location, onboarding_message, sign_onboarding};

actions! {
    /// The coverage module's actions.
    CoverageAction, "coverage action";
    0 => OnboardDevice(OnboardDevice),
    1 => AssertLocation(AssertLocation),
    2 => Beacon(Beacon),
    3 => Witness(Witness),
}

/// What kind of hardware a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A full hotspot: transmits beacons and witnesses others.
    Hotspot,
    /// Moves data but has no radio for proof of coverage.
    DataOnly,
}

/// Register a device to the signer (its owner). The device key co-signs, so nobody can claim
/// hardware they do not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardDevice {
    pub device: Address,
    pub kind: DeviceKind,
    /// Name of the region plan the hardware is built for, e.g. `EU868`.
    pub region: String,
    /// Asserted location; may be given later with an assert.
    pub location: Option<Location>,
    /// Antenna gain, centi-dBi.
    pub gain_cdbi: i32,
    /// Antenna height above ground, metres.
    pub elevation_m: i32,
    /// The device key's signature over [`onboarding_message`].
    pub device_signature: Signature,
}

/// Assert a new location (and antenna) for a device the signer owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertLocation {
    pub device: Address,
    pub location: Location,
    pub gain_cdbi: i32,
    pub elevation_m: i32,
}

/// A hotspot's beacon for one window, signed by the hotspot key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// The beacon window whose entropy the payload is derived from.
    pub window: u64,
    /// [`beacon_payload`] of the window's entropy and the hotspot key.
    pub payload: Hash,
    /// Index into the region's channel list; [`beacon_channel`] of the payload.
    pub channel: u16,
    /// Conducted transmit power, centi-dBm.
    pub tx_power_cdbm: i32,
    /// When the hotspot transmitted, ms since the Unix epoch.
    pub sent_at_ms: u64,
}

/// What a hotspot heard of another's beacon, signed by the witnessing hotspot key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    pub beaconer: Address,
    pub window: u64,
    /// The payload as received.
    pub payload: Hash,
    /// Frequency the packet was received on, Hz.
    pub frequency_hz: u64,
    /// Received signal strength, centi-dBm.
    pub rssi_cdbm: i32,
    /// Signal-to-noise ratio, centi-dB.
    pub snr_cdb: i32,
    /// When the packet was received, ms since the Unix epoch.
    pub heard_at_ms: u64,
}

/// The payload a hotspot must send in window `window`: unpredictable before the window's entropy
/// exists, and different for every hotspot.
pub fn beacon_payload(entropy: &Hash, window: u64, hotspot: &Address) -> Hash {
    Hash::tagged(
        "depin/coverage/beacon/v1",
        &[&entropy.0, &window.to_le_bytes(), &hotspot.0],
    )
}

/// The channel index a payload selects among `channels` channels.
pub fn beacon_channel(payload: &Hash, channels: usize) -> u16 {
    let pick = u16::from_le_bytes([payload.0[0], payload.0[1]]);
    (usize::from(pick) % channels.max(1)) as u16
}

impl Encode for DeviceKind {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self {
            DeviceKind::Hotspot => 0,
            DeviceKind::DataOnly => 1,
        });
    }
}

impl Decode for DeviceKind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(DeviceKind::Hotspot),
            1 => Ok(DeviceKind::DataOnly),
            tag => Err(DecodeError::InvalidTag {
                what: "device kind",
                tag,
            }),
        }
    }
}

struct_codec!(OnboardDevice {
    device: Address,
    kind: DeviceKind,
    region: String,
    location: Option<Location>,
    gain_cdbi: i32,
    elevation_m: i32,
    device_signature: Signature,
});
struct_codec!(AssertLocation {
    device: Address,
    location: Location,
    gain_cdbi: i32,
    elevation_m: i32,
});
struct_codec!(Beacon {
    window: u64,
    payload: Hash,
    channel: u16,
    tx_power_cdbm: i32,
    sent_at_ms: u64,
});
struct_codec!(Witness {
    beaconer: Address,
    window: u64,
    payload: Hash,
    frequency_hz: u64,
    rssi_cdbm: i32,
    snr_cdb: i32,
    heard_at_ms: u64,
});
