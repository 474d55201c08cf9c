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
