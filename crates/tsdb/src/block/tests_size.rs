//! On-disk size for agent-fleet shaped data; prints bytes per sample.
//!
//! Run in release for the full data set and the figure:
//! `cargo test --release -p agentmon-tsdb block::tests_size -- --nocapture`
//! (debug builds use fewer instances so the normal test run stays quick).

use agentmon_model::{Labels, Sample};

use super::*;

/// SplitMix64: tiny, deterministic, good enough to shape test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const STEP: i64 = 15_000;
const START: i64 = 1_780_000_000_000 / (2 * 3_600_000) * (2 * 3_600_000);
const HISTOGRAMS: usize = 10;
const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
const COUNTERS: usize = 25;
const GAUGES: usize = 15;

/// What one series of an instance is.
#[derive(Clone, Copy)]
enum Kind {
    Bucket(usize, usize),
    Sum(usize),
    Count(usize),
    Counter(usize),
    Gauge(usize),
}

/// The 180 series of one instance: 10 histograms of 14 series, 25
/// counters, 15 gauges.
fn kinds() -> Vec<(String, Option<&'static str>, Kind)> {
    let mut out = Vec::new();
    for h in 0..HISTOGRAMS {
        let base = format!("agent_step_{h}_duration_seconds");
        for (b, le) in BUCKETS.iter().enumerate() {
            out.push((format!("{base}_bucket"), Some(*le), Kind::Bucket(h, b)));
        }
        out.push((format!("{base}_sum"), None, Kind::Sum(h)));
        out.push((format!("{base}_count"), None, Kind::Count(h)));
    }
    out.extend((0..COUNTERS).map(|c| (format!("agent_events_{c}_total"), None, Kind::Counter(c))));
    out.extend((0..GAUGES).map(|g| (format!("agent_inflight_{g}"), None, Kind::Gauge(g))));
    out
}

/// Scrape times of one instance: a fixed phase, then 1–40 ms jitter.
fn timestamps(instance: u64, n: usize) -> Vec<i64> {
    let mut rng = Rng::new(instance);
    let phase = rng.below(STEP as u64) as i64;
    (0..n as i64)
        .map(|i| START + phase + i * STEP + 1 + rng.below(40) as i64)
        .collect()
}

fn values(instance: u64, kind: Kind, n: usize) -> Vec<f64> {
    match kind {
        Kind::Bucket(h, _) | Kind::Sum(h) | Kind::Count(h) => {
            // Simulate the whole histogram so buckets stay cumulative.
            let mut rng = Rng::new(instance << 16 | h as u64);
            let (mut buckets, mut sum_millis, mut count) = ([0u64; 12], 0u64, 0u64);
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                for _ in 0..rng.below(6) {
                    let millis = 1 + rng.below(3000) * rng.below(4);
                    sum_millis += millis;
                    count += 1;
                    let secs = millis as f64 / 1000.0;
                    for (b, le) in BUCKETS.iter().enumerate() {
                        if *le == "+Inf" || secs <= le.parse::<f64>().unwrap_or(f64::INFINITY) {
                            buckets[b] += 1;
                        }
                    }
                }
                out.push(match kind {
                    Kind::Bucket(_, b) => buckets[b] as f64,
                    Kind::Sum(_) => sum_millis as f64 / 1000.0,
                    _ => count as f64,
                });
            }
            out
        }
        Kind::Counter(c) => {
            let mut rng = Rng::new(instance << 16 | 0x1000 | c as u64);
            let rate = [1u64, 3, 10, 50, 200][c % 5];
            let mut v = rng.below(100_000);
            (0..n)
                .map(|_| {
                    v += rng.below(rate + 1);
                    v as f64
                })
                .collect()
        }
        Kind::Gauge(g) => {
            let mut rng = Rng::new(instance << 16 | 0x2000 | g as u64);
            let mut v = rng.below(20) as i64;
            (0..n)
                .map(|_| {
                    v = (v + rng.below(3) as i64 - 1).clamp(0, 50);
                    v as f64
                })
                .collect()
        }
    }
}

#[test]
fn agent_fleet_bytes_per_sample() {
    let instances: u64 = if cfg!(debug_assertions) { 10 } else { 200 };
    let samples_per_series = 240;
    let mut descriptors: Vec<(Labels, u64, Kind)> = Vec::new();
    for i in 0..instances {
        let instance = format!("agent-{i:04}.fleet.internal:9464");
        for (name, le, kind) in kinds() {
            let mut pairs = vec![("__name__", name.clone()), ("instance", instance.clone())];
            pairs.push(("job", "agents".to_owned()));
            if let Some(le) = le {
                pairs.push(("le", le.to_owned()));
            }
            descriptors.push((Labels::new(pairs).unwrap(), i, kind));
        }
    }
    descriptors.sort_by(|a, b| a.0.cmp(&b.0));
    let total = descriptors.len() as u64 * samples_per_series as u64;
    let series = descriptors.iter().map(|(labels, i, kind)| {
        let ts = timestamps(*i, samples_per_series);
        let vs = values(*i, *kind, samples_per_series);
        BlockSeries {
            labels: labels.clone(),
            samples: ts
                .into_iter()
                .zip(vs)
                .map(|(t, v)| Sample::new(t, v))
                .collect(),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let meta = write_block(dir.path(), series, 1, Vec::new())
        .unwrap()
        .unwrap();
    let written = started.elapsed();
    assert_eq!(meta.stats.num_samples, total);
    let block = Block::open(&dir.path().join(&meta.ulid)).unwrap();
    let file_len = |f: &str| {
        std::fs::metadata(dir.path().join(&meta.ulid).join(f))
            .unwrap()
            .len()
    };
    let per_sample = block.size_bytes() as f64 / total as f64;
    println!(
        "agent fleet: {instances} instances x 180 series x {samples_per_series} samples = {total} samples; \
         {} bytes = {per_sample:.3} bytes/sample (index {:.3}, chunks {:.3}); written in {written:.2?}",
        block.size_bytes(),
        file_len(INDEX_FILE) as f64 / total as f64,
        file_len(CHUNKS_FILE) as f64 / total as f64,
    );
    // Spot-check one instance's series read back exactly.
    let matchers = [agentmon_model::Matcher::equal(
        "instance",
        "agent-0003.fleet.internal:9464",
    )];
    let got = block.select(&matchers, i64::MIN, i64::MAX).unwrap();
    assert_eq!(got.len(), if instances > 3 { 180 } else { 0 });
    for s in &got {
        let (_, i, kind) = descriptors.iter().find(|d| d.0 == s.labels).unwrap();
        assert_eq!(
            s.samples.iter().map(|x| x.v).collect::<Vec<_>>(),
            values(*i, *kind, samples_per_series)
        );
    }
    // Loose on purpose: the figure is reported, not pinned.
    assert!(per_sample < 2.0, "{per_sample} bytes/sample");
}
