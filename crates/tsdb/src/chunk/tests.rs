//! Round-trip, boundary and memory tests for [`XorChunk`].

use agentmon_model::{Sample, STALE_NAN_BITS};
use proptest::prelude::*;

use super::{XorChunk, DOD_BUCKETS, MAX_SAMPLES_PER_CHUNK};

/// Encodes `samples` and checks that decoding gives the same timestamps and
/// value bit patterns, plus the chunk's bookkeeping.
fn assert_round_trip(samples: &[(i64, u64)]) {
    let mut c = XorChunk::new();
    for &(t, bits) in samples {
        c.append(t, f64::from_bits(bits));
    }
    check(&c, samples);
    // Trimming must not change the content.
    c.shrink_to_fit();
    check(&c, samples);
}

fn check(c: &XorChunk, samples: &[(i64, u64)]) {
    assert_eq!(c.len(), samples.len());
    assert_eq!(c.is_empty(), samples.is_empty());
    let decoded: Vec<(i64, u64)> = c.iter().map(|s| (s.t, s.v.to_bits())).collect();
    assert_eq!(decoded, samples);
    assert_eq!(c.iter().len(), samples.len());
    match (samples.first(), samples.last()) {
        (Some(first), Some(last)) => {
            assert_eq!(c.min_time(), first.0);
            assert_eq!(c.max_time(), last.0);
            assert_eq!(c.last_value().map(f64::to_bits), Some(last.1));
        }
        _ => {
            assert_eq!(c.min_time(), i64::MAX);
            assert_eq!(c.max_time(), i64::MIN);
            assert_eq!(c.last_value(), None);
        }
    }
}

#[test]
fn empty_chunk() {
    let c = XorChunk::default();
    assert_round_trip(&[]);
    assert_eq!(c.iter().next(), None);
    assert!(c.encoded_bytes().is_empty());
    assert_eq!(c.memory_bytes(), std::mem::size_of::<XorChunk>());
}

#[test]
fn struct_stays_small() {
    // One open chunk per series, a million series: every word counts.
    assert!(std::mem::size_of::<XorChunk>() <= 64);
}

#[test]
fn chunk_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<XorChunk>();
}

#[test]
fn one_and_two_samples() {
    assert_round_trip(&[(0, 0)]);
    assert_round_trip(&[(-5, 1.5f64.to_bits())]);
    assert_round_trip(&[(i64::MIN, u64::MAX)]);
    assert_round_trip(&[(i64::MAX, STALE_NAN_BITS)]);
    assert_round_trip(&[(1, 1), (2, 1)]);
    assert_round_trip(&[(i64::MIN, 0), (i64::MAX, u64::MAX)]);
}

#[test]
fn special_values_keep_their_bits() {
    let specials = [
        STALE_NAN_BITS,
        f64::NAN.to_bits(),
        0x7ff8_dead_beef_0001, // quiet NaN with payload
        0xfff0_0000_0000_0001, // negative signalling NaN
        (-0.0f64).to_bits(),
        0.0f64.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        1,                     // smallest subnormal
        0x000f_ffff_ffff_ffff, // largest subnormal
        f64::MIN_POSITIVE.to_bits(),
        f64::MAX.to_bits(),
        f64::MIN.to_bits(),
        u64::MAX,
        0x8000_0000_0000_0001,
    ];
    let mut samples = Vec::new();
    let mut t = 1_700_000_000_000;
    // Each special after each other, so every XOR shape appears.
    for &a in &specials {
        for &b in &specials {
            samples.push((t, a));
            samples.push((t + 15_000, b));
            t += 30_000;
        }
    }
    assert_round_trip(&samples);
}

#[test]
fn every_dod_bucket_and_its_edges() {
    let mut dods = vec![0i64, 1, -1];
    for &w in &DOD_BUCKETS[1..] {
        let half = 1i64 << (w - 1);
        dods.extend([half - 1, half, -half, -half - 1]);
    }
    dods.extend([i64::MAX / 4, -(i64::MAX / 4), 1 << 40]);
    let mut samples = vec![(0i64, 0u64), (1_000_000_000_000, 1)];
    let mut delta = 1_000_000_000_000i64;
    for (i, &dod) in dods.iter().enumerate() {
        // Keep deltas positive so timestamps stay increasing.
        delta = (delta + dod).max(1);
        let t = samples.last().unwrap().0 + delta;
        samples.push((t, i as u64));
    }
    assert_round_trip(&samples);
}

