//! The fast path of [`super::parse`]: a body decoded straight into typed
//! events, with no `serde_json::Value` per event and each string allocated
//! once, and checked by the same rules as the general path.
//!
//! It only ever says "all valid, here they are" or "not sure": any event it
//! cannot decode or that breaks a rule, a body over the limits, or an empty
//! one makes [`parse`] answer `None`, and the caller then runs the general
//! path over the whole body, which accepts or refuses it with every reason.
//! So the fast path decides nothing about bad input; it must only never
//! accept what the general path refuses, nor build a different event (the
//! tests hold the two paths to that).
//!
//! A long NDJSON body is decoded in two halves at once (its lines are
//! independent), on the caller's thread and a scoped one.

use agentmon_model::calendar::parse_rfc3339_ms;
use agentmon_model::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::check::Check;
use super::{BodyFormat, EventLimits, EVENT_TYPES};

/// The events of a body that is valid in full, or `None` to leave the body
/// to the general path.
pub(super) fn parse(
    text: &str,
    format: BodyFormat,
    now_ms: i64,
    limits: &EventLimits,
) -> Option<Vec<AgentEvent>> {
    if format == BodyFormat::Ndjson && text.len() >= SPLIT_BYTES {
        // Lines are independent: the halves decode at once, on this thread
        // and a scoped one, cut after a newline (a char boundary).
        let middle = text.len() / 2;
        if let Some(at) = text.as_bytes()[middle..].iter().position(|b| *b == b'\n') {
            let (head, tail) = text.split_at(middle + at + 1);
            let (first, second) = std::thread::scope(|scope| {
                let helper = std::thread::Builder::new()
                    .spawn_scoped(scope, || parse_ndjson(tail, now_ms, limits))
                    .ok();
                let first = parse_ndjson(head, now_ms, limits);
                let second = match helper {
                    Some(helper) => helper.join().ok().flatten(),
                    // No thread to be had: this one does both.
                    None => parse_ndjson(tail, now_ms, limits),
                };
                (first, second)
            });
            let mut events = first?;
            events.extend(second?);
            return (events.len() <= limits.max_events).then_some(events);
        }
    }
    let wires: Vec<Wire> = match format {
        BodyFormat::JsonArray => serde_json::from_str(text).ok()?,
        BodyFormat::Ndjson => return parse_ndjson(text, now_ms, limits),
    };
    if wires.is_empty() || wires.len() > limits.max_events {
        return None;
    }
    wires
        .into_iter()
        .map(|wire| wire.into_event(now_ms, limits))
        .collect()
}

/// NDJSON bodies at least this long are decoded in two halves at once.
const SPLIT_BYTES: usize = 128 * 1024;

#[cfg(test)]
pub(super) const SPLIT_BYTES_FOR_TESTS: usize = SPLIT_BYTES;

/// The events of NDJSON text, or `None` (see [`parse`]).
fn parse_ndjson(text: &str, now_ms: i64, limits: &EventLimits) -> Option<Vec<AgentEvent>> {
    let mut events = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if events.len() == limits.max_events {
            return None;
        }
        let wire: Wire = serde_json::from_str(line).ok()?;
        events.push(wire.into_event(now_ms, limits)?);
    }
    (!events.is_empty()).then_some(events)
}

/// A field as sent: absent, `null`, or a value.
#[derive(Debug, Default)]
enum Field<T> {
    #[default]
    Absent,
    Null,
    Given(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field<T>, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Field::Null, Field::Given))
    }
}

impl<T> Field<T> {
    fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value of a required field.
    fn required(self) -> Option<T> {
        match self {
            Field::Given(value) => Some(value),
            Field::Absent | Field::Null => None,
        }
    }

    /// An optional field: absent and `null` are both `None`.
    fn optional(self) -> Option<T> {
        self.required()
    }
}

