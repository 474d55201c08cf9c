//! Head append throughput: `Db::append` of remote-write-sized batches (one
//! sample for each of ~2000 series with agent-fleet labels), the work the
//! ingest path does per request after decoding. Includes the WAL write.

use agentmon_model::{LabelRef, Labels, Sample, SeriesBatch};
use agentmon_tsdb::{Db, Options};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SERIES_PER_BATCH: usize = 2000;

fn label_sets(count: usize) -> Vec<Labels> {
    (0..count)
        .map(|i| {
            let instance = format!("10.0.{}.{}:8000", (i / 180) / 250, (i / 180) % 250);
            let tool = format!("tool_{}", i % 10);
            let le = format!("{}", i % 11);
            Labels::new([
                ("__name__", "hermes_tool_duration_seconds_bucket"),
                ("instance", instance.as_str()),
                ("job", "hermes-agent"),
                ("le", le.as_str()),
                ("tool_name", tool.as_str()),
                ("slot", &format!("{}", i % 180)),
            ])
            .expect("valid labels")
        })
        .collect()
}

fn bench_append(c: &mut Criterion) {
    let labels = label_sets(SERIES_PER_BATCH * 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        Options {
            background_compaction: false,
            ..Options::default()
        },
    )
    .expect("open");
    let refs: Vec<Vec<LabelRef<'_>>> = labels
        .iter()
        .map(|l| l.iter().map(|x| LabelRef::new(&x.name, &x.value)).collect())
        .collect();
    let mut step: i64 = 0;
    let mut group = c.benchmark_group("head_append");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function("2000_series_batches", |b| {
        b.iter_batched_ref(
            || {
                // Building the batches is the decoder's work, not timed here.
                step += 1;
                refs.chunks(SERIES_PER_BATCH)
                    .map(|chunk| {
                        let mut batch =
                            SeriesBatch::with_capacity(chunk.len(), chunk.len() * 6, chunk.len());
                        for r in chunk {
                            batch.push_series(
                                r,
                                &[Sample::new(step * 15_000 + 7, step as f64 * 3.0)],
                            );
                        }
                        batch
                    })
                    .collect::<Vec<_>>()
            },
            |batches: &mut Vec<SeriesBatch<'_>>| {
                for batch in batches.iter() {
                    db.append(batch, &[]).expect("append");
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
