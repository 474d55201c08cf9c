//! Expressions computed for every step of a query at once.
//!
//! The evaluator works step by step, so `rate(x[5m])` in a range query
//! would cut each series' window afresh at every step. For the common cases
//! this module instead walks each series once across all steps with a
//! window that slides forward and keeps the value at every step; each step
//! then only picks its column:
//!
//! - a range function of one plain range selector (`rate`, `increase`,
//!   `delta`, `irate`, `idelta`, the one-argument `*_over_time` functions);
//! - a folding aggregation (`sum`, `avg`, `min`, `max`, `count`, `group`,
//!   `stddev`, `stdvar`, `by`/`without`) of such a function or of an instant
//!   selector: series are streamed from storage one at a time and folded
//!   into per-group, per-step folds, so the query holds groups × steps
//!   values, not the series. These results are also kept across queries in
//!   the rollup cache ([`cache`]).
//!
//! The per-window arithmetic is the code the step-by-step path calls
//! ([`RateKind::apply`], [`over_time::simple`], the aggregation folds), in
//! the same order, so both paths give identical answers; the conformance
//! suite, the differential test against Prometheus and a property test
//! comparing batched answers with step-by-step ones
//! ([`crate::EngineOptions::batch`] off) hold them to that.
//!
//! Anything else (other functions and aggregations, subquery arguments,
//! times off the query's steps, as inner steps of a subquery are, selectors
//! with `or` alternatives, and `rate` of series whose names call for the
//! "might not be a counter" annotation) takes the step-by-step path.

use std::collections::HashMap;
use std::sync::Arc;

use agentmon_model::{is_stale_nan, Labels, Sample};
use promql_parser::parser::{AggregateExpr, Call, Expr, MatrixSelector, VectorSelector};
use rustc_hash::FxHashMap;

use super::aggregate::{Fold, FoldKind, Grouping};
use super::eval::{Element, EvalValue, Evaluator};
use super::functions::over_time;
use super::functions::rate::RateKind;
use super::selector;
use crate::error::PromqlError;
use cache::{CacheKey, Entry};

/// The per-window computation of a batchable function.
#[derive(Clone, Copy)]
enum Kernel {
    Rate(RateKind),
    OverTime(fn(&[Sample]) -> f64),
    /// An instant selector's value (handled in [`Plan::column`]).
    Latest,
}

impl Kernel {
    fn of(name: &str) -> Option<Kernel> {
        if let Some(kind) = RateKind::of(name) {
            return Some(Kernel::Rate(kind));
        }
        over_time::simple(name).map(Kernel::OverTime)
    }

    /// The value for one window; `reset_free` says the window is known to
    /// hold no value below its predecessor.
    fn apply(self, points: &[Sample], start: i64, end: i64, reset_free: bool) -> Option<f64> {
        match self {
            Kernel::Rate(kind) if reset_free => kind.apply_reset_free(points, start, end),
            Kernel::Rate(kind) => kind.apply(points, start, end),
            Kernel::OverTime(f) => (!points.is_empty()).then(|| f(points)),
            Kernel::Latest => points.last().map(|p| p.v),
        }
    }

    /// Whether the step-by-step path may raise an annotation for a series
    /// with these labels; such calls are not batched so that path raises it.
    fn may_annotate(self, labels: &Labels) -> bool {
        self.may_annotate_name(labels.metric_name().unwrap_or(""))
    }

    /// [`Kernel::may_annotate`] for a series named `name`.
    fn may_annotate_name(self, name: &str) -> bool {
        match self {
            Kernel::Rate(kind) => kind.doubts_counter(name),
            _ => false,
        }
    }
}

/// An expression's values at every step: one row per output series, its
/// labels and its value (if any) at each step.
pub(crate) struct Batch {
    rows: Vec<(Labels, Vec<Option<f64>>)>,
    drop_name: bool,
}

/// The batches of one query, by expression node; `None` marks a node found
/// not batchable, so it is not examined again.
#[derive(Default)]
pub(crate) struct Batches {
    /// Whether to batch at all ([`crate::EngineOptions::batch`]).
    pub enabled: bool,
    by_node: HashMap<usize, Option<Arc<Batch>>>,
}

/// The call's value at step time `t` from its batch, computing the batch on
/// first use; `None` if the call must be evaluated step by step.
pub(crate) fn try_call(
    evaluator: &mut Evaluator<'_>,
    call: &Call,
    t: i64,
) -> Result<Option<EvalValue>, PromqlError> {
    let key = call as *const Call as usize;
    at_step(evaluator, key, t, |evaluator| build(evaluator, call))
}

