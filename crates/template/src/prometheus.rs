//! Prometheus's template functions (alert rule labels and annotations,
//! console templates) and the expansion of rule templates with the
//! `$labels`, `$externalLabels`, `$externalURL` and `$value` variables.
//!
//! Reference: <https://prometheus.io/docs/prometheus/latest/configuration/template_reference/>.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::builtins::query_escape;
use crate::error::TemplateError;
use crate::funcs::{args, FuncMap, MissingKey, Param};
use crate::printf::sprintf;
use crate::strings::{compile, go_title, replace_all};
use crate::template::Template;
use crate::time::{GoDuration, GoTime};
use crate::value::{GoStruct, Value};

/// One sample of an instant-vector query result, as templates see it:
/// `.Labels` (with `__name__`) and `.Value`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Runs a PromQL instant query for the `query` template function.
pub type QueryFn = Arc<dyn Fn(&str) -> Result<Vec<QuerySample>, String> + Send + Sync>;

/// Runs a PromQL instant query at a time in milliseconds (rule templates
/// query at the rule's evaluation time).
pub type RuleQueryFn = Arc<dyn Fn(&str, i64) -> Result<Vec<QuerySample>, String> + Send + Sync>;

/// Go's `template.queryResult` (a list of samples).
const QUERY_RESULT: Param = Param::Other {
    go_type: "template.queryResult",
    accepts: |v| matches!(v, Value::List(_)),
    nilable: true,
};

/// Go's `*template.sample`.
const SAMPLE: Param = Param::Other {
    go_type: "*template.sample",
    accepts: |v| matches!(v, Value::Struct(s) if s.type_name == "*template.sample"),
    nilable: true,
};

/// A sample as Prometheus hands it to templates: a `*template.sample`.
fn sample_value(sample: &QuerySample) -> Value {
    Value::Struct(GoStruct::new(
        "*template.sample",
        vec![
            ("Labels", Value::string_map(sample.labels.iter())),
            ("Value", Value::Float(sample.value)),
        ],
    ))
}

/// Go's `%.4g`, the precision every humanize function uses.
fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

/// Prometheus's `convertToFloat`: floats, ints, numeric strings, durations.
pub(crate) fn convert_to_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Duration(d) => Ok(d.nanos as f64 / 1e9),
        Value::String(s) => parse_go_float(s).ok_or_else(|| {
            format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                crate::printf::go_quote(s)
            )
        }),
        Value::Nil | Value::Missing => Err("can't convert <nil> to float".to_string()),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return s.parse::<f64>().ok().or_else(|| {
            let negative = s.starts_with('-');
            Some(if body == "nan" {
                f64::NAN
            } else if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        });
    }
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{prefix}", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}", g4(v))
}

/// `humanize1024`: binary prefixes (`ki`, `Mi`, ...).
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// `humanizeDuration`: seconds as `1d 2h 3m 4s`, or `1.5s`, `25ms`.
pub fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let duration = v as i64;
        let seconds = duration % 60;
        let minutes = (duration / 60) % 60;
        let hours = (duration / 60 / 60) % 24;
        let days = duration / 60 / 60 / 24;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// `humanizePercentage`: a ratio as a percentage, 4 significant digits.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Seconds since the epoch to a UTC time with millisecond precision, as
/// Prometheus's `model.TimeFromUnixNano` truncates it.
fn float_to_time(v: f64) -> Result<GoTime, String> {
    if v.is_nan() || v.is_infinite() {
        return Err("value is NaN or Inf".to_string());
    }
    let nanos = v * 1e9;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            Value::Float(v).to_go_string()
        ));
    }
    let millis = (nanos as i64) / 1_000_000;
    Ok(GoTime::from_unix_millis(millis))
}

/// `humanizeTimestamp`: seconds since the epoch as Go prints a UTC time.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if v.is_nan() || v.is_infinite() {
        return Ok(g4(v));
    }
    Ok(float_to_time(v)?.to_go_string())
}

