//! The simulated city's streets: a square grid of two-way streets around a centre (blocks of
//! `block_m` metres), and routes that wander it the way a driver does, mostly straight on.

use super::seeded::{mix, unit};

/// A grid of streets, `half` intersections each way from the centre, `block_m` apart.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub half: i32,
    pub block_m: f64,
}

/// Directions a car can drive along the grid: east, north, west, south.
pub const DIRECTIONS: [(i32, i32); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];

impl Grid {
    /// A grid covering a square of about `radius_m` each way from the centre.
    pub fn new(radius_m: f64, block_m: f64) -> Grid {
        Grid {
            half: ((radius_m / block_m).floor() as i32).max(1),
            block_m,
        }
    }

    fn inside(&self, (x, y): (i32, i32)) -> bool {
        x.abs() <= self.half && y.abs() <= self.half
    }

    /// Metres east and north of the centre of intersection `node`.
    pub fn position(&self, (x, y): (i32, i32)) -> (f64, f64) {
        (f64::from(x) * self.block_m, f64::from(y) * self.block_m)
    }

    /// A random intersection.
    pub fn random_node(&self, seed: u64) -> (i32, i32) {
        let span = (2 * self.half + 1) as u64;
        let x = (mix(&[seed, 1]) % span) as i32 - self.half;
        let y = (mix(&[seed, 2]) % span) as i32 - self.half;
        (x, y)
    }

    /// Where a driver at `node` heading `dir` goes next: straight on more often than not,
    /// never a U-turn unless at a dead end of the grid. Returns the new direction.
    pub fn next_direction(&self, node: (i32, i32), dir: usize, seed: u64) -> usize {
        let options = [(dir, 0.6), ((dir + 1) % 4, 0.2), ((dir + 3) % 4, 0.2)];
        let step = |d: usize| (node.0 + DIRECTIONS[d].0, node.1 + DIRECTIONS[d].1);
        let open: Vec<(usize, f64)> = options
            .into_iter()
            .filter(|(d, _)| self.inside(step(*d)))
            .collect();
        if open.is_empty() {
            return (dir + 2) % 4;
        }
        let total: f64 = open.iter().map(|(_, p)| p).sum();
        let mut pick = unit(seed) * total;
        for (d, p) in &open {
            if pick < *p {
                return *d;
            }
            pick -= p;
        }
        open[open.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_stay_on_the_grid() {
        let g = Grid::new(600.0, 150.0);
        assert_eq!(g.half, 4);
        let mut node = (4, 4);
        let mut dir = 0;
        for i in 0..1_000 {
            dir = g.next_direction(node, dir, i);
            node = (node.0 + DIRECTIONS[dir].0, node.1 + DIRECTIONS[dir].1);
            assert!(g.inside(node), "{node:?}");
        }
    }
}
