//! Counters exported at `/metrics` in the Prometheus text format.
//!
//! A handful of atomics rendered by hand: the node needs no registry, and every name is visible
//! here in one place.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The node's counters and gauges.
#[derive(Default)]
pub struct Metrics {
    pub height: AtomicU64,
    pub blocks_total: AtomicU64,
    pub txs_committed_total: AtomicU64,
    pub txs_rejected_in_block_total: AtomicU64,
    pub txs_admitted_total: AtomicU64,
    pub txs_refused_total: AtomicU64,
    pub mempool_full_total: AtomicU64,
    pub mempool_txs: AtomicU64,
    pub mempool_bytes: AtomicU64,
    /// Microseconds spent building, applying and committing blocks.
    pub block_micros_total: AtomicU64,
    pub http_requests_total: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Relaxed);
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 11] = [
            (
                "depin_height",
                "gauge",
                "Height of the last committed block.",
                &self.height,
            ),
            (
                "depin_blocks_total",
                "counter",
                "Blocks committed by this node since start.",
                &self.blocks_total,
            ),
            (
                "depin_txs_committed_total",
                "counter",
                "Transactions included in committed blocks with a success receipt.",
                &self.txs_committed_total,
            ),
            (
                "depin_txs_rejected_in_block_total",
                "counter",
                "Transactions included in committed blocks with a rejection receipt.",
                &self.txs_rejected_in_block_total,
            ),
            (
                "depin_mempool_admitted_total",
                "counter",
                "Transactions admitted to the mempool.",
                &self.txs_admitted_total,
            ),
            (
                "depin_mempool_refused_total",
                "counter",
                "Transactions refused at the mempool door.",
                &self.txs_refused_total,
            ),
            (
                "depin_mempool_full_total",
                "counter",
                "Refusals because the mempool was full.",
                &self.mempool_full_total,
            ),
            (
                "depin_mempool_txs",
                "gauge",
                "Transactions waiting in the mempool.",
                &self.mempool_txs,
            ),
            (
                "depin_mempool_bytes",
                "gauge",
                "Bytes waiting in the mempool.",
                &self.mempool_bytes,
            ),
            (
                "depin_block_build_commit_microseconds_total",
                "counter",
                "Time spent building, applying and durably committing blocks.",
                &self.block_micros_total,
            ),
            (
                "depin_http_requests_total",
                "counter",
                "HTTP requests served.",
                &self.http_requests_total,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Relaxed)
            );
        }
        if let Some(cpu) = process_cpu_seconds() {
            let _ = writeln!(
                out,
                "# HELP process_cpu_seconds_total User and system CPU time of the node process.\n\
                 # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu:.6}"
            );
        }
        out
    }
}

/// User plus system CPU time this process has used so far, all threads together
/// (`getrusage(RUSAGE_SELF)`), or `None` if the system cannot say. The benches divide its
/// growth over a measured phase by the work done in it: the CPU cost of one transaction.
pub fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: `getrusage` only writes into the zeroed struct we pass it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// Gauges of the economy, read from the state when `/metrics` is scraped: the epoch in progress,
/// the supply, and the last closed epoch's emission, payouts, burns and devices paid (amounts in
/// base units; Prometheus reads them as floats, exact to 2^53).
pub fn render_economy(
    epoch: u64,
    total_supply: u128,
    last: Option<&depin_core::economics::EpochSummary>,
) -> String {
    let mut rows: Vec<(&str, &str, String)> = vec![
        ("depin_epoch", "Epoch in progress.", epoch.to_string()),
        (
            "depin_total_supply_base_units",
            "Tokens in existence, base units.",
            total_supply.to_string(),
        ),
    ];
    if let Some(s) = last {
        let credits_burned = s
            .credits_on_data
            .saturating_add(s.credits_void)
            .saturating_add(s.credits_on_fees);
        rows.extend([
            ("depin_last_epoch", "Last closed epoch.", s.epoch.to_string()),
            (
                "depin_last_epoch_emission_base_units",
                "Emission of the last closed epoch, base units.",
                s.emission.0.to_string(),
            ),
            (
                "depin_last_epoch_bootstrap_paid_base_units",
                "Paid to device owners from the bootstrap pools in the last closed epoch, base units.",
                s.paid.0.to_string(),
            ),
            (
                "depin_last_epoch_demand_paid_base_units",
                "Paid to device owners from the demand pools in the last closed epoch, base units.",
                s.demand_paid.0.to_string(),
            ),
            (
                "depin_last_epoch_treasury_base_units",
                "The treasury's share of the last closed epoch (dust excluded), base units.",
                s.treasury.0.to_string(),
            ),
            (
                "depin_last_epoch_tokens_burned_base_units",
                "Tokens burned for credits in the last closed epoch, base units.",
                s.tokens_burned.0.to_string(),
            ),
            (
                "depin_last_epoch_credits_burned",
                "Credits burned in the last closed epoch (data, void and fees).",
                credits_burned.to_string(),
            ),
            (
                "depin_last_epoch_devices_paid",
                "Devices paid at the last close.",
                s.devices_paid.to_string(),
            ),
        ]);
    }
    let mut out = String::new();
    for (name, help, value) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn economy_gauges_name_every_value_once_with_help_and_type() {
        let text = render_economy(7, 123, None);
        assert!(text.contains("\ndepin_epoch 7\n"), "{text}");
        assert!(
            text.contains("\ndepin_total_supply_base_units 123\n"),
            "{text}"
        );
        assert!(
            !text.contains("depin_last_epoch"),
            "no closed epoch yet: {text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(' ').next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} gauge")), "{name}");
        }
    }

    #[test]
    fn the_process_cpu_time_grows_with_work_and_is_exported() {
        let before = process_cpu_seconds().expect("getrusage answers on this system");
        // Spin until the kernel has charged this thread at least 20 ms more.
        let mut x = 0u64;
        while process_cpu_seconds().unwrap() - before < 0.02 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let text = Metrics::default().render();
        let line = text
            .lines()
            .find(|l| l.starts_with("process_cpu_seconds_total "))
            .unwrap_or_else(|| panic!("no process_cpu_seconds_total in {text}"));
        let value: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(value >= before + 0.02, "{value} after {before}");
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter"),
            "{text}"
        );
    }
}
