//! `rate`, `increase` and `delta`, which extrapolate a range's change to the
//! window's edges, and `irate` and `idelta`, which look only at the last two
//! samples.
//!
//! `rate` and `increase` of a selected metric whose name does not end in
//! `_total`, `_sum`, `_count` or `_bucket` raise Prometheus's info that the
//! metric might not be a counter (for each such name that gives a result).
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#rate>.

use agentmon_model::Sample;
use promql_parser::parser::Call;

use super::{call_arg, matrix_selector, CallContext, RangeArg};
use crate::annotations;
use crate::engine::eval::EvalValue;
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    let Some(kind) = RateKind::of(name) else {
        return Ok(None);
    };
    let range = ctx.range_arg(call, 0)?;
    // Prometheus looks at names only when the argument is a selector.
    let selected = matrix_selector(call_arg(call, 0)?).is_some();
    let (start, end) = (range.range_start, range.range_end);
    let annotations = &mut ctx.evaluator.annotations;
    Ok(Some(RangeArg::map(range, true, |s| {
        let value = kind.apply(&s.points, start, end)?;
        let name = s.labels.metric_name().unwrap_or("");
        if selected && kind.doubts_counter(name) {
            annotations.info(annotations::possible_non_counter(name));
        }
        Some(value)
    })))
}

/// Whether a metric name has one of the suffixes counters are given.
fn looks_like_counter(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Which of the family a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateKind {
    /// Resets count as restarts from zero (rate, increase, irate).
    counter: bool,
    /// The change is divided by the time it took.
    per_second: bool,
    /// Only the last two samples matter (irate, idelta).
    instant: bool,
}

impl RateKind {
    /// The kind of function `name`, if it is one of the family.
    pub(crate) fn of(name: &str) -> Option<RateKind> {
        let (counter, per_second, instant) = match name {
            "rate" => (true, true, false),
            "increase" => (true, false, false),
            "delta" => (false, false, false),
            "irate" => (true, true, true),
            "idelta" => (false, false, true),
            _ => return None,
        };
        Some(RateKind {
            counter,
            per_second,
            instant,
        })
    }

    /// Whether this function, applied to a selected series named `name`
    /// that has a value, raises Prometheus's "might not be a counter" info:
    /// `rate` and `increase` of a name without a counter's suffix.
    pub(crate) fn doubts_counter(self, name: &str) -> bool {
        self.counter && !self.instant && !name.is_empty() && !looks_like_counter(name)
    }

    /// The function's value for one series' window `(start, end]`.
    pub(crate) fn apply(self, points: &[Sample], start: i64, end: i64) -> Option<f64> {
        self.apply_checked(points, start, end, true)
    }

    /// [`RateKind::apply`] for a window the caller knows to hold no counter
    /// reset (no value below its predecessor), sparing the scan for them.
    pub(crate) fn apply_reset_free(self, points: &[Sample], start: i64, end: i64) -> Option<f64> {
        self.apply_checked(points, start, end, false)
    }

    fn apply_checked(self, points: &[Sample], start: i64, end: i64, scan: bool) -> Option<f64> {
        if self.instant {
            return last_two_change(points, self.per_second);
        }
        let change = extrapolated_change(points, start, end, self.counter, scan)?;
        Some(if self.per_second {
            change / ((end - start) as f64 / 1000.0)
        } else {
            change
        })
    }
}

/// The change over a window `(range_start, range_end]`, extrapolated from
/// the first and last samples towards the window's edges. With
/// `scan_resets` false the caller vouches that no value is below its
/// predecessor, so the scan for counter resets is skipped.
///
/// Extrapolation reaches an edge only if the gap to it is under 1.1 times
/// the average sample interval; otherwise it goes half an interval. For
/// counters, resets add the value before the reset, and the start is not
/// extrapolated past the point where the counter would have been zero.
pub(crate) fn extrapolated_change(
    points: &[Sample],
    range_start: i64,
    range_end: i64,
    counter: bool,
    scan_resets: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut change = last.v - first.v;
    if counter && scan_resets {
        for pair in points.windows(2) {
            if pair[1].v < pair[0].v {
                change += pair[0].v;
            }
        }
    }
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average_interval = sampled / (points.len() - 1) as f64;
    let threshold = average_interval * 1.1;
    let mut to_start = (first.t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.t) as f64 / 1000.0;
    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    if counter && change > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / change);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }
    let factor = (sampled + to_start + to_end) / sampled;
    Some(change * factor)
}

/// The change between the last two samples; per second and reset-aware for
/// `irate`.
fn last_two_change(points: &[Sample], per_second: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (previous, last) = (points[points.len() - 2], points[points.len() - 1]);
    let change = if per_second && last.v < previous.v {
        last.v
    } else {
        last.v - previous.v
    };
    let interval = last.t - previous.t;
    if interval == 0 {
        return None;
    }
    Some(if per_second {
        change / (interval as f64 / 1000.0)
    } else {
        change
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[(i64, f64)]) -> Vec<Sample> {
        values.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn increase_extrapolates_to_the_window_edges() {
        // Samples every 10s from 10s to 50s in (0, 60]: 10s gaps at both ends.
        let p = points(&[
            (10_000, 10.0),
            (20_000, 20.0),
            (30_000, 30.0),
            (40_000, 40.0),
            (50_000, 50.0),
        ]);
        let got = extrapolated_change(&p, 0, 60_000, true, true).unwrap();
        // Start extrapolation stops where the counter would be zero (10s
        // before the first sample, the whole gap): 40 * 60/40.
        assert!((got - 60.0).abs() < 1e-9, "{got}");
    }

    #[test]
    fn counter_resets_add_the_value_before_the_reset() {
        let p = points(&[(0, 5.0), (10_000, 8.0), (20_000, 2.0)]);
        let got = extrapolated_change(&p, 0, 20_000, true, true).unwrap();
        assert!((got - 5.0).abs() < 1e-9, "{got}");
    }

    #[test]
    fn delta_may_be_negative_and_one_sample_gives_nothing() {
        let p = points(&[(0, 5.0), (10_000, 3.0)]);
        assert_eq!(extrapolated_change(&p, 0, 10_000, false, true), Some(-2.0));
        assert_eq!(extrapolated_change(&p[..1], 0, 10_000, false, true), None);
    }

    #[test]
    fn irate_handles_resets() {
        let p = points(&[(0, 5.0), (10_000, 8.0), (20_000, 2.0)]);
        assert_eq!(last_two_change(&p, true), Some(0.2));
        assert_eq!(last_two_change(&p, false), Some(-6.0));
    }
}
