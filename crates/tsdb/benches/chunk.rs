//! Encode and decode throughput of 120-sample head chunks on data shaped
//! like an agent fleet's metrics, plus the bytes per sample each shape
//! compresses to.
//!
//! Run: `cargo bench -p agentmon-tsdb --bench chunk -- --quick`

use std::hint::black_box;

use agentmon_tsdb::chunk::{XorChunk, MAX_SAMPLES_PER_CHUNK};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// splitmix64: tiny, deterministic, and good enough for test data; keeps
/// the bench free of a PRNG dependency and its version churn.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Scrape timestamps: 15 s apart, each delayed by 1–40 ms of jitter.
fn timestamps(rng: &mut Rng) -> Vec<i64> {
    let start = 1_760_000_000_000i64;
    (0..MAX_SAMPLES_PER_CHUNK as i64)
        .map(|i| start + i * 15_000 + rng.range(1, 40) as i64)
        .collect()
}

/// A token counter: grows by a random whole number of tokens per scrape,
/// sometimes not at all.
fn counter(rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut v = 1_234_567.0;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            if rng.unit() < 0.8 {
                v += (rng.unit() * 5_000.0).round();
            }
            (t, v)
        })
        .collect()
}

/// One bucket of a request-latency histogram: a cumulative count that
/// rises by a few requests per scrape.
fn histogram_bucket(rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut v = 8_000.0;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            v += rng.range(0, 6) as f64;
            (t, v)
        })
        .collect()
}

/// A gauge such as resident memory in MiB or queue latency: a random walk
/// with full-precision steps, the worst case for XOR compression.
fn gauge(rng: &mut Rng) -> Vec<(i64, f64)> {
    let mut v = 512.0;
    timestamps(rng)
        .into_iter()
        .map(|t| {
            v += (rng.unit() - 0.5) * 8.0;
            (t, v)
        })
        .collect()
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v);
    }
    c
}

fn bench_chunks(c: &mut Criterion) {
    let mut rng = Rng(0x5eed);
    let kinds: [(&str, Vec<(i64, f64)>); 3] = [
        ("counter", counter(&mut rng)),
        ("histogram_bucket", histogram_bucket(&mut rng)),
        ("gauge", gauge(&mut rng)),
    ];

    for (name, samples) in &kinds {
        let mut chunk = encode(samples);
        let open = chunk.memory_bytes();
        chunk.shrink_to_fit();
        println!(
            "{name}: {:.2} bytes/sample ({} bytes for {} samples; memory {} open, {} shrunk)",
            chunk.encoded_bytes().len() as f64 / samples.len() as f64,
            chunk.encoded_bytes().len(),
            samples.len(),
            open,
            chunk.memory_bytes(),
        );
    }

    let mut group = c.benchmark_group("chunk_encode");
    group.throughput(Throughput::Elements(MAX_SAMPLES_PER_CHUNK as u64));
    for (name, samples) in &kinds {
        group.bench_function(*name, |b| b.iter(|| encode(black_box(samples))));
    }
    group.finish();

    let mut group = c.benchmark_group("chunk_decode");
    group.throughput(Throughput::Elements(MAX_SAMPLES_PER_CHUNK as u64));
    for (name, samples) in &kinds {
        let chunk = encode(samples);
        group.bench_function(*name, |b| {
            b.iter(|| {
                // Fold both fields so neither decode can be optimised out.
                black_box(&chunk)
                    .iter()
                    .fold(0u64, |acc, s| acc ^ s.t as u64 ^ s.v.to_bits())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_chunks);
criterion_main!(benches);
