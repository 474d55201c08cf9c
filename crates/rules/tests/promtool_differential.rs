//! Rule semantics against real Prometheus: the same rule file and input
//! series are evaluated by this crate every minute for 40 minutes; what it
//! computes (firing alerts per alert name, the `ALERTS` and
//! `ALERTS_FOR_STATE` series, the recording rules' output, at every step)
//! is written as a promtool unit-test file, and `promtool test rules` —
//! Prometheus's own evaluator — must accept every expectation. The same file
//! is then run through this crate's unit-test runner.
//!
//! agentmon's engine has Prometheus 3's left-open windows (a range
//! `[2m]` or the 5m lookback excludes a sample exactly at its start) while
//! the peer here is Prometheus 2.42, whose windows include it. The scenario
//! therefore keeps samples off window starts: a 150s rate window over
//! one-minute data, and no series silent for five steps without a stale
//! marker. The first version of this test, with `[2m]` windows, differed
//! exactly at those boundaries and nowhere else.
//!
//! Skipped when `promtool` (Debian package `prometheus`) is not installed,
//! unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;

use agentmon_model::{Alert, Labels, Sample, STALE_NAN};
use agentmon_promql::promqltest::{self, LoadPoint};
use agentmon_promql::Engine;
use agentmon_rules::{
    load_rule_file, run_unit_tests, AlertState, EngineQueryFunc, GoTemplateExpander, Group,
    MemoryStore, QueryFunc, Rule, RuleContext,
};
use common::peer_or_skip;

const MIN: i64 = 60_000;
const STEPS: i64 = 40;

const RULES: &str = r#"
groups:
  - name: recording
    rules:
      - record: job:errors:rate2m
        expr: sum by (job) (rate(errors_total[150s]))
      - record: job:up:count
        expr: count by (job) (up == 1)
        labels: {source: rules}
  - name: alerts
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 3m
        labels: {severity: page}
        annotations: {summary: instance is down}
      - alert: ErrorsHigh
        expr: job:errors:rate2m > 0.05
        for: 2m
        keep_firing_for: 3m
        labels: {severity: ticket}
        annotations:
          summary: '{{ $labels.job }} errors at {{ $value | humanizePercentage }}'
          ups: '{{ with query "count(up == 1)" }}{{ . | first | value }}{{ end }} up'
      - alert: Flapping
        expr: flappy > 0
        for: 1m
      - alert: Immediate
        expr: queue_depth > 10
        labels: {team: infra}
      - alert: NoJobs
        expr: absent(job:up:count{job="web"})
        for: 5m
"#;

const ALERT_NAMES: [&str; 5] = [
    "InstanceDown",
    "ErrorsHigh",
    "Flapping",
    "Immediate",
    "NoJobs",
];

