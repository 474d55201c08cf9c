//! The text of an event chunk (schema version 2): one session's events of
//! one request as a JSON array of `[timestamp_ms, type, body]` entries, in
//! arrival order. `body` is the event's type-specific fields as the
//! timeline serves them; it is written straight into the chunk's buffer,
//! with no intermediate `serde_json::Value`.

use agentmon_model::{AgentEvent, EventKind, ToolStatus};
use serde::Serialize;
use serde_json::Value;

use crate::store::TimelineEntry;

/// What one event adds to its session's totals, or a session's totals.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub(crate) steps: i64,
    pub(crate) tool_calls: i64,
    pub(crate) errors: i64,
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) unpriced_tokens: u64,
    pub(crate) cost_usd: f64,
}

impl Totals {
    pub(crate) fn add(&mut self, other: &Totals) {
        self.steps += other.steps;
        self.tool_calls += other.tool_calls;
        self.errors += other.errors;
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.unpriced_tokens = self.unpriced_tokens.saturating_add(other.unpriced_tokens);
        self.cost_usd += other.cost_usd;
    }
}

/// Appends one entry whose body is already JSON text (the migration of
/// version 1 rows). `out` holds `[` and any earlier entries.
pub(crate) fn push_raw_entry(out: &mut Vec<u8>, timestamp_ms: i64, type_name: &str, body: &str) {
    open_entry(out, timestamp_ms, type_name);
    out.extend_from_slice(body.as_bytes());
    out.push(b']');
}

/// Appends one event's entry (`cost` is its step cost as
/// `SessionStore::append` was given it) and returns what it adds to its
/// session's totals. `out` holds `[` and any earlier entries.
pub(crate) fn push_event(out: &mut Vec<u8>, event: &AgentEvent, cost: Option<f64>) -> Totals {
    open_entry(out, event.timestamp_ms, event.kind.type_name());
    let mut totals = Totals::default();
    let mut body = Object::new(out);
    match &event.kind {
        EventKind::SessionStart { attributes } => body.field("attributes", attributes),
        EventKind::Step {
            model,
            provider,
            step_type,
            duration_seconds,
            prompt_tokens,
            completion_tokens,
            cost_usd,
        } => {
            totals.steps = 1;
            totals.prompt_tokens = *prompt_tokens;
            totals.completion_tokens = *completion_tokens;
            match cost {
                Some(cost) => totals.cost_usd = cost,
                None => totals.unpriced_tokens = prompt_tokens.saturating_add(*completion_tokens),
            }
            body.field("model", model);
            body.field("provider", provider);
            body.field("step_type", step_type);
            body.field("duration_seconds", duration_seconds);
            body.field("prompt_tokens", prompt_tokens);
            body.field("completion_tokens", completion_tokens);
            body.field("cost_usd", &cost);
            body.field(
                "cost_source",
                match (cost_usd, cost) {
                    (Some(_), _) => "client",
                    (None, Some(_)) => "price_table",
                    (None, None) => "unpriced",
                },
            );
        }
        EventKind::ToolCall {
            tool_name,
            status,
            duration_seconds,
            error,
        } => {
            totals.tool_calls = 1;
            if *status != ToolStatus::Success {
                totals.errors = 1;
            }
            body.field("tool_name", tool_name);
            body.field("status", status.as_str());
            body.field("duration_seconds", duration_seconds);
            body.field("error", error);
        }
        EventKind::LlmError {
            model,
            error,
            error_type,
        } => {
            totals.errors = 1;
            body.field("model", model);
            body.field("error", error);
            body.field("error_type", error_type.as_str());
        }
        EventKind::Log { level, message } => {
            body.field("level", level.as_str());
            body.field("message", message);
        }
        EventKind::SessionEnd { status, output } => {
            body.field("status", status.as_str());
            body.field("output", output);
        }
    }
    body.close();
    out.push(b']');
    totals
}

/// Reads a chunk back into timeline entries, in arrival order.
pub(crate) fn read(text: &str) -> Result<Vec<TimelineEntry>, serde_json::Error> {
    let entries: Vec<(i64, String, Value)> = serde_json::from_str(text)?;
    Ok(entries
        .into_iter()
        .map(|(timestamp_ms, event_type, body)| TimelineEntry {
            timestamp_ms,
            event_type,
            body,
        })
        .collect())
}

