//! Runs a parsed promqltest [`Script`] against the [`Engine`] on a real
//! [`agentmon_tsdb::Db`] in a temporary directory, and reports each `eval`
//! as passed, failed or skipped.
//!
//! Skipped, never passed: evals that need native histograms (histogram
//! literals, or any histogram data loaded since the last `clear`, or
//! `load_with_nhcb`) and evals whose query uses something the engine reports
//! as not implemented yet.
//!
//! Annotations are checked as FORMAT.md says: each `expect warn` / `expect
//! info` line (and the deprecated `eval_warn` / `eval_info`, which imply one
//! without a message) must match at least one annotation of its kind, and
//! once such a line is present every annotation of that kind must match
//! one; `expect no_warn` / `expect no_info` forbid the kind. An eval with no
//! such line ignores annotations. Messages are compared whole (`msg:`) or by
//! regular expression (`regex:`), with their `PromQL warning: ` / `PromQL
//! info: ` prefix and without a position (see [`crate::Annotations`]).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use agentmon_model::{Labels, Matcher, Sample, SeriesBatch, STALE_NAN};
use agentmon_tsdb::{Db, Options};

use super::compare::compare;
use super::{
    Command, EvalCommand, EvalKind, Expectation, LoadPoint, LoadSeries, MessageMatch, Script,
};
use crate::{Annotations, Engine, PromqlError, Query, QueryOutput, Storage};

/// An eval whose outcome differed from the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The 1-based line of the `eval` command.
    pub line: usize,
    /// The PromQL expression evaluated.
    pub query: String,
    /// What the script expects, in words.
    pub expected: String,
    /// What the engine did.
    pub got: String,
}

/// The outcome of running one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Evals whose outcome met every expectation.
    pub passed: usize,
    /// Evals whose outcome did not, in script order.
    pub failures: Vec<Failure>,
    /// Skipped evals counted by reason.
    pub skipped: BTreeMap<String, usize>,
}

impl Report {
    /// How many evals were skipped, for any reason.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// The test store: a fresh TSDB per `clear`, plus what was loaded into it
/// that the engine cannot read.
struct Store {
    dir: tempfile::TempDir,
    db: Db,
    /// Series holding native-histogram samples, which were not stored: a
    /// query that selects one is skipped.
    histogram_series: Vec<Labels>,
    /// Whether any of those came from `load_with_nhcb`.
    has_nhcb: bool,
}

impl Store {
    fn open() -> Result<Store, PromqlError> {
        let setup = |e: &dyn std::fmt::Display| PromqlError::TestSetup {
            message: e.to_string(),
        };
        let dir = tempfile::tempdir().map_err(|e| setup(&e))?;
        let options = Options {
            background_compaction: false,
            // Later `load`s may add older samples to a series.
            out_of_order_window: Duration::from_secs(100 * 365 * 24 * 3600),
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).map_err(|e| setup(&e))?;
        Ok(Store {
            dir,
            db,
            histogram_series: Vec::new(),
            has_nhcb: false,
        })
    }

