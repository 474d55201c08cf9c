//! `agentmon rules test FILE...`: promtool's rule unit-test files
//! (<https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/>),
//! run through this crate's evaluator with a fake clock.
//!
//! Each test group loads its `input_series` (expanding notation such as
//! `1+1x10`, `_`, `stale`, read by the promqltest parser) into a
//! [`MemoryStore`], then evaluates every rule group at `0,
//! evaluation_interval, ...` up to the latest `eval_time` asked for, in
//! `group_eval_order` (file order otherwise). After the evaluation at `ts`,
//! alert tests with `ts <= eval_time < ts + evaluation_interval` compare the
//! *firing* alerts of their `alertname` with `exp_alerts` (`alertname` is
//! added to `exp_labels`). Then each `promql_expr_test` runs its query at its
//! `eval_time` over input and rule output and compares the samples exactly.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use agentmon_model::{duration, Alert, Labels, Sample, STALE_NAN};
use agentmon_promql::promqltest::{self, Command, LoadPoint};
use agentmon_promql::Engine;
use serde::Deserialize;

use crate::alerting::AlertState;
use crate::api::go_float_e;
use crate::context::RuleContext;
use crate::error::RulesError;
use crate::file::{load_rule_file, Scalar};
use crate::group::{Group, Rule};
use crate::memory::MemoryStore;
use crate::query::{EngineQueryFunc, QueryFunc};
use crate::template::Expander;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<Scalar>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<Scalar>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: Scalar,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: Scalar,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: Scalar,
    #[serde(default)]
    exp_samples: Vec<ExpectedSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedSample {
    labels: String,
    value: f64,
}

/// The outcome of one unit-test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    pub path: String,
    /// Every failed expectation, described as promtool does.
    pub failures: Vec<String>,
}

impl TestReport {
    /// Whether every test passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// promtool's output for the file.
    pub fn output(&self) -> String {
        let mut out = format!("Unit Testing:  {}\n", self.path);
        if self.passed() {
            out.push_str("  SUCCESS\n");
        } else {
            out.push_str("  FAILED:\n");
            for failure in &self.failures {
                out.push_str(failure);
                out.push('\n');
            }
        }
        out.push('\n');
        out
    }
}

fn millis_of(text: &Scalar, what: &str, file: &str) -> Result<i64, RulesError> {
    duration::parse_millis(&text.0)
        .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX))
        .map_err(|e| RulesError::UnitTest {
            file: file.to_owned(),
            message: format!("{what}: {e}"),
        })
}

