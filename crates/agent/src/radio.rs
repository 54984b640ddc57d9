//! The simulated radio: who hears whom, and what a receiver measures.
//!
//! Log-distance path loss (free space up to a reference distance, then a steeper urban exponent)
//! plus clutter loss and log-normal shadowing fixed per link. Real links always lose at least what
//! free space loses, so an honest report never beats the bound the ledger checks. Floats are fine
//! here: this is the device side, not consensus.

use depin_core::modules::coverage::radio::free_space_path_loss_db;

/// Reference distance of the log-distance model, metres (free space up to here).
pub const REFERENCE_DISTANCE_M: f64 = 100.0;
/// Path-loss exponent beyond the reference distance (urban: 3.5 to 4.5).
pub const PATH_LOSS_EXPONENT: f64 = 4.0;
/// Extra loss from buildings and terrain, dB.
pub const CLUTTER_LOSS_DB: f64 = 12.0;
/// Standard deviation of the per-link shadowing, dB.
pub const SHADOWING_SIGMA_DB: f64 = 6.0;
/// Margin above sensitivity a packet needs to be decoded, dB.
pub const DECODE_MARGIN_DB: f64 = 1.0;

/// Path loss in dB over `distance_m` at `frequency_hz` with `shadowing_db` for this link; never
/// less than free space.
pub fn path_loss_db(distance_m: f64, frequency_hz: f64, shadowing_db: f64) -> f64 {
    let d = distance_m.max(1.0);
    let fspl = free_space_path_loss_db(d, frequency_hz);
    let log_distance = if d <= REFERENCE_DISTANCE_M {
        fspl
    } else {
        free_space_path_loss_db(REFERENCE_DISTANCE_M, frequency_hz)
            + 10.0 * PATH_LOSS_EXPONENT * (d / REFERENCE_DISTANCE_M).log10()
            + CLUTTER_LOSS_DB
    };
    (log_distance + shadowing_db).max(fspl)
}

