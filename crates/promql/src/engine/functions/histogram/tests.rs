//! Bucket arithmetic on hand-made histograms, and the functions through the
//! engine.

use agentmon_model::{Labels, Sample};
use agentmon_tsdb::Series;

use super::*;
use crate::storage::Storage;
use crate::value::Value;
use crate::{Engine, Query};

fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(upper_bound, count)| Bucket { upper_bound, count })
        .collect()
}

const INF: f64 = f64::INFINITY;

#[test]
fn quantile_interpolates_inside_the_bucket() {
    // 10 observations up to 1, 20 up to 2, 30 in all.
    let mut b = buckets(&[(2.0, 20.0), (INF, 30.0), (1.0, 10.0)]);
    assert_eq!(bucket_quantile(0.5, &mut b), (1.5, false));
    // The lowest bucket starts at 0 when its bound is positive.
    assert_eq!(bucket_quantile(0.1, &mut b).0, 0.3);
    assert_eq!(bucket_quantile(0.0, &mut b).0, 0.0);
    // A quantile in the +Inf bucket answers the highest finite bound.
    assert_eq!(bucket_quantile(0.9, &mut b).0, 2.0);
    assert_eq!(bucket_quantile(1.0, &mut b).0, 2.0);
}

#[test]
fn quantile_in_a_lowest_bucket_at_or_below_zero_is_its_bound() {
    let mut b = buckets(&[(-1.0, 5.0), (0.0, 8.0), (INF, 10.0)]);
    assert_eq!(bucket_quantile(0.2, &mut b).0, -1.0);
    // Above it, interpolation runs between the bounds as usual.
    assert_eq!(bucket_quantile(0.65, &mut b).0, -0.5);
}

#[test]
fn quantile_edge_cases() {
    let mut good = buckets(&[(1.0, 1.0), (INF, 2.0)]);
    assert_eq!(bucket_quantile(-0.1, &mut good).0, f64::NEG_INFINITY);
    assert_eq!(bucket_quantile(1.1, &mut good).0, INF);
    assert!(bucket_quantile(f64::NAN, &mut good).0.is_nan());
    // Without a +Inf bucket, with only one bucket or without observations
    // there is no answer.
    assert!(
        bucket_quantile(0.5, &mut buckets(&[(1.0, 1.0), (2.0, 2.0)]))
            .0
            .is_nan()
    );
    assert!(bucket_quantile(0.5, &mut buckets(&[(INF, 3.0)])).0.is_nan());
    assert!(
        bucket_quantile(0.5, &mut buckets(&[(1.0, 0.0), (INF, 0.0)]))
            .0
            .is_nan()
    );
    // φ outside [0, 1] wins even over a missing +Inf bucket.
    assert_eq!(bucket_quantile(2.0, &mut buckets(&[(1.0, 1.0)])).0, INF);
}

#[test]
fn equal_bounds_are_added_together() {
    // Two series for le="1" (say, from two sources) count as one bucket.
    let mut b = buckets(&[(1.0, 5.0), (1.0, 5.0), (INF, 20.0)]);
    assert_eq!(bucket_quantile(0.25, &mut b), (0.5, false));
    assert_eq!(b.len(), 2);
}

#[test]
fn falling_counts_are_raised_and_reported() {
    let mut b = buckets(&[(1.0, 10.0), (2.0, 8.0), (3.0, 15.0), (INF, 20.0)]);
    let (q, forced) = bucket_quantile(0.5, &mut b);
    assert!(forced);
    assert_eq!(b[1].count, 10.0);
    assert_eq!(q, 1.0);
    // Floating-point noise is smoothed without a report.
    let mut b = buckets(&[(1.0, 10.0), (2.0, 10.0 - 1e-14), (INF, 20.0)]);
    assert!(!bucket_quantile(0.5, &mut b).1);
    assert_eq!(b[1].count, 10.0);
}

#[test]
fn almost_equal_is_relative_and_absolute_near_zero() {
    assert!(almost_equal(1.0, 1.0 + 1e-13, 1e-12));
    assert!(!almost_equal(1.0, 1.0 + 1e-9, 1e-12));
    assert!(!almost_equal(0.0, 1e-300, 1e-12));
    assert!(almost_equal(f64::NAN, f64::NAN, 1e-12));
}

#[test]
fn fraction_interpolates_between_bounds() {
    let b = buckets(&[(1.0, 10.0), (2.0, 20.0), (INF, 40.0)]);
    assert_eq!(bucket_fraction(0.0, 1.0, &mut b.clone()), 0.25);
    assert_eq!(bucket_fraction(0.5, 1.5, &mut b.clone()), 0.25);
    assert_eq!(bucket_fraction(f64::NEG_INFINITY, 2.0, &mut b.clone()), 0.5);
    // Nothing is interpolated into the +Inf bucket.
    assert_eq!(bucket_fraction(2.0, INF, &mut b.clone()), 0.5);
    assert_eq!(bucket_fraction(5.0, 10.0, &mut b.clone()), 0.0);
    assert_eq!(bucket_fraction(1.5, 1.0, &mut b.clone()), 0.0);
    assert!(bucket_fraction(f64::NAN, 1.0, &mut b.clone()).is_nan());
    assert!(bucket_fraction(0.0, 1.0, &mut buckets(&[(1.0, 1.0)])).is_nan());
    assert!(bucket_fraction(0.0, 1.0, &mut buckets(&[(1.0, 0.0), (INF, 0.0)])).is_nan());
}

