//! Tests of the writer and replay together, on real files in temp dirs.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use agentmon_model::{LabelRef, MetricMetadata, MetricType, STALE_NAN};

use super::*;
use crate::WalFsync;

/// A replayed record, flattened so batching differences do not matter.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Series(u32, Vec<(String, String)>),
    /// Ref, timestamp and the value's bits, so NaN payloads compare exactly.
    Sample(u32, i64, u64),
    Meta(String, MetricMetadata),
}

#[derive(Default)]
struct Collect(Vec<Ev>);

impl ReplayVisitor for Collect {
    fn series(&mut self, series_ref: u32, labels: &[LabelRef<'_>]) {
        let labels = labels
            .iter()
            .map(|l| (l.name.to_owned(), l.value.to_owned()))
            .collect();
        self.0.push(Ev::Series(series_ref, labels));
    }
    fn samples(&mut self, samples: &[RefSample]) {
        self.0.extend(
            samples
                .iter()
                .map(|s| Ev::Sample(s.series_ref, s.t, s.v.to_bits())),
        );
    }
    fn metadata(&mut self, metric_family: &str, meta: &MetricMetadata) {
        self.0
            .push(Ev::Meta(metric_family.to_owned(), meta.clone()));
    }
}

fn opts(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        fsync: WalFsync::Interval(Duration::from_secs(60)),
    }
}

fn replay_all(dir: &Path) -> (Vec<Ev>, ReplayReport) {
    let mut c = Collect::default();
    let report = replay(dir, &mut c).unwrap();
    (c.0, report)
}

fn sample(series_ref: u32, t: i64, v: f64) -> RefSample {
    RefSample { series_ref, t, v }
}

/// Commits one batch of `n` samples of series `r`, returns what it wrote.
fn commit_samples(w: &mut WalWriter, r: u32, n: i64) -> Vec<Ev> {
    let s: Vec<RefSample> = (0..n).map(|i| sample(r, 1000 + i * 15, i as f64)).collect();
    w.add_samples(&s);
    w.commit().unwrap();
    s.iter()
        .map(|s| Ev::Sample(s.series_ref, s.t, s.v.to_bits()))
        .collect()
}

fn seg_len(dir: &Path, n: u64) -> u64 {
    fs::metadata(segment_path(dir, n)).unwrap().len()
}

#[test]
fn all_record_kinds_round_trip_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut w = WalWriter::open(&dir, opts(1 << 20)).unwrap();
    let labels = [
        LabelRef::new("__name__", "agent_tokens_total"),
        LabelRef::new("agent", "ü-1"),
    ];
    let meta = MetricMetadata {
        metric_type: MetricType::Counter,
        help: "Tokens used.".into(),
        unit: "tokens".into(),
    };
    let odd_nan = f64::from_bits(0xfff8_dead_beef_0001);
    let samples = [
        sample(7, 1_700_000_000_000, 1.5),
        sample(7, 1_700_000_015_000, STALE_NAN),
        sample(3, 1_699_999_999_000, f64::NAN),
        sample(9, -5, odd_nan),
        sample(7, 1_700_000_030_000, f64::NEG_INFINITY),
    ];
    w.add_series(7, &labels);
    w.add_series(3, &[]);
    w.add_metadata("agent_tokens", &meta);
    w.add_samples(&samples[..2]);
    w.add_samples(&samples[2..]);
    w.commit().unwrap();
    let stats = w.stats();
    assert_eq!(stats.records_written.load(Relaxed), 3);
    w.close().unwrap();

    let (evs, report) = replay_all(&dir);
    let mut want = vec![
        Ev::Series(
            7,
            vec![
                ("__name__".into(), "agent_tokens_total".into()),
                ("agent".into(), "ü-1".into()),
            ],
        ),
        Ev::Series(3, vec![]),
        Ev::Meta("agent_tokens".into(), meta),
    ];
    want.extend(
        samples
            .iter()
            .map(|s| Ev::Sample(s.series_ref, s.t, s.v.to_bits())),
    );
    assert_eq!(evs, want);
    assert_eq!((report.records, report.series, report.samples), (3, 2, 5));
    assert_eq!(report.corruption, None);
    assert_eq!(report.bytes, seg_len(&dir, 1));
}