/// A deterministic standard normal for a link, from a 64-bit hash (Box-Muller on two halves).
pub fn normal_from_hash(h: u64) -> f64 {
    let u1 = ((h >> 32) as f64 + 1.0) / (u32::MAX as f64 + 2.0);
    let u2 = (h & 0xffff_ffff) as f64 / (u32::MAX as f64 + 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The most negative value [`normal_from_hash`] returns: Box-Muller on 32-bit uniforms never
/// goes below `-sqrt(2 ln(2^32 + 2))`, about -6.66.
pub const MIN_NORMAL: f64 = -6.7;

/// Farthest a packet can still be decoded, metres, whatever the link's shadowing: beyond it the
/// path loss exceeds the link budget (`eirp_dbm + rx_gain_dbi - sensitivity_dbm`, dB) even
/// with the luckiest fade [`normal_from_hash`] can draw. Lets a fleet skip hopeless pairs
/// before it computes their shadowing.
pub fn max_range_m(
    eirp_dbm: f64,
    rx_gain_dbi: f64,
    sensitivity_dbm: f64,
    frequency_hz: f64,
) -> f64 {
    let budget_db = eirp_dbm + rx_gain_dbi - sensitivity_dbm - DECODE_MARGIN_DB;
    let at_reference = free_space_path_loss_db(REFERENCE_DISTANCE_M, frequency_hz)
        + CLUTTER_LOSS_DB
        + SHADOWING_SIGMA_DB * MIN_NORMAL;
    let beyond = 10f64.powf((budget_db - at_reference) / (10.0 * PATH_LOSS_EXPONENT));
    REFERENCE_DISTANCE_M * beyond.max(1.0)
}

/// What a receiver measures of one packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reception {
    pub rssi_dbm: f64,
    pub snr_db: f64,
}

/// The packet as received, or `None` if it is below the receiver's sensitivity.
pub fn receive(
    eirp_dbm: f64,
    rx_gain_dbi: f64,
    loss_db: f64,
    sensitivity_dbm: f64,
    noise_floor_dbm: f64,
    snr_jitter_db: f64,
) -> Option<Reception> {
    let rssi_dbm = eirp_dbm + rx_gain_dbi - loss_db;
    if rssi_dbm < sensitivity_dbm + DECODE_MARGIN_DB {
        return None;
    }
    // SNR cannot exceed signal over noise; a little measurement noise below that.
    let snr_db = rssi_dbm - noise_floor_dbm - snr_jitter_db.abs();
    Some(Reception { rssi_dbm, snr_db })
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::modules::coverage::radio::to_centi_db;

    #[test]
    fn loss_grows_with_distance_and_never_beats_free_space() {
        let f = 868e6;
        let mut last = 0.0;
        for d in [10.0, 100.0, 500.0, 2_000.0, 10_000.0, 50_000.0] {
            let loss = path_loss_db(d, f, 0.0);
            assert!(loss >= last, "monotone at {d} m");
            last = loss;
            for shadow in [-20.0, 0.0, 20.0] {
                assert!(path_loss_db(d, f, shadow) >= free_space_path_loss_db(d, f));
            }
        }
    }

    #[test]
    fn far_packets_are_not_heard_and_snr_stays_below_signal_over_noise() {
        let loss = path_loss_db(200_000.0, 868e6, 0.0);
        assert!(receive(16.0, 3.0, loss, -137.0, -117.0, 0.0).is_none());
        let near = path_loss_db(1_000.0, 868e6, 0.0);
        let r = receive(16.0, 3.0, near, -137.0, -117.0, 1.5).unwrap();
        assert!(r.snr_db <= r.rssi_dbm + 117.0);
    }

    /// What the ledger allows, with its measurement tolerance removed: an honest report must
    /// pass even without the slack.
    fn ledger_allows(distance_m: f64, frequency_hz: u64, rssi_cdbm: i32, snr_cdb: i32) -> bool {
        use depin_core::modules::coverage::radio::{Link, Receiver, check_signal};
        // The region plan of the preset (EU868): 16 dBm EIRP, 3 dBi antennas.
        let link = Link {
            tx_power_cdbm: 1_300,
            tx_gain_cdbi: 300,
            rx_gain_cdbi: 300,
            distance_m: distance_m as u32,
            frequency_hz,
        };
        let rx = Receiver {
            sensitivity_cdbm: -13_700,
            noise_floor_cdbm: -11_703,
            tolerance_cdb: 0,
        };
        check_signal(&link, &rx, rssi_cdbm, snr_cdb).is_ok()
    }

    #[test]
    fn every_heard_packet_reports_within_the_ledgers_physical_bounds() {
        let frequency_hz = 868_100_000;
        let mut heard = 0;
        let mut d = 400.0;
        while d < 100_000.0 {
            for tenth in -40..=40 {
                // Shadowing from -4 to +4 sigma, including the deep fades that would beat free
                // space if the model did not forbid it.
                let shadow = SHADOWING_SIGMA_DB * f64::from(tenth) / 10.0;
                let loss = path_loss_db(d, frequency_hz as f64, shadow);
                for jitter in [0.0, 0.7, 2.0] {
                    let Some(r) = receive(16.0, 3.0, loss, -137.0, -117.03, jitter) else {
                        continue;
                    };
                    heard += 1;
                    // Rounded down to centi-dB, as a witness reports.
                    let (rssi, snr) = (to_centi_db(r.rssi_dbm), to_centi_db(r.snr_db));
                    assert!(
                        ledger_allows(d, frequency_hz, rssi, snr),
                        "{d} m, shadowing {shadow} dB: rssi {rssi} snr {snr} refused"
                    );
                }
            }
            d *= 1.07;
        }
        assert!(heard > 1_000, "the sweep exercises heard packets ({heard})");
    }

    #[test]
    fn loss_is_monotone_in_distance_for_any_fixed_shadowing() {
        for shadow in [-15.0, -6.0, 0.0, 6.0, 15.0] {
            let mut last = f64::MIN;
            let mut d = 1.0;
            while d < 200_000.0 {
                let loss = path_loss_db(d, 868e6, shadow);
                assert!(loss >= last, "loss falls at {d} m with shadowing {shadow}");
                last = loss;
                d *= 1.13;
            }
        }
    }

    #[test]
    fn nothing_is_heard_beyond_the_maximum_range() {
        let (eirp, gain, sensitivity, f) = (16.0, 3.0, -137.0, 867.1e6);
        let range = max_range_m(eirp, gain, sensitivity, f);
        assert!((10_000.0..200_000.0).contains(&range), "{range} m");
        let luckiest = SHADOWING_SIGMA_DB * MIN_NORMAL;
        let at = |d: f64| {
            receive(
                eirp,
                gain,
                path_loss_db(d, f, luckiest),
                sensitivity,
                -117.0,
                0.0,
            )
        };
        assert!(at(range * 1.001).is_none());
        assert!(at(range * 0.99).is_some(), "the bound is tight");
        // The luckiest draw really is bounded: the smallest first uniform, cosine -1.
        let luckiest_draw = normal_from_hash(0x0000_0000_8000_0000);
        assert!(
            (MIN_NORMAL..MIN_NORMAL + 0.1).contains(&luckiest_draw),
            "{luckiest_draw}"
        );
    }

    #[test]
    fn shadowing_is_roughly_standard_normal() {
        let samples: Vec<f64> = (0..10_000u64)
            .map(|i| normal_from_hash(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555))
            .collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.1, "{var}");
    }
}