/// Runs the unit tests of the file at `path`; rule files are found
/// relative to it. A file that cannot be read or parsed is an error; failed
/// expectations are in the report.
pub fn run_unit_tests(path: &str, expander: Arc<dyn Expander>) -> Result<TestReport, RulesError> {
    let text = std::fs::read_to_string(path).map_err(|e| RulesError::Read {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let spec: UnitTestFile = serde_yaml::from_str(&text).map_err(|e| RulesError::Syntax {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let base = Path::new(path).parent().unwrap_or(Path::new(""));
    let mut definitions = Vec::new();
    for file in &spec.rule_files {
        let full = base.join(file).to_string_lossy().into_owned();
        definitions.extend(load_rule_file(&full, expander.as_ref())?);
    }
    let order = |name: &str| {
        spec.group_eval_order
            .iter()
            .position(|n| n == name)
            .unwrap_or(usize::MAX)
    };
    definitions.sort_by_key(|d| order(&d.name));
    let evaluation_interval_ms = match &spec.evaluation_interval {
        Some(text) => millis_of(text, "evaluation_interval", path)?,
        None => 60_000,
    }
    .max(1);
    let mut failures = Vec::new();
    for test in &spec.tests {
        let store = Arc::new(MemoryStore::new());
        load_input(test, &store, path)?;
        let query: Arc<dyn QueryFunc> =
            Arc::new(EngineQueryFunc::new(Engine::default(), store.clone()));
        let mut ctx = RuleContext::new(query.clone(), store.clone(), Arc::new(|_: &[Alert]| {}));
        ctx.expander = expander.clone();
        ctx.external_labels = test.external_labels.clone();
        ctx.external_url = test.external_url.clone();
        ctx.evaluation_interval = std::time::Duration::from_millis(evaluation_interval_ms as u64);
        let mut groups: Vec<Group> = definitions
            .iter()
            .map(|d| Group::new(d.clone(), &ctx, false))
            .collect();
        let mut alert_tests: Vec<(i64, &AlertTest)> = Vec::new();
        for t in &test.alert_rule_test {
            alert_tests.push((millis_of(&t.eval_time, "eval_time", path)?, t));
        }
        alert_tests.sort_by_key(|(t, _)| *t);
        let mut max_t = alert_tests.last().map_or(0, |(t, _)| *t);
        for t in &test.promql_expr_test {
            max_t = max_t.max(millis_of(&t.eval_time, "eval_time", path)?);
        }
        let prefix = if test.name.is_empty() {
            String::new()
        } else {
            format!("    name: {},\n", test.name)
        };
        let mut next_alert_test = 0;
        let mut ts = 0;
        while ts <= max_t {
            let mut eval_errors = Vec::new();
            for group in &mut groups {
                group.eval(&ctx, ts);
                for entry in &group.rules {
                    if let Some(error) = &entry.status.last_error {
                        eval_errors.push(format!(
                            "{prefix}    rule: {}, time: {}, err: {error}",
                            entry.rule.name(),
                            go_duration(ts)
                        ));
                    }
                }
            }
            // As promtool: a rule that fails to evaluate fails the test
            // group at once.
            if !eval_errors.is_empty() {
                failures.extend(eval_errors);
                break;
            }
            while let Some((t, alert_test)) = alert_tests.get(next_alert_test) {
                if *t >= ts + evaluation_interval_ms {
                    break;
                }
                next_alert_test += 1;
                if let Some(failure) = check_alerts(&groups, *t, alert_test) {
                    failures.push(format!("{prefix}{failure}"));
                }
            }
            ts += evaluation_interval_ms;
        }
        if ts <= max_t {
            // Stopped early by a rule error: no expression tests.
            continue;
        }
        for expr_test in &test.promql_expr_test {
            let t = millis_of(&expr_test.eval_time, "eval_time", path)?;
            if let Some(failure) = check_expr(query.as_ref(), t, expr_test, path)? {
                failures.push(format!("{prefix}{failure}"));
            }
        }
    }
    Ok(TestReport {
        path: path.to_owned(),
        failures,
    })
}

/// Go's `time.Duration` text for milliseconds: `0s`, `500ms`, `1m0s`,
/// `1h2m3.5s`.
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = ms / 60_000 % 60;
    let seconds = ms / 1000 % 60;
    let fraction = ms % 1000;
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds.to_string());
    if fraction > 0 {
        let digits = format!("{fraction:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

fn load_input(test: &TestGroup, store: &MemoryStore, file: &str) -> Result<(), RulesError> {
    let interval_ms = match &test.interval {
        Some(text) => millis_of(text, "interval", file)?,
        None => 60_000,
    };
    let mut script = format!("load {}\n", duration::format_millis(interval_ms as u64));
    for input in &test.input_series {
        script.push_str(&format!("  {} {}\n", input.series, input.values.0));
    }
    let parsed = promqltest::parse(&script).map_err(|e| RulesError::UnitTest {
        file: file.to_owned(),
        message: format!("input_series: {e}"),
    })?;
    for command in parsed.commands {
        let Command::Load { series, .. } = command else {
            continue;
        };
        for one in series {
            for point in one.points {
                let sample = match point {
                    LoadPoint::Value { t_ms, v } => Sample::new(t_ms, v),
                    LoadPoint::Stale { t_ms } => Sample::new(t_ms, STALE_NAN),
                    LoadPoint::Histogram { .. } => {
                        return Err(RulesError::UnitTest {
                            file: file.to_owned(),
                            message: format!(
                                "input_series {}: native histograms are not supported",
                                one.labels
                            ),
                        })
                    }
                };
                store
                    .add(one.labels.clone(), sample)
                    .map_err(|message| RulesError::UnitTest {
                        file: file.to_owned(),
                        message,
                    })?;
            }
        }
    }
    Ok(())
}

/// (labels, annotations) pairs, sorted, as promtool compares them.
type AlertList = Vec<(Labels, Labels)>;

fn describe(alerts: &AlertList) -> String {
    if alerts.is_empty() {
        return "[]".to_owned();
    }
    let mut out = String::from("[\n");
    for (i, (labels, annotations)) in alerts.iter().enumerate() {
        out.push_str(&format!(
            "            {i}:\n              Labels:{labels}\n              Annotations:{annotations}\n"
        ));
    }
    out.push_str("            ]");
    out
}

fn check_alerts(groups: &[Group], t: i64, test: &AlertTest) -> Option<String> {
    let mut got: AlertList = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|e| match &e.rule {
            Rule::Alerting(rule) if rule.name == test.alertname => Some(rule),
            _ => None,
        })
        .flat_map(|rule| rule.active.values())
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| (a.labels.clone(), a.annotations.clone()))
        .collect();
    got.sort();
    let mut expected: AlertList = Vec::new();
    for alert in &test.exp_alerts {
        let mut labels: BTreeMap<String, String> = alert
            .exp_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        labels.insert("alertname".to_owned(), test.alertname.clone());
        let annotations = alert
            .exp_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()));
        match (Labels::new(labels), Labels::new(annotations)) {
            (Ok(l), Ok(a)) => expected.push((l, a)),
            (Err(e), _) | (_, Err(e)) => {
                return Some(format!(
                    "    alertname: {}, time: {}, \n        invalid expectation: {e}",
                    test.alertname,
                    duration::format_millis(t as u64)
                ))
            }
        }
    }
    expected.sort();
    if got == expected {
        return None;
    }
    Some(format!(
        "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        test.alertname,
        duration::format_millis(t as u64),
        describe(&expected),
        describe(&got)
    ))
}

fn sample_text(labels: &Labels, v: f64) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}} {}", pairs.join(", "), go_float_e(v).to_uppercase())
}