/// The value at step time `t` of the node with address `key`, from its
/// batch, built by `build` on first use.
fn at_step(
    evaluator: &mut Evaluator<'_>,
    key: usize,
    t: i64,
    build: impl FnOnce(&mut Evaluator<'_>) -> Result<Option<Batch>, PromqlError>,
) -> Result<Option<EvalValue>, PromqlError> {
    let Some(step_index) = evaluator
        .step_index(t)
        .filter(|_| evaluator.batches.enabled)
    else {
        return Ok(None);
    };
    let batch = match evaluator.batches.by_node.get(&key) {
        Some(found) => found.clone(),
        None => {
            let built = build(evaluator)?.map(Arc::new);
            evaluator.batches.by_node.insert(key, built.clone());
            built
        }
    };
    let Some(batch) = batch else {
        return Ok(None);
    };
    let elements = batch
        .rows
        .iter()
        .filter_map(|(labels, values)| {
            values[step_index].map(|v| Element {
                labels: labels.clone(),
                v,
                drop_name: batch.drop_name,
            })
        })
        .collect();
    Ok(Some(EvalValue::Vector(elements)))
}

/// A batchable expression taken apart: its kernel, its selector, the
/// window each step looks through and the reference time of each step.
struct Plan<'a> {
    kernel: Kernel,
    vs: &'a VectorSelector,
    range_ms: i64,
    references: Vec<i64>,
    drop_name: bool,
    /// [`Kernel::may_annotate`] for every series the selector can give,
    /// when they all share one name (the selector names its metric), so
    /// it is not looked up per series.
    annotates_all: Option<bool>,
}

impl<'a> Plan<'a> {
    /// The plan of `call`, if it is a batchable function of one plain range
    /// selector.
    fn of_call(evaluator: &Evaluator<'_>, call: &'a Call, times: &[i64]) -> Option<Plan<'a>> {
        let name = call.func.name;
        let kernel = Kernel::of(name)?;
        let [arg] = call.args.args.as_slice() else {
            return None;
        };
        let ms = plain_matrix_selector(arg)?;
        Some(Plan::new(
            evaluator,
            kernel,
            &ms.vs,
            ms.range.as_millis() as i64,
            times,
            over_time::drops_name(name),
        ))
    }

    /// The plan of an instant selector: each step sees the latest sample
    /// within the lookback delta, unless it is a staleness marker.
    fn of_selector(evaluator: &Evaluator<'_>, vs: &'a VectorSelector, times: &[i64]) -> Plan<'a> {
        let lookback = evaluator.lookback_ms();
        Plan::new(evaluator, Kernel::Latest, vs, lookback, times, false)
    }

    /// The plan of whichever of the two `expr` is.
    fn of_expr(evaluator: &Evaluator<'_>, expr: &'a Expr, times: &[i64]) -> Option<Plan<'a>> {
        match expr {
            Expr::Call(call) => Plan::of_call(evaluator, call, times),
            Expr::VectorSelector(vs) => Some(Plan::of_selector(evaluator, vs, times)),
            Expr::Paren(p) => Plan::of_expr(evaluator, &p.expr, times),
            _ => None,
        }
    }

    fn new(
        evaluator: &Evaluator<'_>,
        kernel: Kernel,
        vs: &'a VectorSelector,
        range_ms: i64,
        times: &[i64],
        drop_name: bool,
    ) -> Plan<'a> {
        let (start, end, _) = evaluator.steps();
        let references = times
            .iter()
            .map(|&t| selector::reference_time(vs, t, start, end))
            .collect();
        let annotates_all = vs
            .name
            .as_deref()
            .map(|name| kernel.may_annotate_name(name));
        Plan {
            kernel,
            vs,
            range_ms,
            references,
            drop_name,
            annotates_all,
        }
    }

    /// Whether a series with these labels calls for the step-by-step path
    /// (see [`Kernel::may_annotate`]).
    fn may_annotate(&self, labels: &Labels) -> bool {
        self.annotates_all
            .unwrap_or_else(|| self.kernel.may_annotate(labels))
    }

    /// The function's value for one series at every step, into `column`,
    /// sliding the window `(r - range, r]` forward over the samples.
    /// `drops[i]` counts the samples up to `i` that are below their
    /// predecessor, so a window's count of counter resets is a difference
    /// of two entries, and windows without any skip the scan for them.
    fn column(
        &self,
        samples: &[Sample],
        scratch: &mut Vec<Sample>,
        drops: &mut Vec<u32>,
        column: &mut Vec<Option<f64>>,
    ) {
        column.clear();
        drops.clear();
        let mut count = 0u32;
        drops.push(0);
        for pair in samples.windows(2) {
            count += u32::from(pair[1].v < pair[0].v);
            drops.push(count);
        }
        // Most series hold no staleness marker; only those need each window
        // checked for one.
        let has_stale = samples.iter().any(|p| is_stale_nan(p.v));
        let (mut lo, mut hi) = (0usize, 0usize);
        for &r in &self.references {
            let from = r - self.range_ms;
            // References only move forward (or stay), so both ends of the
            // window do too, unless `@` pins them; re-seek if they move back.
            if lo > 0 && samples[lo - 1].t > from {
                lo = samples.partition_point(|p| p.t <= from);
            }
            while lo < samples.len() && samples[lo].t <= from {
                lo += 1;
            }
            if hi > 0 && samples[hi - 1].t > r {
                hi = samples.partition_point(|p| p.t <= r);
            }
            while hi < samples.len() && samples[hi].t <= r {
                hi += 1;
            }
            let hi = hi.max(lo);
            let window = &samples[lo..hi];
            if let Kernel::Latest = self.kernel {
                column.push(window.last().filter(|p| !is_stale_nan(p.v)).map(|p| p.v));
                continue;
            }
            let (points, reset_free) = if has_stale && window.iter().any(|p| is_stale_nan(p.v)) {
                scratch.clear();
                scratch.extend(window.iter().filter(|p| !is_stale_nan(p.v)));
                (scratch.as_slice(), false)
            } else {
                (window, hi <= lo + 1 || drops[hi - 1] == drops[lo])
            };
            column.push(self.kernel.apply(points, from, r, reset_free));
        }
    }
}

