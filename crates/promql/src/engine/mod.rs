//! The PromQL evaluator: [`Engine`] parses a query with the `promql-parser`
//! crate and evaluates it against a [`Storage`] at one instant or at every
//! step of a range, with Prometheus 3.x semantics.
//!
//! Evaluation is step by step: a range query evaluates the expression at each
//! step time and gathers the per-step vectors into series. Each selector reads
//! its series from storage once per query ([`selector`]); operators live in
//! [`binary`] and [`aggregate`]; a subquery ([`subquery`]) evaluates its
//! inner expression at aligned inner steps, each once per query. Like
//! Prometheus with delayed name removal, operators that drop `__name__` only
//! mark their output, and the names are removed when the query finishes; two
//! series left with the same labels then fail the query.

mod aggregate;
mod batch;
mod binary;
mod eval;
mod functions;
#[cfg(test)]
mod memory_storage;
mod parse;
mod selector;
mod subquery;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentmon_model::{Label, Labels, Sample, METRIC_NAME_LABEL};
use promql_parser::parser::Expr;

use crate::annotations::Annotations;
use crate::error::PromqlError;
use crate::storage::Storage;
use crate::value::{InstantSample, RangeSeries, Value};
use batch::cache::{RollupCache, RollupHandle};
use eval::{EvalValue, Evaluator, Limits};
use parse::parse;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a series' latest sample
    /// (Prometheus's `--query.lookback-delta`, default 5m).
    pub lookback_delta: Duration,
    /// The longest a query may run, and the cap on a query's own `timeout`
    /// (Prometheus's `--query.timeout`, default 2m).
    pub timeout: Duration,
    /// Most samples a query may hold in memory at once, counting those read
    /// from storage and those it produces (Prometheus's
    /// `--query.max-samples`, default 50,000,000).
    pub max_samples: usize,
    /// The step of a subquery written without one (`expr[1h:]`);
    /// Prometheus uses its global evaluation interval, 1m by default.
    pub default_subquery_step: Duration,
    /// Whether range functions of a plain range selector (and folding
    /// aggregations of them) are computed for all steps at once, streaming
    /// series from storage (on by default). Off, every step is evaluated on
    /// its own: the reference the batched path is tested against.
    pub batch: bool,
    /// Values of batched aggregations kept across queries so repeated range
    /// queries recompute only steps whose data changed (0 turns the cache
    /// off). A value is kept as a 16-byte (group, value) pair, plus a map
    /// entry per step (a layout estimate, not a measurement).
    pub rollup_cache_values: usize,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            default_subquery_step: Duration::from_secs(60),
            batch: true,
            rollup_cache_values: 2_000_000,
        }
    }
}

/// When a query is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// At one instant, milliseconds since the epoch.
    Instant { time_ms: i64 },
    /// At every step from `start_ms` to `end_ms` inclusive.
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// One query to evaluate.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The PromQL text.
    pub text: &'a str,
    /// Instant or range.
    pub kind: QueryKind,
    /// The query's own timeout; the engine's [`EngineOptions::timeout`] caps it.
    pub timeout: Option<Duration>,
    /// Cancels the query when set (checked between steps and selects).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl<'a> Query<'a> {
    /// An instant query at `time_ms` without its own timeout.
    pub fn instant(text: &'a str, time_ms: i64) -> Query<'a> {
        Query {
            text,
            kind: QueryKind::Instant { time_ms },
            timeout: None,
            cancel: None,
        }
    }

    /// A range query without its own timeout.
    pub fn range(text: &'a str, start_ms: i64, end_ms: i64, step_ms: i64) -> Query<'a> {
        Query {
            text,
            kind: QueryKind::Range {
                start_ms,
                end_ms,
                step_ms,
            },
            timeout: None,
            cancel: None,
        }
    }
}

/// What a query gives back: its value, its annotations and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// The result.
    pub value: Value,
    /// Warnings and infos raised while evaluating.
    pub annotations: Annotations,
    /// Samples the query held: read from storage plus produced.
    pub samples: usize,
}