fn check_expr(
    query: &dyn QueryFunc,
    t: i64,
    test: &ExprTest,
    file: &str,
) -> Result<Option<String>, RulesError> {
    let head = format!(
        "    expr: {:?}, time: {},",
        test.expr,
        duration::format_millis(t as u64)
    );
    let got = match query.query(&test.expr, t) {
        Ok(samples) => samples,
        Err(e) => return Ok(Some(format!("{head}\n        err: {e}"))),
    };
    let mut got: Vec<(Labels, f64)> = got.into_iter().map(|s| (s.labels, s.v)).collect();
    let mut expected = Vec::new();
    for sample in &test.exp_samples {
        let script = format!("load 1m\n  {} 0\n", sample.labels);
        let labels = promqltest::parse(&script)
            .ok()
            .and_then(|s| match s.commands.into_iter().next() {
                Some(Command::Load { series, .. }) => series.into_iter().next(),
                _ => None,
            })
            .map(|s| s.labels)
            .ok_or_else(|| RulesError::UnitTest {
                file: file.to_owned(),
                message: format!("exp_samples: cannot parse labels {:?}", sample.labels),
            })?;
        expected.push((labels, sample.value));
    }
    let order = |a: &(Labels, f64), b: &(Labels, f64)| a.0.cmp(&b.0);
    got.sort_by(order);
    expected.sort_by(order);
    let same = got.len() == expected.len()
        && got
            .iter()
            .zip(&expected)
            .all(|(g, e)| g.0 == e.0 && (g.1 == e.1 || (g.1.is_nan() && e.1.is_nan())));
    if same {
        return Ok(None);
    }
    let list = |samples: &[(Labels, f64)]| {
        samples
            .iter()
            .map(|(l, v)| sample_text(l, *v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Some(format!(
        "{head}\n        exp: {}\n        got: {}",
        list(&expected),
        list(&got)
    )))
}

#[cfg(test)]
#[path = "unittest_tests.rs"]
mod tests;
