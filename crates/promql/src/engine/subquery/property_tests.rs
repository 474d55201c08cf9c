//! A property of subqueries: a range query over a subquery equals instant
//! queries at each of its steps, on random data (with staleness markers)
//! and random ranges, steps, offsets and query spans. It checks that inner
//! results cached across outer steps are the ones a fresh evaluation gives,
//! and that inner selectors load every sample any step needs.

use std::collections::BTreeMap;

use agentmon_model::{Labels, Sample, STALE_NAN};
use agentmon_tsdb::Series;
use proptest::prelude::*;

use super::tests::{labels, MemoryStorage, SEC};
use crate::engine::Engine;
use crate::value::Value;

/// Subquery shapes the property runs; `{r}`, `{s}`, `{w}` and `{o}` are
/// filled in with durations.
const TEMPLATES: &[&str] = &[
    "max_over_time(m[{r}:{s}])",
    "count_over_time(m[{r}:])",
    "sum_over_time(rate(m[{w}])[{r}:{s}] offset {o})",
    "avg_over_time((sum by (job) (m))[{r}:{s}])",
    "last_over_time((m offset {o})[{r}:{s}])",
    "min_over_time(max_over_time(m[{w}:{s}])[{r}:{s}])",
    "rate(m[{r}:{s}]) * 60",
    "absent_over_time(m{job=\"b\"}[{r}:{s}])",
    "max_over_time(m[{r}:{s}] @ 300)",
];

fn seconds(s: i64) -> String {
    format!("{s}s")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_range_query_over_a_subquery_matches_instant_queries(
        samples in prop::collection::vec((0i64..60, 0u8..2, -5i32..50), 1..60),
        template in 0..TEMPLATES.len(),
        range_s in 1i64..400,
        step_s in 1i64..90,
        window_s in 1i64..200,
        offset_s in -100i64..100,
        start_s in 0i64..600,
        steps in 1i64..25,
        query_step_s in 1i64..60,
    ) {
        // `offset 0s` does not parse, in Prometheus as here: a zero
        // duration is refused.
        let offset_s = if offset_s == 0 { 1 } else { offset_s };
        // Samples every 10s on two series; a value of -5 stands for a
        // staleness marker.
        let mut by_series: BTreeMap<u8, BTreeMap<i64, f64>> = BTreeMap::new();
        for (slot, series, v) in samples {
            let v = if v == -5 { STALE_NAN } else { v as f64 };
            by_series.entry(series).or_default().insert(slot * 10 * SEC, v);
        }
        let storage = MemoryStorage::new(
            by_series
                .into_iter()
                .map(|(series, points)| Series {
                    labels: labels(&[("__name__", "m"), ("job", ["a", "b"][series as usize])]),
                    samples: points.into_iter().map(|(t, v)| Sample::new(t, v)).collect(),
                })
                .collect(),
        );
        let text = TEMPLATES[template]
            .replace("{r}", &seconds(range_s))
            .replace("{s}", &seconds(step_s))
            .replace("{w}", &seconds(window_s))
            .replace("{o}", &seconds(offset_s));
        let engine = Engine::default();
        let (start, step) = (start_s * SEC, query_step_s * SEC);
        let end = start + (steps - 1) * step;
        let instant_at = |t: i64| engine.instant_query(&storage, &text, t).unwrap();
        let mut want: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        let mut t = start;
        while t <= end {
            let Value::Vector(v) = instant_at(t) else { panic!("{text}: not a vector") };
            for s in v {
                want.entry(s.labels).or_default().push(Sample::new(t, s.v));
            }
            t += step;
        }
        let Value::Matrix(got) = engine.range_query(&storage, &text, start, end, step).unwrap() else {
            panic!("range queries return matrices")
        };
        let got: BTreeMap<Labels, Vec<Sample>> =
            got.into_iter().map(|s| (s.labels, s.points)).collect();
        let bits = |m: &BTreeMap<Labels, Vec<Sample>>| -> Vec<(Labels, Vec<(i64, u64)>)> {
            m.iter()
                .map(|(l, ps)| (l.clone(), ps.iter().map(|p| (p.t, p.v.to_bits())).collect()))
                .collect()
        };
        prop_assert_eq!(bits(&got), bits(&want), "{}", text);
    }
}
