use std::time::Duration;

use super::*;
use crate::template::PlainTextExpander;

fn errors_of(text: &str) -> Vec<String> {
    match parse_rule_file("r.yml", text, &PlainTextExpander) {
        Ok(groups) => panic!("expected errors, got {groups:?}"),
        Err(e) => e.lines(),
    }
}

#[test]
fn parses_a_full_file() {
    let text = r#"
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 5
    labels: {team: a}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {team: b}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: 1}
        annotations: {summary: down}
"#;
    let groups = parse_rule_file("r.yml", text, &PlainTextExpander).unwrap();
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group.file, "r.yml");
    assert_eq!(group.interval, Some(Duration::from_secs(30)));
    assert_eq!(group.query_offset, Some(Duration::from_secs(60)));
    assert_eq!(group.limit, 5);
    assert_eq!(group.rules.len(), 2);
    assert_eq!(group.rules[0].name(), "job:up:sum");
    assert_eq!(group.rules[0].labels["team"], "b", "rule labels win");
    assert_eq!(group.rules[1].labels["team"], "a", "group labels apply");
    assert_eq!(group.rules[1].labels["severity"], "1", "scalars are text");
    match &group.rules[1].kind {
        RuleKind::Alerting {
            hold,
            keep_firing_for,
            annotations,
            ..
        } => {
            assert_eq!(*hold, Duration::from_secs(300));
            assert_eq!(*keep_firing_for, Duration::from_secs(60));
            assert_eq!(annotations["summary"], "down");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_file_has_no_groups() {
    assert!(parse_rule_file("r.yml", "", &PlainTextExpander)
        .unwrap()
        .is_empty());
    assert!(parse_rule_file("r.yml", "groups: []\n", &PlainTextExpander)
        .unwrap()
        .is_empty());
}

#[test]
fn unknown_keys_are_errors() {
    let err = parse_rule_file(
        "r.yml",
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        bogus: 1\n",
        &PlainTextExpander,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("r.yml: "), "{text}");
    assert!(text.contains("unknown field `bogus`"), "{text}");
    let err = parse_rule_file("r.yml", "grups: []\n", &PlainTextExpander).unwrap_err();
    assert!(err.to_string().contains("unknown field `grups`"), "{err}");
}

#[test]
fn group_names_must_be_set_and_unique() {
    let errors = errors_of(
        "groups:\n  - name: ''\n    rules: []\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n",
    );
    assert_eq!(
        errors,
        vec![
            "r.yml: Groupname must not be empty".to_owned(),
            "r.yml: groupname: \"a\" is repeated in the same file".to_owned(),
        ]
    );
}

#[test]
fn rule_problems_name_group_rule_index_and_name() {
    let errors = errors_of(
        r#"
groups:
  - name: g
    rules:
      - record: ok
        expr: up
      - record: "bad name"
        expr: up
        for: 1m
        annotations: {a: b}
      - alert: A
        record: r
        expr: up
      - expr: up
      - alert: B
        expr: "sum("
      - alert: C
        labels: {__name__: x, "1x": y}
        annotations: {"a-b": c}
      - alert: D
        expr: up
        for: 5x
"#,
    );
    assert_eq!(
        errors[..4],
        [
            "r.yml: group \"g\", rule 2, \"bad name\": invalid field 'annotations' in recording rule",
            "r.yml: group \"g\", rule 2, \"bad name\": invalid field 'for' in recording rule",
            "r.yml: group \"g\", rule 2, \"bad name\": invalid recording rule name: bad name",
            "r.yml: group \"g\", rule 3, \"A\": only one of 'record' and 'alert' must be set",
        ]
    );
    assert_eq!(
        errors[4],
        "r.yml: group \"g\", rule 4, \"\": one of 'record' or 'alert' must be set"
    );
    assert!(
        errors[5].starts_with("r.yml: group \"g\", rule 5, \"B\": could not parse expression: "),
        "{}",
        errors[5]
    );
    assert_eq!(
        errors[6..10],
        [
            "r.yml: group \"g\", rule 6, \"C\": field 'expr' must be set in rule",
            "r.yml: group \"g\", rule 6, \"C\": invalid label name: 1x",
            "r.yml: group \"g\", rule 6, \"C\": invalid label name: __name__",
            "r.yml: group \"g\", rule 6, \"C\": invalid annotation name: a-b",
        ]
    );
    assert_eq!(
        errors[10],
        "r.yml: group \"g\", rule 7, \"D\": for: not a valid duration string: \"5x\""
    );
    assert_eq!(errors.len(), 11, "{errors:#?}");
}

#[test]
fn templates_are_checked_through_the_expander() {
    let errors = errors_of(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {s: '{{ $value }}'}\n",
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("r.yml: group \"g\", rule 1, \"A\": annotation \"s\": template: __alert_A: template engine not wired"),
        "{}",
        errors[0]
    );
    // Recording rules have no templates.
    parse_rule_file(
        "r.yml",
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        labels: {a: '{{x}}'}\n",
        &PlainTextExpander,
    )
    .unwrap();
}

#[test]
fn group_durations_are_checked() {
    let errors = errors_of("groups:\n  - name: h\n    query_offset: soon\n    rules: []\n");
    assert_eq!(
        errors,
        vec!["r.yml: group \"h\": query_offset: not a valid duration string: \"soon\"".to_owned()]
    );
    // A zero interval means the default, as in Prometheus.
    let groups = parse_rule_file(
        "r.yml",
        "groups:\n  - name: g\n    interval: 0s\n    rules: []\n",
        &PlainTextExpander,
    )
    .unwrap();
    assert_eq!(groups[0].interval, None);
}