    fn load(&mut self, series: &[LoadSeries], with_nhcb: bool) -> Result<(), PromqlError> {
        if with_nhcb {
            self.has_nhcb = true;
            self.histogram_series
                .extend(series.iter().filter_map(|s| nhcb_series(&s.labels)));
        }
        // A series may appear twice in one block; as in Prometheus, the later
        // value wins at a shared timestamp.
        let mut merged: BTreeMap<&Labels, BTreeMap<i64, f64>> = BTreeMap::new();
        for s in series {
            let samples = merged.entry(&s.labels).or_default();
            for point in &s.points {
                match point {
                    LoadPoint::Value { t_ms, v } => {
                        samples.insert(*t_ms, *v);
                    }
                    LoadPoint::Stale { t_ms } => {
                        samples.insert(*t_ms, STALE_NAN);
                    }
                    LoadPoint::Histogram { .. } => {
                        if !self.histogram_series.contains(&s.labels) {
                            self.histogram_series.push(s.labels.clone());
                        }
                    }
                }
            }
        }
        let mut batch = SeriesBatch::new();
        for (labels, samples) in &merged {
            if samples.is_empty() {
                continue;
            }
            let samples: Vec<Sample> = samples.iter().map(|(t, v)| Sample::new(*t, *v)).collect();
            batch.push_series(&labels.refs(), &samples);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .append(&batch, &[])
            .map(|_| ())
            .map_err(|e| PromqlError::TestSetup {
                message: format!("loading data: {e}"),
            })
    }
}

/// Runs every command of `script` in order against `engine`. Fails only if
/// the test store cannot be set up or loaded; query outcomes go in the report.
pub fn run(script: &Script, engine: &Engine) -> Result<Report, PromqlError> {
    let mut report = Report::default();
    let mut store = Store::open()?;
    for command in &script.commands {
        match command {
            Command::Load {
                series, with_nhcb, ..
            } => store.load(series, *with_nhcb)?,
            Command::Clear { .. } => {
                let old = std::mem::replace(&mut store, Store::open()?);
                let _ = old.db.close();
                drop(old.dir);
            }
            Command::Eval(eval) => run_eval(eval, engine, &store, &mut report),
        }
    }
    Ok(report)
}

fn run_eval(eval: &EvalCommand, engine: &Engine, store: &Store, report: &mut Report) {
    let skip = |report: &mut Report, reason: String| {
        *report.skipped.entry(reason).or_default() += 1;
    };
    if eval.has_histogram_literals() {
        return skip(report, "native histograms".to_owned());
    }
    let storage = Tracking {
        db: &store.db,
        histogram_series: &store.histogram_series,
        touched_histograms: Cell::new(false),
    };
    let query = match eval.kind {
        EvalKind::Instant { at_ms } => Query::instant(&eval.expr, at_ms),
        EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        } => Query::range(&eval.expr, start_ms, end_ms, step_ms),
    };
    let outcome = engine.query(&storage, &query);
    if storage.touched_histograms.get() {
        let reason = if store.has_nhcb {
            "native histograms (load_with_nhcb)"
        } else {
            "native histograms"
        };
        return skip(report, reason.to_owned());
    }
    if let Err(PromqlError::NotImplemented { feature }) = &outcome {
        return skip(report, format!("not implemented yet: {feature}"));
    }
    match judge(eval, &outcome) {
        Ok(()) => report.passed += 1,
        Err((expected, got)) => report.failures.push(Failure {
            line: eval.line,
            query: eval.expr.clone(),
            expected,
            got,
        }),
    }
}

/// Whether the outcome meets the eval's expectations: on failure, what was
/// expected and what happened.
fn judge(
    eval: &EvalCommand,
    outcome: &Result<QueryOutput, PromqlError>,
) -> Result<(), (String, String)> {
    let fail_expectations: Vec<&MessageMatch> = eval
        .expectations
        .iter()
        .filter_map(|e| match e {
            Expectation::Fail(m) => Some(m),
            _ => None,
        })
        .collect();
    match outcome {
        Err(error) => {
            if fail_expectations.is_empty() {
                return Err(("success".to_owned(), format!("error: {error}")));
            }
            let message = error.to_string();
            for m in fail_expectations {
                if !message_matches(m, &message) {
                    return Err((format!("error matching {m:?}"), format!("error: {message}")));
                }
            }
            Ok(())
        }
        Ok(output) => {
            if !fail_expectations.is_empty() {
                return Err(("an error".to_owned(), format!("{:?}", output.value)));
            }
            compare(eval, &output.value).map_err(|why| (format!("{:?}", eval.result), why))?;
            check_annotations(&eval.expectations, &output.annotations)
        }
    }
}

/// Whether the annotations meet the `expect warn/info/no_warn/no_info`
/// lines, as described in the module documentation.
fn check_annotations(
    expectations: &[Expectation],
    annotations: &Annotations,
) -> Result<(), (String, String)> {
    let warns = expectations.iter().filter_map(|e| match e {
        Expectation::Warn(m) => Some(m),
        _ => None,
    });
    let no_warn = expectations.contains(&Expectation::NoWarn);
    check_kind("warning", annotations.warnings(), warns.collect(), no_warn)?;
    let infos = expectations.iter().filter_map(|e| match e {
        Expectation::Info(m) => Some(m),
        _ => None,
    });
    let no_info = expectations.contains(&Expectation::NoInfo);
    check_kind("info", annotations.infos(), infos.collect(), no_info)
}

/// Checks the annotations of one kind against the lines expecting that
/// kind (`expected`) or forbidding it.
fn check_kind(
    kind: &str,
    raised: &[String],
    expected: Vec<&MessageMatch>,
    forbidden: bool,
) -> Result<(), (String, String)> {
    let got = || format!("{kind} annotations {raised:?}");
    if forbidden && !raised.is_empty() {
        return Err((format!("no {kind} annotation"), got()));
    }
    for m in &expected {
        if !raised.iter().any(|message| message_matches(m, message)) {
            return Err((format!("{kind} annotation matching {m:?}"), got()));
        }
    }
    if !expected.is_empty() {
        for message in raised {
            if !expected.iter().any(|m| message_matches(m, message)) {
                let want = format!("only {kind} annotations matching {expected:?}");
                return Err((want, got()));
            }
        }
    }
    Ok(())
}

/// The storage a query sees in a test: the TSDB, noting whether a selector
/// also matched a series whose histogram samples could not be loaded.
struct Tracking<'a> {
    db: &'a Db,
    histogram_series: &'a [Labels],
    touched_histograms: Cell<bool>,
}

