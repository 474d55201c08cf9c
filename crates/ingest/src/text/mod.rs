//! The Prometheus text exposition format 0.0.4, as accepted by
//! `POST /api/v1/import/prometheus` and read from scrapes ([`parse`]), and
//! OpenMetrics 1.0 text as scrapes negotiate it ([`parse_openmetrics`]).
//!
//! Accepted lines:
//! - blank lines and `#` comments;
//! - `# HELP name text` (escapes `\\` and `\n`), `# TYPE name type` and the
//!   OpenMetrics `# UNIT name unit`; a second HELP, TYPE or UNIT for one
//!   family is an error, as in Prometheus;
//! - samples `name[{label="value",...}] value [timestamp_ms]`, with
//!   whitespace allowed around label tokens and a trailing comma in the label
//!   set. Label values take the escapes `\\`, `\"` and `\n`; a label with an
//!   empty value means "no label" and is dropped.
//!
//! Values follow Go's `strconv.ParseFloat` (which Prometheus uses) for
//! decimal input: `NaN`, `Inf`, `+Inf`, `-Inf` and `Infinity`, any letter
//! case; a sign is allowed on infinities, not on NaN. Hex floats and digit
//! underscores are not accepted. Timestamps are integer milliseconds and may
//! be negative. The text format cannot express the stale marker: a `NaN`
//! here is an ordinary NaN.
//!
//! OpenMetrics 1.0 (<https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md>)
//! differs in what a scraper sees: the body must end with a `# EOF` line and
//! nothing may follow it; timestamps are seconds (with a fraction) and are
//! stored as milliseconds; an exemplar (` # {labels} value [timestamp]` after
//! a sample) is ignored. Counters are declared by their family name
//! (`# TYPE requests counter`) and their samples are named `requests_total`;
//! `_created`, `_count`, `_sum` and `_bucket` samples are stored as the
//! series they name, as Prometheus does by default.

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use agentmon_model::{
    validate_label_name, validate_metric_name, Labels, MetricMetadata, MetricType, ModelError,
    Sample, METRIC_NAME_LABEL,
};

use crate::error::describe_labels;
use crate::{IngestError, Limits, SeriesProblem};

/// The samples and metadata of one text-format body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Every sample line, in input order, with validated, sorted labels.
    pub samples: Vec<(Labels, Sample)>,
    /// One entry per family that had HELP, TYPE or UNIT, in order of first mention.
    pub metadata: Vec<(String, MetricMetadata)>,
}

/// Which metadata lines a family has had, to reject repeats.
#[derive(Default, Clone, Copy)]
struct Seen {
    help: bool,
    kind: bool,
    unit: bool,
}

/// Parses a whole text-format body of at most `limits.max_body_bytes`.
/// Lines without a timestamp get `default_timestamp_ms`. The first error is returned with its 1-based line.
pub fn parse(
    input: &str,
    default_timestamp_ms: i64,
    limits: &Limits,
) -> Result<Exposition, IngestError> {
    parse_format(input, default_timestamp_ms, limits, false)
}

/// Parses an OpenMetrics 1.0 text body (see the module docs for what
/// differs from [`parse`]).
pub fn parse_openmetrics(
    input: &str,
    default_timestamp_ms: i64,
    limits: &Limits,
) -> Result<Exposition, IngestError> {
    parse_format(input, default_timestamp_ms, limits, true)
}

