//! Subquery tests on small hand-made data held in memory, with answers
//! worked out by hand from Prometheus's documented semantics.

use std::time::Duration;

use agentmon_model::{Labels, Sample, STALE_NAN};
use agentmon_tsdb::Series;

use super::*;
pub(super) use crate::engine::memory_storage::MemoryStorage;
use crate::engine::{Engine, EngineOptions, Query};
use crate::value::{RangeSeries, Value};

pub(super) const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

/// `metric` is `i` at `i` × 10s for i in 0..=100; `twin` is `2i` at the
/// same times up to 100s; `up{job="a"}` is 1 at 0m, 2 at 1m and stale from
/// 2m.
fn storage() -> MemoryStorage {
    MemoryStorage::new(vec![
        Series {
            labels: labels(&[("__name__", "metric")]),
            samples: (0..=100)
                .map(|i| Sample::new(i * 10 * SEC, i as f64))
                .collect(),
        },
        Series {
            labels: labels(&[("__name__", "twin")]),
            samples: (0..=10)
                .map(|i| Sample::new(i * 10 * SEC, 2.0 * i as f64))
                .collect(),
        },
        Series {
            labels: labels(&[("__name__", "up"), ("job", "a")]),
            samples: vec![
                Sample::new(0, 1.0),
                Sample::new(MIN, 2.0),
                Sample::new(2 * MIN, STALE_NAN),
            ],
        },
    ])
}

