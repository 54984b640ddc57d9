//! The fleet's members: how each behaves (its [`Role`]), its key, where it is and where it says
//! it is, and the radio plan they share.

use depin_core::modules::coverage::actions::Location;
use depin_core::modules::coverage::preset::BERLIN;
use depin_core::{Hash, Keypair};

use super::args::HotspotArgs;
use super::geo::{distance_m, offset};
use super::seeded::{mix, unit};

/// How a simulated hotspot behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Honest,
    /// Asserts a location far from its physical one.
    Spoofer,
    /// Reports RSSI `INFLATION_DB` above what it heard.
    Inflator,
    /// Sits with the other ring members in one building and witnesses only them.
    Ring,
    /// A witness farm: fake hotspots asserted one per resolution-8 hex 1-10 km from honest
    /// ones, never on air, filing plausible witness reports of every honest beacon within
    /// 10 km from what the chain shows (they never hear the payload), before honest witnesses.
    Forger,
    /// A spread ring (issue 12): placed like the forgers and forging like them, and also
    /// witnessing each other's beacons with payloads shared off-air (no radio involved).
    SpreadRing,
    /// Density griefing (issue 12): fake hotspots asserted about 150 m from honest ones (in
    /// their resolution-8 hex, outside their resolution-12 spot), kept active by witnessing
    /// each other with payloads shared off-air, to cut the honest hotspots' density scale.
    Decoy,
}

impl Role {
    /// The role in summaries, for a group.
    pub fn plural(self) -> &'static str {
        match self {
            Role::Honest => "honest hotspots",
            Role::Spoofer => "spoofers",
            Role::Inflator => "inflators",
            Role::Ring => "ring members",
            Role::Forger => "witness forgers",
            Role::SpreadRing => "spread ring members",
            Role::Decoy => "density decoys",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::Spoofer => "spoofer",
            Role::Inflator => "inflator",
            Role::Ring => "ring",
            Role::Forger => "forger",
            Role::SpreadRing => "spread-ring",
            Role::Decoy => "decoy",
        }
    }

    /// Fake hotspots that never transmit and file reports from public data.
    pub fn is_fake(self) -> bool {
        matches!(self, Role::Forger | Role::SpreadRing | Role::Decoy)
    }

    /// Fakes that share their beacons' payloads off-air with the others of their role.
    pub fn shares_payloads(self) -> bool {
        matches!(self, Role::SpreadRing | Role::Decoy)
    }
}

/// Antenna gain of simulated hotspots, centi-dBi.
pub const GAIN_CDBI: i32 = 300;
/// Closest two honest hotspots are placed, metres (the ledger refuses witnesses under ~350 m).
pub const MIN_SPACING_M: f64 = 500.0;
/// How far a density decoy is asserted from the honest hotspot it crowds, metres.
pub const DECOY_OFFSET_M: f64 = 150.0;

/// One simulated hotspot.
pub struct Member {
    pub key: Keypair,
    pub role: Role,
    /// Where its radio really is.
    pub physical: Location,
    /// Where it says it is.
    pub asserted: Location,
    /// Nonce of its next transaction.
    pub(super) nonce: u64,
}

impl Member {
    /// A hotspot whose next transaction will carry nonce 0.
    pub fn new(key: Keypair, role: Role, physical: Location, asserted: Location) -> Member {
        Member {
            key,
            role,
            physical,
            asserted,
            nonce: 0,
        }
    }
}

/// The radio plan the fleet uses (the network's first region), in the ledger's integer units.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Name of the region the fleet onboards into.
    pub region: String,
    /// Channel centre frequencies, Hz.
    pub channels_hz: Vec<u64>,
    /// Maximum radiated power, centi-dBm; beacons are sent at exactly this EIRP.
    pub max_eirp_cdbm: i32,
    /// Weakest signal a receiver decodes, centi-dBm.
    pub sensitivity_cdbm: i32,
    /// Noise floor of a channel, centi-dBm.
    pub noise_floor_cdbm: i32,
}

impl Plan {
    /// Transmit power of a beacon, centi-dBm: the region's maximum EIRP less the antenna gain.
    pub fn tx_power_cdbm(&self) -> i32 {
        self.max_eirp_cdbm - GAIN_CDBI
    }
}

/// The key of the `i`th hotspot of `role` in the fleet of `seed`: other agents (the IoT fleet
/// co-signing usage receipts as the hotspot side) rebuild the same keys from the same seed.
pub fn hotspot_key(seed: u64, role: Role, i: usize) -> Keypair {
    let h = Hash::tagged(
        "depin/agent/hotspot-key",
        &[
            &seed.to_le_bytes(),
            &[role as u8],
            &(i as u64).to_le_bytes(),
        ],
    );
    Keypair::from_seed(h.0)
}