/// Go's `net.SplitHostPort`.
fn split_host_port(host_port: &str) -> Option<(String, String)> {
    if let Some(rest) = host_port.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        let port = after.strip_prefix(':')?;
        if port.contains([':', '[', ']']) || rest[..end].contains(['[', ']']) {
            return None;
        }
        return Some((rest[..end].to_string(), port.to_string()));
    }
    let colon = host_port.rfind(':')?;
    let host = &host_port[..colon];
    if host.contains([':', '[', ']']) || host_port[colon + 1..].contains(['[', ']']) {
        return None;
    }
    Some((host.to_string(), host_port[colon + 1..].to_string()))
}

fn strip_domain(host_port: &str) -> String {
    let (host, port) =
        split_host_port(host_port).unwrap_or_else(|| (host_port.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host_port.to_string();
    }
    let short = host.split('.').next().unwrap_or_default();
    if port.is_empty() {
        return short.to_string();
    }
    if short.contains(':') {
        format!("[{short}]:{port}")
    } else {
        format!("{short}:{port}")
    }
}

/// The path of a URL (`http://host/prefix?x` → `/prefix`).
fn url_path(url: &str) -> String {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return url.split(['?', '#']).next().unwrap_or_default().to_string(),
    };
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..]
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    }
}

/// A field of a sample; nil dereferences fail as in Go.
fn sample_field<'a>(value: &'a Value, field: &str) -> Result<Option<&'a Value>, String> {
    match value {
        Value::Struct(s) => Ok(s.field(field)),
        Value::Nil | Value::Missing => {
            Err("runtime error: invalid memory address or nil pointer dereference".to_string())
        }
        other => Err(format!(
            "wrong type for value; expected *template.sample; got {}",
            other.type_name()
        )),
    }
}

fn list_arg(value: &Value) -> Result<&Vec<Value>, String> {
    match value {
        Value::List(l) => Ok(l),
        Value::Nil | Value::Missing => Ok(const { &Vec::new() }),
        other => Err(format!(
            "wrong type for value; expected template.queryResult; got {}",
            other.type_name()
        )),
    }
}

fn label_of(sample: &Value, name: &str) -> Result<String, String> {
    Ok(match sample_field(sample, "Labels")? {
        Some(Value::Map(labels)) => labels
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    })
}

