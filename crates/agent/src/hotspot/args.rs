//! The command-line arguments of `depin agent hotspot`, and the limits they are checked against.

use anyhow::{Result, bail};
use depin_core::modules::coverage::actions::Location;

/// Arguments of `depin agent hotspot`.
#[derive(clap::Args, Debug, Clone)]
pub struct HotspotArgs {
    /// Honest hotspots.
    #[arg(long, default_value_t = 100)]
    pub hotspots: usize,
    /// Centre of the fleet, "LAT,LON" in degrees [default: Berlin].
    #[arg(long, value_parser = parse_lat_lon)]
    pub center: Option<Location>,
    /// Radius around the centre the hotspots are spread over, metres.
    #[arg(long, default_value_t = 20_000.0)]
    pub radius_m: f64,
    /// Seed of keys, placement and radio shadowing (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cheaters asserting a location 150-300 km from where they really are (claiming coverage
    /// in a place they are not).
    #[arg(long, default_value_t = 0)]
    pub spoofers: usize,
    /// Cheaters reporting signals 60 dB stronger than they heard (the "too good" RSSI of
    /// fabricated witness reports).
    #[arg(long, default_value_t = 0)]
    pub inflators: usize,
    /// Cheaters in one building that witness only each other.
    #[arg(long, default_value_t = 0)]
    pub ring: usize,
    /// A witness farm: fake hotspots spread one per resolution-8 hex 1-10 km from honest ones,
    /// filing plausible witness reports of every honest beacon within 10 km without hearing it
    /// (`forge-witness` of issue 12).
    #[arg(long, default_value_t = 0)]
    pub forgers: usize,
    /// A spread ring: fake hotspots placed like the forgers, forging like them and witnessing
    /// each other's beacons with payloads shared off-air (`spread-ring` of issue 12).
    #[arg(long, default_value_t = 0)]
    pub spread_ring: usize,
    /// Density decoys: fake hotspots asserted about 150 m from honest ones, witnessing each
    /// other with payloads shared off-air (`density-grief` of issue 12).
    #[arg(long, default_value_t = 0)]
    pub decoys: usize,
    /// Stop after this many beacon windows [default: run until stopped].
    #[arg(long)]
    pub windows: Option<u64>,
}

/// Parses "LAT,LON" in decimal degrees.
pub fn parse_lat_lon(text: &str) -> Result<Location, String> {
    let (lat, lon) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}' is not LAT,LON (e.g. 52.52,13.405)"))?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("latitude '{lat}' is not a number"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("longitude '{lon}' is not a number"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(format!(
            "{lat},{lon} is not on Earth: latitude within ±90, longitude within ±180"
        ));
    }
    Ok(Location::from_degrees(lat, lon))
}

/// Largest fleet one process simulates: every window checks every pair of radios.
pub const MAX_FLEET: usize = 5_000;
/// Smallest and largest radius a fleet is spread over, metres.
pub const RADIUS_RANGE_M: std::ops::RangeInclusive<f64> = 1_000.0..=100_000.0;

impl HotspotArgs {
    /// `hotspots` honest hotspots within `radius_m` of the default centre, placed by `seed`, with
    /// no cheater of any kind: the start of every fleet a test or an attack adds cheaters to.
    pub fn honest(hotspots: usize, radius_m: f64, seed: u64) -> Self {
        Self {
            hotspots,
            center: None,
            radius_m,
            seed,
            spoofers: 0,
            inflators: 0,
            ring: 0,
            forgers: 0,
            spread_ring: 0,
            decoys: 0,
            windows: None,
        }
    }

    /// Hotspots of every kind together.
    pub fn total(&self) -> usize {
        self.hotspots
            + self.spoofers
            + self.inflators
            + self.ring
            + self.forgers
            + self.spread_ring
            + self.decoys
    }

    /// Refuses arguments that cannot make a fleet, saying what to pass instead.
    pub fn check(&self) -> Result<()> {
        let total = self.total();
        if total == 0 {
            bail!(
                "nothing to simulate: pass --hotspots N (and optionally --spoofers, --inflators, --ring)"
            );
        }
        if total > MAX_FLEET {
            bail!(
                "{total} hotspots is more than one agent simulates ({MAX_FLEET}: every window checks every pair of radios); run several agents with different --seed values"
            );
        }
        if self.ring == 1 {
            bail!("a ring of one has nobody to witness; pass --ring 0 or --ring 2 or more");
        }
        if self.spread_ring == 1 {
            bail!(
                "a spread ring of one has nobody to witness; pass --spread-ring 0, 2 or more, or use --forgers"
            );
        }
        if self.decoys == 1 {
            bail!("one decoy has nobody to keep it active; pass --decoys 0, or 2 or more");
        }
        if !RADIUS_RANGE_M.contains(&self.radius_m) {
            bail!(
                "--radius-m {} is outside {} to {} metres; hotspots need room to be 500 m apart and within radio range of each other",
                self.radius_m,
                RADIUS_RANGE_M.start(),
                RADIUS_RANGE_M.end()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_are_refused_with_what_to_pass() {
        let ok = HotspotArgs::honest(10, 8_000.0, 1);
        assert!(ok.check().is_ok());
        let cases = [
            (
                HotspotArgs {
                    hotspots: 0,
                    ..ok.clone()
                },
                "--hotspots",
            ),
            (
                HotspotArgs {
                    ring: 1,
                    ..ok.clone()
                },
                "--ring 2",
            ),
            (
                HotspotArgs {
                    radius_m: 10.0,
                    ..ok.clone()
                },
                "--radius-m",
            ),
            (
                HotspotArgs {
                    radius_m: f64::NAN,
                    ..ok.clone()
                },
                "--radius-m",
            ),
            (
                HotspotArgs {
                    hotspots: MAX_FLEET + 1,
                    ..ok.clone()
                },
                "--seed",
            ),
        ];
        for (args, hint) in cases {
            let e = args.check().expect_err("refused").to_string();
            assert!(e.contains(hint), "{e}");
        }
    }

    #[test]
    fn coordinates_parse_or_say_what_is_wrong() {
        let berlin = parse_lat_lon("52.52, 13.405").expect("parses");
        assert_eq!(berlin, Location::from_degrees(52.52, 13.405));
        assert!(parse_lat_lon("52.52").unwrap_err().contains("LAT,LON"));
        assert!(parse_lat_lon("north,13").unwrap_err().contains("latitude"));
        assert!(parse_lat_lon("95,13").unwrap_err().contains("not on Earth"));
    }
}
