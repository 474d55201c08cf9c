//! Alert presets: named alert types (`low_balance`, `high_latency`, ...)
//! compiled to visible PromQL alerting rules, and the group that holds the
//! rules made through the API (`/api/v1/monitor/alerts*`).
//!
//! A preset is a [`PresetType`] with an optional threshold; [`compile`]
//! turns it into the expression the rule evaluates, over the `hermes_*`
//! families of `agentmon_agents` (named after `agents.namespace`) or over
//! documented metric names for the blockchain types. The expressions are
//! listed, with their reasoning, in `docs/alert-presets.md`.
//!
//! Every API-made rule, preset or free PromQL condition, becomes an
//! [`ApiRule`]; [`api_group`] validates them all as one rule group named
//! [`API_GROUP_NAME`], exactly as a rule file's group is validated, and
//! the rule manager runs it beside the `rule_files` groups.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use agentmon_model::validate_label_name;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::RulesError;
use crate::file::{validate_spec, GroupDefinition, GroupSpec, RuleFileSpec, RuleSpec, Scalar};
use crate::template::Expander;

/// The group of API-made rules in `/api/v1/rules`.
pub const API_GROUP_NAME: &str = "agentmon-api";
/// The `file` the API group shows: the database the rules live in.
pub const API_RULES_FILE: &str = "alert_rules.sqlite";
/// Label every API-made rule's alerts carry: the rule's name. The
/// notification pipeline routes a rule's alerts to its own webhook or
/// receiver by this label.
pub const ALERT_NAME_LABEL: &str = "agentmon_alert";
/// Label carrying the preset type (`condition` for free PromQL rules).
pub const ALERT_TYPE_LABEL: &str = "agentmon_alert_type";
/// Longest rule name.
pub const MAX_NAME_LEN: usize = agentmon_model::API_NAME_MAX_LEN;

/// Why a preset or API rule is refused; every message says what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PresetError {
    #[error("unknown alert type {0:?}: expected one of {list}", list = PresetType::names())]
    UnknownType(String),
    #[error("alert type {0} needs a threshold")]
    MissingThreshold(PresetType),
    #[error("alert type {kind} takes no threshold")]
    UnexpectedThreshold { kind: PresetType },
    #[error("threshold {value} is invalid for alert type {kind}: {reason}")]
    InvalidThreshold {
        kind: PresetType,
        value: f64,
        reason: &'static str,
    },
    #[error("invalid alert name {0:?}: must match [A-Za-z0-9_.-]{{1,128}}")]
    InvalidName(String),
    #[error("invalid severity {0:?}: expected warning or critical")]
    InvalidSeverity(String),
    #[error("invalid condition: {0}")]
    InvalidCondition(String),
    #[error("invalid label name {0:?}")]
    InvalidLabel(String),
    #[error("label {0:?} is set by agentmon and cannot be given")]
    ReservedLabel(String),
}

/// The alert types a preset can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetType {
    CoordinatorDown,
    MinerOffline,
    JobFailed,
    LowBalance,
    HighLatency,
    ToolErrorRate,
    CostOverrun,
    TokenSpike,
    InstanceDown,
    StuckSession,
    ToolLoop,
    SessionBudget,
}

impl PresetType {
    /// Every type, in the documentation's order.
    pub const ALL: [PresetType; 12] = [
        PresetType::CoordinatorDown,
        PresetType::MinerOffline,
        PresetType::JobFailed,
        PresetType::LowBalance,
        PresetType::HighLatency,
        PresetType::ToolErrorRate,
        PresetType::CostOverrun,
        PresetType::TokenSpike,
        PresetType::InstanceDown,
        PresetType::StuckSession,
        PresetType::ToolLoop,
        PresetType::SessionBudget,
    ];

