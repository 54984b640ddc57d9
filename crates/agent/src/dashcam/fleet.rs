//! The dashcams of one run and what each of them uploads, honest or cheating:
//!
//! - **honest**: a car driving the grid ([`super::car::Car`]);
//! - **replayer**: re-uploads an honest car's drive `replay_lag_s` later as its own, positions
//!   nudged by a metre or two, images re-encoded (new hashes, perceptual hashes `replay_bits`
//!   bits off);
//! - **desk**: a drive generated at a desk: the same street grid and driver model, realistic
//!   kinematics and GNSS noise, fabricated images;
//! - **farm**: one real car whose drive is split, bundle by bundle, among many cheap identities;
//! - **parked**: a camera in a parked car claiming a slow crawl (0.6 m/s) while GNSS noise
//!   wanders its position;
//! - **teleporter**: a GPS spoofer that drives but jumps 2 km every two minutes;
//! - **spoofer**: the best lie the ledger's checks leave (issue 14): it never drives. It
//!   files a desk drive on its own street grid in never-mapped cells beside the city (a full
//!   cell's freshness a pass), with a driver's kinematics, consumer GNSS quality and noise,
//!   and fabricated images (unique hashes, perceptual hashes of no real scene). With
//!   `spoof_fresh_pct` below 100 it spends the rest of its time "driving" the mapped city, to
//!   add passes against the ledger's bound on freshness per pass; it goes quiet for
//!   [`SPOOF_SWITCH_S`] at each switch, so the jump is reachable at 40 m/s and never flagged.

use std::collections::VecDeque;

use depin_core::modules::mapping::actions::{Frame, Location, SubmitBundle};
use depin_core::modules::mapping::params::MAX_FRAMES_PER_BUNDLE;
use depin_core::tx::Network;
use depin_core::{Hash, Keypair};

use super::args::DashcamArgs;
use super::car::{Car, scene};
use super::roads::Grid;
use super::seeded::{mix, normal};
use crate::hotspot::offset;

/// What a dashcam of the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Honest,
    Replayer,
    Desk,
    Farm,
    Parked,
    Teleporter,
    Spoofer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::Replayer => "replayer",
            Role::Desk => "desk",
            Role::Farm => "farm",
            Role::Parked => "parked",
            Role::Teleporter => "teleporter",
            Role::Spoofer => "spoofer",
        }
    }
}

/// The key of dashcam `index` of a run with `seed`.
pub fn dashcam_key(seed: u64, index: usize) -> Keypair {
    let h = Hash::tagged(
        "depin/agent/dashcam/key",
        &[&seed.to_le_bytes(), &(index as u64).to_le_bytes()],
    );
    Keypair::from_seed(h.0)
}

/// One dashcam identity and the frames it has not uploaded yet.
pub struct Member {
    pub role: Role,
    pub key: Keypair,
    pub seq: u64,
    pending: Vec<Frame>,
}

/// What produces frames: a car (honest, desk, farm, teleporter), a replay of a car, or a
/// parked camera.
enum Source {
    Car {
        car: Car,
        /// Members the frames go to, bundle by bundle (one, or a farm's identities).
        members: Vec<usize>,
        next: usize,
        /// Replay queues fed with this car's frames.
        replays: Vec<usize>,
        fabricated: bool,
        teleport: bool,
    },
    Replay {
        member: usize,
        queue: VecDeque<Frame>,
        seed: u64,
    },
    Parked {
        member: usize,
        at: Location,
        error: (f64, f64),
        seed: u64,
    },
    Spoofer {
        member: usize,
        /// A desk drive on the spoofer's own grid of never-mapped cells, and one on the city's.
        fresh: Car,
        city: Car,
        /// Seconds of each [`SPOOF_PERIOD_S`] spent in the fresh cells.
        fresh_s: u64,
    },
}

