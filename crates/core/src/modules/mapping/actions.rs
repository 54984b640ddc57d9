//! What mapping transactions say: onboarding a dashcam (signed by its owner), a bundle of
//! frames (signed by the dashcam's own key, uploaded by anyone: the owner's phone, a fleet
//! server), a bounty on cells (signed by the user who pays it), and a map user's payment for the
//! cells it was served.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{Decode, DecodeError, Encode, Reader, decode_sequence, struct_codec};
use crate::crypto::{Address, Hash, Keypair, Signature};
use crate::module::{Kept, actions};
use crate::tx::Network;

use super::params::{MAX_ACCESS_CELLS, MAX_BOUNTY_CELLS, MAX_FRAMES_PER_BUNDLE};
use super::verify::Layout;

pub use crate::services::devices::{Location, onboarding_message, sign_onboarding};

actions! {
    /// The mapping module's actions.
    MappingAction, "mapping action";
    0 => OnboardDashcam(OnboardDashcam),
    1 => SubmitBundle(SubmitBundle),
    2 => OpenBounty(OpenBounty),
    3 => PayMapAccess(PayMapAccess),
}

/// Register a dashcam to the signer (its owner). The dashcam key co-signs, so nobody can claim
/// hardware they do not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardDashcam {
    pub device: Address,
    /// The dashcam key's signature over [`onboarding_message`].
    pub device_signature: Signature,
}

/// One keyframe: when and where it was taken, how the car moved, how good the fix was, and
/// the hashes of the image (the image itself stays with the dashcam's owner, who serves it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// Capture time, ms since the Unix epoch (GNSS time).
    pub time_ms: u64,
    pub lat_udeg: i32,
    pub lon_udeg: i32,
    /// Ground speed from the GNSS receiver, cm/s.
    pub speed_cms: u16,
    /// Course over ground, hundredths of a degree clockwise from north (below 36000).
    pub heading_cdeg: u16,
    /// Satellites used in the fix.
    pub satellites: u8,
    /// Horizontal dilution of precision, hundredths.
    pub hdop_centi: u16,
    /// BLAKE3 of the image bytes.
    pub image: Hash,
    /// 64-bit perceptual hash of the image (similar pictures differ in few bits).
    pub phash: u64,
}

/// A run of frames from one dashcam, signed by the dashcam; `seq` rises with every bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBundle {
    pub device: Address,
    pub seq: u64,
    pub frames: Vec<Frame>,
    /// The dashcam key's signature over [`bundle_message`].
    pub device_signature: Signature,
    /// The frames' cells and neighbourhoods, once computed ([`SubmitBundle::layout`]).
    #[serde(skip)]
    pub(crate) layout: Kept<Layout>,
}

/// Escrow `amount` base units on `cells` until `until_ms`: in each cell the first `passes`
/// dashcams whose valid frames land there after the bounty opened share the cell's part; what
/// nobody claimed, and the rounding, go back to the signer when the bounty ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBounty {
    /// H3 cells at the mapping resolution.
    pub cells: Vec<u64>,
    pub amount: Amount,
    pub passes: u8,
    /// Last capture time that claims, ms since the Unix epoch.
    pub until_ms: u64,
}

/// A map user pays for the cells it was served: `access_cell_credits` credits a cell are burned
/// from the signer's credits and counted as paid service of the dashcam whose imagery is the
/// cell's latest (so the demand pool pays the contributors whose frames are used). Cells the
/// ledger has no payable imagery for are not charged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayMapAccess {
    /// H3 cells at the mapping resolution, strictly ascending.
    pub cells: Vec<u64>,
}

/// The bytes a dashcam signs for bundle `seq` on `network`: bound to its genesis hash, as
/// transaction signatures are, so a bundle signed for one network (or a test network with the
/// same chain id) is refused on another.
pub fn bundle_message(network: &Network, device: &Address, seq: u64, frames: &[Frame]) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(frames.len() * 63);
    for f in frames {
        f.encode(&mut encoded);
    }
    Hash::tagged(
        "depin/mapping/bundle/v2",
        &[
            &network.genesis_hash.0,
            &device.0,
            &seq.to_le_bytes(),
            &encoded,
        ],
    )
    .0
    .to_vec()
}

impl SubmitBundle {
    /// A bundle signed by the dashcam key (client side).
    pub fn signed(network: &Network, dashcam: &Keypair, seq: u64, frames: Vec<Frame>) -> Self {
        let device = dashcam.address();
        let device_signature = dashcam.sign(&bundle_message(network, &device, seq, &frames));
        SubmitBundle {
            device,
            seq,
            frames,
            device_signature,
            layout: Kept::default(),
        }
    }
}

struct_codec!(OnboardDashcam {
    device: Address,
    device_signature: Signature,
});
struct_codec!(Frame {
    time_ms: u64,
    lat_udeg: i32,
    lon_udeg: i32,
    speed_cms: u16,
    heading_cdeg: u16,
    satellites: u8,
    hdop_centi: u16,
    image: Hash,
    phash: u64,
});

impl Encode for SubmitBundle {
    fn encode(&self, out: &mut Vec<u8>) {
        self.device.encode(out);
        self.seq.encode(out);
        self.frames.encode(out);
        self.device_signature.encode(out);
    }
}

impl Decode for SubmitBundle {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device = Address::decode(r)?;
        let seq = u64::decode(r)?;
        let len = r.length("bundle frames", MAX_FRAMES_PER_BUNDLE)?;
        let frames = decode_sequence(r, len, "bundle frames")?;
        Ok(SubmitBundle {
            device,
            seq,
            frames,
            device_signature: Signature::decode(r)?,
            layout: Kept::default(),
        })
    }
}

impl Encode for OpenBounty {
    fn encode(&self, out: &mut Vec<u8>) {
        self.cells.encode(out);
        self.amount.encode(out);
        self.passes.encode(out);
        self.until_ms.encode(out);
    }
}

impl Decode for OpenBounty {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.length("bounty cells", MAX_BOUNTY_CELLS)?;
        Ok(OpenBounty {
            cells: decode_sequence(r, len, "bounty cells")?,
            amount: Amount::decode(r)?,
            passes: u8::decode(r)?,
            until_ms: u64::decode(r)?,
        })
    }
}

impl Encode for PayMapAccess {
    fn encode(&self, out: &mut Vec<u8>) {
        self.cells.encode(out);
    }
}

impl Decode for PayMapAccess {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.length("map access cells", MAX_ACCESS_CELLS)?;
        Ok(PayMapAccess {
            cells: decode_sequence(r, len, "map access cells")?,
        })
    }
}