#[test]
fn extreme_timestamps() {
    assert_round_trip(&[
        (i64::MIN, 1),
        (i64::MIN + 1, 2),
        (i64::MAX - 1, 3),
        (i64::MAX, 4),
    ]);
    assert_round_trip(&[(-3, 0), (-2, 0), (-1, 0), (0, 0), (1, 0)]);
    // Deltas beyond i64::MAX, in both orders of huge and tiny.
    assert_round_trip(&[(i64::MIN, 0), (0, 0), (i64::MAX, 0)]);
    assert_round_trip(&[(i64::MIN, 0), (i64::MIN + 1, 0), (i64::MAX, 0)]);
    assert_round_trip(&[(i64::MIN, 0), (i64::MAX - 1, 0), (i64::MAX, 0)]);
}

#[test]
fn regular_scrapes_compress_well() {
    let mut c = XorChunk::new();
    for i in 0..MAX_SAMPLES_PER_CHUNK as i64 {
        c.append(1_700_000_000_000 + i * 15_000, 42.0);
    }
    // 1 bit of timestamp and 1 bit of value per sample after the header.
    assert!(c.encoded_bytes().len() < 50, "{}", c.encoded_bytes().len());
}

#[test]
fn growth_stays_near_the_projected_size() {
    let mut c = XorChunk::new();
    let mut v = 0.0f64;
    for i in 0..MAX_SAMPLES_PER_CHUNK as i64 {
        v += (i % 7) as f64;
        c.append(1_700_000_000_000 + i * 15_000 + (i * 37) % 41, v);
    }
    let used = c.encoded_bytes().len();
    let cap = c.memory_bytes() - std::mem::size_of::<XorChunk>();
    assert!(
        cap <= used + used / 2 + 64,
        "capacity {cap} for {used} bytes"
    );
    c.shrink_to_fit();
    assert_eq!(c.memory_bytes() - std::mem::size_of::<XorChunk>(), used);
    // Appending after a shrink still works.
    c.append(c.max_time() + 1, 1.0);
    assert_eq!(c.len(), MAX_SAMPLES_PER_CHUNK + 1);
    assert_eq!(c.iter().last(), Some(Sample::new(c.max_time(), 1.0)));
}

#[test]
fn long_chunks_beyond_the_usual_size() {
    let samples: Vec<(i64, u64)> = (0..5_000i64)
        .map(|i| (i * 1000 + (i % 3), (i as f64 * 0.1).to_bits()))
        .collect();
    assert_round_trip(&samples);
}

/// Timestamp gaps mixing scrape-like, tiny and enormous steps.
fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 14_960u64..15_040,
        2 => 1u64..300,
        1 => 1u64..5_000_000,
        1 => 1u64..=u64::MAX,
    ]
}

/// Values mixing repeats, counter-like steps and arbitrary bit patterns.
#[derive(Clone, Debug)]
enum Val {
    Same,
    Add(u8),
    Bits(u64),
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        Just(Val::Same),
        any::<u8>().prop_map(Val::Add),
        any::<u64>().prop_map(Val::Bits),
        prop::sample::select(vec![
            STALE_NAN_BITS,
            f64::NAN.to_bits(),
            (-0.0f64).to_bits(),
            f64::INFINITY.to_bits(),
            1,
        ])
        .prop_map(Val::Bits),
    ]
}

fn start() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        1_600_000_000_000i64..1_800_000_000_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trips_any_increasing_series(
        t0 in start(),
        steps in prop::collection::vec((gap(), val()), 0..300),
    ) {
        let mut samples = vec![(t0, 0x4045_0000_0000_0000u64)];
        for (g, v) in steps {
            let (t, prev) = *samples.last().unwrap();
            // Stop where the sequence would pass i64::MAX.
            let Some(t) = t.checked_add_unsigned(g) else { break };
            let bits = match v {
                Val::Same => prev,
                Val::Add(d) => (f64::from_bits(prev) + f64::from(d)).to_bits(),
                Val::Bits(b) => b,
            };
            samples.push((t, bits));
        }
        assert_round_trip(&samples);
    }
}
