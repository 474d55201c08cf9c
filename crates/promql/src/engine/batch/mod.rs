//! Range functions computed for every step of a range query at once.
//!
//! The evaluator works step by step, so `rate(x[5m])` in a range query
//! would cut each series' window afresh at every step. For the common case —
//! a range function of one plain range selector, like `rate`, `increase`,
//! `delta`, `irate`, `idelta` and the one-argument `*_over_time` functions —
//! this module instead walks each series once across all steps with a window
//! that slides forward, computes the value at every step and keeps the
//! results; each step then only picks its column. The per-window arithmetic
//! is the same code the step-by-step path calls ([`RateKind::apply`],
//! [`over_time::simple`]), so both paths give identical answers; the
//! conformance suite's range evals and a test comparing range queries with
//! instant queries at each step hold them to that.
//!
//! Anything else (other functions, subquery arguments, steps off the
//! query's grid, as inner steps of a subquery are, and `rate` of series
//! whose names call for the "might not be a counter" annotation) takes the
//! step-by-step path.

use std::collections::HashMap;
use std::sync::Arc;

use agentmon_model::{is_stale_nan, Labels, Sample};
use promql_parser::parser::{Call, Expr, MatrixSelector};

use super::eval::{Element, EvalValue, Evaluator};
use super::functions::over_time;
use super::functions::rate::{self, RateKind};
use super::selector;
use crate::error::PromqlError;

/// The per-window computation of a batchable function.
#[derive(Clone, Copy)]
enum Kernel {
    Rate(RateKind),
    OverTime(fn(&[Sample]) -> f64),
}

impl Kernel {
    fn of(name: &str) -> Option<Kernel> {
        if let Some(kind) = RateKind::of(name) {
            return Some(Kernel::Rate(kind));
        }
        over_time::simple(name).map(Kernel::OverTime)
    }

    fn apply(self, points: &[Sample], start: i64, end: i64) -> Option<f64> {
        match self {
            Kernel::Rate(kind) => kind.apply(points, start, end),
            Kernel::OverTime(f) => (!points.is_empty()).then(|| f(points)),
        }
    }

    /// Whether the step-by-step path may raise an annotation for a series
    /// with these labels; such calls are not batched so that path raises it.
    fn may_annotate(self, labels: &Labels) -> bool {
        match self {
            Kernel::Rate(kind) if kind.is_counter() => {
                !rate::looks_like_counter(labels.metric_name().unwrap_or(""))
            }
            _ => false,
        }
    }
}

/// One call's values at every step: `values[series][step]`.
pub(crate) struct Batch {
    labels: Vec<Labels>,
    values: Vec<Vec<Option<f64>>>,
    drop_name: bool,
}

/// The batches of one query, by call node; `None` marks a call found not
/// batchable, so it is not examined again.
#[derive(Default)]
pub(crate) struct Batches {
    by_node: HashMap<usize, Option<Arc<Batch>>>,
}

/// The call's value at step time `t` from its batch, computing the batch on
/// first use; `None` if the call must be evaluated step by step.
pub(crate) fn try_call(
    evaluator: &mut Evaluator<'_>,
    call: &Call,
    t: i64,
) -> Result<Option<EvalValue>, PromqlError> {
    let Some(step_index) = evaluator.step_index(t) else {
        return Ok(None);
    };
    let key = call as *const Call as usize;
    let batch = match evaluator.batches.by_node.get(&key) {
        Some(found) => found.clone(),
        None => {
            let built = build(evaluator, call)?.map(Arc::new);
            evaluator.batches.by_node.insert(key, built.clone());
            built
        }
    };
    let Some(batch) = batch else {
        return Ok(None);
    };
    let elements = batch
        .labels
        .iter()
        .zip(&batch.values)
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

/// Computes the batch of a batchable call, or `None`.
fn build(evaluator: &mut Evaluator<'_>, call: &Call) -> Result<Option<Batch>, PromqlError> {
    let name = call.func.name;
    let Some(kernel) = Kernel::of(name) else {
        return Ok(None);
    };
    let [arg] = call.args.args.as_slice() else {
        return Ok(None);
    };
    let Some(ms) = plain_matrix_selector(arg) else {
        return Ok(None);
    };
    let (start, end, step) = evaluator.steps();
    let range_ms = ms.range.as_millis() as i64;
    let references: Vec<i64> = (0..)
        .map(|i| start + i * step)
        .take_while(|&t| t <= end)
        .map(|t| selector::reference_time(&ms.vs, t, start, end))
        .collect();
    let series = evaluator.series(&ms.vs, range_ms)?;
    if series.iter().any(|s| kernel.may_annotate(&s.labels)) {
        return Ok(None);
    }
    let mut scratch: Vec<Sample> = Vec::new();
    let mut labels = Vec::with_capacity(series.len());
    let mut values = Vec::with_capacity(series.len());
    let mut produced = 0usize;
    for s in series {
        let mut column = Vec::with_capacity(references.len());
        let (mut lo, mut hi) = (0usize, 0usize);
        for &r in &references {
            let from = r - range_ms;
            // References only move forward (or stay), so both ends of the
            // window do too, unless `@` pins them; re-seek if they move back.
            if lo > 0 && s.samples[lo - 1].t > from {
                lo = s.samples.partition_point(|p| p.t <= from);
            }
            while lo < s.samples.len() && s.samples[lo].t <= from {
                lo += 1;
            }
            if hi > 0 && s.samples[hi - 1].t > r {
                hi = s.samples.partition_point(|p| p.t <= r);
            }
            while hi < s.samples.len() && s.samples[hi].t <= r {
                hi += 1;
            }
            let window = &s.samples[lo..hi.max(lo)];
            let points = if window.iter().any(|p| is_stale_nan(p.v)) {
                scratch.clear();
                scratch.extend(window.iter().filter(|p| !is_stale_nan(p.v)));
                scratch.as_slice()
            } else {
                window
            };
            let v = kernel.apply(points, from, r);
            produced += usize::from(v.is_some());
            column.push(v);
        }
        labels.push(s.labels.clone());
        values.push(column);
    }
    evaluator.check_interrupted("expression evaluation")?;
    evaluator.hold_samples(produced, "query execution")?;
    Ok(Some(Batch {
        labels,
        values,
        drop_name: over_time::drops_name(name),
    }))
}

/// The argument as a range selector written directly (parentheses allowed).
fn plain_matrix_selector(expr: &Expr) -> Option<&MatrixSelector> {
    match expr {
        Expr::MatrixSelector(ms) => Some(ms),
        Expr::Paren(p) => plain_matrix_selector(&p.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
