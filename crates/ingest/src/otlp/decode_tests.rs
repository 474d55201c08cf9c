//! Tests of the OTLP decoders: protobuf round trips through the encoder,
//! hand-built bytes for what the encoder never writes (unpacked repeated
//! fields, unknown fields), malformed input, and OTLP/JSON fixtures.

use super::encode::{encode_export_response, encode_metrics, encode_status, encode_traces};
use super::*;
use crate::{IngestError, Limits};

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
    }
}

/// One metric of every kind, with attribute values of every kind.
pub(super) fn sample_metrics() -> MetricsRequest {
    let attrs = vec![
        kv("s", AnyValue::String("x".into())),
        kv("b", AnyValue::Bool(true)),
        kv("i", AnyValue::Int(-7)),
        kv("d", AnyValue::Double(1.5)),
        kv("bytes", AnyValue::Bytes(vec![0, 255, 3])),
        kv(
            "arr",
            AnyValue::Array(vec![AnyValue::Int(1), AnyValue::String("two".into())]),
        ),
        kv(
            "map",
            AnyValue::KvList(vec![kv("k", AnyValue::Bool(false))]),
        ),
    ];
    let t = 1_700_000_000_123_456_789;
    MetricsRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Resource {
                attributes: vec![kv("service.name", AnyValue::String("svc".into()))],
            },
            scope_metrics: vec![ScopeMetrics {
                scope: InstrumentationScope {
                    name: "meter".into(),
                    version: "1.0".into(),
                    attributes: vec![],
                },
                metrics: vec![
                    Metric {
                        name: "g".into(),
                        description: "a gauge".into(),
                        unit: "1".into(),
                        data: MetricData::Gauge(vec![NumberDataPoint {
                            attributes: attrs.clone(),
                            start_time_unix_nano: 0,
                            time_unix_nano: t,
                            value: NumberValue::Double(0.25),
                            flags: 0,
                        }]),
                    },
                    Metric {
                        name: "c".into(),
                        description: String::new(),
                        unit: "By".into(),
                        data: MetricData::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: t - 5,
                                time_unix_nano: t,
                                value: NumberValue::Int(-42),
                                flags: 1,
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative,
                            is_monotonic: true,
                        }),
                    },
                    Metric {
                        name: "h".into(),
                        description: String::new(),
                        unit: "s".into(),
                        data: MetricData::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: t,
                                count: 6,
                                sum: Some(0.0),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![0.1, 1.0],
                                flags: 0,
                                min: Some(-1.0),
                                max: Some(9.0),
                            }],
                            aggregation_temporality: AggregationTemporality::Delta,
                        }),
                    },
                    Metric {
                        name: "e".into(),
                        description: String::new(),
                        unit: String::new(),
                        data: MetricData::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                time_unix_nano: t,
                                count: 4,
                                sum: None,
                                scale: -3,
                                zero_count: 1,
                                positive: ExponentialBuckets {
                                    offset: -2,
                                    bucket_counts: vec![1, 0, 300],
                                },
                                negative: ExponentialBuckets::default(),
                                zero_threshold: 1e-9,
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative,
                        }),
                    },
                    Metric {
                        name: "q".into(),
                        description: String::new(),
                        unit: "ms".into(),
                        data: MetricData::Summary(vec![SummaryDataPoint {
                            attributes: vec![],
                            start_time_unix_nano: 0,
                            time_unix_nano: t,
                            count: 10,
                            sum: 99.5,
                            quantile_values: vec![
                                ValueAtQuantile {
                                    quantile: 0.5,
                                    value: 3.0,
                                },
                                ValueAtQuantile {
                                    quantile: 0.99,
                                    value: 7.0,
                                },
                            ],
                            flags: 0,
                        }]),
                    },
                ],
            }],
        }],
    }
}

pub(super) fn sample_traces() -> TracesRequest {
    TracesRequest {
        resource_spans: vec![ResourceSpans {
            resource: Resource {
                attributes: vec![kv("service.name", AnyValue::String("agent".into()))],
            },
            scope_spans: vec![ScopeSpans {
                scope: InstrumentationScope {
                    name: "tracer".into(),
                    ..Default::default()
                },
                spans: vec![Span {
                    trace_id: (1..=16).collect(),
                    span_id: (1..=8).collect(),
                    parent_span_id: vec![9; 8],
                    name: "chat gpt-4o".into(),
                    kind: SpanKind::Client,
                    start_time_unix_nano: 10,
                    end_time_unix_nano: 20,
                    attributes: vec![kv("gen_ai.usage.input_tokens", AnyValue::Int(12))],
                    events: vec![SpanEvent {
                        time_unix_nano: 15,
                        name: "gen_ai.choice".into(),
                        attributes: vec![kv("index", AnyValue::Int(0))],
                    }],
                    status: SpanStatus {
                        code: StatusCode::Error,
                        message: "boom".into(),
                    },
                }],
            }],
        }],
    }
}