/// Computes the batch of a batchable call, or `None`.
fn build(evaluator: &mut Evaluator<'_>, call: &Call) -> Result<Option<Batch>, PromqlError> {
    let times: Vec<i64> = evaluator.step_times().collect();
    let Some(plan) = Plan::of_call(evaluator, call, &times) else {
        return Ok(None);
    };
    let series = evaluator.series(plan.vs, plan.range_ms)?;
    if series.iter().any(|(labels, _)| plan.may_annotate(labels)) {
        return Ok(None);
    }
    let mut scratch: Vec<Sample> = Vec::new();
    let mut drops: Vec<u32> = Vec::new();
    let mut rows = Vec::with_capacity(series.len());
    let mut produced = 0usize;
    for (labels, samples) in series.iter() {
        let mut column = Vec::with_capacity(plan.references.len());
        plan.column(samples, &mut scratch, &mut drops, &mut column);
        produced += column.iter().filter(|v| v.is_some()).count();
        rows.push((labels.clone(), column));
    }
    evaluator.check_interrupted("expression evaluation")?;
    evaluator.hold_samples(produced, "query execution")?;
    Ok(Some(Batch {
        rows,
        drop_name: plan.drop_name,
    }))
}

/// The aggregation's value at step time `t` from its batch, computing the
/// batch on first use; `None` if it must be evaluated step by step.
///
/// Batched: a folding aggregation (`sum`, `avg`, `min`, `max`, `count`,
/// `group`, `stddev`, `stdvar`, with `by`/`without`) of a batchable call or
/// of an instant selector.
/// The selector's series are streamed from storage one at a time (unless
/// the query already holds them): each series' values at every step are
/// folded into its group's per-step folds, in the same order the step path
/// folds them, so the query holds groups × steps values, not the series.
pub(crate) fn try_aggregate(
    evaluator: &mut Evaluator<'_>,
    agg: &AggregateExpr,
    t: i64,
) -> Result<Option<EvalValue>, PromqlError> {
    let key = agg as *const AggregateExpr as usize;
    at_step(evaluator, key, t, |evaluator| {
        build_aggregate(evaluator, agg)
    })
}

