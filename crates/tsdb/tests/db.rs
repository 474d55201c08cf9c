//! Targeted behaviour of the store that the model test does not reach:
//! the out-of-order window, rejection messages, metadata across restarts
//! and flushes, compaction of blocks and retention by time and size.

use std::time::Duration;

use agentmon_model::{LabelRef, Labels, Matcher, MetricMetadata, MetricType, Sample, SeriesBatch};
use agentmon_tsdb::{AppendError, Db, Options, REASON_DUPLICATE_TIMESTAMP, REASON_OUT_OF_ORDER};

const HOUR: i64 = 3_600_000;

fn options() -> Options {
    Options {
        background_compaction: false,
        ..Options::default()
    }
}

fn append(db: &Db, name: &str, samples: &[(i64, f64)]) -> Result<(), AppendError> {
    let labels = Labels::new([("__name__", name), ("job", "test")]).unwrap();
    let refs: Vec<LabelRef<'_>> = labels
        .iter()
        .map(|l| LabelRef::new(&l.name, &l.value))
        .collect();
    let samples: Vec<Sample> = samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    let mut batch = SeriesBatch::new();
    batch.push_series(&refs, &samples);
    db.append(&batch, &[]).map(|_| ())
}

fn read(db: &Db, name: &str) -> Vec<(i64, f64)> {
    let series = db
        .querier(i64::MIN, i64::MAX)
        .select(&[Matcher::equal("__name__", name)])
        .unwrap();
    series
        .into_iter()
        .flat_map(|s| s.samples)
        .map(|s| (s.t, s.v))
        .collect()
}

#[test]
fn out_of_order_window_accepts_recent_and_refuses_older() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        out_of_order_window: Duration::from_secs(600),
        ..options()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    append(&db, "m", &[(1_000_000, 1.0), (2_000_000, 2.0)]).unwrap();
    append(&db, "m", &[(1_500_000, 1.5)]).unwrap();
    let refused = append(&db, "m", &[(1_000, 0.1)]).unwrap_err();
    match refused {
        AppendError::Rejected(r) => {
            assert_eq!(r.counts.get(REASON_OUT_OF_ORDER), Some(&1));
            assert!(
                r.to_string()
                    .contains("older than the series' newest sample"),
                "{r}"
            );
        }
        other => panic!("expected a rejection, got {other}"),
    }
    // A different value at a stored out-of-order time is a conflict.
    assert!(append(&db, "m", &[(1_500_000, 9.0)]).is_err());
    assert_eq!(
        read(&db, "m"),
        vec![(1_000_000, 1.0), (1_500_000, 1.5), (2_000_000, 2.0)]
    );
    drop(db);
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(
        read(&db, "m"),
        vec![(1_000_000, 1.0), (1_500_000, 1.5), (2_000_000, 2.0)]
    );
    db.flush().unwrap();
    assert_eq!(
        read(&db, "m"),
        vec![(1_000_000, 1.0), (1_500_000, 1.5), (2_000_000, 2.0)]
    );
}

#[test]
fn a_rejected_batch_writes_nothing_even_for_its_valid_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    append(&db, "old", &[(10_000, 1.0)]).unwrap();
    let good = Labels::new([("__name__", "fresh")]).unwrap();
    let bad = Labels::new([("__name__", "old"), ("job", "test")]).unwrap();
    let good_refs: Vec<LabelRef<'_>> = good
        .iter()
        .map(|l| LabelRef::new(&l.name, &l.value))
        .collect();
    let bad_refs: Vec<LabelRef<'_>> = bad
        .iter()
        .map(|l| LabelRef::new(&l.name, &l.value))
        .collect();
    let mut batch = SeriesBatch::new();
    batch.push_series(&good_refs, &[Sample::new(5, 5.0)]);
    batch.push_series(&bad_refs, &[Sample::new(5, 5.0)]);
    assert!(matches!(
        db.append(&batch, &[]),
        Err(AppendError::Rejected(_))
    ));
    assert!(read(&db, "fresh").is_empty());
    assert!(db
        .querier(i64::MIN, i64::MAX)
        .label_values("__name__", &[])
        .unwrap()
        .iter()
        .all(|v| v != "fresh"));
}

