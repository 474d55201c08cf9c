use std::sync::atomic::{AtomicUsize, Ordering};

use agentmon_model::Labels;
use proptest::prelude::*;

use super::*;

/// Series in memory that can change, counting the selects that reach it.
#[derive(Default)]
struct Changing {
    series: Mutex<Vec<Series>>,
    reads: AtomicUsize,
}

impl Changing {
    fn with(series: Vec<Series>) -> Changing {
        let mut series = series;
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Changing {
            series: Mutex::new(series),
            reads: AtomicUsize::new(0),
        }
    }

    fn push(&self, labels: &Labels, sample: Sample) {
        let mut all = self.series.lock().unwrap();
        match all.iter_mut().find(|s| &s.labels == labels) {
            Some(s) => s.samples.push(sample),
            None => {
                all.push(Series {
                    labels: labels.clone(),
                    samples: vec![sample],
                });
                all.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
        }
    }
}

impl Storage for Changing {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .series
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
            })
            .filter_map(|s| {
                // Filtered sample by sample, apart from the cut under test.
                let samples: Vec<Sample> = s
                    .samples
                    .iter()
                    .filter(|p| (mint..=maxt).contains(&p.t))
                    .copied()
                    .collect();
                (!samples.is_empty()).then(|| Series {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect())
    }
}

fn labels(name: &str, instance: &str) -> Labels {
    Labels::new([("__name__", name), ("instance", instance)]).unwrap()
}

fn fleet() -> Vec<Series> {
    let mut out = Vec::new();
    for (i, instance) in ["a", "b", "c"].iter().enumerate() {
        for name in ["up", "load"] {
            out.push(Series {
                labels: labels(name, instance),
                // Instance c has samples only early on, so narrow windows drop it.
                samples: (0..60)
                    .filter(|k| i < 2 || *k < 10)
                    .map(|k| Sample::new(k * 15_000, (k + i as i64) as f64))
                    .collect(),
            });
        }
    }
    out
}

fn name_is(name: &str) -> Vec<Matcher> {
    vec![Matcher::equal(METRIC_NAME_LABEL, name)]
}

fn collect_each(storage: &dyn Storage, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
    let mut out = Vec::new();
    storage
        .select_each(matchers, mint, maxt, &mut |labels, samples| {
            out.push(Series {
                labels: labels.clone(),
                samples: samples.to_vec(),
            });
            true
        })
        .unwrap();
    out
}

#[test]
fn a_selection_inside_a_remembered_one_is_not_read_again() {
    let inner = Arc::new(Changing::with(fleet()));
    let shared = SharedReads::new(inner.clone(), HashSet::new(), Arc::default());
    let wide = shared.select(&name_is("up"), 0, 900_000).unwrap();
    assert_eq!(wide, inner.select(&name_is("up"), 0, 900_000).unwrap());
    let reads = inner.reads.load(Ordering::Relaxed);
    let narrow = shared.select(&name_is("up"), 600_000, 900_000).unwrap();
    assert_eq!(
        inner.reads.load(Ordering::Relaxed),
        reads,
        "answered from memory"
    );
    let direct = inner.select(&name_is("up"), 600_000, 900_000).unwrap();
    assert_eq!(narrow, direct);
    assert_eq!(
        narrow.len(),
        2,
        "the instance without recent samples is dropped"
    );
}

#[test]
fn a_wider_selection_reads_the_union_once() {
    let inner = Arc::new(Changing::with(fleet()));
    let shared = SharedReads::new(inner.clone(), HashSet::new(), Arc::default());
    shared.select(&name_is("load"), 600_000, 900_000).unwrap();
    shared.select(&name_is("load"), 0, 300_000).unwrap();
    let reads = inner.reads.load(Ordering::Relaxed);
    for (mint, maxt) in [(0, 900_000), (100_000, 700_000), (600_000, 900_000)] {
        assert_eq!(
            shared.select(&name_is("load"), mint, maxt).unwrap(),
            inner.select(&name_is("load"), mint, maxt).unwrap()
        );
    }
    assert_eq!(
        inner.reads.load(Ordering::Relaxed),
        reads + 3,
        "only the direct reads of the check reached the store"
    );
}

#[test]
fn excluded_and_unnamed_selections_always_read_the_store() {
    let inner = Arc::new(Changing::with(fleet()));
    let excluded: HashSet<String> = ["ALERTS".to_owned()].into();
    let shared = SharedReads::new(inner.clone(), excluded, Arc::default());
    let alerts = labels("ALERTS", "a");
    assert!(shared
        .select(&name_is("ALERTS"), 0, 900_000)
        .unwrap()
        .is_empty());
    inner.push(&alerts, Sample::new(900_000, 1.0));
    let seen = shared.select(&name_is("ALERTS"), 0, 900_000).unwrap();
    assert_eq!(seen.len(), 1, "a write between queries is seen");
    let by_instance = vec![Matcher::equal("instance", "a")];
    shared.select(&by_instance, 0, 900_000).unwrap();
    inner.push(&labels("fresh", "a"), Sample::new(900_000, 2.0));
    let seen = shared.select(&by_instance, 0, 900_000).unwrap();
    assert!(seen.iter().any(|s| s.labels.metric_name() == Some("fresh")));
}

#[test]
fn streaming_and_limits_answer_as_the_store_does() {
    let inner = Arc::new(Changing::with(fleet()));
    let shared = SharedReads::new(inner.clone(), HashSet::new(), Arc::default());
    let up = name_is("up");
    shared.select(&up, 0, 900_000).unwrap();
    assert_eq!(
        collect_each(&shared, &up, 450_000, 900_000),
        inner.select(&up, 450_000, 900_000).unwrap()
    );
    // Two series of 30 samples in [450 s, 900 s].
    assert_eq!(
        shared.select_limited(&up, 450_000, 900_000, 59),
        Err(SelectError::TooManySamples)
    );
    assert_eq!(
        shared
            .select_limited(&up, 450_000, 900_000, 60)
            .map(|s| s.len()),
        Ok(2)
    );
    let mut first = Vec::new();
    shared
        .select_each(&up, 0, 900_000, &mut |labels, _| {
            first.push(labels.clone());
            false
        })
        .unwrap();
    assert_eq!(first.len(), 1, "stops when told to");
}

#[test]
fn shared_selections_are_borrowed_cut_to_the_window() {
    let inner = Arc::new(Changing::with(fleet()));
    let shared = SharedReads::new(inner.clone(), HashSet::new(), Arc::default());
    let up = name_is("up");
    let whole = shared.select_shared(&up, 0, 900_000, usize::MAX).unwrap();
    assert_eq!(whole.into_owned(), inner.select(&up, 0, 900_000).unwrap());
    let reads = inner.reads.load(Ordering::Relaxed);
    for (mint, maxt) in [(450_000, 900_000), (600_000, 600_000), (0, 10_000)] {
        let narrow = shared.select_shared(&up, mint, maxt, usize::MAX).unwrap();
        let direct = inner.select(&up, mint, maxt).unwrap();
        assert_eq!(narrow.len(), direct.len(), "[{mint}, {maxt}]");
        assert_eq!(
            narrow.samples(),
            direct.iter().map(|s| s.samples.len()).sum::<usize>()
        );
        assert_eq!(narrow.into_owned(), direct, "[{mint}, {maxt}]");
    }
    assert_eq!(
        inner.reads.load(Ordering::Relaxed),
        reads + 3,
        "only the direct reads went to the store"
    );
    // Two series of 30 samples in [450 s, 900 s].
    assert_eq!(
        shared
            .select_shared(&up, 450_000, 900_000, 59)
            .map(|s| s.len()),
        Err(SelectError::TooManySamples)
    );
    // Not shared: read from the store, owned.
    let job = vec![Matcher::equal("instance", "a")];
    let read = shared.select_shared(&job, 0, 900_000, usize::MAX).unwrap();
    assert_eq!(read.into_owned(), inner.select(&job, 0, 900_000).unwrap());
}

#[test]
fn a_plan_reads_the_widest_window_first_and_drops_entries_after_their_last_use() {
    let inner = Arc::new(Changing::with(fleet()));
    let plan: Arc<ReadPlan> = Arc::default();
    let windows = [(600_000, 900_000), (300_000, 900_000), (0, 900_000)];
    let batch = |shared: &SharedReads<Changing>| {
        for (mint, maxt) in windows {
            assert_eq!(
                shared.select(&name_is("up"), mint, maxt).unwrap(),
                inner.select(&name_is("up"), mint, maxt).unwrap()
            );
        }
    };
    let first = SharedReads::new(inner.clone(), HashSet::new(), plan.clone());
    let reads = inner.reads.load(Ordering::Relaxed);
    batch(&first);
    // Each wider window read again, plus the three direct reads.
    assert_eq!(inner.reads.load(Ordering::Relaxed), reads + 6);
    assert_eq!(
        first.remembered().entries.len(),
        1,
        "no plan: kept to the end"
    );
    drop(first);
    let second = SharedReads::new(inner.clone(), HashSet::new(), plan.clone());
    let reads = inner.reads.load(Ordering::Relaxed);
    batch(&second);
    assert_eq!(
        inner.reads.load(Ordering::Relaxed),
        reads + 4,
        "one read covers all three windows"
    );
    assert!(
        second.remembered().entries.is_empty(),
        "dropped after its third use"
    );
}

#[test]
fn the_generation_is_not_passed_on() {
    let inner = Arc::new(Changing::with(fleet()));
    let shared = SharedReads::new(inner, HashSet::new(), Arc::default());
    assert_eq!(shared.generation(), None);
}

proptest! {
    /// Any sequence of selections over any ranges answers what the store
    /// answers when nothing is written meanwhile.
    #[test]
    fn answers_equal_the_store(
        queries in prop::collection::vec((0usize..3, -100_000i64..1_000_000, 0i64..1_000_000, any::<bool>()), 1..20)
    ) {
        let inner = Arc::new(Changing::with(fleet()));
        let plan: Arc<ReadPlan> = Arc::default();
        let sets = [name_is("up"), name_is("load"), vec![
            Matcher::equal(METRIC_NAME_LABEL, "up"),
            Matcher::new(MatchType::RegexMatch, "instance", "a|c").unwrap(),
        ]];
        // The same batch twice with one plan, then its second half alone
        // (a plan that expects uses that never come).
        let half = queries.len() / 2;
        for batch in [&queries[..], &queries[..], &queries[half..]] {
        let shared = SharedReads::new(inner.clone(), HashSet::new(), plan.clone());
        for &(set, mint, span, each) in batch {
            let maxt = mint + span;
            let want = inner.select(&sets[set], mint, maxt).unwrap();
            let got = if each {
                collect_each(&shared, &sets[set], mint, maxt)
            } else {
                shared.select(&sets[set], mint, maxt).unwrap()
            };
            prop_assert_eq!(got, want);
        }
        }
    }
}
