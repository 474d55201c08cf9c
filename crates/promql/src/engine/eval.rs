//! Walks an expression tree and evaluates it at one step time.
//!
//! Subqueries are evaluated in [`super::subquery`], which widens the
//! evaluator's evaluation span while their inner expression runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use agentmon_model::{Labels, Sample};
use promql_parser::parser::{Expr, VectorSelector};

use super::aggregate;
use super::batch::cache::RollupHandle;
use super::batch::{self, Batches};
use super::binary;
use super::selector;
use super::subquery::StepCache;
use crate::annotations::Annotations;
use crate::error::PromqlError;
use crate::storage::{Selected, Storage};

/// One element of an instant vector during evaluation. `drop_name` marks a
/// series whose `__name__` is removed when the query finishes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Element {
    pub labels: Labels,
    pub v: f64,
    pub drop_name: bool,
}

/// One series of a range vector during evaluation. `drop_name` marks a
/// subquery's series whose inner expression dropped `__name__`: the name is
/// removed when the query finishes, and functions over it drop it too.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatrixSeries {
    pub labels: Labels,
    pub points: Vec<Sample>,
    pub drop_name: bool,
}

/// An intermediate value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvalValue {
    Scalar(f64),
    String(String),
    Vector(Vec<Element>),
    Matrix(Vec<MatrixSeries>),
}

/// The bounds one query runs within.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// When the query times out.
    pub deadline: Option<Instant>,
    /// Set by someone else to cancel the query.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Most samples the query may hold: loaded from storage plus produced.
    pub max_samples: usize,
}

impl Limits {
    /// Fails if the query has run out of time or was canceled.
    pub fn check_interrupted(&self, phase: &'static str) -> Result<(), PromqlError> {
        if let Some(cancel) = &self.cancel {
            if cancel.load(Ordering::Relaxed) {
                return Err(PromqlError::Canceled { phase });
            }
        }
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return Err(PromqlError::Timeout { phase });
            }
        }
        Ok(())
    }
}

/// Evaluates expressions of one query; remembers each selector's series so
/// storage is read once per selector, not once per step.
pub(crate) struct Evaluator<'s> {
    storage: &'s dyn Storage,
    lookback_ms: i64,
    /// The query's bounds, which `@ start()` and `@ end()` name.
    pub(super) start: i64,
    pub(super) end: i64,
    /// The first and last step times at which the expression being
    /// evaluated is evaluated during the whole query: the query's bounds,
    /// or wider inside a subquery. Selectors load their series for it.
    pub(super) span: (i64, i64),
    /// The step of subqueries that do not give one.
    pub(super) default_subquery_step_ms: i64,
    /// Keyed by the selector node's address: the tree outlives the query.
    cache: HashMap<usize, Selected>,
    /// Inner results of each subquery node, keyed by its address.
    pub(super) subqueries: HashMap<usize, StepCache>,
    limits: Limits,
    /// The range query's step (0 for an instant query).
    step: i64,
    /// Range functions computed for all steps at once.
    pub batches: Batches,
    /// The engine's cache of batched aggregations, if usable.
    rollups: Option<RollupHandle>,
    /// Samples held so far: loaded by selectors and produced as output.
    samples: usize,
    /// Warnings and infos raised so far.
    pub annotations: Annotations,
}