#[test]
fn a_lenient_append_keeps_the_valid_samples_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    append(&db, "old", &[(10_000, 1.0)]).unwrap();
    let fresh = Labels::new([("__name__", "fresh")]).unwrap();
    let old = Labels::new([("__name__", "old"), ("job", "test")]).unwrap();
    let mut batch = SeriesBatch::new();
    batch.push_series(&fresh.refs(), &[Sample::new(5, 5.0)]);
    // One sample too old, one conflicting, one good.
    batch.push_series(
        &old.refs(),
        &[
            Sample::new(5, 5.0),
            Sample::new(10_000, 2.0),
            Sample::new(20_000, 3.0),
        ],
    );
    let summary = db.append_lenient(&batch, &[]).unwrap();
    assert_eq!(summary.samples_appended, 2);
    assert_eq!(summary.samples_rejected.get(REASON_OUT_OF_ORDER), Some(&1));
    assert_eq!(
        summary.samples_rejected.get(REASON_DUPLICATE_TIMESTAMP),
        Some(&1)
    );
    assert_eq!(read(&db, "fresh"), vec![(5, 5.0)]);
    assert_eq!(read(&db, "old"), vec![(10_000, 1.0), (20_000, 3.0)]);
    // What was kept survives a restart (it reached the WAL).
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(read(&db, "old"), vec![(10_000, 1.0), (20_000, 3.0)]);
}

#[test]
fn metadata_survives_restarts_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetricMetadata {
        metric_type: MetricType::Counter,
        help: "Steps.".into(),
        unit: String::new(),
    };
    {
        let db = Db::open(dir.path(), options()).unwrap();
        let labels = Labels::new([("__name__", "steps_total")]).unwrap();
        let refs: Vec<LabelRef<'_>> = labels
            .iter()
            .map(|l| LabelRef::new(&l.name, &l.value))
            .collect();
        let mut batch = SeriesBatch::new();
        batch.push_series(&refs, &[Sample::new(1, 1.0)]);
        db.append(&batch, &[("steps_total", meta.clone())]).unwrap();
        db.flush().unwrap();
    }
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.metadata(), vec![("steps_total".to_owned(), meta)]);
    assert_eq!(read(&db, "steps_total"), vec![(1, 1.0)]);
}

#[test]
fn compaction_merges_windows_and_retention_deletes_old_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        retention_time: Duration::from_secs(20 * 3600),
        ..options()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    // Three flushes inside one 2h window: each flush compacts the window's
    // blocks into one, since the head has nothing left in it.
    for i in 0..3 {
        append(&db, "m", &[(i * 600_000, i as f64)]).unwrap();
        db.flush().unwrap();
    }
    assert_eq!(db.status(10).blocks.len(), 1);
    assert_eq!(
        read(&db, "m"),
        vec![(0, 0.0), (600_000, 1.0), (1_200_000, 2.0)]
    );
    // Data a day later: retention (20h before the newest block) deletes the
    // old block.
    append(&db, "m", &[(30 * HOUR, 99.0)]).unwrap();
    db.flush().unwrap();
    let blocks = db.status(10).blocks;
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(read(&db, "m"), vec![(30 * HOUR, 99.0)]);
    let mut metrics = String::new();
    db.write_metrics(&mut metrics);
    assert!(
        metrics.contains("agentmon_tsdb_compactions_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("agentmon_tsdb_retention_deletions_total{reason=\"time\"} 1"),
        "{metrics}"
    );
}

#[test]
fn size_retention_deletes_the_oldest_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        retention_size: Some(1),
        ..options()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    append(&db, "m", &[(0, 1.0)]).unwrap();
    db.flush().unwrap();
    append(&db, "m", &[(10 * HOUR, 2.0)]).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    assert!(db.status(10).blocks.is_empty());
    assert!(read(&db, "m").is_empty());
}

