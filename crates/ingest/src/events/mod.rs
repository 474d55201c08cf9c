//! Agent events as posted to `POST /api/v1/events`: a JSON array of event
//! objects, or NDJSON (one object per line, blank lines skipped). The
//! contract is `docs/events.schema.json`.
//!
//! [`parse`] validates the whole body before returning anything. Body-level
//! faults (not JSON, not an array, too many events) are one
//! [`IngestError::EventsBody`]; every faulty event is listed in
//! [`IngestError::Events`] with its 0-based index (and, for NDJSON, its
//! 1-based line) and every reason, so a client can fix all of them at once.
//! Unknown fields are errors, as a misspelt optional field would otherwise be
//! dropped without a word.
//!
//! A valid body takes a fast path (`fast.rs`) that decodes straight into
//! typed events; any body it is not sure of goes through the general path,
//! which decodes every event as a JSON value and checks it field by field.
//!
//! [`validate`] applies the same rules to an event built elsewhere (the
//! OpenTelemetry GenAI span mapping), through its wire object
//! ([`to_wire_object`]).

mod check;
mod fast;
#[cfg(test)]
mod tests;
mod wire;

pub use wire::{to_wire_object, validate};

use agentmon_model::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};
use serde_json::{Map, Value};

use crate::error::{EventProblem, IngestError};
use check::Check;

/// The two body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `[{...}, {...}]`
    JsonArray,
    /// `{...}\n{...}\n` (`Content-Type: application/x-ndjson`)
    Ndjson,
}

/// Bounds on one events request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimits {
    /// Most events in one request.
    pub max_events: usize,
    /// Longest identifier or label-like string (`session_id`, `agent`,
    /// `instance`, `model`, `provider`, `step_type`, `tool_name`, attribute
    /// keys), in bytes.
    pub max_name_bytes: usize,
    /// Longest free text (`message`, `error`, `output`, attribute values), in
    /// bytes.
    pub max_text_bytes: usize,
    /// Most `attributes` of a `session_start`.
    pub max_attributes: usize,
    /// Most faulty events listed in an error; the count is always exact.
    pub max_problems_listed: usize,
}

impl Default for EventLimits {
    fn default() -> EventLimits {
        EventLimits {
            max_events: 10_000,
            max_name_bytes: 256,
            max_text_bytes: 16 << 10,
            max_attributes: 64,
            max_problems_listed: 100,
        }
    }
}

/// The event types, in the order error messages list them.
pub const EVENT_TYPES: &[&str] = &[
    "session_start",
    "step",
    "tool_call",
    "llm_error",
    "log",
    "session_end",
];

/// Fields every event may carry.
const COMMON_FIELDS: &[&str] = &["type", "session_id", "agent", "instance", "timestamp"];

/// Parses and validates a whole events body. Events without a `timestamp`
/// get `now_ms`.
pub fn parse(
    body: &[u8],
    format: BodyFormat,
    now_ms: i64,
    limits: &EventLimits,
) -> Result<Vec<AgentEvent>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|e| IngestError::EventsBody {
        reason: format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
    })?;
    // Valid bodies decode straight into events; anything else is left to
    // the general path below, which words every fault.
    if let Some(events) = fast::parse(text, format, now_ms, limits) {
        return Ok(events);
    }
    parse_general(text, format, now_ms, limits)
}

/// The general path of [`parse`]: every event as a JSON value, checked
/// field by field, every fault named.
fn parse_general(
    text: &str,
    format: BodyFormat,
    now_ms: i64,
    limits: &EventLimits,
) -> Result<Vec<AgentEvent>, IngestError> {
    // (value or syntax error, 1-based line for NDJSON)
    let items: Vec<(Result<Value, String>, Option<usize>)> = match format {
        BodyFormat::JsonArray => {
            let value: Value = serde_json::from_str(text).map_err(|e| IngestError::EventsBody {
                reason: format!("body is not valid JSON: {e}"),
            })?;
            let Value::Array(values) = value else {
                return Err(IngestError::EventsBody {
                    reason: format!(
                        "body must be a JSON array of events, got {}; send NDJSON with \
                         Content-Type: application/x-ndjson",
                        kind_of(&value)
                    ),
                });
            };
            check_count(values.len(), limits)?;
            values.into_iter().map(|v| (Ok(v), None)).collect()
        }
        BodyFormat::Ndjson => {
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .map(|(i, line)| (i + 1, line))
                .collect();
            check_count(lines.len(), limits)?;
            lines
                .into_iter()
                .map(|(number, line)| {
                    let value = serde_json::from_str::<Value>(line)
                        .map_err(|e| format!("not valid JSON: {e}"));
                    (value, Some(number))
                })
                .collect()
        }
    };
    if items.is_empty() {
        return Err(IngestError::EventsBody {
            reason: "no events in the body".into(),
        });
    }

    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let mut faulty = 0;
    for (index, (value, line)) in items.into_iter().enumerate() {
        let result = value.and_then(|value| match value {
            Value::Object(object) => event(&object, now_ms, limits),
            other => Err(format!(
                "event must be a JSON object, got {}",
                kind_of(&other)
            )),
        });
        match result {
            Ok(event) => events.push(event),
            Err(reason) => {
                faulty += 1;
                if problems.len() < limits.max_problems_listed {
                    problems.push(EventProblem {
                        index,
                        line,
                        reason,
                    });
                }
            }
        }
    }
    if faulty > 0 {
        return Err(IngestError::Events { faulty, problems });
    }
    Ok(events)
}

