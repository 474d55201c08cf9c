//! VictoriaMetrics' JSON-lines format (`/api/v1/export`, `/api/v1/import`):
//! one series per line,
//! `{"metric":{"__name__":"m","job":"x"},"values":[1,2.5],"timestamps":[1700000000000,1700000015000]}`.
//!
//! # Special values
//!
//! JSON numbers cannot be NaN or infinite. VictoriaMetrics exports NaN as
//! `null` and the infinities as the strings `"Infinity"` / `"-Infinity"`, and
//! its importer also takes the strings `"Inf"`, `"inf"`, `"infinity"` (each
//! optionally with `-`) and `"NaN"`, `"nan"`, `"null"`, `"Null"`. Both are
//! accepted here and [`write_line`] writes the same forms.
//!
//! VictoriaMetrics has no spelling for Prometheus's stale marker (it exports
//! one as `null`, indistinguishable from NaN). So that an agentmon export
//! re-imports bit for bit, [`write_line`] writes the stale marker as the
//! string `"StaleNaN"`, which [`parse`] reads back as [`STALE_NAN`].
//! VictoriaMetrics itself rejects a line carrying that string; every other
//! line stays importable there. Other NaNs are written as `null` and read back
//! as the canonical quiet NaN: their payload bits are not kept (PromQL does
//! not tell NaNs apart). Finite values are written in Rust's shortest
//! round-tripping form and read back correctly rounded, so they survive
//! exactly, `-0` included.

mod json;
#[cfg(test)]
mod tests;

use std::io::Write as _;

use agentmon_model::{is_stale_nan, Labels, Sample, METRIC_NAME_LABEL, STALE_NAN};

use crate::text::build_labels;
use crate::{IngestError, Limits};
use json::Json;

/// The string [`write_line`] uses for the stale marker.
pub const STALE_NAN_STRING: &str = "StaleNaN";

/// Parses a whole JSON-lines body of at most `limits.max_body_bytes`. Blank lines are skipped. Each line needs
/// `metric` (an object of string values, with `__name__`), and `values` and
/// `timestamps` arrays of equal, non-zero length; other keys are ignored.
/// The first problem is returned with its 1-based line number.
pub fn parse(body: &[u8], limits: &Limits) -> Result<Vec<(Labels, Vec<Sample>)>, IngestError> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let mut out = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        if raw.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        let text = std::str::from_utf8(raw).map_err(|e| IngestError::JsonSyntax {
            line,
            reason: format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
        })?;
        out.push(parse_line(text, line, limits)?);
    }
    Ok(out)
}

/// Parses one non-blank line.
fn parse_line(
    text: &str,
    line: usize,
    limits: &Limits,
) -> Result<(Labels, Vec<Sample>), IngestError> {
    let syntax = |reason: String| IngestError::JsonSyntax { line, reason };
    let mut j = Json::new(text);
    let mut metric: Option<Vec<(String, String)>> = None;
    let mut values: Option<Vec<f64>> = None;
    let mut timestamps: Option<Vec<i64>> = None;
    j.expect(b'{').map_err(syntax)?;
    if !j.eat(b'}') {
        loop {
            let key = j.string().map_err(syntax)?;
            j.expect(b':').map_err(syntax)?;
            let repeated = match key.as_ref() {
                "metric" => metric
                    .replace(read_metric(&mut j).map_err(syntax)?)
                    .is_some(),
                "values" => values
                    .replace(read_values(&mut j).map_err(syntax)?)
                    .is_some(),
                "timestamps" => timestamps
                    .replace(read_timestamps(&mut j).map_err(syntax)?)
                    .is_some(),
                _ => {
                    j.skip_value(0).map_err(syntax)?;
                    false
                }
            };
            if repeated {
                return Err(syntax(format!("key {key:?} appears twice")));
            }
            if !j.comma_or(b'}').map_err(syntax)? {
                break;
            }
        }
    }
    if !j.at_end() {
        return Err(syntax(j.err("unexpected text after the JSON object")));
    }
    let missing = |key: &str| syntax(format!("missing {key:?}"));
    let metric = metric.ok_or_else(|| missing("metric"))?;
    let values = values.ok_or_else(|| missing("values"))?;
    let timestamps = timestamps.ok_or_else(|| missing("timestamps"))?;
    if values.is_empty() {
        return Err(syntax(
            "\"values\" is empty: a line needs at least one sample".to_owned(),
        ));
    }
    if values.len() != timestamps.len() {
        return Err(syntax(format!(
            "\"values\" has {} entries but \"timestamps\" has {}: they must pair up",
            values.len(),
            timestamps.len()
        )));
    }
    let labels =
        build_labels(metric, limits).map_err(|(labels, problem)| IngestError::LineSeries {
            line,
            labels,
            problem,
        })?;
    let samples = timestamps
        .into_iter()
        .zip(values)
        .map(|(t, v)| Sample::new(t, v))
        .collect();
    Ok((labels, samples))
}

