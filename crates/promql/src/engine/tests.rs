//! Evaluator tests on small hand-made data held in memory.

use agentmon_model::{Labels, Sample, STALE_NAN};
use agentmon_tsdb::Series;

use super::memory_storage::MemoryStorage;
use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn series(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
    Series {
        labels: labels(pairs),
        samples: points.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    }
}

const MIN: i64 = 60_000;

/// `up{job="a"}` 1 at 0m, 2 at 1m, stale at 2m; `up{job="b"}` 10 and
/// `down{job="b"}` 5 at 0m.
/// `load{job="a",instance="x"}` 3 and `load{job="b",instance="y"}` 4 at 0m.
fn storage() -> MemoryStorage {
    MemoryStorage::new(vec![
        series(
            &[("__name__", "up"), ("job", "a")],
            &[(0, 1.0), (MIN, 2.0), (2 * MIN, STALE_NAN)],
        ),
        series(&[("__name__", "up"), ("job", "b")], &[(0, 10.0)]),
        series(&[("__name__", "down"), ("job", "b")], &[(0, 5.0)]),
        series(
            &[("__name__", "load"), ("job", "a"), ("instance", "x")],
            &[(0, 3.0)],
        ),
        series(
            &[("__name__", "load"), ("job", "b"), ("instance", "y")],
            &[(0, 4.0)],
        ),
    ])
}

