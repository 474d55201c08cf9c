//! What the blocks know about a series the head does not hold: its newest
//! sample and its value at a given time. The write path asks only for
//! samples at or before the newest block's end, so normal ingest (always
//! newer than every block) never pays for these lookups.
//!
//! The write path passes the blocks it snapshotted before taking any series
//! lock: taking the state lock while holding a series lock could deadlock
//! with a query (state, then series) behind a waiting compaction.

use std::sync::Arc;

use agentmon_model::{LabelRef, Matcher, Sample};

use crate::block::Block;

use super::DbInner;

impl DbInner {
    /// The newest (time, value bits) of a series that is not in the head:
    /// from its tombstone, else — when the batch reaches back into the time
    /// the blocks cover — from the blocks, remembered as a tombstone.
    pub(super) fn newest_outside_head(
        &self,
        blocks: &[Arc<Block>],
        hash: crate::head::LabelHash,
        labels: &[LabelRef<'_>],
        samples: &[Sample],
    ) -> (i64, u64) {
        if let Some(newest) = self.head.tombstone(hash) {
            return newest;
        }
        let Some(oldest) = samples.iter().map(|s| s.t).min() else {
            return (i64::MIN, 0);
        };
        let blocks_end = blocks.iter().map(|b| b.meta().max_time).max();
        if blocks_end.is_none_or(|end| oldest > end) {
            return (i64::MIN, 0);
        }
        match block_samples(blocks, labels, oldest, i64::MAX).last() {
            Some(newest) => {
                let newest = (newest.t, newest.v.to_bits());
                self.head.set_tombstone(hash, newest);
                newest
            }
            None => (i64::MIN, 0),
        }
    }
}

/// The value bits stored in the blocks for this series at time `t`.
pub(super) fn block_value_at(
    blocks: &[Arc<Block>],
    labels: &[LabelRef<'_>],
    t: i64,
) -> Option<u64> {
    block_samples(blocks, labels, t, t)
        .first()
        .map(|s| s.v.to_bits())
}

/// The samples of exactly this series in [mint, maxt] across blocks; at
/// equal times the newer block wins, as on read.
fn block_samples(
    blocks: &[Arc<Block>],
    labels: &[LabelRef<'_>],
    mint: i64,
    maxt: i64,
) -> Vec<Sample> {
    let mut blocks: Vec<&Arc<Block>> = blocks
        .iter()
        .filter(|b| b.meta().max_time >= mint && b.meta().min_time <= maxt)
        .collect();
    if blocks.is_empty() {
        return Vec::new();
    }
    blocks.sort_by(|a, b| a.meta().ulid.cmp(&b.meta().ulid));
    let matchers: Vec<Matcher> = labels
        .iter()
        .map(|l| Matcher::equal(l.name, l.value))
        .collect();
    let mut samples: Vec<Sample> = Vec::new();
    for block in blocks {
        let found = match block.select(&matchers, mint, maxt) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(block = %block.meta().ulid, error = %e, "could not read a block while checking a write");
                continue;
            }
        };
        for series in found.into_iter().filter(|s| s.labels.len() == labels.len()) {
            for sample in series.samples {
                match samples.binary_search_by_key(&sample.t, |s| s.t) {
                    Ok(i) => samples[i] = sample,
                    Err(i) => samples.insert(i, sample),
                }
            }
        }
    }
    samples
}
