//! OpenTelemetry spans that follow the GenAI semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/>,
//! `…/gen-ai-agent-spans/`) turned into agent events and semconv metric
//! observations. The full rules are in `docs/genai.md`.
//!
//! [`TraceSessions::map`] reads one decoded `POST /v1/traces` request and
//! returns a [`GenAiBatch`]; its only state is which session each recent
//! trace went to, so that a run exported in several requests stays one
//! session ([`map_spans`] is the same without that memory). The caller
//! stores the events like those of `POST /api/v1/events` and folds the
//! batch into the registry with [`crate::AgentMetrics::apply_genai`]. A
//! GenAI span that cannot be mapped is listed in [`GenAiBatch::skipped`]
//! with its reason (an OTLP partial success), never a panic; other spans
//! are counted in [`GenAiBatch::non_genai`] and ignored.
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
mod traces;

use std::collections::HashMap;
use std::fmt;

use agentmon_ingest::events::EventLimits;
use agentmon_ingest::otlp::{Resource, Span, TracesRequest};
use agentmon_model::{AgentEvent, EventKind, FastHashMap};

use crate::semconv::Observation;
use attributes::hex;
pub use attributes::Operation;
use span::{Named, Who};
pub use span::{UNKNOWN_AGENT, UNKNOWN_INSTANCE, UNKNOWN_PROVIDER};
use traces::TraceSession;
pub use traces::{TraceSessions, DEFAULT_TRACE_CAPACITY};

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

/// Maps every GenAI span of `request`, with no memory of earlier
/// requests (each trace's session is decided by this request alone);
/// `limits` are those of the events API, which every event produced
/// satisfies. [`TraceSessions::map`] is the same with a memory.
pub fn map_spans(request: &TracesRequest, limits: &EventLimits) -> GenAiBatch {
    TraceSessions::new(2, std::time::Duration::ZERO).map(request, limits)
}

/// A span of the request, read as far as its session.
enum Read<'a> {
    NotGenAi,
    Refused(&'a Span, String),
    Ready {
        context: span::SpanInContext<'a>,
        named: Named<'a>,
        /// Its trace's place in the request's traces.
        trace: usize,
    },
}

/// One trace of a request: the session its spans there decide, the one
/// an earlier request decided, and whether a span of it was mapped.
struct TraceInRequest<'a> {
    trace: &'a [u8],
    decided: TraceSession,
    remembered: Option<TraceSession>,
    mapped: bool,
}

impl TraceSessions {
    /// Maps every GenAI span of `request` (as [`map_spans`]), each trace's
    /// spans joining the session that the first request with spans of the
    /// trace decided, and remembers the sessions this request decides
    /// (`docs/genai.md`, "Sessions across requests").
    pub fn map(&self, request: &TracesRequest, limits: &EventLimits) -> GenAiBatch {
        let by_id = index(request);
        let mut read = Vec::new();
        for resource_spans in &request.resource_spans {
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    read.push(read_span(span, &resource_spans.resource, &by_id));
                }
            }
        }

        // Each trace's session by this request's spans: the first
        // conversation one names, else the trace id.
        let mut traces: Vec<TraceInRequest<'_>> = Vec::new();
        let mut slots: FastHashMap<&[u8], usize> = FastHashMap::default();
        for item in &mut read {
            let Read::Ready {
                context,
                named,
                trace: slot,
            } = item
            else {
                continue;
            };
            let trace = context.span.trace_id.as_slice();
            let mine = || TraceSession {
                session_id: named.conversation.map_or_else(|| hex(trace), str::to_owned),
                agent: named.agent.unwrap_or(context.service()).to_owned(),
                from_conversation: named.conversation.is_some(),
            };
            *slot = *slots.entry(trace).or_insert_with(|| {
                traces.push(TraceInRequest {
                    trace,
                    decided: mine(),
                    remembered: None,
                    mapped: false,
                });
                traces.len() - 1
            });
            let first = &mut traces[*slot].decided;
            if !first.from_conversation && named.conversation.is_some() {
                *first = mine();
            }
        }
        let ids: Vec<&[u8]> = traces.iter().map(|t| t.trace).collect();
        for (in_request, found) in traces.iter_mut().zip(self.recall(&ids)) {
            in_request.remembered = found;
        }

        let mut batch = GenAiBatch::default();
        // (timestamp, rank, sequence) sorts the events.
        let mut events: Vec<(i64, u8, usize, AgentEvent)> = Vec::new();
        for item in read {
            let (context, named, slot) = match item {
                Read::NotGenAi => {
                    batch.non_genai += 1;
                    continue;
                }
                Read::Refused(span, reason) => {
                    batch.skipped.push(skipped(span, reason));
                    continue;
                }
                Read::Ready {
                    context,
                    named,
                    trace,
                } => (context, named, trace),
            };
            let trace = &mut traces[slot];
            let who = whose(
                named,
                context.service(),
                trace.remembered.as_ref(),
                &trace.decided,
            );
            match context.map(who, limits) {
                Ok(mapped) => {
                    for event in mapped.events {
                        let sequence = events.len();
                        events.push((event.timestamp_ms, rank(&event.kind), sequence, event));
                    }
                    batch.observations.extend(mapped.observations);
                    trace.mapped = true;
                }
                Err(reason) => batch.skipped.push(skipped(context.span, reason)),
            }
        }
        self.remember(
            traces
                .into_iter()
                .filter(|t| t.mapped && t.remembered.is_none())
                .map(|t| (t.trace.to_vec(), t.decided))
                .collect(),
        );
        events.sort_by_key(|(timestamp, rank, sequence, _)| (*timestamp, *rank, *sequence));
        batch.events = events.into_iter().map(|(.., event)| event).collect();
        batch
    }
}

