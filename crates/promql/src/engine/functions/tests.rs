//! End-to-end checks of the function dispatcher through the engine.

use agentmon_model::{Labels, Sample};
use agentmon_tsdb::Series;

use crate::error::PromqlError;
use crate::storage::Storage;
use crate::value::Value;
use crate::Engine;

/// Two counters sampled every 10 seconds.
struct Counters;

impl Storage for Counters {
    fn select(
        &self,
        matchers: &[agentmon_model::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, String> {
        let all = [("a", 1.0), ("b", 2.0)].map(|(job, slope)| Series {
            labels: Labels::new([("__name__", "requests_total"), ("job", job)]).unwrap(),
            samples: (0..=30)
                .map(|i| Sample::new(i * 10_000, slope * i as f64))
                .filter(|s| s.t >= mint && s.t <= maxt)
                .collect(),
        });
        Ok(all
            .into_iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
            })
            .collect())
    }
}

fn instant(query: &str) -> Result<Value, PromqlError> {
    Engine::default().instant_query(&Counters, query, 300_000)
}

fn values(value: Value) -> Vec<(String, f64)> {
    match value {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn rate_drops_the_name_and_divides_by_the_range() {
    let got = values(instant("rate(requests_total[1m])").unwrap());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, r#"{job="a"}"#);
    assert!((got[0].1 - 0.1).abs() < 1e-9, "{got:?}");
    assert!((got[1].1 - 0.2).abs() < 1e-9, "{got:?}");
}

#[test]
fn last_over_time_keeps_the_name() {
    let got = values(instant(r#"last_over_time(requests_total{job="b"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"requests_total{job="b"}"#.to_owned(), 60.0)]);
}

#[test]
fn scalar_time_and_absent() {
    assert_eq!(
        instant("time()").unwrap(),
        Value::Scalar {
            t: 300_000,
            v: 300.0
        }
    );
    let got = values(instant(r#"absent(nope{job="x"})"#).unwrap());
    assert_eq!(got, vec![(r#"{job="x"}"#.to_owned(), 1.0)]);
    assert!(values(instant("absent(requests_total)").unwrap()).is_empty());
}

#[test]
fn unknown_functions_stay_unimplemented() {
    let err = instant("info(requests_total)").unwrap_err();
    assert!(matches!(err, PromqlError::NotImplemented { .. }), "{err}");
}

#[test]
fn timestamp_of_a_selector_is_the_sample_time() {
    // At 305s the latest sample is the one at 300s; an expression's
    // timestamp is the evaluation time.
    let engine = Engine::default();
    let got = engine
        .instant_query(&Counters, r#"timestamp(requests_total{job="a"})"#, 305_000)
        .unwrap();
    assert_eq!(values(got), vec![(r#"{job="a"}"#.to_owned(), 300.0)]);
    let got = engine
        .instant_query(
            &Counters,
            r#"timestamp(requests_total{job="a"} * 2)"#,
            305_000,
        )
        .unwrap();
    assert_eq!(values(got), vec![(r#"{job="a"}"#.to_owned(), 305.0)]);
}

#[test]
fn label_rewrites_that_collide_fail() {
    let err = instant(r#"label_replace(requests_total, "job", "", "job", ".*")"#).unwrap_err();
    assert_eq!(err, PromqlError::DuplicateLabelset);
    let got = values(instant(r#"label_join(requests_total, "both", "-", "job", "job")"#).unwrap());
    assert_eq!(got[0].0, r#"requests_total{both="a-a", job="a"}"#);
}

#[test]
fn sort_desc_keeps_the_name_and_orders_by_value() {
    let got = values(instant("sort_desc(requests_total)").unwrap());
    assert_eq!(got[0], (r#"requests_total{job="b"}"#.to_owned(), 60.0));
}

/// One series named as given, sampled every 10 seconds: 0, 1, 2, … .
struct Named(&'static str);

impl Storage for Named {
    fn select(
        &self,
        _matchers: &[agentmon_model::Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, String> {
        Ok(vec![Series {
            labels: Labels::new([("__name__", self.0)]).unwrap(),
            samples: (0..=30)
                .map(|i| Sample::new(i * 10_000, i as f64))
                .filter(|s| s.t >= mint && s.t <= maxt)
                .collect(),
        }])
    }
}

fn annotated(storage: &dyn Storage, query: &str) -> crate::QueryOutput {
    Engine::default()
        .query(storage, &crate::Query::instant(query, 300_000))
        .unwrap()
}

#[test]
fn rate_of_a_name_not_like_a_counter_gives_an_info() {
    let out = annotated(&Named("queue_depth"), "rate(queue_depth[1m])");
    assert_eq!(
        out.annotations.infos(),
        [
            r#"PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "queue_depth""#
        ]
    );
    assert!(out.annotations.warnings().is_empty());
    let out = annotated(&Named("queue_depth"), "increase(queue_depth[1m])");
    assert_eq!(out.annotations.infos().len(), 1);
    // Not for counter-like names, nor for irate, delta or other functions.
    for (name, query) in [
        ("jobs_total", "rate(jobs_total[1m])"),
        ("latency_bucket", "increase(latency_bucket[1m])"),
        ("queue_depth", "irate(queue_depth[1m])"),
        ("queue_depth", "delta(queue_depth[1m])"),
        ("queue_depth", "sum_over_time(queue_depth[1m])"),
    ] {
        assert!(
            annotated(&Named(name), query).annotations.is_empty(),
            "{query}"
        );
    }
    // Nor when the window holds too little to give a rate.
    let out = annotated(&Named("queue_depth"), "rate(queue_depth[1m] offset 1h)");
    assert!(out.annotations.is_empty());
}

#[test]
fn quantile_over_time_outside_zero_to_one_warns() {
    let out = annotated(&Named("x"), "quantile_over_time(2, x[1m])");
    assert_eq!(values(out.value), vec![("{}".to_owned(), f64::INFINITY)]);
    assert_eq!(
        out.annotations.warnings(),
        ["PromQL warning: quantile value should be between 0 and 1, got 2"]
    );
    // No series, no warning.
    let out = annotated(&Named("x"), "quantile_over_time(-1, x[1m] offset 1h)");
    assert!(out.annotations.is_empty());
}

#[test]
fn timestamps_over_time_are_seconds_and_drop_the_name() {
    // Values 24..=30 at 240s..=300s in (240s, 300s]: 25..=30.
    let got = values(instant(r#"ts_of_max_over_time(requests_total{job="a"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"{job="a"}"#.to_owned(), 300.0)]);
    let got = values(instant(r#"ts_of_min_over_time(requests_total{job="a"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"{job="a"}"#.to_owned(), 250.0)]);
    let got = values(instant(r#"ts_of_first_over_time(requests_total{job="a"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"{job="a"}"#.to_owned(), 250.0)]);
    let got = values(instant(r#"first_over_time(requests_total{job="b"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"requests_total{job="b"}"#.to_owned(), 50.0)]);
    let got = values(instant(r#"mad_over_time(requests_total{job="a"}[1m])"#).unwrap());
    assert_eq!(got, vec![(r#"{job="a"}"#.to_owned(), 1.5)]);
}

#[test]
fn double_exponential_smoothing_checks_its_factors() {
    let got = values(
        instant(r#"double_exponential_smoothing(requests_total{job="b"}[1m], 0.5, 0.5)"#).unwrap(),
    );
    // A straight line is followed exactly.
    assert_eq!(got.len(), 1);
    assert!((got[0].1 - 60.0).abs() < 1e-9, "{got:?}");
    let err = instant("double_exponential_smoothing(requests_total[1m], 1, 0.5)").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument to double_exponential_smoothing(): invalid smoothing factor. \
         Expected: 0 < sf < 1, got: 1.000000"
    );
    let err = instant("double_exponential_smoothing(requests_total[1m], 0.5, 0)").unwrap_err();
    assert!(err.to_string().contains("invalid trend factor"), "{err}");
    // Without series the factors are not looked at, as in Prometheus.
    assert!(values(instant("double_exponential_smoothing(nope[1m], 2, 2)").unwrap()).is_empty());
}

#[test]
fn native_histogram_functions_ignore_floats() {
    for f in [
        "histogram_count",
        "histogram_sum",
        "histogram_avg",
        "histogram_stddev",
    ] {
        assert!(values(instant(&format!("{f}(requests_total)")).unwrap()).is_empty());
    }
}
