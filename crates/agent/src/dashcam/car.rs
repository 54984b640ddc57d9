//! One simulated car with a dashcam: it drives routes on the street grid with a driver's speed
//! profile (cruise, slow for turns, stop at some lights), and its dashcam takes a keyframe a
//! second with a consumer GNSS fix (slowly wandering error, speed noise, urban-canyon losses)
//! and a synthetic image. Like real firmware it keeps no frames while the car stands still or
//! the receiver has no fix.

use depin_core::Hash;
use depin_core::modules::mapping::actions::{Frame, Location};

use super::roads::{DIRECTIONS, Grid};
use super::seeded::{mix, normal, unit};
use crate::hotspot::offset;

/// GNSS position error, standard deviation per axis, metres.
pub const GNSS_SIGMA_M: f64 = 1.5;
/// Correlation time of the GNSS error, seconds.
pub const GNSS_TAU_S: f64 = 20.0;
/// Chance per second of losing the fix (a tunnel, an urban canyon).
pub const FIX_LOSS_PER_S: f64 = 1.0 / 900.0;
/// Chance per second of a weak fix (few satellites, poor geometry).
pub const WEAK_FIX_PER_S: f64 = 1.0 / 400.0;
/// Braking and acceleration of a calm driver, m/s².
const ACCEL_MPS2: f64 = 1.5;
const BRAKE_MPS2: f64 = 2.5;
/// Speed through a turn, m/s.
const TURN_SPEED_MPS: f64 = 5.0;
/// Chance of stopping at an intersection (a red light), and for how long, seconds.
const STOP_CHANCE: f64 = 0.15;
const STOP_S: f64 = 20.0;

/// The scene at a place: what any camera there sees before traffic, light and weather (the
/// perceptual hash of a picture is this with about a quarter of its bits changed).
pub fn scene(cell: u64) -> u64 {
    mix(&[0x5ce7e, cell])
}

/// A car driving the grid.
#[derive(Clone, Debug)]
pub struct Car {
    pub seed: u64,
    grid: Grid,
    center: Location,
    /// Last intersection passed and the direction driven.
    node: (i32, i32),
    dir: usize,
    /// Metres along the current block.
    along_m: f64,
    speed_mps: f64,
    cruise_mps: f64,
    next_dir: usize,
    stopping: bool,
    stopped_s: f64,
    /// Seconds driven.
    pub clock_s: u64,
    error: (f64, f64),
    outage_s: u32,
    turns: u64,
}

impl Car {
    pub fn new(seed: u64, grid: Grid, center: Location) -> Car {
        let node = grid.random_node(mix(&[seed, 10]));
        let dir = (mix(&[seed, 11]) % 4) as usize;
        let mut car = Car {
            seed,
            grid,
            center,
            node,
            dir,
            along_m: 0.0,
            speed_mps: 0.0,
            cruise_mps: 9.0 + 4.0 * unit(mix(&[seed, 12])),
            next_dir: dir,
            stopping: false,
            stopped_s: 0.0,
            clock_s: 0,
            error: (0.0, 0.0),
            outage_s: 0,
            turns: 0,
        };
        car.plan_turn();
        car
    }

    fn plan_turn(&mut self) {
        let ahead = (
            self.node.0 + DIRECTIONS[self.dir].0,
            self.node.1 + DIRECTIONS[self.dir].1,
        );
        self.turns += 1;
        self.next_dir =
            self.grid
                .next_direction(ahead, self.dir, mix(&[self.seed, 20, self.turns]));
        self.stopping = unit(mix(&[self.seed, 21, self.turns])) < STOP_CHANCE;
    }

    /// True position: metres east and north of the centre, and the heading in degrees.
    pub fn true_position(&self) -> (f64, f64, f64) {
        let (x, y) = self.grid.position(self.node);
        let (dx, dy) = DIRECTIONS[self.dir];
        let heading = [90.0, 0.0, 270.0, 180.0][self.dir];
        (
            x + f64::from(dx) * self.along_m,
            y + f64::from(dy) * self.along_m,
            heading,
        )
    }

