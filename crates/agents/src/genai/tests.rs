use std::collections::BTreeMap;

use agentmon_ingest::events::{validate, EventLimits};
use agentmon_ingest::otlp::{
    AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, SpanEvent, SpanStatus,
    StatusCode, TracesRequest,
};
use agentmon_model::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};

use super::*;
use crate::semconv::{Instrument, TokenType};
use crate::{AgentMetrics, AgentMetricsOptions};

mod fuzz;

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

#[test]
fn an_agent_run_maps_to_exact_events() {
    let batch = map_spans(&agent_run(), &EventLimits::default());
    assert_eq!(batch.skipped, vec![]);
    assert_eq!(batch.non_genai, 1);
    let at = |ms, kind| event("conv-42", "planner", "pod-7", ms, kind);
    let expected = vec![
        at(
            0,
            EventKind::SessionStart {
                attributes: BTreeMap::from([
                    ("trace_id".to_owned(), TRACE_HEX.to_owned()),
                    ("span_name".to_owned(), "invoke_agent planner".to_owned()),
                    ("gen_ai.agent.name".to_owned(), "planner".to_owned()),
                    ("gen_ai.conversation.id".to_owned(), "conv-42".to_owned()),
                    ("gen_ai.provider.name".to_owned(), "openai".to_owned()),
                ]),
            },
        ),
        at(1_300, chat_step("gpt-4o-2024-08-06", 1.2, 1200, 80)),
        at(
            1_650,
            EventKind::ToolCall {
                tool_name: "get_weather".into(),
                status: ToolStatus::Success,
                duration_seconds: 0.25,
                error: None,
            },
        ),
        at(4_900, chat_step("gpt-4o-2024-08-06", 3.2, 1500, 300)),
        at(
            5_000,
            EventKind::SessionEnd {
                status: SessionStatus::Completed,
                output: None,
            },
        ),
    ];
    assert_eq!(batch.events, expected);

    let instruments: Vec<&Instrument> = batch.observations.iter().map(|o| &o.instrument).collect();
    let chat_labels = |token_type| Instrument::TokenUsage {
        operation_name: "chat".into(),
        provider_name: Some("openai".into()),
        request_model: Some("gpt-4o".into()),
        response_model: Some("gpt-4o-2024-08-06".into()),
        token_type,
    };
    assert_eq!(instruments.len(), 8, "{instruments:?}");
    assert_eq!(*instruments[1], chat_labels(TokenType::Input));
    assert_eq!(*instruments[2], chat_labels(TokenType::Output));
    assert_eq!(
        *instruments[3],
        Instrument::ExecuteToolDuration {
            tool_name: "get_weather".into(),
            error_type: None
        }
    );
    assert_eq!(
        *instruments[7],
        Instrument::InvokeAgentDuration {
            agent_name: Some("planner".into()),
            provider_name: Some("openai".into()),
            error_type: None
        }
    );
    assert!(batch
        .observations
        .iter()
        .all(|o| o.agent == "planner" && o.instance == "pod-7"));
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

#[test]
fn histograms_have_the_semconv_buckets_and_labels() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    metrics.apply_genai(&map_spans(&agent_run(), &EventLimits::default()));
    let text = metrics.render();

    let op = "gen_ai_client_operation_duration_seconds";
    let chat = "agent=\"planner\",instance=\"pod-7\",gen_ai_operation_name=\"chat\",\
                gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\",\
                gen_ai_response_model=\"gpt-4o-2024-08-06\"";
    assert!(
        text.contains(&format!("# HELP {op} GenAI operation duration")),
        "{text}"
    );
    assert!(text.contains(&format!("# TYPE {op} histogram")));
    // 1.2 s and 3.2 s.
    for (le, count) in [
        ("0.64", 0),
        ("1.28", 1),
        ("2.56", 1),
        ("5.12", 2),
        ("81.92", 2),
        ("+Inf", 2),
    ] {
        assert_eq!(
            value(&text, &format!("{op}_bucket{{{chat},le=\"{le}\"}}")),
            count as f64,
            "le={le}"
        );
    }
    assert_eq!(value(&text, &format!("{op}_sum{{{chat}}}")), 4.4);
    assert_eq!(value(&text, &format!("{op}_count{{{chat}}}")), 2.0);
    // Every boundary of the spec is there, and no other.
    let les: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{op}_bucket{{")))
        .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        les,
        [
            "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12",
            "10.24", "20.48", "40.96", "81.92", "+Inf"
        ]
    );

    let tokens = "gen_ai_client_token_usage";
    let input = format!("{chat},gen_ai_token_type=\"input\"");
    let output = format!("{chat},gen_ai_token_type=\"output\"");
    // Input 1200 and 1500; output 80 and 300.
    for (le, count) in [("256", 0), ("1024", 0), ("4096", 2), ("16384", 2)] {
        assert_eq!(
            value(&text, &format!("{tokens}_bucket{{{input},le=\"{le}\"}}")),
            count as f64
        );
    }
    for (le, count) in [("64", 0), ("256", 1), ("1024", 2), ("67108864", 2)] {
        assert_eq!(
            value(&text, &format!("{tokens}_bucket{{{output},le=\"{le}\"}}")),
            count as f64
        );
    }
    assert_eq!(value(&text, &format!("{tokens}_sum{{{input}}}")), 2700.0);
    assert_eq!(value(&text, &format!("{tokens}_sum{{{output}}}")), 380.0);

    let tool = "gen_ai_execute_tool_duration_seconds";
    let tool_labels = "agent=\"planner\",instance=\"pod-7\",gen_ai_tool_name=\"get_weather\"";
    assert_eq!(
        value(
            &text,
            &format!("{tool}_bucket{{{tool_labels},le=\"0.16\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{tool}_bucket{{{tool_labels},le=\"0.32\"}}")
        ),
        1.0
    );
    assert_eq!(value(&text, &format!("{tool}_sum{{{tool_labels}}}")), 0.25);

    let agent = "gen_ai_invoke_agent_duration_seconds";
    let agent_labels = "agent=\"planner\",instance=\"pod-7\",gen_ai_agent_name=\"planner\",gen_ai_provider_name=\"openai\"";
    assert_eq!(
        value(
            &text,
            &format!("{agent}_bucket{{{agent_labels},le=\"2.56\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{agent}_bucket{{{agent_labels},le=\"5.12\"}}")
        ),
        1.0
    );

    // The events fed the Hermes families too, and closed the session.
    assert_eq!(
        value(&text, "hermes_tool_call_total{agent=\"planner\",instance=\"pod-7\",tool_name=\"get_weather\",status=\"success\"}"),
        1.0
    );
    assert_eq!(metrics.open_sessions(), 0);
    // The semconv families come after the namespaced ones.
    assert!(
        text.find("# TYPE hermes_llm_errors_total").unwrap_or(0)
            < text.find(&format!("# TYPE {op}")).unwrap()
    );

    // The TSDB samples hold the same series, names without the namespace.
    let samples = metrics.samples();
    let bucket = samples
        .iter()
        .find(|(labels, _)| {
            labels.get("__name__") == Some(format!("{tool}_bucket").as_str())
                && labels.get("le") == Some("0.32")
        })
        .expect("tool bucket sample");
    assert_eq!(bucket.1, 1.0);
    assert_eq!(bucket.0.get("error_type"), None);
    assert_eq!(bucket.0.get("gen_ai_tool_name"), Some("get_weather"));
}

#[test]
fn older_attribute_names_and_fallbacks() {
    let legacy = |id, kind: Option<&str>| {
        let mut attributes = vec![
            s("gen_ai.system", "anthropic"),
            s("gen_ai.request.model", "claude-3-5-sonnet"),
            i("gen_ai.usage.prompt_tokens", 10),
            s("gen_ai.usage.completion_tokens", "5"),
        ];
        if let Some(kind) = kind {
            attributes.push(s("llm.request.type", kind));
        }
        span(id, None, "anthropic.chat", 0, 500_000, attributes)
    };
    let host_only = request(
        vec![s("host.name", "box-1")],
        vec![
            legacy(1, None),
            legacy(2, Some("embedding")),
            legacy(3, Some("completion")),
        ],
    );
    let batch = map_spans(&host_only, &EventLimits::default());
    assert_eq!(batch.skipped, vec![]);
    let step_types: Vec<&str> = batch
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Step {
                step_type,
                provider,
                model,
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                assert_eq!(
                    (provider.as_str(), model.as_str()),
                    ("anthropic", "claude-3-5-sonnet")
                );
                assert_eq!((*prompt_tokens, *completion_tokens), (10, 5));
                step_type.as_str()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(step_types, ["chat", "embeddings", "text_completion"]);
    for e in &batch.events {
        assert_eq!(
            (e.session_id.as_str(), e.agent.as_str(), e.instance.as_str()),
            (TRACE_HEX, UNKNOWN_AGENT, "box-1")
        );
    }

    // No resource at all, a provider under neither name, a response
    // model only.
    let bare = request(
        vec![],
        vec![span(
            1,
            None,
            "generate",
            0,
            1_000,
            vec![
                s("gen_ai.operation.name", "generate_content"),
                s("gen_ai.response.model", "gemini-2.0-flash"),
            ],
        )],
    );
    let batch = map_spans(&bare, &EventLimits::default());
    assert_eq!(batch.events.len(), 1);
    let only = &batch.events[0];
    assert_eq!(only.instance, UNKNOWN_INSTANCE);
    assert!(
        matches!(&only.kind, EventKind::Step { provider, model, prompt_tokens: 0, .. }
        if provider == UNKNOWN_PROVIDER && model == "gemini-2.0-flash")
    );
    // No token attribute, no token observation; no provider, no label.
    assert_eq!(
        batch
            .observations
            .iter()
            .map(|o| &o.instrument)
            .collect::<Vec<_>>(),
        vec![&Instrument::OperationDuration {
            operation_name: "generate_content".into(),
            provider_name: None,
            request_model: None,
            response_model: Some("gemini-2.0-flash".into()),
            error_type: None,
        }]
    );

    // gen_ai.provider.name wins over gen_ai.system; service.instance.id
    // over host.name.
    let both = request(
        vec![s("service.instance.id", "i-1"), s("host.name", "box-1")],
        vec![span(
            1,
            None,
            "chat",
            0,
            1_000,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.system", "az.ai.openai"),
                s("gen_ai.provider.name", "azure.ai.openai"),
                s("gen_ai.request.model", "gpt-4o"),
            ],
        )],
    );
    let batch = map_spans(&both, &EventLimits::default());
    assert!(
        matches!(&batch.events[0].kind, EventKind::Step { provider, .. } if provider == "azure.ai.openai")
    );
    assert_eq!(batch.events[0].instance, "i-1");
}

#[test]
fn failures_map_to_errors() {
    let chat = failed(
        span(
            2,
            Some(1),
            "chat",
            10_000,
            20_000,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.provider.name", "openai"),
                s("gen_ai.request.model", "gpt-4o"),
                s("error.type", "429"),
            ],
        ),
        "Rate limit reached for gpt-4o",
    );
    let timeout_tool = span(
        3,
        Some(1),
        "tool",
        20_000,
        30_000,
        vec![
            s("gen_ai.operation.name", "execute_tool"),
            s("gen_ai.tool.name", "fetch"),
            s("error.type", "TimeoutError"),
        ],
    );
    let mut broken_tool = failed(
        span(
            4,
            Some(1),
            "tool",
            30_000,
            40_000,
            vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.tool.name", "db"),
            ],
        ),
        "",
    );
    broken_tool.events.push(SpanEvent {
        name: "exception".into(),
        attributes: vec![s("exception.message", "connection refused")],
        ..SpanEvent::default()
    });
    let root = failed(
        span(
            1,
            None,
            "invoke_agent",
            0,
            50_000,
            vec![s("gen_ai.operation.name", "invoke_agent")],
        ),
        "",
    );
    let batch = map_spans(
        &request(service(), vec![chat, timeout_tool, broken_tool, root]),
        &EventLimits::default(),
    );
    assert_eq!(batch.skipped, vec![]);
    let kinds: Vec<&EventKind> = batch.events.iter().map(|e| &e.kind).collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    assert_eq!(
        kinds[2],
        &EventKind::LlmError {
            model: "gpt-4o".into(),
            error: "429: Rate limit reached for gpt-4o".into(),
            error_type: LlmErrorType::RateLimit,
        }
    );
    assert_eq!(
        kinds[3],
        &EventKind::ToolCall {
            tool_name: "fetch".into(),
            status: ToolStatus::Timeout,
            duration_seconds: 0.01,
            error: Some("TimeoutError".into()),
        }
    );
    assert_eq!(
        kinds[4],
        &EventKind::ToolCall {
            tool_name: "db".into(),
            status: ToolStatus::Error,
            duration_seconds: 0.01,
            error: Some("connection refused".into()),
        }
    );
    assert_eq!(
        kinds[5],
        &EventKind::SessionEnd {
            status: SessionStatus::Failed,
            output: None
        }
    );
    // The session is the trace; the agent the service.
    assert!(batch
        .events
        .iter()
        .all(|e| e.session_id == TRACE_HEX && e.agent == "travel-svc"));

    let error_types: Vec<Option<&str>> = batch
        .observations
        .iter()
        .map(|o| match &o.instrument {
            Instrument::OperationDuration { error_type, .. }
            | Instrument::ExecuteToolDuration { error_type, .. }
            | Instrument::InvokeAgentDuration { error_type, .. } => error_type.as_deref(),
            Instrument::TokenUsage { .. } => Some("tokens"),
        })
        .collect();
    assert_eq!(
        error_types,
        [
            Some("429"),
            Some("TimeoutError"),
            Some("_OTHER"),
            Some("_OTHER")
        ]
    );

    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    metrics.apply_genai(&batch);
    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            "gen_ai_execute_tool_duration_seconds_count{agent=\"travel-svc\",instance=\"pod-7\",\
             gen_ai_tool_name=\"db\",error_type=\"_OTHER\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&text, "hermes_llm_errors_total{agent=\"travel-svc\",instance=\"pod-7\",model=\"gpt-4o\",error_type=\"rate_limit\"}"),
        1.0
    );
}

