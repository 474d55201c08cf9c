//! The one error type of the crate: everything a query can fail with.

use thiserror::Error;

/// Why a PromQL query could not be evaluated. Messages follow Prometheus's
/// wording where Prometheus has one, so conformance scripts that match on
/// error text keep working.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PromqlError {
    /// The query text is not valid PromQL.
    #[error("parse error: {message}")]
    Parse { message: String },
    /// The query uses a feature this engine does not evaluate yet.
    #[error("not implemented yet: {feature}")]
    NotImplemented { feature: String },
    /// Reading series from storage failed.
    #[error("storage error while selecting {selector}: {message}")]
    Storage { selector: String, message: String },
    /// A matcher of a selector could not be built (for example a bad regex).
    #[error("invalid matcher in {selector}: {message}")]
    InvalidMatcher { selector: String, message: String },
    /// A function was called with an argument it cannot use.
    #[error("invalid argument to {function}(): {message}")]
    FunctionArgument { function: String, message: String },
    /// The result would hold two series with the same labels.
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
    /// Vector matching found several series for one match group on the side
    /// that must be unique.
    #[error("found duplicate series for the match group {group} on the {side} hand-side of the operation: [{first}, {second}];many-to-many matching not allowed: matching labels must be unique on one side")]
    DuplicateMatchGroup {
        group: String,
        side: &'static str,
        first: String,
        second: String,
    },
    /// One-to-one matching produced one output series twice.
    #[error("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")]
    ManyToOneNotExplicit,
    /// Many-to-one matching produced one output series twice.
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    /// A range query was given an expression whose type cannot be graphed.
    #[error("invalid expression type \"{value_type}\" for range query, must be Scalar or instant Vector")]
    InvalidRangeQueryType { value_type: &'static str },
    /// The query's time parameters make no sense (zero step, end before start).
    #[error("invalid query range: {reason}")]
    InvalidRange { reason: &'static str },
    /// An operand or parameter has the wrong type for where it is used.
    #[error("expected type {expected} in {context}, got {got}")]
    UnexpectedType {
        expected: &'static str,
        context: &'static str,
        got: &'static str,
    },
    /// A `topk`/`bottomk` parameter does not fit an int64 (or is NaN).
    #[error("Scalar value {value} overflows int64")]
    ScalarOverflowsInt64 { value: String },
    /// `limit_ratio` was given a NaN ratio.
    #[error("Ratio value NaN is NaN")]
    RatioIsNaN,
    /// `count_values` was given a label name that is not valid.
    #[error("invalid label name {name:?}")]
    InvalidLabelName { name: String },
    /// The query ran past its deadline (Prometheus's `timeout` error type).
    #[error("query timed out in {phase}")]
    Timeout { phase: &'static str },
    /// The query was canceled, for example because its client went away.
    #[error("query was canceled in {phase}")]
    Canceled { phase: &'static str },
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {phase}")]
    TooManySamples { phase: &'static str },
    /// A conformance script could not set up its test store.
    #[error("promqltest setup failed: {message}")]
    TestSetup { message: String },
}
