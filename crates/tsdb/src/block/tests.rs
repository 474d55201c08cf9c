//! Round-trip, corruption, compaction and planning tests for blocks.

use std::path::Path;

use agentmon_model::{Labels, MatchType, Matcher, Sample, STALE_NAN};
use proptest::prelude::*;

use super::*;
use crate::TsdbError;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> BlockSeries {
    BlockSeries {
        labels: labels(pairs),
        samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    }
}

fn m(name: &str, t: MatchType, value: &str) -> Matcher {
    Matcher::new(t, name, value).unwrap()
}

/// Four series, sorted, with a few samples each.
fn sample_set() -> Vec<BlockSeries> {
    let mut v = vec![
        series(
            &[("__name__", "up"), ("job", "a")],
            &[(1000, 1.0), (2000, 1.0), (3000, 0.0)],
        ),
        series(
            &[("__name__", "up"), ("job", "b"), ("env", "prod")],
            &[(1000, 1.0), (2500, 1.0)],
        ),
        series(
            &[("__name__", "up_total"), ("job", "a"), ("env", "dev")],
            &[(1500, 12.5), (2500, 13.75)],
        ),
        series(&[("__name__", "down")], &[(3000, -4.0)]),
    ];
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

fn write(dir: &Path, input: Vec<BlockSeries>) -> Block {
    let meta = write_block(dir, input, 1, Vec::new()).unwrap().unwrap();
    let block = Block::open(&dir.join(&meta.ulid)).unwrap();
    assert_eq!(block.meta(), &meta);
    block
}

fn names(series: &[BlockSeries]) -> Vec<String> {
    series.iter().map(|s| s.labels.to_string()).collect()
}

#[test]
fn write_open_select_round_trip_with_all_matcher_types() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample_set();
    let block = write(dir.path(), input.clone());
    let meta = block.meta();
    assert_eq!((meta.min_time, meta.max_time), (1000, 3000));
    assert_eq!(
        meta.stats,
        BlockStats {
            num_samples: 8,
            num_series: 4,
            num_chunks: 4
        }
    );
    assert_eq!(meta.compaction.sources, vec![meta.ulid.clone()]);
    assert!(block.size_bytes() > 0);

    assert_eq!(block.select(&[], i64::MIN, i64::MAX).unwrap(), input);
    assert_eq!(
        block.iter_series().collect::<Result<Vec<_>>>().unwrap(),
        input
    );
    use MatchType::*;
    let sel = |ms: &[Matcher]| names(&block.select(ms, 0, 10_000).unwrap());
    assert_eq!(
        sel(&[m("__name__", Equal, "up")]),
        ["up{env=\"prod\", job=\"b\"}", "up{job=\"a\"}"]
    );
    assert_eq!(sel(&[m("__name__", RegexMatch, "up.*")]).len(), 3);
    assert_eq!(sel(&[m("env", Equal, "")]), ["down{}", "up{job=\"a\"}"]);
    assert_eq!(sel(&[m("env", NotEqual, "prod")]).len(), 3);
    assert_eq!(sel(&[m("env", RegexNoMatch, "")]).len(), 2);
    assert_eq!(
        sel(&[m("job", RegexMatch, "a|b"), m("env", RegexNoMatch, "dev")]).len(),
        2
    );
    assert_eq!(sel(&[m("job", Equal, "zzz")]), Vec::<String>::new());
    assert_eq!(sel(&[m("nope", Equal, "x")]), Vec::<String>::new());

    let sl = block.series_labels(&[m("job", Equal, "a")]).unwrap();
    assert_eq!(sl, vec![input[2].labels.clone(), input[3].labels.clone()]);
    assert_eq!(block.label_names(&[]).unwrap(), ["__name__", "env", "job"]);
    assert_eq!(
        block.label_names(&[m("__name__", Equal, "down")]).unwrap(),
        ["__name__"]
    );
    assert_eq!(block.label_values("job", &[]).unwrap(), ["a", "b"]);
    assert_eq!(
        block
            .label_values("job", &[m("env", Equal, "prod")])
            .unwrap(),
        ["b"]
    );
    assert_eq!(
        block.label_values("missing", &[]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn special_floats_round_trip_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let weird_nan = f64::from_bits(0x7ff8_dead_beef_0001);
    let values = [
        0.0,
        -0.0,
        STALE_NAN,
        f64::NAN,
        weird_nan,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-310,
        0.1,
    ];
    let samples: Vec<(i64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, v))
        .collect();
    let input = vec![series(&[("__name__", "x")], &samples)];
    let block = write(dir.path(), input.clone());
    // Sample equality compares value bits.
    assert_eq!(block.select(&[], 0, 100).unwrap(), input);
}

#[test]
fn select_restricts_to_the_time_range() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough to span several chunks (by count and by 2h window).
    let samples: Vec<(i64, f64)> = (0..5000).map(|i| (i * 5_000, i as f64)).collect();
    let block = write(dir.path(), vec![series(&[("__name__", "x")], &samples)]);
    assert!(block.meta().stats.num_chunks >= 5);
    let got = block.select(&[], 7_200_000, 7_210_000).unwrap();
    assert_eq!(
        got[0].samples.iter().map(|s| s.t).collect::<Vec<_>>(),
        [7_200_000, 7_205_000, 7_210_000]
    );
    let got = block.select(&[], 7_201_000, 7_204_999).unwrap();
    assert!(
        got.is_empty(),
        "a series without samples in range is omitted"
    );
    let all = block.select(&[], -5, 1_000_000_000).unwrap();
    assert_eq!(all[0].samples.len(), 5000);
    assert!(block.select(&[], 10, 5).unwrap().is_empty());
}

