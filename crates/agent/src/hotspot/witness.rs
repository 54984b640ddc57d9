//! What a hotspot's radio makes of another's beacon: the witness report it sends, honest or
//! distorted by its role.

use depin_core::Hash;
use depin_core::modules::coverage::actions::{Witness, beacon_channel, witness_commitment};
use depin_core::modules::coverage::radio::{Link, SPEED_OF_LIGHT_M_PER_S};

use super::geo::distance_m;
use super::layout::{GAIN_CDBI, Member, Plan, Role};
use super::seeded::{mix, unit};
use crate::radio::{SHADOWING_SIGMA_DB, max_range_m, normal_from_hash, path_loss_db, receive};

/// Extra signal an inflator claims, dB. Real links lose 30-60 dB more than free space at
/// kilometres (see `radio`), so a smaller lie can hide under the free-space bound the ledger
/// checks; this one mostly cannot.
pub const INFLATION_DB: f64 = 60.0;
/// Receiver processing time before a witness is timestamped, at most, ms (the ledger allows
/// 4,000 ms between beacon and witness).
pub const MAX_PROCESSING_MS: u64 = 400;

/// Farthest from a beacon (asserted distance) fake hotspots claim to hear it, metres.
pub const FAKE_REACH_M: f64 = 10_000.0;

/// A beacon as it went on air.
#[derive(Clone, Copy, Debug)]
pub struct Sighting {
    pub window: u64,
    /// The payload on air: what a radio in range receives (the beaconer's secret until its
    /// reveal).
    pub payload: Hash,
    /// The beacon's commitment, public on the chain (it selects the channel).
    pub commitment: Hash,
    /// When the beaconer sent it, ms since the Unix epoch.
    pub sent_at_ms: u64,
}

/// What the hotspot `witness` reports of `beaconer`'s beacon, or `None` when it reports
/// nothing: its radio did not decode the packet, or the two are on different sides of the ring.
/// Indices are the members' places in the fleet; with the seed they fix the link's shadowing
/// and the report's jitter, so a run replays.
///
/// An honest report is what the radio measured, rounded down to the ledger's centi-dB; a cheat
/// is the same measurement distorted by the witness's role (see [`Role`]).
pub fn witness_report(
    plan: &Plan,
    seed: u64,
    (b, beaconer): (usize, &Member),
    (w, witness): (usize, &Member),
    sighting: Sighting,
) -> Option<Witness> {
    // A ring's beacons never go on air (its members pass packets to each other over the
    // internet), and its members report nothing but each other.
    if b == w || (witness.role == Role::Ring) != (beaconer.role == Role::Ring) {
        return None;
    }
    if witness.role.is_fake() {
        return forged_report(plan, seed, (b, beaconer), (w, witness), sighting);
    }
    // Fake hotspots never transmit: nobody with a radio hears them.
    if beaconer.role.is_fake() {
        return None;
    }
    let channel = beacon_channel(&sighting.commitment, plan.channels_hz.len()) as usize;
    let frequency_hz = plan.channels_hz[channel];
    let eirp_dbm = f64::from(plan.tx_power_cdbm() + GAIN_CDBI) / 100.0;
    let distance = distance_m(beaconer.physical, witness.physical);
    let rx_gain_dbi = f64::from(GAIN_CDBI) / 100.0;
    let sensitivity_dbm = f64::from(plan.sensitivity_cdbm) / 100.0;
    if distance > max_range_m(eirp_dbm, rx_gain_dbi, sensitivity_dbm, frequency_hz as f64) {
        return None;
    }
    let link = mix(&[seed, 11, b.min(w) as u64, b.max(w) as u64]);
    let shadow = SHADOWING_SIGMA_DB * normal_from_hash(link);
    let loss = path_loss_db(distance, frequency_hz as f64, shadow);
    let jitter = mix(&[seed, 12, b as u64, w as u64, sighting.window]);
    let rx = receive(
        eirp_dbm,
        rx_gain_dbi,
        loss,
        sensitivity_dbm,
        f64::from(plan.noise_floor_cdbm) / 100.0,
        2.0 * unit(jitter),
    )?;
    let claimed_dbm = if witness.role == Role::Inflator {
        rx.rssi_dbm + INFLATION_DB
    } else {
        rx.rssi_dbm
    };
    // Flight time (a third of a millisecond at 100 km) plus the receiver's processing.
    let flight_ms = (distance / SPEED_OF_LIGHT_M_PER_S * 1_000.0).ceil() as u64;
    let processing_ms = 5 + (jitter >> 20) % (MAX_PROCESSING_MS - 5);
    Some(Witness {
        beaconer: beaconer.key.address(),
        window: sighting.window,
        commitment: witness_commitment(
            &sighting.payload,
            sighting.window,
            &beaconer.key.address(),
            &witness.key.address(),
        ),
        // The receiver's crystal is a few kHz off (the ledger allows 100 kHz).
        frequency_hz: frequency_hz + (jitter % 4_000),
        // Rounded down, as the ledger rounds: an honest report never gains from rounding.
        rssi_cdbm: (claimed_dbm * 100.0).floor() as i32,
        snr_cdb: (rx.snr_db * 100.0).floor() as i32,
        heard_at_ms: sighting.sent_at_ms + flight_ms + processing_ms,
    })
}

