//! The data of `/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON
//! shape (`web/api/v1/api.go`): field names, time format (RFC 3339 with
//! nanoseconds, Go's zero time when never evaluated) and alert values as
//! Go's `%e`-style float text.

use std::collections::BTreeMap;

use agentmon_model::{calendar, Labels};
use serde::{Serialize, Serializer};

use crate::alerting::{ActiveAlert, AlertingRule};
use crate::group::{EvaluationStatus, Group, Rule, RuleEntry};

/// A float written as Go's `encoding/json` writes a `float64`: whole
/// numbers without a fraction (`60`, not `60.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            serializer.serialize_i64(v as i64)
        } else {
            serializer.serialize_f64(v)
        }
    }
}

/// `data` of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleDiscovery {
    pub groups: Vec<RuleGroupJson>,
}

/// One group.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleGroupJson {
    pub name: String,
    pub file: String,
    pub rules: Vec<RuleJson>,
    /// Seconds.
    pub interval: GoFloat,
    pub limit: usize,
    #[serde(rename = "evaluationTime")]
    pub evaluation_time: GoFloat,
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
}

/// One rule, tagged by `type` (`alerting` or `recording`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RuleJson {
    Alerting(AlertingRuleJson),
    Recording(RecordingRuleJson),
}

/// An alerting rule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertingRuleJson {
    pub state: String,
    pub name: String,
    pub query: String,
    /// `for`, seconds.
    pub duration: GoFloat,
    #[serde(rename = "keepFiringFor")]
    pub keep_firing_for: GoFloat,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `None` (JSON `null`) with `exclude_alerts`.
    pub alerts: Option<Vec<AlertJson>>,
    pub health: String,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(rename = "evaluationTime")]
    pub evaluation_time: GoFloat,
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A recording rule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordingRuleJson {
    pub name: String,
    pub query: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub health: String,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(rename = "evaluationTime")]
    pub evaluation_time: GoFloat,
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One pending or firing alert.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertJson {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: String,
    #[serde(rename = "activeAt", skip_serializing_if = "Option::is_none")]
    pub active_at: Option<String>,
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    pub value: String,
}

/// `data` of `/api/v1/alerts`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertDiscovery {
    pub alerts: Vec<AlertJson>,
}

fn map_of(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn alert_json(alert: &ActiveAlert) -> AlertJson {
    AlertJson {
        labels: map_of(&alert.labels),
        annotations: map_of(&alert.annotations),
        state: alert.state.as_str().to_owned(),
        active_at: Some(rfc3339_ms(alert.active_at_ms)),
        keep_firing_since: alert.keep_firing_since_ms.map(rfc3339_ms),
        value: go_float_e(alert.value),
    }
}

fn alerts_of(rule: &AlertingRule) -> Vec<AlertJson> {
    rule.active_alerts().map(alert_json).collect()
}

fn last_evaluation(status: &EvaluationStatus) -> String {
    status
        .last_evaluation_ms
        .map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339_ms)
}

/// Which rules `/api/v1/rules` returns: its query parameters `type`
/// (`alert` or `record`), `rule_name[]`, `rule_group[]`, `file[]` and
/// `exclude_alerts`. Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFilter {
    /// `None` for both kinds.
    pub kind: Option<RuleType>,
    pub rule_names: Vec<String>,
    pub group_names: Vec<String>,
    pub files: Vec<String>,
    /// Leave out the alerts of alerting rules (`"alerts": null`).
    pub exclude_alerts: bool,
}

/// The `type` parameter of `/api/v1/rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    Alert,
    Record,
}

impl RuleType {
    /// Reads the `type` parameter as Prometheus does (case-insensitive;
    /// empty means both).
    pub fn parse(text: &str) -> Result<Option<RuleType>, String> {
        match text.to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "alert" => Ok(Some(RuleType::Alert)),
            "record" => Ok(Some(RuleType::Record)),
            _ => Err(format!("not supported value {text:?}")),
        }
    }
}