/// What a stored entry did to its session, read back from its body (the
/// replay of chunks whose session rows lag them): the status a
/// `session_end` asks for, and what it adds to the totals, as
/// [`push_event`] returned when it was written.
pub(crate) fn effect(entry: &TimelineEntry) -> Result<(Option<&'static str>, Totals), String> {
    let body = &entry.body;
    let count = |field: &str| -> Result<u64, String> {
        body.get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("a {} entry without a count in {field:?}", entry.event_type))
    };
    let mut totals = Totals::default();
    let mut end = None;
    match entry.event_type.as_str() {
        "step" => {
            totals.steps = 1;
            totals.prompt_tokens = count("prompt_tokens")?;
            totals.completion_tokens = count("completion_tokens")?;
            match body.get("cost_usd").and_then(Value::as_f64) {
                Some(cost) => totals.cost_usd = cost,
                None => {
                    totals.unpriced_tokens = totals
                        .prompt_tokens
                        .saturating_add(totals.completion_tokens)
                }
            }
        }
        "tool_call" => {
            totals.tool_calls = 1;
            if body.get("status").and_then(Value::as_str) != Some(ToolStatus::Success.as_str()) {
                totals.errors = 1;
            }
        }
        "llm_error" => totals.errors = 1,
        "session_end" => {
            end = match body.get("status").and_then(Value::as_str) {
                Some("completed") => Some("completed"),
                Some("failed") => Some("failed"),
                other => return Err(format!("a session_end entry with status {other:?}")),
            }
        }
        _ => {}
    }
    Ok((end, totals))
}

/// Writes `[timestamp_ms,"type",` after a separating comma if needed.
fn open_entry(out: &mut Vec<u8>, timestamp_ms: i64, type_name: &str) {
    if out.last().is_some_and(|last| *last != b'[') {
        out.push(b',');
    }
    out.push(b'[');
    put(out, &timestamp_ms);
    out.push(b',');
    put(out, type_name);
    out.push(b',');
}

/// A JSON object being written field by field.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        put(self.out, name);
        self.out.push(b':');
        put(self.out, value);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// One value as JSON. The values written here (strings, numbers, options,