/// Reads the `metric` object: label names to string values.
fn read_metric(j: &mut Json<'_>) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    j.expect(b'{')?;
    if j.eat(b'}') {
        return Ok(pairs);
    }
    loop {
        let name = j.string()?;
        j.expect(b':')?;
        if j.peek() != Some(b'"') {
            return Err(j.err(format!("value of label {name:?} must be a JSON string")));
        }
        let value = j.string()?;
        pairs.push((name.into_owned(), value.into_owned()));
        if !j.comma_or(b'}')? {
            return Ok(pairs);
        }
    }
}

/// Reads the `values` array: numbers, `null`, or the special strings.
fn read_values(j: &mut Json<'_>) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    j.expect(b'[')?;
    if j.eat(b']') {
        return Ok(out);
    }
    loop {
        let value = match j.peek() {
            Some(b'"') => {
                let s = j.string()?;
                special_value(&s).ok_or_else(|| {
                    j.err(format!(
                        "values[{}]: unsupported string {s:?}: use a number, null, \
                         \"Infinity\", \"-Infinity\", \"NaN\" or \"{STALE_NAN_STRING}\"",
                        out.len()
                    ))
                })?
            }
            Some(b'n') if j.literal("null") => f64::NAN,
            Some(b'-' | b'0'..=b'9') => {
                let (text, _) = j.number()?;
                text.parse::<f64>().map_err(|_| j.err("invalid number"))?
            }
            _ => return Err(j.err(format!("values[{}]: expected a number", out.len()))),
        };
        out.push(value);
        if !j.comma_or(b']')? {
            return Ok(out);
        }
    }
}

/// The special strings a value may be given as.
fn special_value(s: &str) -> Option<f64> {
    if s == STALE_NAN_STRING {
        return Some(STALE_NAN);
    }
    let (negative, word) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    match word {
        "Infinity" | "infinity" | "Inf" | "inf" => Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        "NaN" | "nan" | "null" | "Null" => Some(f64::NAN),
        _ => None,
    }
}

/// Reads the `timestamps` array: integer milliseconds.
fn read_timestamps(j: &mut Json<'_>) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    j.expect(b'[')?;
    if j.eat(b']') {
        return Ok(out);
    }
    loop {
        let index = out.len();
        let bad = |j: &Json<'_>| {
            j.err(format!(
                "timestamps[{index}]: expected integer milliseconds since the epoch"
            ))
        };
        if !matches!(j.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(bad(j));
        }
        let (text, integer) = j.number()?;
        let t = if integer {
            text.parse::<i64>().ok()
        } else {
            None
        };
        out.push(t.ok_or_else(|| bad(j))?);
        if !j.comma_or(b']')? {
            return Ok(out);
        }
    }
}

/// Appends one line for a series, ending in `\n`; writes nothing when
/// `samples` is empty (VictoriaMetrics rejects lines without values).
/// `__name__` comes first, then the other labels in order. See the module
/// docs for how NaN, ±Inf and the stale marker are written.
pub fn write_line(out: &mut Vec<u8>, labels: &Labels, samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    out.extend_from_slice(b"{\"metric\":{");
    let name = labels.iter().filter(|l| l.name == METRIC_NAME_LABEL);
    let others = labels.iter().filter(|l| l.name != METRIC_NAME_LABEL);
    for (i, label) in name.chain(others).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, &label.name);
        out.push(b':');
        write_string(out, &label.value);
    }
    out.extend_from_slice(b"},\"values\":[");
    for (i, sample) in samples.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, sample.v);
    }
    out.extend_from_slice(b"],\"timestamps\":[");
    for (i, sample) in samples.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{}", sample.t);
    }
    out.extend_from_slice(b"]}\n");
}

/// Writes one value (see the module docs for the special forms).
fn write_value(out: &mut Vec<u8>, v: f64) {
    if is_stale_nan(v) {
        out.extend_from_slice(b"\"");
        out.extend_from_slice(STALE_NAN_STRING.as_bytes());
        out.extend_from_slice(b"\"");
    } else if v.is_nan() {
        out.extend_from_slice(b"null");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"\"Infinity\"");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"\"-Infinity\"");
    } else {
        // `{:?}` is the shortest text that parses back to the same bits
        // (`1.0`, `0.1`, `1e300`, `-0.0`); integers lose the `.0` to match
        // what VictoriaMetrics writes.
        let start = out.len();
        let _ = write!(out, "{v:?}");
        if out.ends_with(b".0") {
            out.truncate(out.len() - 2);
        }
        debug_assert!(out.len() > start);
    }
}

/// Writes a JSON string with the escapes RFC 8259 requires.
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}
