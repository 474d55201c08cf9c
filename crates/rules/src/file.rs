//! Rule files: Prometheus's YAML format, read strictly and validated the way
//! `promtool check rules` validates it.
//!
//! ```yaml
//! groups:
//!   - name: example
//!     interval: 30s        # default: the global evaluation_interval
//!     query_offset: 1m     # default: the global rule query offset
//!     limit: 10            # default 0: no limit
//!     labels: {team: a}    # added to every rule of the group
//!     rules:
//!       - record: job:up:sum
//!         expr: sum by (job) (up)
//!       - alert: InstanceDown
//!         expr: up == 0
//!         for: 5m
//!         keep_firing_for: 1m
//!         labels: {severity: page}
//!         annotations: {summary: "instance down"}
//! ```
//!
//! Unknown keys are errors (Prometheus reads rule files with
//! `UnmarshalStrict`). Validation messages follow rulefmt's wording:
//! `FILE: group "g", rule 2, "Name": could not parse expression: ...`; the
//! line and column Prometheus puts before `group` are not given, because
//! serde_yaml does not keep positions of mapping values.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use agentmon_model::{duration, validate_label_name, validate_metric_name, METRIC_NAME_LABEL};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::RulesError;
use crate::template::Expander;

/// A YAML scalar read as text, as Go's YAML decoder reads a scalar into a
/// string field: `severity: 1` is the label value `"1"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// A rule file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFileSpec {
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

/// One group as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub interval: Option<Scalar>,
    #[serde(default)]
    pub query_offset: Option<Scalar>,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// One rule as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub record: Option<Scalar>,
    #[serde(default)]
    pub alert: Option<Scalar>,
    #[serde(default)]
    pub expr: Option<Scalar>,
    #[serde(default, rename = "for")]
    pub for_: Option<Scalar>,
    #[serde(default)]
    pub keep_firing_for: Option<Scalar>,
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub annotations: BTreeMap<String, Scalar>,
}

/// A validated group, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDefinition {
    /// The file it came from (as given, for the group key and the API).
    pub file: String,
    pub name: String,
    /// `None`: the global evaluation interval.
    pub interval: Option<Duration>,
    /// `None`: the global rule query offset.
    pub query_offset: Option<Duration>,
    /// 0 means no limit.
    pub limit: usize,
    pub rules: Vec<RuleDefinition>,
}

/// What kind of rule, with what only that kind has.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// `record:` — the output metric name.
    Recording { record: String },
    /// `alert:` — the alert name, hold and keep-firing durations,
    /// annotation templates.
    Alerting {
        alert: String,
        hold: Duration,
        keep_firing_for: Duration,
        annotations: BTreeMap<String, String>,
    },
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDefinition {
    pub kind: RuleKind,
    /// The expression as written.
    pub expr: String,
    /// The group's labels overlaid by the rule's (values may be templates
    /// in alerting rules).
    pub labels: BTreeMap<String, String>,
}

impl RuleDefinition {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording { record } => record,
            RuleKind::Alerting { alert, .. } => alert,
        }
    }
}

/// Parses and validates the text of one rule file. `file` names it in
/// messages and in the groups' keys.
pub fn parse_rule_file(
    file: &str,
    text: &str,
    expander: &dyn Expander,
) -> Result<Vec<GroupDefinition>, RulesError> {
    // An empty file is an empty rule file, as for Prometheus.
    let spec: RuleFileSpec = if text.trim().is_empty() {
        RuleFileSpec::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| RulesError::Syntax {
            file: file.to_owned(),
            message: e.to_string(),
        })?
    };
    validate(file, &spec, expander)
}