#[test]
fn nested_agents_and_ties() {
    // root (0–1000 ms) → sub-agent "researcher" (100–1000 ms) → chat
    // ending at 1000 ms, with a create_agent at 0.
    let spans = vec![
        span(
            3,
            Some(2),
            "chat",
            200_000,
            1_000_000,
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.request.model", "m"),
            ],
        ),
        span(
            2,
            Some(1),
            "invoke_agent researcher",
            100_000,
            1_000_000,
            vec![
                s("gen_ai.operation.name", "invoke_agent"),
                s("gen_ai.agent.name", "researcher"),
            ],
        ),
        span(
            4,
            Some(1),
            "create_agent",
            0,
            0,
            vec![
                s("gen_ai.operation.name", "create_agent"),
                s("gen_ai.agent.name", "researcher"),
            ],
        ),
        span(
            1,
            None,
            "invoke_agent",
            0,
            1_000_000,
            vec![
                s("gen_ai.operation.name", "invoke_agent"),
                s("gen_ai.agent.name", "boss"),
            ],
        ),
    ];
    let batch = map_spans(&request(service(), spans), &EventLimits::default());
    assert_eq!(batch.skipped, vec![]);
    let order: Vec<(i64, &str, &str)> = batch
        .events
        .iter()
        .map(|e| {
            (
                e.timestamp_ms - BASE_MS,
                e.kind.type_name(),
                e.agent.as_str(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (0, "session_start", "boss"),
            (0, "log", "researcher"),
            (1_000, "step", "researcher"),
            (1_000, "session_end", "boss"),
        ]
    );
    assert!(
        matches!(&batch.events[1].kind, EventKind::Log { level: LogLevel::Info, message } if message == "created agent researcher")
    );
    // Both agents' durations are observed.
    let agents: Vec<Option<&str>> = batch
        .observations
        .iter()
        .filter_map(|o| match &o.instrument {
            Instrument::InvokeAgentDuration { agent_name, .. } => Some(agent_name.as_deref()),
            _ => None,
        })
        .collect();
    assert_eq!(agents, [Some("researcher"), Some("boss")]);
}

#[test]
fn invalid_spans_are_skipped_with_reasons() {
    let op = |name: &str| s("gen_ai.operation.name", name);
    let long = "x".repeat(300);
    let spans = vec![
        span(
            1,
            None,
            "backwards",
            5_000,
            1_000,
            vec![op("chat"), s("gen_ai.request.model", "m")],
        ),
        span(2, None, "no model", 0, 1_000, vec![op("chat")]),
        span(3, None, "no tool", 0, 1_000, vec![op("execute_tool")]),
        span(
            4,
            None,
            "int op",
            0,
            1_000,
            vec![i("gen_ai.operation.name", 3)],
        ),
        span(
            5,
            None,
            "negative",
            0,
            1_000,
            vec![
                op("chat"),
                s("gen_ai.request.model", "m"),
                i("gen_ai.usage.input_tokens", -4),
            ],
        ),
        span(
            6,
            None,
            "long tool",
            0,
            1_000,
            vec![op("execute_tool"), s("gen_ai.tool.name", &long)],
        ),
        span(
            7,
            None,
            "long agent",
            0,
            1_000,
            vec![
                op("chat"),
                s("gen_ai.request.model", "m"),
                s("gen_ai.agent.name", &long),
            ],
        ),
        span(
            8,
            None,
            "fractional",
            0,
            1_000,
            vec![
                op("chat"),
                s("gen_ai.request.model", "m"),
                KeyValue {
                    key: "gen_ai.usage.output_tokens".into(),
                    value: AnyValue::Double(2.5),
                },
            ],
        ),
        span(
            9,
            None,
            "long error",
            0,
            1_000,
            vec![
                op("chat"),
                s("gen_ai.request.model", "m"),
                s("error.type", &long),
            ],
        ),
        span(10, None, "custom", 0, 1_000, vec![op("retrieval")]),
        span(11, None, "plain", 0, 1_000, vec![]),
        Span {
            start_time_unix_nano: 0,
            ..span(
                12,
                None,
                "no start",
                0,
                1_000,
                vec![op("chat"), s("gen_ai.request.model", "m")],
            )
        },
        span(
            13,
            None,
            "ok",
            0,
            1_000,
            vec![op("chat"), s("gen_ai.request.model", "m")],
        ),
    ];
    let batch = map_spans(&request(service(), spans), &EventLimits::default());
    assert_eq!(batch.non_genai, 2);
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.observations.len(), 1);
    let reasons: Vec<(&str, &str)> = batch
        .skipped
        .iter()
        .map(|k| (k.name.as_str(), k.reason.as_str()))
        .collect();
    let expect = [
        ("backwards", "span ends ("),
        (
            "no model",
            "a chat span needs \"gen_ai.response.model\" or \"gen_ai.request.model\"",
        ),
        ("no tool", "an execute_tool span needs \"gen_ai.tool.name\""),
        (
            "int op",
            "attribute \"gen_ai.operation.name\" must be a string, got an integer (3)",
        ),
        (
            "negative",
            "attribute \"gen_ai.usage.input_tokens\" must not be negative, got -4",
        ),
        (
            "long tool",
            "field \"tool_name\" is 300 bytes, over the limit of 256 bytes",
        ),
        (
            "long agent",
            "field \"agent\" is 300 bytes, over the limit of 256 bytes",
        ),
        (
            "fractional",
            "attribute \"gen_ai.usage.output_tokens\" must be a whole number, got a double (2.5)",
        ),
        (
            "long error",
            "the value of label \"error_type\" is 300 bytes, over the limit of 256 bytes",
        ),
        ("no start", "span has no start time"),
    ];
    assert_eq!(reasons.len(), expect.len(), "{reasons:#?}");
    for ((name, reason), (want_name, want_reason)) in reasons.iter().zip(expect) {
        assert_eq!(*name, want_name);
        assert!(reason.starts_with(want_reason), "{name}: {reason}");
    }
    assert_eq!(batch.skipped[3].trace_id, TRACE_HEX);
    assert_eq!(batch.skipped[3].span_id, "0404040404040404");

    let summary = batch.skipped_summary(2).unwrap();
    assert!(
        summary.starts_with("10 GenAI spans not mapped to agent events: span \"backwards\""),
        "{summary}"
    );
    assert!(summary.ends_with("| and 8 more"), "{summary}");
    assert_eq!(GenAiBatch::default().skipped_summary(5), None);
}