/// A spoofer that mixes fresh cells and the city switches every this many seconds.
pub const SPOOF_PERIOD_S: u64 = 3_600;
/// Seconds a switching spoofer files nothing, so the jump (at most about 14 km, from the city
/// to the second ring) is reachable at the ledger's 40 m/s.
pub const SPOOF_SWITCH_S: u64 = 360;

/// Where spoofer `k`'s never-mapped grid is centred, and its half-width: rings of six areas
/// around the city's grid, none overlapping it or each other.
pub fn spoof_area(center: Location, city_radius_m: f64, k: usize) -> (Location, f64) {
    let own = 1.5 * city_radius_m;
    let ring = (k / 6) as f64;
    let distance =
        (city_radius_m + own + 500.0).max(2.0 * own + 500.0) + ring * (2.0 * own + 500.0);
    let angle = (k % 6) as f64 * std::f64::consts::PI / 3.0 + ring * std::f64::consts::PI / 6.0;
    (
        offset(center, distance * angle.sin(), distance * angle.cos()),
        own,
    )
}

/// Every dashcam of a run.
pub struct Fleet {
    pub members: Vec<Member>,
    sources: Vec<Source>,
    /// Capture time of second 0, ms.
    pub start_ms: u64,
    pub clock_s: u64,
    replay_lag_s: u64,
    replay_bits: u32,
    center: Location,
}

impl Fleet {
    /// Lays out the run's dashcams (nothing is sent).
    pub fn new(args: &DashcamArgs, center: Location, start_ms: u64) -> Fleet {
        let grid = Grid::new(args.radius_m, args.block_m);
        let mut members = Vec::new();
        let mut sources = Vec::new();
        let seed = args.seed;
        let add = |members: &mut Vec<Member>, role| {
            let i = members.len();
            members.push(Member {
                role,
                key: dashcam_key(seed, i),
                seq: 0,
                pending: Vec::new(),
            });
            i
        };
        let car = |k: u64| Car::new(mix(&[seed, 100, k]), grid, center);
        let mut honest_sources = Vec::new();
        for k in 0..args.cars {
            let m = add(&mut members, Role::Honest);
            honest_sources.push(sources.len());
            sources.push(Source::Car {
                car: car(k as u64),
                members: vec![m],
                next: 0,
                replays: Vec::new(),
                fabricated: false,
                teleport: false,
            });
        }
        for k in 0..args.replayers {
            let m = add(&mut members, Role::Replayer);
            let replay = sources.len();
            sources.push(Source::Replay {
                member: m,
                queue: VecDeque::new(),
                seed: mix(&[seed, 200, k as u64]),
            });
            if !honest_sources.is_empty() {
                let of = honest_sources[k % honest_sources.len()];
                if let Source::Car { replays, .. } = &mut sources[of] {
                    replays.push(replay);
                }
            }
        }
        for k in 0..args.desk {
            let m = add(&mut members, Role::Desk);
            sources.push(Source::Car {
                car: car(1_000 + k as u64),
                members: vec![m],
                next: 0,
                replays: Vec::new(),
                fabricated: true,
                teleport: false,
            });
        }
        if args.farm > 0 {
            let ids: Vec<usize> = (0..args.farm)
                .map(|_| add(&mut members, Role::Farm))
                .collect();
            sources.push(Source::Car {
                car: car(2_000),
                members: ids,
                next: 0,
                replays: Vec::new(),
                fabricated: false,
                teleport: false,
            });
        }
        for k in 0..args.parked {
            let m = add(&mut members, Role::Parked);
            let s = mix(&[seed, 300, k as u64]);
            let at = offset(
                center,
                (normal(s, 1) * args.radius_m / 3.0).round(),
                (normal(s, 2) * args.radius_m / 3.0).round(),
            );
            sources.push(Source::Parked {
                member: m,
                at,
                error: (0.0, 0.0),
                seed: s,
            });
        }
        for k in 0..args.teleporters {
            let m = add(&mut members, Role::Teleporter);
            sources.push(Source::Car {
                car: car(3_000 + k as u64),
                members: vec![m],
                next: 0,
                replays: Vec::new(),
                fabricated: false,
                teleport: true,
            });
        }
        for k in 0..args.spoofers {
            let m = add(&mut members, Role::Spoofer);
            let (at, own) = spoof_area(center, args.radius_m, k);
            sources.push(Source::Spoofer {
                member: m,
                fresh: Car::new(
                    mix(&[seed, 500, k as u64]),
                    Grid::new(own, args.block_m),
                    at,
                ),
                city: car(4_000 + k as u64),
                fresh_s: u64::from(args.spoof_fresh_pct.min(100)) * SPOOF_PERIOD_S / 100,
            });
        }
        Fleet {
            members,
            sources,
            start_ms,
            clock_s: 0,
            replay_lag_s: args.replay_lag_s,
            replay_bits: args.replay_bits,
            center,
        }
    }

