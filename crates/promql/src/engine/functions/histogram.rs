//! `histogram_quantile` and `histogram_fraction` over classic histograms:
//! series with an `le` label holding cumulative bucket counts.
//!
//! The input vector is grouped by its labels without `le` (and without a
//! name whose drop is pending); each group is one histogram, and its output
//! carries the group's labels with the name marked for removal. A sample
//! whose `le` is missing or is not a float (Go's `strconv.ParseFloat`
//! syntax, `+Inf` included; hexadecimal floats are not accepted here) is
//! left out with a warning. A histogram needs a `+Inf` bucket, otherwise the
//! answer is NaN; buckets with the same bound are added together.
//!
//! `histogram_quantile(φ, v)` interpolates linearly inside the bucket the
//! φ-quantile falls in. The lowest bucket starts at 0 if its upper bound is
//! positive (else its bound is the answer); a quantile in the `+Inf` bucket
//! answers the highest finite bound. φ below 0 gives -Inf and above 1 +Inf,
//! both with a warning (NaN gives NaN, also warned). Counts that fall from
//! one bucket to the next are raised to the previous count — with an info,
//! unless the difference is within floating-point noise (relative 1e-12).
//!
//! `histogram_fraction(lower, upper, v)` estimates the share of
//! observations between the bounds by the same linear interpolation.
//!
//! Native histograms are not stored by this engine, so the functions that
//! read only them (`histogram_count`, `histogram_sum`, `histogram_avg`,
//! `histogram_stddev`, `histogram_stdvar`) ignore float samples as
//! Prometheus does and answer an empty vector.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile>
//! and Prometheus 3.5's `promql/quantile.go` (`BucketQuantile`,
//! `BucketFraction`).

use std::collections::HashMap;

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};
use promql_parser::parser::Call;

use super::CallContext;
use crate::annotations::{self, Annotations};
use crate::engine::eval::{Element, EvalValue};
use crate::error::PromqlError;

/// The bucket label of classic histograms.
const BUCKET_LABEL: &str = "le";

/// Differences between neighbouring bucket counts below this share of their
/// magnitude are floating-point noise, not lost monotonicity.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    match name {
        "histogram_quantile" => {
            let q = ctx.scalar_arg(call, 0)?;
            let input = ctx.vector_arg(call, 1)?;
            let annotations = &mut ctx.evaluator.annotations;
            if !(0.0..=1.0).contains(&q) {
                annotations.warn(annotations::invalid_quantile(q));
            }
            let mut out = Vec::new();
            for mut histogram in classic_histograms(input, annotations) {
                let (v, forced_monotonic) = bucket_quantile(q, &mut histogram.buckets);
                if forced_monotonic {
                    annotations.info(annotations::forced_monotonicity(&histogram.metric_name));
                }
                out.push(histogram.answer(v));
            }
            Ok(Some(EvalValue::Vector(out)))
        }
        "histogram_fraction" => {
            let lower = ctx.scalar_arg(call, 0)?;
            let upper = ctx.scalar_arg(call, 1)?;
            let input = ctx.vector_arg(call, 2)?;
            let histograms = classic_histograms(input, &mut ctx.evaluator.annotations);
            let out = histograms
                .into_iter()
                .map(|mut h| {
                    let v = bucket_fraction(lower, upper, &mut h.buckets);
                    h.answer(v)
                })
                .collect();
            Ok(Some(EvalValue::Vector(out)))
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            ctx.vector_arg(call, 0)?;
            Ok(Some(EvalValue::Vector(Vec::new())))
        }
        _ => Ok(None),
    }
}

/// One bucket: its upper bound and the count of observations up to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// The buckets of one group of the input.
struct ClassicHistogram {
    /// The group's labels: the first member's without `le`.
    labels: Labels,
    /// The name annotations mention ("" once its drop is pending).
    metric_name: String,
    buckets: Vec<Bucket>,
}

impl ClassicHistogram {
    fn answer(self, v: f64) -> Element {
        Element {
            labels: self.labels,
            v,
            drop_name: true,
        }
    }
}

/// Groups the input into histograms, in order of first appearance, warning
/// about and leaving out samples without a usable `le`.
fn classic_histograms(input: Vec<Element>, annotations: &mut Annotations) -> Vec<ClassicHistogram> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut histograms: Vec<ClassicHistogram> = Vec::new();
    for elem in input {
        let metric_name = match elem.labels.metric_name() {
            Some(name) if !elem.drop_name => name,
            _ => "",
        };
        let le = elem.labels.get(BUCKET_LABEL).unwrap_or("");
        let Some(upper_bound) = parse_go_float(le) else {
            annotations.warn(annotations::bad_bucket_label(metric_name, le));
            continue;
        };
        let key = without(&elem.labels, |name| {
            name == BUCKET_LABEL || (elem.drop_name && name == METRIC_NAME_LABEL)
        });
        let at = *index.entry(key).or_insert_with(|| {
            histograms.push(ClassicHistogram {
                labels: without(&elem.labels, |name| name == BUCKET_LABEL),
                metric_name: metric_name.to_owned(),
                buckets: Vec::new(),
            });
            histograms.len() - 1
        });
        histograms[at].buckets.push(Bucket {
            upper_bound,
            count: elem.v,
        });
    }
    histograms
}

