//! `agentmon rules check FILE...` and `agentmon rules test FILE...`: the
//! rule-file commands of promtool (`promtool check rules`, `promtool test
//! rules`), with its output and exit codes, over `agentmon_rules` and its
//! Go-template expander.
//!
//! `check` prints `Checking FILE` and `  SUCCESS: N rules found` on standard
//! output and `  FAILED:` with one line per problem on standard error;
//! `test` prints `Unit Testing:  FILE` and `  SUCCESS` on standard output and
//! `  FAILED:` with the failed expectations on standard error. Both exit 1
//! if any file failed, 0 otherwise.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use agentmon_rules::{check_files, run_unit_tests, GoTemplateExpander};

use crate::cli::RulesFilesArgs;

/// Checks every rule file; returns the exit code.
pub fn check(args: &RulesFilesArgs) -> ExitCode {
    let paths: Vec<String> = args
        .files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let report = check_files(&paths, &GoTemplateExpander);
    // Per file, as promtool: its stdout part, then its stderr part.
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for file in &report.files {
        let mut out = stdout.lock();
        let _ = writeln!(out, "Checking {}", file.path);
        match &file.result {
            Ok(count) => {
                let _ = writeln!(out, "  SUCCESS: {count} rules found");
            }
            Err(problems) => {
                let _ = out.flush();
                let mut err = stderr.lock();
                let _ = writeln!(err, "  FAILED:");
                for problem in problems {
                    let _ = writeln!(err, "{problem}");
                }
            }
        }
        let _ = writeln!(out);
        let _ = out.flush();
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs every unit-test file; returns the exit code.
pub fn test(args: &RulesFilesArgs) -> ExitCode {
    let mut failed = false;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for path in &args.files {
        let path = path.to_string_lossy();
        {
            let mut out = stdout.lock();
            let _ = writeln!(out, "Unit Testing:  {path}");
            let _ = out.flush();
        }
        let failures = match run_unit_tests(&path, Arc::new(GoTemplateExpander)) {
            Ok(report) if report.passed() => Vec::new(),
            Ok(report) => report.failures,
            Err(error) => vec![error.to_string()],
        };
        if failures.is_empty() {
            let _ = writeln!(stdout.lock(), "  SUCCESS");
        } else {
            failed = true;
            let mut err = stderr.lock();
            let _ = writeln!(err, "  FAILED:");
            for failure in &failures {
                let _ = writeln!(err, "{failure}");
            }
        }
        let _ = writeln!(stdout.lock());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
