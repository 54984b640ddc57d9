//! Why a coverage transaction was refused: one reason code and one sentence per check, so a
//! hotspot owner can always find out why a report earned nothing.

use std::fmt;

use crate::crypto::Address;
use crate::module::reasons;

/// Which side of reciprocity is missing.
pub const RECIPROCITY_BEACON: u8 = 0;
/// The witness side: a witness must itself have beaconed recently.
pub const RECIPROCITY_WITNESS: u8 = 1;

reasons! {
    /// A refused coverage transaction.
    CoverageRejection, "coverage rejection";
    0 => UnknownRegion { name: String } = "unknown_region",
    1 => OutsideRegion { region: String } = "outside_region",
    2 => InvalidLocation {} = "invalid_location",
    3 => GainOutOfRange { gain_cdbi: i32, min_cdbi: i32, max_cdbi: i32 } = "gain_out_of_range",
    4 => LocationTooSoon { next_height: u64 } = "location_too_soon",
    5 => NotCapable {} = "not_capable",
    6 => NoLocation { device: Address } = "no_location",
    7 => EntropyUnknown { window: u64, current: u64 } = "entropy_unknown",
    8 => EntropyExpired { window: u64, current: u64 } = "entropy_expired",
    9 => BeaconTooFrequent { window: u64 } = "beacon_too_frequent",
    10 => WrongPayload {} = "wrong_payload",
    11 => WrongChannel { expected: u16, got: u16 } = "wrong_channel",
    12 => PowerAboveLimit { eirp_cdbm: i32, max_cdbm: i32 } = "power_above_limit",
    13 => NoReciprocity { side: u8, windows: u64 } = "no_reciprocity",
    14 => UnknownBeacon { beaconer: Address, window: u64 } = "unknown_beacon",
    15 => SelfWitness {} = "self_witness",
    16 => DuplicateWitness {} = "duplicate_witness",
    17 => WitnessTooLate { delay_ms: i64, max_ms: u64 } = "witness_too_late",
    18 => FrequencyMismatch { got_hz: u64, expected_hz: u64, tolerance_hz: u64 } = "frequency_mismatch",
    19 => RegionMismatch { beaconer: String, witness: String } = "region_mismatch",
    20 => TooClose { cells: u32, min_cells: u32 } = "too_close",
    21 => TooFar { distance_m: u32, max_m: u32 } = "too_far",
    22 => RssiTooStrong { rssi_cdbm: i32, max_cdbm: i32 } = "rssi_too_strong",
    23 => RssiBelowSensitivity { rssi_cdbm: i32, sensitivity_cdbm: i32 } = "rssi_below_sensitivity",
    24 => SnrInconsistent { snr_cdb: i32, max_cdb: i32 } = "snr_inconsistent",
    25 => TooManyWitnesses { max: u32 } = "too_many_witnesses",
    26 => TxPowerOutOfRange { tx_power_cdbm: i32, min_cdbm: i32, max_cdbm: i32 } = "tx_power_out_of_range",
    27 => ElevationOutOfRange { elevation_m: i32, min_m: i32, max_m: i32 } = "elevation_out_of_range",
    28 => RevealTooEarly { window: u64, from_window: u64 } = "reveal_too_early",
    29 => RevealTooLate { window: u64, until_window: u64 } = "reveal_too_late",
    30 => AlreadyRevealed { window: u64 } = "already_revealed",
    31 => ReportTimeOutOfBounds { at_ms: u64, block_time_ms: u64, max_skew_ms: u64, max_age_ms: u64 } = "report_time_out_of_bounds",
    32 => SpotTaken { max: u32 } = "spot_taken",
    33 => PairDenied { beaconer: Address } = "pair_denied",
}

