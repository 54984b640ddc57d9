//! What coverage transactions say: onboarding a hotspot and asserting its location (signed by
//! the owner), and the proof-of-coverage reports, beacons, witnesses and reveals (signed by the
//! hotspot's own key), with the commit-reveal hashes that tie a witness to what it heard on air.
//! Transfers, retirement and the denylist are the device registry's actions.

use serde::{Deserialize, Serialize};

use crate::codec::{Decode, DecodeError, Encode, Reader, struct_codec};
use crate::crypto::{Address, Hash, Keypair, Signature};
use crate::module::actions;

pub use crate::services::devices::{Location, onboarding_message, sign_onboarding};

actions! {
    /// The coverage module's actions.
    CoverageAction, "coverage action";
    0 => OnboardDevice(OnboardDevice),
    1 => AssertLocation(AssertLocation),
    2 => Beacon(Beacon),
    3 => Witness(Witness),
    4 => Reveal(Reveal),
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

/// A hotspot's beacon for one window, signed by the hotspot key. The payload it transmits on air
/// is a secret until the [`Reveal`]: the ledger records only a commitment to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// The beacon window whose entropy the payload is derived from.
    pub window: u64,
    /// [`beacon_commitment`] of the payload on air ([`beacon_payload`]).
    pub commitment: Hash,
    /// Index into the region's channel list; [`beacon_channel`] of the commitment.
    pub channel: u16,
    /// Conducted transmit power, centi-dBm.
    pub tx_power_cdbm: i32,
    /// When the hotspot transmitted, ms since the Unix epoch (within the ledger's bounds of the
    /// block time).
    pub sent_at_ms: u64,
}

/// What a hotspot heard of another's beacon, signed by the witnessing hotspot key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    pub beaconer: Address,
    pub window: u64,
    /// [`witness_commitment`] of the payload as received, bound to the witness's own key: it
    /// shows nothing of the payload, and another hotspot cannot copy it.
    pub commitment: Hash,
    /// Frequency the packet was received on, Hz.
    pub frequency_hz: u64,
    /// Received signal strength, centi-dBm.
    pub rssi_cdbm: i32,
    /// Signal-to-noise ratio, centi-dB.
    pub snr_cdb: i32,
    /// When the packet was received, ms since the Unix epoch.
    pub heard_at_ms: u64,
}

/// The beaconer's reveal of its beacon of `window`, signed by the hotspot key, once witnesses
/// can no longer commit: the ledger then checks every witness's commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reveal {
    pub window: u64,
    /// The hotspot key's signature over [`beacon_message`]; the payload on air is
    /// [`beacon_payload`] of it.
    pub signature: Signature,
}

/// The bytes a hotspot signs to make its secret for window `window` (Ed25519 signatures are
/// deterministic: the same key, entropy and window give the same signature).
pub fn beacon_message(chain_id: &str, entropy: &Hash, window: u64, hotspot: &Address) -> Vec<u8> {
    Hash::tagged(
        "depin/coverage/beacon-secret/v2",
        &[
            chain_id.as_bytes(),
            &entropy.0,
            &window.to_le_bytes(),
            &hotspot.0,
        ],
    )
    .0
    .to_vec()
}

/// The hotspot's signature behind its payload of window `window` (client side).
pub fn sign_beacon(chain_id: &str, key: &Keypair, entropy: &Hash, window: u64) -> Signature {
    key.sign(&beacon_message(chain_id, entropy, window, &key.address()))
}

/// The payload a hotspot transmits on air in window `window`: a hash of its signature, which
/// only its key can make and nobody can compute before the window's entropy exists.
pub fn beacon_payload(signature: &Signature) -> Hash {
    Hash::tagged("depin/coverage/beacon/v2", &[&signature.0])
}

/// What a beacon commits to: the payload, the window and the beaconer.
pub fn beacon_commitment(payload: &Hash, window: u64, beaconer: &Address) -> Hash {
    Hash::tagged(
        "depin/coverage/beacon-commit/v2",
        &[&payload.0, &window.to_le_bytes(), &beaconer.0],
    )
}

/// What a witness commits to: the payload it received, bound to the beacon and to its own key.
pub fn witness_commitment(
    payload: &Hash,
    window: u64,
    beaconer: &Address,
    witness: &Address,
) -> Hash {
    Hash::tagged(
        "depin/coverage/witness-commit/v2",
        &[&payload.0, &window.to_le_bytes(), &beaconer.0, &witness.0],
    )
}

/// The channel index a beacon commitment selects among `channels` channels.
pub fn beacon_channel(commitment: &Hash, channels: usize) -> u16 {
    let pick = u16::from_le_bytes([commitment.0[0], commitment.0[1]]);
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
    commitment: Hash,
    channel: u16,
    tx_power_cdbm: i32,
    sent_at_ms: u64,
});
struct_codec!(Witness {
    beaconer: Address,
    window: u64,
    commitment: Hash,
    frequency_hz: u64,
    rssi_cdbm: i32,
    snr_cdb: i32,
    heard_at_ms: u64,
});
struct_codec!(Reveal {
    window: u64,
    signature: Signature,
});
