//! Spans to events: an agent run, older attribute names, failures,
//! nesting and ties.

use std::collections::BTreeMap;

use agentmon_ingest::events::EventLimits;
use agentmon_ingest::otlp::SpanEvent;
use agentmon_model::{EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};

use super::*;
use crate::semconv::{Instrument, TokenType};
use crate::{AgentMetrics, AgentMetricsOptions};

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