    /// The type's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PresetType::CoordinatorDown => "coordinator_down",
            PresetType::MinerOffline => "miner_offline",
            PresetType::JobFailed => "job_failed",
            PresetType::LowBalance => "low_balance",
            PresetType::HighLatency => "high_latency",
            PresetType::ToolErrorRate => "tool_error_rate",
            PresetType::CostOverrun => "cost_overrun",
            PresetType::TokenSpike => "token_spike",
            PresetType::InstanceDown => "instance_down",
            PresetType::StuckSession => "stuck_session",
            PresetType::ToolLoop => "tool_loop",
            PresetType::SessionBudget => "session_budget",
        }
    }

    /// The type named `text`.
    pub fn parse(text: &str) -> Result<PresetType, PresetError> {
        PresetType::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| PresetError::UnknownType(text.to_owned()))
    }

    fn names() -> String {
        PresetType::ALL.map(PresetType::as_str).join(", ")
    }

    /// Whether the type has no meaning without a threshold.
    pub fn needs_threshold(self) -> bool {
        !matches!(
            self,
            PresetType::CoordinatorDown
                | PresetType::MinerOffline
                | PresetType::InstanceDown
                | PresetType::StuckSession
        )
    }

    /// The `for` of a preset that gives no `duration`: long enough to ride
    /// out one failed scrape for "down" types, none for thresholds on
    /// windows that already smooth.
    pub fn default_hold(self) -> Duration {
        match self {
            PresetType::CoordinatorDown | PresetType::InstanceDown => Duration::from_secs(60),
            PresetType::MinerOffline | PresetType::HighLatency | PresetType::ToolErrorRate => {
                Duration::from_secs(300)
            }
            PresetType::TokenSpike => Duration::from_secs(600),
            _ => Duration::ZERO,
        }
    }

    /// A sentence for the alert's `description` annotation.
    fn describe(self) -> &'static str {
        match self {
            PresetType::CoordinatorDown => "the coordinator is down",
            PresetType::MinerOffline => "a miner is offline",
            PresetType::JobFailed => "jobs failed in the last hour",
            PresetType::LowBalance => "a wallet balance is below its threshold",
            PresetType::HighLatency => "p95 step duration is above its threshold (seconds)",
            PresetType::ToolErrorRate => "a tool's error ratio is above its threshold",
            PresetType::CostOverrun => "spend is above its threshold (USD per hour)",
            PresetType::TokenSpike => "the token rate is above its multiple of the 1h average",
            PresetType::InstanceDown => "a scraped instance is down",
            PresetType::StuckSession => "sessions are open but no step was taken",
            PresetType::ToolLoop => "one tool was called more often per session than allowed",
            PresetType::SessionBudget => "spend per session is above its budget (USD)",
        }
    }
}

impl fmt::Display for PresetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is (its `severity` label).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Result<Severity, PresetError> {
        match text {
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(PresetError::InvalidSeverity(other.to_owned())),
        }
    }
}

/// Checks an API rule name: `[A-Za-z0-9_.-]{1,128}`.
pub fn validate_name(name: &str) -> Result<(), PresetError> {
    if agentmon_model::is_api_name(name) {
        Ok(())
    } else {
        Err(PresetError::InvalidName(name.to_owned()))
    }
}

/// Checks a free PromQL condition with the parser; the error is the
/// parser's message.
pub fn validate_condition(expr: &str) -> Result<(), PresetError> {
    if expr.trim().is_empty() {
        return Err(PresetError::InvalidCondition(
            "condition is empty".to_owned(),
        ));
    }
    agentmon_promql::parse_expr(expr)
        .map(|_| ())
        .map_err(|e| PresetError::InvalidCondition(e.to_string()))
}

/// Formats a threshold as PromQL writes a number (no exponent surprises
/// for ordinary values, shortest round-trip form otherwise).
fn number(value: f64) -> String {
    format!("{value}")
}

/// The PromQL expression of a preset. `namespace` is `agents.namespace`
/// (`hermes` by default) that names the agent families.
pub fn compile(
    kind: PresetType,
    threshold: Option<f64>,
    namespace: &str,
) -> Result<String, PresetError> {
    if let Some(value) = threshold {
        if !value.is_finite() {
            return Err(PresetError::InvalidThreshold {
                kind,
                value,
                reason: "must be a finite number",
            });
        }
    }
    let need = || threshold.ok_or(PresetError::MissingThreshold(kind));
    let positive = |value: f64| {
        if value > 0.0 {
            Ok(value)
        } else {
            Err(PresetError::InvalidThreshold {
                kind,
                value,
                reason: "must be greater than 0",
            })
        }
    };
    let ns = namespace;
    let by = "agent, instance";
    Ok(match kind {
        PresetType::CoordinatorDown | PresetType::MinerOffline | PresetType::InstanceDown => {
            if threshold.is_some() {
                return Err(PresetError::UnexpectedThreshold { kind });
            }
            match kind {
                PresetType::CoordinatorDown => {
                    r#"up{job="coordinator"} == 0 or probe_success{service="coordinator-api"} == 0"#
                        .to_owned()
                }
                PresetType::MinerOffline => r#"up{job="miner"} == 0"#.to_owned(),
                _ => "up == 0".to_owned(),
            }
        }
        PresetType::JobFailed => {
            let count = positive(need()?)?;
            format!(
                "sum(increase(aitbc_jobs_failed_total[1h])) >= {}",
                number(count)
            )
        }
        PresetType::LowBalance => {
            let limit = need()?;
            format!("aitbc_wallet_balance < {}", number(limit))
        }
        PresetType::HighLatency => {
            let seconds = positive(need()?)?;
            format!(
                "histogram_quantile(0.95, sum by ({by}, le) (rate({ns}_step_duration_seconds_bucket[5m]))) > {}",
                number(seconds)
            )
        }
        PresetType::ToolErrorRate => {
            let ratio = need()?;
            if !(0.0..1.0).contains(&ratio) {
                return Err(PresetError::InvalidThreshold {
                    kind,
                    value: ratio,
                    reason: "is a ratio: must be at least 0 and below 1",
                });
            }
            format!(
                "sum by ({by}, tool_name) (rate({ns}_tool_call_total{{status!=\"success\"}}[5m])) / sum by ({by}, tool_name) (rate({ns}_tool_call_total[5m])) > {}",
                number(ratio)
            )
        }
        PresetType::CostOverrun => {
            let usd = positive(need()?)?;
            format!(
                "sum by ({by}) (rate({ns}_cost_usd_total[15m])) * 3600 > {}",
                number(usd)
            )
        }
        PresetType::TokenSpike => {
            let factor = positive(need()?)?;
            format!(
                "sum by ({by}) (rate({ns}_tokens_total[5m])) > {} * sum by ({by}) (rate({ns}_tokens_total[1h]))",
                number(factor)
            )
        }
        PresetType::StuckSession => {
            let seconds = match threshold {
                None => 600.0,
                Some(value) => positive(value)?,
            };
            if seconds.fract() != 0.0 {
                return Err(PresetError::InvalidThreshold {
                    kind,
                    value: seconds,
                    reason: "is a whole number of seconds",
                });
            }
            format!(
                "(sum by ({by}) ({ns}_active_sessions) > 0) unless on ({by}) (sum by ({by}) (increase({ns}_step_duration_seconds_count[{}s])) > 0)",
                number(seconds)
            )
        }
        PresetType::ToolLoop => {
            let calls = positive(need()?)?;
            format!(
                "max by ({by}, tool_name) ({ns}_session_max_tool_calls) > {}",
                number(calls)
            )
        }
        PresetType::SessionBudget => {
            let usd = positive(need()?)?;
            format!(
                "max by ({by}) ({ns}_session_max_cost_usd) > {}",
                number(usd)
            )
        }
    })
}

