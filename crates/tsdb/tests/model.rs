//! Model-based test of the whole store: random interleavings of appends
//! (including retries, conflicting duplicates and out-of-order samples),
//! flushes, compactions, restarts and queries are run against the real
//! [`Db`] on disk and against a plain in-memory model; every query must
//! return exactly what the model holds.

use std::collections::{BTreeMap, HashMap, HashSet};

use agentmon_model::{LabelRef, Labels, MatchType, Matcher, Sample, SeriesBatch, STALE_NAN};
use agentmon_tsdb::{AppendError, Db, Options};
use proptest::prelude::*;

const SERIES: usize = 6;
const START: i64 = 1_700_000_000_000;
const MINUTE: i64 = 60_000;

fn series_labels(i: usize) -> [(&'static str, String); 2] {
    [
        (
            "__name__",
            if i.is_multiple_of(2) {
                "a".into()
            } else {
                "b".into()
            },
        ),
        ("i", (i / 2).to_string()),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// Samples as (series, minutes relative to the series' newest, value code).
    Append(Vec<(usize, i64, u8)>),
    Flush,
    Compact,
    Restart,
    Query {
        matcher: u8,
        from: i64,
        to: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec((0..SERIES, -3i64..=40, 0u8..6), 1..6).prop_map(Op::Append),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Restart),
        3 => (0u8..5, 0i64..2000, 0i64..2000).prop_map(|(matcher, a, b)| Op::Query { matcher, from: a.min(b), to: a.max(b) }),
    ]
}

fn value(code: u8) -> f64 {
    match code {
        0 => STALE_NAN,
        1 => f64::INFINITY,
        c => c as f64 * 1.5,
    }
}

fn matchers(code: u8) -> Vec<Matcher> {
    match code {
        0 => vec![Matcher::equal("__name__", "a")],
        1 => vec![Matcher::new(MatchType::RegexMatch, "i", "0|1").unwrap()],
        2 => vec![
            Matcher::new(MatchType::NotEqual, "i", "2").unwrap(),
            Matcher::equal("__name__", "b"),
        ],
        3 => vec![Matcher::new(MatchType::RegexNoMatch, "__name__", "a").unwrap()],
        _ => vec![Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap()],
    }
}

/// What the store should hold and know.
#[derive(Default)]
struct Model {
    data: BTreeMap<usize, BTreeMap<i64, u64>>,
    /// Newest (time, bits) the store can still see for each series: kept
    /// across flushes, lost on restart for series with nothing in the head.
    known: HashMap<usize, (i64, u64)>,
    /// Series with samples stored since the last flush (they are in the WAL).
    in_head: HashSet<usize>,
}

impl Model {
    fn newest_stored(&self, series: usize) -> i64 {
        self.data
            .get(&series)
            .and_then(|d| d.keys().next_back().copied())
            .unwrap_or(START)
    }

    /// Applies a batch as the store should; returns whether it is accepted.
    fn append(&mut self, samples: &[(usize, i64, u64)]) -> bool {
        let mut pending = self.known.clone();
        let mut writes = Vec::new();
        for &(series, t, bits) in samples {
            match pending.get(&series) {
                Some(&(max, _)) if t < max => return false,
                Some(&(max, last)) if t == max => {
                    if last != bits {
                        return false;
                    }
                }
                _ => {
                    pending.insert(series, (t, bits));
                    writes.push((series, t, bits));
                }
            }
        }
        self.known = pending;
        for (series, t, bits) in writes {
            self.data.entry(series).or_default().insert(t, bits);
            self.in_head.insert(series);
        }
        true
    }

    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<(i64, u64)>)> {
        let mut out = Vec::new();
        for (series, points) in &self.data {
            let labels = Labels::new(series_labels(*series)).unwrap();
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            let samples: Vec<(i64, u64)> =
                points.range(mint..=maxt).map(|(t, b)| (*t, *b)).collect();
            if !samples.is_empty() {
                out.push((labels, samples));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

fn options() -> Options {
    Options {
        background_compaction: false,
        ..Options::default()
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Db::open(dir.path(), options()).unwrap());
    let mut model = Model::default();
    for op in ops {
        let store = db.as_ref().unwrap();
        match op {
            Op::Append(entries) => {
                let resolved: Vec<(usize, i64, u64)> = entries
                    .iter()
                    .map(|&(s, minutes, code)| {
                        (
                            s,
                            model.newest_stored(s) + minutes * MINUTE,
                            value(code).to_bits(),
                        )
                    })
                    .collect();
                let owned: Vec<Labels> = resolved
                    .iter()
                    .map(|(s, _, _)| Labels::new(series_labels(*s)).unwrap())
                    .collect();
                let mut batch = SeriesBatch::new();
                for (labels, (_, t, bits)) in owned.iter().zip(&resolved) {
                    let refs: Vec<LabelRef<'_>> = labels
                        .iter()
                        .map(|l| LabelRef::new(&l.name, &l.value))
                        .collect();
                    batch.push_series(&refs, &[Sample::new(*t, f64::from_bits(*bits))]);
                }
                let expected = model.append(&resolved);
                match store.append(&batch, &[]) {
                    Ok(_) => prop_assert!(
                        expected,
                        "store accepted a batch the model rejects: {resolved:?}"
                    ),
                    Err(AppendError::Rejected(r)) => {
                        prop_assert!(!expected, "store rejected {resolved:?}: {r}")
                    }
                    Err(AppendError::Storage(e)) => {
                        return Err(TestCaseError::fail(format!("storage error: {e}")))
                    }
                }
            }
            Op::Flush => {
                store.flush().unwrap();
                model.in_head.clear();
            }
            Op::Compact => {
                store.compact().unwrap();
            }
            Op::Restart => {
                db.take().unwrap().close().unwrap();
                db = Some(Db::open(dir.path(), options()).unwrap());
                let in_head = model.in_head.clone();
                model.known.retain(|s, _| in_head.contains(s));
            }
            Op::Query { matcher, from, to } => {
                let (mint, maxt) = (START + from * MINUTE, START + to * MINUTE);
                let ms = matchers(matcher);
                let got: Vec<(Labels, Vec<(i64, u64)>)> = store
                    .querier(mint, maxt)
                    .select(&ms)
                    .unwrap()
                    .into_iter()
                    .map(|s| {
                        (
                            s.labels,
                            s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
                        )
                    })
                    .collect();
                prop_assert_eq!(got, model.select(&ms, mint, maxt));
            }
        }
    }
    let store = db.as_ref().unwrap();
    let all = matchers(4);
    let got: Vec<(Labels, Vec<(i64, u64)>)> = store
        .querier(i64::MIN, i64::MAX)
        .select(&all)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.labels,
                s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
            )
        })
        .collect();
    prop_assert_eq!(got, model.select(&all, i64::MIN, i64::MAX));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