/// string maps) always serialize; `null` stands in should one ever fail,
/// so the chunk stays valid JSON.
fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use agentmon_model::{LlmErrorType, LogLevel, SessionStatus};
    use serde_json::json;

    use super::*;

    fn event(kind: EventKind) -> AgentEvent {
        AgentEvent {
            session_id: "s".into(),
            agent: "a".into(),
            instance: "i".into(),
            timestamp_ms: 1_700_000_000_123,
            kind,
        }
    }

    fn step(cost_usd: Option<f64>) -> EventKind {
        EventKind::Step {
            model: "gpt-4o".into(),
            provider: "openai".into(),
            step_type: "plan \"quoted\"".into(),
            duration_seconds: 1.25,
            prompt_tokens: 100,
            completion_tokens: 7,
            cost_usd,
        }
    }

    #[test]
    fn entries_read_back_as_the_bodies_the_timeline_serves() {
        let cases: Vec<(EventKind, Option<f64>, Value, Totals)> = vec![
            (
                EventKind::SessionStart {
                    attributes: BTreeMap::from([("user".to_owned(), "ünï\ncode".to_owned())]),
                },
                None,
                json!({"attributes": {"user": "ünï\ncode"}}),
                Totals::default(),
            ),
            (
                step(Some(0.5)),
                Some(0.5),
                json!({"model": "gpt-4o", "provider": "openai", "step_type": "plan \"quoted\"",
                       "duration_seconds": 1.25, "prompt_tokens": 100, "completion_tokens": 7,
                       "cost_usd": 0.5, "cost_source": "client"}),
                Totals {
                    steps: 1,
                    prompt_tokens: 100,
                    completion_tokens: 7,
                    cost_usd: 0.5,
                    ..Totals::default()
                },
            ),
            (
                step(None),
                Some(0.25),
                json!({"model": "gpt-4o", "provider": "openai", "step_type": "plan \"quoted\"",
                       "duration_seconds": 1.25, "prompt_tokens": 100, "completion_tokens": 7,
                       "cost_usd": 0.25, "cost_source": "price_table"}),
                Totals {
                    steps: 1,
                    prompt_tokens: 100,
                    completion_tokens: 7,
                    cost_usd: 0.25,
                    ..Totals::default()
                },
            ),
            (
                step(None),
                None,
                json!({"model": "gpt-4o", "provider": "openai", "step_type": "plan \"quoted\"",
                       "duration_seconds": 1.25, "prompt_tokens": 100, "completion_tokens": 7,
                       "cost_usd": null, "cost_source": "unpriced"}),
                Totals {
                    steps: 1,
                    prompt_tokens: 100,
                    completion_tokens: 7,
                    unpriced_tokens: 107,
                    ..Totals::default()
                },
            ),
            (
                EventKind::ToolCall {
                    tool_name: "search".into(),
                    status: ToolStatus::Timeout,
                    duration_seconds: 3.0,
                    error: None,
                },
                None,
                json!({"tool_name": "search", "status": "timeout", "duration_seconds": 3.0,
                       "error": null}),
                Totals {
                    tool_calls: 1,
                    errors: 1,
                    ..Totals::default()
                },
            ),
            (
                EventKind::LlmError {
                    model: "m".into(),
                    error: "429".into(),
                    error_type: LlmErrorType::RateLimit,
                },
                None,
                json!({"model": "m", "error": "429", "error_type": "rate_limit"}),
                Totals {
                    errors: 1,
                    ..Totals::default()
                },
            ),
            (
                EventKind::Log {
                    level: LogLevel::Warn,
                    message: "slow\\path".into(),
                },
                None,
                json!({"level": "warn", "message": "slow\\path"}),
                Totals::default(),
            ),
            (
                EventKind::SessionEnd {
                    status: SessionStatus::Completed,
                    output: Some("done".into()),
                },
                None,
                json!({"status": "completed", "output": "done"}),
                Totals::default(),
            ),
        ];
        let mut out = vec![b'['];
        for (kind, cost, _, expected_totals) in &cases {
            let totals = push_event(&mut out, &event(kind.clone()), *cost);
            assert_eq!(&totals, expected_totals, "{kind:?}");
        }
        push_raw_entry(&mut out, 5, "log", r#"{"level":"info","message":"raw"}"#);
        out.push(b']');
        let text = String::from_utf8(out).unwrap();
        let entries = read(&text).unwrap();
        assert_eq!(entries.len(), cases.len() + 1, "{text}");
        for (entry, (kind, _, body, totals)) in entries.iter().zip(&cases) {
            assert_eq!(entry.timestamp_ms, 1_700_000_000_123);
            assert_eq!(entry.event_type, kind.type_name());
            assert_eq!(&entry.body, body);
            // Read back, the entry adds what it added when written.
            let (end, read_totals) = effect(entry).unwrap();
            assert_eq!(&read_totals, totals, "{kind:?}");
            let expected_end = match kind {
                EventKind::SessionEnd { status, .. } => Some(status.as_str()),
                _ => None,
            };
            assert_eq!(end, expected_end, "{kind:?}");
        }
        let last = &entries[cases.len()];
        assert_eq!((last.timestamp_ms, last.event_type.as_str()), (5, "log"));
        assert_eq!(last.body, json!({"level": "info", "message": "raw"}));
    }

    #[test]
    fn an_entry_without_its_counts_has_no_effect_to_replay() {
        let entry = |event_type: &str, body: Value| TimelineEntry {
            timestamp_ms: 1,
            event_type: event_type.into(),
            body,
        };
        assert!(effect(&entry("step", json!({"prompt_tokens": 1}))).is_err());
        assert!(effect(&entry("session_end", json!({"status": "odd"}))).is_err());
        let (end, totals) = effect(&entry("log", json!({}))).unwrap();
        assert_eq!((end, totals), (None, Totals::default()));
    }

    #[test]
    fn a_damaged_chunk_is_an_error() {
        assert!(read("[[1,\"log\",{}]").is_err());
        assert!(read("{}").is_err());
    }
}
