//! The server's side of health probes: [`DbProbeWriter`] writes each
//! probe's result into the database as three series labelled `service` and
//! `endpoint`, like a scrape's report series:
//!
//! - `probe_success`: 1 when the answer had the expected status, else 0;
//! - `probe_duration_seconds`: how long the probe took;
//! - `probe_http_status_code`: the answer's status, 0 when none came.
//!
//! Before the WAL replay has finished the results are only kept in memory.

use agentmon_model::{LabelRef, MetricMetadata, MetricType, Sample, SeriesBatch};
use agentmon_probes::{HealthTarget, ProbeOutcome, ProbeWriter};

use crate::state::AppState;

/// Appends probe results to the state's database, one atomic append per
/// probe.
pub struct DbProbeWriter {
    state: AppState,
}

impl DbProbeWriter {
    pub fn new(state: AppState) -> DbProbeWriter {
        DbProbeWriter { state }
    }
}

impl ProbeWriter for DbProbeWriter {
    fn write(&self, target: &HealthTarget, outcome: &ProbeOutcome, timestamp_ms: i64) {
        let Some(db) = self.state.ready_db() else {
            return;
        };
        let endpoint = target.endpoint.as_str();
        let values = [
            ("probe_duration_seconds", outcome.duration.as_secs_f64()),
            (
                "probe_http_status_code",
                f64::from(outcome.status_code.unwrap_or(0)),
            ),
            ("probe_success", if outcome.success { 1.0 } else { 0.0 }),
        ];
        let mut batch = SeriesBatch::with_capacity(values.len(), values.len() * 3, values.len());
        for (name, value) in values {
            // Sorted by label name, as a batch's labels must be.
            batch.push_label(LabelRef::new("__name__", name));
            batch.push_label(LabelRef::new("endpoint", endpoint));
            batch.push_label(LabelRef::new("service", &target.service_name));
            batch.push_sample(Sample::new(timestamp_ms, value));
            batch.finish_series();
        }
        let gauge = |help: &str| MetricMetadata {
            metric_type: MetricType::Gauge,
            help: help.to_owned(),
            unit: String::new(),
        };
        let metadata = [
            (
                "probe_duration_seconds",
                gauge("Duration of the health probe in seconds."),
            ),
            (
                "probe_http_status_code",
                gauge("HTTP status of the health probe's answer, 0 without one."),
            ),
            (
                "probe_success",
                gauge("1 when the health probe got the expected status, else 0."),
            ),
        ];
        if let Err(error) = db.append(&batch, &metadata) {
            tracing::warn!(service = %target.service_name, %error, "cannot write a health probe result");
        }
    }
}