#[test]
fn invalid_input_is_rejected_and_empty_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut unsorted = sample_set();
    unsorted.swap(0, 1);
    let err = write_block(dir.path(), unsorted, 1, Vec::new()).unwrap_err();
    assert!(matches!(err, TsdbError::Invalid { .. }), "{err}");
    let dup = vec![
        series(&[("a", "1")], &[(1, 1.0)]),
        series(&[("a", "1")], &[(2, 1.0)]),
    ];
    assert!(matches!(
        write_block(dir.path(), dup, 1, Vec::new()),
        Err(TsdbError::Invalid { .. })
    ));
    let backwards = vec![series(&[("a", "1")], &[(2, 1.0), (1, 1.0)])];
    assert!(matches!(
        write_block(dir.path(), backwards, 1, Vec::new()),
        Err(TsdbError::Invalid { .. })
    ));
    let empty = vec![series(&[("a", "1")], &[]), series(&[("a", "2")], &[])];
    assert_eq!(write_block(dir.path(), empty, 1, Vec::new()).unwrap(), None);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

fn check_corrupt(dir: &Path) -> std::result::Result<(), String> {
    let block = match Block::open(dir) {
        Err(TsdbError::Corrupt { .. }) => return Ok(()),
        Err(e) => return Err(format!("wrong error {e}")),
        Ok(b) => b,
    };
    match block
        .verify()
        .and_then(|_| block.select(&[], i64::MIN, i64::MAX))
    {
        Err(TsdbError::Corrupt { .. }) => Ok(()),
        Err(e) => Err(format!("wrong error {e}")),
        Ok(_) => Err("damage not detected".into()),
    }
}

