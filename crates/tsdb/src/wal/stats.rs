//! Counters the WAL keeps for `/metrics`.
//!
//! Everything is a relaxed atomic: the values are independent monotonic
//! counters or gauges read by a scrape, so no ordering between them is
//! needed, and the writer and the fsync thread can update them without a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::ReplayReport;

/// Upper bounds (seconds) of the fsync latency histogram buckets.
pub const FSYNC_BUCKETS_SECONDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// WAL counters and gauges, shared with the exporter through an `Arc`.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Bytes appended to segments (records and segment headers).
    pub bytes_written: AtomicU64,
    /// Records appended to segments.
    pub records_written: AtomicU64,
    /// Completed `fdatasync` calls on segments.
    pub fsyncs: AtomicU64,
    /// Total time spent in `fdatasync`, in nanoseconds.
    pub fsync_nanos_total: AtomicU64,
    /// Longest single `fdatasync`, in nanoseconds.
    pub fsync_nanos_max: AtomicU64,
    /// Segment files currently on disk.
    pub segments: AtomicU64,
    /// Bytes of all segment files currently on disk.
    pub size_bytes: AtomicU64,
    /// Corruptions found by replay (at most one per replay).
    pub corruptions: AtomicU64,
    /// Bytes dropped by replay because of corruption.
    pub truncated_bytes: AtomicU64,
    /// Failed writes, truncations and syncs.
    pub write_errors: AtomicU64,
    /// Per-bucket (not cumulative) fsync counts: entry `i` counts fsyncs
    /// slower than bucket `i - 1` and at most `FSYNC_BUCKETS_SECONDS[i]`.
    /// Slower ones appear only in `fsyncs`. See [`WalStats::fsync_histogram`].
    pub fsync_buckets: [AtomicU64; FSYNC_BUCKETS_SECONDS.len()],
}

impl WalStats {
    /// Cumulative bucket counts as a Prometheus histogram wants them; the
    /// `+Inf` bucket is `fsyncs`.
    pub fn fsync_histogram(&self) -> [u64; FSYNC_BUCKETS_SECONDS.len()] {
        let mut out = [0; FSYNC_BUCKETS_SECONDS.len()];
        let mut sum = 0;
        for (o, b) in out.iter_mut().zip(&self.fsync_buckets) {
            sum += b.load(Relaxed);
            *o = sum;
        }
        out
    }

    /// Adds what a [`super::replay`] found, so damage found at startup
    /// shows up in the counters of the writer opened afterwards.
    pub fn record_replay(&self, report: &ReplayReport) {
        if let Some(c) = &report.corruption {
            self.corruptions.fetch_add(1, Relaxed);
            self.truncated_bytes.fetch_add(c.truncated_bytes, Relaxed);
        }
    }

    pub(crate) fn record_fsync(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.fsyncs.fetch_add(1, Relaxed);
        self.fsync_nanos_total.fetch_add(nanos, Relaxed);
        self.fsync_nanos_max.fetch_max(nanos, Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = FSYNC_BUCKETS_SECONDS.iter().position(|&b| secs <= b) {
            self.fsync_buckets[i].fetch_add(1, Relaxed);
        }
    }
}
