//! The command-line arguments of `depin agent dashcam`, and the limits they are checked
//! against.

use anyhow::{Result, bail};
use depin_core::modules::mapping::actions::Location;

use crate::hotspot::parse_lat_lon;

/// Arguments of `depin agent dashcam`.
#[derive(clap::Args, Debug, Clone)]
pub struct DashcamArgs {
    /// Honest cars with dashcams.
    #[arg(long, default_value_t = 4)]
    pub cars: usize,
    /// Centre of the city, "LAT,LON" in degrees [default: the first region of the network, or
    /// Berlin].
    #[arg(long, value_parser = parse_lat_lon)]
    pub center: Option<Location>,
    /// Half-width of the street grid, metres.
    #[arg(long, default_value_t = 1_500.0)]
    pub radius_m: f64,
    /// Length of a block of the street grid, metres.
    #[arg(long, default_value_t = 150.0)]
    pub block_m: f64,
    /// Seed of keys, routes and noise (the same seed gives the same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cheaters re-uploading an honest car's drive later as their own (re-encoded images).
    #[arg(long, default_value_t = 0)]
    pub replayers: usize,
    /// How long after the honest car a replayer uploads its drive, seconds.
    #[arg(long, default_value_t = 1_800)]
    pub replay_lag_s: u64,
    /// Bits a replayer's re-encoding changes in each perceptual hash.
    #[arg(long, default_value_t = 3)]
    pub replay_bits: u32,
    /// Cheaters uploading drives generated at a desk (plausible kinematics, fabricated images).
    #[arg(long, default_value_t = 0)]
    pub desk: usize,
    /// Cheap identities splitting one real car's drive between them (0: no farm).
    #[arg(long, default_value_t = 0)]
    pub farm: usize,
    /// Cheaters capturing from a parked car while claiming a slow crawl.
    #[arg(long, default_value_t = 0)]
    pub parked: usize,
    /// GPS spoofers jumping 2 km every two minutes while driving.
    #[arg(long, default_value_t = 0)]
    pub teleporters: usize,
    /// GPS spoofers (issue 14's best lie): desk drives with consistent kinematics, plausible
    /// GNSS and fabricated images, each on its own street grid in never-mapped cells beside
    /// the city, where every pass is worth a full cell.
    #[arg(long, default_value_t = 0)]
    pub spoofers: usize,
    /// Percent of its time a spoofer spends in its never-mapped cells; the rest it "drives"
    /// the mapped city (a spoofer adapting to the ledger's bound on freshness per pass). It
    /// goes quiet for six minutes at each switch, so the jump is never implausible.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub spoof_fresh_pct: u32,
    /// With --local: the network's `pass_rate_margin_pct` (0: no bound on freshness per
    /// pass) [default: the preset's].
    #[arg(long)]
    pub pass_rate_margin_pct: Option<u32>,
    /// Minutes of driving to simulate [default: run until stopped; 120 with --local].
    #[arg(long)]
    pub minutes: Option<u64>,
    /// Run against an in-process ledger (the real state machine, one block a minute, an epoch
    /// an hour) instead of a node, and print what each kind of dashcam earned.
    #[arg(long)]
    pub local: bool,
}

/// Most dashcams one process simulates.
pub const MAX_DASHCAMS: usize = 2_000;
/// Most spoofers (two rings of six areas around the city).
pub const MAX_SPOOFERS: usize = 12;

impl DashcamArgs {
    /// Dashcams of every kind together.
    pub fn total(&self) -> usize {
        self.cars
            + self.replayers
            + self.desk
            + self.farm
            + self.parked
            + self.teleporters
            + self.spoofers
    }

    /// Refuses arguments that cannot make a run, saying what to pass instead.
    pub fn check(&self) -> Result<()> {
        let total = self.total();
        if total == 0 {
            bail!(
                "nothing to simulate: pass --cars N (and optionally --replayers, --desk, --farm, --parked, --teleporters, --spoofers)"
            );
        }
        if total > MAX_DASHCAMS {
            bail!(
                "{total} dashcams is more than one agent simulates ({MAX_DASHCAMS}); run several agents with different --seed values"
            );
        }
        if self.replayers > 0 && self.cars == 0 {
            bail!("a replayer copies an honest car's drive: pass --cars 1 or more");
        }
        if !(10.0..=1_000.0).contains(&self.block_m) {
            bail!("--block-m {} is outside 10 to 1000 metres", self.block_m);
        }
        if !(self.block_m..=50_000.0).contains(&self.radius_m) {
            bail!(
                "--radius-m {} must be at least one block (--block-m) and at most 50 km",
                self.radius_m
            );
        }
        if self.spoofers > MAX_SPOOFERS {
            bail!(
                "--spoofers {} is more than {MAX_SPOOFERS}: each spoofer needs its own never-mapped area around the city",
                self.spoofers
            );
        }
        if self.spoof_fresh_pct > 100 {
            bail!("--spoof-fresh-pct is a percentage: 0 to 100");
        }
        if self.pass_rate_margin_pct.is_some() && !self.local {
            bail!(
                "--pass-rate-margin-pct sets the in-process network's parameter: use it with --local (a node's is in its genesis)"
            );
        }
        if self.replay_bits > 64 {
            bail!("--replay-bits is at most 64");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn args() -> DashcamArgs {
        DashcamArgs {
            cars: 2,
            center: None,
            radius_m: 1_000.0,
            block_m: 150.0,
            seed: 1,
            replayers: 0,
            replay_lag_s: 1_800,
            replay_bits: 3,
            desk: 0,
            farm: 0,
            parked: 0,
            teleporters: 0,
            spoofers: 0,
            spoof_fresh_pct: 100,
            pass_rate_margin_pct: None,
            minutes: Some(10),
            local: true,
        }
    }

    #[test]
    fn bad_arguments_are_refused_with_what_to_pass() {
        assert!(args().check().is_ok());
        let cases = [
            (DashcamArgs { cars: 0, ..args() }, "--cars"),
            (
                DashcamArgs {
                    cars: 0,
                    replayers: 1,
                    ..args()
                },
                "--cars 1",
            ),
            (
                DashcamArgs {
                    spoofers: 13,
                    ..args()
                },
                "--spoofers",
            ),
            (
                DashcamArgs {
                    local: false,
                    pass_rate_margin_pct: Some(0),
                    ..args()
                },
                "--local",
            ),
            (
                DashcamArgs {
                    block_m: 1.0,
                    ..args()
                },
                "--block-m",
            ),
            (
                DashcamArgs {
                    radius_m: f64::NAN,
                    ..args()
                },
                "--radius-m",
            ),
        ];
        for (a, hint) in cases {
            let e = a.check().expect_err("refused").to_string();
            assert!(e.contains(hint), "{e}");
        }
    }
}
