//! The OpenTelemetry GenAI semantic-convention histograms, computed on the
//! server from GenAI spans
//! (<https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/>).
//!
//! Their names are the semconv instrument names as an OTLP → Prometheus
//! translation writes them (dots to `_`, unit `s` as `_seconds`, `{token}`
//! dropped), so they are not under `agents.namespace`. Labels are the
//! semconv attributes with `.` as `_`; an attribute that is absent leaves
//! its label out. Every series also carries `agent` and `instance`.
//!
//! The number of series per family is capped at [`MAX_SERIES_PER_FAMILY`]:
//! once a family is full, observations of new label sets go to one overflow
//! series whose every label (`agent` and `instance` included) is
//! [`OVERFLOW_VALUE`], the way OpenTelemetry SDKs fold what exceeds their
//! cardinality limit into one series.

use crate::families::{Family, Kind};

/// Advisory bucket boundaries of `gen_ai.client.operation.duration`, in
/// seconds. The semconv gives none for tool and agent durations; they use
/// these too.
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// Advisory bucket boundaries of `gen_ai.client.token.usage`.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// `gen_ai.client.operation.duration`, for model calls (chat,
/// text_completion, generate_content, embeddings).
pub const OPERATION_DURATION: Family = Family {
    suffix: "gen_ai_client_operation_duration_seconds",
    help: "GenAI operation duration (from gen_ai spans)",
    kind: Kind::Histogram(DURATION_BUCKETS),
    labels: &[
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "error_type",
    ],
};

/// `gen_ai.client.token.usage`: one observation per token type a span
/// reports.
pub const TOKEN_USAGE: Family = Family {
    suffix: "gen_ai_client_token_usage",
    help: "Number of input and output tokens used (from gen_ai spans)",
    kind: Kind::Histogram(TOKEN_BUCKETS),
    labels: &[
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "gen_ai_token_type",
    ],
};

/// Durations of `execute_tool` spans.
pub const EXECUTE_TOOL_DURATION: Family = Family {
    suffix: "gen_ai_execute_tool_duration_seconds",
    help: "GenAI tool execution duration (from execute_tool spans)",
    kind: Kind::Histogram(DURATION_BUCKETS),
    labels: &["gen_ai_tool_name", "error_type"],
};

/// Durations of `invoke_agent` spans, nested ones included.
pub const INVOKE_AGENT_DURATION: Family = Family {
    suffix: "gen_ai_invoke_agent_duration_seconds",
    help: "GenAI agent invocation duration (from invoke_agent spans)",
    kind: Kind::Histogram(DURATION_BUCKETS),
    labels: &["gen_ai_agent_name", "gen_ai_provider_name", "error_type"],
};

/// Every semconv family, in the order they are rendered (after the
/// namespaced families). Their `suffix` is the whole name.
pub const ALL: [Family; 4] = [
    OPERATION_DURATION,
    TOKEN_USAGE,
    EXECUTE_TOOL_DURATION,
    INVOKE_AGENT_DURATION,
];

/// Most series one semconv family keeps before folding new label sets into
/// the overflow series.
pub const MAX_SERIES_PER_FAMILY: usize = 2_000;

/// The value of every label of the overflow series.
pub const OVERFLOW_VALUE: &str = "_OTHER";

/// `gen_ai.token.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenType {
    Input,
    Output,
}

impl TokenType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Input => "input",
            TokenType::Output => "output",
        }
    }
}

/// Which histogram an [`Observation`] goes to, with the label values that
/// family takes. `None` leaves the label out.
#[derive(Debug, Clone, PartialEq)]
pub enum Instrument {
    /// [`OPERATION_DURATION`]
    OperationDuration {
        operation_name: String,
        provider_name: Option<String>,
        request_model: Option<String>,
        response_model: Option<String>,
        error_type: Option<String>,
    },
    /// [`TOKEN_USAGE`]
    TokenUsage {
        operation_name: String,
        provider_name: Option<String>,
        request_model: Option<String>,
        response_model: Option<String>,
        token_type: TokenType,
    },
    /// [`EXECUTE_TOOL_DURATION`]
    ExecuteToolDuration {
        tool_name: String,
        error_type: Option<String>,
    },
    /// [`INVOKE_AGENT_DURATION`]
    InvokeAgentDuration {
        agent_name: Option<String>,
        provider_name: Option<String>,
        error_type: Option<String>,
    },
}

impl Instrument {
    /// The family this instrument records into.
    pub fn family(&self) -> Family {
        match self {
            Instrument::OperationDuration { .. } => OPERATION_DURATION,
            Instrument::TokenUsage { .. } => TOKEN_USAGE,
            Instrument::ExecuteToolDuration { .. } => EXECUTE_TOOL_DURATION,
            Instrument::InvokeAgentDuration { .. } => INVOKE_AGENT_DURATION,
        }
    }

    /// The label values in the order of the family's `labels`, `""` for an
    /// absent attribute.
    pub fn label_values(&self) -> Vec<&str> {
        fn or_empty(value: &Option<String>) -> &str {
            value.as_deref().unwrap_or("")
        }
        match self {
            Instrument::OperationDuration {
                operation_name,
                provider_name,
                request_model,
                response_model,
                error_type,
            } => vec![
                operation_name,
                or_empty(provider_name),
                or_empty(request_model),
                or_empty(response_model),
                or_empty(error_type),
            ],
            Instrument::TokenUsage {
                operation_name,
                provider_name,
                request_model,
                response_model,
                token_type,
            } => vec![
                operation_name,
                or_empty(provider_name),
                or_empty(request_model),
                or_empty(response_model),
                token_type.as_str(),
            ],
            Instrument::ExecuteToolDuration {
                tool_name,
                error_type,
            } => vec![tool_name, or_empty(error_type)],
            Instrument::InvokeAgentDuration {
                agent_name,
                provider_name,
                error_type,
            } => vec![
                or_empty(agent_name),
                or_empty(provider_name),
                or_empty(error_type),
            ],
        }
    }
}

/// One value for one semconv histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The `agent` label.
    pub agent: String,
    /// The `instance` label.
    pub instance: String,
    pub instrument: Instrument,
    /// Seconds for durations, a count for token usage; finite and ≥ 0.
    pub value: f64,
}
