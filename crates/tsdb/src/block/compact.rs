//! Merging blocks ([`compact_blocks`]) and choosing what to merge
//! ([`plan_compaction`]).

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::path::Path;

use agentmon_model::{Labels, Sample};

use super::meta::BlockMeta;
use super::reader::{Block, SeriesIter};
use super::writer::BlockWriter;
use super::BlockSeries;
use crate::{Result, TsdbError};

/// Merges blocks into new block(s) in `blocks_dir`: a k-way merge by labels,
/// samples merged by time; of samples with equal timestamps one is kept, the
/// one from the block with the greater ulid (the newer data). The output is
/// one block per aligned window of `window` ms (`floor(t/window)*window`)
/// that has data, at level max(input levels) + 1, with the union of the
/// inputs' sources. Series are streamed one at a time, so memory grows with
/// the number of series, not samples. The inputs are left in place.
pub fn compact_blocks(blocks_dir: &Path, inputs: &[&Block], window: i64) -> Result<Vec<BlockMeta>> {
    if window <= 0 {
        return Err(TsdbError::Invalid {
            what: "compaction window",
            reason: format!("{window} ms"),
        });
    }
    // Ascending ulid order, so the last sample seen for a timestamp wins.
    let mut ordered: Vec<&Block> = inputs.to_vec();
    ordered.sort_by(|a, b| a.meta().ulid.cmp(&b.meta().ulid));
    let level = ordered
        .iter()
        .map(|b| b.meta().compaction.level)
        .max()
        .unwrap_or(0)
        + 1;
    let mut sources: Vec<String> = ordered
        .iter()
        .flat_map(|b| b.meta().compaction.sources.iter().cloned())
        .collect();
    sources.sort();
    sources.dedup();

    let mut iters: Vec<Peekable<SeriesIter<'_>>> =
        ordered.iter().map(|b| b.iter_series().peekable()).collect();
    let mut writers: BTreeMap<i64, BlockWriter> = BTreeMap::new();
    while let Some(series) = next_merged(&mut iters)? {
        for part in split_windows(&series.samples, window) {
            let start = part[0].t.div_euclid(window);
            let writer = match writers.get_mut(&start) {
                Some(w) => w,
                None => writers.entry(start).or_insert(BlockWriter::create(
                    blocks_dir,
                    level,
                    sources.clone(),
                )?),
            };
            writer.add(&series.labels, part)?;
        }
    }
    let mut out = Vec::with_capacity(writers.len());
    for (_, writer) in writers {
        out.extend(writer.finish()?);
    }
    Ok(out)
}

/// The next series in label order across all inputs, with the samples of
/// every input that has it merged.
fn next_merged(iters: &mut [Peekable<SeriesIter<'_>>]) -> Result<Option<BlockSeries>> {
    let mut smallest: Option<Labels> = None;
    for it in iters.iter_mut() {
        match it.peek() {
            Some(Ok(s)) if smallest.as_ref().is_some_and(|l| *l <= s.labels) => {}
            Some(Ok(s)) => smallest = Some(s.labels.clone()),
            Some(Err(_)) => {
                return Err(it.next().and_then(|r| r.err()).unwrap_or(TsdbError::Closed))
            }
            None => {}
        }
    }
    let Some(labels) = smallest else {
        return Ok(None);
    };
    let mut parts: Vec<Vec<Sample>> = Vec::new();
    for it in iters.iter_mut() {
        if matches!(it.peek(), Some(Ok(s)) if s.labels == labels) {
            if let Some(Ok(s)) = it.next() {
                parts.push(s.samples);
            }
        }
    }
    let samples = if parts.len() == 1 {
        parts.pop().unwrap_or_default()
    } else {
        // Oldest block first, so the newer block's sample wins at equal times.
        crate::querier::merge_samples(parts)
    };
    Ok(Some(BlockSeries { labels, samples }))
}

/// Splits time-sorted samples at multiples of `window`.
fn split_windows(samples: &[Sample], window: i64) -> Vec<&[Sample]> {
    let mut out = Vec::new();
    let mut rest = samples;
    while let Some(first) = rest.first() {
        let w = first.t.div_euclid(window);
        let n = rest
            .iter()
            .position(|s| s.t.div_euclid(window) != w)
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(n);
        out.push(part);
        rest = tail;
    }
    out
}

/// Which blocks to compact next, and into windows of which size.
///
/// `ranges` ascend, each a multiple of the previous (e.g. 2h, 6h, 24h,
/// 72h); blocks never straddle a `ranges[0]` window. For each range R in
/// ascending order, blocks lying wholly inside one aligned window of R are
/// grouped by window; the first group (oldest window first) with at least
/// two blocks whose window ends at or before `safe_before` (the head's min
/// time, so no more data arrives there) is returned as ulids with R.
pub fn plan_compaction(
    metas: &[BlockMeta],
    ranges: &[i64],
    safe_before: i64,
) -> Option<(Vec<String>, i64)> {
    for &range in ranges.iter().filter(|&&r| r > 0) {
        let mut groups: BTreeMap<i64, Vec<&BlockMeta>> = BTreeMap::new();
        for m in metas {
            let start = m.min_time.div_euclid(range).saturating_mul(range);
            if m.max_time < start.saturating_add(range) {
                groups.entry(start).or_default().push(m);
            }
        }
        for (start, mut group) in groups {
            if group.len() >= 2 && start.saturating_add(range) <= safe_before {
                group.sort_by(|a, b| (a.min_time, &a.ulid).cmp(&(b.min_time, &b.ulid)));
                return Some((group.into_iter().map(|m| m.ulid.clone()).collect(), range));
            }
        }
    }
    None
}