#[test]
fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), options()).unwrap();
    let err = Db::open(dir.path(), options())
        .err()
        .expect("second open must fail");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn queries_during_writes_and_flushes_see_every_acknowledged_sample() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), options()).unwrap());
    let acknowledged = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, acknowledged, done) = (db.clone(), acknowledged.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 1..=3000i64 {
                append(&db, "m", &[(i * 1000, i as f64)]).unwrap();
                acknowledged.store(i, Ordering::SeqCst);
                if i % 300 == 0 {
                    db.flush().unwrap();
                }
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut checks = 0;
    while !done.load(Ordering::SeqCst) && checks < 100_000 {
        let before = acknowledged.load(Ordering::SeqCst);
        let seen = read(&db, "m").len() as i64;
        assert!(
            seen >= before,
            "a query missed acknowledged samples: saw {seen}, {before} were acknowledged"
        );
        checks += 1;
    }
    writer.join().unwrap();
    assert_eq!(read(&db, "m").len(), 3000);
}

/// Appends one sample to `m{i="<key>"}`.
fn append_keyed(db: &Db, key: &str) {
    let labels = Labels::new([("__name__", "m"), ("i", key)]).unwrap();
    let refs: Vec<LabelRef<'_>> = labels.refs();
    let mut batch = SeriesBatch::new();
    batch.push_series(&refs, &[Sample::new(1_000, 1.0)]);
    db.append(&batch, &[]).unwrap();
}

fn selected_keys(db: &Db) -> Vec<String> {
    db.querier(i64::MIN, i64::MAX)
        .select(&[Matcher::equal("__name__", "m")])
        .unwrap()
        .into_iter()
        .map(|s| s.labels.get("i").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn head_series_come_in_label_order_before_and_after_the_order_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    // Created in an order unlike their labels' (refs follow creation).
    let mut keys: Vec<String> = (0..64)
        .map(|i| format!("{:03}", (i * 37) % 64 * 3))
        .collect();
    for key in &keys {
        append_keyed(&db, key);
    }
    keys.sort();
    assert_eq!(selected_keys(&db), keys, "the first select ranks them");
    // Fewer new series than a sixteenth of the ranked ones: they stay
    // unranked and are placed by their labels, among and around the others.
    for key in ["001", "100", "999"] {
        append_keyed(&db, key);
        keys.push(key.to_owned());
    }
    keys.sort();
    assert_eq!(selected_keys(&db), keys);
    // Past a sixteenth the snapshot is rebuilt; the order is the same.
    for i in 0..8 {
        let key = format!("{:03}", 2 + 3 * i);
        append_keyed(&db, &key);
        keys.push(key);
    }
    keys.sort();
    assert_eq!(selected_keys(&db), keys);
}

/// Every series of `m` over [mint, maxt] as `select_each` streams them.
fn streamed(db: &Db, mint: i64, maxt: i64) -> Vec<agentmon_tsdb::Series> {
    let mut out = Vec::new();
    db.querier(mint, maxt)
        .select_each(&[Matcher::equal("__name__", "m")], &mut |s| {
            out.push(s);
            true
        })
        .unwrap();
    out
}

#[test]
fn head_only_selects_decode_in_place_as_streaming_reads_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for key in ["b", "a", "c"] {
        let labels = Labels::new([("__name__", "m"), ("i", key)]).unwrap();
        let refs: Vec<LabelRef<'_>> = labels.refs();
        let mut samples: Vec<Sample> = (0..300)
            .map(|k| Sample::new(k * 1_000, (k % 7) as f64))
            .collect();
        if key == "c" {
            samples.truncate(100);
        }
        let mut batch = SeriesBatch::new();
        batch.push_series(&refs, &samples);
        db.append(&batch, &[]).unwrap();
    }
    let m = [Matcher::equal("__name__", "m")];
    let check = |db: &Db| {
        for (mint, maxt) in [
            (i64::MIN, i64::MAX),
            (150_000, 250_500),
            (0, 0),
            (400_000, 500_000),
        ] {
            let selected = db
                .querier(mint, maxt)
                .select_limited(&m, usize::MAX)
                .unwrap();
            assert_eq!(selected, streamed(db, mint, maxt), "[{mint}, {maxt}]");
        }
        let keys: Vec<String> = db
            .querier(150_000, 250_000)
            .select(&m)
            .unwrap()
            .iter()
            .map(|s| s.labels.get("i").unwrap_or_default().to_owned())
            .collect();
        assert_eq!(keys, ["a", "b"], "label order; c has nothing in range");
        // a and b hold 101 samples each in [150 s, 250 s].
        assert!(matches!(
            db.querier(150_000, 250_000).select_limited(&m, 201),
            Err(agentmon_tsdb::TsdbError::TooManySamples { limit: 201 })
        ));
        assert_eq!(
            db.querier(150_000, 250_000)
                .select_limited(&m, 202)
                .unwrap()
                .len(),
            2
        );
    };
    let before = db.querier(i64::MIN, i64::MAX).select(&m).unwrap();
    check(&db);
    // Once flushed, the same reads merge blocks instead, and agree.
    db.flush().unwrap();
    assert_eq!(db.querier(i64::MIN, i64::MAX).select(&m).unwrap(), before);
    check(&db);
}
