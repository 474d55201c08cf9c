//! Random spans with random attributes: the mapping never panics, every
//! event it yields passes the events API's checks, and each span is either
//! mapped, skipped or counted as non-GenAI.

use agentmon_ingest::events::{validate, EventLimits};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::{AgentMetrics, AgentMetricsOptions};

const KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.tool.name",
    "gen_ai.agent.name",
    "gen_ai.conversation.id",
    "error.type",
    "llm.request.type",
    "service.name",
    "service.instance.id",
    "host.name",
    "other",
];

const WORDS: &[&str] = &[
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "execute_tool",
    "invoke_agent",
    "create_agent",
    "embedding",
    "completion",
    "",
    "12",
    "-3",
    "timeout",
];

fn any_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        Just(AnyValue::Empty),
        proptest::sample::select(WORDS).prop_map(|w| AnyValue::String(w.to_owned())),
        "\\PC{0,20}".prop_map(AnyValue::String),
        (250usize..300).prop_map(|n| AnyValue::String("é".repeat(n / 2))),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        any::<f64>().prop_map(AnyValue::Double),
        Just(AnyValue::Array(vec![AnyValue::Int(1)])),
        Just(AnyValue::Bytes(vec![0xff])),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (proptest::sample::select(KEYS), any_value()).prop_map(|(key, value)| KeyValue {
            key: key.to_owned(),
            value,
        }),
        0..8,
    )
}

fn any_span() -> impl Strategy<Value = Span> {
    (
        0u8..3,
        0u8..6,
        proptest::option::of(0u8..6),
        prop_oneof![Just(0u64), BASE_NS..BASE_NS + 10_000_000_000, any::<u64>()],
        prop_oneof![Just(0u64), BASE_NS..BASE_NS + 10_000_000_000, any::<u64>()],
        attributes(),
        any::<bool>(),
        "\\PC{0,8}",
    )
        .prop_map(
            |(trace, id, parent, start, end, attributes, error, message)| Span {
                trace_id: if trace == 0 {
                    Vec::new()
                } else {
                    vec![trace; 16]
                },
                span_id: vec![id; 8],
                parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
                name: "span".into(),
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                status: SpanStatus {
                    code: if error {
                        StatusCode::Error
                    } else {
                        StatusCode::Unset
                    },
                    message,
                },
                ..Span::default()
            },
        )
}

proptest! {
    #[test]
    fn random_spans_never_panic(resource in attributes(), spans in vec(any_span(), 0..12)) {
        let total = spans.len();
        let limits = EventLimits::default();
        let batch = map_spans(&request(resource, spans), &limits);
        prop_assert!(batch.skipped.len() + batch.non_genai <= total);
        for event in &batch.events {
            prop_assert_eq!(validate(event, &limits), Ok(()));
        }
        prop_assert!(batch.events.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
        for observation in &batch.observations {
            prop_assert!(observation.value.is_finite() && observation.value >= 0.0);
        }
        let metrics = AgentMetrics::new(AgentMetricsOptions::default());
        metrics.apply_genai(&batch);
        let text = metrics.render();
        prop_assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), metrics.samples().len());
    }
}