/// A `timestamp` value: whole non-negative milliseconds or an RFC 3339
/// time after 1970, anything else `Invalid`.
#[derive(Debug)]
enum Timestamp {
    Ms(i64),
    Invalid,
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("milliseconds since the epoch or an RFC 3339 string")
            }

            fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Timestamp, E> {
                Ok(i64::try_from(ms).map_or(Timestamp::Invalid, Timestamp::Ms))
            }

            fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Timestamp, E> {
                Ok(if ms >= 0 {
                    Timestamp::Ms(ms)
                } else {
                    Timestamp::Invalid
                })
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Timestamp, E> {
                Ok(Timestamp::Invalid)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Ok(match parse_rfc3339_ms(text) {
                    Some(ms) if ms >= 0 => Timestamp::Ms(ms),
                    _ => Timestamp::Invalid,
                })
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}

/// Every field any event type may carry; unknown fields fail the decode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default, rename = "type")]
    type_name: Field<String>,
    #[serde(default)]
    session_id: Field<String>,
    #[serde(default)]
    agent: Field<String>,
    #[serde(default)]
    instance: Field<String>,
    #[serde(default)]
    timestamp: Field<Timestamp>,
    #[serde(default)]
    attributes: Field<Value>,
    #[serde(default)]
    model: Field<String>,
    #[serde(default)]
    provider: Field<String>,
    #[serde(default)]
    step_type: Field<String>,
    #[serde(default)]
    duration_seconds: Field<f64>,
    #[serde(default)]
    prompt_tokens: Field<u64>,
    #[serde(default)]
    completion_tokens: Field<u64>,
    #[serde(default)]
    cost_usd: Field<f64>,
    #[serde(default)]
    tool_name: Field<String>,
    #[serde(default)]
    status: Field<String>,
    #[serde(default)]
    error: Field<String>,
    #[serde(default)]
    level: Field<String>,
    #[serde(default)]
    message: Field<String>,
    #[serde(default)]
    output: Field<String>,
}

impl Wire {
    /// The event, if every rule holds.
    fn into_event(self, now_ms: i64, limits: &EventLimits) -> Option<AgentEvent> {
        let Field::Given(type_name) = &self.type_name else {
            return None;
        };
        if !EVENT_TYPES.contains(&type_name.as_str()) || !self.only_fields_of(type_name) {
            return None;
        }
        let type_name = self.type_name.required()?;
        let name = |field: Field<String>| {
            field
                .required()
                .filter(|s| !s.is_empty() && s.len() <= limits.max_name_bytes)
        };
        let text = |field: Field<String>| {
            field
                .required()
                .filter(|s| !s.is_empty() && s.len() <= limits.max_text_bytes)
        };
        // `Some(None)` when absent or null, `None` when over the limit.
        let optional_text = |field: Field<String>| match field.optional() {
            Some(s) if s.len() > limits.max_text_bytes => None,
            other => Some(other),
        };
        let non_negative = |field: Field<f64>| field.required().filter(|n| *n >= 0.0);
        let session_id = name(self.session_id)?;
        let agent = name(self.agent)?;
        let instance = name(self.instance)?;
        let timestamp_ms = match self.timestamp {
            Field::Absent | Field::Null => now_ms,
            Field::Given(Timestamp::Ms(ms)) => ms,
            Field::Given(Timestamp::Invalid) => return None,
        };
        let kind = match type_name.as_str() {
            "session_start" => EventKind::SessionStart {
                attributes: match self.attributes {
                    Field::Absent => Default::default(),
                    Field::Null => return None,
                    Field::Given(value) => {
                        let object = Map::from_iter([("attributes".to_owned(), value)]);
                        let mut check = Check::new(&object, limits);
                        let attributes = check.attributes("attributes");
                        check.finish().ok()?;
                        attributes?
                    }
                },
            },
            "step" => EventKind::Step {
                model: name(self.model)?,
                provider: name(self.provider)?,
                step_type: name(self.step_type)?,
                duration_seconds: non_negative(self.duration_seconds)?,
                prompt_tokens: self.prompt_tokens.required()?,
                completion_tokens: self.completion_tokens.required()?,
                cost_usd: match self.cost_usd.optional() {
                    Some(cost) if cost < 0.0 => return None,
                    cost => cost,
                },
            },
            "tool_call" => EventKind::ToolCall {
                tool_name: name(self.tool_name)?,
                status: ToolStatus::parse(&self.status.required()?)?,
                duration_seconds: non_negative(self.duration_seconds)?,
                error: optional_text(self.error)?,
            },
            "llm_error" => {
                let model = name(self.model)?;
                let error = text(self.error)?;
                EventKind::LlmError {
                    model,
                    error_type: LlmErrorType::classify(&error),
                    error,
                }
            }
            "log" => EventKind::Log {
                level: LogLevel::parse(&self.level.required()?)?,
                message: text(self.message)?,
            },
            "session_end" => EventKind::SessionEnd {
                status: SessionStatus::parse(&self.status.required()?)?,
                output: optional_text(self.output)?,
            },
            _ => return None,
        };
        Some(AgentEvent {
            session_id,
            agent,
            instance,
            timestamp_ms,
            kind,
        })
    }