/// Lays out the fleet of `args`: honest hotspots (and spoofers' and inflators' real positions)
/// spread around the centre, denser in the middle and at least `MIN_SPACING_M` apart; the ring
/// in one building. Honest hotspots come first and do not depend on the cheaters asked for.
pub fn layout(args: &HotspotArgs) -> Vec<Member> {
    let center = args.center.unwrap_or(BERLIN);
    let seed = args.seed;
    let mut taken: Vec<Location> = Vec::new();
    let mut spot = |salt: u64| -> Location {
        for attempt in 0..200u64 {
            let r = args.radius_m * unit(mix(&[seed, salt, attempt, 1])).powf(0.75);
            let a = unit(mix(&[seed, salt, attempt, 2])) * std::f64::consts::TAU;
            let l = offset(center, r * a.sin(), r * a.cos());
            if taken.iter().all(|t| distance_m(*t, l) >= MIN_SPACING_M) || attempt == 199 {
                taken.push(l);
                return l;
            }
        }
        unreachable!("the last attempt always returns")
    };
    let mut members = Vec::new();
    for (role, count) in [
        (Role::Honest, args.hotspots),
        (Role::Spoofer, args.spoofers),
        (Role::Inflator, args.inflators),
    ] {
        for i in 0..count {
            let physical = spot(((role as u64) << 32) | i as u64);
            let asserted = if role == Role::Spoofer {
                let d = 150_000.0 + 150_000.0 * unit(mix(&[seed, 7, i as u64]));
                let a = unit(mix(&[seed, 8, i as u64])) * std::f64::consts::TAU;
                offset(physical, d * a.sin(), d * a.cos())
            } else {
                physical
            };
            members.push(Member::new(
                hotspot_key(seed, role, i),
                role,
                physical,
                asserted,
            ));
        }
    }
    // Fakes: one per resolution-8 hex, each 1-10 km from an honest hotspot (or from the centre
    // when there is none); they sit at one desk, so physical is where they say they are.
    let honest: Vec<Location> = members
        .iter()
        .filter(|m: &&Member| m.role == Role::Honest)
        .map(|m| m.asserted)
        .collect();
    let mut hexes: Vec<u64> = Vec::new();
    for (role, count) in [
        (Role::Forger, args.forgers),
        (Role::SpreadRing, args.spread_ring),
    ] {
        for i in 0..count {
            let salt = ((role as u64) << 32) | i as u64;
            let mut place = center;
            for attempt in 0..400u64 {
                let anchor = if honest.is_empty() {
                    center
                } else {
                    honest[(mix(&[seed, salt, attempt, 3]) % honest.len() as u64) as usize]
                };
                let r = 1_000.0 + 9_000.0 * unit(mix(&[seed, salt, attempt, 4]));
                let a = unit(mix(&[seed, salt, attempt, 5])) * std::f64::consts::TAU;
                place = offset(anchor, r * a.sin(), r * a.cos());
                let hex = place.cell(8).unwrap_or(0);
                let clear = honest.iter().all(|h| distance_m(*h, place) >= 1_000.0);
                if clear && !hexes.contains(&hex) {
                    hexes.push(hex);
                    break;
                }
            }
            members.push(Member::new(hotspot_key(seed, role, i), role, place, place));
        }
    }
    // Decoys: each about 150 m from an honest hotspot (in turn), at one desk.
    for i in 0..args.decoys {
        let anchor = honest
            .get(i % honest.len().max(1))
            .copied()
            .unwrap_or(center);
        let a = unit(mix(&[seed, 11, i as u64])) * std::f64::consts::TAU;
        let place = offset(anchor, DECOY_OFFSET_M * a.sin(), DECOY_OFFSET_M * a.cos());
        members.push(Member::new(
            hotspot_key(seed, Role::Decoy, i),
            Role::Decoy,
            place,
            place,
        ));
    }
    let building = spot(u64::MAX);
    for i in 0..args.ring {
        // One building complex, 30 m apart: the ledger takes one hotspot per ~300 m² cell.
        let l = offset(building, (i % 3) as f64 * 30.0, (i / 3) as f64 * 30.0);
        members.push(Member::new(
            hotspot_key(seed, Role::Ring, i),
            Role::Ring,
            l,
            l,
        ));
    }
    members
}