fn query(engine: &Engine, text: &str, t: i64) -> Value {
    engine
        .instant_query(&storage(), text, t)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The points of an instant query that returns one series.
fn points(text: &str, t: i64) -> Vec<(i64, f64)> {
    match query(&Engine::default(), text, t) {
        Value::Matrix(m) if m.len() == 1 => m[0].points.iter().map(|p| (p.t, p.v)).collect(),
        other => panic!("{text}: expected one series, got {other:?}"),
    }
}

/// The single value of an instant query that returns one element.
fn value(text: &str, t: i64) -> f64 {
    match query(&Engine::default(), text, t) {
        Value::Vector(v) if v.len() == 1 => v[0].v,
        other => panic!("{text}: expected one element, got {other:?}"),
    }
}

#[test]
fn inner_times_are_multiples_of_the_step_in_a_left_open_window() {
    // (−5s, 25s] holds 0s, 10s and 20s.
    assert_eq!(
        points("metric[30s:10s]", 25 * SEC),
        vec![(0, 0.0), (10 * SEC, 1.0), (20 * SEC, 2.0)]
    );
    // (0s, 30s]: 0s is left out.
    assert_eq!(
        points("metric[30s:10s]", 30 * SEC),
        vec![(10 * SEC, 1.0), (20 * SEC, 2.0), (30 * SEC, 3.0)]
    );
    // Multiples of 7s, not of anything relative to the query time; each
    // sees the latest sample at or before it.
    assert_eq!(
        points("metric[30s:7s]", 25 * SEC),
        vec![(0, 0.0), (7 * SEC, 0.0), (14 * SEC, 1.0), (21 * SEC, 2.0)]
    );
}

#[test]
fn the_default_step_is_a_minute_and_configurable() {
    // (20s, 200s] at 1m: 60s, 120s, 180s.
    assert_eq!(
        points("metric[3m:]", 200 * SEC),
        vec![(MIN, 6.0), (2 * MIN, 12.0), (3 * MIN, 18.0)]
    );
    let engine = Engine::new(EngineOptions {
        default_subquery_step: Duration::from_secs(50),
        ..EngineOptions::default()
    });
    let Value::Matrix(m) = query(&engine, "metric[3m:]", 200 * SEC) else {
        panic!("a subquery is a matrix");
    };
    let got: Vec<i64> = m[0].points.iter().map(|p| p.t).collect();
    assert_eq!(got, vec![50 * SEC, 100 * SEC, 150 * SEC, 200 * SEC]);
    // A default step below a millisecond cannot step at all.
    let engine = Engine::new(EngineOptions {
        default_subquery_step: Duration::from_micros(10),
        ..EngineOptions::default()
    });
    let err = engine
        .instant_query(&storage(), "metric[3m:]", 0)
        .unwrap_err();
    assert!(matches!(err, PromqlError::InvalidRange { .. }), "{err}");
}

#[test]
fn offset_moves_the_window() {
    // Reference time 50s − 20s = 30s: (0s, 30s].
    assert_eq!(
        points("metric[30s:10s] offset 20s", 50 * SEC),
        vec![(10 * SEC, 1.0), (20 * SEC, 2.0), (30 * SEC, 3.0)]
    );
    assert_eq!(
        points("metric[20s:10s] offset -10s", 20 * SEC),
        vec![(20 * SEC, 2.0), (30 * SEC, 3.0)]
    );
}

#[test]
fn at_fixes_the_window() {
    assert_eq!(
        points("metric[20s:10s] @ 100", 500 * SEC),
        vec![(90 * SEC, 9.0), (100 * SEC, 10.0)]
    );
    assert_eq!(
        points("metric[20s:10s] @ 100 offset 10s", 500 * SEC),
        vec![(80 * SEC, 8.0), (90 * SEC, 9.0)]
    );
    // `@ end()` and `@ start()` name the query's bounds at every step.
    let engine = Engine::default();
    let range =
        |text: &str| match engine.range_query(&storage(), text, 30 * SEC, 60 * SEC, 30 * SEC) {
            Ok(Value::Matrix(m)) => m,
            other => panic!("{text}: {other:?}"),
        };
    let at_end = range("max_over_time(metric[20s:10s] @ end())");
    assert_eq!(
        at_end[0].points,
        vec![Sample::new(30 * SEC, 6.0), Sample::new(60 * SEC, 6.0)]
    );
    let at_start = range("max_over_time(metric[20s:10s] @ start())");
    assert_eq!(
        at_start[0].points,
        vec![Sample::new(30 * SEC, 3.0), Sample::new(60 * SEC, 3.0)]
    );
}

#[test]
fn inner_selectors_keep_their_own_at_and_offset() {
    // Every inner step reads `metric` at 20s.
    assert_eq!(
        value("sum_over_time((metric @ 20)[30s:10s])", 500 * SEC),
        6.0
    );
    // Inner steps 80s, 90s, 100s read 20s, 30s, 40s.
    assert_eq!(
        value("sum_over_time((metric offset 1m)[30s:10s])", 100 * SEC),
        9.0
    );
}

#[test]
fn inner_selectors_load_the_samples_of_every_inner_step() {
    // Inner steps 80s, 90s and 100s each count one sample in (τ − 10s, τ];
    // the one at 80s lies before the query's own window of (90s, 100s].
    assert_eq!(
        value(
            "sum_over_time(count_over_time(metric[10s])[30s:10s])",
            100 * SEC
        ),
        3.0
    );
    // The same for every step of a range query.
    let got = Engine::default()
        .range_query(
            &storage(),
            "sum_over_time(count_over_time(metric[10s])[30s:10s])",
            100 * SEC,
            120 * SEC,
            10 * SEC,
        )
        .unwrap();
    let Value::Matrix(m) = got else {
        panic!("range queries return matrices")
    };
    assert!(m[0].points.iter().all(|p| p.v == 3.0), "{m:?}");
    assert_eq!(m[0].points.len(), 3);
}

#[test]
fn nested_subqueries() {
    // Outer steps 40s, 50s, 60s; the inner sum at τ adds the values at
    // τ − 10s and τ: 3+4, 4+5, 5+6.
    assert_eq!(
        value(
            "sum_over_time(sum_over_time(metric[20s:10s])[30s:10s])",
            60 * SEC
        ),
        27.0
    );
    // Outer steps 60s, 80s, 100s; the inner minimum at τ is the value at
    // τ − 20s: 4, 6, 8.
    assert_eq!(
        value(
            "max_over_time(min_over_time(metric[30s:10s])[1m:20s])",
            100 * SEC
        ),
        8.0
    );
}

#[test]
fn stale_inner_series_leave_gaps() {
    // Inner steps 1m (2), 2m (stale), 3m (stale): one point.
    assert_eq!(points(r#"up{job="a"}[3m:1m]"#, 3 * MIN), vec![(MIN, 2.0)]);
    assert_eq!(value(r#"count_over_time(up{job="a"}[3m:1m])"#, MIN), 2.0);
}

#[test]
fn range_functions_accept_subqueries() {
    // Points 5..10 at 50s..100s in the window (40s, 100s].
    let t = 100 * SEC;
    assert!((value("rate(metric[1m:10s])", t) - 0.1).abs() < 1e-12);
    assert!((value("increase(metric[1m:10s])", t) - 6.0).abs() < 1e-12);
    assert!((value("deriv(metric[1m:10s])", t) - 0.1).abs() < 1e-12);
    assert_eq!(value("irate(metric[1m:10s])", t), 0.1);
    assert_eq!(value("quantile_over_time(0.5, metric[1m:10s])", t), 7.5);
    assert_eq!(value("changes(metric[1m:10s])", t), 5.0);
    assert_eq!(value("resets(metric[1m:10s])", t), 0.0);
    assert_eq!(value("avg_over_time(metric[1m:10s])", t), 7.5);
    assert_eq!(value("count_over_time(metric[1m:10s])", t), 6.0);
    assert_eq!(value("predict_linear(metric[1m:10s], 10)", t), 11.0);
    // Functions that keep or drop the name do so over subqueries too.
    let Value::Vector(v) = query(&Engine::default(), "last_over_time(metric[1m:10s])", t) else {
        panic!("a vector")
    };
    assert_eq!(v[0].labels, labels(&[("__name__", "metric")]));
    let Value::Vector(v) = query(&Engine::default(), "present_over_time(metric[1m:])", t) else {
        panic!("a vector")
    };
    assert_eq!(v[0].labels, Labels::default());
}

#[test]
fn absent_over_time_of_a_subquery_has_no_labels() {
    // Unlike a selector, a subquery lends no matchers to the result.
    let Value::Vector(v) = query(
        &Engine::default(),
        r#"absent_over_time(nonexistent{job="x"}[1m:])"#,
        MIN,
    ) else {
        panic!("a vector")
    };
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].labels.clone(), v[0].v), (Labels::default(), 1.0));
    let Value::Vector(v) = query(&Engine::default(), "absent_over_time(metric[1m:])", MIN) else {
        panic!("a vector")
    };
    assert!(v.is_empty());
}

#[test]
fn names_marked_for_removal_stay_until_the_query_ends() {
    // `-metric` and `-twin` differ only in their names, which are dropped
    // only at the end: inside the query they are two series.
    let both = r#"-{__name__=~"metric|twin"}"#;
    assert_eq!(
        value(
            &format!("count(sum_over_time(({both})[20s:10s]))"),
            100 * SEC
        ),
        2.0
    );
    let err = Engine::default()
        .instant_query(&storage(), &format!("({both})[20s:10s]"), 100 * SEC)
        .unwrap_err();
    assert_eq!(err, PromqlError::DuplicateLabelset);
    // last_over_time keeps its input's name unless the subquery dropped it.
    let names = |text: &str| match query(&Engine::default(), text, 100 * SEC) {
        Value::Vector(v) => v.into_iter().map(|s| s.labels).collect::<Vec<_>>(),
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(
        names("last_over_time(last_over_time(metric[1m])[1m:10s])"),
        vec![labels(&[("__name__", "metric")])]
    );
    assert_eq!(
        names("last_over_time(abs(metric)[1m:10s])"),
        vec![Labels::default()]
    );
}

#[test]
fn an_instant_subquery_is_a_matrix_with_names_dropped_where_marked() {
    let Value::Matrix(m) = query(&Engine::default(), "(metric * 2)[20s:10s]", 100 * SEC) else {
        panic!("a matrix")
    };
    assert_eq!(
        m,
        vec![RangeSeries {
            labels: Labels::default(),
            points: vec![Sample::new(90 * SEC, 18.0), Sample::new(100 * SEC, 20.0)],
        }]
    );
    // A range query cannot return a range vector.
    let err = Engine::default()
        .range_query(&storage(), "metric[1m:]", 0, MIN, MIN)
        .unwrap_err();
    assert!(
        matches!(err, PromqlError::InvalidRangeQueryType { .. }),
        "{err}"
    );
}

#[test]
fn a_range_query_evaluates_each_inner_step_once() {
    // Outer steps 100s..200s every 10s; their windows cover the inner
    // steps 50s..200s. Held: 21 samples loaded (0s..200s, through the 5m
    // lookback), 16 inner results and 11 outputs. Evaluating each window
    // afresh would hold 6 inner results per outer step instead.
    let out = Engine::default()
        .query(
            &storage(),
            &Query::range(
                "max_over_time(metric[1m:10s])",
                100 * SEC,
                200 * SEC,
                10 * SEC,
            ),
        )
        .unwrap();
    assert_eq!(out.samples, 21 + 16 + 11);
    let Value::Matrix(m) = out.value else {
        panic!("a matrix")
    };
    let want: Vec<Sample> = (10..=20)
        .map(|i| Sample::new(i * 10 * SEC, i as f64))
        .collect();
    assert_eq!(m[0].points, want);
}

#[test]
fn subqueries_count_against_the_sample_limit() {
    let engine = Engine::new(EngineOptions {
        max_samples: 30,
        ..EngineOptions::default()
    });
    // 11 samples loaded plus 10 inner results: within the limit.
    assert!(engine
        .instant_query(&storage(), "max_over_time(metric[100s:10s])", 100 * SEC)
        .is_ok());
    // 21 loaded plus 20 inner results: over it.
    let err = engine
        .instant_query(&storage(), "max_over_time(metric[200s:10s])", 200 * SEC)
        .unwrap_err();
    assert!(matches!(err, PromqlError::TooManySamples { .. }), "{err}");
}

/// An inner "expression" whose value at `t` is `t` itself, under one label.
fn clock(t: i64) -> Result<Vec<Element>, PromqlError> {
    Ok(vec![Element {
        labels: labels(&[("k", "v")]),
        v: t as f64,
        drop_name: false,
    }])
}

#[test]
fn the_step_cache_evaluates_new_times_only_and_forgets_old_ones() {
    let mut cache = StepCache::default();
    let mut evaluated = Vec::new();
    let mut window = |cache: &mut StepCache, first: i64, last: i64| {
        let m = cache
            .window(first, last, 10, |t| {
                evaluated.push(t);
                clock(t)
            })
            .unwrap();
        m[0].points.iter().map(|p| p.t).collect::<Vec<_>>()
    };
    assert_eq!(window(&mut cache, 10, 50), vec![10, 20, 30, 40, 50]);
    assert_eq!(window(&mut cache, 30, 70), vec![30, 40, 50, 60, 70]);
    assert_eq!(cache.points_held(), 5);
    assert_eq!(window(&mut cache, 30, 70), vec![30, 40, 50, 60, 70]);
    // A window that starts right after the held ones reuses nothing but
    // needs no restart either.
    assert_eq!(window(&mut cache, 80, 90), vec![80, 90]);
    assert_eq!(cache.points_held(), 2);
    // Going back in time starts over, and is still right.
    assert_eq!(window(&mut cache, 0, 20), vec![0, 10, 20]);
    assert_eq!(
        evaluated,
        vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 0, 10, 20]
    );
}

#[test]
fn the_step_cache_rejects_duplicate_series_in_one_step() {
    let mut cache = StepCache::default();
    let err = cache
        .window(0, 0, 10, |t| Ok([clock(t)?, clock(t)?].concat()))
        .unwrap_err();
    assert_eq!(err, PromqlError::DuplicateLabelset);
}

#[test]
fn alignment_counts_from_the_epoch_on_both_sides_of_it() {
    assert_eq!(first_step_after(25, 10), 30);
    assert_eq!(first_step_after(30, 10), 40);
    assert_eq!(first_step_after(-5, 10), 0);
    assert_eq!(first_step_after(-10, 10), 0);
    assert_eq!(first_step_after(-15, 10), -10);
    assert_eq!(first_step_after(i64::MAX - 1, 10), i64::MAX);
}

#[test]
fn extreme_times_give_answers_or_errors_not_panics() {
    for q in [
        "max_over_time(metric[5m:1m] offset -292y)",
        "max_over_time(metric[5m:1m] offset 292y)",
        "metric[5m:1m] @ -9223372036854775",
        "rate(metric[5m:1m] @ 9223372036854775)",
        "rate(metric[292y:1y])",
    ] {
        match query(&Engine::default(), q, 100 * SEC) {
            Value::Vector(v) => assert!(v.is_empty(), "{q}: {v:?}"),
            Value::Matrix(m) => assert!(m.is_empty(), "{q}: {m:?}"),
            other => panic!("{q}: {other:?}"),
        }
    }
    // Far too many inner steps: the query's timeout stops the loop.
    let engine = Engine::new(EngineOptions {
        timeout: Duration::from_millis(50),
        ..EngineOptions::default()
    });
    let err = engine
        .instant_query(&storage(), "count_over_time(metric[292y:1ms])", 100 * SEC)
        .unwrap_err();
    assert!(matches!(err, PromqlError::Timeout { .. }), "{err}");
}