/// An instant query's vector as (labels, value), sorted by labels.
fn instant(query: &str, t: i64) -> Vec<(Labels, f64)> {
    match Engine::default().instant_query(&storage(), query, t) {
        Ok(Value::Vector(v)) => {
            let mut out: Vec<_> = v.into_iter().map(|s| (s.labels, s.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("{query}: expected a vector, got {other:?}"),
    }
}

fn values(query: &str, t: i64) -> Vec<f64> {
    instant(query, t).into_iter().map(|(_, v)| v).collect()
}

#[test]
fn lookback_takes_the_latest_sample_within_five_minutes() {
    assert_eq!(values("up", 30_000), vec![1.0, 10.0]);
    assert_eq!(values("up", 90_000), vec![2.0, 10.0]);
    // 10 at 0m is still seen at 4m59.999s but not at exactly 5m.
    assert_eq!(values(r#"up{job="b"}"#, 5 * MIN - 1), vec![10.0]);
    assert!(values(r#"up{job="b"}"#, 5 * MIN).is_empty());
}

#[test]
fn stale_marker_ends_the_series() {
    assert_eq!(values(r#"up{job="a"}"#, 2 * MIN - 1), vec![2.0]);
    assert!(values(r#"up{job="a"}"#, 2 * MIN).is_empty());
    assert!(values(r#"up{job="a"}"#, 3 * MIN).is_empty());
}

#[test]
fn offset_and_at_move_the_reference_time() {
    assert_eq!(values(r#"up{job="a"} offset 1m"#, 2 * MIN), vec![2.0]);
    assert_eq!(values(r#"up{job="a"} @ 30"#, 10 * MIN), vec![1.0]);
    assert_eq!(values(r#"up{job="a"} @ 90 offset 1m"#, 10 * MIN), vec![1.0]);
    assert_eq!(values(r#"up{job="a"} offset -1m"#, 0), vec![2.0]);
    // `@ end()` in a range query reads at the last step for every step.
    let got = Engine::default()
        .range_query(&storage(), r#"up{job="a"} @ end()"#, 0, MIN, MIN)
        .unwrap();
    let Value::Matrix(m) = got else {
        panic!("range queries return matrices")
    };
    assert_eq!(
        m[0].points,
        vec![Sample::new(0, 2.0), Sample::new(MIN, 2.0)]
    );
}

#[test]
fn range_windows_are_left_open_and_skip_stale_markers() {
    let matrix = |query: &str, t: i64| match Engine::default().instant_query(&storage(), query, t) {
        Ok(Value::Matrix(m)) => m,
        other => panic!("expected a matrix, got {other:?}"),
    };
    let m = matrix(r#"up{job="a"}[1m]"#, MIN);
    assert_eq!(m[0].points, vec![Sample::new(MIN, 2.0)]);
    let m = matrix(r#"up{job="a"}[5m]"#, 2 * MIN);
    assert_eq!(
        m[0].points,
        vec![Sample::new(0, 1.0), Sample::new(MIN, 2.0)]
    );
    assert_eq!(m[0].labels.metric_name(), Some("up"));
}

#[test]
fn arithmetic_drops_the_name_and_comparisons_keep_it() {
    let got = instant(r#"up{job="b"} * 2"#, 0);
    assert_eq!(got, vec![(labels(&[("job", "b")]), 20.0)]);
    let got = instant("up > 5", 0);
    assert_eq!(
        got,
        vec![(labels(&[("__name__", "up"), ("job", "b")]), 10.0)]
    );
    let got = instant("up > bool 5", 0);
    assert_eq!(
        got,
        vec![
            (labels(&[("job", "a")]), 0.0),
            (labels(&[("job", "b")]), 1.0)
        ]
    );
    // A comparison keeps the vector's value even with the scalar on the left.
    assert_eq!(values("5 < up", 0), vec![10.0]);
    assert_eq!(values("-up", 0), vec![-1.0, -10.0]);
}

#[test]
fn scalars_combine_with_scalars() {
    let scalar = |q: &str| match Engine::default().instant_query(&storage(), q, 0) {
        Ok(Value::Scalar { v, .. }) => v,
        other => panic!("{q}: {other:?}"),
    };
    assert_eq!(scalar("2 ^ 3 * 2"), 16.0);
    assert_eq!(scalar("-7 % 3"), -1.0);
    assert_eq!(scalar("1 < bool 2"), 1.0);
    assert!(scalar("0 / 0").is_nan());
}

#[test]
fn one_to_one_matching_with_on_and_ignoring() {
    let got = instant("up + on(job) load", 0);
    assert_eq!(
        got,
        vec![
            (labels(&[("job", "a")]), 4.0),
            (labels(&[("job", "b")]), 14.0)
        ]
    );
    // One-to-one results lose the ignored labels.
    let got = instant("load - ignoring(instance) up", 0);
    assert_eq!(
        got,
        vec![
            (labels(&[("job", "a")]), 2.0),
            (labels(&[("job", "b")]), -6.0),
        ]
    );
    // Without on/ignoring, the instance label keeps the sides apart.
    assert!(instant("up + load", 0).is_empty());
}

#[test]
fn duplicate_match_groups_are_errors() {
    let err = Engine::default()
        .instant_query(&storage(), "load + on() up", 0)
        .unwrap_err();
    assert!(
        matches!(err, PromqlError::DuplicateMatchGroup { side: "right", .. }),
        "{err}"
    );
    let err = Engine::default()
        .instant_query(&storage(), r#"up + on() load{job="a"}"#, 0)
        .unwrap_err();
    assert_eq!(err, PromqlError::ManyToOneNotExplicit);
    // Dropping the name leaves `up{job="b"}` and `down{job="b"}` equal.
    let err = Engine::default()
        .instant_query(&storage(), r#"-{job="b", instance=""}"#, 0)
        .unwrap_err();
    assert_eq!(err, PromqlError::DuplicateLabelset);
}

#[test]
fn set_operators_match_on_labels_without_the_name() {
    let names = |q: &str| -> Vec<String> {
        instant(q, 0)
            .into_iter()
            .map(|(l, _)| l.to_string())
            .collect()
    };
    assert_eq!(
        names(r#"up and on(job) load{job="a"}"#),
        vec![r#"up{job="a"}"#]
    );
    assert_eq!(
        names(r#"up unless on(job) load{job="a"}"#),
        vec![r#"up{job="b"}"#]
    );
    assert_eq!(
        names(r#"up{job="a"} or load"#),
        vec![
            r#"load{instance="x", job="a"}"#,
            r#"load{instance="y", job="b"}"#,
            r#"up{job="a"}"#
        ]
    );
    assert_eq!(
        names(r#"up{job="a"} or ignoring(instance) load"#),
        vec![r#"load{instance="y", job="b"}"#, r#"up{job="a"}"#]
    );
}

#[test]
fn range_queries_return_series_of_points() {
    let got = Engine::default()
        .range_query(&storage(), r#"up{job="a"}"#, 0, 3 * MIN, MIN)
        .unwrap();
    let Value::Matrix(m) = got else {
        panic!("range queries return matrices")
    };
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].points,
        vec![Sample::new(0, 1.0), Sample::new(MIN, 2.0)]
    );
    let got = Engine::default()
        .range_query(&storage(), "1 + 1", 0, MIN, MIN)
        .unwrap();
    assert_eq!(
        got,
        Value::Matrix(vec![RangeSeries {
            labels: Labels::default(),
            points: vec![Sample::new(0, 2.0), Sample::new(MIN, 2.0)],
        }])
    );
    assert!(Engine::default()
        .range_query(&storage(), r#""text""#, 0, MIN, MIN)
        .is_err());
}

#[test]
fn unimplemented_features_are_errors_not_answers() {
    let err = Engine::default()
        .instant_query(&storage(), "info(up)", 0)
        .unwrap_err();
    assert_eq!(err.to_string(), "not implemented yet: function info");
}

#[test]
fn a_query_over_its_sample_limit_fails_with_too_many_samples() {
    let engine = Engine::new(EngineOptions {
        max_samples: 5,
        ..EngineOptions::default()
    });
    // `up` at 1m reads 3 samples and returns 2: within the limit.
    assert!(engine.instant_query(&storage(), "up", MIN).is_ok());
    // Adding `down` reads 1 more and the result holds 2.
    let err = engine
        .instant_query(&storage(), "up + on() group_left down", MIN)
        .unwrap_err();
    assert_eq!(
        err,
        PromqlError::TooManySamples {
            phase: "query execution"
        }
    );
    // A range query's output counts too: 1 series x 6 steps.
    let err = engine
        .range_query(&storage(), "vector(1)", 0, 5 * MIN, MIN)
        .unwrap_err();
    assert!(matches!(err, PromqlError::TooManySamples { .. }), "{err}");
}

#[test]
fn a_canceled_query_stops() {
    let cancel = Arc::new(AtomicBool::new(true));
    let query = Query {
        cancel: Some(cancel),
        ..Query::range("up", 0, 10 * MIN, MIN)
    };
    let err = Engine::default().query(&storage(), &query).unwrap_err();
    assert!(matches!(err, PromqlError::Canceled { .. }), "{err}");
}

#[test]
fn a_query_past_its_deadline_times_out() {
    let query = Query {
        timeout: Some(Duration::ZERO),
        ..Query::range("up", 0, 10 * MIN, MIN)
    };
    let err = Engine::default().query(&storage(), &query).unwrap_err();
    assert_eq!(err.to_string(), "query timed out in expression evaluation");
}

#[test]
fn the_engine_timeout_caps_a_query_timeout() {
    let engine = Engine::new(EngineOptions {
        timeout: Duration::ZERO,
        ..EngineOptions::default()
    });
    let query = Query {
        timeout: Some(Duration::from_secs(3600)),
        ..Query::instant("up", MIN)
    };
    let err = engine.query(&storage(), &query).unwrap_err();
    assert!(matches!(err, PromqlError::Timeout { .. }), "{err}");
}

#[test]
fn query_output_counts_samples() {
    let out = Engine::default()
        .query(&storage(), &Query::instant("up", MIN))
        .unwrap();
    // 2 samples read for up{job="a"} and 1 for up{job="b"}, 2 in the result.
    assert_eq!(out.samples, 5);
    assert!(out.annotations.is_empty());
}
