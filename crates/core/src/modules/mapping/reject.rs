//! Why a mapping transaction was refused, and why a frame of an accepted bundle earned nothing:
//! one reason code and one sentence per check, so a driver can always find out what went wrong.

use std::fmt;

use crate::crypto::Address;
use crate::module::reasons;

reasons! {
    /// A refused mapping transaction (a bundle refused as a whole, an onboarding, a bounty).
    MappingRejection, "mapping rejection";
    0 => BadBundleSignature {} = "bad_bundle_signature",
    1 => StaleSequence { seq: u64, last: u64 } = "stale_sequence",
    2 => EmptyBundle {} = "empty_bundle",
    3 => TooManyFrames { count: u32, max: u32 } = "too_many_frames",
    4 => TimeNotForward { index: u32 } = "time_not_forward",
    5 => BundleTooOld { age_ms: u64, max_ms: u64 } = "bundle_too_old",
    6 => BundleInFuture { ahead_ms: u64, max_ms: u64 } = "bundle_in_future",
    7 => FieldOutOfRange { index: u32, field: String } = "field_out_of_range",
    8 => BountyCells { count: u32, max: u32 } = "bounty_cells",
    9 => BountyBadCell { cell: u64 } = "bounty_bad_cell",
    10 => BountyPeriod { duration_ms: u64, max_ms: u64 } = "bounty_period",
    11 => BountyPasses { passes: u8, max: u8 } = "bounty_passes",
    12 => BountyTooSmall { amount: u128, parts: u64 } = "bounty_too_small",
    13 => AccessNotSold {} = "access_not_sold",
    14 => AccessCells { count: u32, max: u32 } = "access_cells",
    15 => AccessBadCell { cell: u64 } = "access_bad_cell",
    16 => NothingServed {} = "nothing_served",
}

reasons! {
    /// Why one frame of an accepted bundle was flagged and earns nothing (the bundle's other
    /// frames are judged on their own).
    FrameFault, "mapping frame fault";
    0 => TooFast { speed_cms: u32, max_cms: u32 } = "too_fast",
    1 => ImplausibleJump { implied_cms: u64, max_cms: u32 } = "implausible_jump",
    2 => DistanceMismatch { distance_mm: u64, expected_mm: u64 } = "distance_mismatch",
    3 => Acceleration { accel_cms2: u64, max_cms2: u32 } = "acceleration",
    4 => PoorGnss { satellites: u8, hdop_centi: u16 } = "poor_gnss",
    5 => Stationary { speed_cms: u32, step_mm: u64 } = "stationary",
    6 => DuplicateImage { first: Address } = "duplicate_image",
    7 => NearDuplicate { other: Address, bits: u32 } = "near_duplicate",
    8 => ClosedRegion { region: String } = "closed_region",
    9 => OutsideRegions {} = "outside_regions",
}

/// Centi-units as a decimal string: `1234` -> `12.34`.
fn centi(v: u64) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

/// Millimetres as metres with one decimal.
fn metres(mm: u64) -> String {
    format!("{}.{}", mm / 1000, (mm % 1000) / 100)
}