/// Every span of the request by (trace id, span id), for the ancestor
/// walks.
fn index(request: &TracesRequest) -> HashMap<(&[u8], &[u8]), &Span> {
    let mut by_id = HashMap::new();
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                if !span.span_id.is_empty() {
                    by_id.insert((span.trace_id.as_slice(), span.span_id.as_slice()), span);
                }
            }
        }
    }
    by_id
}

/// Reads a span as far as what it names of its session.
fn read_span<'a>(
    span: &'a Span,
    resource: &'a Resource,
    by_id: &HashMap<(&[u8], &[u8]), &'a Span>,
) -> Read<'a> {
    let operation = match attributes::operation_of(span) {
        Ok(Some(operation)) => operation,
        Ok(None) => return Read::NotGenAi,
        Err(reason) => return Read::Refused(span, reason),
    };
    let ancestors = ancestors(span, by_id);
    let inside_agent = ancestors.iter().any(|a| {
        matches!(
            attributes::operation_of(a),
            Ok(Some(Operation::InvokeAgent))
        )
    });
    let context = span::SpanInContext {
        span,
        resource,
        ancestors,
        operation,
        inside_agent,
    };
    match context.check().and_then(|()| context.named()) {
        Ok(named) => Read::Ready {
            context,
            named,
            trace: 0,
        },
        Err(reason) => Read::Refused(span, reason),
    }
}

/// The session and agent of a span that names `named`, in a trace that an
/// earlier request sent to `remembered` (if any) and this request's spans
/// to `decided`:
/// - a trace that an earlier request sent to its trace id's session
///   stays there: the run already went there, and a conversation id that
///   arrives later (usually on the root `invoke_agent` span, exported
///   last) does not split it;
/// - otherwise a span that names a conversation goes to it;
/// - otherwise the span goes to the trace's session, remembered or else
///   decided.
///
/// The agent is the span's own (or inherited) `gen_ai.agent.name`, else
/// the agent of the trace's session when the span joins it, else the
/// resource's `service.name`.
fn whose(
    named: Named<'_>,
    service: &str,
    remembered: Option<&TraceSession>,
    decided: &TraceSession,
) -> Who {
    let trace_session = match (remembered, named.conversation) {
        (Some(earlier), _) if !earlier.from_conversation => earlier,
        (Some(earlier), None) => earlier,
        (None, None) => decided,
        (_, Some(conversation)) => {
            return Who {
                session_id: conversation.to_owned(),
                agent: named.agent.unwrap_or(service).to_owned(),
            }
        }
    };
    Who {
        session_id: trace_session.session_id.clone(),
        agent: named.agent.unwrap_or(&trace_session.agent).to_owned(),
    }
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