#[test]
fn batches_cut_segments_and_oversized_batches_get_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(300)).unwrap();
    let mut want = Vec::new();
    for i in 0..10 {
        want.extend(commit_samples(&mut w, i, 10));
    }
    let small_segments = w.current_segment();
    assert!(small_segments > 1, "300-byte segments should have been cut");
    for n in 1..=small_segments {
        assert!(seg_len(dir, n) <= 300, "segment {n} exceeds segment_size");
    }
    want.extend(commit_samples(&mut w, 99, 200));
    assert_eq!(w.current_segment(), small_segments + 1);
    assert!(seg_len(dir, small_segments + 1) > 300);
    want.extend(commit_samples(&mut w, 100, 1));
    assert_eq!(w.current_segment(), small_segments + 2);
    let stats = w.stats();
    drop(w);
    let total: u64 = (1..=small_segments + 2).map(|n| seg_len(dir, n)).sum();
    assert_eq!(stats.size_bytes.load(Relaxed), total);
    assert_eq!(stats.segments.load(Relaxed), small_segments + 2);
    let (evs, report) = replay_all(dir);
    assert_eq!(evs, want);
    assert_eq!(report.segments, small_segments + 2);
}

#[test]
fn rotate_keeps_pending_and_reopen_starts_a_new_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    assert_eq!(w.current_segment(), 1);
    let mut want = commit_samples(&mut w, 1, 3);
    w.add_samples(&[sample(2, 5, 5.0)]);
    assert_eq!(w.rotate().unwrap(), 2);
    w.commit().unwrap();
    want.push(Ev::Sample(2, 5, 5f64.to_bits()));
    w.add_samples(&[sample(3, 6, 6.0)]);
    w.discard_pending();
    w.commit().unwrap();
    drop(w);
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    assert_eq!(w.current_segment(), 3);
    want.extend(commit_samples(&mut w, 4, 2));
    w.close().unwrap();
    assert_eq!(replay_all(dir).0, want);
}

#[test]
fn remove_segments_before_frees_old_segments_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    for _ in 0..3 {
        commit_samples(&mut w, 1, 50);
        w.rotate().unwrap();
    }
    let want = commit_samples(&mut w, 2, 5);
    let expect = seg_len(dir, 1) + seg_len(dir, 2);
    assert_eq!(w.remove_segments_before(3).unwrap(), expect);
    assert!(!segment_path(dir, 2).exists() && segment_path(dir, 3).exists());
    // Never deletes the segment being written, whatever it is asked.
    w.remove_segments_before(u64::MAX).unwrap();
    assert_eq!(w.current_segment(), 4);
    assert!(segment_path(dir, 4).exists() && !segment_path(dir, 3).exists());
    let stats = w.stats();
    assert_eq!(stats.segments.load(Relaxed), 1);
    assert_eq!(stats.size_bytes.load(Relaxed), seg_len(dir, 4));
    drop(w);
    let (evs, report) = replay_all(dir);
    assert_eq!(evs, want);
    assert_eq!(report.corruption, None);
}