    /// Advances one second of driving in tenths of a second.
    fn step_second(&mut self) {
        for _ in 0..10 {
            let dt = 0.1;
            let left = self.grid.block_m - self.along_m;
            let turning = self.next_dir != self.dir;
            let target_at_corner = if self.stopping {
                0.0
            } else if turning {
                TURN_SPEED_MPS
            } else {
                self.cruise_mps
            };
            // Brake in time for the corner's speed, else cruise.
            let brake_dist =
                (self.speed_mps.powi(2) - target_at_corner.powi(2)).max(0.0) / (2.0 * BRAKE_MPS2);
            let target = if left <= brake_dist + 1.0 {
                target_at_corner
            } else {
                self.cruise_mps
            };
            if self.speed_mps < target {
                self.speed_mps = (self.speed_mps + ACCEL_MPS2 * dt).min(target);
            } else {
                self.speed_mps = (self.speed_mps - BRAKE_MPS2 * dt).max(target);
            }
            if self.stopping && self.speed_mps < 0.05 && left < 3.0 {
                self.speed_mps = 0.0;
                self.stopped_s += dt;
                if self.stopped_s >= STOP_S {
                    self.stopping = false;
                    self.stopped_s = 0.0;
                }
                continue;
            }
            self.along_m += self.speed_mps.max(0.3) * dt;
            if self.along_m >= self.grid.block_m {
                self.along_m -= self.grid.block_m;
                self.node = (
                    self.node.0 + DIRECTIONS[self.dir].0,
                    self.node.1 + DIRECTIONS[self.dir].1,
                );
                self.dir = self.next_dir;
                self.plan_turn();
            }
        }
        self.clock_s += 1;
    }

    /// Drives one second; returns the keyframe its dashcam keeps (none while stopped or without
    /// a fix). `start_ms` is the capture time of second 0.
    pub fn tick(&mut self, start_ms: u64) -> Option<Frame> {
        self.step_second();
        let t = self.clock_s;
        let n = |k: u64| normal(mix(&[self.seed, k, t, 1]), mix(&[self.seed, k, t, 2]));
        // First-order Gauss-Markov error: wanders slowly, as a real receiver's does.
        let a = (-1.0 / GNSS_TAU_S).exp();
        let w = GNSS_SIGMA_M * (1.0 - a * a).sqrt();
        self.error = (self.error.0 * a + w * n(30), self.error.1 * a + w * n(31));
        if self.outage_s > 0 {
            self.outage_s -= 1;
            return None;
        }
        if unit(mix(&[self.seed, 32, t])) < FIX_LOSS_PER_S {
            self.outage_s = 5 + (mix(&[self.seed, 33, t]) % 11) as u32;
            return None;
        }
        if self.speed_mps < 0.5 {
            return None;
        }
        let weak = unit(mix(&[self.seed, 34, t])) < WEAK_FIX_PER_S;
        let (x, y, heading) = self.true_position();
        let at = offset(self.center, y + self.error.1, x + self.error.0);
        let speed = (self.speed_mps + 0.05 * n(35)).max(0.0);
        let cell = at.cell(12).unwrap_or(0);
        // About a quarter of the bits differ from the scene's: traffic, light, weather.
        let noise = mix(&[self.seed, 36, t]) & mix(&[self.seed, 37, t]);
        Some(Frame {
            time_ms: start_ms + t * 1_000,
            lat_udeg: at.lat_udeg,
            lon_udeg: at.lon_udeg,
            speed_cms: (speed * 100.0).round() as u16,
            heading_cdeg: (heading * 100.0) as u16,
            satellites: if weak {
                3
            } else {
                8 + (mix(&[self.seed, 38, t]) % 6) as u8
            },
            hdop_centi: if weak {
                450
            } else {
                80 + (mix(&[self.seed, 39, t]) % 60) as u16
            },
            image: Hash::tagged(
                "depin/agent/dashcam/image",
                &[&self.seed.to_le_bytes(), &t.to_le_bytes()],
            ),
            phash: scene(cell) ^ noise,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_core::modules::mapping::geo::distance_mm;

    #[test]
    fn a_car_drives_at_city_speeds_and_keeps_about_one_frame_a_second() {
        let center = Location::from_degrees(52.52, 13.405);
        let mut car = Car::new(7, Grid::new(1_500.0, 150.0), center);
        let frames: Vec<Frame> = (0..1_800).filter_map(|_| car.tick(0)).collect();
        assert!(frames.len() > 1_200, "{}", frames.len());
        let max = frames.iter().map(|f| f.speed_cms).max().unwrap();
        assert!((900..=1_400).contains(&max), "{max}");
        // Consecutive frames a second apart are as far apart as the speed says, within noise.
        for w in frames.windows(2) {
            if w[1].time_ms - w[0].time_ms == 1_000 {
                let d = distance_mm(w[0].lat_udeg, w[0].lon_udeg, w[1].lat_udeg, w[1].lon_udeg);
                let expected = (u64::from(w[0].speed_cms) + u64::from(w[1].speed_cms)) * 5;
                assert!(d.abs_diff(expected) < 6_000, "{d} vs {expected}");
            }
        }
    }
}
