//! Agent events: what an agent reports about its sessions through
//! `POST /api/v1/events`, already validated. The JSON contract is
//! `docs/events.schema.json`; parsing lives in `agentmon_ingest::events`.

use std::collections::BTreeMap;

/// One validated event of one agent session.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    /// The session the event belongs to.
    pub session_id: String,
    /// The agent (program) that ran the session.
    pub agent: String,
    /// The process or host the agent runs on.
    pub instance: String,
    /// When it happened, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// What happened.
    pub kind: EventKind,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A session began; `attributes` are free-form strings.
    SessionStart {
        attributes: BTreeMap<String, String>,
    },
    /// One reasoning step of the model.
    Step {
        model: String,
        provider: String,
        step_type: String,
        duration_seconds: f64,
        prompt_tokens: u64,
        completion_tokens: u64,
        cost_usd: Option<f64>,
    },
    /// One tool call and how it ended.
    ToolCall {
        tool_name: String,
        status: ToolStatus,
        duration_seconds: f64,
        error: Option<String>,
    },
    /// An error answered by the model's API, classified from its message.
    LlmError {
        model: String,
        error: String,
        error_type: LlmErrorType,
    },
    /// A log line of the agent.
    Log { level: LogLevel, message: String },
    /// A session ended.
    SessionEnd {
        status: SessionStatus,
        output: Option<String>,
    },
}

impl EventKind {
    /// The `type` of the event on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::SessionStart { .. } => "session_start",
            EventKind::Step { .. } => "step",
            EventKind::ToolCall { .. } => "tool_call",
            EventKind::LlmError { .. } => "llm_error",
            EventKind::Log { .. } => "log",
            EventKind::SessionEnd { .. } => "session_end",
        }
    }
}

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written on the wire and in labels.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling (exact, lower case).
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum!(
    /// How a tool call ended.
    ToolStatus { Success => "success", Error => "error", Timeout => "timeout" }
);
wire_enum!(
    /// The severity of a `log` event.
    LogLevel { Debug => "debug", Info => "info", Warn => "warn", Error => "error" }
);
wire_enum!(
    /// How a session ended.
    SessionStatus { Completed => "completed", Failed => "failed" }
);
wire_enum!(
    /// The class of an LLM API error, the `error_type` label.
    LlmErrorType {
        RateLimit => "rate_limit",
        ContextTooLong => "context_too_long",
        Timeout => "timeout",
        ApiError => "api_error",
    }
);

impl LlmErrorType {
    /// Classifies an error message the way the Hermes instrumentation does:
    /// the lower-cased message is searched for "rate limit", then "context",
    /// then "timeout", in that order; anything else is an `api_error`.
    pub fn classify(message: &str) -> LlmErrorType {
        let lower = message.to_lowercase();
        if lower.contains("rate limit") {
            LlmErrorType::RateLimit
        } else if lower.contains("context") {
            LlmErrorType::ContextTooLong
        } else if lower.contains("timeout") {
            LlmErrorType::Timeout
        } else {
            LlmErrorType::ApiError
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_order_of_the_checks() {
        let cases = [
            ("Rate limit exceeded", LlmErrorType::RateLimit),
            ("rate limit: context window", LlmErrorType::RateLimit),
            (
                "maximum CONTEXT length exceeded",
                LlmErrorType::ContextTooLong,
            ),
            ("context timeout", LlmErrorType::ContextTooLong),
            ("Request Timeout after 30s", LlmErrorType::Timeout),
            ("rate-limited", LlmErrorType::ApiError),
            ("502 bad gateway", LlmErrorType::ApiError),
            ("", LlmErrorType::ApiError),
        ];
        for (message, expected) in cases {
            assert_eq!(LlmErrorType::classify(message), expected, "{message}");
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for status in ToolStatus::ALL {
            assert_eq!(ToolStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(LogLevel::parse("warning"), None);
        assert_eq!(SessionStatus::parse("Completed"), None);
    }
}
