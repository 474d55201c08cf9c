//! Runs every promqltest script of the shared Prometheus conformance data
//! through the engine on a real TSDB. Evals of features the engine does not
//! have yet (functions, aggregations, native histograms) are skipped and
//! counted; every other eval must pass. Without the data (it lives outside the
//! repository, `../shared/promql-testdata` from the repo root) the test says
//! so and passes. `AGENTMON_PROMQL_TESTDATA` points it elsewhere.

use std::collections::BTreeMap;

mod common;

use agentmon_promql::promqltest::{parse, runner};
use agentmon_promql::Engine;

#[test]
fn conformance_scripts_pass_or_skip() {
    let Some(files) = common::testdata_files() else {
        return;
    };

    let engine = Engine::default();
    let (mut passed, mut skipped) = (0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("a readable test file");
        let script = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let report = runner::run(&script, &engine).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!(
            "{name}: {} passed, {} failed, {} skipped",
            report.passed,
            report.failures.len(),
            report.skipped_total()
        );
        passed += report.passed;
        skipped += report.skipped_total();
        for (reason, count) in &report.skipped {
            *reasons.entry(reason.clone()).or_default() += count;
        }
        for f in report.failures {
            failures.push(format!(
                "{name}:{}: {}\n    expected: {}\n    got: {}",
                f.line, f.query, f.expected, f.got
            ));
        }
    }
    println!(
        "total: {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    for (reason, count) in &reasons {
        println!("  skipped {count}: {reason}");
    }
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