fn build_aggregate(
    evaluator: &mut Evaluator<'_>,
    agg: &AggregateExpr,
) -> Result<Option<Batch>, PromqlError> {
    let Some(kind) = FoldKind::of(agg.op.id()) else {
        return Ok(None);
    };
    if agg.param.is_some() {
        return Ok(None);
    }
    let times: Vec<i64> = evaluator.step_times().collect();
    let Some(plan) = Plan::of_expr(evaluator, &agg.expr, &times) else {
        return Ok(None);
    };
    // Steps kept from earlier queries, then the ones to compute now.
    let (start, _, step) = evaluator.steps();
    let cacheable = step > 0 && plan.vs.offset.is_none() && plan.vs.at.is_none();
    let rollups = evaluator.rollups().filter(|_| cacheable).cloned();
    let key = CacheKey {
        expr: agg.to_string(),
        step,
        phase: start.rem_euclid(step.max(1)),
    };
    let mut entry = match &rollups {
        Some(handle) => {
            let mut entry = handle.take(&key).unwrap_or_default();
            if let Some(changed) = evaluator.storage().changed_since(entry.generation) {
                entry.forget_from(changed);
            }
            entry
        }
        None => Entry::default(),
    };
    let missing: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| !entry.steps.contains_key(t))
        .collect();
    if !missing.is_empty() {
        let Some(plan) = Plan::of_expr(evaluator, &agg.expr, &missing) else {
            return Ok(None);
        };
        let span = (missing[0], missing[missing.len() - 1]);
        let Some(computed) = fold_groups(evaluator, agg, kind, &plan, span)? else {
            return Ok(None);
        };
        let numbers: Vec<u32> = computed
            .iter()
            .map(|(labels, _)| entry.group(labels))
            .collect();
        for (i, &t) in missing.iter().enumerate() {
            let values = numbers
                .iter()
                .zip(&computed)
                .filter_map(|(&g, (_, folds))| folds[i].map(|v| (g, v)))
                .collect();
            entry.set_step(t, values);
        }
    }
    let mut groups: Vec<(Labels, Vec<Option<f64>>)> = entry
        .groups
        .iter()
        .map(|labels| (labels.clone(), vec![None; times.len()]))
        .collect();
    let mut held = 0usize;
    for (i, t) in times.iter().enumerate() {
        for &(g, v) in entry.steps.get(t).map(Vec::as_slice).unwrap_or_default() {
            groups[g as usize].1[i] = Some(v);
            held += 1;
        }
    }
    evaluator.hold_samples(held, "query execution")?;
    if let Some(handle) = rollups {
        entry.generation = handle.generation;
        handle.put(key, entry, times.len() - missing.len());
    }
    Ok(Some(Batch {
        rows: groups,
        drop_name: plan.drop_name,
    }))
}

/// Streams the plan's series and folds each group's values at the plan's
/// steps; `None` if the path must give way (the selector cannot stream, or
/// a series calls for an annotation the step path raises).
#[allow(clippy::type_complexity)]
fn fold_groups(
    evaluator: &mut Evaluator<'_>,
    agg: &AggregateExpr,
    kind: FoldKind,
    plan: &Plan<'_>,
    span: (i64, i64),
) -> Result<Option<Vec<(Labels, Vec<Option<f64>>)>>, PromqlError> {
    let grouping = Grouping::of(agg.modifier.as_ref());
    let steps = plan.references.len();
    let mut groups: Vec<(Labels, Vec<Option<Fold>>)> = Vec::new();
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut scratch: Vec<Sample> = Vec::new();
    let mut drops: Vec<u32> = Vec::new();
    let mut column: Vec<Option<f64>> = Vec::with_capacity(steps);
    let mut annotates = false;
    let mut interrupted = Ok(());
    let mut seen = 0usize;
    let limits = evaluator.limits().clone();
    let mut fold_series = |labels: &Labels, samples: &[Sample]| {
        if plan.may_annotate(labels) {
            annotates = true;
            return false;
        }
        seen += 1;
        if seen.is_multiple_of(1024) {
            interrupted = limits.check_interrupted("expression evaluation");
            if interrupted.is_err() {
                return false;
            }
        }
        plan.column(samples, &mut scratch, &mut drops, &mut column);
        if column.iter().all(Option::is_none) {
            return true;
        }
        let candidates = index.entry(grouping.group_hash(labels)).or_default();
        let found = candidates
            .iter()
            .copied()
            .find(|&g| grouping.in_group(&groups[g].0, labels));
        let at = found.unwrap_or_else(|| {
            groups.push((grouping.group_labels(labels), vec![None; steps]));
            candidates.push(groups.len() - 1);
            groups.len() - 1
        });
        for (fold, value) in groups[at].1.iter_mut().zip(&column) {
            if let Some(v) = *value {
                match fold {
                    Some(f) => f.push(v),
                    None => *fold = Some(kind.start(v)),
                }
            }
        }
        true
    };
    let streamed = evaluator.stream_series(plan.vs, plan.range_ms, Some(span), &mut fold_series)?;
    interrupted?;
    if !streamed || annotates {
        return Ok(None);
    }
    evaluator.check_interrupted("expression evaluation")?;
    Ok(Some(
        groups
            .into_iter()
            .map(|(labels, folds)| {
                (
                    labels,
                    folds.into_iter().map(|f| f.map(Fold::finish)).collect(),
                )
            })
            .collect(),
    ))
}

/// The argument as a range selector written directly (parentheses allowed).
fn plain_matrix_selector(expr: &Expr) -> Option<&MatrixSelector> {
    match expr {
        Expr::MatrixSelector(ms) => Some(ms),
        Expr::Paren(p) => plain_matrix_selector(&p.expr),
        _ => None,
    }
}

pub(crate) mod cache;

#[cfg(test)]
mod tests;
