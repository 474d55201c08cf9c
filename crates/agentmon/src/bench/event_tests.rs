//! The event mix against the real events parser, and the small readers of
//! the events and live benchmarks.

use agentmon_ingest::events::{self, BodyFormat, EventLimits};
use agentmon_model::EventKind;

use super::event_mix::{EventMix, Totals};
use super::events::sum_counters;
use super::live::{parse_lagged, parse_probe};

#[test]
fn every_generated_event_is_valid_and_the_totals_count_them() {
    let mut mix = EventMix::new(7, "t".into(), 5, 3, 40);
    let mut body = String::new();
    mix.write_ndjson(&mut body, 5000, 1_700_000_000_000);
    let parsed = events::parse(
        body.as_bytes(),
        BodyFormat::Ndjson,
        0,
        &EventLimits::default(),
    )
    .expect("the mix writes only valid events");
    let mut counted = Totals::default();
    for event in &parsed {
        counted.events += 1;
        assert_eq!(event.timestamp_ms, 1_700_000_000_000);
        match &event.kind {
            EventKind::SessionStart { .. } => counted.sessions_started += 1,
            EventKind::Step {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                counted.steps += 1;
                counted.prompt_tokens += prompt_tokens;
                counted.completion_tokens += completion_tokens;
            }
            EventKind::ToolCall { .. } => counted.tool_calls += 1,
            EventKind::LlmError { .. } => counted.llm_errors += 1,
            EventKind::Log { .. } => counted.logs += 1,
            EventKind::SessionEnd { .. } => counted.sessions_ended += 1,
        }
    }
    assert_eq!(counted, mix.totals());
    // Every kind occurs, sessions run their whole life, and a session's
    // first event is its start.
    assert!(
        counted.sessions_ended > 50 && counted.llm_errors > 10,
        "{counted:?}"
    );
    let mut seen = std::collections::HashSet::new();
    for event in &parsed {
        if seen.insert(event.session_id.clone()) {
            assert!(
                matches!(event.kind, EventKind::SessionStart { .. }),
                "{} starts with {}",
                event.session_id,
                event.kind.type_name()
            );
        }
    }
    // The same seed gives the same stream.
    let mut again = String::new();
    EventMix::new(7, "t".into(), 5, 3, 40).write_ndjson(&mut again, 5000, 1_700_000_000_000);
    assert_eq!(again, body);
}

#[test]
fn import_lines_are_one_json_row_per_event() {
    let mut mix = EventMix::new(3, "t".into(), 2, 2, 10);
    let mut body = String::new();
    mix.write_vm_import(&mut body, 300, 1_700_000_000_000);
    assert_eq!(body.lines().count(), 300);
    for line in body.lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(row["metric"]["__name__"]
            .as_str()
            .unwrap()
            .starts_with("agent_"));
        assert!(row["metric"]["session_id"].is_null(), "{line}");
        assert_eq!(row["values"].as_array().unwrap().len(), 1);
        assert_eq!(row["timestamps"][0], 1_700_000_000_000_i64);
    }
    assert_eq!(mix.totals().events, 300);
}

#[test]
fn derived_counters_are_summed_per_family() {
    let page = "# TYPE hermes_tokens_total counter\n\
        hermes_tokens_total{agent=\"a\",instance=\"i\",model=\"m\",token_type=\"prompt\"} 120\n\
        hermes_tokens_total{agent=\"a\",instance=\"j\",model=\"m\",token_type=\"prompt\"} 5\n\
        hermes_tokens_total{agent=\"a\",instance=\"i\",model=\"m\",token_type=\"completion\"} 30\n\
        hermes_tool_call_total{agent=\"a\",instance=\"i\",tool_name=\"x\",status=\"error\"} 2\n\
        hermes_tool_call_total_other 100\n\
        hermes_llm_errors_total{agent=\"a\",instance=\"i\",model=\"m\",error_type=\"timeout\"} 1\n";
    let sums = sum_counters(page, "hermes");
    assert_eq!(sums.prompt_tokens, 125.0);
    assert_eq!(sums.completion_tokens, 30.0);
    assert_eq!(sums.tool_calls, 2.0);
    assert_eq!(sums.llm_errors, 1.0);
    assert_eq!(sum_counters(page, "fleet").prompt_tokens, 0.0);
}

#[test]
fn probe_and_lagged_messages_are_read() {
    let message = r#"{"type":"log","executionId":"live-3","agent":"bench","data":{"log":"lb 42 1234567","level":"info"},"timestamp":1}"#;
    assert_eq!(parse_probe(message), Some((42, 1_234_567)));
    assert_eq!(
        parse_probe(r#"{"type":"log","data":{"log":"other"}}"#),
        None
    );
    assert_eq!(
        parse_lagged(r#"{"type":"lagged","data":{"dropped":1200},"timestamp":1}"#),
        Some(1200)
    );
    assert_eq!(parse_lagged(message), None);
}
