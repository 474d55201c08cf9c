//! Reading the store over a time range: the head, any head chunks on their
//! way to a block, and the blocks, merged per series.

use std::collections::BTreeSet;
use std::sync::Arc;

use agentmon_model::{Labels, Matcher, Sample};

use crate::block::{Block, ChunkMeta, FrameCache};
use crate::db::DbInner;
use crate::head::MemoryPart;
use crate::{Result, TsdbError};

/// One series and its samples in the queried range.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Where one source's share of a series is until the series is read.
enum Part {
    /// A block's chunks overlapping the range, by position in the block list.
    Block {
        block: usize,
        chunks: Vec<ChunkMeta>,
    },
    /// Head or frozen data, copied still compressed.
    Memory(MemoryPart),
}

/// One source of series for [`Querier::select_each`], in label order.
enum Source {
    /// A block's selected series ids (label order), read one at a time.
    Block {
        block: usize,
        ids: std::vec::IntoIter<u32>,
    },
    /// Head or frozen data already copied, in label order.
    Memory(std::vec::IntoIter<(Labels, MemoryPart)>),
}

impl Source {
    /// The next series with data in range, if any.
    fn next(
        &mut self,
        blocks: &[Arc<Block>],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<(Labels, Part)>> {
        match self {
            Source::Block { block, ids } => {
                for id in ids.by_ref() {
                    let (labels, chunks) = blocks[*block].series_chunks(id, mint, maxt)?;
                    if !chunks.is_empty() {
                        return Ok(Some((
                            labels,
                            Part::Block {
                                block: *block,
                                chunks,
                            },
                        )));
                    }
                }
                Ok(None)
            }
            Source::Memory(parts) => Ok(parts
                .next()
                .map(|(labels, copied)| (labels, Part::Memory(copied)))),
        }
    }
}

/// A reader over [mint, maxt] (inclusive, milliseconds). Each call sees the
/// store as it is at that moment.
pub struct Querier {
    inner: Arc<DbInner>,
    mint: i64,
    maxt: i64,
}

impl Querier {
    pub(crate) fn new(inner: Arc<DbInner>, mint: i64, maxt: i64) -> Querier {
        Querier { inner, mint, maxt }
    }

    pub fn mint(&self) -> i64 {
        self.mint
    }

    pub fn maxt(&self) -> i64 {
        self.maxt
    }

    /// The blocks overlapping the range, oldest first.
    fn blocks(&self) -> Vec<Arc<Block>> {
        let state = self.inner.state.read();
        state
            .blocks
            .iter()
            .filter(|b| b.meta().max_time >= self.mint && b.meta().min_time <= self.maxt)
            .cloned()
            .collect()
    }

    /// The series selected by `matchers` with their samples in range,
    /// sorted by labels. Where sources overlap at a timestamp, the newest
    /// source wins: head over frozen chunks over later blocks over earlier.
    pub fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        self.select_limited(matchers, usize::MAX)
    }

    /// Like [`Querier::select`], but gives up with
    /// [`TsdbError::TooManySamples`] as soon as the samples read exceed
    /// `max_samples`, so a query cannot make the process hold far more than
    /// it is allowed.
    pub fn select_limited(&self, matchers: &[Matcher], max_samples: usize) -> Result<Vec<Series>> {
        if let Some(found) = self.select_head_only(matchers, max_samples)? {
            return Ok(found);
        }
        let mut out = Vec::new();
        let mut loaded = 0usize;
        self.select_each(matchers, &mut |series| {
            loaded = loaded.saturating_add(series.samples.len());
            if loaded > max_samples {
                return false;
            }
            out.push(series);
            true
        })?;
        if loaded > max_samples {
            return Err(TsdbError::TooManySamples { limit: max_samples });
        }
        Ok(out)
    }

