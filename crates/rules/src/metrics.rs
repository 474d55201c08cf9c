//! Self-metrics of rule evaluation in the Prometheus text format, after
//! Prometheus's `prometheus_rule_*` families, labelled by `rule_group`
//! (`<file>;<group name>`, Prometheus's group key).

use std::fmt::Write as _;

use crate::group::Group;

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the `agentmon_rule_*` families for `groups` to `out`.
pub fn write_rule_metrics(groups: &[Group], out: &mut String) {
    type Value = fn(&Group) -> f64;
    let families: [(&str, &str, &str, Value); 7] = [
        (
            "agentmon_rule_evaluations_total",
            "counter",
            "Rule evaluations.",
            |g| g.evaluations_total as f64,
        ),
        (
            "agentmon_rule_evaluation_failures_total",
            "counter",
            "Rule evaluations that failed.",
            |g| g.evaluation_failures_total as f64,
        ),
        (
            "agentmon_rule_group_iterations_missed_total",
            "counter",
            "Group evaluations skipped because the previous one ran past the interval.",
            |g| g.iterations_missed_total as f64,
        ),
        (
            "agentmon_rule_group_last_duration_seconds",
            "gauge",
            "How long the group's last evaluation took.",
            |g| g.status.duration.as_secs_f64(),
        ),
        (
            "agentmon_rule_group_last_evaluation_timestamp_seconds",
            "gauge",
            "The timestamp of the group's last evaluation (0 before the first).",
            |g| g.status.last_evaluation_ms.unwrap_or(0) as f64 / 1000.0,
        ),
        (
            "agentmon_rule_group_interval_seconds",
            "gauge",
            "The group's evaluation interval.",
            |g| g.interval.as_secs_f64(),
        ),
        (
            "agentmon_rule_group_rules",
            "gauge",
            "Rules in the group.",
            |g| g.rules.len() as f64,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for group in groups {
            let key = escape(&format!("{};{}", group.file(), group.name()));
            let _ = writeln!(out, "{name}{{rule_group=\"{key}\"}} {}", value(group));
        }
    }
}