/// Reads, parses and validates a rule file.
pub fn load_rule_file(
    path: &str,
    expander: &dyn Expander,
) -> Result<Vec<GroupDefinition>, RulesError> {
    let text = std::fs::read_to_string(path).map_err(|e| RulesError::Read {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    parse_rule_file(path, &text, expander)
}

/// Validates groups built in code (the API-made rules of
/// [`crate::presets`]) exactly as a rule file's; `file` names them.
pub fn validate_spec(
    file: &str,
    spec: &RuleFileSpec,
    expander: &dyn Expander,
) -> Result<Vec<GroupDefinition>, RulesError> {
    validate(file, spec, expander)
}

fn parse_duration(text: &Scalar) -> Result<Duration, String> {
    duration::parse(&text.0).map_err(|_| format!("not a valid duration string: {:?}", text.0))
}

fn validate(
    file: &str,
    spec: &RuleFileSpec,
    expander: &dyn Expander,
) -> Result<Vec<GroupDefinition>, RulesError> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut groups = Vec::new();
    for group in &spec.groups {
        if group.name.is_empty() {
            errors.push(format!("{file}: Groupname must not be empty"));
        }
        if !names.insert(group.name.as_str()) {
            errors.push(format!(
                "{file}: groupname: \"{}\" is repeated in the same file",
                group.name
            ));
        }
        let mut duration_of = |what: &str, value: &Option<Scalar>| match value {
            None => None,
            Some(text) => match parse_duration(text) {
                Ok(d) => Some(d),
                Err(message) => {
                    errors.push(format!("{file}: group {:?}: {what}: {message}", group.name));
                    None
                }
            },
        };
        // Zero means "not set", as in Prometheus.
        let interval = duration_of("interval", &group.interval).filter(|d| !d.is_zero());
        let query_offset = duration_of("query_offset", &group.query_offset);
        for name in group.labels.keys() {
            if validate_label_name(name).is_err() || name == METRIC_NAME_LABEL {
                errors.push(format!(
                    "{file}: group {:?}: invalid label name: {name}",
                    group.name
                ));
            }
        }
        let mut rules = Vec::new();
        for (index, rule) in group.rules.iter().enumerate() {
            let (definition, problems) = validate_rule(group, rule, expander);
            let rule_name = rule
                .alert
                .as_ref()
                .filter(|a| !a.0.is_empty())
                .or(rule.record.as_ref())
                .map(|s| s.0.as_str())
                .unwrap_or("");
            for problem in problems {
                errors.push(format!(
                    "{file}: group {:?}, rule {}, {rule_name:?}: {problem}",
                    group.name,
                    index + 1
                ));
            }
            rules.extend(definition);
        }
        groups.push(GroupDefinition {
            file: file.to_owned(),
            name: group.name.clone(),
            interval,
            query_offset,
            limit: group.limit,
            rules,
        });
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(RulesError::Invalid {
            file: file.to_owned(),
            errors,
        })
    }
}

fn text_of(value: &Option<Scalar>) -> &str {
    value.as_ref().map_or("", |s| s.0.as_str())
}

/// The rule's definition if it is valid, and its problems in rulefmt's
/// order and wording.
fn validate_rule(
    group: &GroupSpec,
    rule: &RuleSpec,
    expander: &dyn Expander,
) -> (Option<RuleDefinition>, Vec<String>) {
    let mut problems = Vec::new();
    let record = text_of(&rule.record);
    let alert = text_of(&rule.alert);
    let expr = text_of(&rule.expr);
    if !record.is_empty() && !alert.is_empty() {
        problems.push("only one of 'record' and 'alert' must be set".to_owned());
    }
    if record.is_empty() && alert.is_empty() {
        problems.push("one of 'record' or 'alert' must be set".to_owned());
    }
    if expr.is_empty() {
        problems.push("field 'expr' must be set in rule".to_owned());
    } else if let Err(e) = agentmon_promql::parse_expr(expr) {
        problems.push(format!("could not parse expression: {e}"));
    }
    let mut durations = [Duration::ZERO; 2];
    for (slot, (what, value)) in [
        ("for", &rule.for_),
        ("keep_firing_for", &rule.keep_firing_for),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(text) = value {
            match parse_duration(text) {
                Ok(d) => durations[slot] = d,
                Err(message) => problems.push(format!("{what}: {message}")),
            }
        }
    }
    let [hold, keep_firing_for] = durations;
    if !record.is_empty() {
        if !rule.annotations.is_empty() {
            problems.push("invalid field 'annotations' in recording rule".to_owned());
        }
        if !hold.is_zero() {
            problems.push("invalid field 'for' in recording rule".to_owned());
        }
        if !keep_firing_for.is_zero() {
            problems.push("invalid field 'keep_firing_for' in recording rule".to_owned());
        }
        if validate_metric_name(record).is_err() {
            problems.push(format!("invalid recording rule name: {record}"));
        }
    }
    for name in rule.labels.keys() {
        if validate_label_name(name).is_err() || name == METRIC_NAME_LABEL {
            problems.push(format!("invalid label name: {name}"));
        }
    }
    for name in rule.annotations.keys() {
        if validate_label_name(name).is_err() {
            problems.push(format!("invalid annotation name: {name}"));
        }
    }
    if !alert.is_empty() {
        let template_name = format!("__alert_{alert}");
        for (name, value) in &rule.labels {
            if let Err(e) = expander.check(&template_name, &value.0) {
                problems.push(format!("label {name:?}: {e}"));
            }
        }
        for (name, value) in &rule.annotations {
            if let Err(e) = expander.check(&template_name, &value.0) {
                problems.push(format!("annotation {name:?}: {e}"));
            }
        }
    }
    if !problems.is_empty() {
        return (None, problems);
    }
    let mut labels: BTreeMap<String, String> = group
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.0.clone())));
    let kind = if record.is_empty() {
        RuleKind::Alerting {
            alert: alert.to_owned(),
            hold,
            keep_firing_for,
            annotations: rule
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
        }
    } else {
        RuleKind::Recording {
            record: record.to_owned(),
        }
    };
    let definition = RuleDefinition {
        kind,
        expr: expr.to_owned(),
        labels,
    };
    (Some(definition), problems)
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
