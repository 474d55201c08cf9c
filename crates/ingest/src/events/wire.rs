//! Events built elsewhere (from OpenTelemetry spans, say) checked by the
//! very rules of `POST /api/v1/events`: the event is written as its wire
//! object and that object goes through the same validation as a posted one,
//! so the two paths cannot drift apart.

use agentmon_model::{AgentEvent, EventKind};
use serde_json::{Map, Value};

use super::{event, EventLimits};

/// The event as its JSON object on the wire (`docs/events.schema.json`),
/// with `timestamp` in milliseconds and optional fields left out when
/// absent.
pub fn to_wire_object(event: &AgentEvent) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("type".into(), event.kind.type_name().into());
    object.insert("session_id".into(), event.session_id.as_str().into());
    object.insert("agent".into(), event.agent.as_str().into());
    object.insert("instance".into(), event.instance.as_str().into());
    object.insert("timestamp".into(), event.timestamp_ms.into());
    let mut put = |field: &str, value: Value| {
        object.insert(field.to_owned(), value);
    };
    match &event.kind {
        EventKind::SessionStart { attributes } => {
            let attributes: Map<String, Value> = attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            put("attributes", Value::Object(attributes));
        }
        EventKind::Step {
            model,
            provider,
            step_type,
            duration_seconds,
            prompt_tokens,
            completion_tokens,
            cost_usd,
        } => {
            put("model", model.as_str().into());
            put("provider", provider.as_str().into());
            put("step_type", step_type.as_str().into());
            put("duration_seconds", number(*duration_seconds));
            put("prompt_tokens", (*prompt_tokens).into());
            put("completion_tokens", (*completion_tokens).into());
            if let Some(cost) = cost_usd {
                put("cost_usd", number(*cost));
            }
        }
        EventKind::ToolCall {
            tool_name,
            status,
            duration_seconds,
            error,
        } => {
            put("tool_name", tool_name.as_str().into());
            put("status", status.as_str().into());
            put("duration_seconds", number(*duration_seconds));
            if let Some(error) = error {
                put("error", error.as_str().into());
            }
        }
        EventKind::LlmError { model, error, .. } => {
            put("model", model.as_str().into());
            put("error", error.as_str().into());
        }
        EventKind::Log { level, message } => {
            put("level", level.as_str().into());
            put("message", message.as_str().into());
        }
        EventKind::SessionEnd { status, output } => {
            put("status", status.as_str().into());
            if let Some(output) = output {
                put("output", output.as_str().into());
            }
        }
    }
    object
}

/// A float as a JSON number; a NaN or infinity (which JSON cannot hold)
/// becomes its text, so the check refuses it as "not a number" instead of
/// taking it for an absent field.
fn number(value: f64) -> Value {
    serde_json::Number::from_f64(value)
        .map_or_else(|| Value::String(value.to_string()), Value::Number)
}

/// Checks an event built outside the events API against the API's rules
/// (non-empty identifiers within `max_name_bytes`, texts within
/// `max_text_bytes`, finite non-negative durations, at most
/// `max_attributes` attributes, …). The error joins every reason with
/// "; ", worded as for a posted event.
pub fn validate(event_to_check: &AgentEvent, limits: &EventLimits) -> Result<(), String> {
    let object = to_wire_object(event_to_check);
    // Every event here has a timestamp, so `now_ms` is never used.
    event(&object, 0, limits).map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use agentmon_model::{LlmErrorType, LogLevel, SessionStatus, ToolStatus};

    use super::*;

    fn with(kind: EventKind) -> AgentEvent {
        AgentEvent {
            session_id: "s".into(),
            agent: "a".into(),
            instance: "i".into(),
            timestamp_ms: 1_700_000_000_123,
            kind,
        }
    }

    #[test]
    fn every_kind_round_trips_through_the_api_rules() {
        let kinds = [
            EventKind::SessionStart {
                attributes: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
            },
            EventKind::Step {
                model: "gpt-4o".into(),
                provider: "openai".into(),
                step_type: "chat".into(),
                duration_seconds: 1.5,
                prompt_tokens: 10,
                completion_tokens: 3,
                cost_usd: None,
            },
            EventKind::ToolCall {
                tool_name: "search".into(),
                status: ToolStatus::Timeout,
                duration_seconds: 0.0,
                error: Some("timed out".into()),
            },
            EventKind::LlmError {
                model: "m".into(),
                error: "Rate limit".into(),
                error_type: LlmErrorType::RateLimit,
            },
            EventKind::Log {
                level: LogLevel::Info,
                message: "hello".into(),
            },
            EventKind::SessionEnd {
                status: SessionStatus::Failed,
                output: None,
            },
        ];
        for kind in kinds {
            let original = with(kind);
            let object = to_wire_object(&original);
            let parsed = event(&object, 0, &EventLimits::default());
            assert_eq!(parsed.as_ref(), Ok(&original), "{object:?}");
            assert_eq!(validate(&original, &EventLimits::default()), Ok(()));
        }
    }

    #[test]
    fn faults_are_reported_with_the_api_wording() {
        let limits = EventLimits::default();
        let mut long_agent = with(EventKind::Log {
            level: LogLevel::Warn,
            message: "m".into(),
        });
        long_agent.agent = "x".repeat(limits.max_name_bytes + 1);
        long_agent.session_id.clear();
        let reason = validate(&long_agent, &limits).unwrap_err();
        assert!(
            reason.contains("field \"session_id\" must not be empty"),
            "{reason}"
        );
        assert!(reason.contains("field \"agent\" is 257 bytes"), "{reason}");

        let nan = with(EventKind::ToolCall {
            tool_name: "t".into(),
            status: ToolStatus::Success,
            duration_seconds: f64::NAN,
            error: None,
        });
        let reason = validate(&nan, &limits).unwrap_err();
        assert!(reason.contains("duration_seconds"), "{reason}");

        let negative = with(EventKind::Step {
            model: "m".into(),
            provider: "p".into(),
            step_type: "chat".into(),
            duration_seconds: -1.0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: None,
        });
        let reason = validate(&negative, &limits).unwrap_err();
        assert!(reason.contains("must not be negative"), "{reason}");
    }
}
