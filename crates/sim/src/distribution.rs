//! Distributions of supplier attributes, as written in scenario files:
//! `{ dist = "lognormal", median = 400, sigma = 0.3 }`.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::rng::Stream;

/// A distribution of a non-negative attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Every agent gets `value`.
    Fixed { value: f64 },
    /// Uniform between `min` and `max`.
    Uniform { min: f64, max: f64 },
    /// Normal, cut to the attribute's range (values outside are clamped).
    Normal { mean: f64, sd: f64 },
    /// Log-normal: `median * exp(sigma * z)`; right-skewed, like costs.
    Lognormal { median: f64, sigma: f64 },
}

impl Distribution {
    /// Checks the parameters against the attribute's range `[lo, hi]`, naming `field`.
    pub fn validate(&self, field: &str, lo: f64, hi: Option<f64>) -> Result<()> {
        let hi_v = hi.unwrap_or(f64::MAX);
        let range = match hi {
            Some(h) => format!("{lo} to {h}"),
            None => format!("at least {lo}"),
        };
        let in_range = |v: f64| v.is_finite() && v >= lo && v <= hi_v;
        match *self {
            Distribution::Fixed { value } if !in_range(value) => {
                bail!("{field}.value = {value}: must be {range}")
            }
            Distribution::Uniform { min, max } if !in_range(min) || !in_range(max) || min > max => {
                bail!("{field}: min = {min}, max = {max}: both must be {range}, with min <= max")
            }
            Distribution::Normal { mean, sd } if !in_range(mean) || !sd.is_finite() || sd < 0.0 => {
                bail!("{field}: mean = {mean}, sd = {sd}: mean must be {range}, sd zero or more")
            }
            Distribution::Lognormal { median, sigma }
                if !in_range(median) || median <= 0.0 || !sigma.is_finite() || sigma < 0.0 =>
            {
                bail!(
                    "{field}: median = {median}, sigma = {sigma}: median must be above zero and {range}, sigma zero or more"
                )
            }
            _ => Ok(()),
        }
    }

    /// The value for `agent` from `stream`, clamped to `[lo, hi]`.
    pub fn sample(&self, stream: Stream, agent: u64, lo: f64, hi: f64) -> f64 {
        let v = match *self {
            Distribution::Fixed { value } => value,
            Distribution::Uniform { min, max } => min + (max - min) * stream.unit(agent),
            Distribution::Normal { mean, sd } => mean + sd * stream.normal(agent),
            Distribution::Lognormal { median, sigma } => {
                median * libm::exp(sigma * stream.normal(agent))
            }
        };
        v.clamp(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn samples_follow_their_parameters() {
        let s = Stream::new(7, 0, 0, Purpose::Hardware);
        let n = 20_000;
        let median = |d: &Distribution| {
            let mut v: Vec<f64> = (0..n).map(|i| d.sample(s, i, 0.0, f64::MAX)).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let logn = Distribution::Lognormal {
            median: 400.0,
            sigma: 0.3,
        };
        assert!((median(&logn) / 400.0 - 1.0).abs() < 0.02);
        let uni = Distribution::Uniform { min: 2.0, max: 4.0 };
        assert!((median(&uni) - 3.0).abs() < 0.05);
        let normal = Distribution::Normal { mean: 0.5, sd: 2.0 };
        assert!(
            (0..n).all(|i| (0.0..=1.0).contains(&normal.sample(s, i, 0.0, 1.0))),
            "clamped to the range"
        );
        assert_eq!(
            Distribution::Fixed { value: 3.0 }.sample(s, 9, 0.0, 9.0),
            3.0
        );
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let e = Distribution::Uniform { min: 2.0, max: 1.0 }
            .validate("suppliers.quality", 0.0, Some(1.0))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("suppliers.quality: min = 2"),
            "{e}"
        );
        assert!(
            Distribution::Lognormal {
                median: 0.0,
                sigma: 1.0
            }
            .validate("x", 0.0, None)
            .is_err()
        );
    }
}
