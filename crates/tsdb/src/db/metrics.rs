//! The store's own metrics, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::append::{REASON_DUPLICATE_TIMESTAMP, REASON_OUT_OF_ORDER};
use super::DbInner;
use crate::wal::WalStats;

/// Counters of the store; gauges are computed when rendered.
pub struct TsdbMetrics {
    pub samples_appended: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub rejected_out_of_order: AtomicU64,
    pub rejected_duplicate_timestamp: AtomicU64,
    pub series_created: AtomicU64,
    pub head_series_removed: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_failures: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub retention_deleted_time: AtomicU64,
    pub retention_deleted_size: AtomicU64,
    pub blocks_corrupt: AtomicU64,
    pub wal_corruptions_replay: AtomicU64,
    pub wal_truncated_bytes_replay: AtomicU64,
    pub replay_samples: AtomicU64,
    pub replay_nanos: AtomicU64,
    pub wal: Arc<WalStats>,
}

impl TsdbMetrics {
    pub(crate) fn new(wal: Arc<WalStats>) -> TsdbMetrics {
        TsdbMetrics {
            samples_appended: AtomicU64::new(0),
            samples_duplicate: AtomicU64::new(0),
            rejected_out_of_order: AtomicU64::new(0),
            rejected_duplicate_timestamp: AtomicU64::new(0),
            series_created: AtomicU64::new(0),
            head_series_removed: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            flush_failures: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            compaction_failures: AtomicU64::new(0),
            retention_deleted_time: AtomicU64::new(0),
            retention_deleted_size: AtomicU64::new(0),
            blocks_corrupt: AtomicU64::new(0),
            wal_corruptions_replay: AtomicU64::new(0),
            wal_truncated_bytes_replay: AtomicU64::new(0),
            replay_samples: AtomicU64::new(0),
            replay_nanos: AtomicU64::new(0),
            wal,
        }
    }