fn without(labels: &Labels, dropped: impl Fn(&str) -> bool) -> Labels {
    let kept: Vec<Label> = labels
        .iter()
        .filter(|l| !dropped(&l.name))
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(kept)
}

/// A float in the syntax Go's `strconv.ParseFloat` accepts (decimal forms,
/// `Inf`/`Infinity`/`NaN` in any case, a sign except before NaN); None for
/// anything else, including values out of the float range.
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let is_word = |w: &str| unsigned.eq_ignore_ascii_case(w);
    if is_word("nan") {
        return (unsigned.len() == text.len()).then_some(f64::NAN);
    }
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() && !is_word("inf") && !is_word("infinity") {
        return None;
    }
    Some(v)
}

/// Sorts by upper bound and adds up the counts of equal bounds.
fn sorted_and_coalesced(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    buckets.dedup_by(|later, kept| {
        let same = later.upper_bound == kept.upper_bound;
        if same {
            kept.count += later.count;
        }
        same
    });
}

fn ends_with_infinity(buckets: &[Bucket]) -> bool {
    buckets
        .last()
        .is_some_and(|b| b.upper_bound == f64::INFINITY)
}

/// The φ-quantile of the buckets and whether their counts had to be made
/// monotonic.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    sorted_and_coalesced(buckets);
    if !ends_with_infinity(buckets) {
        return (f64::NAN, false);
    }
    let forced = make_monotonic(buckets);
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if n < 2 || observations == 0.0 {
        return (f64::NAN, forced);
    }
    let rank = q * observations;
    // The first finite bucket holding the rank; the +Inf bucket if none.
    let b = buckets[..n - 1].partition_point(|bucket| bucket.count < rank);
    if b == n - 1 {
        return (buckets[n - 2].upper_bound, forced);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, forced);
    }
    let (start, below) = if b == 0 {
        (0.0, 0.0)
    } else {
        (buckets[b - 1].upper_bound, buckets[b - 1].count)
    };
    let end = buckets[b].upper_bound;
    let in_bucket = buckets[b].count - below;
    (start + (end - start) * ((rank - below) / in_bucket), forced)
}

/// Raises every count that falls below the one before it, and smooths
/// differences within floating-point noise either way. True if a real
/// decrease was removed.
fn make_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let mut previous = buckets[0].count;
    for bucket in &mut buckets[1..] {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) {
            bucket.count = previous;
            continue;
        }
        if current < previous {
            bucket.count = previous;
            forced = true;
            continue;
        }
        previous = current;
    }
    forced
}

/// Whether `a` and `b` differ by less than `epsilon` relative to their
/// magnitude (absolutely, near zero), as Prometheus's `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let sum = a.abs() + b.abs();
    let difference = (a - b).abs();
    if a == 0.0 || b == 0.0 || sum < f64::MIN_POSITIVE {
        return difference < epsilon * f64::MIN_POSITIVE;
    }
    difference / sum.min(f64::MAX) < epsilon
}

/// The share of observations between `lower` and `upper`, interpolating
/// linearly inside the buckets the bounds fall in.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    sorted_and_coalesced(buckets);
    if !ends_with_infinity(buckets) {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let mut below = 0.0; // cumulative count before the current bucket
    let (mut lower_rank, mut upper_rank) = (None, None);
    let mut bucket_start = if buckets[0].upper_bound > 0.0 {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    for bucket in buckets.iter() {
        let end = bucket.upper_bound;
        // The cumulative count at `v` inside this bucket. Nothing can be
        // interpolated in a bucket reaching down to -Inf: it counts whole.
        let rank_at = |v: f64| {
            if bucket_start == f64::NEG_INFINITY {
                bucket.count
            } else {
                below + (bucket.count - below) * (v - bucket_start) / (end - bucket_start)
            }
        };
        if lower_rank.is_none() && bucket_start >= lower {
            lower_rank = Some(below);
        }
        if upper_rank.is_none() && bucket_start >= upper {
            upper_rank = Some(below);
        }
        if lower_rank.is_none() && bucket_start < lower && end > lower {
            lower_rank = Some(rank_at(lower));
        }
        if upper_rank.is_none() && bucket_start < upper && end > upper {
            upper_rank = Some(rank_at(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        below = bucket.count;
        bucket_start = end;
    }
    let clamp = |rank: Option<f64>| rank.map_or(total, |r| r.min(total));
    (clamp(upper_rank) - clamp(lower_rank)) / total
}

#[cfg(test)]
mod tests;
