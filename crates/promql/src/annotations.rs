//! Warnings and infos a query returns alongside its result, as Prometheus
//! returns them in the `warnings` and `infos` fields of its API: each
//! message once, in the order first raised.
//!
//! The texts of the annotations the engine raises are built here, worded as
//! Prometheus 3.5 words them in `util/annotations/annotations.go`, with Go's
//! `%g` and `%q` formatting of the values they quote.
//!
//! **No positions.** Prometheus appends to each message, in its HTTP API,
//! where in the query the expression that raised it starts (` (1:6)`: line
//! and column). The `promql-parser` 0.11 crate keeps no source positions in
//! its syntax tree, so the engine cannot tell which of two equal
//! sub-expressions raised a message; rather than guess, messages carry no
//! position. They are therefore what Prometheus's own test scripts compare
//! against (those compare messages without positions too).

/// The annotations of one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl Annotations {
    /// Adds a warning (Prometheus prefixes these `PromQL warning: `).
    pub fn warn(&mut self, message: impl Into<String>) {
        push_unique(
            &mut self.warnings,
            format!("PromQL warning: {}", message.into()),
        );
    }

    /// Adds an info (Prometheus prefixes these `PromQL info: `).
    pub fn info(&mut self, message: impl Into<String>) {
        push_unique(&mut self.infos, format!("PromQL info: {}", message.into()));
    }

    /// The warnings, in the order first raised.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The infos, in the order first raised.
    pub fn infos(&self) -> &[String] {
        &self.infos
    }

    /// Whether there are neither warnings nor infos.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

fn push_unique(list: &mut Vec<String>, message: String) {
    if !list.contains(&message) {
        list.push(message);
    }
}

/// Warning: a φ parameter outside [0, 1] (or NaN) given to `quantile`,
/// `quantile_over_time` or `histogram_quantile`.
pub(crate) fn invalid_quantile(q: f64) -> String {
    format!("quantile value should be between 0 and 1, got {}", go_g(q))
}

/// Warning: a `limit_ratio` ratio outside [-1, 1], capped to `to`.
pub(crate) fn invalid_ratio(ratio: f64, to: f64) -> String {
    format!(
        "ratio value should be between -1 and 1, got {}, capping to {}",
        go_g(ratio),
        go_g(to)
    )
}

/// Warning: a classic-histogram bucket series without a parseable `le`.
pub(crate) fn bad_bucket_label(metric_name: &str, le: &str) -> String {
    with_metric_name(
        format!(
            "bucket label \"le\" is missing or has a malformed value of {}",
            go_quote(le)
        ),
        metric_name,
    )
}

/// Info: `histogram_quantile` had to make bucket counts monotonic.
pub(crate) fn forced_monotonicity(metric_name: &str) -> String {
    with_metric_name(
        "input to histogram_quantile needed to be fixed for monotonicity (see \
         https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
            .to_owned(),
        metric_name,
    )
}

/// Info: `rate` or `increase` over a metric whose name does not look like a
/// counter's.
pub(crate) fn possible_non_counter(metric_name: &str) -> String {
    format!(
        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
        go_quote(metric_name)
    )
}

/// The message with ` for metric name "…"` appended when there is a name.
fn with_metric_name(message: String, metric_name: &str) -> String {
    if metric_name.is_empty() {
        message
    } else {
        format!("{message} for metric name {}", go_quote(metric_name))
    }
}

/// A float as Go's `%g` writes it: the shortest digits that read back
/// exactly, in exponent form (`1e+06`, `1.5e-05`) when the decimal exponent
/// is below -4 or at least 6.
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return format!("{v}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// A string as Go's `%q` quotes it: double quotes, with backslash escapes
/// for quotes, backslashes and control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_prefixed_and_kept_once() {
        let mut a = Annotations::default();
        a.warn("x");
        a.warn("x");
        a.info("y");
        assert_eq!(a.warnings(), ["PromQL warning: x"]);
        assert_eq!(a.infos(), ["PromQL info: y"]);
        assert!(!a.is_empty());
    }

    #[test]
    fn floats_format_like_go_percent_g() {
        assert_eq!(go_g(1.1), "1.1");
        assert_eq!(go_g(-1.0), "-1");
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(1e6), "1e+06");
        assert_eq!(go_g(1.5e-5), "1.5e-05");
        assert_eq!(go_g(0.0001), "0.0001");
        assert_eq!(go_g(f64::NAN), "NaN");
        assert_eq!(go_g(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn strings_quote_like_go_percent_q() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\u{1}"), r#""x\ny\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
    }

    #[test]
    fn messages_match_prometheus_wording() {
        assert_eq!(
            invalid_ratio(1.1, 1.0),
            "ratio value should be between -1 and 1, got 1.1, capping to 1"
        );
        assert_eq!(
            invalid_quantile(f64::NAN),
            "quantile value should be between 0 and 1, got NaN"
        );
        assert_eq!(
            bad_bucket_label("x_bucket", "abc"),
            r#"bucket label "le" is missing or has a malformed value of "abc" for metric name "x_bucket""#
        );
        assert_eq!(
            possible_non_counter("errors"),
            r#"metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "errors""#
        );
        assert!(forced_monotonicity("").ends_with("#histogram_quantile)"));
    }
}
