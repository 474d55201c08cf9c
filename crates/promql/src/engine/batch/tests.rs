//! The batched path must answer exactly as the step-by-step path: a range
//! query's value at each step equals the instant query at that time
//! evaluated step by step (batching off), and so does a batched instant
//! query, on generated series with gaps, resets, NaNs and staleness markers.

use agentmon_model::{Labels, Sample, STALE_NAN};
use agentmon_tsdb::Series;
use proptest::prelude::*;

use crate::engine::memory_storage::MemoryStorage;
use crate::{Engine, EngineOptions, Query, Value};

const QUERIES: &[&str] = &[
    "rate(m_total[1m])",
    "increase(m_total[90s])",
    "irate(m_total[2m])",
    "delta(m_total[1m])",
    "idelta(m_total[1m] offset 30s)",
    "rate(m_total[1m] @ 120)",
    "avg_over_time(m_total[1m])",
    "sum_over_time(m_total[45s])",
    "count_over_time(m_total[1m])",
    "min_over_time(m_total[1m])",
    "max_over_time(m_total[1m])",
    "last_over_time(m_total[1m])",
    "present_over_time(m_total[1m])",
    "stddev_over_time(m_total[1m])",
    "stdvar_over_time(m_total[1m])",
    "changes(m_total[2m])",
    "first_over_time(m_total[1m])",
    "ts_of_max_over_time(m_total[1m])",
    "mad_over_time(m_total[1m])",
    "resets(m_total[2m])",
    // Not counter-like: the step path must answer (and annotate).
    "rate(gauge[1m])",
    "sum by (k) (rate(m_total[1m]))",
    "avg(rate(m_total[1m]))",
    "min without (k) (increase(m_total[90s]))",
    "max by (__name__) (delta(m_total[1m]))",
    "count(changes(m_total[2m]))",
    "group by (k) (last_over_time(m_total[1m]))",
    "stddev(avg_over_time(m_total[1m]))",
    "stdvar by (k) (irate(m_total[2m]))",
    "sum((rate(m_total[1m] offset 20s)))",
    "count(m_total)",
    "sum by (k) (m_total)",
    "max(m_total offset 30s)",
    "avg without (k) ({k=~\"a|b\"})",
    // Counter-like and not: the stream meets `gauge` and must give way.
    "sum(rate({k=\"a\"}[1m]))",
    "sum by (k) (rate({__name__=~\"m_total|gauge\"}[1m]))",
];

/// A sample value: mostly increasing counters with occasional resets,
/// NaNs and staleness markers.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        20 => (0u32..50).prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(STALE_NAN),
    ]
}