    /// [`Querier::select_limited`] when only the head holds data in range
    /// (the usual case for recent data): the head's series decoded under
    /// their locks, with no compressed copy first and nothing to merge.
    /// `None` when frozen chunks or blocks overlap the range.
    fn select_head_only(
        &self,
        matchers: &[Matcher],
        max_samples: usize,
    ) -> Result<Option<Vec<Series>>> {
        // Under the state lock, as in `select_each`, so a flush cannot move
        // data out of the head while we look.
        let state = self.inner.state.read();
        if state
            .frozen
            .iter()
            .any(|f| self.overlaps(f.min_time, f.max_time))
            || state
                .blocks
                .iter()
                .any(|b| self.overlaps(b.meta().min_time, b.meta().max_time))
        {
            return Ok(None);
        }
        let decoded =
            self.inner
                .head
                .select_decoded(matchers, self.mint, self.maxt, max_samples)?;
        drop(state);
        Ok(Some(decoded))
    }

    /// Whether data from `min_time` to `max_time` overlaps the range read.
    fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        max_time >= self.mint && min_time <= self.maxt
    }

    /// Calls `f` with each selected series and its samples in range, in
    /// label order, reading one series at a time: what is held meanwhile is
    /// the head's selected series (labels, and data copied still
    /// compressed), the ids of the blocks' selected series and a few
    /// decompressed block frames; block series' labels are read as the
    /// merge reaches them. `f` returns whether to go on. Sources are merged
    /// as in [`Querier::select`].
    pub fn select_each(
        &self,
        matchers: &[Matcher],
        f: &mut dyn FnMut(Series) -> bool,
    ) -> Result<()> {
        let (mint, maxt) = (self.mint, self.maxt);
        // Head and frozen chunks are copied under the state lock so a flush
        // cannot move data between them while we look.
        let (blocks, memory) = {
            let state = self.inner.state.read();
            let mut memory: Vec<Vec<(Labels, MemoryPart)>> = Vec::new();
            let relevant: Vec<_> = state
                .frozen
                .iter()
                .filter(|f| self.overlaps(f.min_time, f.max_time))
                .collect();
            if !relevant.is_empty() {
                let selected = self.inner.head.select_sorted(matchers)?;
                for frozen in relevant {
                    let mut part = Vec::new();
                    for (r, series) in &selected {
                        let Some(fs) = frozen.get(*r) else { continue };
                        let copied = fs.copy_range(mint, maxt);
                        if !copied.is_empty() {
                            part.push((self.inner.head.labels_of(series), copied));
                        }
                    }
                    memory.push(part);
                }
            }
            memory.push(self.inner.head.select_parts(matchers, mint, maxt)?);
            let mut blocks: Vec<Arc<Block>> = state
                .blocks
                .iter()
                .filter(|b| self.overlaps(b.meta().min_time, b.meta().max_time))
                .cloned()
                .collect();
            // Oldest block first so later sources override earlier ones.
            blocks.sort_by(|a, b| a.meta().ulid.cmp(&b.meta().ulid));
            (blocks, memory)
        };
        // One sorted source per block, then per frozen set, then the head,
        // in the order of precedence `merge_samples` expects.
        let mut sources: Vec<Source> = Vec::with_capacity(blocks.len() + memory.len());
        for (i, block) in blocks.iter().enumerate() {
            sources.push(Source::Block {
                block: i,
                ids: block.select_ids(matchers, mint, maxt)?.into_iter(),
            });
        }
        // Memory parts come in label order already.
        for part in memory {
            sources.push(Source::Memory(part.into_iter()));
        }
        if let [Source::Memory(only)] = sources.as_mut_slice() {
            // One source (the usual case for recent data): nothing to merge.
            for (labels, part) in only {
                let samples = part.samples(mint, maxt);
                if samples.is_empty() {
                    continue;
                }
                if !f(Series { labels, samples }) {
                    break;
                }
            }
            return Ok(());
        }
        let mut next: Vec<Option<(Labels, Part)>> = Vec::with_capacity(sources.len());
        for source in &mut sources {
            next.push(source.next(&blocks, mint, maxt)?);
        }
        let mut caches: Vec<FrameCache> = blocks.iter().map(|_| FrameCache::default()).collect();
        while let Some(smallest) = next
            .iter()
            .flatten()
            .map(|(labels, _)| labels)
            .min()
            .cloned()
        {
            let mut read = Vec::new();
            for (i, slot) in next.iter_mut().enumerate() {
                if slot.as_ref().is_none_or(|(labels, _)| *labels != smallest) {
                    continue;
                }
                if let Some((_, part)) = slot.take() {
                    read.push(match part {
                        Part::Block { block, chunks } => {
                            blocks[block].read_samples(&chunks, mint, maxt, &mut caches[block])?
                        }
                        Part::Memory(copied) => copied.samples(mint, maxt),
                    });
                }
                *slot = sources[i].next(&blocks, mint, maxt)?;
            }
            let samples = merge_samples(read);
            if samples.is_empty() {
                continue;
            }
            if !f(Series {
                labels: smallest,
                samples,
            }) {
                break;
            }
        }
        Ok(())
    }

    /// Label sets of the selected series that have samples in range.
    pub fn series(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let mut out: BTreeSet<Labels> = BTreeSet::new();
        {
            let state = self.inner.state.read();
            out.extend(
                self.inner
                    .head
                    .series_labels(matchers, self.mint, self.maxt)?,
            );
            let relevant: Vec<_> = state
                .frozen
                .iter()
                .filter(|f| f.max_time >= self.mint && f.min_time <= self.maxt)
                .collect();
            if !relevant.is_empty() {
                for r in self.inner.head.postings_for(matchers)? {
                    let in_range = relevant.iter().any(|f| {
                        f.get(r)
                            .is_some_and(|fs| !fs.samples(self.mint, self.maxt).is_empty())
                    });
                    if in_range {
                        if let Some(series) = self.inner.head.get(r) {
                            out.insert(self.inner.head.labels_of(&series));
                        }
                    }
                }
            }
        }
        for block in self.blocks() {
            out.extend(block.series_labels(matchers)?);
        }
        Ok(out.into_iter().collect())
    }

    /// Label names of the selected series (all series without matchers).
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut out: BTreeSet<String> =
            self.inner.head.label_names(matchers)?.into_iter().collect();
        for block in self.blocks() {
            out.extend(block.label_names(matchers)?);
        }
        Ok(out.into_iter().collect())
    }

    /// Values of label `name` among the selected series.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut out: BTreeSet<String> = self
            .inner
            .head
            .label_values(name, matchers)?
            .into_iter()
            .collect();
        for block in self.blocks() {
            out.extend(block.label_values(name, matchers)?);
        }
        Ok(out.into_iter().collect())
    }
}

/// Merges time-sorted sample lists; at equal timestamps the later list wins.
/// Shared by reads and block compaction, which must agree on who wins.
pub(crate) fn merge_samples(mut parts: Vec<Vec<Sample>>) -> Vec<Sample> {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all: Vec<(i64, usize, f64)> = parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.iter().map(move |s| (s.t, i, s.v)))
        .collect();
    all.sort_by_key(|&(t, rank, _)| (t, rank));
    let mut out: Vec<Sample> = Vec::with_capacity(all.len());
    for (t, _, v) in all {
        match out.last_mut() {
            Some(last) if last.t == t => last.v = v,
            _ => out.push(Sample::new(t, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_parts_win_at_equal_timestamps() {
        let a = vec![Sample::new(1, 1.0), Sample::new(2, 2.0)];
        let b = vec![Sample::new(2, 20.0), Sample::new(3, 30.0)];
        let merged = merge_samples(vec![a, b]);
        assert_eq!(
            merged,
            vec![
                Sample::new(1, 1.0),
                Sample::new(2, 20.0),
                Sample::new(3, 30.0)
            ]
        );
    }
}
