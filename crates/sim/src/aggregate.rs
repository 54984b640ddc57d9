//! Across runs: per-step p10/p50/p90 of every indicator (the fan charts) and the summary KPIs.

use serde::Serialize;

use crate::kpi::{KPI_COUNT, Kpi};
use crate::run::{PAYBACK_BINS, RunResult, payback_bin_epochs};

/// The three percentiles of a fan chart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Band {
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
}

/// Percentile `q` (0 to 1) of sorted values, linearly interpolated between the closest ranks
/// (the usual "type 7" definition; p50 of an even count is the mean of the middle two).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The band of unsorted values (sorted in place).
pub fn band(values: &mut [f64]) -> Band {
    values.sort_by(f64::total_cmp);
    Band {
        p10: percentile(values, 0.1),
        p50: percentile(values, 0.5),
        p90: percentile(values, 0.9),
    }
}

/// Per-step bands of every indicator: `fans[kpi][step]`.
pub fn fans(runs: &[RunResult]) -> Vec<Vec<Band>> {
    let steps = runs.first().map_or(0, |r| r.rows.len());
    let mut scratch = vec![0.0f64; runs.len()];
    (0..KPI_COUNT)
        .map(|k| {
            (0..steps)
                .map(|t| {
                    for (slot, run) in scratch.iter_mut().zip(runs) {
                        *slot = f64::from(run.rows[t][k]);
                    }
                    band(&mut scratch)
                })
                .collect()
        })
        .collect()
}

/// The KPIs of a set of runs.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub runs: u32,
    pub steps: u32,
    /// Share of runs in which active suppliers fell below `kpi.collapse_fraction` of their peak.
    pub supply_collapse_probability: f64,
    /// Over runs: the median (over suppliers) steps from joining to earning back all costs.
    pub payback_steps: Option<Band>,
    /// Over runs: the share of suppliers who ever earned back their costs.
    pub paid_back_share: Band,
    pub peak_active_suppliers: Band,
    /// Every indicator at the last step, over runs.
    #[serde(serialize_with = "in_order")]
    pub final_step: Vec<(String, Band)>,
    /// Every indicator's mean over the steps of a run, over runs.
    #[serde(serialize_with = "in_order")]
    pub run_mean: Vec<(String, Band)>,
    /// What each run added up to over all its steps, over runs.
    pub totals: Totals,
    /// How long suppliers took to pay back, all runs pooled.
    pub payback: PaybackDistribution,
}

/// Money over a whole run (sums over its steps), each as a band over runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub minted_tokens: Band,
    pub burned_tokens: Band,
    /// Minted minus burned: what the supply grew by.
    pub net_minted_tokens: Band,
    pub treasury_tokens: Band,
    /// Paid to validators for the blocks they produced.
    pub validators_tokens: Band,
    pub bootstrap_tokens: Band,
    pub demand_tokens: Band,
    /// Bootstrap's part of the suppliers' pools (bootstrap + demand) over the run.
    pub bootstrap_share: Band,
    pub demand_share: Band,
    /// What users spent on the service (USD at each step's price).
    pub users_spend_usd: Band,
    /// All suppliers' revenue and cost (hardware and operating) over the run, USD.
    pub supplier_revenue_usd: Band,
    pub supplier_cost_usd: Band,
    /// Revenue divided by cost.
    pub revenue_over_cost: Band,
    /// Suppliers who joined at some point.
    pub ever_joined: Band,
}

/// Payback times of the suppliers who ever joined, pooled over runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PaybackDistribution {
    /// Width of a bin in epochs; bin `i` holds paybacks of `i * bin_epochs` to
    /// `(i + 1) * bin_epochs - 1` epochs.
    pub bin_epochs: u32,
    /// Share of the suppliers who ever joined, per bin.
    pub shares: Vec<f64>,
    /// Share of the suppliers who ever joined that never paid back.
    pub never: f64,
}

