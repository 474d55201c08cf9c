//! Parses every promqltest script of the shared Prometheus conformance data
//! and prints how many commands of each kind the files hold. The data lives
//! outside the repository (`../shared/promql-testdata` from the repo root);
//! without it the test says so and passes. `AGENTMON_PROMQL_TESTDATA` points
//! the test elsewhere, for checkouts that sit in a different place.

use std::collections::BTreeMap;

mod common;

use agentmon_promql::promqltest::{parse, Command, DeprecatedEvalForm, EvalKind, LoadPoint};

#[test]
fn every_shared_test_file_parses() {
    let Some(files) = common::testdata_files() else {
        return;
    };

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("a readable test file");
        let script = match parse(&text) {
            Ok(script) => script,
            Err(error) => {
                failures.push(format!("{name}:{error}"));
                continue;
            }
        };
        *counts.entry("files").or_default() += 1;
        if text.contains("{{") {
            *counts
                .entry("files with native-histogram literals")
                .or_default() += 1;
        }
        for command in &script.commands {
            let kind = match command {
                Command::Load {
                    with_nhcb, series, ..
                } => {
                    let histograms = series.iter().any(|s| {
                        s.points
                            .iter()
                            .any(|p| matches!(p, LoadPoint::Histogram { .. }))
                    });
                    if histograms {
                        *counts
                            .entry("load with native-histogram literals")
                            .or_default() += 1;
                    }
                    *counts.entry("load series").or_default() += series.len();
                    if *with_nhcb {
                        "load_with_nhcb"
                    } else {
                        "load"
                    }
                }
                Command::Clear { .. } => "clear",
                Command::Eval(eval) => {
                    if eval.has_histogram_literals() {
                        *counts
                            .entry("eval with native-histogram literals")
                            .or_default() += 1;
                    }
                    if eval.expects_failure() {
                        *counts.entry("eval expecting failure").or_default() += 1;
                    }
                    if let Some(form) = eval.deprecated_form {
                        let key = match form {
                            DeprecatedEvalForm::Fail => "deprecated eval_fail",
                            DeprecatedEvalForm::Warn => "deprecated eval_warn",
                            DeprecatedEvalForm::Info => "deprecated eval_info",
                            DeprecatedEvalForm::Ordered => "deprecated eval_ordered",
                        };
                        *counts.entry(key).or_default() += 1;
                    }
                    match eval.kind {
                        EvalKind::Instant { .. } => "eval instant",
                        EvalKind::Range { .. } => "eval range",
                    }
                }
            };
            *counts.entry(kind).or_default() += 1;
        }
    }
    for (kind, count) in &counts {
        println!("{kind}: {count}");
    }
    assert!(
        failures.is_empty(),
        "scripts failed to parse:\n{}",
        failures.join("\n")
    );
}