#[test]
fn any_damaged_byte_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let meta = write_block(dir.path(), sample_set(), 1, Vec::new())
        .unwrap()
        .unwrap();
    let block_dir = dir.path().join(&meta.ulid);
    for file in [INDEX_FILE, CHUNKS_FILE] {
        let path = block_dir.join(file);
        let original = std::fs::read(&path).unwrap();
        for i in 0..original.len() {
            let mut damaged = original.clone();
            damaged[i] ^= 0x10;
            std::fs::write(&path, &damaged).unwrap();
            check_corrupt(&block_dir).unwrap_or_else(|e| panic!("{file} byte {i}: {e}"));
        }
        for len in [0, 3, original.len() / 2, original.len() - 1] {
            std::fs::write(&path, &original[..len]).unwrap();
            check_corrupt(&block_dir).unwrap_or_else(|e| panic!("{file} cut at {len}: {e}"));
        }
        std::fs::write(&path, &original).unwrap();
    }
    let path = block_dir.join(META_FILE);
    let original = std::fs::read(&path).unwrap();
    std::fs::write(&path, &original[1..]).unwrap();
    let err = Block::open(&block_dir).err().unwrap();
    assert!(
        matches!(&err, TsdbError::Corrupt { path: p, .. } if p.ends_with(META_FILE)),
        "{err}"
    );
    std::fs::write(&path, &original).unwrap();
    Block::open(&block_dir).unwrap();
}

fn meta_at(ulid: &str, min_time: i64, max_time: i64) -> BlockMeta {
    BlockMeta {
        ulid: ulid.into(),
        min_time,
        max_time,
        stats: BlockStats::default(),
        compaction: BlockCompaction {
            level: 1,
            sources: vec![ulid.into()],
        },
        version: BLOCK_VERSION,
    }
}

