//! Background upkeep: cut the head into blocks once it spans long enough,
//! compact blocks into larger ones, and delete blocks past retention.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::flush::BLOCK_WINDOW_MS;
use super::open::blocks_dir;
use super::{Background, DbInner};
use crate::block::{compact_blocks, plan_compaction, Block};
use crate::Result;

/// How often the background thread looks for work.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

pub(super) fn start(inner: Arc<DbInner>) -> Background {
    let (stop, stopped) = channel::<()>();
    let handle = std::thread::Builder::new()
        .name("tsdb-maintenance".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(MAINTENANCE_INTERVAL) {
                inner.maintain();
            }
        })
        .expect("spawning the maintenance thread");
    Background { stop, handle }
}

impl DbInner {
    fn maintain(&self) {
        let span = self
            .head_max_time
            .load(Ordering::Relaxed)
            .saturating_sub(self.head_min_time.load(Ordering::Relaxed));
        // Keep half a block's worth beyond the block duration in memory, as
        // Prometheus does, so recent queries stay in the head.
        let threshold = self.opts.head_block_duration.as_millis() as i64 * 3 / 2;
        if span >= threshold {
            let _maintenance = self.maintenance.lock();
            if let Err(e) = self.flush_locked() {
                tracing::error!(error = %e, "flushing the head failed; its data stays in the WAL");
            }
        }
        if let Err(e) = self.compact_all() {
            tracing::error!(error = %e, "compaction failed");
        }
        if let Err(e) = self.apply_retention() {
            tracing::error!(error = %e, "applying retention failed");
        }
    }

    /// Compaction ranges: 2h, 6h, 24h, 72h, ... up to a tenth of the
    /// retention time (at most 31 days), as Prometheus sizes its blocks.
    fn compaction_ranges(&self) -> Vec<i64> {
        let limit = (self.opts.retention_time.as_millis() as i64 / 10).min(31 * 24 * 3_600_000);
        let mut ranges = vec![BLOCK_WINDOW_MS];
        let mut factor = 3;
        while let Some(&last) = ranges.last() {
            let next = last * factor;
            if next > limit {
                break;
            }
            ranges.push(next);
            factor = if factor == 3 { 4 } else { 3 };
        }
        ranges
    }

    /// Compacts until nothing is left to do; returns how many compactions ran.
    pub(super) fn compact_all(&self) -> Result<usize> {
        let _maintenance = self.maintenance.lock();
        let ranges = self.compaction_ranges();
        let mut done = 0;
        loop {
            let (metas, safe_before) = {
                let state = self.state.read();
                let frozen_min = state
                    .frozen
                    .iter()
                    .map(|f| f.min_time)
                    .min()
                    .unwrap_or(i64::MAX);
                let safe = frozen_min.min(self.head_min_time.load(Ordering::Relaxed));
                (
                    state
                        .blocks
                        .iter()
                        .map(|b| b.meta().clone())
                        .collect::<Vec<_>>(),
                    safe,
                )
            };
            let Some((ulids, window)) = plan_compaction(&metas, &ranges, safe_before) else {
                break;
            };
            let inputs: Vec<Arc<Block>> = {
                let state = self.state.read();
                state
                    .blocks
                    .iter()
                    .filter(|b| ulids.contains(&b.meta().ulid))
                    .cloned()
                    .collect()
            };
            let refs: Vec<&Block> = inputs.iter().map(|b| b.as_ref()).collect();
            let outputs = match compact_blocks(&blocks_dir(&self.dir), &refs, window) {
                Ok(metas) => metas,
                Err(e) => {
                    self.metrics
                        .compaction_failures
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let opened = outputs
                .iter()
                .map(|m| Block::open(&blocks_dir(&self.dir).join(&m.ulid)).map(Arc::new))
                .collect::<Result<Vec<_>>>()?;
            self.replace_blocks(&inputs, opened);
            self.metrics.compactions.fetch_add(1, Ordering::Relaxed);
            done += 1;
        }
        Ok(done)
    }

    /// Deletes blocks past the time retention (relative to the newest
    /// block, as Prometheus does) and the oldest blocks while everything on
    /// disk exceeds the size retention.
    pub(super) fn apply_retention(&self) -> Result<()> {
        let _maintenance = self.maintenance.lock();
        let blocks = self.state.read().blocks.clone();
        let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() else {
            return Ok(());
        };
        let cutoff = newest.saturating_sub(self.opts.retention_time.as_millis() as i64);
        self.head.prune_tombstones(cutoff);
        let mut doomed: Vec<Arc<Block>> = blocks
            .iter()
            .filter(|b| b.meta().max_time < cutoff)
            .cloned()
            .collect();
        let by_time = doomed.len();
        if let Some(limit) = self.opts.retention_size {
            let wal_bytes = self.metrics.wal.size_bytes.load(Ordering::Relaxed);
            let mut total: u64 = wal_bytes + blocks.iter().map(|b| b.size_bytes()).sum::<u64>();
            total -= doomed.iter().map(|b| b.size_bytes()).sum::<u64>();
            let mut oldest_first = blocks.clone();
            oldest_first.sort_by_key(|b| b.meta().max_time);
            for block in oldest_first {
                if total <= limit {
                    break;
                }
                if !doomed.iter().any(|d| Arc::ptr_eq(d, &block)) {
                    total -= block.size_bytes();
                    doomed.push(block);
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.metrics
            .retention_deleted_time
            .fetch_add(by_time as u64, Ordering::Relaxed);
        self.metrics
            .retention_deleted_size
            .fetch_add((doomed.len() - by_time) as u64, Ordering::Relaxed);
        tracing::info!(
            by_time,
            by_size = doomed.len() - by_time,
            "deleting blocks past retention"
        );
        self.replace_blocks(&doomed, Vec::new());
        // Queries reaching the deleted range now see less.
        let oldest_deleted = doomed.iter().map(|b| b.meta().min_time).min();
        self.history.record(oldest_deleted.unwrap_or(i64::MIN));
        Ok(())
    }

    /// Swaps blocks in the served set, then deletes the old ones' files.
    /// Queries that still hold an old block keep reading its mapped files.
    fn replace_blocks(&self, old: &[Arc<Block>], new: Vec<Arc<Block>>) {
        {
            let mut state = self.state.write();
            state
                .blocks
                .retain(|b| !old.iter().any(|o| Arc::ptr_eq(o, b)));
            state.blocks.extend(new);
            state.blocks.sort_by(|a, b| {
                (a.meta().min_time, &a.meta().ulid).cmp(&(b.meta().min_time, &b.meta().ulid))
            });
        }
        for block in old {
            let dir = block.dir().to_path_buf();
            let doomed = dir.with_extension("deleted");
            // Rename first so a crash mid-delete never leaves a half block that looks whole.
            let result =
                std::fs::rename(&dir, &doomed).and_then(|_| std::fs::remove_dir_all(&doomed));
            if let Err(e) = result {
                tracing::warn!(block = %dir.display(), error = %e, "could not delete block directory");
            }
        }
    }
}