/// A list of named bands as a JSON object, keys in indicator order.
fn in_order<S: serde::Serializer>(items: &[(String, Band)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(items.len()))?;
    for (k, v) in items {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// Summarises `runs` (in run order).
pub fn summarise(runs: &[RunResult], fans: &[Vec<Band>]) -> Summary {
    let n = runs.len();
    let values = |f: &dyn Fn(&RunResult) -> Option<f64>| -> Option<Band> {
        let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| band(&mut v))
    };
    let steps = runs.first().map_or(0, |r| r.rows.len());
    let final_step = Kpi::ALL
        .iter()
        .map(|k| (k.name().to_string(), fans[*k as usize][steps - 1]))
        .collect();
    let run_mean = Kpi::ALL
        .iter()
        .map(|k| {
            let b = values(&|r| {
                Some(
                    r.rows
                        .iter()
                        .map(|row| f64::from(row[*k as usize]))
                        .sum::<f64>()
                        / steps as f64,
                )
            })
            .unwrap_or_default();
            (k.name().to_string(), b)
        })
        .collect();
    let sum = |r: &RunResult, k: Kpi| -> f64 {
        r.rows.iter().map(|row| f64::from(row[k as usize])).sum()
    };
    let last = |r: &RunResult, k: Kpi| -> f64 {
        r.rows.last().map_or(0.0, |row| f64::from(row[k as usize]))
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let band_of = |f: &dyn Fn(&RunResult) -> f64| -> Band {
        let mut v: Vec<f64> = runs.iter().map(f).filter(|v| v.is_finite()).collect();
        if v.is_empty() {
            Band {
                p10: f64::NAN,
                p50: f64::NAN,
                p90: f64::NAN,
            }
        } else {
            band(&mut v)
        }
    };
    let pools = |r: &RunResult| (sum(r, Kpi::BootstrapPool), sum(r, Kpi::DemandPool));
    let totals = Totals {
        minted_tokens: band_of(&|r| sum(r, Kpi::MintedTokens)),
        burned_tokens: band_of(&|r| sum(r, Kpi::BurnedTokens)),
        net_minted_tokens: band_of(&|r| sum(r, Kpi::MintedTokens) - sum(r, Kpi::BurnedTokens)),
        treasury_tokens: band_of(&|r| sum(r, Kpi::Treasury)),
        validators_tokens: band_of(&|r| sum(r, Kpi::ValidatorsPaid)),
        bootstrap_tokens: band_of(&|r| pools(r).0),
        demand_tokens: band_of(&|r| pools(r).1),
        bootstrap_share: band_of(&|r| {
            let (b, d) = pools(r);
            ratio(b, b + d)
        }),
        demand_share: band_of(&|r| {
            let (b, d) = pools(r);
            ratio(d, b + d)
        }),
        users_spend_usd: band_of(&|r| sum(r, Kpi::DemandUsd)),
        supplier_revenue_usd: band_of(&|r| last(r, Kpi::RevenueTotalUsd)),
        supplier_cost_usd: band_of(&|r| last(r, Kpi::CostTotalUsd)),
        revenue_over_cost: band_of(&|r| {
            ratio(last(r, Kpi::RevenueTotalUsd), last(r, Kpi::CostTotalUsd))
        }),
        ever_joined: band_of(&|r| f64::from(r.summary.ever_joined)),
    };
    let mut pooled = [0u64; PAYBACK_BINS];
    let mut joined = 0u64;
    for r in runs {
        joined += u64::from(r.summary.ever_joined);
        for (slot, c) in pooled.iter_mut().zip(r.summary.payback_histogram) {
            *slot += u64::from(c);
        }
    }
    let paid: u64 = pooled.iter().sum();
    let share = |c: u64| {
        if joined > 0 {
            c as f64 / joined as f64
        } else {
            0.0
        }
    };
    let payback = PaybackDistribution {
        bin_epochs: payback_bin_epochs(steps as u32),
        shares: pooled.iter().map(|c| share(*c)).collect(),
        never: share(joined.saturating_sub(paid)),
    };
    Summary {
        totals,
        payback,
        runs: n as u32,
        steps: steps as u32,
        supply_collapse_probability: runs.iter().filter(|r| r.summary.collapsed).count() as f64
            / n as f64,
        payback_steps: values(&|r| r.summary.median_payback_steps),
        paid_back_share: values(&|r| Some(r.summary.paid_back_share)).unwrap_or_default(),
        peak_active_suppliers: values(&|r| Some(f64::from(r.summary.peak_active)))
            .unwrap_or_default(),
        final_step,
        run_mean,
    }
}

impl Summary {
    /// The final-step band of an indicator.
    pub fn at_end(&self, kpi: Kpi) -> Band {
        self.final_step[kpi as usize].1
    }

    /// The band of an indicator's mean over each run.
    pub fn mean(&self, kpi: Kpi) -> Band {
        self.run_mean[kpi as usize].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let mut v: Vec<f64> = (1..=11).map(f64::from).rev().collect();
        let b = band(&mut v);
        assert_eq!((b.p10, b.p50, b.p90), (2.0, 6.0, 10.0));
        assert_eq!(percentile(&[1.0, 2.0], 0.5), 1.5);
        assert_eq!(percentile(&[4.0], 0.9), 4.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
