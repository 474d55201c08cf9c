//! Aggregations of each series over a range: `avg_over_time`,
//! `sum_over_time`, `quantile_over_time`, `mad_over_time`, the
//! `ts_of_*_over_time` timestamps, `changes`, `resets`, `deriv`,
//! `predict_linear` and the rest.
//!
//! Only `last_over_time` and `first_over_time` keep the series' name: they
//! return a sample as it is. `ts_of_max_over_time` and
//! `ts_of_min_over_time` report the *last* time the extreme was reached, as
//! Prometheus does. A `quantile_over_time` φ outside [0, 1] gives ±Inf with
//! a warning.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time>.

use agentmon_model::Sample;
use promql_parser::parser::Call;

use super::{kahan_add, CallContext};
use crate::annotations;
use crate::engine::aggregate::quantile;
use crate::engine::eval::EvalValue;
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    if let Some(aggregate) = simple(name) {
        let range = ctx.range_arg(call, 0)?;
        return Ok(Some(range.map(drops_name(name), |s| {
            (!s.points.is_empty()).then(|| aggregate(&s.points))
        })));
    }
    match name {
        "quantile_over_time" => {
            let q = ctx.scalar_arg(call, 0)?;
            let range = ctx.range_arg(call, 1)?;
            // Prometheus warns only when there is a series to answer for.
            if !(0.0..=1.0).contains(&q) && !range.series.is_empty() {
                ctx.evaluator
                    .annotations
                    .warn(annotations::invalid_quantile(q));
            }
            Ok(Some(range.map(true, |s| {
                let values: Vec<f64> = s.points.iter().map(|p| p.v).collect();
                Some(quantile(q, &values))
            })))
        }
        "deriv" => {
            let range = ctx.range_arg(call, 0)?;
            Ok(Some(range.map(true, |s| {
                let first = s.points.first()?.t;
                (s.points.len() >= 2).then(|| linear_regression(&s.points, first).0)
            })))
        }
        "predict_linear" => {
            let range = ctx.range_arg(call, 0)?;
            let horizon = ctx.scalar_arg(call, 1)?;
            let t = ctx.t;
            Ok(Some(range.map(true, |s| {
                (s.points.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(&s.points, t);
                    slope * horizon + intercept
                })
            })))
        }
        _ => Ok(None),
    }
}

/// The functions of this family that take only a range and reduce each
/// series' (non-empty) window to one value, by name.
pub(crate) fn simple(name: &str) -> Option<fn(&[Sample]) -> f64> {
    Some(match name {
        "avg_over_time" => average,
        "sum_over_time" => sum,
        "count_over_time" => |p| p.len() as f64,
        "min_over_time" => minimum,
        "max_over_time" => maximum,
        "last_over_time" => |p| p[p.len() - 1].v,
        "first_over_time" => |p| p[0].v,
        "ts_of_last_over_time" => |p| seconds(p[p.len() - 1].t),
        "ts_of_first_over_time" => |p| seconds(p[0].t),
        "ts_of_max_over_time" => |p| seconds(last_extreme(p, |v, held| v >= held)),
        "ts_of_min_over_time" => |p| seconds(last_extreme(p, |v, held| v <= held)),
        "mad_over_time" => median_absolute_deviation,
        "present_over_time" => |_| 1.0,
        "stddev_over_time" => |p| variance(p).sqrt(),
        "stdvar_over_time" => variance,
        "changes" => changes,
        "resets" => resets,
        _ => return None,
    })
}

/// Whether function `name` drops the series' name: only last_over_time and
/// first_over_time keep it, as they return a sample as it is.
pub(crate) fn drops_name(name: &str) -> bool {
    !matches!(name, "last_over_time" | "first_over_time")
}

fn sum(points: &[Sample]) -> f64 {
    let (s, c) = points
        .iter()
        .fold((0.0, 0.0), |(s, c), p| kahan_add(p.v, s, c));
    if s.is_infinite() {
        s
    } else {
        s + c
    }
}

/// The mean, summed with compensation; if the sum overflows, the mean is
/// computed incrementally instead, as Prometheus does.
fn average(points: &[Sample]) -> f64 {
    let (mut sum, mut c, mut mean) = (0.0, 0.0, 0.0);
    let mut incremental = false;
    let mut count = 0.0;
    for (i, p) in points.iter().enumerate() {
        count = (i + 1) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_add(p.v, sum, c);
            if count == 1.0 || !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        if mean.is_infinite() {
            if p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0) {
                continue;
            }
            if !p.v.is_infinite() && !p.v.is_nan() {
                continue;
            }
        }
        let corrected = mean + c;
        (mean, c) = kahan_add(p.v / count - corrected / count, mean, c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / count
    }
}

/// The smallest value; NaN only if every value is NaN.
fn minimum(points: &[Sample]) -> f64 {
    points.iter().skip(1).fold(
        points[0].v,
        |m, p| {
            if p.v < m || m.is_nan() {
                p.v
            } else {
                m
            }
        },
    )
}

/// The largest value; NaN only if every value is NaN.
fn maximum(points: &[Sample]) -> f64 {
    points.iter().skip(1).fold(
        points[0].v,
        |m, p| {
            if p.v > m || m.is_nan() {
                p.v
            } else {
                m
            }
        },
    )
}

/// A timestamp in milliseconds as seconds.
fn seconds(t_ms: i64) -> f64 {
    t_ms as f64 / 1000.0
}