/// Evaluates PromQL queries. Clones share one rollup cache.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
    rollups: Arc<Mutex<RollupCache>>,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(options: EngineOptions) -> Engine {
        Engine {
            options,
            rollups: Arc::default(),
        }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` within the engine's limits.
    pub fn query(
        &self,
        storage: &dyn Storage,
        query: &Query<'_>,
    ) -> Result<QueryOutput, PromqlError> {
        let started = Instant::now();
        let timeout = query
            .timeout
            .map_or(self.options.timeout, |t| t.min(self.options.timeout));
        let limits = Limits {
            deadline: started.checked_add(timeout),
            cancel: query.cancel.clone(),
            max_samples: self.options.max_samples,
        };
        let (start, end) = match query.kind {
            QueryKind::Instant { time_ms } => (time_ms, time_ms),
            QueryKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => {
                check_range(start_ms, end_ms, step_ms)?;
                (start_ms, end_ms)
            }
        };
        let expr = parse(query.text)?;
        // Taken before anything is read, so changes made while the query
        // runs count as changes after it.
        let generation = storage.generation();
        let default_step_ms =
            i64::try_from(self.options.default_subquery_step.as_millis()).unwrap_or(i64::MAX);
        let mut evaluator = Evaluator::new(
            storage,
            self.lookback_ms(),
            start,
            end,
            default_step_ms,
            limits,
        );
        evaluator.batches.enabled = self.options.batch;
        if let (Some(generation), true) = (generation, self.options.rollup_cache_values > 0) {
            evaluator.set_rollups(RollupHandle {
                cache: self.rollups.clone(),
                generation,
                capacity: self.options.rollup_cache_values,
            });
        }
        let value = match query.kind {
            QueryKind::Instant { time_ms } => eval_instant(&mut evaluator, &expr, time_ms)?,
            QueryKind::Range { step_ms, .. } => {
                evaluator.set_step(step_ms);
                eval_range(&mut evaluator, &expr, start, end, step_ms)?
            }
        };
        Ok(QueryOutput {
            value,
            samples: evaluator.samples_held(),
            annotations: std::mem::take(&mut evaluator.annotations),
        })
    }

    /// Evaluates `query` at `time_ms` (an instant query) and returns only
    /// its value.
    pub fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<Value, PromqlError> {
        self.query(storage, &Query::instant(query, time_ms))
            .map(|out| out.value)
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` inclusive
    /// (a range query) and returns only its value, always a matrix sorted by
    /// labels.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, PromqlError> {
        self.query(storage, &Query::range(query, start_ms, end_ms, step_ms))
            .map(|out| out.value)
    }

    fn lookback_ms(&self) -> i64 {
        self.options.lookback_delta.as_millis() as i64
    }
}

/// Parses `query` exactly as [`Engine::query`] does before evaluating it
/// (with Go's byte-escape semantics in strings), for callers that need the
/// expression itself: formatting, AST output, checking before queueing.
pub fn parse_expr(query: &str) -> Result<Expr, PromqlError> {
    parse(query)
}

