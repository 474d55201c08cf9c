//! OpenTelemetry OTLP/HTTP: the data model of traces as decoded from
//! `POST /v1/traces` (protobuf or JSON), shared by the decoders and by the
//! GenAI span mapping.
//!
//! The types follow `opentelemetry/proto/{common,resource,trace}/v1` field
//! for field, with only what agentmon reads: plain owned Rust values, no
//! protobuf machinery. Identifiers keep their raw bytes; an absent or
//! empty identifier is an empty vector.

mod model;

pub use model::{
    attribute, AnyValue, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span,
    SpanEvent, SpanKind, SpanStatus, StatusCode, TracesRequest,
};
