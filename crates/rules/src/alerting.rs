//! Alerting rules: the inactive → pending → firing state machine of
//! Prometheus's `rules/alerting.go`.
//!
//! Each evaluation runs the expression; every result sample becomes an alert
//! identified by its labels (without `__name__`, with the rule's labels
//! expanded and `alertname` set). A new alert is *pending* from the
//! evaluation it first appeared at (`active_at`); once it has been active for
//! the rule's `for` it is *firing*. An alert missing from a result is
//! dropped if it was pending; if it was firing it stays firing for
//! `keep_firing_for` and then becomes *inactive* (resolved), and is kept for
//! 15 minutes so that the resolution is sent. Each evaluation writes
//! `ALERTS{alertstate=...}` = 1 and `ALERTS_FOR_STATE` = `active_at` in
//! seconds for every pending and firing alert.

use std::collections::BTreeMap;
use std::time::Duration;

use agentmon_model::{Alert, Labels, Sample, METRIC_NAME_LABEL};

use crate::context::{millis, RuleContext};
use crate::error::EvalError;
use crate::query::RuleSample;
use crate::template::TemplateData;

/// How long a resolved alert is kept (and re-sent as resolved).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);
/// The series of pending and firing alerts.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The series of pending and firing alerts' activation times.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    /// The name Prometheus uses (`alertstate` label, API `state`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule, with its timeline. Times in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    /// The value of the sample that made the alert, at the last evaluation.
    pub value: f64,
    /// When the alert became pending.
    pub active_at_ms: i64,
    /// When it became firing.
    pub fired_at_ms: Option<i64>,
    /// When it became inactive.
    pub resolved_at_ms: Option<i64>,
    /// When it was last sent.
    pub last_sent_at_ms: Option<i64>,
    /// The `ends_at` it was last sent with while firing.
    pub valid_until_ms: i64,
    /// Since when it has been kept firing without being in the result.
    pub keep_firing_since_ms: Option<i64>,
}

impl ActiveAlert {
    /// Whether the alert should be sent at `ts_ms` (Prometheus's
    /// `needsSending`): never while pending; at once after it resolved;
    /// otherwise when `resend_delay` has passed since the last send.
    fn needs_sending(&self, ts_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last_sent = self.last_sent_at_ms.unwrap_or(i64::MIN);
        if self
            .resolved_at_ms
            .is_some_and(|resolved| resolved > last_sent)
        {
            return true;
        }
        last_sent.saturating_add(resend_delay_ms) < ts_ms
    }
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub(crate) name: String,
    pub(crate) expr: String,
    /// The expression as Prometheus prints it (API `query`, generator URL).
    pub(crate) display: String,
    pub(crate) hold: Duration,
    pub(crate) keep_firing_for: Duration,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    /// Alerts by identity; resolved ones are kept for [`RESOLVED_RETENTION`].
    pub(crate) active: BTreeMap<Labels, ActiveAlert>,
    /// Whether `for` state has been restored (or needs none); `ALERTS`
    /// series are written only once it has.
    pub(crate) restored: bool,
}

impl AlertingRule {
    pub(crate) fn new(
        name: String,
        expr: String,
        hold: Duration,
        keep_firing_for: Duration,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        restored: bool,
    ) -> AlertingRule {
        AlertingRule {
            name,
            display: crate::recording::display_expr(&expr),
            expr,
            hold,
            keep_firing_for,
            labels,
            annotations,
            active: BTreeMap::new(),
            restored,
        }
    }

    /// Alerts that are pending or firing.
    pub fn active_alerts(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
    }

    /// The rule's state: the highest state of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Evaluates the rule at `ts_ms`, querying at `ts_ms - offset_ms`;
    /// returns the `ALERTS` and `ALERTS_FOR_STATE` samples to write.
    pub(crate) fn eval(
        &mut self,
        ctx: &RuleContext,
        ts_ms: i64,
        offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<RuleSample>, EvalError> {
        let query_ts = ts_ms - offset_ms;
        let result = ctx
            .query
            .query(&self.expr, query_ts)
            .map_err(EvalError::Query)?;
        let template_name = format!("__alert_{}", self.name);
        let mut current: BTreeMap<Labels, ActiveAlert> = BTreeMap::new();
        for sample in &result {
            // `$labels` is the sample's whole label set, `__name__`
            // included, as in Prometheus; the alert itself drops the name.
            let data = TemplateData {
                labels: sample
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                value: sample.v,
                external_labels: ctx.external_labels.clone(),
                external_url: ctx.external_url.clone(),
                timestamp_ms: ts_ms,
                query: Some(ctx.query.clone()),
            };
            let expand = |text: &str| match ctx.expander.expand(&template_name, text, &data) {
                Ok(expanded) => expanded,
                Err(e) => format!("<error expanding template: {e}>"),
            };
            let mut labels = data.labels.clone();
            labels.remove(METRIC_NAME_LABEL);
            for (name, value) in &self.labels {
                labels.insert(name.clone(), expand(value));
            }
            labels.insert("alertname".to_owned(), self.name.clone());
            let annotations: BTreeMap<String, String> = self
                .annotations
                .iter()
                .map(|(name, value)| (name.clone(), expand(value)))
                .collect();
            // Names come from a validated rule and a query result, so
            // building cannot fail; an error would only repeat a name.
            let labels = Labels::new(labels).map_err(|e| EvalError::Query(e.to_string()))?;
            let annotations =
                Labels::new(annotations).map_err(|e| EvalError::Query(e.to_string()))?;
            if current.contains_key(&labels) {
                return Err(EvalError::DuplicateAlert);
            }
            current.insert(
                labels.clone(),
                ActiveAlert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: sample.v,
                    active_at_ms: ts_ms,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: 0,
                    keep_firing_since_ms: None,
                },
            );
        }
        let in_result: std::collections::BTreeSet<Labels> = current.keys().cloned().collect();
        for (labels, alert) in current {
            match self.active.get_mut(&labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations = alert.annotations;
                }
                _ => {
                    self.active.insert(labels, alert);
                }
            }
        }

