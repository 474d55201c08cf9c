//! A rule group: its rules evaluated in order at one timestamp, their output
//! written, stale markers for series that went away, alerts sent, and each
//! rule's health (Prometheus's `Group.Eval` in `rules/manager.go`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentmon_model::{is_stale_nan, Labels, Matcher, Sample, STALE_NAN};
use agentmon_promql::ReadPlan;
use xxhash_rust::xxh64::Xxh64;

use crate::alerting::{AlertState, AlertingRule, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC};
use crate::context::{millis, RuleContext};
use crate::error::EvalError;
use crate::file::{GroupDefinition, RuleDefinition, RuleKind};
use crate::query::RuleSample;
use crate::recording::RecordingRule;

/// Whether a rule's last evaluation worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleHealth {
    /// Not evaluated yet.
    Unknown,
    Ok,
    Err,
}

impl RuleHealth {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// The last evaluation of a rule or group.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationStatus {
    pub health: RuleHealth,
    pub last_error: Option<String>,
    /// The evaluation timestamp in milliseconds; `None` before the first.
    pub last_evaluation_ms: Option<i64>,
    /// How long it took.
    pub duration: Duration,
}

impl Default for EvaluationStatus {
    fn default() -> EvaluationStatus {
        EvaluationStatus {
            health: RuleHealth::Unknown,
            last_error: None,
            last_evaluation_ms: None,
            duration: Duration::ZERO,
        }
    }
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(r) => &r.name,
        }
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.expr,
            Rule::Alerting(r) => &r.expr,
        }
    }

    /// The expression as Prometheus prints it (`sum by (job) (x)`).
    pub fn query(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.display,
            Rule::Alerting(r) => &r.display,
        }
    }

    fn from_definition(definition: &RuleDefinition, restored: bool) -> Rule {
        match &definition.kind {
            RuleKind::Recording { record } => Rule::Recording(RecordingRule::new(
                record.clone(),
                definition.expr.clone(),
                definition.labels.clone(),
            )),
            RuleKind::Alerting {
                alert,
                hold,
                keep_firing_for,
                annotations,
            } => Rule::Alerting(AlertingRule::new(
                alert.clone(),
                definition.expr.clone(),
                *hold,
                *keep_firing_for,
                definition.labels.clone(),
                annotations.clone(),
                restored,
            )),
        }
    }
}

/// A rule with its evaluation status and the series it wrote last time.
#[derive(Debug, Clone)]
pub struct RuleEntry {
    pub rule: Rule,
    pub definition: RuleDefinition,
    pub status: EvaluationStatus,
    previous_series: HashSet<Labels>,
}

/// A group of rules evaluated together.
#[derive(Debug, Clone)]
pub struct Group {
    pub definition: GroupDefinition,
    /// The effective interval and query offset.
    pub interval: Duration,
    pub query_offset: Duration,
    pub rules: Vec<RuleEntry>,
    pub status: EvaluationStatus,
    /// Whether `for` state is to be restored after the second evaluation
    /// (groups loaded at startup).
    pub should_restore: bool,
    /// Series of rules dropped by a reload, marked stale at the next
    /// evaluation.
    stale_series: Vec<Labels>,
    /// Rule evaluations, and those that failed (self-metrics).
    pub evaluations_total: u64,
    pub evaluation_failures_total: u64,
    /// Evaluations skipped because one ran past the interval.
    pub iterations_missed_total: u64,
    /// How the rules' selections were read last time, so the next
    /// evaluation reads each once, widest window first (see
    /// [`agentmon_promql::ReadPlan`]).
    read_plan: Arc<ReadPlan>,
}