    /// Whether every field present (even as `null`) is common or of this
    /// type, as [`super::type_fields`] lists them.
    fn only_fields_of(&self, type_name: &str) -> bool {
        let allowed = super::type_fields(type_name);
        let present = [
            ("attributes", self.attributes.is_absent()),
            ("model", self.model.is_absent()),
            ("provider", self.provider.is_absent()),
            ("step_type", self.step_type.is_absent()),
            ("duration_seconds", self.duration_seconds.is_absent()),
            ("prompt_tokens", self.prompt_tokens.is_absent()),
            ("completion_tokens", self.completion_tokens.is_absent()),
            ("cost_usd", self.cost_usd.is_absent()),
            ("tool_name", self.tool_name.is_absent()),
            ("status", self.status.is_absent()),
            ("error", self.error.is_absent()),
            ("level", self.level.is_absent()),
            ("message", self.message.is_absent()),
            ("output", self.output.is_absent()),
        ];
        present
            .iter()
            .all(|(field, absent)| *absent || allowed.contains(field))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::parse_general;

    const NOW: i64 = 1_700_000_000_000;

    fn base_events() -> Vec<Value> {
        let head = json!({"session_id": "s1", "agent": "a", "instance": "i", "timestamp": 1000});
        let with = |fields: Value| {
            let mut object = head.as_object().cloned().unwrap_or_default();
            object.extend(fields.as_object().cloned().unwrap_or_default());
            Value::Object(object)
        };
        vec![
            with(json!({"type": "session_start", "attributes": {"k": "v", "n": 2.50, "b": true}})),
            with(
                json!({"type": "step", "model": "m", "provider": "p", "step_type": "plan",
                        "duration_seconds": 1.5, "prompt_tokens": 10, "completion_tokens": 5,
                        "cost_usd": 0.25}),
            ),
            with(
                json!({"type": "tool_call", "tool_name": "t", "status": "error",
                        "duration_seconds": 2, "error": "boom"}),
            ),
            with(json!({"type": "llm_error", "model": "m", "error": "rate limit exceeded"})),
            with(json!({"type": "log", "level": "warn", "message": "hello \"world\"\n"})),
            with(json!({"type": "session_end", "status": "failed", "output": ""})),
        ]
    }

    /// Values a field may be changed to: every JSON kind and the edges of
    /// the rules.
    fn replacements() -> Vec<Value> {
        vec![
            Value::Null,
            json!(""),
            json!("x"),
            json!("x".repeat(257)),
            json!("y".repeat(16 << 10 | 1)),
            json!(0),
            json!(-1),
            json!(-0.0),
            json!(1.5),
            json!(-2.5),
            json!(u64::MAX),
            json!(true),
            json!([]),
            json!({}),
            json!({"k": null}),
            json!({"": "v"}),
            json!("2023-11-14T22:13:20.5Z"),
            json!("1969-12-31T23:59:59Z"),
            json!("completed"),
            json!("success"),
            json!("info"),
            json!("session_end"),
        ]
    }

    /// Every event built from the bases by removing a field, replacing a
    /// field's value, or adding a field (known to another type, or
    /// unknown).
    fn variants() -> Vec<Value> {
        let fields = [
            "type",
            "session_id",
            "agent",
            "instance",
            "timestamp",
            "attributes",
            "model",
            "provider",
            "step_type",
            "duration_seconds",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "tool_name",
            "status",
            "error",
            "level",
            "message",
            "output",
            "unknown",
        ];
        let mut out = Vec::new();
        for base in base_events() {
            out.push(base.clone());
            for field in fields {
                let mut removed = base.clone();
                if let Some(object) = removed.as_object_mut() {
                    if object.remove(field).is_some() {
                        out.push(removed);
                    }
                }
                for value in replacements() {
                    let mut changed = base.clone();
                    if let Some(object) = changed.as_object_mut() {
                        object.insert(field.to_owned(), value);
                    }
                    out.push(changed);
                }
            }
        }
        out
    }

    #[test]
    fn the_fast_path_accepts_exactly_the_events_the_general_path_accepts() {
        let limits = EventLimits::default();
        let mut fast = 0;
        let mut accepted = 0;
        for event in variants() {
            let line = event.to_string();
            let general = parse_general(&line, BodyFormat::Ndjson, NOW, &limits);
            let quick = parse(&line, BodyFormat::Ndjson, NOW, &limits);
            if let Some(events) = &quick {
                fast += 1;
                assert_eq!(general.as_ref().ok(), Some(events), "{line}");
            }
            if general.is_ok() {
                accepted += 1;
                assert!(
                    quick.is_some(),
                    "valid event left to the general path: {line}"
                );
            }
            let array = format!("[{line}]");
            let general = parse_general(&array, BodyFormat::JsonArray, NOW, &limits);
            match parse(&array, BodyFormat::JsonArray, NOW, &limits) {
                Some(events) => assert_eq!(general.ok(), Some(events), "{array}"),
                None => assert!(general.is_err(), "valid array left to the general path"),
            }
        }
        assert_eq!(fast, accepted);
        assert!(accepted > 100, "only {accepted} valid variants");
    }

    #[test]
    fn bodies_the_fast_path_leaves_to_the_general_path() {
        let limits = EventLimits::default();
        let good = base_events()[4].to_string();
        let cases = [
            String::new(),
            "\n \n".to_owned(),
            "[]".to_owned(),
            format!("{good}\n{{not json"),
            // A duplicate key: the general path takes the last value.
            good.replacen(
                "\"level\":\"warn\"",
                "\"level\":\"warn\",\"level\":\"info\"",
                1,
            ),
            format!("{good}\n").repeat(limits.max_events + 1),
        ];
        for body in cases {
            assert!(parse(&body, BodyFormat::Ndjson, NOW, &limits).is_none());
        }
        let many = format!("{good}\n").repeat(limits.max_events);
        let events = parse(&many, BodyFormat::Ndjson, NOW, &limits).unwrap();
        assert_eq!(events.len(), limits.max_events);
        let array = format!("[{good},{good}]");
        let events = parse(&array, BodyFormat::JsonArray, NOW, &limits).unwrap();
        assert_eq!(
            Ok(events),
            parse_general(&array, BodyFormat::JsonArray, NOW, &limits)
        );
        // An absent timestamp is now, as on the general path.
        let untimed = good.replacen("\"timestamp\":1000,", "", 1);
        assert_ne!(untimed, good);
        let events = parse(&untimed, BodyFormat::Ndjson, NOW, &limits).unwrap();
        assert_eq!(events[0].timestamp_ms, NOW);
    }
}
