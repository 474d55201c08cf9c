//! PromQL functions on floats, dispatched by name.
//!
//! Each family lives in its own file: [`rate`] (rate, increase, delta and
//! their instant forms), [`over_time`] (aggregations over a range, deriv,
//! predict_linear), [`math`] (element-wise arithmetic and trigonometry),
//! [`date`] (time and calendar functions), [`labels`] (label_replace,
//! label_join), [`vector`] (vector, scalar, absent, absent_over_time),
//! [`histogram`] (histogram_quantile and histogram_fraction on classic
//! buckets), [`smoothing`] (double_exponential_smoothing), [`sort`] and
//! [`timestamp`]. Semantics follow Prometheus 3.5's
//! `promql/functions.go`; see
//! <https://prometheus.io/docs/prometheus/latest/querying/functions/>.
//!
//! Functions that drop `__name__` only mark their output (`drop_name`); the
//! engine removes the names when the query finishes, as for operators.
//! Functions not listed in [`call`] keep answering "not implemented".

mod date;
mod histogram;
mod labels;
mod math;
pub(crate) mod over_time;
pub(crate) mod rate;
mod smoothing;
mod sort;
mod timestamp;
mod vector;

use agentmon_model::Labels;
use promql_parser::parser::{Call, Expr, MatrixSelector, SubqueryExpr};

use super::eval::{type_name, Element, EvalValue, Evaluator, MatrixSeries};
use super::selector;
use crate::error::PromqlError;

/// The evaluation context of one call: the evaluator for its arguments, the
/// lookback (for `timestamp`, which needs sample times), the step time and
/// the query's bounds (for `@ start()` / `@ end()`).
pub(crate) struct CallContext<'e, 's> {
    pub evaluator: &'e mut Evaluator<'s>,
    pub lookback_ms: i64,
    pub t: i64,
    pub start: i64,
    pub end: i64,
}

impl CallContext<'_, '_> {
    /// Evaluates argument `index`.
    fn arg(&mut self, call: &Call, index: usize) -> Result<EvalValue, PromqlError> {
        let expr = call_arg(call, index)?;
        self.evaluator.eval(expr, self.t)
    }

    /// Evaluates argument `index`, which must be an instant vector.
    fn vector_arg(&mut self, call: &Call, index: usize) -> Result<Vec<Element>, PromqlError> {
        match self.arg(call, index)? {
            EvalValue::Vector(v) => Ok(v),
            other => Err(wrong_type(call, "instant vector", &other)),
        }
    }

    /// Evaluates argument `index`, which must be a scalar.
    fn scalar_arg(&mut self, call: &Call, index: usize) -> Result<f64, PromqlError> {
        match self.arg(call, index)? {
            EvalValue::Scalar(v) => Ok(v),
            other => Err(wrong_type(call, "scalar", &other)),
        }
    }

    /// Evaluates argument `index`, which must be a string.
    fn string_arg(&mut self, call: &Call, index: usize) -> Result<String, PromqlError> {
        match self.arg(call, index)? {
            EvalValue::String(v) => Ok(v),
            other => Err(wrong_type(call, "string", &other)),
        }
    }

    /// Evaluates argument `index`, which must be a range selector or a
    /// subquery: its series and the window `(range_start, range_end]` they
    /// were cut from.
    fn range_arg(&mut self, call: &Call, index: usize) -> Result<RangeArg, PromqlError> {
        let expr = call_arg(call, index)?;
        if let Some(sq) = subquery(expr) {
            let window = self.evaluator.eval_subquery(sq, self.t)?;
            return Ok(RangeArg {
                series: window.series,
                range_start: window.range_start,
                range_end: window.range_end,
            });
        }
        let Some(ms) = matrix_selector(expr) else {
            return Err(PromqlError::FunctionArgument {
                function: call.func.name.to_owned(),
                message: "expected a range selector or a subquery".to_owned(),
            });
        };
        let range_end = selector::reference_time(&ms.vs, self.t, self.start, self.end);
        let range_ms = ms.range.as_millis() as i64;
        let series = match self.evaluator.eval(expr, self.t)? {
            EvalValue::Matrix(m) => m,
            other => return Err(wrong_type(call, "range vector", &other)),
        };
        Ok(RangeArg {
            series,
            range_start: range_end - range_ms,
            range_end,
        })
    }
}

