//! Cutting the head into blocks. The head's chunks are taken out under the
//! commit lock (a short pause for writers), kept queryable as a [`Frozen`]
//! set while the blocks are written, and the WAL segments before the cut are
//! removed only once every frozen set is safely on disk.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::open::blocks_dir;
use super::{DbInner, Frozen};
use crate::block::{write_block, Block, BlockSeries};
use crate::head::symbols::Symbols;
use crate::{Result, TsdbError};

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlushSummary {
    pub blocks_written: usize,
    pub series: u64,
    pub samples: u64,
    pub wal_bytes_removed: u64,
    pub head_series_removed: usize,
    /// Compactions run right after the flush (blocks of one window merged).
    pub compactions: usize,
}

/// Width of the windows blocks are cut at (the smallest compaction range).
pub(crate) const BLOCK_WINDOW_MS: i64 = 2 * 3_600_000;

impl DbInner {
    /// Flushes, then compacts and applies retention, so what is on disk
    /// afterwards is what a long-running server would settle to.
    pub(super) fn flush(&self) -> Result<FlushSummary> {
        let mut summary = {
            let _maintenance = self.maintenance.lock();
            self.flush_locked()?
        };
        summary.compactions = self.compact_all()?;
        self.apply_retention()?;
        Ok(summary)
    }

    /// Flushes with the maintenance lock already held.
    pub(super) fn flush_locked(&self) -> Result<FlushSummary> {
        let cut_segment = {
            let mut commit = self.commit.lock();
            let wal = commit.wal.as_mut().ok_or(TsdbError::Closed)?;
            let segment = wal.rotate()?;
            // Metadata lives only in the WAL and memory: carry it into the new epoch.
            for (family, meta) in self.head.metadata.read().iter() {
                wal.add_metadata(family, meta);
            }
            wal.commit()?;
            commit.wal_epoch = segment;
            // Queries read the head under the state lock: holding it while the
            // chunks move to the frozen set means no query sees them in neither.
            let mut state = self.state.write();
            let series = self.head.freeze();
            self.head_min_time.store(i64::MAX, Ordering::Relaxed);
            self.head_max_time.store(i64::MIN, Ordering::Relaxed);
            if !series.is_empty() {
                let min_time = series
                    .iter()
                    .filter_map(|s| s.chunks.first().map(|c| c.min_time()))
                    .min();
                let ooo_min = series
                    .iter()
                    .filter_map(|s| s.out_of_order.first().map(|x| x.t))
                    .min();
                let max_time = series
                    .iter()
                    .filter_map(|s| s.chunks.last().map(|c| c.max_time()))
                    .max();
                let ooo_max = series
                    .iter()
                    .filter_map(|s| s.out_of_order.last().map(|x| x.t))
                    .max();
                let frozen = Frozen {
                    series,
                    min_time: min_time
                        .into_iter()
                        .chain(ooo_min)
                        .min()
                        .unwrap_or(i64::MAX),
                    max_time: max_time
                        .into_iter()
                        .chain(ooo_max)
                        .max()
                        .unwrap_or(i64::MIN),
                };
                state.frozen.push(Arc::new(frozen));
            }
            segment
        };

        let mut summary = FlushSummary::default();
        let pending: Vec<Arc<Frozen>> = self.state.read().frozen.clone();
        for frozen in pending {
            let blocks = match self.write_frozen(&frozen, &mut summary) {
                Ok(blocks) => blocks,
                Err(e) => {
                    self.metrics.flush_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let mut state = self.state.write();
            state.frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
            state.blocks.extend(blocks);
            state.blocks.sort_by(|a, b| {
                (a.meta().min_time, &a.meta().ulid).cmp(&(b.meta().min_time, &b.meta().ulid))
            });
        }

        // Everything up to the cut is in blocks now.
        {
            let mut commit = self.commit.lock();
            if let Some(wal) = commit.wal.as_mut() {
                summary.wal_bytes_removed = wal.remove_segments_before(cut_segment)?;
            }
            summary.head_series_removed = self.head.garbage_collect();
        }
        self.metrics.flushes.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .head_series_removed
            .fetch_add(summary.head_series_removed as u64, Ordering::Relaxed);
        tracing::info!(
            blocks = summary.blocks_written,
            series = summary.series,
            samples = summary.samples,
            wal_bytes_removed = summary.wal_bytes_removed,
            "head flushed to blocks"
        );
        Ok(summary)
    }

    /// Writes a frozen set as one block per window it covers.
    fn write_frozen(&self, frozen: &Frozen, summary: &mut FlushSummary) -> Result<Vec<Arc<Block>>> {
        let mut order: Vec<(Arc<crate::head::series::MemSeries>, usize)> = frozen
            .series
            .iter()
            .enumerate()
            .filter_map(|(i, f)| self.head.get(f.series_ref).map(|s| (s, i)))
            .collect();
        {
            let symbols = self.head.symbols.read();
            order.sort_by(|a, b| compare_interned(&symbols, &a.0.labels, &b.0.labels));
        }
        let first_window = frozen.min_time.div_euclid(BLOCK_WINDOW_MS);
        let last_window = frozen.max_time.div_euclid(BLOCK_WINDOW_MS);
        let mut blocks = Vec::new();
        for window in first_window..=last_window {
            let mint = window * BLOCK_WINDOW_MS;
            let maxt = mint + BLOCK_WINDOW_MS - 1;
            let series = order.iter().filter_map(|(series, i)| {
                let samples = frozen.series[*i].samples(mint, maxt);
                (!samples.is_empty()).then(|| BlockSeries {
                    labels: self.head.labels_of(series),
                    samples,
                })
            });
            if let Some(meta) = write_block(&blocks_dir(&self.dir), series, 1, Vec::new())? {
                summary.blocks_written += 1;
                summary.series += meta.stats.num_series;
                summary.samples += meta.stats.num_samples;
                let block = Block::open(&blocks_dir(&self.dir).join(&meta.ulid))?;
                blocks.push(Arc::new(block));
            }
        }
        Ok(blocks)
    }
}

/// Orders interned label sets as [`agentmon_model::Labels`] orders owned ones.
fn compare_interned(symbols: &Symbols, a: &[(u32, u32)], b: &[(u32, u32)]) -> CmpOrdering {
    for (x, y) in a.iter().zip(b) {
        let ord = symbols
            .get(x.0)
            .cmp(symbols.get(y.0))
            .then_with(|| symbols.get(x.1).cmp(symbols.get(y.1)));
        if ord != CmpOrdering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}
