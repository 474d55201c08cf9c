//! The seam between HTTP handlers and the ingest decoders.
//!
//! Each function here takes a request body and lands it in the database whole
//! or not at all: decode (which validates every series), build one
//! [`SeriesBatch`], append it in one call. They are blocking and run inside
//! [`crate::storage::with_db`].

use agentmon_model::{Labels, MetricMetadata, Sample, SeriesBatch};

use crate::error::ApiError;
use crate::storage::Db;
use agentmon_ingest::{otlp, remote_write, text, vm_json, IngestError};

pub use agentmon_ingest::Limits;

/// What one ingest request added, for logs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IngestReport {
    pub series: usize,
    pub samples_appended: usize,
    pub samples_duplicate: usize,
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> ApiError {
        ApiError::BadData(error.to_string())
    }
}

/// Decompresses (snappy block), decodes and appends a remote-write 1.0 body.
pub(crate) fn remote_write_body(
    db: &Db,
    body: &[u8],
    limits: &Limits,
) -> Result<IngestReport, ApiError> {
    let raw = remote_write::decompress(body, limits)?;
    let request = remote_write::decode(&raw, limits)?;
    if request.exemplars_ignored > 0 {
        tracing::debug!(
            exemplars = request.exemplars_ignored,
            "exemplars are not stored yet; ignored"
        );
    }
    let metadata: Vec<(&str, MetricMetadata)> = request
        .metadata
        .iter()
        .map(|m| (m.metric_family, m.metadata.clone()))
        .collect();
    append(db, &request.batch, &metadata)
}

/// Parses Prometheus text exposition and appends it; samples without a
/// timestamp get `default_timestamp_ms`.
pub(crate) fn text_body(
    db: &Db,
    input: &str,
    default_timestamp_ms: i64,
    limits: &Limits,
) -> Result<IngestReport, ApiError> {
    let exposition = text::parse(input, default_timestamp_ms, limits)?;
    let mut batch =
        SeriesBatch::with_capacity(exposition.samples.len(), 0, exposition.samples.len());
    let mut samples: Vec<Sample> = Vec::new();
    // Consecutive samples of one series (lines with timestamps) become one
    // batch series.
    let mut iter = exposition.samples.iter().peekable();
    while let Some((labels, sample)) = iter.next() {
        samples.clear();
        samples.push(*sample);
        while let Some((next_labels, next_sample)) = iter.peek() {
            if next_labels != labels {
                break;
            }
            samples.push(*next_sample);
            iter.next();
        }
        push_owned(&mut batch, labels, &samples);
    }
    let metadata: Vec<(&str, MetricMetadata)> = exposition
        .metadata
        .iter()
        .map(|(name, m)| (name.as_str(), m.clone()))
        .collect();
    append(db, &batch, &metadata)
}

/// Parses VictoriaMetrics JSON lines and appends them.
pub(crate) fn vm_json_body(
    db: &Db,
    body: &[u8],
    limits: &Limits,
) -> Result<IngestReport, ApiError> {
    let series = vm_json::parse(body, limits)?;
    let mut batch = SeriesBatch::with_capacity(series.len(), 0, 0);
    for (labels, samples) in &series {
        push_owned(&mut batch, labels, samples);
    }
    append(db, &batch, &[])
}

/// Appends the series of a translated OTLP metrics request in one call.
pub(crate) fn otlp_translation(
    db: &Db,
    translation: &otlp::Translation,
) -> Result<IngestReport, ApiError> {
    let samples = translation.series.iter().map(|s| s.samples.len()).sum();
    let mut batch = SeriesBatch::with_capacity(translation.series.len(), 0, samples);
    for series in &translation.series {
        push_owned(&mut batch, &series.labels, &series.samples);
    }
    let metadata: Vec<(&str, MetricMetadata)> = translation
        .metadata
        .iter()
        .map(|(name, m)| (name.as_str(), m.clone()))
        .collect();
    append(db, &batch, &metadata)
}

/// Writes one series as a VictoriaMetrics JSON line.
pub(crate) fn write_vm_json_line(out: &mut Vec<u8>, labels: &Labels, samples: &[Sample]) {
    vm_json::write_line(out, labels, samples);
}

fn push_owned<'a>(batch: &mut SeriesBatch<'a>, labels: &'a Labels, samples: &[Sample]) {
    batch.push_series(&labels.refs(), samples);
}

fn append(
    db: &Db,
    batch: &SeriesBatch<'_>,
    metadata: &[(&str, MetricMetadata)],
) -> Result<IngestReport, ApiError> {
    if batch.is_empty() && metadata.is_empty() {
        return Ok(IngestReport::default());
    }
    let summary = db.append(batch, metadata)?;
    Ok(IngestReport {
        series: summary.series,
        samples_appended: summary.samples_appended,
        samples_duplicate: summary.samples_duplicate,
    })
}