#[test]
fn metrics_round_trip_through_protobuf() {
    let request = sample_metrics();
    let bytes = encode_metrics(&request);
    assert_eq!(decode_metrics(&bytes).unwrap(), request);
    assert_eq!(request.data_point_count(), 5);
}

#[test]
fn traces_round_trip_through_protobuf() {
    let request = sample_traces();
    let bytes = encode_traces(&request);
    let decoded = decode_traces(&bytes).unwrap();
    assert_eq!(decoded, request);
    assert!(validate_traces(&decoded).is_ok());
    assert_eq!(span_count(&decoded), 1);
}

/// Builds a length-delimited field.
fn len_field(field: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![field << 3 | 2, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

#[test]
fn unpacked_repeated_fields_and_unknown_fields_are_accepted() {
    // HistogramDataPoint with bucket_counts (6) and explicit_bounds (7) as
    // separate fixed64 entries, an unknown varint field 99, and time (3).
    let mut point = Vec::new();
    for count in [2u64, 3] {
        point.push(6 << 3 | 1);
        point.extend_from_slice(&count.to_le_bytes());
    }
    point.push(7 << 3 | 1);
    point.extend_from_slice(&2.5f64.to_bits().to_le_bytes());
    point.extend_from_slice(&[0x98, 0x06, 0x01]); // field 99, varint 1
    point.push(3 << 3 | 1);
    point.extend_from_slice(&5u64.to_le_bytes());
    let mut histogram = len_field(1, &point);
    histogram.extend_from_slice(&[2 << 3, 2]); // cumulative
    let metric = [len_field(1, b"h"), len_field(9, &histogram)].concat();
    let scope = len_field(2, &metric);
    let resource = len_field(2, &scope);
    let body = len_field(1, &resource);
    let request = decode_metrics(&body).unwrap();
    let MetricData::Histogram(h) = &request.resource_metrics[0].scope_metrics[0].metrics[0].data
    else {
        panic!("not a histogram: {request:?}");
    };
    assert_eq!(
        h.aggregation_temporality,
        AggregationTemporality::Cumulative
    );
    assert_eq!(h.data_points[0].bucket_counts, [2, 3]);
    assert_eq!(h.data_points[0].explicit_bounds, [2.5]);
    assert_eq!(h.data_points[0].time_unix_nano, 5);
}

fn protobuf_error(
    result: Result<impl std::fmt::Debug, IngestError>,
) -> (&'static str, usize, &'static str) {
    match result {
        Err(IngestError::Protobuf {
            message,
            offset,
            reason,
        }) => (message, offset, reason),
        other => panic!("expected a protobuf error, got {other:?}"),
    }
}

#[test]
fn malformed_protobuf_is_an_error_with_message_and_offset() {
    let bytes = encode_metrics(&sample_metrics());
    // Every truncation fails cleanly (never panics) or, at a field
    // boundary of the outermost message, decodes fewer items.
    for cut in 0..bytes.len() {
        let _ = decode_metrics(&bytes[..cut]);
    }
    let (message, offset, reason) = protobuf_error(decode_metrics(&bytes[..bytes.len() - 1]));
    assert_eq!(message, "ExportMetricsServiceRequest");
    assert_eq!(offset, 1, "the length of the first field, after its key");
    assert!(reason.contains("past the end"), "{reason}");

    // A string field (Metric.name) that is not UTF-8; its length is byte 7.
    let metric = len_field(1, &[0xff, 0xfe]);
    let body = len_field(1, &len_field(2, &len_field(2, &metric)));
    let (message, offset, reason) = protobuf_error(decode_metrics(&body));
    assert_eq!((message, offset), ("Metric", 7));
    assert!(reason.contains("UTF-8"));

    // A known field with the wrong wire type: resource_metrics as a varint.
    let (message, _, reason) = protobuf_error(decode_metrics(&[1 << 3, 5]));
    assert_eq!(message, "ExportMetricsServiceRequest");
    assert!(reason.contains("expected length-delimited"));

    // Span.start_time_unix_nano (fixed64) sent as a varint.
    let span = [7 << 3, 1];
    let body = len_field(1, &len_field(2, &len_field(2, &span)));
    let (message, _, reason) = protobuf_error(decode_traces(&body));
    assert_eq!(message, "Span");
    assert!(reason.contains("expected 64-bit"));
}

#[test]
fn deeply_nested_attribute_values_are_refused() {
    let mut value = AnyValue::Int(1);
    for _ in 0..40 {
        value = AnyValue::Array(vec![value]);
    }
    let mut request = sample_traces();
    request.resource_spans[0].scope_spans[0].spans[0].attributes = vec![kv("deep", value)];
    let (_, _, reason) = protobuf_error(decode_traces(&encode_traces(&request)));
    assert!(reason.contains("nested too deeply"));
}

#[test]
fn span_ids_are_validated_with_their_position() {
    let mut request = sample_traces();
    request.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1, 2, 3];
    let error = validate_traces(&request).unwrap_err().to_string();
    assert!(
        error.contains("resourceSpans[0].scopeSpans[0].spans[0]")
            && error.contains("spanId is 3 bytes"),
        "{error}"
    );
    let mut request = sample_traces();
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![0; 16];
    assert!(validate_traces(&request)
        .unwrap_err()
        .to_string()
        .contains("all zeros"));
}

const METRICS_JSON: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "svc"}},
      {"key": "raw", "value": {"bytesValue": "AP8D"}}
    ]},
    "scope_metrics": [{
      "scope": {"name": "meter", "version": "1.0"},
      "metrics": [
        {"name": "g", "unit": "1", "gauge": {"dataPoints": [
          {"timeUnixNano": "1700000000123456789", "asDouble": "NaN",
           "attributes": [{"key": "i", "value": {"intValue": "-7"}}]},
          {"time_unix_nano": 1700000000223456789, "as_int": 3, "flags": 1}
        ]}},
        {"name": "c", "sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
          "isMonotonic": true, "dataPoints": [{"timeUnixNano": "5", "asInt": "9007199254740993"}]}},
        {"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [
          {"timeUnixNano": "5", "count": "6", "sum": 1.5, "bucketCounts": ["1", 2, "3"],
           "explicitBounds": [0.1, 1], "min": "-Infinity"}]}},
        {"name": "e", "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [
          {"timeUnixNano": "5", "scale": -3, "positive": {"offset": -2, "bucketCounts": ["4"]}}]}},
        {"name": "q", "summary": {"dataPoints": [{"timeUnixNano": "5", "count": "10", "sum": 2,
          "quantileValues": [{"quantile": 0.5, "value": 3}]}]}}
      ]
    }]
  }]
}"#;

