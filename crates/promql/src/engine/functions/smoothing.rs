//! `double_exponential_smoothing(v range-vector, sf scalar, tf scalar)`:
//! Holt's linear method over each series' range, returning the last
//! smoothed value. Prometheus 3 renamed it from `holt_winters`.
//!
//! The smoothing factor `sf` weighs new values against the smoothed past,
//! the trend factor `tf` new trends against the old; both must lie strictly
//! between 0 and 1 (a NaN factor passes that check, as in Prometheus, and
//! makes the result NaN). A series needs at least two points.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#double_exponential_smoothing>.

use agentmon_model::Sample;
use promql_parser::parser::Call;

use super::CallContext;
use crate::engine::eval::EvalValue;
use crate::error::PromqlError;

/// Evaluates `double_exponential_smoothing`.
pub(super) fn call(ctx: &mut CallContext<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let range = ctx.range_arg(call, 0)?;
    let smoothing = ctx.scalar_arg(call, 1)?;
    let trend = ctx.scalar_arg(call, 2)?;
    // Prometheus checks the factors per series, so without series there is
    // nothing to complain about.
    if !range.series.is_empty() {
        check_factor(call, "smoothing", "sf", smoothing)?;
        check_factor(call, "trend", "tf", trend)?;
    }
    Ok(range.map(true, |s| smooth(&s.points, smoothing, trend)))
}

fn check_factor(call: &Call, what: &str, symbol: &str, factor: f64) -> Result<(), PromqlError> {
    if factor <= 0.0 || factor >= 1.0 {
        return Err(PromqlError::FunctionArgument {
            function: call.func.name.to_owned(),
            // Prometheus's wording, with Go's `%f`.
            message: format!("invalid {what} factor. Expected: 0 < {symbol} < 1, got: {factor:.6}"),
        });
    }
    Ok(())
}

/// The last smoothed value of `points`, or nothing for fewer than two.
/// The level starts at the first value and the trend at the first change;
/// the trend is first updated from the second step on.
fn smooth(points: &[Sample], smoothing: f64, trend_factor: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let mut previous_level = 0.0;
    let mut level = points[0].v;
    let mut trend = points[1].v - points[0].v;
    for (i, point) in points.iter().enumerate().skip(1) {
        if i > 1 {
            trend = trend_factor * (level - previous_level) + (1.0 - trend_factor) * trend;
        }
        let next = smoothing * point.v + (1.0 - smoothing) * (level + trend);
        (previous_level, level) = (level, next);
    }
    Some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample::new(i as i64 * 10_000, v))
            .collect()
    }

    #[test]
    fn a_straight_line_is_followed_exactly() {
        let line = points(&[0.0, 10.0, 20.0, 30.0, 40.0]);
        let got = smooth(&line, 0.01, 0.1).unwrap();
        assert!((got - 40.0).abs() < 1e-9, "{got}");
        let falling = points(&[40.0, 30.0, 20.0]);
        assert!((smooth(&falling, 0.5, 0.5).unwrap() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn hand_computed_steps() {
        // Level 1, trend 2; step 1: 0.5·3 + 0.5·(1+2) = 3.
        // Step 2: trend 0.5·(3−1) + 0.5·2 = 2; level 0.5·4 + 0.5·(3+2) = 4.5.
        let got = smooth(&points(&[1.0, 3.0, 4.0]), 0.5, 0.5).unwrap();
        assert_eq!(got, 4.5);
    }

    #[test]
    fn short_or_nan_input() {
        assert_eq!(smooth(&points(&[1.0]), 0.5, 0.5), None);
        assert_eq!(smooth(&[], 0.5, 0.5), None);
        assert!(smooth(&points(&[1.0, f64::NAN, 3.0]), 0.5, 0.5)
            .unwrap()
            .is_nan());
        assert!(smooth(&points(&[1.0, 2.0]), f64::NAN, 0.5)
            .unwrap()
            .is_nan());
    }
}
