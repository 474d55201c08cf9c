//! OpenTelemetry OTLP/HTTP (<https://opentelemetry.io/docs/specs/otlp/>):
//! decoders of `POST /v1/metrics` and `POST /v1/traces` bodies, protobuf
//! ([`decode_metrics`], [`decode_traces`]) and JSON ([`decode_metrics_json`],
//! [`decode_traces_json`]), gzip inflation bounded by [`Limits`]
//! ([`gunzip`]), the translation of metrics into Prometheus series
//! ([`translate_metrics`]), and the encoders of the answers ([`encode`]).
//!
//! The types follow `opentelemetry/proto/{common,resource,trace,metrics}/v1`
//! field for field, with only what agentmon reads: plain owned Rust values,
//! no protobuf machinery. Identifiers keep their raw bytes; an absent or
//! empty identifier is an empty vector. The trace types are shared with the
//! GenAI span mapping.

pub mod encode;
mod json;
mod json_value;
mod metrics_model;
mod model;
mod naming;
mod proto_common;
mod proto_metrics;
mod proto_traces;
mod translate;
mod value_text;

#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod proptest_tests;
#[cfg(test)]
mod translate_tests;

use std::io::Read;

pub use json::{decode_metrics_json, decode_traces_json};
pub use metrics_model::{
    AggregationTemporality, ExponentialBuckets, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, MetricData,
    MetricsRequest, NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum,
    SummaryDataPoint, ValueAtQuantile, FLAG_NO_RECORDED_VALUE,
};
pub use model::{
    attribute, AnyValue, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span,
    SpanEvent, SpanKind, SpanStatus, StatusCode, TracesRequest,
};
pub use naming::{label_name, metric_name, unit_name, NameKind};
pub use proto_metrics::decode_metrics;
pub use proto_traces::decode_traces;
pub use translate::{translate_metrics, PromSeries, RejectReason, Translation};
pub use value_text::{format_float, value_as_string};

use crate::{IngestError, Limits};

/// Inflates a gzip body. The compressed size is checked against
/// `limits.max_body_bytes` and the inflated size against
/// `limits.max_decompressed_bytes` while inflating, so a small body that
/// inflates to gigabytes stops at the limit.
pub fn gunzip(body: &[u8], limits: &Limits) -> Result<Vec<u8>, IngestError> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let limit = limits.max_decompressed_bytes;
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Gzip {
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(IngestError::DecompressedTooLarge {
            declared: out.len() as u64,
            limit,
        });
    }
    Ok(out)
}

/// Checks the identifiers of every span: `traceId` 16 bytes, `spanId` 8
/// bytes, neither all zero, `parentSpanId` empty or 8 bytes (the OTLP
/// trace data model). The first offender is named by its position.
pub fn validate_traces(request: &TracesRequest) -> Result<(), IngestError> {
    for (r, rs) in request.resource_spans.iter().enumerate() {
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            for (i, span) in ss.spans.iter().enumerate() {
                let problem = id_problem("traceId", &span.trace_id, 16)
                    .or_else(|| id_problem("spanId", &span.span_id, 8))
                    .or_else(|| {
                        if span.parent_span_id.is_empty() {
                            None
                        } else {
                            id_problem("parentSpanId", &span.parent_span_id, 8)
                        }
                    });
                if let Some(reason) = problem {
                    return Err(IngestError::OtlpInvalid {
                        at: format!(
                            "resourceSpans[{r}].scopeSpans[{s}].spans[{i}] ({:?})",
                            span.name
                        ),
                        reason,
                    });
                }
            }
        }
    }
    Ok(())
}

fn id_problem(field: &str, id: &[u8], len: usize) -> Option<String> {
    if id.len() != len {
        Some(format!("{field} is {} bytes; it must be {len}", id.len()))
    } else if id.iter().all(|b| *b == 0) {
        Some(format!(
            "{field} is all zeros, which OTLP defines as invalid"
        ))
    } else {
        None
    }
}

/// How many spans a request carries.
pub fn span_count(request: &TracesRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// The OTLP/JSON form of an export response: `{}` when nothing was
/// rejected, else `{"partialSuccess":{"<rejected_key>":"n","errorMessage":...}}`
/// (64-bit integers as strings, as the protobuf JSON mapping writes them).
pub fn export_response_json(rejected_key: &str, rejected: u64, error_message: &str) -> String {
    if rejected == 0 && error_message.is_empty() {
        return "{}".to_owned();
    }
    let mut partial = serde_json::Map::new();
    partial.insert(rejected_key.to_owned(), rejected.to_string().into());
    partial.insert("errorMessage".to_owned(), error_message.into());
    serde_json::json!({ "partialSuccess": partial }).to_string()
}

/// The OTLP/JSON form of a `google.rpc.Status`.
pub fn status_json(code: i32, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}