#[test]
fn torn_tail_at_every_offset_is_cut_and_writing_resumes() {
    let src = tempfile::tempdir().unwrap();
    let mut w = WalWriter::open(src.path(), opts(1 << 20)).unwrap();
    w.add_series(1, &[LabelRef::new("__name__", "up")]);
    w.commit().unwrap();
    commit_samples(&mut w, 1, 20);
    w.add_series(
        2,
        &[
            LabelRef::new("__name__", "agent_up"),
            LabelRef::new("agent", "a"),
        ],
    );
    w.commit().unwrap();
    let good_len = seg_len(src.path(), 1);
    // The last commit is exactly one record; every cut below lands inside it.
    let last = commit_samples(&mut w, 2, 30);
    drop(w);
    let full = fs::read(segment_path(src.path(), 1)).unwrap();
    let (mut prefix, _) = replay_all(src.path());
    prefix.truncate(prefix.len() - last.len());

    for cut in good_len..full.len() as u64 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(segment_path(dir, 1), &full[..cut as usize]).unwrap();
        let (evs, report) = replay_all(dir);
        assert_eq!(evs, prefix, "cut at {cut}");
        if cut == good_len {
            assert_eq!(report.corruption, None);
        } else {
            let c = report.corruption.expect("torn tail must be reported");
            assert_eq!(
                (c.segment, c.offset, c.truncated_bytes),
                (1, good_len, cut - good_len)
            );
        }
        assert_eq!(seg_len(dir, 1), good_len);
        let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
        let more = commit_samples(&mut w, 1, 2);
        drop(w);
        let (evs, report) = replay_all(dir);
        assert_eq!(report.corruption, None, "cut at {cut}");
        assert_eq!(evs[prefix.len()..], more[..]);
    }
}

#[test]
fn flipped_byte_in_first_of_three_segments_drops_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    let mut first = Vec::new();
    for _ in 0..10 {
        first.extend(commit_samples(&mut w, 1, 10));
    }
    w.rotate().unwrap();
    commit_samples(&mut w, 2, 10);
    w.rotate().unwrap();
    commit_samples(&mut w, 3, 10);
    drop(w);
    let path = segment_path(dir, 1);
    let mut bytes = fs::read(&path).unwrap();
    let len = bytes.len();
    let mid = len / 2;
    bytes[mid] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let removed = seg_len(dir, 2) + seg_len(dir, 3);

    let (evs, report) = replay_all(dir);
    let c = report.corruption.unwrap();
    assert_eq!(c.segment, 1);
    assert_eq!(c.removed_segments, vec![2, 3]);
    assert!(c.offset <= mid as u64);
    assert_eq!(c.truncated_bytes, len as u64 - c.offset + removed);
    assert_eq!(evs[..], first[..evs.len()]);
    assert!(
        evs.len() >= 40 && evs.len() < 100,
        "lost {} samples",
        100 - evs.len()
    );
    assert!(!segment_path(dir, 2).exists() && !segment_path(dir, 3).exists());
    let (again, report) = replay_all(dir);
    assert_eq!((again, report.corruption), (evs, None));
}

#[test]
fn missing_empty_and_odd_directories() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        replay_all(&tmp.path().join("nope")).1,
        ReplayReport::default()
    );
    assert_eq!(replay_all(tmp.path()).1, ReplayReport::default());
    // Foreign files are ignored; an empty segment (crash right after
    // creating it) is not damage.
    fs::write(tmp.path().join("notes.tmp"), b"x").unwrap();
    fs::write(segment_path(tmp.path(), 1), b"").unwrap();
    let report = replay_all(tmp.path()).1;
    assert_eq!((report.segments, report.corruption), (1, None));
}

#[test]
fn zero_filled_tail_and_missing_segment_are_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    let want = commit_samples(&mut w, 1, 4);
    w.rotate().unwrap();
    commit_samples(&mut w, 1, 4);
    drop(w);
    let good = seg_len(dir, 1);
    let mut bytes = fs::read(segment_path(dir, 1)).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    fs::write(segment_path(dir, 1), bytes).unwrap();
    fs::copy(segment_path(dir, 2), segment_path(dir, 4)).unwrap();
    fs::remove_file(segment_path(dir, 2)).unwrap();

    let (evs, report) = replay_all(dir);
    let c = report.corruption.unwrap();
    assert_eq!(
        (c.segment, c.offset, c.reason.as_str()),
        (1, good, "unknown record type")
    );
    assert_eq!(c.removed_segments, vec![4]);
    assert_eq!(evs, want);

    // With segment 1 intact, the hole at 2 and 3 is what gets reported.
    fs::copy(segment_path(dir, 1), segment_path(dir, 5)).unwrap();
    let c = replay_all(dir).1.corruption.unwrap();
    assert_eq!((c.segment, c.offset, c.removed_segments), (5, 0, vec![5]));
    assert_eq!(c.truncated_bytes, good);
}