#[test]
fn compaction_merges_dedupes_and_splits_by_window() {
    let dir = tempfile::tempdir().unwrap();
    let a = vec![
        series(&[("__name__", "x")], &[(0, 1.0), (10, 2.0), (20, 3.0)]),
        series(&[("__name__", "y")], &[(5, 1.0), (150, 9.0)]),
    ];
    let b = vec![
        series(&[("__name__", "x")], &[(10, 20.0), (30, 4.0), (120, 5.0)]),
        series(&[("__name__", "z")], &[(101, 7.0)]),
    ];
    let older = write(dir.path(), a);
    let newer = write(dir.path(), b);
    assert!(older.meta().ulid < newer.meta().ulid);
    // Input order must not matter: the greater ulid wins duplicates.
    let out = compact_blocks(dir.path(), &[&newer, &older], 100).unwrap();
    assert_eq!(out.len(), 2);
    let blocks: Vec<Block> = out
        .iter()
        .map(|m| Block::open(&dir.path().join(&m.ulid)).unwrap())
        .collect();
    let mut sources = vec![older.meta().ulid.clone(), newer.meta().ulid.clone()];
    sources.sort();
    for b in &blocks {
        assert_eq!(b.meta().compaction.level, 2);
        assert_eq!(b.meta().compaction.sources, sources);
    }
    assert_eq!(
        (blocks[0].meta().min_time, blocks[0].meta().max_time),
        (0, 30)
    );
    assert_eq!(
        (blocks[1].meta().min_time, blocks[1].meta().max_time),
        (101, 150)
    );
    let first = blocks[0].select(&[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(
        first,
        vec![
            series(
                &[("__name__", "x")],
                &[(0, 1.0), (10, 20.0), (20, 3.0), (30, 4.0)]
            ),
            series(&[("__name__", "y")], &[(5, 1.0)]),
        ]
    );
    let second = blocks[1].select(&[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(
        second,
        vec![
            series(&[("__name__", "x")], &[(120, 5.0)]),
            series(&[("__name__", "y")], &[(150, 9.0)]),
            series(&[("__name__", "z")], &[(101, 7.0)]),
        ]
    );
    assert!(compact_blocks(dir.path(), &[&older], 0).is_err());
}

#[test]
fn planning_picks_the_first_full_group_of_each_range() {
    const H: i64 = 3_600_000;
    let ranges = [2 * H, 6 * H, 24 * H];
    let two_hour = |u: &str, i: i64| meta_at(u, i * 2 * H, i * 2 * H + 2 * H - 1);
    // Nothing to do with one block per window.
    let metas = vec![two_hour("A", 0), two_hour("B", 1), two_hour("C", 2)];
    assert_eq!(
        plan_compaction(&metas, &ranges, 6 * H),
        Some((vec!["A".into(), "B".into(), "C".into()], 6 * H))
    );
    // The 6h window is not safe yet while the head still starts inside it.
    assert_eq!(plan_compaction(&metas, &ranges, 6 * H - 1), None);
    // Two blocks in the same 2h window are merged first.
    let mut dup = metas.clone();
    dup.push(meta_at("D", 10, 20));
    assert_eq!(
        plan_compaction(&dup, &ranges, 100 * H),
        Some((vec!["A".into(), "D".into()], 2 * H))
    );
    // A 6h block is not regrouped at 2h or 6h; four of them make a 24h block.
    let six = |u: &str, i: i64| meta_at(u, i * 6 * H, i * 6 * H + 6 * H - 1);
    let metas = vec![six("P", 0), six("Q", 1), six("R", 2)];
    assert_eq!(
        plan_compaction(&metas, &ranges, 100 * H),
        Some((vec!["P".into(), "Q".into(), "R".into()], 24 * H))
    );
    assert_eq!(plan_compaction(&metas[..1], &ranges, 100 * H), None);
    assert_eq!(plan_compaction(&[], &ranges, 100 * H), None);
    // A block spanning past a window's end is left out of that window's group.
    let metas = vec![meta_at("X", 0, 7 * H), two_hour("Y", 1)];
    assert_eq!(
        plan_compaction(&metas, &ranges, 100 * H),
        Some((vec!["X".into(), "Y".into()], 24 * H))
    );
}

/// Random sorted series with random, strictly increasing samples.
fn arb_series() -> impl Strategy<Value = Vec<BlockSeries>> {
    let value = prop_oneof![
        (-1000i64..1000).prop_map(|v| v as f64),
        (-100_000i64..100_000).prop_map(|v| v as f64 / 1000.0),
        any::<u64>().prop_map(f64::from_bits),
        Just(STALE_NAN),
    ];
    let samples = prop::collection::vec((1i64..20_000_000, value), 0..300).prop_map(|raw| {
        let mut t = -5_000_000i64;
        raw.into_iter()
            .map(|(dt, v)| {
                t += dt;
                Sample::new(t, v)
            })
            .collect::<Vec<_>>()
    });
    let one = (0u8..4, 0u8..20, samples).prop_map(|(job, inst, samples)| {
        let inst = inst.to_string();
        let pairs = [
            ("__name__", "m"),
            ("job", ["a", "b", "c", "d"][job as usize]),
            ("instance", inst.as_str()),
        ];
        BlockSeries {
            labels: labels(&pairs),
            samples,
        }
    });
    prop::collection::vec(one, 0..30).prop_map(|mut v| {
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v.dedup_by(|a, b| a.labels == b.labels);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_blocks_read_back_and_compact_exactly(input in arb_series(), window_h in 1i64..48) {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<BlockSeries> = input.iter().filter(|s| !s.samples.is_empty()).cloned().collect();
        let Some(meta) = write_block(dir.path(), input, 1, Vec::new()).unwrap() else {
            prop_assert!(expected.is_empty());
            return Ok(());
        };
        let block = Block::open(&dir.path().join(&meta.ulid)).unwrap();
        prop_assert_eq!(&block.select(&[], i64::MIN, i64::MAX).unwrap(), &expected);
        let out = compact_blocks(dir.path(), &[&block], window_h * 3_600_000).unwrap();
        // Reassemble the windows per series; they come out in time order.
        let mut merged: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
        for m in &out {
            let b = Block::open(&dir.path().join(&m.ulid)).unwrap();
            prop_assert_eq!(b.meta().compaction.level, 2);
            for s in b.iter_series() {
                let s = s.unwrap();
                merged.entry(s.labels).or_default().extend(s.samples);
            }
        }
        let merged: Vec<BlockSeries> =
            merged.into_iter().map(|(labels, samples)| BlockSeries { labels, samples }).collect();
        prop_assert_eq!(merged, expected);
    }
}

#[test]
fn blocks_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Block>();
}