#[test]
fn metrics_json_accepts_both_key_styles_and_number_forms() {
    let request = decode_metrics_json(METRICS_JSON.as_bytes()).unwrap();
    let rm = &request.resource_metrics[0];
    assert_eq!(
        attribute(&rm.resource.attributes, "raw"),
        Some(&AnyValue::Bytes(vec![0, 255, 3]))
    );
    let metrics = &rm.scope_metrics[0].metrics;
    assert_eq!(rm.scope_metrics[0].scope.version, "1.0");
    let MetricData::Gauge(points) = &metrics[0].data else {
        panic!("{:?}", metrics[0]);
    };
    assert_eq!(points[0].time_unix_nano, 1_700_000_000_123_456_789);
    assert!(matches!(points[0].value, NumberValue::Double(v) if v.is_nan()));
    assert_eq!(points[0].attributes[0].value, AnyValue::Int(-7));
    assert_eq!(points[1].time_unix_nano, 1_700_000_000_223_456_789);
    assert_eq!(points[1].value, NumberValue::Int(3));
    assert_eq!(points[1].flags, 1);
    let MetricData::Sum(sum) = &metrics[1].data else {
        panic!("{:?}", metrics[1]);
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative
    );
    assert_eq!(
        sum.data_points[0].value,
        NumberValue::Int(9_007_199_254_740_993)
    );
    let MetricData::Histogram(h) = &metrics[2].data else {
        panic!("{:?}", metrics[2]);
    };
    assert_eq!(h.data_points[0].bucket_counts, [1, 2, 3]);
    assert_eq!(h.data_points[0].explicit_bounds, [0.1, 1.0]);
    assert_eq!(h.data_points[0].min, Some(f64::NEG_INFINITY));
    assert_eq!(h.data_points[0].sum, Some(1.5));
    let MetricData::ExponentialHistogram(e) = &metrics[3].data else {
        panic!("{:?}", metrics[3]);
    };
    assert_eq!(e.aggregation_temporality, AggregationTemporality::Delta);
    assert_eq!(e.data_points[0].scale, -3);
    assert_eq!(e.data_points[0].positive.offset, -2);
    let MetricData::Summary(s) = &metrics[4].data else {
        panic!("{:?}", metrics[4]);
    };
    assert_eq!(s[0].quantile_values[0].value, 3.0);
    assert_eq!(s[0].count, 10);
}