impl fmt::Display for MappingRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MappingRejection::*;
        match self {
            BadBundleSignature {} => write!(
                f,
                "the dashcam's signature over the bundle does not verify; bundles must be signed by the registered dashcam key as captured"
            ),
            StaleSequence { seq, last } => write!(
                f,
                "bundle sequence {seq} is not above the last accepted one ({last}); a bundle is accepted once, number new bundles upward"
            ),
            EmptyBundle {} => write!(f, "the bundle has no frames"),
            TooManyFrames { count, max } => write!(
                f,
                "the bundle has {count} frames, more than the {max} a bundle may carry; split the drive into more bundles"
            ),
            TimeNotForward { index } => write!(
                f,
                "frame {index} is not later than the frame before it (or than this dashcam's last accepted frame); capture times must move forward"
            ),
            BundleTooOld { age_ms, max_ms } => write!(
                f,
                "the bundle's first frame is {}s old, past the {}s upload window; upload drives promptly",
                age_ms / 1000,
                max_ms / 1000
            ),
            BundleInFuture { ahead_ms, max_ms } => write!(
                f,
                "the bundle's last frame is {}s ahead of the block time (allowed clock skew {}s); check the dashcam's clock",
                ahead_ms / 1000,
                max_ms / 1000
            ),
            FieldOutOfRange { index, field } => write!(
                f,
                "frame {index}: {field} is out of range (latitude ±90°, longitude ±180° in microdegrees, heading below 360.00°)"
            ),
            BountyCells { count, max } => {
                write!(f, "a bounty names 1 to {max} distinct cells, not {count}")
            }
            BountyBadCell { cell } => write!(
                f,
                "{cell:x} is not an H3 cell at the mapping resolution inside an open region"
            ),
            BountyPeriod {
                duration_ms,
                max_ms,
            } => write!(
                f,
                "a bounty runs more than 0 and at most {}s, not {}s",
                max_ms / 1000,
                duration_ms / 1000
            ),
            BountyPasses { passes, max } => {
                write!(f, "a bounty pays 1 to {max} passes per cell, not {passes}")
            }
            BountyTooSmall { amount, parts } => write!(
                f,
                "{amount} base units cannot pay {parts} parts (cells times passes) at least one base unit each"
            ),
            AccessNotSold {} => write!(
                f,
                "this network does not sell map access (mapping.access_cell_credits is 0)"
            ),
            AccessCells { count, max } => write!(
                f,
                "a map access payment names 1 to {max} distinct cells in ascending order, not {count} (or not ascending); split larger areas into several payments"
            ),
            AccessBadCell { cell } => write!(
                f,
                "{cell:x} is not an H3 cell at the mapping resolution; pay for the resolution-12 cells you were served"
            ),
            NothingServed {} => write!(
                f,
                "none of these cells has imagery from a dashcam that can be paid (never mapped, forgotten, or its dashcam retired or denied); nothing was charged"
            ),
        }
    }
}

impl fmt::Display for FrameFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FrameFault::*;
        match self {
            TooFast { speed_cms, max_cms } => write!(
                f,
                "reported speed {} m/s is above the {} m/s a car maps at",
                centi((*speed_cms).into()),
                centi((*max_cms).into())
            ),
            ImplausibleJump {
                implied_cms,
                max_cms,
            } => write!(
                f,
                "the position moved at {} m/s since the last trusted frame, faster than {} m/s: a GNSS jump or a spoofed position",
                centi(*implied_cms),
                centi((*max_cms).into())
            ),
            DistanceMismatch {
                distance_mm,
                expected_mm,
            } => write!(
                f,
                "moved {} m since the last trusted frame, but the reported speeds and times give {} m",
                metres(*distance_mm),
                metres(*expected_mm)
            ),
            Acceleration {
                accel_cms2,
                max_cms2,
            } => write!(
                f,
                "speed changed at {} m/s², more than the {} m/s² a car can",
                centi(*accel_cms2),
                centi((*max_cms2).into())
            ),
            PoorGnss {
                satellites,
                hdop_centi,
            } => write!(
                f,
                "GNSS fix too weak to place the frame ({satellites} satellites, HDOP {}); keep the antenna's sky view clear",
                centi((*hdop_centi).into())
            ),
            Stationary { speed_cms, step_mm } => write!(
                f,
                "captured while standing still ({} m/s, moved {} m): frames of a stopped car earn nothing",
                centi((*speed_cms).into()),
                metres(*step_mm)
            ),
            DuplicateImage { first } => write!(
                f,
                "this exact image was already submitted in this cell or next to it by {first}; an image is paid once"
            ),
            NearDuplicate { other, bits } => write!(
                f,
                "the image looks like one {other} took in this cell or next to it earlier ({bits} bits apart): flagged as a possible replay, not paid"
            ),
            ClosedRegion { region } => write!(
                f,
                "region {region} is closed to mapping; frames there earn nothing"
            ),
            OutsideRegions {} => write!(
                f,
                "the frame lies outside every mapping region of this network"
            ),
        }
    }
}
