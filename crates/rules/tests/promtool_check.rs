//! Rule-file validation against `promtool check rules` (Prometheus 2.42):
//! the same files pass or fail in both, with the same rule counts, and
//! every problem promtool reports is reported here with the same words.
//! promtool puts `line:column:` positions after the file name, which this
//! crate cannot give (serde_yaml keeps no positions for values); they are
//! stripped before comparing. The PromQL parser's own message after
//! "could not parse expression:" comes from a different parser and is not
//! compared.
//!
//! Skipped when `promtool` (Debian package `prometheus`) is not installed,
//! unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::process::Command;

use agentmon_rules::{check_files, GoTemplateExpander};
use common::peer_or_skip;

const FILES: [(&str, &str); 6] = [
    (
        "good.yml",
        r#"
groups:
  - name: a
    interval: 0s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: "1"}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 10m
        labels: {severity: page}
        annotations: {summary: "instance down"}
  - name: b
    rules: []
"#,
    ),
    ("empty.yml", ""),
    (
        "rules.yml",
        r#"
groups:
  - name: g
    rules:
      - record: ok
        expr: up
      - record: "bad name"
        expr: up
        for: 1m
        keep_firing_for: 1m
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
"#,
    ),
    (
        "groups.yml",
        "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n  - name: ''\n    rules: []\n",
    ),
    (
        "unknown.yml",
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        bogus: 1\n",
    ),
    (
        "notyaml.yml",
        "groups: [\n",
    ),
];

/// promtool's problem line without `N:M: ` positions.
fn without_positions(line: &str) -> String {
    let Some((file, mut rest)) = line.split_once(": ") else {
        return line.to_owned();
    };
    while let Some((head, tail)) = rest.split_once(": ") {
        let is_position = head.split_once(':').is_some_and(|(l, c)| {
            !l.is_empty()
                && !c.is_empty()
                && l.chars().all(|ch| ch.is_ascii_digit())
                && c.chars().all(|ch| ch.is_ascii_digit())
        });
        if !is_position {
            break;
        }
        rest = tail;
    }
    format!("{file}: {rest}")
}

fn comparable(line: &str) -> String {
    match line.find("could not parse expression:") {
        Some(at) => line[..at + "could not parse expression:".len()].to_owned(),
        None => line.to_owned(),
    }
}

#[test]
fn verdicts_counts_and_messages_agree_with_promtool() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in FILES {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (name, _) in FILES {
        // Run from the directory so both print the same relative name.
        let output = Command::new(&promtool)
            .args(["check", "rules", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let path = dir.path().join(name).to_string_lossy().into_owned();
        let report = check_files(std::slice::from_ref(&path), &GoTemplateExpander);
        assert_eq!(
            report.passed(),
            output.status.success(),
            "{name}: verdicts differ\npromtool: {stdout}{stderr}\nours: {}",
            report.combined()
        );
        if report.passed() {
            assert_eq!(report.stdout().replace(&path, name), stdout, "{name}");
            continue;
        }
        let ours: Vec<String> = report
            .stderr()
            .replace(&path, name)
            .lines()
            .map(comparable)
            .collect();
        let theirs: Vec<String> = stderr
            .lines()
            .map(|l| comparable(&without_positions(l)))
            .collect();
        if matches!(name, "unknown.yml" | "notyaml.yml") {
            // YAML errors: both name the file; the decoder's words differ.
            assert_eq!(theirs[0], "  FAILED:");
            assert!(theirs[1].starts_with(&format!("{name}: ")), "{theirs:?}");
            assert!(ours[1].starts_with(&format!("{name}: ")), "{ours:?}");
            if name == "unknown.yml" {
                assert!(
                    theirs[1..].iter().any(|l| l.contains("bogus")),
                    "{theirs:?}"
                );
                assert!(ours[1].contains("bogus"), "{ours:?}");
            }
            continue;
        }
        let mut ours_sorted = ours.clone();
        ours_sorted.sort();
        let mut theirs_sorted = theirs.clone();
        theirs_sorted.sort();
        assert_eq!(ours_sorted, theirs_sorted, "{name}");
    }
}
