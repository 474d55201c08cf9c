use std::sync::Arc;

use super::*;
use crate::template::PlainTextExpander;

const RULES: &str = r#"
groups:
  - name: g
    rules:
      - record: job:x:sum
        expr: sum by (job) (x)
      - alert: High
        expr: job:x:sum > 3
        for: 2m
        labels: {severity: page}
        annotations: {summary: too high}
"#;

fn run(tests: &str) -> TestReport {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let path = dir.path().join("test.yml");
    std::fs::write(&path, tests).unwrap();
    run_unit_tests(path.to_str().unwrap(), Arc::new(PlainTextExpander)).unwrap()
}

const INPUT: &str = r#"
rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'x{job="a", i="1"}'
        values: '0+1x10'
      - series: 'x{job="a", i="2"}'
        values: '1 _ stale'
"#;

#[test]
fn passing_expectations_pass() {
    let report = run(&format!(
        "{INPUT}    alert_rule_test:
      - eval_time: 5m
        alertname: High
        exp_alerts: []
      - eval_time: 6m
        alertname: High
        exp_alerts:
          - exp_labels: {{job: a, severity: page}}
            exp_annotations: {{summary: too high}}
    promql_expr_test:
      - expr: job:x:sum
        eval_time: 4m
        exp_samples:
          - labels: 'job:x:sum{{job=\"a\"}}'
            value: 4
      - expr: ALERTS
        eval_time: 5m
        exp_samples:
          - labels: 'ALERTS{{alertname=\"High\", alertstate=\"pending\", job=\"a\", severity=\"page\"}}'
            value: 1
"
    ));
    assert!(report.passed(), "{}", report.output());
    assert_eq!(
        report.output(),
        format!("Unit Testing:  {}\n  SUCCESS\n\n", report.path)
    );
}

#[test]
fn failing_expectations_are_described() {
    let report = run(&format!(
        "{INPUT}    alert_rule_test:
      - eval_time: 5m
        alertname: High
        exp_alerts:
          - exp_labels: {{job: a, severity: page}}
    promql_expr_test:
      - expr: job:x:sum
        eval_time: 0
        exp_samples:
          - labels: 'job:x:sum{{job=\"a\"}}'
            value: 2
"
    ));
    assert_eq!(report.failures.len(), 2, "{}", report.output());
    assert!(report.failures[0].starts_with("    alertname: High, time: 5m, \n        exp:[\n"));
    assert!(
        report.failures[0].ends_with("got:[]"),
        "{}",
        report.failures[0]
    );
    assert_eq!(
        report.failures[1],
        "    expr: \"job:x:sum\", time: 0s,\n        exp: {__name__=\"job:x:sum\", job=\"a\"} 2E+00\n        got: {__name__=\"job:x:sum\", job=\"a\"} 1E+00"
    );
    assert!(report.output().contains("  FAILED:\n"));
}

#[test]
fn broken_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.yml");
    std::fs::write(&path, "rule_files: [missing.yml]\ntests: []\n").unwrap();
    let err = run_unit_tests(path.to_str().unwrap(), Arc::new(PlainTextExpander)).unwrap_err();
    assert!(err.to_string().contains("missing.yml"), "{err}");
    std::fs::write(
        &path,
        "tests:\n  - input_series: [{series: 'x', values: '1+'}]\n",
    )
    .unwrap();
    let err = run_unit_tests(path.to_str().unwrap(), Arc::new(PlainTextExpander)).unwrap_err();
    assert!(err.to_string().contains("input_series"), "{err}");
}

#[test]
fn go_durations_print_like_go() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(500), "500ms");
    assert_eq!(go_duration(120_000), "2m0s");
    assert_eq!(go_duration(3_723_500), "1h2m3.5s");
    assert_eq!(go_duration(7_200_000), "2h0m0s");
}

#[test]
fn rule_errors_fail_the_test_group() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lim.yml"),
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: x > 0\n",
    )
    .unwrap();
    let path = dir.path().join("t.yml");
    std::fs::write(
        &path,
        "rule_files: [lim.yml]\ntests:\n  - input_series:\n      - series: 'x{a=\"1\"}'\n        values: '0 0 1x10'\n      - series: 'x{a=\"2\"}'\n        values: '0 0 1x10'\n    alert_rule_test:\n      - eval_time: 5m\n        alertname: A\n        exp_alerts: []\n",
    )
    .unwrap();
    let report = run_unit_tests(path.to_str().unwrap(), Arc::new(PlainTextExpander)).unwrap();
    assert_eq!(
        report.failures,
        ["    rule: A, time: 2m0s, err: exceeded limit of 1 with 2 alerts"]
    );
}
