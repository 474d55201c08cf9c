//! The one error type of this crate, [`IngestError`], and the per-series
//! [`SeriesProblem`] it wraps. Messages name the input position (byte offset,
//! 0-based series index, or 1-based line number) and say how to fix the input.

use std::fmt::Write as _;

use agentmon_model::ModelError;
use thiserror::Error;

/// Why a request, body or line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IngestError {
    /// The (compressed) body is larger than `Limits::max_body_bytes`.
    #[error("request body is {size} bytes, over the limit of {limit} bytes: send smaller batches")]
    BodyTooLarge { size: usize, limit: usize },

    /// The decompressed payload (as declared by the snappy header, or as
    /// handed to `decode`) is larger than `Limits::max_decompressed_bytes`.
    #[error(
        "decompressed request is {declared} bytes, over the limit of {limit} bytes: \
         send smaller batches"
    )]
    DecompressedTooLarge { declared: u64, limit: usize },

    /// The body is not valid snappy block-format data.
    #[error(
        "body is not valid snappy block-format data ({reason}); remote write requires the \
         snappy block format, not the framed/stream format"
    )]
    Snappy { reason: String },

    /// A `Content-Encoding: gzip` body does not inflate.
    #[error("body is not valid gzip data: {reason}")]
    Gzip { reason: String },

    /// The decompressed payload is not a well-formed protobuf message.
    #[error("malformed protobuf in {message} at byte {offset}: {reason}")]
    Protobuf {
        message: &'static str,
        offset: usize,
        reason: &'static str,
    },

    /// One remote-write series is invalid. `index` counts the request's
    /// time series from 0; `labels` shows the labels decoded so far.
    #[error("series {index} ({labels}): {problem}")]
    Series {
        index: usize,
        labels: String,
        problem: SeriesProblem,
    },

    /// One remote-write metadata entry is invalid (`index` counts from 0).
    #[error("metadata entry {index}: {reason}")]
    Metadata { index: usize, reason: String },

    /// A text-format line does not parse. `line` counts from 1.
    #[error("line {line}: {reason}")]
    TextSyntax { line: usize, reason: String },

    /// A JSON line does not parse or lacks something. `line` counts from 1.
    #[error("line {line}: {reason}")]
    JsonSyntax { line: usize, reason: String },

    /// An events body as a whole is unusable: not UTF-8 or JSON, not an
    /// array, empty, or over the event limit.
    #[error("{reason}")]
    EventsBody { reason: String },

    /// Some events are invalid. `faulty` counts them all; `problems` lists
    /// the first of them (bounded by `EventLimits::max_problems_listed`).
    #[error("{faulty} invalid event{}: {}", if *faulty == 1 { "" } else { "s" }, list_problems(problems))]
    Events {
        faulty: usize,
        problems: Vec<EventProblem>,
    },

    /// The labels on a text or JSON line are invalid. `line` counts from 1.
    #[error("line {line} ({labels}): {problem}")]
    LineSeries {
        line: usize,
        labels: String,
        problem: SeriesProblem,
    },

    /// An OTLP/JSON body is not JSON, or a field has the wrong form. `path`
    /// names the field (`resourceMetrics[0].scopeMetrics[0].metrics[2].sum`),
    /// `$` for the body as a whole.
    #[error("OTLP/JSON at {path}: {reason}")]
    OtlpJson { path: String, reason: String },

    /// An OTLP request decoded but breaks a rule of the data model, e.g. a
    /// span id of the wrong length; `at` names the item.
    #[error("{at}: {reason}")]
    OtlpInvalid { at: String, reason: String },

    /// A `scrape_configs` entry (or `global`) is invalid; `at` names it
    /// (`scrape_configs[0] (job "node")`, `relabel_configs[2]`, ...).
    #[error("{at}: {reason}")]
    ScrapeConfig { at: String, reason: String },
}

/// What is wrong with one event of an events request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventProblem {
    /// The event's position in the request, from 0.
    pub index: usize,
    /// For NDJSON, the line the event is on, from 1.
    pub line: Option<usize>,
    /// Every reason, joined by "; ".
    pub reason: String,
}

impl std::fmt::Display for EventProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "event {} (line {line}): {}", self.index, self.reason),
            None => write!(f, "event {}: {}", self.index, self.reason),
        }
    }
}

fn list_problems(problems: &[EventProblem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// What is wrong with one series' labels or payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SeriesProblem {
    /// A label rule of the data model is broken (sorting, names, values).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// More labels than `Limits::max_labels_per_series`.
    #[error("{count} labels, over the limit of {limit} labels per series")]
    TooManyLabels { count: usize, limit: usize },
    /// A name longer than `Limits::max_label_name_bytes` (shown cut short).
    #[error("label name {prefix:?} is {len} bytes, over the limit of {limit} bytes")]
    LabelNameTooLong {
        prefix: String,
        len: usize,
        limit: usize,
    },
    /// A value longer than `Limits::max_label_value_bytes`.
    #[error("value of label {name:?} is {len} bytes, over the limit of {limit} bytes")]
    LabelValueTooLong {
        name: String,
        len: usize,
        limit: usize,
    },
    /// A label name or value is not valid UTF-8; `field` says which.
    #[error("label {field} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    /// The series carries native histograms, which agentmon cannot store yet.
    #[error(
        "native histograms are not supported yet: configure the sender to send classic \
         histograms (for Prometheus, leave native-histogram remote write off)"
    )]
    NativeHistograms,
}

/// Renders labels as `{__name__="up", job="x"}` for error messages, cut
/// short after a few hundred bytes so that hostile input can't make huge errors.
pub(crate) fn describe_labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    const MAX: usize = 300;
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if out.len() > MAX {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}={:?}", truncated(name, 64), truncated(value, 128));
    }
    out.push('}');
    out
}

/// The first `max` bytes of `s` (at a char boundary), with `…` if cut.
pub(crate) fn truncated(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_errors_read_like_the_spec_example() {
        let e = IngestError::Series {
            index: 3,
            labels: describe_labels([("__name__", "up"), ("job", "x")]),
            problem: ModelError::InvalidLabelName { name: "2xx".into() }.into(),
        };
        assert_eq!(
            e.to_string(),
            "series 3 ({__name__=\"up\", job=\"x\"}): label name \"2xx\" is invalid: \
             must match [a-zA-Z_][a-zA-Z0-9_]*"
        );
    }

    #[test]
    fn long_label_sets_are_cut_short() {
        let long = "v".repeat(1000);
        let pairs: Vec<(&str, &str)> = (0..20).map(|_| ("a", long.as_str())).collect();
        let s = describe_labels(pairs);
        assert!(s.len() < 700, "{}", s.len());
        assert!(s.ends_with(", …}"));
        assert_eq!(truncated("héllo", 2), "h…");
    }
}
