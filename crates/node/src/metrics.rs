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
        out
    }
}
