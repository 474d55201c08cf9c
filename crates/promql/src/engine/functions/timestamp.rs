//! `timestamp(v)`: each sample's timestamp in seconds. For a plain
//! selector that is the time of the sample the selector picked; for any
//! other expression it is the evaluation time.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#timestamp>.

use agentmon_model::is_stale_nan;
use promql_parser::parser::{AtModifier, Call, Expr, VectorSelector};

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

/// The time of the sample the selector sees in each series. Reads storage
/// for this step only: the evaluator's per-query cache keeps values, not
/// times.
fn sample_times(ctx: &CallContext<'_, '_>, vs: &VectorSelector) -> Result<EvalValue, PromqlError> {
    let r = selector::reference_time(vs, ctx.t, ctx.start, ctx.end);
    // Load only this step's window; `@ start()` and `@ end()` need the
    // query's bounds to resolve.
    let (from, to) = match vs.at {
        Some(AtModifier::Start | AtModifier::End) => (ctx.start, ctx.end),
        _ => (ctx.t, ctx.t),
    };
    let series = selector::load(ctx.storage, vs, ctx.lookback_ms, from, to)?;
    Ok(EvalValue::Vector(
        series
            .into_iter()
            .filter_map(|s| {
                let last = *selector::window(&s.samples, r - ctx.lookback_ms, r).last()?;
                (!is_stale_nan(last.v)).then(|| Element {
                    labels: s.labels,
                    v: last.t as f64 / 1000.0,
                    drop_name: true,
                })
            })
            .collect(),
    ))
}
