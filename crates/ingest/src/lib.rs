//! Decoders for everything agentmon accepts from outside: the formats in
//! which samples arrive over HTTP.
//!
//! - [`remote_write`]: Prometheus remote write 1.0 — snappy block
//!   decompression ([`remote_write::decompress`]) and a hand-written,
//!   zero-copy protobuf decoder ([`remote_write::decode`]) that fills a flat
//!   [`agentmon_model::SeriesBatch`] whose labels borrow the request buffer.
//!   This is the ingest hot path: no allocation per series or label.
//! - [`text`]: the Prometheus text exposition format 0.0.4, as posted to
//!   `/api/v1/import/prometheus`, and OpenMetrics 1.0 text as scraped.
//! - [`scrape`]: `scrape_configs` (prometheus.yml's schema), relabeling,
//!   and the scrape manager that pulls targets over HTTP into a
//!   [`scrape::SampleAppender`].
//! - [`vm_json`]: VictoriaMetrics' JSON-lines export/import format, both
//!   directions, so that an export re-imports bit for bit.
//! - [`events`]: agent events (`POST /api/v1/events`) as a JSON array or
//!   NDJSON, validated into [`agentmon_model::AgentEvent`]s with every faulty
//!   event listed by index.
//! - [`otlp`]: OpenTelemetry OTLP/HTTP requests: protobuf and JSON
//!   decoders of `ExportMetricsServiceRequest` and
//!   `ExportTraceServiceRequest` into plain types, gzip inflation within
//!   the limits, the translation of metrics to Prometheus series (names,
//!   labels, `target_info`) as Prometheus 3.x's OTLP receiver does it, and
//!   encoders of requests and responses.
//!
//! The protobuf wire reader (`wire`) is shared by remote write and OTLP.
//!
//! Every decoder validates its whole input before returning anything: a
//! malformed request yields one [`IngestError`] naming what was wrong and
//! where (byte offset, series index or line number), never a partial result.
//! Sizes are bounded by [`Limits`].

mod error;
pub mod events;
pub mod otlp;
pub mod remote_write;
pub mod scrape;
pub mod text;
pub mod vm_json;
mod wire;

pub use error::{EventProblem, IngestError, SeriesProblem};

/// Size bounds applied to untrusted input. Defaults suit a server that takes
/// remote write from many agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body (compressed, for remote write).
    pub max_body_bytes: usize,
    /// Largest accepted decompressed remote-write payload.
    pub max_decompressed_bytes: usize,
    /// Most labels one series may have, `__name__` included.
    pub max_labels_per_series: usize,
    /// Longest label name, in bytes.
    pub max_label_name_bytes: usize,
    /// Longest label value, in bytes.
    pub max_label_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 << 20,
            max_decompressed_bytes: 256 << 20,
            max_labels_per_series: 64,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 16 << 10,
        }
    }
}

impl Limits {
    /// Checks one label pair against the name and value length limits.
    #[inline]
    pub(crate) fn check_label(&self, name: &str, value: &str) -> Result<(), SeriesProblem> {
        if name.len() > self.max_label_name_bytes {
            return Err(SeriesProblem::LabelNameTooLong {
                prefix: error::truncated(name, 64),
                len: name.len(),
                limit: self.max_label_name_bytes,
            });
        }
        if value.len() > self.max_label_value_bytes {
            return Err(SeriesProblem::LabelValueTooLong {
                name: error::truncated(name, 64),
                len: value.len(),
                limit: self.max_label_value_bytes,
            });
        }
        Ok(())
    }

    /// Checks a label count against `max_labels_per_series`.
    #[inline]
    pub(crate) fn check_label_count(&self, count: usize) -> Result<(), SeriesProblem> {
        if count > self.max_labels_per_series {
            Err(SeriesProblem::TooManyLabels {
                count,
                limit: self.max_labels_per_series,
            })
        } else {
            Ok(())
        }
    }
}