/// Centi-units as a decimal string: `-12345` -> `-123.45`.
fn centi(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

impl fmt::Display for CoverageRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CoverageRejection::*;
        match self {
            UnknownRegion { name } => write!(
                f,
                "region '{name}' is not a region plan of this network; see the genesis coverage.regions"
            ),
            OutsideRegion { region } => write!(
                f,
                "the location lies outside region {region}'s H3 cells; a device cannot use another region's frequency plan"
            ),
            InvalidLocation {} => write!(
                f,
                "latitude must be within ±90° and longitude within ±180° (given in microdegrees)"
            ),
            GainOutOfRange {
                gain_cdbi,
                min_cdbi,
                max_cdbi,
            } => write!(
                f,
                "antenna gain {} dBi is outside the allowed {} to {} dBi",
                centi((*gain_cdbi).into()),
                centi((*min_cdbi).into()),
                centi((*max_cdbi).into())
            ),
            LocationTooSoon { next_height } => write!(
                f,
                "the location was asserted recently; the next assert is allowed from height {next_height}"
            ),
            NotCapable {} => write!(
                f,
                "a data-only device has no radio for proof of coverage; only hotspots beacon and witness"
            ),
            NoLocation { device } => write!(
                f,
                "device {device} has no asserted location; assert one before beaconing or witnessing"
            ),
            EntropyUnknown { window, current } => write!(
                f,
                "beacon window {window} has not opened yet (current window {current}); wait for its entropy block"
            ),
            EntropyExpired { window, current } => write!(
                f,
                "window {window} is no longer open for beacons and witness reports (current window {current}); report promptly with fresh entropy"
            ),
            BeaconTooFrequent { window } => write!(
                f,
                "this hotspot already beaconed in window {window} or later; one beacon per beacon interval"
            ),
            WrongPayload {} => write!(
                f,
                "the revealed signature is not the hotspot's signature of the window's entropy, or the payload it makes is not the one the beacon committed to"
            ),
            WrongChannel { expected, got } => write!(
                f,
                "the payload selects channel {expected}, not channel {got}"
            ),
            PowerAboveLimit {
                eirp_cdbm,
                max_cdbm,
            } => write!(
                f,
                "radiated power {} dBm (transmit power plus antenna gain) exceeds the region's maximum EIRP {} dBm",
                centi((*eirp_cdbm).into()),
                centi((*max_cdbm).into())
            ),
            NoReciprocity { side, windows } => {
                if *side == RECIPROCITY_BEACON {
                    write!(
                        f,
                        "a beaconer must itself have witnessed another hotspot within the last {windows} windows"
                    )
                } else {
                    write!(
                        f,
                        "a witness must itself have beaconed within the last {windows} windows"
                    )
                }
            }
            UnknownBeacon { beaconer, window } => write!(
                f,
                "no accepted beacon of {beaconer} in window {window}; witness only beacons the ledger accepted"
            ),
            SelfWitness {} => write!(f, "a hotspot cannot witness its own beacon"),
            DuplicateWitness {} => write!(f, "this hotspot already witnessed that beacon"),
            WitnessTooLate { delay_ms, max_ms } => write!(
                f,
                "heard {delay_ms} ms after the beacon was sent; it must be between 0 and {max_ms} ms"
            ),
            FrequencyMismatch {
                got_hz,
                expected_hz,
                tolerance_hz,
            } => write!(
                f,
                "received on {got_hz} Hz but the beacon was sent on {expected_hz} Hz (tolerance {tolerance_hz} Hz)"
            ),
            RegionMismatch { beaconer, witness } => write!(
                f,
                "the beaconer is in region {beaconer} and the witness in {witness}; witnesses must share the region plan"
            ),
            TooClose { cells, min_cells } => write!(
                f,
                "the witness is {cells} H3 cells from the beaconer, closer than the minimum {min_cells}"
            ),
            TooFar { distance_m, max_m } => write!(
                f,
                "the witness is {distance_m} m from the beaconer, farther than the maximum {max_m} m"
            ),
            RssiTooStrong {
                rssi_cdbm,
                max_cdbm,
            } => write!(
                f,
                "RSSI {} dBm is stronger than free-space path loss allows at this distance, power and gain (at most {} dBm)",
                centi((*rssi_cdbm).into()),
                centi((*max_cdbm).into())
            ),
            RssiBelowSensitivity {
                rssi_cdbm,
                sensitivity_cdbm,
            } => write!(
                f,
                "RSSI {} dBm is below the receiver sensitivity {} dBm; such a packet cannot be decoded",
                centi((*rssi_cdbm).into()),
                centi((*sensitivity_cdbm).into())
            ),
            SnrInconsistent { snr_cdb, max_cdb } => write!(
                f,
                "SNR {} dB is higher than the RSSI over the noise floor permits (at most {} dB)",
                centi((*snr_cdb).into()),
                centi((*max_cdb).into())
            ),
            TooManyWitnesses { max } => write!(
                f,
                "this hotspot already witnessed {max} beacons in this window, the most one radio may report per window"
            ),
            TxPowerOutOfRange {
                tx_power_cdbm,
                min_cdbm,
                max_cdbm,
            } => write!(
                f,
                "transmit power {} dBm is outside the {} to {} dBm a hotspot radio can have",
                centi((*tx_power_cdbm).into()),
                centi((*min_cdbm).into()),
                centi((*max_cdbm).into())
            ),
            ElevationOutOfRange {
                elevation_m,
                min_m,
                max_m,
            } => write!(
                f,
                "antenna height {elevation_m} m above ground is outside the {min_m} to {max_m} m allowed"
            ),
            RevealTooEarly {
                window,
                from_window,
            } => write!(
                f,
                "the beacon of window {window} may be revealed from window {from_window}, once witnesses can no longer commit; reveal then"
            ),
            RevealTooLate {
                window,
                until_window,
            } => write!(
                f,
                "the beacon of window {window} had to be revealed by window {until_window}; it is void"
            ),
            SpotTaken { max } => write!(
                f,
                "{max} hotspot(s) already assert this spot (its resolution-12 H3 cell, about 300 m²); another hotspot there proves no more coverage: assert where it really is"
            ),
            PairDenied { beaconer } => write!(
                f,
                "the governor denied this hotspot's reports of {beaconer} (an edge of the denylist); it may still witness others"
            ),
            AlreadyRevealed { window } => {
                write!(f, "the beacon of window {window} is already revealed")
            }
            ReportTimeOutOfBounds {
                at_ms,
                block_time_ms,
                max_skew_ms,
                max_age_ms,
            } => write!(
                f,
                "the report's time {at_ms} ms is not within {max_age_ms} ms before to {max_skew_ms} ms after its block's time {block_time_ms} ms; set the device's clock and report promptly"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Decode, Encode};

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes = CoverageRejection::CODES.to_vec();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), CoverageRejection::CODES.len());
        let r = CoverageRejection::WitnessTooLate {
            delay_ms: -5,
            max_ms: 4000,
        };
        assert_eq!(CoverageRejection::from_bytes(&r.to_bytes()).unwrap(), r);
        assert_eq!(centi(-12345), "-123.45");
        assert_eq!(centi(-5), "-0.05");
    }
}