/// Prometheus's template functions. `query` runs an instant query;
/// `external_url` is Prometheus's `--web.external-url`.
pub fn funcs(query: QueryFn, external_url: &str) -> FuncMap {
    let mut f = FuncMap::builtin();
    f.set_missing_key(MissingKey::Zero);
    f.insert_typed("query", &[Param::String], None, move |a| {
        let samples = query(args::string(&a[0])?)?;
        Ok(Value::List(samples.iter().map(sample_value).collect()))
    });
    f.insert_typed("first", &[QUERY_RESULT], None, |a| {
        list_arg(&a[0])?
            .first()
            .cloned()
            .ok_or_else(|| "first() called on vector with no elements".to_string())
    });
    f.insert_typed("label", &[Param::String, SAMPLE], None, |a| {
        let name = args::string(&a[0])?;
        Ok(label_of(&a[1], name)?.into())
    });
    f.insert_typed("value", &[SAMPLE], None, |a| {
        Ok(sample_field(&a[0], "Value")?
            .cloned()
            .unwrap_or(Value::Float(0.0)))
    });
    f.insert_typed("strvalue", &[SAMPLE], None, |a| {
        Ok(label_of(&a[0], "__value__")?.into())
    });
    f.insert_typed("args", &[], Some(Param::Any), |a| {
        Ok(Value::Map(
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect(),
        ))
    });
    f.insert_typed(
        "reReplaceAll",
        &[Param::String, Param::String, Param::String],
        None,
        |a| {
            let re = compile(args::string(&a[0])?)?;
            Ok(replace_all(&re, args::string(&a[2])?, args::string(&a[1])?).into())
        },
    );
    f.insert_typed("safeHtml", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.into())
    });
    f.insert_typed("match", &[Param::String, Param::String], None, |a| {
        let re = compile(args::string(&a[0])?)?;
        Ok(Value::Bool(re.is_match(args::string(&a[1])?)))
    });
    f.insert_typed("title", &[Param::String], None, |a| {
        Ok(go_title(args::string(&a[0])?).into())
    });
    f.insert_typed("toUpper", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.to_uppercase().into())
    });
    f.insert_typed("toLower", &[Param::String], None, |a| {
        Ok(args::string(&a[0])?.to_lowercase().into())
    });
    f.insert_typed("graphLink", &[Param::String], None, |a| {
        Ok(format!(
            "/graph?g0.expr={}&g0.tab=0",
            query_escape(args::string(&a[0])?)
        )
        .into())
    });
    f.insert_typed("tableLink", &[Param::String], None, |a| {
        Ok(format!(
            "/graph?g0.expr={}&g0.tab=1",
            query_escape(args::string(&a[0])?)
        )
        .into())
    });
    f.insert_typed("sortByLabel", &[Param::String, QUERY_RESULT], None, |a| {
        let name = args::string(&a[0])?;
        let mut list = list_arg(&a[1])?.clone();
        list.sort_by_key(|v| label_of(v, name).unwrap_or_default());
        Ok(Value::List(list))
    });
    f.insert_typed("stripPort", &[Param::String], None, |a| {
        let host_port = args::string(&a[0])?;
        Ok(split_host_port(host_port)
            .map_or_else(|| host_port.to_string(), |(h, _)| h)
            .into())
    });
    f.insert_typed("stripDomain", &[Param::String], None, |a| {
        Ok(strip_domain(args::string(&a[0])?).into())
    });
    f.insert_typed("humanize", &[Param::Any], None, |a| {
        Ok(humanize(convert_to_float(&a[0])?).into())
    });
    f.insert_typed("humanize1024", &[Param::Any], None, |a| {
        Ok(humanize1024(convert_to_float(&a[0])?).into())
    });
    f.insert_typed("humanizeDuration", &[Param::Any], None, |a| {
        Ok(humanize_duration(convert_to_float(&a[0])?).into())
    });
    f.insert_typed("humanizePercentage", &[Param::Any], None, |a| {
        Ok(humanize_percentage(convert_to_float(&a[0])?).into())
    });
    f.insert_typed("humanizeTimestamp", &[Param::Any], None, |a| {
        let seconds = match &a[0] {
            Value::Time(t) => t.unix_nanos() as f64 / 1e9,
            other => convert_to_float(other)?,
        };
        Ok(humanize_timestamp(seconds)?.into())
    });
    f.insert_typed("toTime", &[Param::Any], None, |a| {
        Ok(Value::Time(float_to_time(convert_to_float(&a[0])?)?))
    });
    f.insert_typed("toDuration", &[Param::Any], None, |a| {
        let seconds = convert_to_float(&a[0])?;
        if seconds.is_nan() || seconds.is_infinite() {
            return Err("value is NaN or Inf".to_string());
        }
        Ok(Value::Duration(GoDuration::from_seconds(seconds)))
    });
    f.insert_typed("parseDuration", &[Param::String], None, |a| {
        let text = args::string(&a[0])?;
        let ms = agentmon_model::duration::parse_millis(text).map_err(|_| {
            format!(
                "not a valid duration string: {}",
                crate::printf::go_quote(text)
            )
        })?;
        Ok(Value::Float(ms as f64 / 1000.0))
    });
    let url = external_url.to_string();
    f.insert_typed("externalURL", &[], None, move |_| Ok(url.clone().into()));
    let path = url_path(external_url);
    f.insert_typed("pathPrefix", &[], None, move |_| Ok(path.clone().into()));
    f
}

