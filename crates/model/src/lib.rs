//! The data model every other agentmon crate speaks, with no I/O.
//!
//! - [`Labels`] is a validated, name-sorted label set; [`LabelRef`] borrows one
//!   pair from a request buffer so the ingest hot path can validate without
//!   allocating.
//! - [`Matcher`] selects series by label with Prometheus's four matcher types;
//!   regular expressions are fully anchored as in PromQL.
//! - [`Sample`] is a float value at a millisecond timestamp; [`STALE_NAN`] is
//!   Prometheus's staleness marker, a NaN with a specific bit pattern that must
//!   survive storage bit for bit.
//! - [`MetricMetadata`] carries the type, help and unit of a metric family.
//! - [`SeriesBatch`] is what ingest hands to storage: many series with their
//!   samples, labels borrowed from the request buffer, validated whole.
//! - [`AgentEvent`] is one validated event of an agent session (session
//!   start/end, step, tool call, LLM error, log), as `POST /api/v1/events`
//!   takes them.
//! - [`Alert`] is one alert as rules send it and Alertmanager's API v2
//!   carries it.
//! - [`calendar`] converts between dates and days since 1970 (UTC) and
//!   parses RFC 3339 times.
//! - [`FastHashState`] keys the hash maps of the hot paths whose keys come
//!   from clients (session ids, label values): fast, and keyed at random so
//!   collisions cannot be planned from outside.
//! - [`duration`] and [`size`] parse the Prometheus-style durations (`15d`,
//!   `1h30m`) and byte sizes (`512MB`) used in flags and configuration.

mod alert;
mod api_name;
mod batch;
pub mod calendar;
pub mod duration;
mod error;
mod event;
mod fast_hash;
mod labels;
mod matcher;
mod metadata;
mod sample;
pub mod size;

pub use alert::Alert;
pub use api_name::{is_api_name, API_NAME_MAX_LEN};
pub use batch::{BatchSeries, SeriesBatch};
pub use error::ModelError;
pub use event::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};
pub use fast_hash::{FastHashMap, FastHashState};
pub use labels::{
    validate_label_name, validate_label_value, validate_metric_name, validate_wire_labels, Label,
    LabelRef, Labels, METRIC_NAME_LABEL,
};
pub use matcher::{MatchType, Matcher};
pub use metadata::{MetricMetadata, MetricType};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
