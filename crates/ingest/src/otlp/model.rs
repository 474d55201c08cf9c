//! Plain types for OTLP's common, resource and trace messages.

/// `opentelemetry.proto.common.v1.AnyValue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AnyValue {
    /// No value set (the field was absent).
    #[default]
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Array(Vec<AnyValue>),
    KvList(Vec<KeyValue>),
    Bytes(Vec<u8>),
}

impl AnyValue {
    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: an `Int`, a `Double` with no fraction, or a
    /// string of decimal digits (some SDKs send token counts as strings).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AnyValue::Int(i) => Some(*i),
            AnyValue::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
            AnyValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float: a `Double`, an `Int`, or a numeric string.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AnyValue::Double(d) => Some(*d),
            AnyValue::Int(i) => Some(*i as f64),
            AnyValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// `opentelemetry.proto.common.v1.KeyValue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyValue {
    pub key: String,
    pub value: AnyValue,
}

/// Looks up `key` among `attributes`; the last occurrence wins, as in a
/// map built from the list.
pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key == key)
        .map(|kv| &kv.value)
}

/// `opentelemetry.proto.resource.v1.Resource`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.common.v1.InstrumentationScope`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstrumentationScope {
    pub name: String,
    pub version: String,
    pub attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TracesRequest {
    pub resource_spans: Vec<ResourceSpans>,
}

/// `opentelemetry.proto.trace.v1.ResourceSpans`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceSpans {
    pub resource: Resource,
    pub scope_spans: Vec<ScopeSpans>,
}

/// `opentelemetry.proto.trace.v1.ScopeSpans`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeSpans {
    pub scope: InstrumentationScope,
    pub spans: Vec<Span>,
}

/// `opentelemetry.proto.trace.v1.Span.SpanKind` (numbers as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    #[default]
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// `opentelemetry.proto.trace.v1.Status.StatusCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusCode {
    #[default]
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// `opentelemetry.proto.trace.v1.Status`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanStatus {
    pub code: StatusCode,
    pub message: String,
}

/// `opentelemetry.proto.trace.v1.Span.Event`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanEvent {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.trace.v1.Span`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Span {
    /// 16 bytes when valid.
    pub trace_id: Vec<u8>,
    /// 8 bytes when valid.
    pub span_id: Vec<u8>,
    /// Empty for a root span.
    pub parent_span_id: Vec<u8>,
    pub name: String,
    pub kind: SpanKind,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<KeyValue>,
    pub events: Vec<SpanEvent>,
    pub status: SpanStatus,
}