fn check_range(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<(), PromqlError> {
    if step_ms <= 0 {
        return Err(PromqlError::InvalidRange {
            reason: "step must be positive",
        });
    }
    if end_ms < start_ms {
        return Err(PromqlError::InvalidRange {
            reason: "end is before start",
        });
    }
    Ok(())
}

fn eval_instant(
    evaluator: &mut Evaluator<'_>,
    expr: &Expr,
    time_ms: i64,
) -> Result<Value, PromqlError> {
    match evaluator.eval(expr, time_ms)? {
        EvalValue::Scalar(v) => Ok(Value::Scalar { t: time_ms, v }),
        EvalValue::String(v) => Ok(Value::String { t: time_ms, v }),
        EvalValue::Vector(elems) => {
            evaluator.hold_samples(elems.len(), "query execution")?;
            let mut out = Vec::with_capacity(elems.len());
            for elem in elems {
                let labels = finish_labels(elem.labels, elem.drop_name);
                out.push(InstantSample {
                    labels,
                    t: time_ms,
                    v: elem.v,
                });
            }
            check_unique(out.iter().map(|s| &s.labels))?;
            Ok(Value::Vector(out))
        }
        EvalValue::Matrix(series) => {
            let out: Vec<RangeSeries> = series
                .into_iter()
                .map(|s| RangeSeries {
                    labels: finish_labels(s.labels, s.drop_name),
                    points: s.points,
                })
                .collect();
            check_unique(out.iter().map(|s| &s.labels))?;
            Ok(Value::Matrix(out))
        }
    }
}

fn eval_range(
    evaluator: &mut Evaluator<'_>,
    expr: &Expr,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<Value, PromqlError> {
    let mut series = StepSeries::default();
    let mut t = start_ms;
    while t <= end_ms {
        evaluator.check_interrupted("expression evaluation")?;
        match evaluator.eval(expr, t)? {
            EvalValue::Scalar(v) => {
                evaluator.hold_samples(1, "query execution")?;
                series.push(0, Labels::default(), false, Sample::new(t, v));
            }
            EvalValue::Vector(elems) => {
                evaluator.hold_samples(elems.len(), "query execution")?;
                for (position, elem) in elems.into_iter().enumerate() {
                    series.push(
                        position,
                        elem.labels,
                        elem.drop_name,
                        Sample::new(t, elem.v),
                    );
                }
            }
            EvalValue::String(_) => {
                return Err(PromqlError::InvalidRangeQueryType {
                    value_type: "string",
                })
            }
            EvalValue::Matrix(_) => {
                return Err(PromqlError::InvalidRangeQueryType {
                    value_type: "range vector",
                })
            }
        }
        t += step_ms;
    }
    let mut out: Vec<RangeSeries> = series
        .series
        .into_iter()
        .map(|(labels, drop_name, points)| RangeSeries {
            labels: finish_labels(labels, drop_name),
            points,
        })
        .collect();
    check_unique(out.iter().map(|s| &s.labels))?;
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Matrix(out))
}

/// A range query's output series as steps come in. Series are told apart
/// by their labels still carrying the name and by whether the name is to be
/// dropped, so series differing only in name stay apart until the end, as
/// in Prometheus. Steps mostly list the same series in the same order with
/// the same (shared) labels, so each position remembers the series it went
/// to last time and a pointer comparison usually finds it.
#[derive(Default)]
struct StepSeries {
    series: Vec<(Labels, bool, Vec<Sample>)>,
    index: HashMap<(Labels, bool), usize>,
    last_at_position: Vec<usize>,
}

impl StepSeries {
    fn push(&mut self, position: usize, labels: Labels, drop_name: bool, sample: Sample) {
        let remembered = self.last_at_position.get(position).copied().filter(|&i| {
            self.series.get(i).is_some_and(|(known, known_drop, _)| {
                *known_drop == drop_name && known.same_as(&labels)
            })
        });
        let at = match remembered {
            Some(at) => at,
            None => {
                let next = self.series.len();
                let at = *self
                    .index
                    .entry((labels.clone(), drop_name))
                    .or_insert(next);
                if at == next {
                    self.series.push((labels, drop_name, Vec::new()));
                }
                if position < self.last_at_position.len() {
                    self.last_at_position[position] = at;
                } else {
                    self.last_at_position.resize(position, usize::MAX);
                    self.last_at_position.push(at);
                }
                at
            }
        };
        self.series[at].2.push(sample);
    }
}

/// Applies a pending name drop.
fn finish_labels(labels: Labels, drop_name: bool) -> Labels {
    if drop_name {
        without_name(&labels)
    } else {
        labels
    }
}

/// The labels without `__name__`.
pub(crate) fn without_name(labels: &Labels) -> Labels {
    let kept: Vec<Label> = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME_LABEL)
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(kept)
}

fn check_unique<'a>(labels: impl Iterator<Item = &'a Labels>) -> Result<(), PromqlError> {
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return Err(PromqlError::DuplicateLabelset);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