/// One API-made alerting rule, ready to go into the API group.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRule {
    /// The alert name (`alertname`), also the [`ALERT_NAME_LABEL`] value.
    pub name: String,
    /// `condition`, or the preset's compiled expression.
    pub expr: String,
    /// The `for`.
    pub hold: Duration,
    pub severity: Severity,
    /// The preset type, `None` for a free condition.
    pub preset: Option<PresetType>,
    /// Extra labels the user gave (checked by [`ApiRule::check_labels`]).
    pub labels: BTreeMap<String, String>,
}

impl ApiRule {
    /// Refuses label names that are invalid or that agentmon sets itself.
    pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), PresetError> {
        for name in labels.keys() {
            if validate_label_name(name).is_err() || name == "__name__" {
                return Err(PresetError::InvalidLabel(name.clone()));
            }
            if [ALERT_NAME_LABEL, ALERT_TYPE_LABEL, "severity", "alertname"]
                .contains(&name.as_str())
            {
                return Err(PresetError::ReservedLabel(name.clone()));
            }
        }
        Ok(())
    }

    /// The labels the rule's alerts get.
    pub fn rule_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert("severity".to_owned(), self.severity.as_str().to_owned());
        labels.insert(ALERT_NAME_LABEL.to_owned(), self.name.clone());
        labels.insert(
            ALERT_TYPE_LABEL.to_owned(),
            self.preset
                .map_or("condition", PresetType::as_str)
                .to_owned(),
        );
        labels
    }

    fn spec(&self) -> RuleSpec {
        let description = match self.preset {
            Some(kind) => kind.describe().to_owned(),
            None => format!("condition {} holds", self.expr),
        };
        let annotations = BTreeMap::from([
            (
                "summary".to_owned(),
                Scalar(format!("{}: value {{{{ $value }}}}", self.name)),
            ),
            ("description".to_owned(), Scalar(description)),
        ]);
        RuleSpec {
            alert: Some(Scalar(self.name.clone())),
            expr: Some(Scalar(self.expr.clone())),
            for_: Some(Scalar(agentmon_model::duration::format_millis(
                u64::try_from(self.hold.as_millis()).unwrap_or(u64::MAX),
            ))),
            labels: self
                .rule_labels()
                .into_iter()
                .map(|(k, v)| (k, Scalar(v)))
                .collect(),
            annotations,
            ..RuleSpec::default()
        }
    }
}

/// The group of `rules`, validated as a rule file's group would be; `None`
/// when there are no rules (no empty group is shown).
pub fn api_group(
    rules: &[ApiRule],
    expander: &dyn Expander,
) -> Result<Option<GroupDefinition>, RulesError> {
    if rules.is_empty() {
        return Ok(None);
    }
    let spec = RuleFileSpec {
        groups: vec![GroupSpec {
            name: API_GROUP_NAME.to_owned(),
            rules: rules.iter().map(ApiRule::spec).collect(),
            ..GroupSpec::default()
        }],
    };
    Ok(validate_spec(API_RULES_FILE, &spec, expander)?
        .into_iter()
        .next())
}

#[cfg(test)]
#[path = "presets_tests.rs"]
mod tests;