/// The time of the last point whose value `wins(value, held)` against the
/// value held so far; a NaN held value always loses, so NaN wins only when
/// every value is NaN.
fn last_extreme(points: &[Sample], wins: fn(f64, f64) -> bool) -> i64 {
    let (mut held, mut at) = (points[0].v, points[0].t);
    for p in &points[1..] {
        if wins(p.v, held) || held.is_nan() {
            (held, at) = (p.v, p.t);
        }
    }
    at
}

/// The median of the absolute deviations from the median.
fn median_absolute_deviation(points: &[Sample]) -> f64 {
    let values: Vec<f64> = points.iter().map(|p| p.v).collect();
    let median = quantile(0.5, &values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    quantile(0.5, &deviations)
}

/// The population variance, by Welford's method with compensated sums.
fn variance(points: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        count += 1.0;
        let delta = p.v - (mean + c_mean);
        (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_add(delta * (p.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// How often the value changed; NaN to NaN is no change.
fn changes(points: &[Sample]) -> f64 {
    points
        .windows(2)
        .filter(|w| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan()))
        .count() as f64
}

/// How often the value decreased.
fn resets(points: &[Sample]) -> f64 {
    points.windows(2).filter(|w| w[1].v < w[0].v).count() as f64
}

/// Least-squares slope (per second) and intercept at `intercept_ms` of
/// `points`. A constant series has slope 0, or NaN if it is infinite.
pub(crate) fn linear_regression(points: &[Sample], intercept_ms: i64) -> (f64, f64) {
    let first = points[0].v;
    let constant = points.iter().all(|p| p.v == first);
    if constant {
        return if first.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, first)
        };
    }
    let mut n = 0.0;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for p in points {
        n += 1.0;
        let x = (p.t - intercept_ms) as f64 / 1000.0;
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(p.v, sy, cy);
        (sxy, cxy) = kahan_add(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_add(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let covariance = sxy - sx * sy / n;
    let x_variance = sx2 - sx * sx / n;
    let slope = covariance / x_variance;
    (slope, sy / n - slope * sx / n)
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
    fn simple_aggregations() {
        let p = points(&[1.0, 3.0, 2.0, 2.0, 6.0]);
        assert_eq!(sum(&p), 14.0);
        assert_eq!(average(&p), 2.8);
        assert_eq!(minimum(&p), 1.0);
        assert_eq!(maximum(&p), 6.0);
        assert_eq!(changes(&p), 3.0);
        assert_eq!(resets(&p), 1.0);
        assert!((variance(&points(&[2.0, 4.0])) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn min_and_max_skip_nan() {
        let p = points(&[f64::NAN, 3.0, 1.0]);
        assert_eq!(minimum(&p), 1.0);
        assert_eq!(maximum(&p), 3.0);
    }

    #[test]
    fn average_survives_overflow() {
        let p = points(&[f64::MAX, f64::MAX]);
        assert_eq!(average(&p), f64::MAX);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(0.5, &[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(-1.0, &[1.0]), f64::NEG_INFINITY);
        assert!(quantile(0.5, &[]).is_nan());
    }

    #[test]
    fn median_absolute_deviation_ignores_outliers() {
        // Median 2; deviations 2 4 0 1 997 1 0 → median 1.
        let p = points(&[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0]);
        assert_eq!(median_absolute_deviation(&p), 1.0);
        assert_eq!(median_absolute_deviation(&points(&[5.0])), 0.0);
        assert!(median_absolute_deviation(&points(&[1.0, f64::NAN])).is_nan());
        // As in Prometheus, the median interpolates with an infinite
        // neighbour even at weight 0 (∞·0 is NaN).
        let inf = points(&[1.0, f64::INFINITY, 2.0]);
        assert!(median_absolute_deviation(&inf).is_nan());
        let inf = points(&[1.0, f64::INFINITY, 2.0, 3.0]);
        assert_eq!(median_absolute_deviation(&inf), 1.0);
    }

    #[test]
    fn timestamps_of_extremes_are_the_last_reached() {
        // Points every 10s: 3 1 3 1 2.
        let p = points(&[3.0, 1.0, 3.0, 1.0, 2.0]);
        assert_eq!(last_extreme(&p, |v, held| v >= held), 20_000);
        assert_eq!(last_extreme(&p, |v, held| v <= held), 30_000);
        // NaN is skipped unless everything is NaN, then the last one wins.
        let p = points(&[f64::NAN, 2.0, f64::NAN]);
        assert_eq!(last_extreme(&p, |v, held| v >= held), 10_000);
        let p = points(&[f64::NAN, f64::NAN]);
        assert_eq!(last_extreme(&p, |v, held| v <= held), 10_000);
        let p = points(&[1.0, f64::NEG_INFINITY, 0.0]);
        assert_eq!(last_extreme(&p, |v, held| v <= held), 10_000);
        assert_eq!(seconds(30_159), 30.159);
    }

    #[test]
    fn regression_finds_the_slope() {
        let p = points(&[0.0, 10.0, 20.0]);
        let (slope, intercept) = linear_regression(&p, 0);
        assert!((slope - 1.0).abs() < 1e-12);
        assert!(intercept.abs() < 1e-12);
        assert_eq!(linear_regression(&points(&[5.0, 5.0]), 0), (0.0, 5.0));
    }
}
