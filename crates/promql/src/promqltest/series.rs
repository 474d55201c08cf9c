//! Series descriptions: a label set in PromQL syntax followed by values in the
//! expanding notation shared with `promtool test rules`
//! (<https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/#series>).
//!
//! Expansion follows Prometheus's series-description grammar:
//! `a+bxN` and `a-bxN` give the N+1 values a, a±b, …, a±N·b (computed by
//! repeated addition, as Prometheus does, so rounding matches bit for bit);
//! `axN` gives N+1 copies of a; `_` is one missing value and `_xN` is N missing
//! values; `stale` is one staleness marker. Native-histogram literals
//! (`{{…}}`, `{{…}}xN`, `{{…}}+{{…}}xN`) are counted but kept as raw text.
//! Hexadecimal numbers are not allowed here (`0x59` means "0 repeated").

use agentmon_model::{Labels, METRIC_NAME_LABEL};

use super::literal::{parse_number, parse_quoted};
use super::{HistogramLiteral, SequenceValue};

/// Parses one series-description line into its labels and expanded values.
pub(crate) fn parse_series_line(line: &str) -> Result<(Labels, Vec<SequenceValue>), String> {
    let (labels, consumed) = parse_metric(line)?;
    let rest = &line[consumed..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(format!("unexpected {rest:?} after the label set"));
    }
    let mut values = Vec::new();
    for item in split_items(rest)? {
        expand_item(item, &mut values).map_err(|e| format!("in value {item:?}: {e}"))?;
    }
    Ok((labels, values))
}

/// Reads `name`, `name{…}` or `{…}` and returns the labels with the number of
/// bytes consumed.
pub(crate) fn parse_metric(text: &str) -> Result<(Labels, usize), String> {
    let name_len = text
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(text.len(), |(i, _)| i);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if name_len > 0 {
        pairs.push((METRIC_NAME_LABEL.to_owned(), text[..name_len].to_owned()));
    }
    let mut pos = name_len;
    if text[pos..].starts_with('{') {
        pos += 1 + parse_label_set(&text[pos + 1..], &mut pairs)?;
    } else if name_len == 0 {
        return Err("expected a metric name or a label set".to_owned());
    }
    let labels = Labels::new(pairs).map_err(|e| e.to_string())?;
    Ok((labels, pos))
}

/// Parses the inside of `{…}` (after the opening brace), returning the bytes
/// consumed including the closing brace.
fn parse_label_set(text: &str, pairs: &mut Vec<(String, String)>) -> Result<usize, String> {
    let mut pos = 0;
    loop {
        pos += whitespace_len(&text[pos..]);
        let rest = &text[pos..];
        if rest.starts_with('}') {
            return Ok(pos + 1);
        }
        let (name, quoted) = if rest.starts_with(['"', '\'', '`']) {
            let (name, used) = parse_quoted(rest)?;
            pos += used;
            (name, true)
        } else {
            let len = rest
                .char_indices()
                .find(|&(i, c)| {
                    !(c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()))
                })
                .map_or(rest.len(), |(i, _)| i);
            if len == 0 {
                return Err(format!("expected a label name at {rest:?}"));
            }
            pos += len;
            (rest[..len].to_owned(), false)
        };
        pos += whitespace_len(&text[pos..]);
        if text[pos..].starts_with('=') && !text[pos..].starts_with("=~") {
            pos += 1;
            pos += whitespace_len(&text[pos..]);
            let (value, used) =
                parse_quoted(&text[pos..]).map_err(|e| format!("value of label {name:?}: {e}"))?;
            pos += used;
            pairs.push((name, value));
        } else if quoted {
            // A lone quoted string is the metric name (`{"my.metric"}`).
            pairs.push((METRIC_NAME_LABEL.to_owned(), name));
        } else {
            return Err(format!(
                "label {name:?} must be followed by = and a quoted value"
            ));
        }
        pos += whitespace_len(&text[pos..]);
        match text[pos..].chars().next() {
            Some(',') => pos += 1,
            Some('}') => {}
            _ => return Err("expected , or } in the label set".to_owned()),
        }
    }
}

fn whitespace_len(text: &str) -> usize {
    text.len() - text.trim_start_matches([' ', '\t']).len()
}

