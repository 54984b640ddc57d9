//! Radio physics for witness plausibility: free-space path loss, great-circle distance, noise
//! floor, and the checks built on them.
//!
//! Consensus code must compute the same bits on every machine. Basic IEEE-754 operations
//! (`+ - * /`, `sqrt`) are exactly rounded everywhere and Rust never fuses them silently; the
//! transcendental functions (`log10`, `sin`, `cos`, `asin`) come from the `libm` crate, a software
//! implementation, instead of the platform's, and tests pin their output bit for bit. Results
//! leave this module as integers (centi-dB, metres), so no float enters the state.

/// Speed of light in vacuum, m/s.
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 299_792_458.0;
/// Mean Earth radius, m (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Thermal noise density at 290 K, dBm/Hz.
pub const THERMAL_NOISE_DBM_PER_HZ: f64 = -174.0;

/// Free-space path loss in dB over `distance_m` at `frequency_hz`: `20·log10(4π·d·f/c)`.
/// Distances under one metre count as one metre (the formula is for the far field).
pub fn free_space_path_loss_db(distance_m: f64, frequency_hz: f64) -> f64 {
    let d = distance_m.max(1.0);
    20.0 * libm::log10(4.0 * core::f64::consts::PI * d * frequency_hz / SPEED_OF_LIGHT_M_PER_S)
}

/// Great-circle distance in metres between two points given in microdegrees (haversine).
pub fn great_circle_distance_m(
    lat1_udeg: i32,
    lon1_udeg: i32,
    lat2_udeg: i32,
    lon2_udeg: i32,
) -> f64 {
    let rad = |udeg: i32| f64::from(udeg) * 1e-6 * core::f64::consts::PI / 180.0;
    let (phi1, phi2) = (rad(lat1_udeg), rad(lat2_udeg));
    let dphi = phi2 - phi1;
    let dlambda = rad(lon2_udeg) - rad(lon1_udeg);
    let s1 = libm::sin(dphi / 2.0);
    let s2 = libm::sin(dlambda / 2.0);
    let h = s1 * s1 + libm::cos(phi1) * libm::cos(phi2) * s2 * s2;
    2.0 * EARTH_RADIUS_M * libm::asin(h.min(1.0).sqrt())
}

/// Receiver noise floor in dBm for a channel of `bandwidth_hz` and a receiver noise figure.
pub fn noise_floor_dbm(bandwidth_hz: f64, noise_figure_db: f64) -> f64 {
    THERMAL_NOISE_DBM_PER_HZ + 10.0 * libm::log10(bandwidth_hz) + noise_figure_db
}

/// Converts dB (or dBm) to centi-dB, rounding toward negative infinity: the integer form checks
/// compare and the state stores.
pub fn to_centi_db(db: f64) -> i32 {
    libm::floor(db * 100.0) as i32
}

/// The link between a beaconer and a witness, in the integer units the ledger stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Beaconer's transmit power, centi-dBm.
    pub tx_power_cdbm: i32,
    /// Beaconer's antenna gain, centi-dBi.
    pub tx_gain_cdbi: i32,
    /// Witness's antenna gain, centi-dBi.
    pub rx_gain_cdbi: i32,
    /// Distance between the asserted locations, metres.
    pub distance_m: u32,
    /// Channel centre frequency, Hz.
    pub frequency_hz: u64,
}

impl Link {
    /// Strongest signal free space allows at the witness, centi-dBm. Real links lose more
    /// (terrain, walls), never less, so a report above this is physically impossible.
    pub fn max_rssi_cdbm(&self) -> i32 {
        let fspl = free_space_path_loss_db(f64::from(self.distance_m), self.frequency_hz as f64);
        // Saturating: the checks bound every input far inside i32, this only guards the bound.
        self.tx_power_cdbm
            .saturating_add(self.tx_gain_cdbi)
            .saturating_add(self.rx_gain_cdbi)
            .saturating_sub(to_centi_db(fspl))
    }
}

/// Why a reported signal is implausible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalFault {
    /// Stronger than free space allows at that distance, power and gain.
    StrongerThanFreeSpace { rssi_cdbm: i32, max_cdbm: i32 },
    /// Weaker than the receiver could have decoded.
    BelowSensitivity {
        rssi_cdbm: i32,
        sensitivity_cdbm: i32,
    },
    /// SNR higher than the RSSI over the noise floor permits.
    SnrInconsistent { snr_cdb: i32, max_cdb: i32 },
}

/// Limits of the receiving radio, in centi-dB units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receiver {
    /// Weakest decodable signal, centi-dBm.
    pub sensitivity_cdbm: i32,
    /// Noise floor of the channel, centi-dBm (see [`noise_floor_dbm`]).
    pub noise_floor_cdbm: i32,
    /// Measurement slack allowed above the physical bounds, centi-dB.
    pub tolerance_cdb: i32,
}