    pub(crate) fn add_rejected(&self, reason: &str, n: u64) {
        let counter = match reason {
            REASON_OUT_OF_ORDER => &self.rejected_out_of_order,
            _ => &self.rejected_duplicate_timestamp,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Writes one metric family with unlabelled or labelled samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

impl DbInner {
    pub(super) fn write_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        family(
            out,
            "agentmon_tsdb_samples_appended_total",
            "counter",
            "Samples stored.",
            &[("", get(&m.samples_appended))],
        );
        family(
            out,
            "agentmon_tsdb_samples_duplicate_total",
            "counter",
            "Samples identical to one already stored, accepted without storing them twice.",
            &[("", get(&m.samples_duplicate))],
        );
        let ooo = format!("{{reason=\"{REASON_OUT_OF_ORDER}\"}}");
        let dup = format!("{{reason=\"{REASON_DUPLICATE_TIMESTAMP}\"}}");
        family(
            out,
            "agentmon_tsdb_samples_rejected_total",
            "counter",
            "Samples refused, by reason; their whole request was refused.",
            &[
                (&ooo, get(&m.rejected_out_of_order)),
                (&dup, get(&m.rejected_duplicate_timestamp)),
            ],
        );
        family(
            out,
            "agentmon_tsdb_head_series_created_total",
            "counter",
            "Series created in the head.",
            &[("", get(&m.series_created))],
        );
        family(
            out,
            "agentmon_tsdb_head_series_removed_total",
            "counter",
            "Series removed from the head after their data moved to blocks.",
            &[("", get(&m.head_series_removed))],
        );
        let head = self.head.stats();
        family(
            out,
            "agentmon_tsdb_head_series",
            "gauge",
            "Series in the head.",
            &[("", head.series as f64)],
        );
        family(
            out,
            "agentmon_tsdb_head_chunks",
            "gauge",
            "Chunks in the head.",
            &[("", head.chunks as f64)],
        );
        family(
            out,
            "agentmon_tsdb_head_samples",
            "gauge",
            "Samples in the head.",
            &[("", head.samples as f64)],
        );
        family(
            out,
            "agentmon_tsdb_head_memory_bytes",
            "gauge",
            "Estimated memory held by the head.",
            &[("", head.memory_bytes as f64)],
        );
        let (blocks, block_bytes) = {
            let state = self.state.read();
            (
                state.blocks.len(),
                state.blocks.iter().map(|b| b.size_bytes()).sum::<u64>(),
            )
        };
        family(
            out,
            "agentmon_tsdb_blocks",
            "gauge",
            "Blocks on disk being served.",
            &[("", blocks as f64)],
        );
        family(
            out,
            "agentmon_tsdb_blocks_bytes",
            "gauge",
            "Bytes of all served blocks.",
            &[("", block_bytes as f64)],
        );
        family(
            out,
            "agentmon_tsdb_blocks_corrupt_total",
            "counter",
            "Damaged blocks set aside at startup.",
            &[("", get(&m.blocks_corrupt))],
        );
        family(
            out,
            "agentmon_tsdb_head_flushes_total",
            "counter",
            "Head cuts into blocks.",
            &[("", get(&m.flushes))],
        );
        family(
            out,
            "agentmon_tsdb_head_flush_failures_total",
            "counter",
            "Failed head cuts.",
            &[("", get(&m.flush_failures))],
        );
        family(
            out,
            "agentmon_tsdb_compactions_total",
            "counter",
            "Block compactions.",
            &[("", get(&m.compactions))],
        );
        family(
            out,
            "agentmon_tsdb_compaction_failures_total",
            "counter",
            "Failed block compactions.",
            &[("", get(&m.compaction_failures))],
        );
        family(
            out,
            "agentmon_tsdb_retention_deletions_total",
            "counter",
            "Blocks deleted by retention, by reason.",
            &[
                ("{reason=\"time\"}", get(&m.retention_deleted_time)),
                ("{reason=\"size\"}", get(&m.retention_deleted_size)),
            ],
        );
        let w = &m.wal;
        family(
            out,
            "agentmon_wal_bytes_written_total",
            "counter",
            "Bytes written to the WAL.",
            &[("", get(&w.bytes_written))],
        );
        family(
            out,
            "agentmon_wal_records_written_total",
            "counter",
            "Records written to the WAL.",
            &[("", get(&w.records_written))],
        );
        family(
            out,
            "agentmon_wal_size_bytes",
            "gauge",
            "Bytes of WAL segments on disk.",
            &[("", get(&w.size_bytes))],
        );
        family(
            out,
            "agentmon_wal_segments",
            "gauge",
            "WAL segments on disk.",
            &[("", get(&w.segments))],
        );
        family(
            out,
            "agentmon_wal_write_errors_total",
            "counter",
            "Failed WAL writes (the write was refused).",
            &[("", get(&w.write_errors))],
        );
        family(
            out,
            "agentmon_wal_fsyncs_total",
            "counter",
            "WAL fsyncs.",
            &[("", get(&w.fsyncs))],
        );
        family(
            out,
            "agentmon_wal_fsync_duration_seconds_total",
            "counter",
            "Time spent in WAL fsyncs.",
            &[("", get(&w.fsync_nanos_total) / 1e9)],
        );
        family(
            out,
            "agentmon_wal_fsync_duration_seconds_max",
            "gauge",
            "Longest WAL fsync.",
            &[("", get(&w.fsync_nanos_max) / 1e9)],
        );
        family(
            out,
            "agentmon_wal_corruptions_total",
            "counter",
            "Damaged WAL tails cut off at startup.",
            &[("", get(&m.wal_corruptions_replay))],
        );
        family(
            out,
            "agentmon_wal_truncated_bytes_total",
            "counter",
            "Bytes of damaged WAL cut off at startup.",
            &[("", get(&m.wal_truncated_bytes_replay))],
        );
        family(
            out,
            "agentmon_wal_replay_samples",
            "gauge",
            "Samples replayed from the WAL at startup.",
            &[("", get(&m.replay_samples))],
        );
        family(
            out,
            "agentmon_wal_replay_duration_seconds",
            "gauge",
            "Time the WAL replay took at startup.",
            &[("", get(&m.replay_nanos) / 1e9)],
        );
    }
}
