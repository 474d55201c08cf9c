//! Decoders of OTLP/JSON `ExportMetricsServiceRequest` and
//! `ExportTraceServiceRequest` bodies into the same types as the protobuf
//! decoders produce. Field names and forms: see [`super::json_value`].

use serde_json::{Map, Value};

use super::json_value::{
    attributes, boolean, double, each, enumeration, get, hex_id, int32, object, parse_object,
    resource, scope, string_field, uint32, uint64, Path, Result,
};
use super::metrics_model::{
    AggregationTemporality, ExponentialBuckets, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, MetricData,
    MetricsRequest, NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum,
    SummaryDataPoint, ValueAtQuantile,
};
use super::model::{ResourceSpans, ScopeSpans, Span, SpanEvent, SpanStatus, TracesRequest};
use super::proto_traces::{span_kind, status_code};

const TEMPORALITY_NAMES: &[(&str, i64)] = &[
    ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
    ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
];

const SPAN_KIND_NAMES: &[(&str, i64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];

const STATUS_CODE_NAMES: &[(&str, i64)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_metrics_json(body: &[u8]) -> Result<MetricsRequest> {
    let root = parse_object(body)?;
    let mut request = MetricsRequest::default();
    each(
        &root,
        "resourceMetrics",
        "resource_metrics",
        &Path::Root,
        |v, p| {
            let obj = object(v, p)?;
            let mut rm = ResourceMetrics {
                resource: resource(obj, p)?,
                scope_metrics: Vec::new(),
            };
            each(obj, "scopeMetrics", "scope_metrics", p, |v, p| {
                let obj = object(v, p)?;
                let mut sm = ScopeMetrics {
                    scope: scope(obj, p)?,
                    metrics: Vec::new(),
                };
                each(obj, "metrics", "metrics", p, |v, p| {
                    sm.metrics.push(metric(v, p)?);
                    Ok(())
                })?;
                rm.scope_metrics.push(sm);
                Ok(())
            })?;
            request.resource_metrics.push(rm);
            Ok(())
        },
    )?;
    Ok(request)
}

fn opt_u64(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    p: &Path<'_>,
) -> Result<u64> {
    get(obj, camel, snake).map_or(Ok(0), |v| uint64(v, &p.key(camel)))
}

fn opt_f64(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    p: &Path<'_>,
) -> Result<Option<f64>> {
    get(obj, camel, snake)
        .map(|v| double(v, &p.key(camel)))
        .transpose()
}

fn flags(obj: &Map<String, Value>, p: &Path<'_>) -> Result<u32> {
    get(obj, "flags", "flags").map_or(Ok(0), |v| uint32(v, &p.key("flags")))
}

fn temporality(obj: &Map<String, Value>, p: &Path<'_>) -> Result<AggregationTemporality> {
    get(obj, "aggregationTemporality", "aggregation_temporality").map_or(
        Ok(AggregationTemporality::Unspecified),
        |v| {
            enumeration(v, &p.key("aggregationTemporality"), TEMPORALITY_NAMES)
                .map(AggregationTemporality::from_number)
        },
    )
}

fn metric(v: &Value, p: &Path<'_>) -> Result<Metric> {
    let obj = object(v, p)?;
    let mut out = Metric {
        name: string_field(obj, "name", "name", p)?,
        description: string_field(obj, "description", "description", p)?,
        unit: string_field(obj, "unit", "unit", p)?,
        data: MetricData::Empty,
    };
    if let Some(v) = get(obj, "gauge", "gauge") {
        let here = p.key("gauge");
        out.data = MetricData::Gauge(number_points(object(v, &here)?, &here)?);
    } else if let Some(v) = get(obj, "sum", "sum") {
        let here = p.key("sum");
        let sum = object(v, &here)?;
        out.data = MetricData::Sum(Sum {
            data_points: number_points(sum, &here)?,
            aggregation_temporality: temporality(sum, &here)?,
            is_monotonic: get(sum, "isMonotonic", "is_monotonic")
                .map_or(Ok(false), |v| boolean(v, &here.key("isMonotonic")))?,
        });
    } else if let Some(v) = get(obj, "histogram", "histogram") {
        let here = p.key("histogram");
        let h = object(v, &here)?;
        let mut data_points = Vec::new();
        each(h, "dataPoints", "data_points", &here, |v, p| {
            data_points.push(histogram_point(v, p)?);
            Ok(())
        })?;
        out.data = MetricData::Histogram(Histogram {
            data_points,
            aggregation_temporality: temporality(h, &here)?,
        });
    } else if let Some(v) = get(obj, "exponentialHistogram", "exponential_histogram") {
        let here = p.key("exponentialHistogram");
        let h = object(v, &here)?;
        let mut data_points = Vec::new();
        each(h, "dataPoints", "data_points", &here, |v, p| {
            data_points.push(exponential_point(v, p)?);
            Ok(())
        })?;
        out.data = MetricData::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality: temporality(h, &here)?,
        });
    } else if let Some(v) = get(obj, "summary", "summary") {
        let here = p.key("summary");
        let mut points = Vec::new();
        each(
            object(v, &here)?,
            "dataPoints",
            "data_points",
            &here,
            |v, p| {
                points.push(summary_point(v, p)?);
                Ok(())
            },
        )?;
        out.data = MetricData::Summary(points);
    }
    Ok(out)
}