impl Storage for Tracking<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<agentmon_tsdb::Series>, String> {
        let selects = |labels: &Labels| {
            matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
        };
        if self.histogram_series.iter().any(selects) {
            self.touched_histograms.set(true);
        }
        self.db.select(matchers, mint, maxt)
    }
}

/// The native histogram `load_with_nhcb` makes of a classic histogram
/// series: the name without `_bucket`/`_sum`/`_count`, without `le`.
fn nhcb_series(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))?;
    let pairs = labels.iter().filter(|l| l.name != "le").map(|l| {
        if l.name == agentmon_model::METRIC_NAME_LABEL {
            (l.name.clone(), base.to_owned())
        } else {
            (l.name.clone(), l.value.clone())
        }
    });
    Labels::new(pairs).ok()
}

fn message_matches(m: &MessageMatch, message: &str) -> bool {
    match m {
        MessageMatch::Any => true,
        MessageMatch::Exact(text) => text == message,
        MessageMatch::Regex(pattern) => regex::Regex::new(pattern)
            .map(|r| r.is_match(message))
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promqltest::parse;

    fn run_script(text: &str) -> Report {
        run(&parse(text).unwrap(), &Engine::default()).unwrap()
    }

    #[test]
    fn passes_fails_and_skips_are_told_apart() {
        let report = run_script(
            "load 1m\n  up{job=\"a\"} 1 2 3\n  h{job=\"a\"} {{schema:0 sum:1 count:1}}\n\n\
             eval instant at 2m up\n  up{job=\"a\"} 3\n\n\
             eval range from 0 to 2m step 1m up * 2\n  {job=\"a\"} 2 4 6\n\n\
             eval instant at 2m up\n  up{job=\"a\"} 4\n\n\
             eval instant at 2m info(up)\n  {job=\"a\"} 1\n\n\
             eval instant at 2m h\n  h{job=\"a\"} 1\n\n\
             eval instant at 2m up\n  expect fail\n",
        );
        assert_eq!(report.passed, 2);
        let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![11, 20]);
        assert_eq!(
            report.skipped.get("not implemented yet: function info"),
            Some(&1)
        );
        assert_eq!(report.skipped.get("native histograms"), Some(&1));
    }

    #[test]
    fn annotations_are_checked_against_expect_lines() {
        let warned = "limit_ratio(1.1, up)";
        let message =
            "PromQL warning: ratio value should be between -1 and 1, got 1.1, capping to 1";
        let report = run_script(&format!(
            "load 1m\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect warn\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect warn msg: {message}\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect warn regex: capping to \\d\n  up 1\n\n\
             eval_warn instant at 0m {warned}\n  up 1\n\n\
             eval instant at 0m {warned}\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect no_info\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect warn msg: other text\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect no_warn\n  up 1\n\n\
             eval instant at 0m up\n  expect warn\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect info\n  up 1\n\n\
             eval instant at 0m {warned}\n  expect warn\n  up 2\n"
        ));
        assert_eq!(report.passed, 6, "{report:?}");
        let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![26, 30, 34, 38, 42], "{report:?}");
        assert_eq!(report.skipped_total(), 0);
    }

    #[test]
    fn every_warning_must_match_some_expect_line_once_one_is_given() {
        // Two warnings: the quantile's and the ratio's.
        let both = "quantile(2, limit_ratio(1.1, up))";
        let report = run_script(&format!(
            "load 1m\n  up 1\n\n\
             eval instant at 0m {both}\n  expect warn regex: quantile\n  {{}} +Inf\n\n\
             eval instant at 0m {both}\n  expect warn regex: quantile\n  expect warn regex: ratio\n  {{}} +Inf\n"
        ));
        assert_eq!(report.passed, 1, "{report:?}");
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.failures[0].line, 4);
    }

    #[test]
    fn clear_starts_from_an_empty_store() {
        let report = run_script(
            "load 1m\n  up 1\n\nclear\n\neval instant at 0m up\n\n\
             eval instant at 0m up\n  expect fail msg: vector cannot contain metrics with the same labelset\n",
        );
        assert_eq!(report.passed, 1);
        assert_eq!(report.failures.len(), 1);
    }
}
