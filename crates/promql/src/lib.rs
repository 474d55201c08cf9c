//! The PromQL side of agentmon: the query engine and its conformance tooling.
//!
//! - [`Engine`] evaluates a PromQL expression (parsed by the `promql-parser`
//!   crate) at an instant or over a range, with Prometheus 3.x semantics:
//!   lookback, staleness, `offset`, `@`, left-open range windows, subqueries,
//!   operators with vector matching. It reads data through the narrow
//!   [`Storage`] seam, which [`agentmon_tsdb::Db`] implements. Results are
//!   [`Value`]s, with the warnings and infos Prometheus would give in
//!   [`Annotations`].
//! - [`promqltest`] parses the promqltest scripts of the Prometheus
//!   conformance suite and, with [`promqltest::runner`], runs them against
//!   the engine on a real TSDB and reports what passed, failed or was skipped.
//! - [`SharedReads`] wraps a [`Storage`] for a batch of queries at one time
//!   (a rule group's evaluation) so each selector is read once.
//! - [`PromqlError`] is everything a query can fail with.

mod annotations;
pub mod engine;
mod error;
pub mod promqltest;
mod shared_reads;
mod storage;
mod value;

pub use annotations::Annotations;
pub use engine::{parse_expr, Engine, EngineOptions, Query, QueryKind, QueryOutput};
pub use error::PromqlError;
pub use shared_reads::{ReadPlan, SharedReads};
pub use storage::{SelectError, Selected, Storage};
pub use value::{InstantSample, RangeSeries, Value};
