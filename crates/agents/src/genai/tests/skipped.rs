//! Spans refused with their reasons, and the events API's checks.

use agentmon_ingest::events::{validate, EventLimits};

use super::*;

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
