//! Vector and matrix selectors: which samples of which series a selector sees
//! at an evaluation time.
//!
//! Semantics follow Prometheus 3.x: an instant selector at reference time `r`
//! takes each series' latest sample in `(r - lookback, r]`, and a series whose
//! latest sample there is a staleness marker is absent; a range selector
//! `[d]` takes the samples in the left-open window `(r - d, r]`, staleness
//! markers excluded. The reference time is the `@` time (or the evaluation
//! time) minus the `offset`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use agentmon_model::{is_stale_nan, Labels, MatchType, Matcher, Sample, METRIC_NAME_LABEL};
use agentmon_tsdb::Series;
use promql_parser::label::MatchOp;
use promql_parser::parser::{AtModifier, Offset, VectorSelector};

use crate::error::PromqlError;
use crate::storage::{SelectError, Selected, Storage};

/// The storage matchers of a selector: its name (if any) plus its label
/// matchers. `{a="x" or b="y"}` gives several alternative sets.
pub(crate) fn matcher_sets(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, PromqlError> {
    let convert = |m: &promql_parser::label::Matcher| {
        let match_type = match m.op {
            MatchOp::Equal => MatchType::Equal,
            MatchOp::NotEqual => MatchType::NotEqual,
            MatchOp::Re(_) => MatchType::RegexMatch,
            MatchOp::NotRe(_) => MatchType::RegexNoMatch,
        };
        Matcher::new(match_type, m.name.clone(), m.value.clone()).map_err(|e| {
            PromqlError::InvalidMatcher {
                selector: vs.to_string(),
                message: e.to_string(),
            }
        })
    };
    let mut base: Vec<Matcher> = Vec::new();
    if let Some(name) = &vs.name {
        base.push(Matcher::equal(METRIC_NAME_LABEL, name.clone()));
    }
    if vs.matchers.or_matchers.is_empty() {
        let mut set = base;
        for m in &vs.matchers.matchers {
            set.push(convert(m)?);
        }
        return Ok(vec![set]);
    }
    let mut sets = Vec::new();
    for alternative in &vs.matchers.or_matchers {
        let mut set = base.clone();
        for m in alternative {
            set.push(convert(m)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Milliseconds of a signed `offset`.
pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// Milliseconds since the epoch of an `@` time, which may precede the epoch.
fn system_time_ms(time: &SystemTime) -> i64 {
    // Saturating: an `@` far beyond the range of i64 milliseconds sees
    // no data either way.
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The time a selector looks back from when evaluated at `t` in a query
/// spanning `[start, end]`.
pub(crate) fn reference_time(vs: &VectorSelector, t: i64, start: i64, end: i64) -> i64 {
    modified_time(&vs.at, &vs.offset, t, start, end)
}

/// The time `@` and `offset` modifiers (of a selector or a subquery) move
/// step time `t` to, in a query spanning `[start, end]`: `@ start()` and
/// `@ end()` always name the whole query's bounds, even inside subqueries.
pub(crate) fn modified_time(
    at: &Option<AtModifier>,
    offset: &Option<Offset>,
    t: i64,
    start: i64,
    end: i64,
) -> i64 {
    let base = match at {
        None => t,
        Some(AtModifier::Start) => start,
        Some(AtModifier::End) => end,
        Some(AtModifier::At(time)) => system_time_ms(time),
    };
    base.saturating_sub(offset_ms(offset))
}

/// Reads a selector's series once for a whole query: every sample any step
/// can look at, from the earliest window start to the latest reference time.
/// The selector is evaluated at step times within `eval_span` (wider than
/// the query's `[start, end]` inside a subquery); `start` and `end` resolve
/// `@ start()` and `@ end()`.
pub(crate) fn load(
    storage: &dyn Storage,
    vs: &VectorSelector,
    window_ms: i64,
    eval_span: (i64, i64),
    (start, end): (i64, i64),
    max_samples: usize,
) -> Result<Selected, PromqlError> {
    let (mint, maxt) = load_span(vs, window_ms, eval_span, (start, end));
    // Each set's series come sorted and unique; alternatives of an `or`
    // selector may select the same series, kept once.
    let sets = matcher_sets(vs)?;
    let single = sets.len() == 1;
    let mut out: BTreeMap<Labels, Series> = BTreeMap::new();
    for set in sets {
        let found = storage
            .select_shared(&set, mint, maxt, max_samples)
            .map_err(|e| match e {
                SelectError::TooManySamples => PromqlError::TooManySamples {
                    phase: "query execution",
                },
                SelectError::Failed(message) => PromqlError::Storage {
                    selector: vs.to_string(),
                    message,
                },
            })?;
        if single
            && found
                .iter()
                .zip(found.iter().skip(1))
                .all(|((a, _), (b, _))| a < b)
        {
            return Ok(found);
        }
        for series in found.into_owned() {
            out.entry(series.labels.clone()).or_insert(series);
        }
    }
    Ok(Selected::owned(out.into_values().collect()))
}

/// The time span `[mint, maxt]` a selector reads for evaluations at times
/// in `eval_span` of a query spanning `bounds`, through a window of
/// `window_ms` before each reference time.
fn load_span(
    vs: &VectorSelector,
    window_ms: i64,
    eval_span: (i64, i64),
    (start, end): (i64, i64),
) -> (i64, i64) {
    let first = reference_time(vs, eval_span.0, start, end);
    let last = reference_time(vs, eval_span.1, start, end);
    (first.min(last).saturating_sub(window_ms), first.max(last))
}

/// Calls `f` with each series [`load`] would return, in the same order,
/// straight from storage without keeping them, until `f` returns `false`.
/// Answers `false` without calling `f` for a selector with `or`
/// alternatives, whose series must be merged first.
pub(crate) fn stream(
    storage: &dyn Storage,
    vs: &VectorSelector,
    window_ms: i64,
    eval_span: (i64, i64),
    bounds: (i64, i64),
    f: &mut dyn FnMut(&Labels, &[Sample]) -> bool,
) -> Result<bool, PromqlError> {
    let mut sets = matcher_sets(vs)?;
    let (Some(set), true) = (sets.pop(), sets.is_empty()) else {
        return Ok(false);
    };
    let (mint, maxt) = load_span(vs, window_ms, eval_span, bounds);
    storage
        .select_each(&set, mint, maxt, f)
        .map_err(|message| PromqlError::Storage {
            selector: vs.to_string(),
            message,
        })?;
    Ok(true)
}

/// The samples of a time-sorted list that lie in `(from, to]`.
pub(crate) fn window(samples: &[Sample], from: i64, to: i64) -> &[Sample] {
    let lo = samples.partition_point(|s| s.t <= from);
    let hi = samples.partition_point(|s| s.t <= to);
    &samples[lo..hi.max(lo)]
}

/// The value an instant selector sees for one series at reference time `r`:
/// the latest sample in `(r - lookback, r]`, unless it is a staleness marker.
pub(crate) fn instant_value(samples: &[Sample], r: i64, lookback_ms: i64) -> Option<f64> {
    let last = window(samples, r.saturating_sub(lookback_ms), r).last()?;
    (!is_stale_nan(last.v)).then_some(last.v)
}

/// The points a range selector sees for one series: `(r - range, r]`
/// without staleness markers.
pub(crate) fn range_points(samples: &[Sample], r: i64, range: Duration) -> Vec<Sample> {
    let range_ms = i64::try_from(range.as_millis()).unwrap_or(i64::MAX);
    window(samples, r.saturating_sub(range_ms), r)
        .iter()
        .filter(|s| !is_stale_nan(s.v))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Sample> {
        vec![
            Sample::new(0, 1.0),
            Sample::new(60_000, 2.0),
            Sample::new(120_000, agentmon_model::STALE_NAN),
        ]
    }

    #[test]
    fn windows_are_left_open() {
        let s = samples();
        assert_eq!(window(&s, 0, 60_000), &s[1..2]);
        assert_eq!(window(&s, -1, 60_000), &s[0..2]);
        assert!(window(&s, 60_000, 60_000).is_empty());
    }

    #[test]
    fn stale_marker_hides_the_series() {
        let s = samples();
        assert_eq!(instant_value(&s, 119_999, 300_000), Some(2.0));
        assert_eq!(instant_value(&s, 120_000, 300_000), None);
        assert_eq!(instant_value(&s, 360_000, 300_000), None);
        assert_eq!(range_points(&s, 120_000, Duration::from_secs(120)).len(), 1);
    }
}
