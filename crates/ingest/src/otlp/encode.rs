//! Protobuf encoders: the OTLP/HTTP responses agentmon sends
//! (`Export*ServiceResponse`, `google.rpc.Status`), and the requests, for
//! tests, benchmarks and clients (the inverse of the decoders, field for
//! field).

use super::metrics_model::{
    ExponentialBuckets, Metric, MetricData, MetricsRequest, NumberDataPoint, NumberValue,
};
use super::model::{AnyValue, InstrumentationScope, KeyValue, Resource, Span, TracesRequest};

/// A protobuf writer into a growing buffer.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v);
        }
    }

    fn sint(&mut self, field: u32, v: i32) {
        self.uint(field, ((v << 1) ^ (v >> 31)) as u32 as u64);
    }

    fn fixed64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 1);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A double that is always written (oneof and `optional` members).
    fn double_always(&mut self, field: u32, v: f64) {
        self.key(field, 1);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    fn double(&mut self, field: u32, v: f64) {
        if v.to_bits() != 0 {
            self.double_always(field, v);
        }
    }

    fn bytes(&mut self, field: u32, v: &[u8]) {
        if !v.is_empty() {
            self.key(field, 2);
            self.varint(v.len() as u64);
            self.buf.extend_from_slice(v);
        }
    }

    /// A nested message, written even when empty.
    fn message(&mut self, field: u32, build: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        build(&mut inner);
        self.key(field, 2);
        self.varint(inner.buf.len() as u64);
        self.buf.extend_from_slice(&inner.buf);
    }

    fn packed_fixed64(&mut self, field: u32, values: impl ExactSizeIterator<Item = u64>) {
        if values.len() == 0 {
            return;
        }
        self.key(field, 2);
        self.varint(values.len() as u64 * 8);
        for v in values {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn packed_varint(&mut self, field: u32, values: &[u64]) {
        if values.is_empty() {
            return;
        }
        let mut inner = Writer::default();
        for v in values {
            inner.varint(*v);
        }
        self.bytes(field, &inner.buf);
    }

    fn attributes(&mut self, field: u32, attributes: &[KeyValue]) {
        for kv in attributes {
            self.message(field, |w| key_value(w, kv));
        }
    }
}

fn key_value(w: &mut Writer, kv: &KeyValue) {
    w.bytes(1, kv.key.as_bytes());
    w.message(2, |w| any_value(w, &kv.value));
}

fn any_value(w: &mut Writer, value: &AnyValue) {
    match value {
        AnyValue::Empty => {}
        AnyValue::String(s) => {
            w.key(1, 2);
            w.varint(s.len() as u64);
            w.buf.extend_from_slice(s.as_bytes());
        }
        AnyValue::Bool(b) => {
            w.key(2, 0);
            w.varint(u64::from(*b));
        }
        AnyValue::Int(i) => {
            w.key(3, 0);
            w.varint(*i as u64);
        }
        AnyValue::Double(d) => w.double_always(4, *d),
        AnyValue::Array(items) => w.message(5, |w| {
            for item in items {
                w.message(1, |w| any_value(w, item));
            }
        }),
        AnyValue::KvList(kvs) => w.message(6, |w| w.attributes(1, kvs)),
        AnyValue::Bytes(b) => {
            w.key(7, 2);
            w.varint(b.len() as u64);
            w.buf.extend_from_slice(b);
        }
    }
}

fn resource(w: &mut Writer, r: &Resource) {
    w.message(1, |w| w.attributes(1, &r.attributes));
}

fn scope(w: &mut Writer, s: &InstrumentationScope) {
    w.message(1, |w| {
        w.bytes(1, s.name.as_bytes());
        w.bytes(2, s.version.as_bytes());
        w.attributes(3, &s.attributes);
    });
}

/// Encodes an `ExportMetricsServiceRequest`.
pub fn encode_metrics(request: &MetricsRequest) -> Vec<u8> {
    let mut w = Writer::default();
    for rm in &request.resource_metrics {
        w.message(1, |w| {
            resource(w, &rm.resource);
            for sm in &rm.scope_metrics {
                w.message(2, |w| {
                    scope(w, &sm.scope);
                    for m in &sm.metrics {
                        w.message(2, |w| metric(w, m));
                    }
                });
            }
        });
    }
    w.buf
}

fn metric(w: &mut Writer, m: &Metric) {
    w.bytes(1, m.name.as_bytes());
    w.bytes(2, m.description.as_bytes());
    w.bytes(3, m.unit.as_bytes());
    match &m.data {
        MetricData::Empty => {}
        MetricData::Gauge(points) => w.message(5, |w| number_points(w, points)),
        MetricData::Sum(sum) => w.message(7, |w| {
            number_points(w, &sum.data_points);
            w.uint(2, sum.aggregation_temporality as u64);
            w.uint(3, u64::from(sum.is_monotonic));
        }),
        MetricData::Histogram(h) => w.message(9, |w| {
            for p in &h.data_points {
                w.message(1, |w| {
                    w.attributes(9, &p.attributes);
                    w.fixed64(2, p.start_time_unix_nano);
                    w.fixed64(3, p.time_unix_nano);
                    w.fixed64(4, p.count);
                    if let Some(sum) = p.sum {
                        w.double_always(5, sum);
                    }
                    w.packed_fixed64(6, p.bucket_counts.iter().copied());
                    w.packed_fixed64(7, p.explicit_bounds.iter().map(|b| b.to_bits()));
                    w.uint(10, u64::from(p.flags));
                    if let Some(min) = p.min {
                        w.double_always(11, min);
                    }
                    if let Some(max) = p.max {
                        w.double_always(12, max);
                    }
                });
            }
            w.uint(2, h.aggregation_temporality as u64);
        }),
        MetricData::ExponentialHistogram(h) => w.message(10, |w| {
            for p in &h.data_points {
                w.message(1, |w| {
                    w.attributes(1, &p.attributes);
                    w.fixed64(2, p.start_time_unix_nano);
                    w.fixed64(3, p.time_unix_nano);
                    w.fixed64(4, p.count);
                    if let Some(sum) = p.sum {
                        w.double_always(5, sum);
                    }
                    w.sint(6, p.scale);
                    w.fixed64(7, p.zero_count);
                    w.message(8, |w| buckets(w, &p.positive));
                    w.message(9, |w| buckets(w, &p.negative));
                    w.uint(10, u64::from(p.flags));
                    if let Some(min) = p.min {
                        w.double_always(12, min);
                    }
                    if let Some(max) = p.max {
                        w.double_always(13, max);
                    }
                    w.double(14, p.zero_threshold);
                });
            }
            w.uint(2, h.aggregation_temporality as u64);
        }),
        MetricData::Summary(points) => w.message(11, |w| {
            for p in points {
                w.message(1, |w| {
                    w.attributes(7, &p.attributes);
                    w.fixed64(2, p.start_time_unix_nano);
                    w.fixed64(3, p.time_unix_nano);
                    w.fixed64(4, p.count);
                    w.double(5, p.sum);
                    for q in &p.quantile_values {
                        w.message(6, |w| {
                            w.double(1, q.quantile);
                            w.double(2, q.value);
                        });
                    }
                    w.uint(8, u64::from(p.flags));
                });
            }
        }),
    }
}

fn buckets(w: &mut Writer, b: &ExponentialBuckets) {
    w.sint(1, b.offset);
    w.packed_varint(2, &b.bucket_counts);
}

fn number_points(w: &mut Writer, points: &[NumberDataPoint]) {
    for p in points {
        w.message(1, |w| {
            w.attributes(7, &p.attributes);
            w.fixed64(2, p.start_time_unix_nano);
            w.fixed64(3, p.time_unix_nano);
            match p.value {
                NumberValue::Empty => {}
                NumberValue::Double(d) => w.double_always(4, d),
                NumberValue::Int(i) => {
                    w.key(6, 1);
                    w.buf.extend_from_slice(&i.to_le_bytes());
                }
            }
            w.uint(8, u64::from(p.flags));
        });
    }
}

/// Encodes an `ExportTraceServiceRequest`.
pub fn encode_traces(request: &TracesRequest) -> Vec<u8> {
    let mut w = Writer::default();
    for rs in &request.resource_spans {
        w.message(1, |w| {
            resource(w, &rs.resource);
            for ss in &rs.scope_spans {
                w.message(2, |w| {
                    scope(w, &ss.scope);
                    for s in &ss.spans {
                        w.message(2, |w| span(w, s));
                    }
                });
            }
        });
    }
    w.buf
}

fn span(w: &mut Writer, s: &Span) {
    w.bytes(1, &s.trace_id);
    w.bytes(2, &s.span_id);
    w.bytes(4, &s.parent_span_id);
    w.bytes(5, s.name.as_bytes());
    w.uint(6, s.kind as u64);
    w.fixed64(7, s.start_time_unix_nano);
    w.fixed64(8, s.end_time_unix_nano);
    w.attributes(9, &s.attributes);
    for e in &s.events {
        w.message(11, |w| {
            w.fixed64(1, e.time_unix_nano);
            w.bytes(2, e.name.as_bytes());
            w.attributes(3, &e.attributes);
        });
    }
    w.message(15, |w| {
        w.bytes(2, s.status.message.as_bytes());
        w.uint(3, s.status.code as u64);
    });
}

/// Encodes an `ExportMetricsServiceResponse` or `ExportTraceServiceResponse`
/// (they share a shape): empty when nothing was rejected and there is no
/// message, else `partial_success { rejected = 1; error_message = 2 }`.
pub fn encode_export_response(rejected: u64, error_message: &str) -> Vec<u8> {
    let mut w = Writer::default();
    if rejected > 0 || !error_message.is_empty() {
        w.message(1, |w| {
            w.uint(1, rejected);
            w.bytes(2, error_message.as_bytes());
        });
    }
    w.buf
}

/// Encodes a `google.rpc.Status { int32 code = 1; string message = 2; }`.
pub fn encode_status(code: i32, message: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.uint(1, code as u32 as u64);
    w.bytes(2, message.as_bytes());
    w.buf
}
