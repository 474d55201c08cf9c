//! `timestamp(v)`: each sample's timestamp in seconds. For a plain
//! selector that is the time of the sample the selector picked; for any
//! other expression it is the evaluation time.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#timestamp>.

use agentmon_model::is_stale_nan;
use promql_parser::parser::{Call, Expr, VectorSelector};

use super::{call_arg, map_values, CallContext};
use crate::engine::eval::{Element, EvalValue};
use crate::engine::selector;
use crate::error::PromqlError;

/// Evaluates `timestamp`.
pub(super) fn call(ctx: &mut CallContext<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    if let Some(vs) = vector_selector(call_arg(call, 0)?) {
        return sample_times(ctx, vs);
    }
    let t = ctx.t as f64 / 1000.0;
    let elems = ctx.vector_arg(call, 0)?;
    Ok(map_values(elems, |_| t))
}

/// The selector an argument is, looking through parentheses.
fn vector_selector(expr: &Expr) -> Option<&VectorSelector> {
    match expr {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::Paren(p) => vector_selector(&p.expr),
        _ => None,
    }
}

/// The time of the sample the selector sees in each series, from the
/// selector's series as the evaluator loaded them for the whole query.
fn sample_times(
    ctx: &mut CallContext<'_, '_>,
    vs: &VectorSelector,
) -> Result<EvalValue, PromqlError> {
    let r = selector::reference_time(vs, ctx.t, ctx.start, ctx.end);
    let lookback = ctx.lookback_ms;
    let series = ctx.evaluator.series(vs, lookback)?;
    Ok(EvalValue::Vector(
        series
            .iter()
            .filter_map(|(labels, samples)| {
                let last = *selector::window(samples, r - lookback, r).last()?;
                (!is_stale_nan(last.v)).then(|| Element {
                    labels: labels.clone(),
                    v: last.t as f64 / 1000.0,
                    drop_name: true,
                })
            })
            .collect(),
    ))
}