/// What a fake hotspot files of `beaconer`'s beacon without a radio: every beacon within
/// [`FAKE_REACH_M`] of its asserted spot (a spread ring's own beacons too, whose payloads it
/// shares off-air), with an RSSI 20-30 dB under free space at the asserted distance, an SNR
/// consistent with it, the beacon's channel and a plausible delay. Of a beacon it did not get
/// off-air it knows only what the chain shows, and commits to that.
fn forged_report(
    plan: &Plan,
    seed: u64,
    (b, beaconer): (usize, &Member),
    (w, witness): (usize, &Member),
    sighting: Sighting,
) -> Option<Witness> {
    let shared = witness.role.shares_payloads() && beaconer.role == witness.role;
    if beaconer.role.is_fake() && !shared {
        return None;
    }
    let distance = distance_m(beaconer.asserted, witness.asserted);
    if !(500.0..=FAKE_REACH_M).contains(&distance) {
        return None;
    }
    let channel = beacon_channel(&sighting.commitment, plan.channels_hz.len()) as usize;
    let frequency_hz = plan.channels_hz[channel];
    let free_space = Link {
        tx_power_cdbm: plan.tx_power_cdbm(),
        tx_gain_cdbi: GAIN_CDBI,
        rx_gain_cdbi: GAIN_CDBI,
        distance_m: distance as u32,
        frequency_hz,
    }
    .max_rssi_cdbm();
    let jitter = mix(&[seed, 13, b as u64, w as u64, sighting.window]);
    let rssi_cdbm = (free_space - 2_000 - (jitter % 1_000) as i32).max(plan.sensitivity_cdbm + 100);
    let snr_cdb = (rssi_cdbm - plan.noise_floor_cdbm).min(1_000);
    let payload = if shared {
        sighting.payload
    } else {
        sighting.commitment
    };
    Some(Witness {
        beaconer: beaconer.key.address(),
        window: sighting.window,
        commitment: witness_commitment(
            &payload,
            sighting.window,
            &beaconer.key.address(),
            &witness.key.address(),
        ),
        frequency_hz: frequency_hz + (jitter >> 16) % 3_000,
        rssi_cdbm,
        snr_cdb,
        heard_at_ms: sighting.sent_at_ms + 20 + (jitter >> 32) % 200,
    })
}

#[cfg(test)]
mod tests {
    use depin_core::Keypair;
    use depin_core::modules::coverage::preset::{
        BERLIN, EU868_CHANNELS_HZ, EU868_MAX_EIRP_CDBM, LORA_NOISE_FLOOR_CDBM,
        LORA_SENSITIVITY_CDBM, rules,
    };
    use depin_core::modules::coverage::radio::{
        Link, Receiver, SignalFault, check_signal, great_circle_distance_m,
    };

    use super::*;
    use crate::hotspot::geo::offset;

    fn commitment() -> Hash {
        Hash::tagged("test", &[b"commitment"])
    }

    fn plan() -> Plan {
        Plan {
            region: "EU868".into(),
            channels_hz: EU868_CHANNELS_HZ.to_vec(),
            max_eirp_cdbm: EU868_MAX_EIRP_CDBM,
            sensitivity_cdbm: LORA_SENSITIVITY_CDBM,
            noise_floor_cdbm: LORA_NOISE_FLOOR_CDBM,
        }
    }

    /// Hotspots of one role from 40 m to 40 km from the first, on rays in every direction.
    fn layout(role: Role) -> Vec<Member> {
        (0..400u64)
            .map(|i| {
                let r = 40.0 * 1_000f64.powf(i as f64 / 400.0);
                let a = unit(mix(&[i, 99])) * std::f64::consts::TAU;
                let at = offset(BERLIN, r * a.sin(), r * a.cos());
                let place = if i == 0 { BERLIN } else { at };
                Member::new(
                    Keypair::from_seed(Hash::tagged("test/key", &[&i.to_le_bytes()]).0),
                    role,
                    place,
                    place,
                )
            })
            .collect()
    }

