//! Metrics derived from agent events: the Hermes metric set, kept in
//! process and updated by every accepted `POST /api/v1/events` request;
//! and the OpenTelemetry GenAI semconv histograms, with the mapping of
//! GenAI spans to agent events that feeds both.
//!
//! - [`families`] defines the families with the names, labels and buckets of
//!   the Hermes instrumentation (`hermes_step_duration_seconds`,
//!   `hermes_tool_call_total`, …), under a configurable namespace. Every
//!   series also carries `agent` and `instance`.
//! - [`AgentMetrics`] is the registry: [`AgentMetrics::apply`] folds a
//!   validated batch of [`agentmon_model::AgentEvent`]s in under one lock (it
//!   cannot fail, so a batch is applied whole), tracks open sessions and
//!   closes those silent for longer than the session timeout.
//! - [`pricing`] holds the built-in, versioned price table and the
//!   `pricing:` overrides. A step's cost is the client's `cost_usd`, else
//!   its tokens at the model's price (counted in `cost_usd_total`); a step
//!   of a model with no price adds its tokens to
//!   `cost_unpriced_tokens_total{model}` instead, and the first such step
//!   of each model logs a warning.
//! - [`genai`] turns one decoded OTLP traces request into a
//!   [`GenAiBatch`] ([`TraceSessions::map`], which keeps a trace's spans
//!   in one session across requests, or [`map_spans`]): agent events from
//!   GenAI spans (`chat` → `step`, `execute_tool` → `tool_call`, root
//!   `invoke_agent` → `session_start`/`session_end`, …), each checked by
//!   the events API's rules, semconv [`Observation`]s, and the spans refused with their
//!   reasons. [`AgentMetrics::apply_genai`] folds a batch in under one
//!   lock. The rules are in `docs/genai.md`.
//! - [`semconv`] defines the four GenAI histograms
//!   (`gen_ai_client_operation_duration_seconds`,
//!   `gen_ai_client_token_usage`, `gen_ai_execute_tool_duration_seconds`,
//!   `gen_ai_invoke_agent_duration_seconds`) with the semconv's bucket
//!   boundaries. Their names are fixed by the semconv, not under the
//!   namespace, and each keeps a bounded number of series.
//! - [`AgentMetrics::render`] writes the Prometheus text format 0.0.4 with
//!   `# HELP` and `# TYPE` (served at `GET /metrics/agents`), and
//!   [`AgentMetrics::samples`] lists every series' current value with sorted
//!   labels, as a scrape of that page would store it.
//!
//! This is its own crate because it is neither a decoder of outside input
//! (`ingest`) nor HTTP (`server`): it is state with its own rules (session
//! tracking, timeouts, pricing), and the rules of later issues build on it.
//! It depends on `ingest` for the OTLP trace model and the event checks.

pub mod families;
pub mod genai;
pub mod pricing;
mod registry;
mod render;
pub mod semconv;
mod series;

pub use genai::{map_spans, GenAiBatch, SkippedSpan, TraceSessions, DEFAULT_TRACE_CAPACITY};
pub use pricing::{Price, PriceSource, PriceTable};
pub use registry::{AgentMetrics, AgentMetricsOptions, ExpiredSession, Pending};
pub use semconv::{Instrument, Observation, TokenType};

#[cfg(test)]
mod tests;