const INPUT: [(&str, &str); 7] = [
    (
        r#"up{job="api", instance="a"}"#,
        "1 1 0 0 0 0 0 1 1 0 0 0 0 0 0 0 1x10 stale _x3 0x10",
    ),
    (r#"up{job="api", instance="b"}"#, "1x40"),
    (r#"up{job="db", instance="c"}"#, "0x5 _x3 0x10 1x20"),
    (r#"errors_total{job="api"}"#, "0+1x10 10+20x10 210+1x19"),
    (r#"errors_total{job="db"}"#, "0+5x25 _x4 200+5x10"),
    ("flappy", "1 0 1 1 0 1 1 1 0 0 1 1 1 1 stale 1x10 0x14"),
    (
        r#"queue_depth{q="x"}"#,
        "5 15 15 5 20 stale 30x5 _x3 stale _x4 12x20",
    ),
];

fn load_input(store: &MemoryStore) {
    let mut script = String::from("load 1m\n");
    for (series, values) in INPUT {
        writeln!(script, "  {series} {values}").unwrap();
    }
    let parsed = promqltest::parse(&script).unwrap();
    for command in parsed.commands {
        let promqltest::Command::Load { series, .. } = command else {
            continue;
        };
        for one in series {
            for point in one.points {
                let sample = match point {
                    LoadPoint::Value { t_ms, v } => Sample::new(t_ms, v),
                    LoadPoint::Stale { t_ms } => Sample::new(t_ms, STALE_NAN),
                    LoadPoint::Histogram { .. } => unreachable!("no histograms here"),
                };
                store.add(one.labels.clone(), sample).unwrap();
            }
        }
    }
}

fn yaml_map(labels: &Labels, skip: &[&str]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .filter(|l| !skip.contains(&l.name.as_str()))
        .map(|l| format!("{}: {:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn series_text(labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Evaluates the rules as this crate does and writes the promtool test file
/// expecting exactly that; returns it with a count of expectations and of
/// firing alerts seen.
fn unit_test_file() -> (String, usize, usize) {
    let store = Arc::new(MemoryStore::new());
    load_input(&store);
    let query: Arc<dyn QueryFunc> =
        Arc::new(EngineQueryFunc::new(Engine::default(), store.clone()));
    let ctx = RuleContext::new(query.clone(), store.clone(), Arc::new(|_: &[Alert]| {}));
    let dir = tempfile::tempdir().unwrap();
    let rules_path = dir.path().join("rules.yml");
    std::fs::write(&rules_path, RULES).unwrap();
    let mut groups: Vec<Group> = load_rule_file(rules_path.to_str().unwrap(), &GoTemplateExpander)
        .unwrap()
        .into_iter()
        .map(|d| Group::new(d, &ctx, false))
        .collect();

    let mut out = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ngroup_eval_order: [recording, alerts]\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (series, values) in INPUT {
        writeln!(
            out,
            "      - series: '{series}'\n        values: '{values}'"
        )
        .unwrap();
    }
    out.push_str("    alert_rule_test:\n");
    let mut expectations = 0;
    let mut firing_seen = 0;
    for step in 0..=STEPS {
        let ts = step * MIN;
        for group in &mut groups {
            group.eval(&ctx, ts);
            for entry in &group.rules {
                assert!(entry.status.last_error.is_none(), "{:?}", entry.status);
            }
        }
        for name in ALERT_NAMES {
            writeln!(
                out,
                "      - eval_time: {step}m\n        alertname: {name}\n        exp_alerts:"
            )
            .unwrap();
            let mut any = false;
            for group in &groups {
                for entry in &group.rules {
                    let Rule::Alerting(rule) = &entry.rule else {
                        continue;
                    };
                    if entry.rule.name() != name {
                        continue;
                    }
                    for alert in rule
                        .active_alerts()
                        .filter(|a| a.state == AlertState::Firing)
                    {
                        any = true;
                        firing_seen += 1;
                        writeln!(
                            out,
                            "          - exp_labels: {}\n            exp_annotations: {}",
                            yaml_map(&alert.labels, &["alertname"]),
                            yaml_map(&alert.annotations, &[])
                        )
                        .unwrap();
                    }
                }
            }
            if !any {
                out.truncate(out.len() - "\n        exp_alerts:\n".len());
                out.push_str("\n        exp_alerts: []\n");
            }
            expectations += 1;
        }
    }
    // Series expectations are computed after every evaluation, as promtool
    // queries them.
    out.push_str("    promql_expr_test:\n");
    for step in 0..=STEPS {
        for expr in [
            "ALERTS",
            "ALERTS_FOR_STATE",
            "job:errors:rate2m",
            "job:up:count",
        ] {
            let samples = query.query(expr, step * MIN).unwrap();
            writeln!(out, "      - expr: '{expr}'\n        eval_time: {step}m").unwrap();
            if samples.is_empty() {
                out.push_str("        exp_samples: []\n");
            } else {
                out.push_str("        exp_samples:\n");
                for sample in samples {
                    writeln!(
                        out,
                        "          - labels: '{}'\n            value: {:?}",
                        series_text(&sample.labels),
                        sample.v
                    )
                    .unwrap();
                }
            }
            expectations += 1;
        }
    }
    (out, expectations, firing_seen)
}

#[test]
fn promtool_accepts_what_this_evaluator_computes() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    let (tests, expectations, firing_seen) = unit_test_file();
    assert!(expectations > 300);
    // The scenario must exercise firing, not only silence.
    assert!(firing_seen > 40, "only {firing_seen} firing alerts");
    for needle in [
        "alertstate=\"pending\"",
        "alertstate=\"firing\"",
        "__name__=\"job:errors:rate2m\"",
        // Templated annotations, expanded by the Go-template expander.
        "summary: \"api errors at ",
        " up\"}",
    ] {
        assert!(tests.contains(needle), "scenario never produces {needle}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let test_path = dir.path().join("test.yml");
    std::fs::write(&test_path, &tests).unwrap();
    let output = Command::new(&promtool)
        .arg("test")
        .arg("rules")
        .arg(&test_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "promtool disagrees with this evaluator:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("SUCCESS"), "{stdout}");

    // The crate's own runner reads the same file to the same verdict.
    let report = run_unit_tests(test_path.to_str().unwrap(), Arc::new(GoTemplateExpander)).unwrap();
    assert!(report.passed(), "{}", report.output());
}

#[test]
fn promtool_and_this_runner_reject_the_same_wrong_expectation() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    let (tests, _, _) = unit_test_file();
    // InstanceDown for instance "a" fires at 5m (down from 2m, for 3m):
    // claiming it already fires at 4m must fail in both.
    let wrong = tests.replacen(
        "      - eval_time: 4m\n        alertname: InstanceDown\n        exp_alerts:\n",
        "      - eval_time: 4m\n        alertname: InstanceDown\n        exp_alerts:\n          - exp_labels: {instance: \"a\", job: \"api\", severity: \"page\"}\n            exp_annotations: {summary: \"instance is down\"}\n",
        1,
    );
    assert_ne!(
        wrong, tests,
        "the 4m InstanceDown expectation was not found"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let test_path = dir.path().join("test.yml");
    std::fs::write(&test_path, &wrong).unwrap();
    let output = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&test_path)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "promtool accepted a wrong expectation"
    );
    let report = run_unit_tests(test_path.to_str().unwrap(), Arc::new(GoTemplateExpander)).unwrap();
    assert_eq!(report.failures.len(), 1, "{}", report.output());
    assert!(report.failures[0].contains("alertname: InstanceDown, time: 4m"));
}

#[test]
fn rule_errors_fail_promtool_and_this_runner_alike() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("limit.yml"),
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - record: r\n        expr: x\n      - alert: A\n        expr: x > 0\n",
    )
    .unwrap();
    let test_path = dir.path().join("test.yml");
    std::fs::write(
        &test_path,
        "rule_files: [limit.yml]\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'x{a=\"1\"}'\n        values: '0 0 1x10'\n      - series: 'y{a=\"2\"}'\n        values: '0x3 _x4 0'\n      - series: 'x{a=\"2\"}'\n        values: '_x3 0 1x10'\n    alert_rule_test:\n      - eval_time: 6m\n        alertname: A\n        exp_alerts: []\n",
    )
    .unwrap();
    let output = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&test_path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<&str> = stdout.lines().filter(|l| l.contains("rule: ")).collect();
    let report = run_unit_tests(test_path.to_str().unwrap(), Arc::new(GoTemplateExpander)).unwrap();
    let mut ours: Vec<&str> = report.failures.iter().map(String::as_str).collect();
    let mut theirs_sorted = theirs.clone();
    ours.sort_unstable();
    theirs_sorted.sort_unstable();
    assert!(!ours.is_empty());
    assert_eq!(ours, theirs_sorted, "promtool said:\n{stdout}");
}