    /// What the ledger says of a report, from the asserted locations, as `verify` computes it.
    fn ledger_check(
        plan: &Plan,
        b: &Member,
        w: &Member,
        r: &Witness,
        tolerance_cdb: i32,
    ) -> Result<(), SignalFault> {
        let a = b.asserted;
        let c = w.asserted;
        let distance_m =
            great_circle_distance_m(a.lat_udeg, a.lon_udeg, c.lat_udeg, c.lon_udeg) as u32;
        let channel = beacon_channel(&commitment(), plan.channels_hz.len()) as usize;
        let link = Link {
            tx_power_cdbm: plan.tx_power_cdbm(),
            tx_gain_cdbi: GAIN_CDBI,
            rx_gain_cdbi: GAIN_CDBI,
            distance_m,
            frequency_hz: plan.channels_hz[channel],
        };
        let rx = Receiver {
            sensitivity_cdbm: plan.sensitivity_cdbm,
            noise_floor_cdbm: plan.noise_floor_cdbm,
            tolerance_cdb,
        };
        check_signal(&link, &rx, r.rssi_cdbm, r.snr_cdb)
    }

    fn reports(plan: &Plan, members: &[Member]) -> Vec<(usize, Witness)> {
        let sighting = Sighting {
            window: 7,
            payload: Hash::tagged("test", &[b"payload"]),
            commitment: commitment(),
            sent_at_ms: 1_000_000,
        };
        (1..members.len())
            .filter_map(|w| {
                witness_report(plan, 3, (0, &members[0]), (w, &members[w]), sighting)
                    .map(|r| (w, r))
            })
            .collect()
    }

    #[test]
    fn honest_reports_pass_the_ledgers_physics_without_its_tolerance() {
        let plan = plan();
        let members = layout(Role::Honest);
        let heard = reports(&plan, &members);
        // Some near neighbours are heard, the far ones are not.
        assert!(
            heard.len() > 50 && heard.len() < 350,
            "{} heard",
            heard.len()
        );
        let rules = rules(5);
        for (w, r) in &heard {
            ledger_check(&plan, &members[0], &members[*w], r, 0)
                .unwrap_or_else(|f| panic!("honest report from #{w} refused: {f:?}"));
            let delay = r.heard_at_ms - 1_000_000;
            assert!(delay <= rules.max_witness_delay_ms && delay < 1_000);
            let channel = beacon_channel(&commitment(), plan.channels_hz.len()) as usize;
            assert!(
                r.frequency_hz.abs_diff(plan.channels_hz[channel]) <= rules.frequency_tolerance_hz
            );
        }
        let farthest = heard
            .iter()
            .map(|(w, _)| distance_m(members[0].physical, members[*w].physical))
            .fold(0.0, f64::max);
        assert!(
            (2_000.0..40_000.0).contains(&farthest),
            "farthest heard at {farthest} m"
        );
    }

    #[test]
    fn inflated_reports_are_stronger_than_free_space_allows() {
        let plan = plan();
        let mut members = layout(Role::Inflator);
        members[0].role = Role::Honest;
        let heard = reports(&plan, &members);
        assert!(heard.len() > 50);
        for (w, r) in &heard {
            let verdict = ledger_check(
                &plan,
                &members[0],
                &members[*w],
                r,
                rules(5).signal_tolerance_cdb,
            );
            assert!(
                matches!(verdict, Err(SignalFault::StrongerThanFreeSpace { .. })),
                "inflated report from #{w} not caught: {verdict:?}"
            );
        }
    }

    #[test]
    fn a_ring_reports_only_itself_and_is_not_heard_by_others() {
        let plan = plan();
        let mut members = layout(Role::Honest);
        for m in &mut members[..4] {
            m.role = Role::Ring;
        }
        let sighting = Sighting {
            window: 1,
            payload: Hash::tagged("test", &[b"ring"]),
            commitment: commitment(),
            sent_at_ms: 0,
        };
        for b in 0..members.len() {
            for w in 0..members.len() {
                let r = witness_report(&plan, 3, (b, &members[b]), (w, &members[w]), sighting);
                if (b < 4) != (w < 4) {
                    assert!(r.is_none(), "#{w} reported #{b} across the ring");
                }
            }
        }
        // Inside one building everyone hears everyone.
        assert!(witness_report(&plan, 3, (0, &members[0]), (1, &members[1]), sighting).is_some());
    }
}
