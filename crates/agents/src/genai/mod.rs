//! OpenTelemetry spans that follow the GenAI semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/>,
//! `…/gen-ai-agent-spans/`) turned into agent events and semconv metric
//! observations. The full rules are in `docs/genai.md`.
//!
//! [`map_spans`] is pure: it reads one decoded `POST /v1/traces` request
//! and returns a [`GenAiBatch`]; the caller stores its events like those of
//! `POST /api/v1/events` and folds the batch into the registry with
//! [`crate::AgentMetrics::apply_genai`]. A GenAI span that cannot be mapped
//! is listed in [`GenAiBatch::skipped`] with its reason (an OTLP partial
//! success), never a panic; other spans are counted in
//! [`GenAiBatch::non_genai`] and ignored.
//!
//! In brief: model calls (`chat`, `text_completion`, `generate_content`,
//! `embeddings`) become `step` events, plus an `llm_error` when they
//! failed; `execute_tool` becomes a `tool_call`; a root `invoke_agent`
//! becomes `session_start` and `session_end`; `create_agent` a `log`.
//! Every event passes the events API's own checks
//! ([`agentmon_ingest::events::validate`]).

mod attributes;
mod span;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use agentmon_ingest::events::EventLimits;
use agentmon_ingest::otlp::{Span, TracesRequest};
use agentmon_model::{AgentEvent, EventKind};

use crate::semconv::Observation;
pub use attributes::Operation;
pub use span::{UNKNOWN_AGENT, UNKNOWN_INSTANCE, UNKNOWN_PROVIDER};

/// What one traces request maps to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenAiBatch {
    /// The events, in time order; at equal times `session_start` first,
    /// `session_end` last, otherwise in request order.
    pub events: Vec<AgentEvent>,
    /// Semconv histogram observations, in request order.
    pub observations: Vec<Observation>,
    /// GenAI spans refused, in request order.
    pub skipped: Vec<SkippedSpan>,
    /// Spans that are not GenAI spans agentmon maps.
    pub non_genai: usize,
}

/// A GenAI span that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSpan {
    /// Lower-case hex; empty when the span had none.
    pub trace_id: String,
    /// Lower-case hex; empty when the span had none.
    pub span_id: String,
    /// The span's name, cut to at most 128 bytes.
    pub name: String,
    /// Why: the first fault found in the span's attributes, or every rule
    /// of the events API its events break, joined with "; ".
    pub reason: String,
}

impl fmt::Display for SkippedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "span {:?} (trace {}, span {}): {}",
            self.name, self.trace_id, self.span_id, self.reason
        )
    }
}

impl GenAiBatch {
    /// The text of an OTLP partial success (`error_message`): how many
    /// spans were refused and the first `max_listed` of them with their
    /// reasons; `None` when none was.
    pub fn skipped_summary(&self, max_listed: usize) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let count = self.skipped.len();
        let listed: Vec<String> = self
            .skipped
            .iter()
            .take(max_listed)
            .map(ToString::to_string)
            .collect();
        let mut text = format!(
            "{count} GenAI span{} not mapped to agent events: {}",
            if count == 1 { "" } else { "s" },
            listed.join(" | ")
        );
        if count > listed.len() {
            text.push_str(&format!(" | and {} more", count - listed.len()));
        }
        Some(text)
    }
}

/// Maps every GenAI span of `request`; `limits` are those of the events
/// API, which every event produced satisfies.
pub fn map_spans(request: &TracesRequest, limits: &EventLimits) -> GenAiBatch {
    // Every span by (trace id, span id), for the ancestor walks.
    let mut by_id: HashMap<(&[u8], &[u8]), &Span> = HashMap::new();
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                if !span.span_id.is_empty() {
                    by_id.insert((&span.trace_id, &span.span_id), span);
                }
            }
        }
    }

    let mut batch = GenAiBatch::default();
    // (timestamp, rank, sequence) sorts the events.
    let mut events: Vec<(i64, u8, usize, AgentEvent)> = Vec::new();
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let operation = match attributes::operation_of(span) {
                    Ok(Some(operation)) => operation,
                    Ok(None) => {
                        batch.non_genai += 1;
                        continue;
                    }
                    Err(reason) => {
                        batch.skipped.push(skipped(span, reason));
                        continue;
                    }
                };
                let ancestors = ancestors(span, &by_id);
                let inside_agent = ancestors.iter().any(|a| {
                    matches!(
                        attributes::operation_of(a),
                        Ok(Some(Operation::InvokeAgent))
                    )
                });
                let in_context = span::SpanInContext {
                    span,
                    resource: &resource_spans.resource,
                    ancestors,
                    operation,
                    inside_agent,
                };
                match in_context.map(limits) {
                    Ok(mapped) => {
                        for event in mapped.events {
                            let sequence = events.len();
                            events.push((event.timestamp_ms, rank(&event.kind), sequence, event));
                        }
                        batch.observations.extend(mapped.observations);
                    }
                    Err(reason) => batch.skipped.push(skipped(span, reason)),
                }
            }
        }
    }
    events.sort_by_key(|(timestamp, rank, sequence, _)| (*timestamp, *rank, *sequence));
    batch.events = events.into_iter().map(|(.., event)| event).collect();
    batch
}

/// Most ancestors searched for inherited attributes: deeper traces are
/// rare, and the bound keeps a request whose parent links loop cheap.
pub const MAX_ANCESTORS: usize = 256;

/// The span's ancestors present in the request, nearest first. The walk
/// stops at a missing parent or after [`MAX_ANCESTORS`] steps.
fn ancestors<'a>(span: &'a Span, by_id: &HashMap<(&[u8], &[u8]), &'a Span>) -> Vec<&'a Span> {
    let mut out = Vec::new();
    let mut parent_id: &[u8] = &span.parent_span_id;
    while !parent_id.is_empty() && out.len() < MAX_ANCESTORS {
        let Some(parent) = by_id.get(&(span.trace_id.as_slice(), parent_id)) else {
            break;
        };
        out.push(*parent);
        parent_id = &parent.parent_span_id;
    }
    out
}

/// Order of events at the same millisecond: a session starts before
/// anything in it and ends after.
fn rank(kind: &EventKind) -> u8 {
    match kind {
        EventKind::SessionStart { .. } => 0,
        EventKind::SessionEnd { .. } => 2,
        _ => 1,
    }
}

fn skipped(span: &Span, reason: String) -> SkippedSpan {
    let mut end = span.name.len().min(128);
    while !span.name.is_char_boundary(end) {
        end -= 1;
    }
    SkippedSpan {
        trace_id: attributes::hex(&span.trace_id),
        span_id: attributes::hex(&span.span_id),
        name: span.name[..end].to_owned(),
        reason,
    }
}
