//! Comparing a query's result with what an `eval` block expects, with the
//! tolerance of Prometheus's promqltest.

use std::collections::HashMap;

use agentmon_model::{is_stale_nan, Labels};

use super::{EvalCommand, EvalKind, ExpectedResult, ExpectedSeries, SequenceValue};
use crate::value::Value;

/// Relative difference promqltest allows between expected and actual values.
const EPSILON: f64 = 1e-6;

/// Whether two floats are equal for a conformance check: NaN equals NaN (but
/// a staleness marker only equals a staleness marker), and otherwise the
/// values agree to a relative error of [`EPSILON`], with an absolute
/// tolerance near zero.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// Checks `got` against the command's expected result; the error says how
/// they differ.
pub fn compare(eval: &EvalCommand, got: &Value) -> Result<(), String> {
    match (&eval.result, got) {
        (ExpectedResult::Scalar(want), Value::Scalar { v, .. }) => {
            if almost_equal(*want, *v) {
                Ok(())
            } else {
                Err(format!("scalar {v}, want {want}"))
            }
        }
        (ExpectedResult::String(want), Value::String { v, .. }) => {
            if want == v {
                Ok(())
            } else {
                Err(format!("string {v:?}, want {want:?}"))
            }
        }
        (ExpectedResult::Series(want), Value::Vector(samples)) => {
            let got: Vec<(Labels, Vec<(i64, f64)>)> = samples
                .iter()
                .map(|s| (s.labels.clone(), vec![(s.t, s.v)]))
                .collect();
            let at = match eval.kind {
                EvalKind::Instant { at_ms } => at_ms,
                EvalKind::Range { start_ms, .. } => start_ms,
            };
            compare_series(want, &got, at, 0, eval.ordered)
        }
        (ExpectedResult::Series(want), Value::Matrix(series)) => {
            let (start, step) = match (eval.kind, eval.range_vector) {
                (EvalKind::Range {
                    start_ms, step_ms, ..
                }, _) => (start_ms, step_ms),
                (EvalKind::Instant { .. }, Some(window)) => (window.start_ms, window.step_ms),
                (EvalKind::Instant { .. }, None) => {
                    return Err("got a range vector, but the test expects an instant vector (no `expect range vector` line)".to_owned())
                }
            };
            let got: Vec<(Labels, Vec<(i64, f64)>)> = series
                .iter()
                .map(|s| {
                    (
                        s.labels.clone(),
                        s.points.iter().map(|p| (p.t, p.v)).collect(),
                    )
                })
                .collect();
            compare_series(want, &got, start, step, eval.ordered)
        }
        (want, got) => Err(format!(
            "got a {} result, want {}",
            got.type_name(),
            match want {
                ExpectedResult::Scalar(_) => "a scalar",
                ExpectedResult::String(_) => "a string",
                ExpectedResult::Series(_) => "series",
            }
        )),
    }
}

/// The points an expected series stands for: the n-th value sits at
/// `start + n * step`.
fn expected_points(
    series: &ExpectedSeries,
    start: i64,
    step: i64,
) -> Result<Vec<(i64, f64)>, String> {
    let mut points = Vec::new();
    for (n, value) in series.values.iter().enumerate() {
        let t = start + n as i64 * step;
        match value {
            SequenceValue::Missing => {}
            SequenceValue::Float(v) => points.push((t, *v)),
            SequenceValue::Stale => points.push((t, agentmon_model::STALE_NAN)),
            SequenceValue::Histogram(_) => {
                return Err("expected native histogram values are not supported".to_owned())
            }
        }
    }
    Ok(points)
}

fn compare_series(
    want: &[ExpectedSeries],
    got: &[(Labels, Vec<(i64, f64)>)],
    start: i64,
    step: i64,
    ordered: bool,
) -> Result<(), String> {
    let got_by_labels: HashMap<&Labels, &Vec<(i64, f64)>> =
        got.iter().map(|(l, p)| (l, p)).collect();
    if want.len() != got.len() {
        return Err(format!(
            "{} series, want {}: got {}",
            got.len(),
            want.len(),
            describe(got)
        ));
    }
    for (index, series) in want.iter().enumerate() {
        let Some(points) = got_by_labels.get(&series.labels) else {
            return Err(format!(
                "expected series {} (line {}) is missing: got {}",
                series.labels,
                series.line,
                describe(got)
            ));
        };
        if ordered && got[index].0 != series.labels {
            return Err(format!(
                "series {} is at position {index}, want {}",
                got[index].0, series.labels
            ));
        }
        let expected = expected_points(series, start, step)?;
        let same = expected.len() == points.len()
            && expected
                .iter()
                .zip(points.iter())
                .all(|(e, g)| e.0 == g.0 && almost_equal(e.1, g.1));
        if !same {
            return Err(format!(
                "series {}: got points {:?}, want {:?}",
                series.labels, points, expected
            ));
        }
    }
    Ok(())
}

fn describe(got: &[(Labels, Vec<(i64, f64)>)]) -> String {
    let parts: Vec<String> = got.iter().map(|(l, p)| format!("{l} {p:?}")).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_relative_and_nan_equals_nan() {
        assert!(almost_equal(f64::NAN, f64::NAN));
        assert!(!almost_equal(f64::NAN, agentmon_model::STALE_NAN));
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.001));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(0.0, 1e-10));
    }
}