fn number_points(obj: &Map<String, Value>, p: &Path<'_>) -> Result<Vec<NumberDataPoint>> {
    let mut points = Vec::new();
    each(obj, "dataPoints", "data_points", p, |v, p| {
        let o = object(v, p)?;
        let value = if let Some(v) = get(o, "asDouble", "as_double") {
            NumberValue::Double(double(v, &p.key("asDouble"))?)
        } else if let Some(v) = get(o, "asInt", "as_int") {
            NumberValue::Int(super::json_value::int64(v, &p.key("asInt"))?)
        } else {
            NumberValue::Empty
        };
        points.push(NumberDataPoint {
            attributes: attributes(o, p)?,
            start_time_unix_nano: opt_u64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
            time_unix_nano: opt_u64(o, "timeUnixNano", "time_unix_nano", p)?,
            value,
            flags: flags(o, p)?,
        });
        Ok(())
    })?;
    Ok(points)
}

fn u64_list(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    p: &Path<'_>,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    each(obj, camel, snake, p, |v, p| {
        out.push(uint64(v, p)?);
        Ok(())
    })?;
    Ok(out)
}

fn histogram_point(v: &Value, p: &Path<'_>) -> Result<HistogramDataPoint> {
    let o = object(v, p)?;
    let mut explicit_bounds = Vec::new();
    each(o, "explicitBounds", "explicit_bounds", p, |v, p| {
        explicit_bounds.push(double(v, p)?);
        Ok(())
    })?;
    Ok(HistogramDataPoint {
        attributes: attributes(o, p)?,
        start_time_unix_nano: opt_u64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
        time_unix_nano: opt_u64(o, "timeUnixNano", "time_unix_nano", p)?,
        count: opt_u64(o, "count", "count", p)?,
        sum: opt_f64(o, "sum", "sum", p)?,
        bucket_counts: u64_list(o, "bucketCounts", "bucket_counts", p)?,
        explicit_bounds,
        flags: flags(o, p)?,
        min: opt_f64(o, "min", "min", p)?,
        max: opt_f64(o, "max", "max", p)?,
    })
}

fn exponential_buckets(
    o: &Map<String, Value>,
    camel: &'static str,
    p: &Path<'_>,
) -> Result<ExponentialBuckets> {
    let Some(v) = get(o, camel, camel) else {
        return Ok(ExponentialBuckets::default());
    };
    let here = p.key(camel);
    let b = object(v, &here)?;
    Ok(ExponentialBuckets {
        offset: get(b, "offset", "offset").map_or(Ok(0), |v| int32(v, &here.key("offset")))?,
        bucket_counts: u64_list(b, "bucketCounts", "bucket_counts", &here)?,
    })
}

fn exponential_point(v: &Value, p: &Path<'_>) -> Result<ExponentialHistogramDataPoint> {
    let o = object(v, p)?;
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(o, p)?,
        start_time_unix_nano: opt_u64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
        time_unix_nano: opt_u64(o, "timeUnixNano", "time_unix_nano", p)?,
        count: opt_u64(o, "count", "count", p)?,
        sum: opt_f64(o, "sum", "sum", p)?,
        scale: get(o, "scale", "scale").map_or(Ok(0), |v| int32(v, &p.key("scale")))?,
        zero_count: opt_u64(o, "zeroCount", "zero_count", p)?,
        positive: exponential_buckets(o, "positive", p)?,
        negative: exponential_buckets(o, "negative", p)?,
        flags: flags(o, p)?,
        min: opt_f64(o, "min", "min", p)?,
        max: opt_f64(o, "max", "max", p)?,
        zero_threshold: opt_f64(o, "zeroThreshold", "zero_threshold", p)?.unwrap_or(0.0),
    })
}

