//! A small, independent reader of the Prometheus text format and
//! OpenMetrics sample lines, for tests that compare what a peer exposes
//! with what a server stored. It reads what well-behaved exporters write:
//! `name{label="value",...} value [timestamp]`, with `\\`, `\"` and `\n`
//! escapes in label values; comment lines and `# EOF` are skipped.

use std::collections::BTreeMap;

/// A series' identity: its name and its labels.
pub type SeriesKey = (String, BTreeMap<String, String>);

/// Every sample line of `page`, by series; panics on a line it cannot read,
/// naming it.
pub fn parse_samples(page: &str) -> BTreeMap<SeriesKey, f64> {
    let mut samples = BTreeMap::new();
    for line in page.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) =
            parse_line(line).unwrap_or_else(|e| panic!("cannot read sample line {line:?}: {e}"));
        assert!(
            samples.insert(key, value).is_none(),
            "series repeated: {line:?}"
        );
    }
    samples
}

fn parse_line(line: &str) -> Result<(SeriesKey, f64), String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or("no value after the metric name")?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let consumed;
        loop {
            // Skip separators, then read `name="value"` or the closing brace.
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c == ' ' {
                    chars.next();
                } else {
                    break;
                }
            }
            let Some(&(start, c)) = chars.peek() else {
                return Err("labels not closed".into());
            };
            if c == '}' {
                consumed = start + 1;
                break;
            }
            let eq = inner[start..].find('=').ok_or("label without '='")? + start;
            let label = inner[start..eq].trim().to_owned();
            while let Some(&(i, _)) = chars.peek() {
                if i > eq {
                    break;
                }
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {label} has no quoted value"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err("label value not closed".into()),
                }
            }
            labels.insert(label, value);
        }
        rest = &inner[consumed..];
    }
    let value_text = rest
        .split_whitespace()
        .next()
        .ok_or("no value after the labels")?;
    Ok(((name, labels), parse_float(value_text)?))
}

/// A sample value as the text formats and the query API write it.
pub fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        other => other.parse().map_err(|_| format!("bad value {other:?}")),
    }
}

/// `# TYPE` lines of a page: family name to type.
pub fn parse_types(page: &str) -> BTreeMap<String, String> {
    page.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}