impl Group {
    /// A group from its definition, with the context's defaults for what
    /// the group leaves out. `restore` marks a group loaded at startup,
    /// whose alerts' `for` state will be restored from storage.
    pub fn new(definition: GroupDefinition, ctx: &RuleContext, restore: bool) -> Group {
        let rules = definition
            .rules
            .iter()
            .map(|d| RuleEntry {
                rule: Rule::from_definition(d, !restore),
                definition: d.clone(),
                status: EvaluationStatus::default(),
                previous_series: HashSet::new(),
            })
            .collect();
        Group {
            interval: definition.interval.unwrap_or(ctx.evaluation_interval),
            query_offset: definition.query_offset.unwrap_or(ctx.query_offset),
            definition,
            rules,
            status: EvaluationStatus::default(),
            should_restore: restore,
            stale_series: Vec::new(),
            evaluations_total: 0,
            evaluation_failures_total: 0,
            iterations_missed_total: 0,
            read_plan: Arc::default(),
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    /// The group's file.
    pub fn file(&self) -> &str {
        &self.definition.file
    }

    /// Takes over the state of `old` (the same group before a reload):
    /// rules with the same name and labels keep their alerts, status and
    /// the series they wrote, as Prometheus's `CopyState` does; the series
    /// of old rules without a match are marked stale at the next
    /// evaluation. A group still waiting to restore `for` state keeps
    /// waiting.
    pub fn copy_state(&mut self, old: &Group) {
        self.status = old.status.clone();
        self.should_restore = old.should_restore;
        self.evaluations_total = old.evaluations_total;
        self.evaluation_failures_total = old.evaluation_failures_total;
        self.iterations_missed_total = old.iterations_missed_total;
        let mut taken = vec![false; old.rules.len()];
        for entry in &mut self.rules {
            let found = old.rules.iter().enumerate().position(|(i, o)| {
                !taken[i]
                    && o.rule.name() == entry.rule.name()
                    && o.definition.labels == entry.definition.labels
            });
            let Some(index) = found else { continue };
            taken[index] = true;
            let old_entry = &old.rules[index];
            entry.status = old_entry.status.clone();
            entry.previous_series = old_entry.previous_series.clone();
            if let (Rule::Alerting(new), Rule::Alerting(previous)) =
                (&mut entry.rule, &old_entry.rule)
            {
                new.active = previous.active.clone();
                new.restored = previous.restored;
            }
        }
        self.stale_series = old.stale_series.clone();
        for (index, old_entry) in old.rules.iter().enumerate() {
            if !taken[index] {
                self.stale_series
                    .extend(old_entry.previous_series.iter().cloned());
            }
        }
    }

    /// The group's evaluation times are `offset + k × interval`, where the
    /// offset comes from a hash of the group's file and name, so that
    /// groups spread over the interval (Prometheus's `EvalTimestamp`). The
    /// latest such time at or before `now_ms`.
    pub fn eval_timestamp(&self, now_ms: i64) -> i64 {
        let interval_ns = self.interval.as_nanos().max(1);
        let offset_ns = (u128::from(self.hash()) % interval_ns) as i128;
        let now_ns = i128::from(now_ms) * 1_000_000;
        let adjusted = now_ns - offset_ns;
        let base = adjusted - adjusted.rem_euclid(interval_ns as i128);
        ((base + offset_ns) / 1_000_000) as i64
    }

    /// Prometheus's group hash: the hash of the label set
    /// `{file="<file>", name="<name>"}`.
    fn hash(&self) -> u64 {
        let mut hasher = Xxh64::new(0);
        for (name, value) in [("file", self.file()), ("name", self.name())] {
            hasher.update(name.as_bytes());
            hasher.update(&[0xff]);
            hasher.update(value.as_bytes());
            hasher.update(&[0xff]);
        }
        hasher.digest()
    }

    /// Evaluates every rule in order at `ts_ms`.
    pub fn eval(&mut self, ctx: &RuleContext, ts_ms: i64) {
        let started = Instant::now();
        // The rules' queries share selector reads for this evaluation only,
        // except of the series the group writes (docs/rules.md).
        let shared;
        let shared_query = ctx
            .query
            .for_evaluation(self.written_metrics(), self.read_plan.clone());
        let ctx = match shared_query {
            Some(query) => {
                shared = RuleContext {
                    query,
                    ..ctx.clone()
                };
                &shared
            }
            None => ctx,
        };
        let offset_ms = millis(self.query_offset);
        let limit = self.definition.limit;
        for entry in &mut self.rules {
            let rule_started = Instant::now();
            let result = match &mut entry.rule {
                Rule::Recording(rule) => rule.eval(ctx, ts_ms, offset_ms, limit),
                Rule::Alerting(rule) => rule.eval(ctx, ts_ms, offset_ms, limit),
            };
            let outcome = result.and_then(|samples| {
                if let Rule::Alerting(rule) = &mut entry.rule {
                    let url = generator_url(&ctx.external_url, &rule.display);
                    let alerts = rule.alerts_to_send(ts_ms, ctx.resend_delay, self.interval, &url);
                    if !alerts.is_empty() {
                        ctx.sender.send(&alerts);
                    }
                }
                write_output(ctx, entry, samples, ts_ms - offset_ms)
            });
            self.evaluations_total += 1;
            if outcome.is_err() {
                self.evaluation_failures_total += 1;
            }
            entry.status = EvaluationStatus {
                health: if outcome.is_ok() {
                    RuleHealth::Ok
                } else {
                    RuleHealth::Err
                },
                last_error: outcome.err().map(|e: EvalError| e.to_string()),
                last_evaluation_ms: Some(ts_ms),
                duration: rule_started.elapsed(),
            };
        }
        if !self.stale_series.is_empty() {
            let stale: Vec<RuleSample> = std::mem::take(&mut self.stale_series)
                .into_iter()
                .map(|labels| RuleSample {
                    labels,
                    sample: Sample::new(ts_ms - offset_ms, STALE_NAN),
                })
                .collect();
            if let Err(error) = ctx.appender.append(&stale) {
                tracing::warn!(%error, group = self.name(), "writing stale markers failed");
            }
        }
        self.status = EvaluationStatus {
            health: RuleHealth::Ok,
            last_error: None,
            last_evaluation_ms: Some(ts_ms),
            duration: started.elapsed(),
        };
    }

    /// The metric names this group writes while it evaluates: its
    /// recording rules' names, and `ALERTS` and `ALERTS_FOR_STATE` if it
    /// has alerting rules.
    fn written_metrics(&self) -> HashSet<String> {
        let mut names = HashSet::new();
        for entry in &self.rules {
            match &entry.rule {
                Rule::Recording(rule) => {
                    names.insert(rule.name.clone());
                }
                Rule::Alerting(_) => {
                    names.insert(ALERTS_METRIC.to_owned());
                    names.insert(ALERTS_FOR_STATE_METRIC.to_owned());
                }
            }
        }
        names
    }

    /// Restores the `for` state of the alerts now active from the
    /// `ALERTS_FOR_STATE` series written before a restart, as Prometheus's
    /// `RestoreForState`: an alert whose series was last written at
    /// `down_at` with activation time `active_at` has its remaining pending
    /// time carried over, shifted by the outage, and at least the grace
    /// period. Rules whose `for` is shorter than the grace period are not
    /// restored. Nothing is restored from series older than the outage
    /// tolerance.
    pub fn restore_for_state(&mut self, ctx: &RuleContext, now_ms: i64) {
        let grace_ms = millis(ctx.for_grace_period);
        let mint = now_ms - millis(ctx.outage_tolerance);
        for entry in &mut self.rules {
            let Rule::Alerting(rule) = &mut entry.rule else {
                continue;
            };
            let hold_ms = millis(rule.hold);
            if hold_ms < grace_ms {
                rule.restored = true;
                continue;
            }
            let Some(series) = &ctx.series else {
                rule.restored = true;
                continue;
            };
            let keys: Vec<Labels> = rule.active.keys().cloned().collect();
            for key in keys {
                let Some(alert) = rule.active.get(&key) else {
                    continue;
                };
                let wanted = rule.for_state_labels(alert);
                let Some(last) = last_sample(series.as_ref(), &wanted, mint, now_ms) else {
                    continue;
                };
                if is_stale_nan(last.v) {
                    continue;
                }
                // Prometheus works in whole seconds here.
                let down_at = last.t.div_euclid(1000) * 1000;
                let mut active_at = (last.v as i64).saturating_mul(1000);
                let remaining = hold_ms - (down_at - active_at);
                if remaining <= 0 {
                    // It was firing; the next evaluation decides.
                } else if remaining < grace_ms {
                    active_at = now_ms + grace_ms - hold_ms;
                } else {
                    active_at += now_ms - down_at;
                }
                if let Some(alert) = rule.active.get_mut(&key) {
                    alert.active_at_ms = active_at;
                }
            }
            rule.restored = true;
        }
        self.should_restore = false;
    }

    /// Stale markers for every series the group wrote last time, at
    /// `ts_ms`: written when a group is removed or stopped, so its series
    /// end at once rather than after the lookback.
    pub fn stale_markers(&self, ts_ms: i64) -> Vec<RuleSample> {
        self.rules
            .iter()
            .flat_map(|e| e.previous_series.iter())
            .map(|labels| RuleSample {
                labels: labels.clone(),
                sample: Sample::new(ts_ms, STALE_NAN),
            })
            .collect()
    }

    /// The alerting rules' pending and firing alerts.
    pub fn alert_count(&self, state: AlertState) -> usize {
        self.rules
            .iter()
            .filter_map(|e| match &e.rule {
                Rule::Alerting(rule) => Some(rule.active.values().filter(|a| a.state == state)),
                Rule::Recording(_) => None,
            })
            .flatten()
            .count()
    }
}

/// Writes one rule's output, then stale markers for the series it wrote
/// last time and not now.
fn write_output(
    ctx: &RuleContext,
    entry: &mut RuleEntry,
    samples: Vec<RuleSample>,
    stale_ts_ms: i64,
) -> Result<(), EvalError> {
    let mut written = HashSet::with_capacity(samples.len());
    let appended = if samples.is_empty() {
        Ok(())
    } else {
        ctx.appender.append(&samples)
    };
    if appended.is_ok() {
        written.extend(samples.into_iter().map(|s| s.labels));
    }
    let stale: Vec<RuleSample> = entry
        .previous_series
        .iter()
        .filter(|labels| !written.contains(*labels))
        .map(|labels| RuleSample {
            labels: labels.clone(),
            sample: Sample::new(stale_ts_ms, STALE_NAN),
        })
        .collect();
    entry.previous_series = written;
    let stale_written = if stale.is_empty() {
        Ok(())
    } else {
        ctx.appender.append(&stale)
    };
    appended.and(stale_written).map_err(EvalError::Append)
}

/// The last sample, stale markers included, of the series with exactly
/// `labels` between `mint` and `maxt`.
fn last_sample(
    series: &crate::context::SeriesReader,
    labels: &Labels,
    mint: i64,
    maxt: i64,
) -> Option<Sample> {
    let matchers: Vec<Matcher> = labels
        .iter()
        .map(|l| Matcher::equal(&l.name, &l.value))
        .collect();
    let found = series.select(&matchers, mint, maxt).ok()?;
    found
        .into_iter()
        .find(|s| s.labels.len() == labels.len())
        .and_then(|s| s.samples.last().copied())
}

/// The link back to the expression (Prometheus's
/// `externalURL + TableLinkForExpression(expr)`).
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        query_escape(expr)
    )
}

/// Go's `url.QueryEscape`: unreserved characters kept, space as `+`, the
/// rest percent-encoded with upper-case hex.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