fn parse_format(
    input: &str,
    default_timestamp_ms: i64,
    limits: &Limits,
    open_metrics: bool,
) -> Result<Exposition, IngestError> {
    if input.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            size: input.len(),
            limit: limits.max_body_bytes,
        });
    }
    let mut out = Exposition::default();
    let mut families: HashMap<String, (usize, Seen)> = HashMap::new();
    let mut eof_line = None;
    let line_count = input.split('\n').count();
    for (i, raw) in input.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if open_metrics {
            if let Some(eof) = eof_line {
                if !(line.is_empty() && line_no == line_count) {
                    return Err(IngestError::TextSyntax {
                        line: line_no,
                        reason: format!("text after the # EOF line {eof}: OpenMetrics ends there"),
                    });
                }
                continue;
            }
            if line == "# EOF" {
                eof_line = Some(line_no);
                continue;
            }
        }
        let line = line.trim_start_matches([' ', '\t']);
        if line.trim_end_matches([' ', '\t']).is_empty() {
            continue;
        }
        let syntax = |reason: String| IngestError::TextSyntax {
            line: line_no,
            reason,
        };
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((name, directive)) = parse_directive(comment).map_err(syntax)? {
                let (slot, seen) = families.entry(name.to_owned()).or_insert_with(|| {
                    out.metadata
                        .push((name.to_owned(), MetricMetadata::default()));
                    (out.metadata.len() - 1, Seen::default())
                });
                let meta = &mut out.metadata[*slot].1;
                let keyword = directive.keyword();
                let repeated = match directive {
                    Directive::Help(text) => {
                        meta.help = text;
                        std::mem::replace(&mut seen.help, true)
                    }
                    Directive::Type(kind) => {
                        meta.metric_type = kind;
                        std::mem::replace(&mut seen.kind, true)
                    }
                    Directive::Unit(unit) => {
                        meta.unit = unit.to_owned();
                        std::mem::replace(&mut seen.unit, true)
                    }
                };
                if repeated {
                    return Err(syntax(format!(
                        "second # {keyword} line for metric family {name:?}: each family may \
                         have one"
                    )));
                }
            }
            continue;
        }
        let (pairs, value, timestamp) = parse_sample_line(line, open_metrics).map_err(syntax)?;
        let labels =
            build_labels(pairs, limits).map_err(|(labels, problem)| IngestError::LineSeries {
                line: line_no,
                labels,
                problem,
            })?;
        let t = timestamp.unwrap_or(default_timestamp_ms);
        out.samples.push((labels, Sample::new(t, value)));
    }
    if open_metrics && eof_line.is_none() {
        return Err(IngestError::TextSyntax {
            line: line_count,
            reason: "OpenMetrics body does not end with a # EOF line: it may be truncated"
                .to_owned(),
        });
    }
    Ok(out)
}

/// A recognised metadata comment.
enum Directive<'a> {
    Help(String),
    Type(MetricType),
    Unit(&'a str),
}

impl Directive<'_> {
    fn keyword(&self) -> &'static str {
        match self {
            Directive::Help(_) => "HELP",
            Directive::Type(_) => "TYPE",
            Directive::Unit(_) => "UNIT",
        }
    }
}

/// Splits off the next blank-separated token.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(end) => (&s[..end], &s[end..]),
        None => (s, ""),
    }
}

/// Parses the text after `#`: `Ok(None)` for a plain comment.
fn parse_directive(comment: &str) -> Result<Option<(&str, Directive<'_>)>, String> {
    let (keyword, rest) = token(comment);
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Ok(None);
    }
    let (name, rest) = token(rest);
    if name.is_empty() {
        return Err(format!("# {keyword} needs a metric name"));
    }
    validate_metric_name(name).map_err(|e| format!("# {keyword}: {e}"))?;
    let directive = match keyword {
        "HELP" => {
            let text = rest.trim_start_matches([' ', '\t']);
            Directive::Help(unescape(text, false).map_err(|e| format!("# HELP {name}: {e}"))?)
        }
        "TYPE" => {
            let (kind, tail) = token(rest);
            if !tail.trim_matches([' ', '\t']).is_empty() {
                return Err(format!(
                    "# TYPE {name}: unexpected text after the type: {tail:?}"
                ));
            }
            let kind = MetricType::parse(kind).ok_or_else(|| {
                format!(
                    "# TYPE {name}: unknown type {kind:?}: use counter, gauge, histogram, \
                     summary or untyped"
                )
            })?;
            Directive::Type(kind)
        }
        _ => {
            let (unit, tail) = token(rest);
            if !tail.trim_matches([' ', '\t']).is_empty() {
                return Err(format!(
                    "# UNIT {name}: unexpected text after the unit: {tail:?}"
                ));
            }
            Directive::Unit(unit)
        }
    };
    Ok(Some((name, directive)))
}

/// Resolves backslash escapes: `\\` and `\n` always, `\"` in label values.
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                let allowed = if quotes {
                    "\\\\, \\\" and \\n"
                } else {
                    "\\\\ and \\n"
                };
                return Err(format!(
                    "invalid escape \\{other}: only {allowed} are allowed"
                ));
            }
            None => return Err("text ends with a lone backslash".to_owned()),
        }
    }
    Ok(out)
}

/// Label pairs, value and optional timestamp of one sample line.
type SampleLine = (Vec<(String, String)>, f64, Option<i64>);