impl<'s> Evaluator<'s> {
    pub fn new(
        storage: &'s dyn Storage,
        lookback_ms: i64,
        start: i64,
        end: i64,
        default_subquery_step_ms: i64,
        limits: Limits,
    ) -> Evaluator<'s> {
        Evaluator {
            storage,
            lookback_ms,
            start,
            end,
            span: (start, end),
            default_subquery_step_ms,
            cache: HashMap::new(),
            subqueries: HashMap::new(),
            limits,
            step: 0,
            batches: Batches::default(),
            rollups: None,
            samples: 0,
            annotations: Annotations::default(),
        }
    }

    /// Makes this a range query's evaluator, stepping by `step` ms.
    pub fn set_step(&mut self, step: i64) {
        self.step = step;
    }

    /// The query's first and last step times and its step (0 for an
    /// instant query).
    pub fn steps(&self) -> (i64, i64, i64) {
        (self.start, self.end, self.step)
    }

    /// The query's step times: each step of a range query, or the one
    /// time of an instant query.
    pub fn step_times(&self) -> impl Iterator<Item = i64> {
        let (start, end, step) = (self.start, self.end, self.step);
        (0..)
            .map(move |i| start.saturating_add(i * step.max(1)))
            .take_while(move |&t| t <= end && (step > 0 || t == start))
    }

    /// The index of `t` among [`Evaluator::step_times`], if it is one.
    pub fn step_index(&self, t: i64) -> Option<usize> {
        if t < self.start || t > self.end {
            return None;
        }
        if self.step == 0 {
            return (t == self.start).then_some(0);
        }
        let offset = t - self.start;
        (offset % self.step == 0).then(|| (offset / self.step) as usize)
    }

    /// Fails if the query has run out of time or was canceled.
    pub fn check_interrupted(&self, phase: &'static str) -> Result<(), PromqlError> {
        self.limits.check_interrupted(phase)
    }

    /// The query's limits, for loops that cannot borrow the evaluator.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counts `n` more samples held by the query against its limit.
    pub fn hold_samples(&mut self, n: usize, phase: &'static str) -> Result<(), PromqlError> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.limits.max_samples {
            return Err(PromqlError::TooManySamples { phase });
        }
        Ok(())
    }

    /// Samples held so far.
    pub fn samples_held(&self) -> usize {
        self.samples
    }

    /// Evaluates `expr` at step time `t`.
    pub fn eval(&mut self, expr: &Expr, t: i64) -> Result<EvalValue, PromqlError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(EvalValue::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(EvalValue::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                EvalValue::Scalar(v) => Ok(EvalValue::Scalar(-v)),
                EvalValue::Vector(elems) => Ok(EvalValue::Vector(
                    elems
                        .into_iter()
                        .map(|e| Element {
                            labels: e.labels,
                            v: -e.v,
                            drop_name: true,
                        })
                        .collect(),
                )),
                other => Err(not_implemented(format!(
                    "unary minus on {}",
                    type_name(&other)
                ))),
            },
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, t),
            Expr::MatrixSelector(ms) => {
                let window = ms.range.as_millis() as i64;
                let r = selector::reference_time(&ms.vs, t, self.start, self.end);
                let series = self.series(&ms.vs, window)?;
                Ok(EvalValue::Matrix(
                    series
                        .iter()
                        .filter_map(|(labels, samples)| {
                            let points = selector::range_points(samples, r, ms.range);
                            (!points.is_empty()).then(|| MatrixSeries {
                                labels: labels.clone(),
                                points,
                                drop_name: false,
                            })
                        })
                        .collect(),
                ))
            }
            Expr::Binary(b) => {
                let lhs = self.eval(&b.lhs, t)?;
                let rhs = self.eval(&b.rhs, t)?;
                binary::evaluate(b, lhs, rhs)
            }
            Expr::Call(call) => {
                if let Some(value) = batch::try_call(self, call, t)? {
                    return Ok(value);
                }
                let lookback_ms = self.lookback_ms;
                let (start, end) = (self.start, self.end);
                let mut ctx = super::functions::CallContext {
                    evaluator: self,
                    lookback_ms,
                    t,
                    start,
                    end,
                };
                super::functions::call(&mut ctx, call)
            }
            Expr::Aggregate(agg) => {
                if let Some(value) = batch::try_aggregate(self, agg, t)? {
                    return Ok(value);
                }
                let param = match &agg.param {
                    Some(p) => Some(self.eval(p, t)?),
                    None => None,
                };
                let input = self.eval(&agg.expr, t)?;
                aggregate::evaluate(agg, input, param, &mut self.annotations)
            }
            Expr::Subquery(sq) => Ok(EvalValue::Matrix(self.eval_subquery(sq, t)?.series)),
            Expr::Extension(_) => Err(not_implemented("extension expression".to_owned())),
        }
    }

    fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        t: i64,
    ) -> Result<EvalValue, PromqlError> {
        let r = selector::reference_time(vs, t, self.start, self.end);
        let lookback = self.lookback_ms;
        let series = self.series(vs, lookback)?;
        Ok(EvalValue::Vector(
            series
                .iter()
                .filter_map(|(labels, samples)| {
                    selector::instant_value(samples, r, lookback).map(|v| Element {
                        labels: labels.clone(),
                        v,
                        drop_name: false,
                    })
                })
                .collect(),
        ))
    }

    /// The selector's series with every sample any step of the query can
    /// see through a window of `window_ms`, read from storage once (for the
    /// evaluation span current when it is first asked for).
    pub(crate) fn series(
        &mut self,
        vs: &VectorSelector,
        window_ms: i64,
    ) -> Result<&Selected, PromqlError> {
        let key = vs as *const VectorSelector as usize;
        if !self.cache.contains_key(&key) {
            self.check_interrupted("query preparation")?;
            let budget = self.limits.max_samples.saturating_sub(self.samples);
            let loaded = selector::load(
                self.storage,
                vs,
                window_ms,
                self.span,
                (self.start, self.end),
                budget,
            )?;
            self.hold_samples(loaded.samples(), "query execution")?;
            self.cache.insert(key, loaded);
        }
        Ok(self.cache.entry(key).or_default())
    }

    /// Calls `f` with each of the selector's series, as [`Evaluator::series`]
    /// would give them, without keeping them (unless they are kept
    /// already), until `f` returns `false`. Answers `false` if the selector
    /// cannot be streamed (see [`selector::stream`]); then `f` was not called.
    pub(crate) fn stream_series(
        &mut self,
        vs: &VectorSelector,
        window_ms: i64,
        eval_span: Option<(i64, i64)>,
        f: &mut dyn FnMut(&Labels, &[Sample]) -> bool,
    ) -> Result<bool, PromqlError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(kept) = self.cache.get(&key) {
            for (labels, samples) in kept.iter() {
                if !f(labels, samples) {
                    break;
                }
            }
            return Ok(true);
        }
        self.check_interrupted("query preparation")?;
        selector::stream(
            self.storage,
            vs,
            window_ms,
            eval_span.unwrap_or(self.span),
            (self.start, self.end),
            f,
        )
    }

    /// How far back an instant selector looks, in milliseconds.
    pub(crate) fn lookback_ms(&self) -> i64 {
        self.lookback_ms
    }

    /// The store the query reads.
    pub(crate) fn storage(&self) -> &'s dyn Storage {
        self.storage
    }

    /// The engine's rollup cache, if this query may use it.
    pub(crate) fn rollups(&self) -> Option<&RollupHandle> {
        self.rollups.as_ref()
    }

    /// Lets this query use the engine's rollup cache.
    pub(crate) fn set_rollups(&mut self, handle: RollupHandle) {
        self.rollups = Some(handle);
    }
}

fn not_implemented(feature: String) -> PromqlError {
    PromqlError::NotImplemented { feature }
}

/// Prometheus's name for a value's type, for error messages.
pub(crate) fn type_name(value: &EvalValue) -> &'static str {
    match value {
        EvalValue::Scalar(_) => "scalar",
        EvalValue::String(_) => "string",
        EvalValue::Vector(_) => "instant vector",
        EvalValue::Matrix(_) => "range vector",
    }
}
