//! OTLP metric and attribute names to Prometheus names, as Prometheus 3.x's
//! OTLP receiver does with its default translation strategy
//! (`UnderscoreEscapingWithSuffixes`, from `prometheus/otlptranslator`):
//!
//! - the name is split on every character outside `[a-zA-Z0-9:]`, so
//!   invalid characters become `_` and runs of `_` collapse;
//! - the unit becomes suffixes: `s` → `seconds`, `By` → `bytes`,
//!   `By/s` → `bytes_per_second`; units in braces (`{request}`) and `1` add
//!   nothing; a suffix already among the name's words is not repeated;
//! - monotonic sums end in `_total`, gauges of unit `1` in `_ratio`;
//! - a leading digit gets a `_` prefix.
//!
//! Label names: invalid characters become `_`; a leading digit gets `key_`,
//! a single leading `_` gets `key` (Prometheus's default label-name
//! sanitisation); runs of `_` are kept.

/// What kind of metric a name is built for: it decides `_total` and `_ratio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Gauge,
    MonotonicCounter,
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// UCUM units with a Prometheus word.
fn main_unit(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// The denominators of "per" units, singular.
fn per_unit(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Splits `s` into words of name characters (dropping everything else).
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_name_char(c))
        .filter(|w| !w.is_empty())
}

/// Replaces invalid characters with `_`, collapses runs of `_` and drops a
/// leading `_` (otlptranslator's `cleanUpUnit`).
fn clean_unit(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_name_char(c) { c } else { '_' };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    out
}

/// The main and "per" unit suffixes of a UCUM unit, cleaned; either may
/// be empty. Annotations in braces yield nothing.
fn unit_suffixes(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), Some(per.trim())),
        None => (unit.trim(), None),
    };
    let main = if main.is_empty() || main.contains(['{', '}']) {
        String::new()
    } else {
        clean_unit(main_unit(main))
    };
    let per = match per {
        Some(per) if !per.is_empty() && !per.contains(['{', '}']) => {
            clean_unit(&format!("per_{}", per_unit(per)))
        }
        _ => String::new(),
    };
    (main, per)
}

/// The unit as Prometheus records it in metadata: `By/s` → `bytes_per_second`,
/// `1` and `{request}` → empty.
pub fn unit_name(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let joined = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    joined.trim_matches('_').to_owned()
}

/// The Prometheus metric name for an OTLP metric; empty when nothing of the
/// name survives (the caller refuses such a metric).
pub fn metric_name(name: &str, unit: &str, kind: NameKind) -> String {
    let mut tokens: Vec<&str> = words(name).collect();
    let (main, per) = unit_suffixes(unit);
    let mut main = main.as_str();
    let mut per = per.as_str();
    if tokens.contains(&main) {
        main = "";
    }
    if per == "per_" {
        per = "";
    } else {
        per = per.strip_suffix('_').unwrap_or(per);
        if tokens.contains(&per) {
            per = "";
        }
    }
    if !per.is_empty() {
        main = main.strip_suffix('_').unwrap_or(main);
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == NameKind::MonotonicCounter {
        tokens.retain(|t| *t != "total");
        tokens.push("total");
    }
    if unit == "1" && kind == NameKind::Gauge {
        tokens.retain(|t| *t != "ratio");
        tokens.push("ratio");
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if out.chars().all(|c| c == '_') {
        out.clear();
    }
    out
}

/// The Prometheus label name for an attribute key; empty when the key is
/// empty or only underscores remain (the caller refuses the point).
pub fn label_name(key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    if out != key && out.chars().all(|c| c == '_') {
        out.clear();
    }
    out
}