/// Parses `name{labels} value [timestamp]`; the metric name comes first in
/// the returned pairs, as `__name__`.
fn parse_sample_line(line: &str, open_metrics: bool) -> Result<SampleLine, String> {
    let bytes = line.as_bytes();
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let name_end = bytes
        .iter()
        .position(|&b| !is_name_byte(b))
        .unwrap_or(bytes.len());
    let name = &line[..name_end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(format!(
            "expected a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]* at the start of {:?}",
            crate::error::truncated(line, 60)
        ));
    }
    let mut pairs = vec![(METRIC_NAME_LABEL.to_owned(), name.to_owned())];
    let mut after_labels = &line[name_end..];
    if let Some(inner) = after_labels
        .trim_start_matches([' ', '\t'])
        .strip_prefix('{')
    {
        after_labels = parse_label_set(inner, &mut pairs)?;
    }
    let after_labels = match after_labels.find('#') {
        // An exemplar follows the value and timestamp; it is not stored.
        Some(hash) if open_metrics => &after_labels[..hash],
        _ => after_labels,
    };
    let rest = after_labels.trim_start_matches([' ', '\t']);
    if rest.len() == after_labels.len() && !rest.is_empty() {
        return Err(format!(
            "expected a blank before the value, found {:?}",
            first_char(rest)
        ));
    }
    let (value_text, rest) = token(rest);
    if value_text.is_empty() {
        return Err(format!("metric {name:?} has no value"));
    }
    let value = parse_value(value_text)
        .ok_or_else(|| format!("invalid value {value_text:?}: expected a float, NaN or ±Inf"))?;
    let (ts_text, rest) = token(rest);
    let timestamp = if ts_text.is_empty() {
        None
    } else if open_metrics {
        let seconds = parse_value(ts_text)
            .filter(|s| s.is_finite())
            .ok_or_else(|| {
                format!("invalid timestamp {ts_text:?}: expected seconds since the epoch")
            })?;
        Some((seconds * 1000.0).round() as i64)
    } else {
        Some(ts_text.parse::<i64>().map_err(|_| {
            format!("invalid timestamp {ts_text:?}: expected integer milliseconds since the epoch")
        })?)
    };
    let garbage = rest.trim_matches([' ', '\t']);
    if !garbage.is_empty() {
        return Err(format!("unexpected text after the timestamp: {garbage:?}"));
    }
    Ok((pairs, value, timestamp))
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

/// Parses the label set after `{` into `pairs`; returns the text after `}`.
fn parse_label_set<'s>(
    mut s: &'s str,
    pairs: &mut Vec<(String, String)>,
) -> Result<&'s str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let name_end = s
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(s.len());
        let name = &s[..name_end];
        if name.is_empty() {
            return Err(match s.chars().next() {
                None => "label set is not closed with '}'".to_owned(),
                Some(c) => format!("expected a label name or '}}' in the label set, found {c:?}"),
            });
        }
        s = s[name_end..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label name {name:?}"))?
            .trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to open the value of label {name:?}"))?;
        let end = closing_quote(s)
            .ok_or_else(|| format!("value of label {name:?} is not closed with '\"'"))?;
        let value = unescape(&s[..end], true).map_err(|e| format!("label {name:?}: {e}"))?;
        pairs.push((name.to_owned(), value));
        s = s[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(match s.chars().next() {
                None => "label set is not closed with '}'".to_owned(),
                Some(c) => format!("expected ',' or '}}' after label {name:?}, found {c:?}"),
            });
        }
    }
}

/// Index of the first unescaped `"` in `s`.
fn closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Parses a sample value the way Go's `strconv.ParseFloat` reads decimal text.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let decimal = unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if decimal {
        s.parse::<f64>().ok()
    } else {
        None
    }
}

/// Applies limits, rejects duplicate names, and builds sorted [`Labels`].
/// On error returns the label set as shown in messages and the problem.
pub(crate) fn build_labels(
    pairs: Vec<(String, String)>,
    limits: &Limits,
) -> Result<Labels, (String, SeriesProblem)> {
    let check = || -> Result<(), SeriesProblem> {
        limits.check_label_count(pairs.len())?;
        for (name, value) in &pairs {
            limits.check_label(name, value)?;
            if name == METRIC_NAME_LABEL {
                validate_metric_name(value)?;
            } else {
                validate_label_name(name)?;
            }
        }
        let mut names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ModelError::DuplicateLabel {
                name: w[0].to_owned(),
            }
            .into());
        }
        if !names.contains(&METRIC_NAME_LABEL) {
            return Err(ModelError::MissingMetricName.into());
        }
        Ok(())
    };
    if let Err(problem) = check() {
        let shown = describe_labels(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        return Err((shown, problem));
    }
    // Everything Labels::new checks has been checked above.
    let labels = Labels::new(pairs).map_err(|e| (String::from("{}"), SeriesProblem::from(e)))?;
    Ok(labels)
}
