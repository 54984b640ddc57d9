//! What coverage transactions say: device lifecycle (onboard, assert location, transfer, retire),
//! the governed denylist, and the proof-of-coverage reports (beacons and witnesses).
//!
//! Device lifecycle actions are signed by the owner; reports are signed by the device's own key.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Keypair, Signature};

/// A point on Earth in microdegrees (about 0.1 m of latitude).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat_udeg: i32,
    pub lon_udeg: i32,
}

impl Location {
    /// From decimal degrees (client side; the ledger only sees microdegrees).
    pub fn from_degrees(lat: f64, lon: f64) -> Location {
        Location {
            lat_udeg: (lat * 1e6).round() as i32,
            lon_udeg: (lon * 1e6).round() as i32,
        }
    }

    pub fn lat_deg(&self) -> f64 {
        f64::from(self.lat_udeg) / 1e6
    }

    pub fn lon_deg(&self) -> f64 {
        f64::from(self.lon_udeg) / 1e6
    }

    /// The H3 cell at `resolution`, or `None` if the coordinates are out of range.
    pub fn cell(&self, resolution: u8) -> Option<u64> {
        if self.lat_udeg.unsigned_abs() > 90_000_000 || self.lon_udeg.unsigned_abs() > 180_000_000 {
            return None;
        }
        let ll = h3o::LatLng::new(self.lat_deg(), self.lon_deg()).ok()?;
        let res = h3o::Resolution::try_from(resolution).ok()?;
        Some(u64::from(ll.to_cell(res)))
    }
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

/// Give a device to another owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferDevice {
    pub device: Address,
    pub new_owner: Address,
}

/// Remove a device from the network for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireDevice {
    pub device: Address,
}

/// Put a device on the denylist or take it off (signed by the governor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDenylist {
    pub device: Address,
    pub denied: bool,
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

/// The bytes a device key signs to consent to being owned by `owner` on `chain_id`.
pub fn onboarding_message(chain_id: &str, owner: &Address, device: &Address) -> Vec<u8> {
    Hash::tagged(
        "depin/coverage/onboard/v1",
        &[chain_id.as_bytes(), &owner.0, &device.0],
    )
    .0
    .to_vec()
}

/// The device's co-signature for onboarding (client side).
pub fn sign_onboarding(chain_id: &str, owner: &Address, device: &Keypair) -> Signature {
    device.sign(&onboarding_message(chain_id, owner, &device.address()))
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

struct_codec!(Location {
    lat_udeg: i32,
    lon_udeg: i32,
});
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
struct_codec!(TransferDevice {
    device: Address,
    new_owner: Address,
});
struct_codec!(RetireDevice { device: Address });
struct_codec!(SetDenylist {
    device: Address,
    denied: bool,
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