#[test]
fn fraction_places_a_bound_in_a_bucket_open_below_at_its_top() {
    // The lowest bound is not positive, so the lowest bucket reaches down
    // to -Inf and nothing can be interpolated inside it.
    let b = buckets(&[(-1.0, 10.0), (1.0, 30.0), (INF, 40.0)]);
    assert_eq!(bucket_fraction(-5.0, 0.0, &mut b.clone()), 0.25);
    assert_eq!(bucket_fraction(-1.0, 0.0, &mut b.clone()), 0.25);
    assert_eq!(bucket_fraction(f64::NEG_INFINITY, 0.0, &mut b.clone()), 0.5);
}

#[test]
fn le_values_parse_as_go_parses_floats() {
    assert_eq!(parse_go_float("+Inf"), Some(INF));
    assert_eq!(parse_go_float("-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(parse_go_float("Infinity"), Some(INF));
    assert_eq!(parse_go_float("0.25"), Some(0.25));
    assert_eq!(parse_go_float("1e3"), Some(1000.0));
    assert!(parse_go_float("NaN").unwrap().is_nan());
    for bad in ["", " 1", "abc", "1e400", "+NaN", "1,5", "inf "] {
        assert_eq!(parse_go_float(bad), None, "{bad:?}");
    }
}

/// A classic histogram `latency_seconds_bucket` for two jobs, plus broken
/// bucket series.
struct Histograms;

impl Storage for Histograms {
    fn select(
        &self,
        matchers: &[agentmon_model::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, String> {
        let mut all = Vec::new();
        let mut add = |pairs: &[(&str, &str)], v: f64| {
            all.push(Series {
                labels: Labels::new(pairs.iter().copied()).unwrap(),
                samples: vec![Sample::new(0, v)],
            })
        };
        for (job, scale) in [("a", 1.0), ("b", 2.0)] {
            for (le, count) in [("0.5", 2.0), ("1", 5.0), ("+Inf", 10.0)] {
                let name = ("__name__", "latency_seconds_bucket");
                add(&[name, ("job", job), ("le", le)], count * scale);
            }
        }
        add(&[("__name__", "broken_bucket"), ("le", "x")], 1.0);
        add(&[("__name__", "broken_bucket"), ("le", "+Inf")], 1.0);
        add(&[("__name__", "falling_bucket"), ("le", "1")], 5.0);
        add(&[("__name__", "falling_bucket"), ("le", "2")], 3.0);
        add(&[("__name__", "falling_bucket"), ("le", "+Inf")], 6.0);
        all.retain(|s| {
            s.samples[0].t >= mint
                && s.samples[0].t <= maxt
                && matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
        });
        Ok(all)
    }
}

fn query(text: &str) -> (Vec<(String, f64)>, Annotations) {
    let out = Engine::default()
        .query(&Histograms, &Query::instant(text, 0))
        .unwrap();
    let Value::Vector(v) = out.value else {
        panic!("not a vector");
    };
    let mut got: Vec<(String, f64)> = v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    (got, out.annotations)
}

#[test]
fn histogram_quantile_groups_by_labels_without_le_and_drops_the_name() {
    let (got, annotations) = query("histogram_quantile(0.5, latency_seconds_bucket)");
    assert_eq!(
        got,
        [
            (r#"{job="a"}"#.to_owned(), 1.0),
            (r#"{job="b"}"#.to_owned(), 1.0)
        ]
    );
    assert!(annotations.is_empty());
    let (got, _) = query("histogram_quantile(0.9, sum by (le) (latency_seconds_bucket))");
    assert_eq!(got, [("{}".to_owned(), 1.0)]);
    let (got, _) = query("histogram_fraction(0, 0.5, latency_seconds_bucket)");
    assert_eq!(got[0], (r#"{job="a"}"#.to_owned(), 0.2));
}

#[test]
fn histogram_quantile_annotations() {
    let (got, annotations) = query("histogram_quantile(1.5, latency_seconds_bucket)");
    assert!(got.iter().all(|(_, v)| *v == INF));
    assert_eq!(
        annotations.warnings(),
        ["PromQL warning: quantile value should be between 0 and 1, got 1.5"]
    );
    let (got, annotations) = query("histogram_quantile(0.5, broken_bucket)");
    assert!(got[0].1.is_nan(), "one bucket left: {got:?}");
    assert_eq!(
        annotations.warnings(),
        [
            r#"PromQL warning: bucket label "le" is missing or has a malformed value of "x" for metric name "broken_bucket""#
        ]
    );
    let (got, annotations) = query("histogram_quantile(0.5, falling_bucket)");
    assert_eq!(got[0].1, 0.6);
    assert_eq!(annotations.infos().len(), 1);
    assert!(annotations.infos()[0].ends_with(r#"for metric name "falling_bucket""#));
    // Once an operator has dropped the name, no name is given.
    let (_, annotations) = query("histogram_quantile(0.5, -broken_bucket)");
    assert_eq!(
        annotations.warnings(),
        [r#"PromQL warning: bucket label "le" is missing or has a malformed value of "x""#]
    );
    // Without `le` at all, the label is reported empty.
    let (got, annotations) = query(
        r#"histogram_quantile(0.5, label_replace(latency_seconds_bucket{le="1"}, "le", "", "le", ".*"))"#,
    );
    assert!(got.is_empty());
    assert_eq!(
        annotations.warnings(),
        [
            r#"PromQL warning: bucket label "le" is missing or has a malformed value of "" for metric name "latency_seconds_bucket""#
        ]
    );
}