fn selected(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|v| v == value)
}

/// The rules page of `groups` under `filter`. As in Prometheus 3, a group
/// left without rules (by the filter, or because it has none) is left out.
pub fn rule_discovery(groups: &[Group], filter: &RuleFilter) -> RuleDiscovery {
    let groups = groups
        .iter()
        .filter(|g| selected(&filter.group_names, g.name()) && selected(&filter.files, g.file()))
        .map(|group| {
            let rules = group
                .rules
                .iter()
                .filter(|entry| selected(&filter.rule_names, entry.rule.name()))
                .filter_map(|entry| rule_json(entry, filter))
                .collect();
            RuleGroupJson {
                name: group.name().to_owned(),
                file: group.file().to_owned(),
                rules,
                interval: GoFloat(group.interval.as_secs_f64()),
                limit: group.definition.limit,
                evaluation_time: GoFloat(group.status.duration.as_secs_f64()),
                last_evaluation: last_evaluation(&group.status),
            }
        })
        .filter(|g| !g.rules.is_empty())
        .collect();
    RuleDiscovery { groups }
}

fn rule_json(entry: &RuleEntry, filter: &RuleFilter) -> Option<RuleJson> {
    let status = &entry.status;
    match &entry.rule {
        Rule::Alerting(rule) if filter.kind != Some(RuleType::Record) => {
            Some(RuleJson::Alerting(AlertingRuleJson {
                state: rule.state().as_str().to_owned(),
                name: rule.name.clone(),
                query: rule.display.clone(),
                duration: GoFloat(rule.hold.as_secs_f64()),
                keep_firing_for: GoFloat(rule.keep_firing_for.as_secs_f64()),
                labels: rule.labels.clone(),
                annotations: rule.annotations.clone(),
                alerts: (!filter.exclude_alerts).then(|| alerts_of(rule)),
                health: status.health.as_str().to_owned(),
                last_error: status.last_error.clone(),
                evaluation_time: GoFloat(status.duration.as_secs_f64()),
                last_evaluation: last_evaluation(status),
                kind: "alerting",
            }))
        }
        Rule::Recording(rule) if filter.kind != Some(RuleType::Alert) => {
            Some(RuleJson::Recording(RecordingRuleJson {
                name: rule.name.clone(),
                query: rule.display.clone(),
                labels: rule.labels.clone(),
                health: status.health.as_str().to_owned(),
                last_error: status.last_error.clone(),
                evaluation_time: GoFloat(status.duration.as_secs_f64()),
                last_evaluation: last_evaluation(status),
                kind: "recording",
            }))
        }
        _ => None,
    }
}

/// Every pending and firing alert of `groups`.
pub fn alert_discovery(groups: &[Group]) -> AlertDiscovery {
    let alerts = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|e| match &e.rule {
            Rule::Alerting(rule) => Some(alerts_of(rule)),
            Rule::Recording(_) => None,
        })
        .flatten()
        .collect();
    AlertDiscovery { alerts }
}

/// Milliseconds since the epoch as RFC 3339 in UTC, with the fraction
/// trimmed of trailing zeros as Go's `RFC3339Nano` prints it.
pub fn rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = calendar::civil_from_days(days);
    let seconds = in_day / 1000;
    let millis = in_day % 1000;
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: the shortest mantissa, an
/// exponent with a sign and at least two digits (`2.7e+01`).
pub fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = format!("{v:e}");
    let Some((mantissa, exponent)) = text.split_once('e') else {
        return text;
    };
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_float_e(27.0), "2.7e+01");
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(0.000123), "1.23e-04");
        assert_eq!(go_float_e(1e100), "1e+100");
        assert_eq!(go_float_e(f64::INFINITY), "+Inf");
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_530_728_832_606), "2018-07-04T18:27:12.606Z");
        assert_eq!(rfc3339_ms(1_530_728_832_600), "2018-07-04T18:27:12.6Z");
    }
}