#[test]
fn every_produced_event_passes_the_api_checks() {
    let batch = map_spans(&agent_run(), &EventLimits::default());
    for event in &batch.events {
        assert_eq!(validate(event, &EventLimits::default()), Ok(()));
    }
    // Tighter limits refuse what the defaults accept, with the API's words.
    let tight = EventLimits {
        max_name_bytes: 6,
        ..EventLimits::default()
    };
    let batch = map_spans(&agent_run(), &tight);
    assert!(batch.events.is_empty());
    assert_eq!(batch.skipped.len(), 4);
    assert!(
        batch.skipped[0]
            .reason
            .contains("field \"session_id\" is 7 bytes"),
        "{:?}",
        batch.skipped[0]
    );
}

#[test]
fn a_full_family_folds_new_label_sets_into_one_overflow_series() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    let observations: Vec<Observation> = (0..crate::semconv::MAX_SERIES_PER_FAMILY + 5)
        .map(|n| Observation {
            agent: "a".into(),
            instance: "i".into(),
            instrument: Instrument::ExecuteToolDuration {
                tool_name: format!("tool-{n}"),
                error_type: None,
            },
            value: 0.5,
        })
        .collect();
    metrics.observe(&observations);
    // Old label sets still count where they are; NaN and negatives are
    // ignored.
    let mut again = observations[0].clone();
    metrics.observe(&[again.clone()]);
    again.value = f64::NAN;
    metrics.observe(&[again.clone()]);
    again.value = -1.0;
    metrics.observe(&[again]);
    let text = metrics.render();
    let counts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("gen_ai_execute_tool_duration_seconds_count{"))
        .collect();
    assert_eq!(counts.len(), crate::semconv::MAX_SERIES_PER_FAMILY + 1);
    assert_eq!(
        value(
            &text,
            "gen_ai_execute_tool_duration_seconds_count{agent=\"_OTHER\",instance=\"_OTHER\",\
             gen_ai_tool_name=\"_OTHER\",error_type=\"_OTHER\"}"
        ),
        5.0
    );
    assert_eq!(
        value(&text, "gen_ai_execute_tool_duration_seconds_count{agent=\"a\",instance=\"i\",gen_ai_tool_name=\"tool-0\"}"),
        2.0
    );
}