/// Checks a witness report's RSSI and SNR against physics and the receiver's limits.
pub fn check_signal(
    link: &Link,
    rx: &Receiver,
    rssi_cdbm: i32,
    snr_cdb: i32,
) -> Result<(), SignalFault> {
    let max_cdbm = link.max_rssi_cdbm().saturating_add(rx.tolerance_cdb);
    if rssi_cdbm > max_cdbm {
        return Err(SignalFault::StrongerThanFreeSpace {
            rssi_cdbm,
            max_cdbm,
        });
    }
    if rssi_cdbm < rx.sensitivity_cdbm {
        return Err(SignalFault::BelowSensitivity {
            rssi_cdbm,
            sensitivity_cdbm: rx.sensitivity_cdbm,
        });
    }
    let max_snr = rssi_cdbm
        .saturating_sub(rx.noise_floor_cdbm)
        .saturating_add(rx.tolerance_cdb);
    if snr_cdb > max_snr {
        return Err(SignalFault::SnrInconsistent {
            snr_cdb,
            max_cdb: max_snr,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the software math bit for bit: a change of libm version, compiler or platform that
    /// alters a single bit of a consensus result must fail here, not fork the network.
    #[test]
    fn transcendental_results_are_bit_exact() {
        let cases: [(f64, u64); 4] = [
            (
                free_space_path_loss_db(1_000.0, 868.1e6),
                0x4056ce07049d57a7_u64,
            ),
            (
                free_space_path_loss_db(37_500.0, 915.0e6),
                0x405eca09829dc7fc_u64,
            ),
            (
                great_circle_distance_m(52_520_008, 13_404_954, 48_856_613, 2_352_222),
                0x412ac727ccbb186a_u64,
            ),
            (noise_floor_dbm(125_000.0, 6.0), 0xc05d41fa4372b04c_u64),
        ];
        let got: Vec<u64> = cases.iter().map(|(v, _)| v.to_bits()).collect();
        let want: Vec<u64> = cases.iter().map(|(_, bits)| *bits).collect();
        assert_eq!(got, want, "values: {:?}", cases.map(|c| c.0));
    }

    #[test]
    fn physics_matches_textbook_values() {
        // 1 km at 868 MHz: about 91.2 dB.
        assert!((free_space_path_loss_db(1_000.0, 868.0e6) - 91.2).abs() < 0.05);
        // Doubling distance adds 6.02 dB.
        let step =
            free_space_path_loss_db(2_000.0, 915e6) - free_space_path_loss_db(1_000.0, 915e6);
        assert!((step - 6.0206).abs() < 1e-3);
        // Berlin to Paris: about 878 km.
        let d = great_circle_distance_m(52_520_008, 13_404_954, 48_856_613, 2_352_222);
        assert!((d - 877_500.0).abs() < 2_000.0, "{d}");
        // LoRa 125 kHz with a 6 dB noise figure: about -117 dBm.
        assert!((noise_floor_dbm(125_000.0, 6.0) + 117.03).abs() < 0.01);
        // The software log agrees with the platform's to within rounding.
        for x in [1.5f64, 10.0, 12_345.678, 1e-7] {
            assert!((libm::log10(x) - x.log10()).abs() <= f64::EPSILON * 4.0);
        }
    }

    fn link(distance_m: u32) -> Link {
        Link {
            tx_power_cdbm: 2700, // 27 dBm
            tx_gain_cdbi: 300,   // 3 dBi
            rx_gain_cdbi: 300,
            distance_m,
            frequency_hz: 868_100_000,
        }
    }

    const RX: Receiver = Receiver {
        sensitivity_cdbm: -13_700, // -137 dBm, LoRa SF12
        noise_floor_cdbm: -11_700,
        tolerance_cdb: 200,
    };

    #[test]
    fn plausible_signals_pass_and_each_fault_is_named() {
        let l = link(5_000); // max RSSI about -72 dBm
        assert_eq!(
            l.max_rssi_cdbm(),
            3300 - to_centi_db(free_space_path_loss_db(5_000.0, 868.1e6))
        );
        assert_eq!(check_signal(&l, &RX, -9_000, -500), Ok(()));
        assert!(matches!(
            check_signal(&l, &RX, -5_000, 0),
            Err(SignalFault::StrongerThanFreeSpace { .. })
        ));
        assert!(matches!(
            check_signal(&l, &RX, -14_000, -2_000),
            Err(SignalFault::BelowSensitivity { .. })
        ));
        // -90 dBm over a -117 dBm floor allows at most ~27 dB (+2 tolerance) of SNR.
        assert!(matches!(
            check_signal(&l, &RX, -9_000, 3_000),
            Err(SignalFault::SnrInconsistent { max_cdb: 2_900, .. })
        ));
    }

    #[test]
    fn farther_is_never_allowed_a_stronger_signal() {
        let mut last = i32::MAX;
        for d in [1u32, 10, 100, 1_000, 10_000, 100_000] {
            let m = link(d).max_rssi_cdbm();
            assert!(m < last);
            last = m;
        }
    }
}