#[test]
fn traces_json_reads_hex_ids_and_enum_names() {
    let body = r#"{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"t"},
      "spans":[{"traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"0102030405060708",
      "parentSpanId":"","name":"chat","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"10",
      "endTimeUnixNano":"20","attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}}],
      "events":[{"timeUnixNano":"15","name":"e"}],"status":{"code":2,"message":"boom"}}]}]}]}"#;
    let request = decode_traces_json(body.as_bytes()).unwrap();
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, (1..=16).collect::<Vec<u8>>());
    assert_eq!(span.span_id, (1..=8).collect::<Vec<u8>>());
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.events[0].time_unix_nano, 15);
    assert!(validate_traces(&request).is_ok());
}

fn json_error(result: Result<impl std::fmt::Debug, IngestError>) -> (String, String) {
    match result {
        Err(IngestError::OtlpJson { path, reason }) => (path, reason),
        other => panic!("expected an OTLP/JSON error, got {other:?}"),
    }
}

#[test]
fn malformed_json_names_the_path() {
    let (path, reason) = json_error(decode_metrics_json(b"{\"resourceMetrics\": ["));
    assert_eq!(path, "$");
    assert!(reason.contains("invalid JSON"));
    let (path, _) = json_error(decode_metrics_json(b"[]"));
    assert_eq!(path, "$");
    let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x",
        "sum":{"dataPoints":[{"timeUnixNano":"1"},{"timeUnixNano":"12x"}]}}]}]}]}"#;
    let (path, reason) = json_error(decode_metrics_json(body.as_bytes()));
    assert_eq!(
        path,
        "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[1].timeUnixNano"
    );
    assert!(reason.contains("unsigned 64-bit"), "{reason}");
    let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x",
        "sum":{"aggregationTemporality":"SIDEWAYS"}}]}]}]}"#;
    let (path, reason) = json_error(decode_metrics_json(body.as_bytes()));
    assert!(path.ends_with("sum.aggregationTemporality"), "{path}");
    assert!(reason.contains("AGGREGATION_TEMPORALITY_DELTA"), "{reason}");
    let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#;
    let (path, reason) = json_error(decode_traces_json(body.as_bytes()));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].traceId");
    assert!(reason.contains("hex"));
    let body = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"a*"}}]}}]}"#;
    let (path, reason) = json_error(decode_traces_json(body.as_bytes()));
    assert_eq!(
        path,
        "resourceSpans[0].resource.attributes[0].value.bytesValue"
    );
    assert!(reason.contains("base64"));
}

#[test]
fn json_unknown_keys_and_nulls_are_ignored() {
    let body = r#"{"resourceMetrics":[{"future":1,"resource":null,"scopeMetrics":[{"metrics":[
        {"name":"x","gauge":{"dataPoints":[{"timeUnixNano":"1","asDouble":2,"novel":{}}]}}]}]}]}"#;
    let request = decode_metrics_json(body.as_bytes()).unwrap();
    assert_eq!(request.data_point_count(), 1);
}

#[test]
fn gzip_inflates_within_the_limits() {
    use std::io::Write;
    let payload = vec![b'a'; 10_000];
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&payload).unwrap();
    let gz = encoder.finish().unwrap();
    assert_eq!(gunzip(&gz, &Limits::default()).unwrap(), payload);
    let small = Limits {
        max_decompressed_bytes: 9_999,
        ..Limits::default()
    };
    assert!(matches!(
        gunzip(&gz, &small),
        Err(IngestError::DecompressedTooLarge { limit: 9_999, .. })
    ));
    let tiny_body = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        gunzip(&gz, &tiny_body),
        Err(IngestError::BodyTooLarge { .. })
    ));
    assert!(matches!(
        gunzip(b"not gzip at all", &Limits::default()),
        Err(IngestError::Gzip { .. })
    ));
}

#[test]
fn responses_encode_partial_success_and_status() {
    assert!(encode_export_response(0, "").is_empty());
    // partial_success (1) { rejected (1) = 3; error_message (2) = "no" }
    assert_eq!(
        encode_export_response(3, "no"),
        [0x0a, 6, 0x08, 3, 0x12, 2, b'n', b'o']
    );
    assert_eq!(
        encode_status(3, "bad"),
        [0x08, 3, 0x12, 3, b'b', b'a', b'd']
    );
    assert_eq!(export_response_json("rejectedDataPoints", 0, ""), "{}");
    let json: serde_json::Value =
        serde_json::from_str(&export_response_json("rejectedSpans", 2, "why")).unwrap();
    assert_eq!(json["partialSuccess"]["rejectedSpans"], "2");
    assert_eq!(json["partialSuccess"]["errorMessage"], "why");
}