/// A range argument after evaluation.
pub(crate) struct RangeArg {
    pub series: Vec<MatrixSeries>,
    /// The window's exclusive start, in milliseconds.
    pub range_start: i64,
    /// The window's inclusive end (the selector's reference time).
    pub range_end: i64,
}

impl RangeArg {
    /// Applies `f` to each series, keeping those it gives a value for. The
    /// output drops the name if the function does or the series' name was
    /// already marked for removal (a subquery's).
    fn map(self, drop_name: bool, mut f: impl FnMut(&MatrixSeries) -> Option<f64>) -> EvalValue {
        EvalValue::Vector(
            self.series
                .iter()
                .filter_map(|s| {
                    f(s).map(|v| Element {
                        labels: s.labels.clone(),
                        v,
                        drop_name: drop_name || s.drop_name,
                    })
                })
                .collect(),
        )
    }
}

/// Evaluates a function call at the context's step time.
pub(crate) fn call(ctx: &mut CallContext<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let name = call.func.name;
    if let Some(result) = rate::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = over_time::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = math::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = date::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = labels::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = vector::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = histogram::call(ctx, call, name)? {
        return Ok(result);
    }
    if let Some(result) = sort::call(ctx, call, name)? {
        return Ok(result);
    }
    if name == "timestamp" {
        return timestamp::call(ctx, call);
    }
    if name == "double_exponential_smoothing" {
        return smoothing::call(ctx, call);
    }
    Err(PromqlError::NotImplemented {
        feature: format!("function {name}"),
    })
}

fn call_arg(call: &Call, index: usize) -> Result<&Expr, PromqlError> {
    call.args
        .args
        .get(index)
        .map(|b| b.as_ref())
        .ok_or_else(|| PromqlError::FunctionArgument {
            function: call.func.name.to_owned(),
            message: format!("missing argument {}", index + 1),
        })
}

/// The subquery an argument is, looking through parentheses.
fn subquery(expr: &Expr) -> Option<&SubqueryExpr> {
    match expr {
        Expr::Subquery(sq) => Some(sq),
        Expr::Paren(p) => subquery(&p.expr),
        _ => None,
    }
}

/// The range selector an argument is, looking through parentheses.
fn matrix_selector(expr: &Expr) -> Option<&MatrixSelector> {
    match expr {
        Expr::MatrixSelector(ms) => Some(ms),
        Expr::Paren(p) => matrix_selector(&p.expr),
        _ => None,
    }
}

fn wrong_type(call: &Call, expected: &str, got: &EvalValue) -> PromqlError {
    PromqlError::FunctionArgument {
        function: call.func.name.to_owned(),
        message: format!("expected {expected}, got {}", type_name(got)),
    }
}

/// Maps every element's value, marking the name for removal.
fn map_values(elems: Vec<Element>, f: impl Fn(f64) -> f64) -> EvalValue {
    EvalValue::Vector(
        elems
            .into_iter()
            .map(|e| Element {
                labels: e.labels,
                v: f(e.v),
                drop_name: true,
            })
            .collect(),
    )
}

/// Kahan–Neumaier compensated addition of `inc` to `sum` with compensation
/// `c`, as Prometheus sums: an infinite sum resets the compensation.
pub(crate) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `math.Max`: NaN wins, unlike Rust's `f64::max`.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins, unlike Rust's `f64::min`.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// A one-element vector without labels.
fn single(v: f64) -> EvalValue {
    EvalValue::Vector(vec![Element {
        labels: Labels::default(),
        v,
        drop_name: false,
    }])
}

#[cfg(test)]
mod tests;