        let hold_ms = millis(self.hold);
        let keep_ms = millis(self.keep_firing_for);
        let retention_ms = millis(RESOLVED_RETENTION);
        let mut output = Vec::new();
        let mut active_count = 0;
        let mut dropped = Vec::new();
        for (labels, alert) in self.active.iter_mut() {
            if !in_result.contains(labels) {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_ms > 0 {
                    let since = *alert.keep_firing_since_ms.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep_ms;
                }
                let expired = alert
                    .resolved_at_ms
                    .is_some_and(|resolved| ts_ms - resolved > retention_ms);
                if alert.state == AlertState::Pending || expired {
                    dropped.push(labels.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                alert.keep_firing_since_ms = None;
            }
            active_count += 1;
            if alert.state == AlertState::Pending && ts_ms - alert.active_at_ms >= hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(ts_ms);
            }
            if self.restored {
                output.push(self_sample(
                    &self.name,
                    &self.labels,
                    alert,
                    ALERTS_METRIC,
                    query_ts,
                    1.0,
                ));
                output.push(self_sample(
                    &self.name,
                    &self.labels,
                    alert,
                    ALERTS_FOR_STATE_METRIC,
                    query_ts,
                    alert.active_at_ms.div_euclid(1000) as f64,
                ));
            }
        }
        for labels in dropped {
            self.active.remove(&labels);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(EvalError::AlertLimit {
                limit,
                count: active_count,
            });
        }
        Ok(output)
    }

    /// The alerts to send at `ts_ms`, marking them sent (Prometheus's
    /// `sendAlerts`): a firing alert is valid until
    /// `ts + 4 × max(resend_delay, interval)`; a resolved one ends when it
    /// resolved.
    pub(crate) fn alerts_to_send(
        &mut self,
        ts_ms: i64,
        resend_delay: Duration,
        interval: Duration,
        generator_url: &str,
    ) -> Vec<Alert> {
        let resend_ms = millis(resend_delay);
        let delta_ms = millis(resend_delay.max(interval));
        let mut out = Vec::new();
        for alert in self.active.values_mut() {
            if !alert.needs_sending(ts_ms, resend_ms) {
                continue;
            }
            alert.last_sent_at_ms = Some(ts_ms);
            alert.valid_until_ms = ts_ms.saturating_add(delta_ms.saturating_mul(4));
            out.push(Alert {
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                // Prometheus sends the time the alert fired; an alert kept
                // only as resolved may have none (never fired): it is not
                // sent at all because it was pending, so this is a fallback.
                starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
                ends_at_ms: Some(alert.resolved_at_ms.unwrap_or(alert.valid_until_ms)),
                generator_url: generator_url.to_owned(),
            });
        }
        out
    }

    /// The labels `ALERTS_FOR_STATE` has for `alert`, to find its series.
    pub(crate) fn for_state_labels(&self, alert: &ActiveAlert) -> Labels {
        self_sample(
            &self.name,
            &self.labels,
            alert,
            ALERTS_FOR_STATE_METRIC,
            0,
            0.0,
        )
        .labels
    }
}

/// An `ALERTS` or `ALERTS_FOR_STATE` sample of `alert`: the rule's labels as
/// written (unexpanded, as Prometheus builds them), overlaid by the alert's,
/// with `__name__`, `alertname` and (for `ALERTS`) `alertstate`.
fn self_sample(
    rule_name: &str,
    rule_labels: &BTreeMap<String, String>,
    alert: &ActiveAlert,
    metric: &str,
    t: i64,
    v: f64,
) -> RuleSample {
    let mut labels = rule_labels.clone();
    for label in &alert.labels {
        labels.insert(label.name.clone(), label.value.clone());
    }
    labels.insert(METRIC_NAME_LABEL.to_owned(), metric.to_owned());
    labels.insert("alertname".to_owned(), rule_name.to_owned());
    if metric == ALERTS_METRIC {
        labels.insert("alertstate".to_owned(), alert.state.as_str().to_owned());
    }
    RuleSample {
        // Every name here was validated when it entered the rule or the
        // store, so this cannot fail; an empty set would only be unusual.
        labels: Labels::new(labels).unwrap_or_default(),
        sample: Sample::new(t, v),
    }
}

#[cfg(test)]
#[path = "alerting_tests.rs"]
mod tests;
