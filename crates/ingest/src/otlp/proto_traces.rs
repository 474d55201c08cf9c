//! Decoder of a protobuf `ExportTraceServiceRequest`.
//!
//! ```text
//! ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
//! ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
//! ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; }
//! Span          { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3;
//!                 bytes parent_span_id = 4; fixed32 flags = 16; string name = 5;
//!                 SpanKind kind = 6; fixed64 start_time_unix_nano = 7;
//!                 fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
//!                 repeated Event events = 11; repeated Link links = 13; Status status = 15; }
//! Span.Event    { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
//! Status        { string message = 2; StatusCode code = 3; }
//! ```
//!
//! Trace state, flags, links and the dropped counts are skipped.

use super::model::{
    ResourceSpans, ScopeSpans, Span, SpanEvent, SpanKind, SpanStatus, StatusCode, TracesRequest,
};
use super::proto_common::{push_attribute, resource, scope, Message, Result};

/// Decodes a protobuf `ExportTraceServiceRequest` (already decompressed).
/// Identifiers are not checked here; see [`super::validate_traces`].
pub fn decode_traces(buf: &[u8]) -> Result<TracesRequest> {
    let mut m = Message::top(buf, "ExportTraceServiceRequest");
    let mut request = TracesRequest::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => request
                .resource_spans
                .push(resource_spans(m.message(wt, "ResourceSpans")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(request)
}

fn resource_spans(mut m: Message<'_>) -> Result<ResourceSpans> {
    let mut out = ResourceSpans::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.resource = resource(m.message(wt, "Resource")?)?,
            2 => out
                .scope_spans
                .push(scope_spans(m.message(wt, "ScopeSpans")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn scope_spans(mut m: Message<'_>) -> Result<ScopeSpans> {
    let mut out = ScopeSpans::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.scope = scope(m.message(wt, "InstrumentationScope")?)?,
            2 => out.spans.push(span(m.message(wt, "Span")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

/// The span kind for its wire number; unknown numbers are `Unspecified`.
pub(crate) fn span_kind(number: i64) -> SpanKind {
    match number {
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

/// The status code for its wire number; unknown numbers are `Unset`.
pub(crate) fn status_code(number: i64) -> StatusCode {
    match number {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

fn span(mut m: Message<'_>) -> Result<Span> {
    let mut s = Span::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => s.trace_id = m.bytes(wt)?,
            2 => s.span_id = m.bytes(wt)?,
            4 => s.parent_span_id = m.bytes(wt)?,
            5 => s.name = m.string(wt)?,
            6 => s.kind = span_kind(m.varint(wt)? as i64),
            7 => s.start_time_unix_nano = m.fixed64(wt)?,
            8 => s.end_time_unix_nano = m.fixed64(wt)?,
            9 => push_attribute(&mut m, wt, &mut s.attributes)?,
            11 => s.events.push(event(m.message(wt, "Span.Event")?)?),
            15 => s.status = status(m.message(wt, "Status")?)?,
            16 => {
                m.fixed32(wt)?;
            }
            _ => m.skip(field, wt)?,
        }
    }
    Ok(s)
}

fn event(mut m: Message<'_>) -> Result<SpanEvent> {
    let mut e = SpanEvent::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => e.time_unix_nano = m.fixed64(wt)?,
            2 => e.name = m.string(wt)?,
            3 => push_attribute(&mut m, wt, &mut e.attributes)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(e)
}

fn status(mut m: Message<'_>) -> Result<SpanStatus> {
    let mut s = SpanStatus::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            2 => s.message = m.string(wt)?,
            3 => s.code = status_code(m.varint(wt)? as i64),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(s)
}