#[test]
fn failed_commit_never_leaves_bad_bytes_before_good_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    let mut want = commit_samples(&mut w, 1, 5);
    let len = seg_len(dir, 1);

    w.fail.write_after = Some(7);
    w.add_samples(&[sample(1, 99, 1.0)]);
    assert!(w.commit().is_err());
    assert_eq!(seg_len(dir, 1), len, "partial write must be cut off");
    want.extend(commit_samples(&mut w, 1, 2));

    // If even the cut fails, nothing more is written until it succeeds.
    let len = seg_len(dir, 1);
    w.fail.write_after = Some(3);
    w.fail.truncate = true;
    w.add_samples(&[sample(1, 100, 1.0)]);
    assert!(w.commit().is_err());
    assert_eq!(seg_len(dir, 1), len + 3);
    w.add_samples(&[sample(1, 101, 1.0)]);
    assert!(w.commit().is_err());
    assert_eq!(seg_len(dir, 1), len + 3);
    w.fail.truncate = false;
    want.extend(commit_samples(&mut w, 1, 3));
    let stats = w.stats();
    assert_eq!(stats.write_errors.load(Relaxed), 4);
    w.close().unwrap();

    let (evs, report) = replay_all(dir);
    assert_eq!(report.corruption, None);
    assert_eq!(evs, want);
}

#[test]
fn always_syncs_each_commit_and_interval_syncs_in_background() {
    let tmp = tempfile::tempdir().unwrap();
    let always = WalOptions {
        segment_size: 1 << 20,
        fsync: WalFsync::Always,
    };
    let mut w = WalWriter::open(&tmp.path().join("a"), always).unwrap();
    commit_samples(&mut w, 1, 1);
    commit_samples(&mut w, 1, 1);
    assert_eq!(w.stats().fsyncs.load(Relaxed), 2);
    let hist = w.stats().fsync_histogram();
    assert!(hist.windows(2).all(|p| p[0] <= p[1]) && hist[hist.len() - 1] <= 2);

    let interval = WalOptions {
        segment_size: 1 << 20,
        fsync: WalFsync::Interval(Duration::from_millis(5)),
    };
    let mut w = WalWriter::open(&tmp.path().join("b"), interval).unwrap();
    let stats = w.stats();
    commit_samples(&mut w, 1, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.fsyncs.load(Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        stats.fsyncs.load(Relaxed) >= 1,
        "the fsync thread never synced"
    );
    w.close().unwrap();

    let zero = WalOptions {
        segment_size: 1 << 20,
        fsync: WalFsync::Interval(Duration::ZERO),
    };
    assert!(WalWriter::open(&tmp.path().join("c"), zero).is_err());
}

#[test]
fn replay_damage_shows_in_writer_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    commit_samples(&mut w, 1, 4);
    drop(w);
    let len = seg_len(dir, 1);
    fs::OpenOptions::new()
        .write(true)
        .open(segment_path(dir, 1))
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let (_, report) = replay_all(dir);
    let w = WalWriter::open(dir, opts(1 << 20)).unwrap();
    w.stats().record_replay(&report);
    assert_eq!(w.stats().corruptions.load(Relaxed), 1);
    assert!(w.stats().truncated_bytes.load(Relaxed) > 0);
}

#[test]
fn writer_can_move_into_the_db() {
    fn send<T: Send>() {}
    send::<WalWriter>();
}