fn summary_point(v: &Value, p: &Path<'_>) -> Result<SummaryDataPoint> {
    let o = object(v, p)?;
    let mut quantile_values = Vec::new();
    each(o, "quantileValues", "quantile_values", p, |v, p| {
        let q = object(v, p)?;
        quantile_values.push(ValueAtQuantile {
            quantile: opt_f64(q, "quantile", "quantile", p)?.unwrap_or(0.0),
            value: opt_f64(q, "value", "value", p)?.unwrap_or(0.0),
        });
        Ok(())
    })?;
    Ok(SummaryDataPoint {
        attributes: attributes(o, p)?,
        start_time_unix_nano: opt_u64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
        time_unix_nano: opt_u64(o, "timeUnixNano", "time_unix_nano", p)?,
        count: opt_u64(o, "count", "count", p)?,
        sum: opt_f64(o, "sum", "sum", p)?.unwrap_or(0.0),
        quantile_values,
        flags: flags(o, p)?,
    })
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`. Identifiers are not
/// checked here; see [`super::validate_traces`].
pub fn decode_traces_json(body: &[u8]) -> Result<TracesRequest> {
    let root = parse_object(body)?;
    let mut request = TracesRequest::default();
    each(
        &root,
        "resourceSpans",
        "resource_spans",
        &Path::Root,
        |v, p| {
            let obj = object(v, p)?;
            let mut rs = ResourceSpans {
                resource: resource(obj, p)?,
                scope_spans: Vec::new(),
            };
            each(obj, "scopeSpans", "scope_spans", p, |v, p| {
                let obj = object(v, p)?;
                let mut ss = ScopeSpans {
                    scope: scope(obj, p)?,
                    spans: Vec::new(),
                };
                each(obj, "spans", "spans", p, |v, p| {
                    ss.spans.push(span(v, p)?);
                    Ok(())
                })?;
                rs.scope_spans.push(ss);
                Ok(())
            })?;
            request.resource_spans.push(rs);
            Ok(())
        },
    )?;
    Ok(request)
}

fn id(
    o: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    p: &Path<'_>,
) -> Result<Vec<u8>> {
    get(o, camel, snake).map_or(Ok(Vec::new()), |v| hex_id(v, &p.key(camel)))
}

fn span(v: &Value, p: &Path<'_>) -> Result<Span> {
    let o = object(v, p)?;
    let mut events = Vec::new();
    each(o, "events", "events", p, |v, p| {
        let e = object(v, p)?;
        events.push(SpanEvent {
            time_unix_nano: opt_u64(e, "timeUnixNano", "time_unix_nano", p)?,
            name: string_field(e, "name", "name", p)?,
            attributes: attributes(e, p)?,
        });
        Ok(())
    })?;
    let status = match get(o, "status", "status") {
        None => SpanStatus::default(),
        Some(v) => {
            let here = p.key("status");
            let s = object(v, &here)?;
            StatusNumber {
                code: get(s, "code", "code").map_or(Ok(0), |v| {
                    enumeration(v, &here.key("code"), STATUS_CODE_NAMES)
                })?,
                message: string_field(s, "message", "message", &here)?,
            }
            .with_code_number()
        }
    };
    Ok(Span {
        trace_id: id(o, "traceId", "trace_id", p)?,
        span_id: id(o, "spanId", "span_id", p)?,
        parent_span_id: id(o, "parentSpanId", "parent_span_id", p)?,
        name: string_field(o, "name", "name", p)?,
        kind: span_kind(
            get(o, "kind", "kind")
                .map_or(Ok(0), |v| enumeration(v, &p.key("kind"), SPAN_KIND_NAMES))?,
        ),
        start_time_unix_nano: opt_u64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
        end_time_unix_nano: opt_u64(o, "endTimeUnixNano", "end_time_unix_nano", p)?,
        attributes: attributes(o, p)?,
        events,
        status,
    })
}

/// A status whose code is still a wire number, turned into [`SpanStatus`].
struct StatusNumber {
    code: i64,
    message: String,
}

impl StatusNumber {
    fn with_code_number(self) -> SpanStatus {
        SpanStatus {
            code: status_code(self.code),
            message: self.message,
        }
    }
}