    /// Advances every source one second; returns the bundles that filled up, signed, with
    /// the member each belongs to.
    pub fn tick(&mut self, network: &Network) -> Vec<(usize, SubmitBundle)> {
        self.clock_s += 1;
        let t = self.clock_s;
        let mut frames: Vec<(usize, Frame)> = Vec::new();
        let mut replayed: Vec<(usize, Frame)> = Vec::new();
        for s in &mut self.sources {
            match s {
                Source::Car {
                    car,
                    members,
                    next,
                    replays,
                    fabricated,
                    teleport,
                } => {
                    let Some(mut f) = car.tick(self.start_ms) else {
                        continue;
                    };
                    if *fabricated {
                        // Made-up pictures: nothing of the scene's hash survives.
                        f.phash = mix(&[car.seed, 400, t]);
                    }
                    if *teleport {
                        // Every two minutes the spoofed position moves 2 km east or back.
                        let east = if (t / 120) % 2 == 1 { 2_000.0 } else { 0.0 };
                        let at = offset(
                            Location {
                                lat_udeg: f.lat_udeg,
                                lon_udeg: f.lon_udeg,
                            },
                            0.0,
                            east,
                        );
                        f.lat_udeg = at.lat_udeg;
                        f.lon_udeg = at.lon_udeg;
                    }
                    for &r in replays.iter() {
                        replayed.push((r, f));
                    }
                    frames.push((members[*next], f));
                    if self.members[members[*next]].pending.len() + 1 >= MAX_FRAMES_PER_BUNDLE {
                        *next = (*next + 1) % members.len();
                    }
                }
                Source::Replay { .. } => {}
                Source::Spoofer {
                    member,
                    fresh,
                    city,
                    fresh_s,
                } => {
                    // Both desk drives go on, second by second; only the current one is filed.
                    let (a, b) = (fresh.tick(self.start_ms), city.tick(self.start_ms));
                    let phase = (t - 1) % SPOOF_PERIOD_S;
                    let in_fresh = phase < *fresh_s;
                    let mixing = *fresh_s > 0 && *fresh_s < SPOOF_PERIOD_S;
                    // Quiet after each switch, as if through a tunnel.
                    let settling = mixing
                        && (phase < SPOOF_SWITCH_S
                            || (phase >= *fresh_s && phase < *fresh_s + SPOOF_SWITCH_S));
                    let seed = if in_fresh { fresh.seed } else { city.seed };
                    if let Some(mut f) = if in_fresh { a } else { b }
                        && !settling
                    {
                        // Fabricated pictures: unique hashes, no real scene behind them.
                        f.image = Hash::tagged(
                            "depin/agent/dashcam/spoofed",
                            &[&seed.to_le_bytes(), &t.to_le_bytes()],
                        );
                        f.phash = mix(&[seed, 600, t]);
                        frames.push((*member, f));
                    }
                }
                Source::Parked {
                    member,
                    at,
                    error,
                    seed,
                } => {
                    let n = |k| normal(mix(&[*seed, k, t, 1]), mix(&[*seed, k, t, 2]));
                    let a = (-1.0 / super::car::GNSS_TAU_S).exp();
                    let w = super::car::GNSS_SIGMA_M * (1.0 - a * a).sqrt();
                    *error = (error.0 * a + w * n(1), error.1 * a + w * n(2));
                    let p = offset(*at, error.1, error.0);
                    let cell = p.cell(12).unwrap_or(0);
                    frames.push((
                        *member,
                        Frame {
                            time_ms: self.start_ms + t * 1_000,
                            lat_udeg: p.lat_udeg,
                            lon_udeg: p.lon_udeg,
                            speed_cms: 60,
                            heading_cdeg: 0,
                            satellites: 10,
                            hdop_centi: 90,
                            image: Hash::tagged(
                                "depin/agent/dashcam/parked",
                                &[&seed.to_le_bytes(), &t.to_le_bytes()],
                            ),
                            phash: scene(cell) ^ (mix(&[*seed, 3, t]) & mix(&[*seed, 4, t])),
                        },
                    ));
                }
            }
        }
        for (r, f) in replayed {
            if let Source::Replay { queue, .. } = &mut self.sources[r] {
                queue.push_back(f);
            }
        }
        // Replays release what the car captured `replay_lag_s` ago, as if captured now.
        let lag_ms = self.replay_lag_s * 1_000;
        let now_ms = self.start_ms + t * 1_000;
        let bits = self.replay_bits;
        for s in &mut self.sources {
            if let Source::Replay {
                member,
                queue,
                seed,
            } = s
            {
                while queue.front().is_some_and(|f| f.time_ms + lag_ms <= now_ms) {
                    let mut f = queue.pop_front().expect("front");
                    let k = f.time_ms;
                    f.time_ms += lag_ms;
                    let nudged = offset(
                        Location {
                            lat_udeg: f.lat_udeg,
                            lon_udeg: f.lon_udeg,
                        },
                        normal(mix(&[*seed, k, 1]), mix(&[*seed, k, 2])),
                        normal(mix(&[*seed, k, 3]), mix(&[*seed, k, 4])),
                    );
                    f.lat_udeg = nudged.lat_udeg;
                    f.lon_udeg = nudged.lon_udeg;
                    f.image = Hash::tagged("depin/agent/dashcam/re-encoded", &[&f.image.0]);
                    f.phash ^= flip_bits(mix(&[*seed, k, 5]), bits);
                    frames.push((*member, f));
                }
            }
        }
        let mut out = Vec::new();
        for (m, f) in frames {
            let member = &mut self.members[m];
            member.pending.push(f);
            if member.pending.len() >= MAX_FRAMES_PER_BUNDLE {
                out.push((m, Self::seal(member, network)));
            }
        }
        out
    }

    /// Every member's frames not yet bundled, as bundles.
    pub fn flush(&mut self, network: &Network) -> Vec<(usize, SubmitBundle)> {
        let mut out = Vec::new();
        for (m, member) in self.members.iter_mut().enumerate() {
            if !member.pending.is_empty() {
                out.push((m, Self::seal(member, network)));
            }
        }
        out
    }

    fn seal(member: &mut Member, network: &Network) -> SubmitBundle {
        member.seq += 1;
        let frames = std::mem::take(&mut member.pending);
        SubmitBundle::signed(network, &member.key, member.seq, frames)
    }

    pub fn center(&self) -> Location {
        self.center
    }
}

/// A mask of `bits` distinct bits chosen by `seed`.
fn flip_bits(seed: u64, bits: u32) -> u64 {
    let mut mask = 0u64;
    let mut k = 0;
    while mask.count_ones() < bits.min(64) {
        mask |= 1 << (mix(&[seed, k]) % 64);
        k += 1;
    }
    mask
}