fn check_count(count: usize, limits: &EventLimits) -> Result<(), IngestError> {
    if count > limits.max_events {
        return Err(IngestError::EventsBody {
            reason: format!(
                "{count} events, over the limit of {} events per request: send smaller batches",
                limits.max_events
            ),
        });
    }
    Ok(())
}

/// Validates one event object; the error joins every reason with "; ".
fn event(
    object: &Map<String, Value>,
    now_ms: i64,
    limits: &EventLimits,
) -> Result<AgentEvent, String> {
    let mut check = Check::new(object, limits);
    let type_name = match object.get("type") {
        None => {
            check.fail("missing field \"type\"".into());
            None
        }
        Some(Value::String(name)) if EVENT_TYPES.contains(&name.as_str()) => Some(name.as_str()),
        Some(Value::String(name)) => {
            check.fail(format!(
                "unknown type {:?}: expected one of {}",
                crate::error::truncated(name, 64),
                EVENT_TYPES.join(", ")
            ));
            None
        }
        Some(other) => {
            check.fail(format!(
                "field \"type\" must be a string, got {}",
                kind_of(other)
            ));
            None
        }
    };
    let session_id = check.name("session_id");
    let agent = check.name("agent");
    let instance = check.name("instance");
    let timestamp_ms = check.timestamp("timestamp", now_ms);
    let kind = type_name.and_then(|name| {
        check.only_fields(name, type_fields(name));
        kind(name, &mut check)
    });
    match (
        check.finish(),
        session_id,
        agent,
        instance,
        timestamp_ms,
        kind,
    ) {
        (Ok(()), Some(session_id), Some(agent), Some(instance), Some(timestamp_ms), Some(kind)) => {
            Ok(AgentEvent {
                session_id,
                agent,
                instance,
                timestamp_ms,
                kind,
            })
        }
        (Err(reason), ..) => Err(reason),
        // Every `None` above recorded a reason, so this is not reached.
        _ => Err("invalid event".into()),
    }
}

/// The fields of each type beyond [`COMMON_FIELDS`].
fn type_fields(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "session_start" => &["attributes"],
        "step" => &[
            "model",
            "provider",
            "step_type",
            "duration_seconds",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
        ],
        "tool_call" => &["tool_name", "status", "duration_seconds", "error"],
        "llm_error" => &["model", "error"],
        "log" => &["level", "message"],
        "session_end" => &["status", "output"],
        _ => &[],
    }
}

fn kind(type_name: &str, check: &mut Check<'_>) -> Option<EventKind> {
    Some(match type_name {
        "session_start" => EventKind::SessionStart {
            attributes: check.attributes("attributes")?,
        },
        "step" => {
            let model = check.name("model");
            let provider = check.name("provider");
            let step_type = check.name("step_type");
            let duration_seconds = check.non_negative("duration_seconds");
            let prompt_tokens = check.count("prompt_tokens");
            let completion_tokens = check.count("completion_tokens");
            let cost_usd = check.optional_non_negative("cost_usd");
            EventKind::Step {
                model: model?,
                provider: provider?,
                step_type: step_type?,
                duration_seconds: duration_seconds?,
                prompt_tokens: prompt_tokens?,
                completion_tokens: completion_tokens?,
                cost_usd: cost_usd?,
            }
        }
        "tool_call" => {
            let tool_name = check.name("tool_name");
            let status = check.choice("status", ToolStatus::parse, ToolStatus::ALL, |s| s.as_str());
            let duration_seconds = check.non_negative("duration_seconds");
            let error = check.optional_text("error");
            EventKind::ToolCall {
                tool_name: tool_name?,
                status: status?,
                duration_seconds: duration_seconds?,
                error: error?,
            }
        }
        "llm_error" => {
            let model = check.name("model");
            let error = check.text("error")?;
            EventKind::LlmError {
                model: model?,
                error_type: LlmErrorType::classify(&error),
                error,
            }
        }
        "log" => {
            let level = check.choice("level", LogLevel::parse, LogLevel::ALL, |l| l.as_str());
            let message = check.text("message");
            EventKind::Log {
                level: level?,
                message: message?,
            }
        }
        "session_end" => {
            let status = check.choice("status", SessionStatus::parse, SessionStatus::ALL, |s| {
                s.as_str()
            });
            let output = check.optional_text("output");
            EventKind::SessionEnd {
                status: status?,
                output: output?,
            }
        }
        _ => return None,
    })
}

/// A JSON value's kind, for messages: `a number (-3)`, `a string`, `null`.
pub(crate) fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