/// The variable definitions Prometheus puts before every rule template,
/// on the same line so that line numbers in errors stay right.
pub const RULE_TEMPLATE_PREFIX: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The data of a rule template: `.Labels`, `.ExternalLabels`,
/// `.ExternalURL`, `.Value`.
pub fn rule_template_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    Value::Struct(GoStruct::new(
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }",
        vec![
            ("Labels", Value::string_map(labels.iter())),
            ("ExternalLabels", Value::string_map(external_labels.iter())),
            ("ExternalURL", Value::str(external_url)),
            ("Value", Value::Float(value)),
        ],
    ))
}

/// Parses a rule's label or annotation template as Prometheus does, with
/// the variable definitions in front, so that a rule file can be checked at
/// load time and the template executed at every evaluation.
pub fn parse_rule_template(
    rule_name: &str,
    text: &str,
    external_url: &str,
) -> Result<Template, TemplateError> {
    let funcs = funcs(Arc::new(|_| Ok(Vec::new())), external_url);
    Template::parse(
        &format!("__alert_{rule_name}"),
        &format!("{RULE_TEMPLATE_PREFIX}{text}"),
        &funcs,
    )
}

/// Executes a template from [`parse_rule_template`] for one alert.
#[allow(clippy::too_many_arguments)]
pub fn execute_rule_template(
    template: &Template,
    labels: &BTreeMap<String, String>,
    value: f64,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    query_fn: RuleQueryFn,
    timestamp_ms: i64,
) -> Result<String, TemplateError> {
    let query: QueryFn = Arc::new(move |q| query_fn(q, timestamp_ms));
    let funcs = funcs(query, external_url);
    let data = rule_template_data(labels, external_labels, external_url, value);
    template.execute(&data, &funcs)
}

/// Expands an alerting rule's label or annotation template as Prometheus
/// does: the template is named `__alert_<rule name>`, gets `$labels`,
/// `$externalLabels`, `$externalURL` and `$value`, and its `query` calls run
/// at `timestamp_ms`.
#[allow(clippy::too_many_arguments)]
pub fn expand_rule_template(
    rule_name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    value: f64,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    query_fn: RuleQueryFn,
    timestamp_ms: i64,
) -> Result<String, TemplateError> {
    let template = parse_rule_template(rule_name, text, external_url)?;
    execute_rule_template(
        &template,
        labels,
        value,
        external_labels,
        external_url,
        query_fn,
        timestamp_ms,
    )
}

/// The text Prometheus puts in place of a template that failed:
/// `<error expanding template: error executing template NAME: ...>`.
pub fn expansion_error_text(error: &TemplateError) -> String {
    let (stage, name) = match error {
        TemplateError::Parse { name, .. } => ("parsing", name.clone()),
        TemplateError::Exec { template, .. } => ("executing", template.clone()),
        TemplateError::NoTemplate { set, .. } => ("executing", set.clone()),
        TemplateError::TooMuchWork { template, .. }
        | TemplateError::TooMuchOutput { template, .. } => ("executing", template.clone()),
    };
    format!("<error expanding template: error {stage} template {name}: {error}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_prometheus_docs() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize_duration(899.99), "14m 59s");
        assert_eq!(humanize_duration(0.0215), "21.5ms");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_percentage(0.1234567), "12.35%");
        assert_eq!(
            humanize_timestamp(1435065584.128).as_deref(),
            Ok("2015-06-23 13:19:44.128 +0000 UTC")
        );
    }

    #[test]
    fn host_port_helpers() {
        assert_eq!(
            split_host_port("[::1]:9090"),
            Some(("::1".to_string(), "9090".to_string()))
        );
        assert_eq!(split_host_port("a:b:c"), None);
        assert_eq!(strip_domain("node1.example.com:9100"), "node1:9100");
        assert_eq!(strip_domain("10.0.0.1:9100"), "10.0.0.1:9100");
        assert_eq!(url_path("http://example.com/prom/?x=1"), "/prom/");
    }
}
