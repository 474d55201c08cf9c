//! Tests of the GenAI span mapping: helpers that build spans of one trace,
//! and the tests by theme.

use agentmon_ingest::otlp::{
    AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, SpanStatus, StatusCode,
    TracesRequest,
};
use agentmon_model::{AgentEvent, EventKind};

use super::*;

mod across;
mod events;
mod fuzz;
mod metrics;
mod skipped;

/// 2023-11-14T22:13:20Z in nanoseconds.
const BASE_NS: u64 = 1_700_000_000_000_000_000;
const BASE_MS: i64 = 1_700_000_000_000;
const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn s(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: AnyValue::String(value.into()),
    }
}

fn i(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: AnyValue::Int(value),
    }
}

/// A span of [`TRACE`] with id `[id; 8]`, times in microseconds after
/// [`BASE_NS`].
fn span(
    id: u8,
    parent: Option<u8>,
    name: &str,
    start_us: u64,
    end_us: u64,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: BASE_NS + start_us * 1_000,
        end_time_unix_nano: BASE_NS + end_us * 1_000,
        attributes,
        ..Span::default()
    }
}

fn failed(mut span: Span, message: &str) -> Span {
    span.status = SpanStatus {
        code: StatusCode::Error,
        message: message.into(),
    };
    span
}

fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> TracesRequest {
    TracesRequest {
        resource_spans: vec![ResourceSpans {
            resource: Resource {
                attributes: resource,
            },
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
        }],
    }
}

fn service() -> Vec<KeyValue> {
    vec![
        s("service.name", "travel-svc"),
        s("service.instance.id", "pod-7"),
    ]
}

fn event(session: &str, agent: &str, instance: &str, at_ms: i64, kind: EventKind) -> AgentEvent {
    AgentEvent {
        session_id: session.into(),
        agent: agent.into(),
        instance: instance.into(),
        timestamp_ms: BASE_MS + at_ms,
        kind,
    }
}

fn chat_step(model: &str, seconds: f64, input: u64, output: u64) -> EventKind {
    EventKind::Step {
        model: model.into(),
        provider: "openai".into(),
        step_type: "chat".into(),
        duration_seconds: seconds,
        prompt_tokens: input,
        completion_tokens: output,
        cost_usd: None,
    }
}

/// An agent run as an OpenAI-Agents-style SDK exports it: the children
/// first (they end first), the conversation id on the root only.
fn agent_run() -> TracesRequest {
    let chat = |id, start, end, input, output| {
        span(
            id,
            Some(1),
            "chat gpt-4o",
            start,
            end,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.provider.name", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                s("gen_ai.response.model", "gpt-4o-2024-08-06"),
                i("gen_ai.usage.input_tokens", input),
                i("gen_ai.usage.output_tokens", output),
            ],
        )
    };
    let tool = span(
        3,
        Some(1),
        "execute_tool get_weather",
        1_400_000,
        1_650_000,
        vec![
            s("gen_ai.operation.name", "execute_tool"),
            s("gen_ai.tool.name", "get_weather"),
            s("gen_ai.tool.call.id", "call_1"),
        ],
    );
    let root = span(
        1,
        None,
        "invoke_agent planner",
        0,
        5_000_000,
        vec![
            s("gen_ai.operation.name", "invoke_agent"),
            s("gen_ai.agent.name", "planner"),
            s("gen_ai.conversation.id", "conv-42"),
            s("gen_ai.provider.name", "openai"),
        ],
    );
    let http = span(
        9,
        Some(2),
        "POST /v1/chat/completions",
        120_000,
        1_250_000,
        vec![s("http.request.method", "POST")],
    );
    request(
        service(),
        vec![
            chat(2, 100_000, 1_300_000, 1200, 80),
            http,
            tool,
            chat(4, 1_700_000, 4_900_000, 1500, 300),
            root,
        ],
    )
}

/// The value of one exposition line, found by its full series text.
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}
