//! The derived metric families: names (after the namespace), help texts,
//! labels and buckets exactly as the Hermes instrumentation defines them.

/// What kind of metric a family is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A classic histogram with these upper bounds (`+Inf` is implied).
    Histogram(&'static [f64]),
}

impl Kind {
    /// The `# TYPE` word.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

/// One family of the registry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Family {
    /// The name after `<namespace>_`.
    pub suffix: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// Labels beyond `agent` and `instance`, in this order.
    pub labels: &'static [&'static str],
}

/// Labels every series carries first.
pub const COMMON_LABELS: [&str; 2] = ["agent", "instance"];

pub const REQUEST_DURATION: Family = Family {
    suffix: "request_duration_seconds",
    help: "End-to-end request latency",
    kind: Kind::Histogram(&[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]),
    labels: &["method", "endpoint", "status"],
};
pub const STEP_DURATION: Family = Family {
    suffix: "step_duration_seconds",
    help: "Duration of a single reasoning step",
    kind: Kind::Histogram(&[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]),
    labels: &["model", "step_type"],
};
pub const TOOL_CALLS: Family = Family {
    suffix: "tool_call_total",
    help: "Total tool calls by name and status",
    kind: Kind::Counter,
    labels: &["tool_name", "status"],
};
pub const TOOL_DURATION: Family = Family {
    suffix: "tool_duration_seconds",
    help: "Tool execution duration",
    kind: Kind::Histogram(&[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0]),
    labels: &["tool_name"],
};
pub const TOKENS: Family = Family {
    suffix: "tokens_total",
    help: "Total tokens consumed",
    kind: Kind::Counter,
    labels: &["model", "token_type"],
};
/// Hermes labels this gauge by `instance` only; here `agent` joins it.
pub const ACTIVE_SESSIONS: Family = Family {
    suffix: "active_sessions",
    help: "Number of currently active sessions",
    kind: Kind::Gauge,
    labels: &[],
};
pub const SESSION_STEPS: Family = Family {
    suffix: "session_steps_total",
    help: "Steps per completed session",
    kind: Kind::Histogram(&[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]),
    labels: &[],
};
pub const COST: Family = Family {
    suffix: "cost_usd_total",
    help: "Cumulative API cost in USD",
    kind: Kind::Counter,
    labels: &["model", "provider"],
};
pub const LLM_ERRORS: Family = Family {
    suffix: "llm_errors_total",
    help: "LLM API errors by type",
    kind: Kind::Counter,
    labels: &["model", "error_type"],
};

/// Not in the Hermes instrumentation: tokens of steps that came without
/// `cost_usd` and whose model has no price, so a missing price is visible
/// instead of a silent $0.
pub const UNPRICED_TOKENS: Family = Family {
    suffix: "cost_unpriced_tokens_total",
    help: "Tokens of steps whose model has no price (not counted in cost_usd_total)",
    kind: Kind::Counter,
    labels: &["model"],
};

/// Not in the Hermes instrumentation: over the open sessions of an agent
/// instance, the most calls of one tool within one session (what the
/// `tool_loop` alert preset watches). Computed when rendered.
pub const SESSION_MAX_TOOL_CALLS: Family = Family {
    suffix: "session_max_tool_calls",
    help: "Most calls of one tool within one open session",
    kind: Kind::Gauge,
    labels: &["tool_name"],
};
/// Not in the Hermes instrumentation: the highest cost of one open session
/// of an agent instance so far (what the `session_budget` alert preset
/// watches). Computed when rendered.
pub const SESSION_MAX_COST: Family = Family {
    suffix: "session_max_cost_usd",
    help: "Highest cost in USD so far of one open session",
    kind: Kind::Gauge,
    labels: &[],
};

/// The families computed from the open sessions when rendered, after
/// [`ALL`].
pub const PER_SESSION: [Family; 2] = [SESSION_MAX_TOOL_CALLS, SESSION_MAX_COST];

/// Every family kept as series, in the order they are rendered.
pub const ALL: [Family; 10] = [
    REQUEST_DURATION,
    STEP_DURATION,
    TOOL_CALLS,
    TOOL_DURATION,
    TOKENS,
    ACTIVE_SESSIONS,
    SESSION_STEPS,
    COST,
    UNPRICED_TOKENS,
    LLM_ERRORS,
];

/// The request-duration labels of a finished session: Hermes observes its
/// `run_session` as `POST /run` with status `success` or `error`.
pub const SESSION_METHOD: &str = "POST";
pub const SESSION_ENDPOINT: &str = "/run";
