//! A parser for Prometheus's promqltest scripting language, the format of the
//! PromQL conformance suite (`promql/promqltest/README.md` in the Prometheus
//! tree). It only parses: [`parse`] turns a script into a [`Script`] of typed
//! [`Command`]s, and a runner elsewhere loads the data and evaluates the
//! queries.
//!
//! A script is a sequence of commands, each a first line plus an indented
//! block that ends at the next blank or comment line:
//!
//! - `load <interval>` (or `load_with_nhcb`) followed by series lines becomes
//!   [`Command::Load`], its values expanded to timestamped [`LoadPoint`]s.
//! - `clear` becomes [`Command::Clear`].
//! - `eval instant at <t> <expr>` and `eval range from <a> to <b> step <s>
//!   <expr>` become [`Command::Eval`]: the query text is kept unparsed, and
//!   the block's `expect …` lines and expected results are collected in an
//!   [`EvalCommand`]. The deprecated forms (`eval_fail`, `eval_warn`,
//!   `eval_info`, `eval_ordered`, `expected_fail_message`,
//!   `expected_fail_regexp`) are folded into the same [`Expectation`]s.
//!
//! Native-histogram literals (`{{schema:1 sum:3 …}}`) are recognised and kept
//! as raw text in [`HistogramLiteral`] so that a float-only runner can skip
//! the commands that use them.

mod compare;
mod error;
mod literal;
pub mod runner;
mod script;
mod series;

use agentmon_model::Labels;

pub use error::ParseError;
pub use script::parse;

/// A parsed script: its commands in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub commands: Vec<Command>,
}

/// One command of a script. Every command knows the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `load <interval>` or `load_with_nhcb <interval>`: add series.
    Load {
        line: usize,
        /// The step between consecutive values of each series.
        interval_ms: i64,
        /// `load_with_nhcb`: classic histogram series (`_bucket`, `_sum`,
        /// `_count`) are also loaded as native histograms with custom buckets.
        with_nhcb: bool,
        series: Vec<LoadSeries>,
    },
    /// `clear`: drop everything loaded so far.
    Clear { line: usize },
    /// `eval …`: run a query and check its outcome.
    Eval(EvalCommand),
}

impl Command {
    /// The 1-based line the command starts on.
    pub fn line(&self) -> usize {
        match self {
            Command::Load { line, .. } | Command::Clear { line } => *line,
            Command::Eval(eval) => eval.line,
        }
    }
}

/// One series of a `load` block with its values placed on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSeries {
    /// The 1-based line the series is defined on.
    pub line: usize,
    pub labels: Labels,
    /// Points in time order; a `_` in the script leaves no point.
    pub points: Vec<LoadPoint>,
}

/// One point of a loaded series; the n-th value of a line sits at
/// `t_ms = n * interval_ms`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPoint {
    /// A float sample.
    Value { t_ms: i64, v: f64 },
    /// A Prometheus staleness marker ([`agentmon_model::STALE_NAN`]).
    Stale { t_ms: i64 },
    /// A native-histogram sample, kept unparsed.
    Histogram {
        t_ms: i64,
        literal: HistogramLiteral,
    },
}

impl LoadPoint {
    /// The point's timestamp in milliseconds.
    pub fn t_ms(&self) -> i64 {
        match self {
            LoadPoint::Value { t_ms, .. }
            | LoadPoint::Stale { t_ms }
            | LoadPoint::Histogram { t_ms, .. } => *t_ms,
        }
    }
}

/// A native-histogram value as written, e.g. `{{schema:0 sum:1 count:1}}x5`.
/// Its internals are not parsed: a float-only runner skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramLiteral {
    /// The whole item as written, including any `xN` or `+{{…}}xN` suffix.
    pub text: String,
    /// Which value of the item's expansion this is (0 for the first), so that
    /// `{{a}}+{{b}}x3` at position 2 means `a + 2·b`.
    pub position: u64,
}

/// One expanded value of a series line, in position order.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceValue {
    /// `_`: no value at this position.
    Missing,
    /// A float value.
    Float(f64),
    /// `stale`: a staleness marker.
    Stale,
    /// A native-histogram literal.
    Histogram(HistogramLiteral),
}

/// When a query is evaluated. Times are offsets from the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    /// `eval instant at <t>`.
    Instant { at_ms: i64 },
    /// `eval range from <start> to <end> step <step>`.
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// An `eval` command with everything its block expects.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCommand {
    /// The 1-based line of the `eval` line.
    pub line: usize,
    pub kind: EvalKind,
    /// The PromQL expression, unparsed.
    pub expr: String,
    /// The `expect` lines in order, plus those implied by a deprecated
    /// `eval_*` form or `expected_fail_*` line.
    pub expectations: Vec<Expectation>,
    /// Results must come in the listed order (`expect ordered` or
    /// `eval_ordered`).
    pub ordered: bool,
    /// The deprecated `eval_*` form the command was written in, if any.
    pub deprecated_form: Option<DeprecatedEvalForm>,
    /// `expect range vector from <a> to <b> step <s>`: an instant query whose
    /// result is a range vector with these timestamps.
    pub range_vector: Option<RangeVectorWindow>,
    /// The expected result.
    pub result: ExpectedResult,
}

impl EvalCommand {
    /// Whether the query is expected to fail.
    pub fn expects_failure(&self) -> bool {
        self.expectations
            .iter()
            .any(|e| matches!(e, Expectation::Fail(_)))
    }

    /// Whether any expected value is a native histogram.
    pub fn has_histogram_literals(&self) -> bool {
        match &self.result {
            ExpectedResult::Series(series) => series.iter().any(|s| {
                s.values
                    .iter()
                    .any(|v| matches!(v, SequenceValue::Histogram(_)))
            }),
            ExpectedResult::Scalar(_) | ExpectedResult::String(_) => false,
        }
    }
}

/// The deprecated `eval_*` spellings, kept so a runner can report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeprecatedEvalForm {
    Fail,
    Warn,
    Info,
    Ordered,
}

/// The timestamps of an expected range-vector result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeVectorWindow {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// One `expect` line (or its deprecated equivalent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// `expect fail`: the query must fail with a matching error.
    Fail(MessageMatch),
    /// `expect warn`: at least one matching warning annotation.
    Warn(MessageMatch),
    /// `expect info`: at least one matching info annotation.
    Info(MessageMatch),
    /// `expect no_warn`: no warning annotations.
    NoWarn,
    /// `expect no_info`: no info annotations.
    NoInfo,
    /// `expect ordered`: results in the listed order.
    Ordered,
}

/// How an error or annotation message must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageMatch {
    /// Any message.
    Any,
    /// `msg: <text>`: exactly this text (surrounding spaces trimmed, quotes
    /// kept as written, as Prometheus does).
    Exact(String),
    /// `regex: <pattern>`: an unanchored regular expression, checked to compile.
    Regex(String),
}

/// What an `eval` block expects the query to return.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedResult {
    /// A vector or matrix: these series, possibly none.
    Series(Vec<ExpectedSeries>),
    /// A scalar, written as a bare number line (`3`, `+Inf`, `NaN`).
    Scalar(f64),
    /// A string, written `expect string "…"`.
    String(String),
}

/// One expected series. For a range query the n-th value belongs to
/// `start + n·step`; for an instant query there is at most one value (unless a
/// range-vector window is given).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    /// The 1-based line the series is written on.
    pub line: usize,
    /// The labels; `{} 3` has none and a result may lack `__name__`.
    pub labels: Labels,
    pub values: Vec<SequenceValue>,
}

#[cfg(test)]
mod tests;
