//! `agentmon promqltest FILE...`: runs promqltest scripts with the engine's
//! conformance runner and reports like a test runner.
//!
//! Every failing eval is printed with its file and line, the query, what
//! the script expected and what the engine did; the last line is exactly
//! `N passed, N failed, N skipped` over all files. The exit code is 0 when
//! nothing failed, 1 when an eval failed, and 2 when a file could not be
//! read, parsed or set up (the other files still run).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use agentmon_promql::promqltest::{parse, runner};
use agentmon_promql::Engine;

use crate::cli::PromqltestArgs;

/// Counts over all files.
#[derive(Debug, Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    broken_files: usize,
}

/// Runs every file and prints the report; returns the exit code.
pub fn run(args: &PromqltestArgs) -> ExitCode {
    let engine = Engine::default();
    let mut totals = Totals::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        if let Err(message) = run_file(path, &engine, &mut totals, &mut out) {
            totals.broken_files += 1;
            eprintln!("{}: {message}", path.display());
        }
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.skipped
    );
    if totals.broken_files > 0 {
        ExitCode::from(2)
    } else if totals.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_file(
    path: &Path,
    engine: &Engine,
    totals: &mut Totals,
    out: &mut impl Write,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let script = parse(&text).map_err(|e| format!("cannot parse: {e}"))?;
    let report = runner::run(&script, engine).map_err(|e| e.to_string())?;
    for failure in &report.failures {
        let _ = writeln!(
            out,
            "FAIL {}:{}: {}\n    expected: {}\n    got: {}",
            path.display(),
            failure.line,
            failure.query,
            failure.expected,
            failure.got
        );
    }
    totals.passed += report.passed;
    totals.failed += report.failures.len();
    totals.skipped += report.skipped_total();
    Ok(())
}