fn series_strategy() -> impl Strategy<Value = Vec<Series>> {
    let one = |name: &'static str, k: &'static str| {
        prop::collection::vec((1i64..40, value()), 0..30).prop_map(move |steps| {
            let mut t = 0;
            let mut total = 0.0;
            let samples = steps
                .into_iter()
                .map(|(gap, v)| {
                    t += gap * 1000;
                    total = if v.to_bits() == STALE_NAN.to_bits() || v.is_nan() {
                        return Sample::new(t, v);
                    } else if v < 3.0 {
                        v
                    } else {
                        total + v
                    };
                    Sample::new(t, total)
                })
                .collect();
            Series {
                labels: Labels::new([("__name__", name), ("k", k)]).unwrap(),
                samples,
            }
        })
    };
    (one("m_total", "a"), one("m_total", "b"), one("gauge", "a"))
        // Sorted by labels, as the `Storage` contract asks.
        .prop_map(|(a, b, c)| vec![c, a, b])
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn range_steps_equal_instant_queries(data in series_strategy(), step in 5i64..40) {
        let storage = MemoryStorage::new(data);
        let engine = Engine::default();
        let reference = Engine::new(EngineOptions { batch: false, ..EngineOptions::default() });
        let (start, end, step) = (0, 600_000, step * 1000);
        for query in QUERIES {
            let out = engine.query(&storage, &Query::range(query, start, end, step)).unwrap();
            let Value::Matrix(range) = out.value else {
                panic!("range query gives a matrix");
            };
            let mut infos: Vec<String> = Vec::new();
            let mut t = start;
            while t <= end {
                let at = reference.query(&storage, &Query::instant(query, t)).unwrap();
                let batched = engine.query(&storage, &Query::instant(query, t)).unwrap();
                prop_assert_eq!(format!("{:?}", batched.value), format!("{:?}", at.value), "{} at {}: batched instant", query, t);
                for info in at.annotations.infos() {
                    if !infos.contains(info) {
                        infos.push(info.clone());
                    }
                }
                let Value::Vector(instant) = at.value else {
                    panic!("instant query gives a vector");
                };
                for sample in &instant {
                    let series = range.iter().find(|s| s.labels == sample.labels);
                    let point = series.and_then(|s| s.points.iter().find(|p| p.t == t));
                    prop_assert!(
                        point.is_some_and(|p| same(p.v, sample.v)),
                        "{query} at {t}: instant {:?} = {}, range has {:?}", sample.labels, sample.v, point
                    );
                }
                let in_range = range.iter().filter(|s| s.points.iter().any(|p| p.t == t)).count();
                prop_assert_eq!(in_range, instant.len(), "{} at {}: series count", query, t);
                t += step;
            }
            let mut range_infos = out.annotations.infos().to_vec();
            range_infos.sort();
            infos.sort();
            prop_assert_eq!(range_infos, infos, "{}: infos", query);
        }
    }
}

/// A store for the cache tests: `m_total{k}` counters every 15 s.
fn fleet_db(dir: &std::path::Path) -> agentmon_tsdb::Db {
    let options = agentmon_tsdb::Options {
        background_compaction: false,
        ..agentmon_tsdb::Options::default()
    };
    agentmon_tsdb::Db::open(dir, options).unwrap()
}

fn append(db: &agentmon_tsdb::Db, k: &str, steps: std::ops::Range<i64>, slope: f64) {
    let mut batch = agentmon_model::SeriesBatch::new();
    let labels = [
        agentmon_model::LabelRef::new("__name__", "m_total"),
        agentmon_model::LabelRef::new("k", k),
    ];
    let samples: Vec<Sample> = steps
        .map(|i| Sample::new(i * 15_000 + 3, (i as f64 * slope).floor()))
        .collect();
    batch.push_series(&labels, &samples);
    db.append(&batch, &[]).unwrap();
}

#[test]
fn cached_aggregations_follow_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = fleet_db(dir.path());
    append(&db, "a", 0..40, 2.5);
    append(&db, "b", 0..40, 1.5);
    let cached = Engine::default();
    let q = "sum by (k) (rate(m_total[1m])) * 2";
    let check = |start: i64, end: i64| {
        let fresh = Engine::new(EngineOptions {
            rollup_cache_values: 0,
            ..EngineOptions::default()
        });
        let want = fresh.range_query(&db, q, start, end, 15_000).unwrap();
        let got = cached.range_query(&db, q, start, end, 15_000).unwrap();
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "range {start}..{end}"
        );
    };
    let reused = || cached.rollups.lock().unwrap().reused_steps;
    check(0, 900_000);
    assert_eq!(reused(), 0);
    check(0, 900_000);
    assert_eq!(reused(), 61, "a repeated query is answered from the cache");
    // New samples: the steps that see them are recomputed.
    append(&db, "a", 40..80, 2.5);
    append(&db, "b", 40..80, 1.5);
    check(0, 1_200_000);
    // A new series written in the past (a backfill) shows at once.
    append(&db, "c", 0..80, 4.0);
    check(0, 1_200_000);
    // A moved range with the same phase reuses; another phase does not mix.
    let before = reused();
    check(150_000, 1_350_000);
    assert!(reused() > before);
    check(5_000, 905_000);
}
