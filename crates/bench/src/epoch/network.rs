//! The epoch bench's synthetic network, the same from a seed: where hotspots stand, who owns
//! them, and what they beaconed and witnessed in one epoch.
//!
//! 70% of hotspots stand in twenty cities (dense cores, thinning suburbs), 30% over the
//! countryside of a 24° x 40° region, and one in twenty shares a building (the same
//! resolution-12 cell) with the previous one, so density clipping has work to do. One in ten is
//! offline this epoch; every other hotspot beacons once, and its beacon is heard by nobody (3%)
//! or by 5 to 15 online hotspots drawn from its neighbours in H3 order (hotspots sorted by cell
//! are spatially close), as a real network's first-to-arrive witnesses would be (Helium's cap of
//! 14 rewarded witnesses therefore bites on some beacons).

use depin_core::modules::coverage::actions::Location;
use depin_core::modules::coverage::rewards::{Hotspot, ScoredBeacon};
use depin_core::{Address, Hash};

/// A small deterministic generator (splitmix64): the bench needs reproducible, not secure, data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const CITIES: usize = 20;
/// Share of hotspots offline this epoch (no beacon, no witness), percent.
const OFFLINE_PCT: u64 = 10;
/// Share of online hotspots whose beacon nobody heard (they do not count for density), percent.
const UNHEARD_PCT: u64 = 3;
/// Hotspots per owner on average (an owner's devices are scattered at random).
const HOTSPOTS_PER_OWNER: usize = 4;

/// One synthetic hotspot.
#[derive(Clone, Debug)]
pub struct SyntheticHotspot {
    pub device: Address,
    pub owner: Address,
    pub location: Location,
    /// H3 cell of `location` at resolution 12.
    pub cell: u64,
    /// Bit i set: active i+1 epochs ago.
    pub recent_activity: u32,
    /// Antenna gain, centi-dBi.
    pub gain_cdbi: i32,
}

/// One beacon of the epoch: indices into the hotspots, witnesses first to arrive first.
#[derive(Clone, Debug)]
pub struct SyntheticBeacon {
    pub beaconer: u32,
    pub witnesses: Vec<u32>,
    /// Which of the epoch's beacon windows it was sent in.
    pub window_in_epoch: u64,
}

/// The whole network and its epoch of proofs.
pub struct Network {
    /// Sorted by cell.
    pub hotspots: Vec<SyntheticHotspot>,
    pub beacons: Vec<SyntheticBeacon>,
    pub owners: usize,
}

fn address(tag: &str, i: usize) -> Address {
    Address(Hash::tagged(tag, &[&(i as u64).to_le_bytes()]).0)
}

/// Generates `devices` hotspots and their beacons over `windows_per_epoch` windows.
pub fn generate(devices: usize, seed: u64, windows_per_epoch: u64) -> Network {
    let mut rng = Rng(seed);
    // Attributes the scoring does not read come from their own stream, so the scored inputs
    // are the same whatever else the bench draws.
    let mut other = Rng(seed ^ 0x005e_ed0f_0b5e_55ed);
    let owners = devices.div_ceil(HOTSPOTS_PER_OWNER);
    let hotspots = population(devices, &mut rng)
        .into_iter()
        .enumerate()
        .map(|(i, (location, cell))| SyntheticHotspot {
            device: address("depin/bench/device", i),
            owner: address("depin/bench/owner", other.below(owners as u64) as usize),
            location,
            cell,
            recent_activity: (rng.next() & 0xff) as u32,
            gain_cdbi: 300 + other.below(600) as i32,
        })
        .collect::<Vec<_>>();
    let beacons = beacons(hotspots.len(), &mut rng)
        .into_iter()
        .map(|(beaconer, witnesses)| SyntheticBeacon {
            beaconer,
            witnesses,
            window_in_epoch: other.below(windows_per_epoch),
        })
        .collect();
    Network {
        hotspots,
        beacons,
        owners,
    }
}

impl Network {
    /// The inputs of `score_epoch` for every hotspot, offline ones included.
    pub fn scoring_input(&self) -> (Vec<Hotspot>, Vec<ScoredBeacon>) {
        let hotspots = self
            .hotspots
            .iter()
            .map(|h| Hotspot {
                device: h.device,
                cell: h.cell,
                recent_activity: h.recent_activity,
            })
            .collect();
        let beacons = self
            .beacons
            .iter()
            .map(|b| ScoredBeacon {
                beaconer: b.beaconer,
                witnesses: b.witnesses.clone(),
            })
            .collect();
        (hotspots, beacons)
    }

    /// The resolution-0 H3 cells the hotspots stand in: a region that covers the network.
    pub fn region_cells(&self) -> Vec<String> {
        let mut cells: Vec<h3o::CellIndex> = self
            .hotspots
            .iter()
            .filter_map(|h| {
                h3o::CellIndex::try_from(h.cell)
                    .ok()?
                    .parent(h3o::Resolution::Zero)
            })
            .collect();
        cells.sort_unstable();
        cells.dedup();
        cells.iter().map(|c| c.to_string()).collect()
    }
}

/// Synthetic locations with their cells, sorted by cell.
fn population(devices: usize, rng: &mut Rng) -> Vec<(Location, u64)> {
    let cities: Vec<(f64, f64)> = (0..CITIES)
        .map(|_| (38.0 + rng.unit() * 20.0, -8.0 + rng.unit() * 36.0))
        .collect();
    let mut places: Vec<(Location, u64)> = Vec::with_capacity(devices);
    for i in 0..devices {
        if i > 0 && rng.below(20) == 0 {
            places.push(places[i - 1]);
            continue;
        }
        let (lat, lon) = if rng.below(10) < 7 {
            let (clat, clon) = cities[rng.below(CITIES as u64) as usize];
            // Radius grows with the square of a uniform: a dense core, thinning suburbs (~30 km).
            let r = rng.unit() * rng.unit() * 0.3;
            let a = rng.unit() * std::f64::consts::TAU;
            (clat + r * a.sin(), clon + r * a.cos() * 1.5)
        } else {
            (36.0 + rng.unit() * 24.0, -10.0 + rng.unit() * 40.0)
        };
        let location = Location::from_degrees(lat, lon);
        let cell = location
            .cell(depin_core::services::devices::LOCATION_RESOLUTION)
            .expect("the region is on Earth");
        places.push((location, cell));
    }
    places.sort_unstable_by_key(|&(_, cell)| cell);
    places
}

/// One beacon per online hotspot, heard by 5 to 15 online neighbours in cell order (fewer where
/// the neighbourhood is short of them), or by nobody: `(beaconer, witnesses)`.
fn beacons(n: usize, rng: &mut Rng) -> Vec<(u32, Vec<u32>)> {
    const NEIGHBOURHOOD: u64 = 60;
    let online: Vec<bool> = (0..n).map(|_| rng.below(100) >= OFFLINE_PCT).collect();
    (0..n)
        .filter(|&b| online[b])
        .map(|b| {
            let count = if rng.below(100) < UNHEARD_PCT {
                0
            } else {
                5 + rng.below(11) as usize
            };
            let mut witnesses: Vec<u32> = Vec::with_capacity(count);
            let mut tries = 0;
            while witnesses.len() < count && tries < 8 * count {
                tries += 1;
                let offset = rng.below(2 * NEIGHBOURHOOD + 1) as i64 - NEIGHBOURHOOD as i64;
                let w = (b as i64 + offset).rem_euclid(n as i64) as u32;
                if w as usize != b && online[w as usize] && !witnesses.contains(&w) {
                    witnesses.push(w);
                }
            }
            (b as u32, witnesses)
        })
        .collect()
}
