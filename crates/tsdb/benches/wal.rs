//! WAL throughput: replay speed in samples per second, and the cost of
//! encoding and committing a scrape-sized batch.
//!
//! Run with `cargo bench -p agentmon-tsdb --bench wal`. Commits use a long
//! fsync interval so the figures show the write path, not the disk's
//! fdatasync latency.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use agentmon_model::{LabelRef, MetricMetadata};
use agentmon_tsdb::wal::{replay, RefSample, ReplayVisitor, WalOptions, WalWriter};
use agentmon_tsdb::WalFsync;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SAMPLES_PER_RECORD: usize = 2000;
const RECORDS: usize = 1000;

fn options() -> WalOptions {
    WalOptions {
        segment_size: 64 << 20,
        fsync: WalFsync::Interval(Duration::from_secs(3600)),
    }
}

/// One scrape-like batch: consecutive series refs, one timestamp, values
/// that vary in their low bits like real gauges do.
fn batch(round: usize) -> Vec<RefSample> {
    (0..SAMPLES_PER_RECORD)
        .map(|i| RefSample {
            series_ref: i as u32,
            t: 1_700_000_000_000 + round as i64 * 15_000,
            v: (i * 31 + round) as f64 * 0.37,
        })
        .collect()
}

/// Counts what replay delivers so the work cannot be optimised away.
#[derive(Default)]
struct Count {
    samples: u64,
    sum: f64,
}

impl ReplayVisitor for Count {
    fn series(&mut self, _: u32, labels: &[LabelRef<'_>]) {
        black_box(labels);
    }
    fn samples(&mut self, samples: &[RefSample]) {
        self.samples += samples.len() as u64;
        self.sum += samples[0].v;
    }
    fn metadata(&mut self, _: &str, meta: &MetricMetadata) {
        black_box(meta);
    }
}

fn write_wal(dir: &Path) {
    let mut w = WalWriter::open(dir, options()).unwrap();
    for round in 0..RECORDS {
        w.add_samples(&batch(round));
        w.commit().unwrap();
    }
    w.close().unwrap();
}

fn bench_replay(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    write_wal(tmp.path());
    let mut g = c.benchmark_group("wal_replay");
    g.throughput(Throughput::Elements((SAMPLES_PER_RECORD * RECORDS) as u64));
    g.sample_size(20);
    g.bench_function("2M_samples_2000_per_record", |b| {
        b.iter(|| {
            let mut count = Count::default();
            let report = replay(tmp.path(), &mut count).unwrap();
            assert_eq!(count.samples, (SAMPLES_PER_RECORD * RECORDS) as u64);
            black_box((report, count.sum))
        })
    });
    g.finish();
}

fn bench_commit(c: &mut Criterion) {
    let samples = batch(7);
    let mut g = c.benchmark_group("wal_write");
    g.throughput(Throughput::Elements(SAMPLES_PER_RECORD as u64));
    g.bench_function("encode_2000_samples", |b| {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::open(tmp.path(), options()).unwrap();
        b.iter(|| {
            w.add_samples(black_box(&samples));
            w.discard_pending();
        })
    });
    g.bench_function("commit_2000_samples", |b| {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = WalWriter::open(tmp.path(), options()).unwrap();
        b.iter(|| {
            w.add_samples(black_box(&samples));
            w.commit().unwrap();
            // Keeps disk use bounded the way block cutting would.
            let current = w.current_segment();
            if current > 2 {
                w.remove_segments_before(current).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_replay, bench_commit);
criterion_main!(benches);
