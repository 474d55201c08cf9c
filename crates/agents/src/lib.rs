//! Metrics derived from agent events: the Hermes metric set, kept in
//! process and updated by every accepted `POST /api/v1/events` request.
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
//! - [`AgentMetrics::render`] writes the Prometheus text format 0.0.4 with
//!   `# HELP` and `# TYPE` (served at `GET /metrics/agents`), and
//!   [`AgentMetrics::samples`] lists every series' current value with sorted
//!   labels, as a scrape of that page would store it.
//!
//! This is its own crate because it is neither a decoder of outside input
//! (`ingest`) nor HTTP (`server`): it is state with its own rules (session
//! tracking, timeouts, pricing), and the rules of later issues build on it.

pub mod families;
pub mod genai;
pub mod pricing;
mod registry;
mod render;
pub mod semconv;

pub use genai::{map_spans, GenAiBatch, SkippedSpan};
pub use pricing::{Price, PriceSource, PriceTable};
pub use registry::{AgentMetrics, AgentMetricsOptions};
pub use semconv::{Instrument, Observation, TokenType};

#[cfg(test)]
mod tests;