/// Splits the value part into items on whitespace, keeping `{{…}}` whole.
fn split_items(text: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        pos += whitespace_len(&text[pos..]);
        let start = pos;
        while pos < text.len() {
            let rest = &text[pos..];
            if let Some(inner) = rest.strip_prefix("{{") {
                let end = inner
                    .find("}}")
                    .ok_or_else(|| "unterminated histogram literal {{".to_owned())?;
                pos += 2 + end + 2;
            } else if rest.starts_with([' ', '\t']) {
                break;
            } else {
                pos += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        if pos > start {
            items.push(&text[start..pos]);
        }
    }
    Ok(items)
}

/// The most values one line may expand to, so that a typo such as `0x99999999999`
/// is an error instead of an out-of-memory abort.
pub(crate) const MAX_VALUES_PER_LINE: u64 = 1_000_000;

fn check_room(out: &[SequenceValue], more: u64) -> Result<(), String> {
    if (out.len() as u64).saturating_add(more) > MAX_VALUES_PER_LINE {
        return Err(format!(
            "the line expands to more than {MAX_VALUES_PER_LINE} values"
        ));
    }
    Ok(())
}

/// Expands one item of the value notation onto `out`.
fn expand_item(item: &str, out: &mut Vec<SequenceValue>) -> Result<(), String> {
    if item.starts_with("{{") {
        return expand_histogram(item, out);
    }
    if item == "_" {
        out.push(SequenceValue::Missing);
        return Ok(());
    }
    if let Some(count) = item.strip_prefix("_x") {
        let count = parse_count(count)?;
        check_room(out, count)?;
        out.extend((0..count).map(|_| SequenceValue::Missing));
        return Ok(());
    }
    if item == "stale" {
        out.push(SequenceValue::Stale);
        return Ok(());
    }
    let (mut value, rest) = split_value(item)?;
    if rest.is_empty() {
        out.push(SequenceValue::Float(value));
    } else if let Some(count) = rest.strip_prefix('x') {
        let count = parse_count(count)?;
        check_room(out, count.saturating_add(1))?;
        out.extend((0..=count).map(|_| SequenceValue::Float(value)));
    } else {
        let negative = rest.starts_with('-');
        let (delta_text, count) = rest[1..]
            .split_once('x')
            .ok_or_else(|| "an increment must be followed by x<count>".to_owned())?;
        let delta = parse_unsigned(delta_text)
            .ok_or_else(|| format!("invalid increment {delta_text:?}"))?;
        let delta = if negative { -delta } else { delta };
        let count = parse_count(count)?;
        check_room(out, count.saturating_add(1))?;
        out.push(SequenceValue::Float(value));
        for _ in 0..count {
            value += delta;
            out.push(SequenceValue::Float(value));
        }
    }
    Ok(())
}

/// Splits a leading (optionally signed) number off an item, returning the
/// value and the rest, which starts with `x`, `+`, `-` or is empty.
fn split_value(item: &str) -> Result<(f64, &str), String> {
    let sign_len = usize::from(item.starts_with(['+', '-']));
    let body = &item[sign_len..];
    if body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        // Words swallow any suffix in Prometheus's lexer, so `Infx3` is an
        // identifier and not a repetition.
        let word = body.to_ascii_lowercase();
        let value = match word.as_str() {
            "inf" => f64::INFINITY,
            "nan" => f64::NAN,
            _ => return Err(format!("{body:?} is not a number")),
        };
        let negative = item.starts_with('-');
        return Ok((if negative { -value } else { value }, ""));
    }
    let len = number_len(body);
    if len == 0 {
        return Err("expected a number".to_owned());
    }
    let (number, rest) = body.split_at(len);
    let magnitude = parse_unsigned(number).ok_or_else(|| format!("invalid number {number:?}"))?;
    let value = if item.starts_with('-') {
        -magnitude
    } else {
        magnitude
    };
    if !rest.is_empty() && !rest.starts_with(['x', '+', '-']) {
        return Err(format!("unexpected {rest:?} after the number"));
    }
    Ok((value, rest))
}

/// Length of a decimal number (`12`, `1.5`, `.5`, `2.`, `1e-3`) at the start.
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let digits = |pos: &mut usize| {
        let start = *pos;
        while *pos < bytes.len() && bytes[*pos].is_ascii_digit() {
            *pos += 1;
        }
        *pos - start
    };
    let mut count = digits(&mut pos);
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        count += digits(&mut pos);
    }
    if count == 0 {
        return 0;
    }
    if pos < bytes.len() && (bytes[pos] == b'e' || bytes[pos] == b'E') {
        let mut exponent = pos + 1;
        if exponent < bytes.len() && (bytes[exponent] == b'+' || bytes[exponent] == b'-') {
            exponent += 1;
        }
        if digits(&mut exponent) > 0 {
            pos = exponent;
        }
    }
    pos
}

/// An unsigned decimal number (no sign, no hexadecimal, no words).
fn parse_unsigned(text: &str) -> Option<f64> {
    if text.starts_with(['+', '-']) || number_len(text) != text.len() {
        return None;
    }
    parse_number(text)
}

fn parse_count(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid repetition count {text:?}"));
    }
    text.parse()
        .map_err(|_| format!("repetition count {text:?} is too large"))
}

/// Expands `{{…}}`, `{{…}}xN`, `{{…}}+{{…}}xN` and `{{…}}-{{…}}xN`.
fn expand_histogram(item: &str, out: &mut Vec<SequenceValue>) -> Result<(), String> {
    let close = item.find("}}").ok_or("unterminated histogram literal")? + 2;
    let rest = &item[close..];
    let count = if rest.is_empty() {
        None
    } else if let Some(count) = rest.strip_prefix('x') {
        Some(parse_count(count)?)
    } else if rest.starts_with("+{{") || rest.starts_with("-{{") {
        let delta_close = rest.find("}}").ok_or("unterminated histogram literal")? + 2;
        let count = rest[delta_close..]
            .strip_prefix('x')
            .ok_or("a histogram increment must be followed by x<count>")?;
        Some(parse_count(count)?)
    } else {
        return Err(format!("unexpected {rest:?} after a histogram literal"));
    };
    let total = count.map_or(1, |n| n.saturating_add(1));
    check_room(out, total)?;
    out.extend((0..total).map(|position| {
        SequenceValue::Histogram(HistogramLiteral {
            text: item.to_owned(),
            position,
        })
    }));
    Ok(())
}
