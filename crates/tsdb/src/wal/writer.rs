//! [`WalWriter`]: appends committed batches to the current segment.
//!
//! A commit is one positioned `write(2)` of complete, checksummed records
//! at the known end of the segment. The writer tracks that end itself
//! instead of trusting the file cursor, so after a failed or partial write
//! it can cut the segment back to exactly where the commit started: a torn
//! record must never be followed by good ones, because replay stops at the
//! first bad record and would drop everything after it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use agentmon_model::{LabelRef, MetricMetadata};

use super::record::{segment_header, Batch, SEGMENT_HEADER_LEN};
use super::sync::Syncer;
use super::{list_segments, segment_path, sync_dir, RefSample, WalStats};
use crate::{Options, Result, TsdbError, WalFsync};

const HEADER_LEN: u64 = SEGMENT_HEADER_LEN as u64;

/// How the WAL writer cuts and syncs segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A new segment is started before a commit would grow the current one
    /// past this many bytes.
    pub segment_size: u64,
    pub fsync: WalFsync,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions::from(&Options::default())
    }
}

impl From<&Options> for WalOptions {
    fn from(o: &Options) -> WalOptions {
        WalOptions {
            segment_size: o.wal_segment_size,
            fsync: o.wal_fsync,
        }
    }
}

/// Test hooks that make the next I/O fail the way a full or broken disk would.
#[cfg(test)]
#[derive(Debug, Default)]
pub(super) struct FailPoints {
    /// Fail the next commit's write after writing this many bytes of it.
    pub write_after: Option<usize>,
    /// Make truncation fail while set.
    pub truncate: bool,
}

/// Appends records to the newest segment of a WAL directory.
///
/// Owned by the database under its commit lock; one writer per directory.
pub struct WalWriter {
    dir: PathBuf,
    opts: WalOptions,
    segment: u64,
    file: File,
    /// Bytes of the current segment holding complete records; the next
    /// commit is written here.
    seg_len: u64,
    batch: Batch,
    stats: Arc<WalStats>,
    syncer: Option<Syncer>,
    /// A failed commit left bytes after `seg_len` that could not be cut off
    /// yet; nothing may be written until they are.
    torn: bool,
    /// Bytes were written since this writer last synced.
    unsynced: bool,
    closed: bool,
    #[cfg(test)]
    pub(super) fail: FailPoints,
}

impl WalWriter {
    /// Creates `dir` if needed and starts a new segment numbered after the
    /// highest existing one; old segments are never appended to, since their
    /// tails were only validated by replay, not by this writer.
    /// Spawns the periodic-fsync thread for [`WalFsync::Interval`].
    pub fn open(dir: &Path, opts: WalOptions) -> Result<WalWriter> {
        if opts.fsync == WalFsync::Interval(std::time::Duration::ZERO) {
            return Err(TsdbError::Invalid {
                what: "WAL fsync interval",
                reason: "must be greater than zero".into(),
            });
        }
        fs::create_dir_all(dir).map_err(TsdbError::io("create WAL directory", dir))?;
        let existing = list_segments(dir).map_err(TsdbError::io("list WAL directory", dir))?;
        let mut size = 0;
        for &n in &existing {
            let path = segment_path(dir, n);
            size += fs::metadata(&path)
                .map_err(TsdbError::io("stat WAL segment", path))?
                .len();
        }
        let segment = existing.last().map_or(1, |n| n + 1);
        let file = create_segment(dir, segment)?;
        let stats = Arc::new(WalStats::default());
        stats.segments.store(existing.len() as u64 + 1, Relaxed);
        stats.size_bytes.store(size + HEADER_LEN, Relaxed);
        stats.bytes_written.store(HEADER_LEN, Relaxed);
        let syncer = match opts.fsync {
            WalFsync::Always => None,
            WalFsync::Interval(every) => {
                let path = segment_path(dir, segment);
                let dup = file
                    .try_clone()
                    .map_err(TsdbError::io("dup WAL segment", &path))?;
                Some(
                    Syncer::start(segment, dup, every, Arc::clone(&stats))
                        .map_err(TsdbError::io("spawn WAL fsync thread", path))?,
                )
            }
        };
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            opts,
            segment,
            file,
            seg_len: HEADER_LEN,
            batch: Batch::default(),
            stats,
            syncer,
            torn: false,
            unsynced: false,
            closed: false,
            #[cfg(test)]
            fail: FailPoints::default(),
        })
    }

    /// Buffers a series definition for the next commit (no I/O).
    pub fn add_series(&mut self, series_ref: u32, labels: &[LabelRef<'_>]) {
        self.batch.add_series(series_ref, labels);
    }

    /// Buffers samples for the next commit (no I/O).
    pub fn add_samples(&mut self, samples: &[RefSample]) {
        self.batch.add_samples(samples);
    }

    /// Buffers a metric family's metadata for the next commit (no I/O).
    pub fn add_metadata(&mut self, metric_family: &str, meta: &MetricMetadata) {
        self.batch.add_metadata(metric_family, meta);
    }

    /// Writes every pending record with one `write(2)`, cutting to a new
    /// segment first if the batch would push the current one past
    /// `segment_size` (a batch larger than a segment gets a segment of its
    /// own). With [`WalFsync::Always`] the data is `fdatasync`ed before
    /// returning. On error the batch is discarded and the segment cut back
    /// to its length before this commit.
    pub fn commit(&mut self) -> Result<()> {
        let result = self.commit_pending();
        self.batch.clear();
        result
    }

    /// Drops every record buffered since the last commit.
    pub fn discard_pending(&mut self) {
        self.batch.clear();
    }

    /// Syncs and leaves the current segment, starts the next one, and
    /// returns its number. Pending records stay pending.
    pub fn rotate(&mut self) -> Result<u64> {
        self.repair_tail()?;
        self.cut()?;
        Ok(self.segment)
    }

    /// Number of the segment commits currently go to.
    pub fn current_segment(&self) -> u64 {
        self.segment
    }

    /// Deletes segments numbered below `segment` (never the current one),
    /// once their data is safely in a block; returns the bytes freed.
    pub fn remove_segments_before(&mut self, segment: u64) -> Result<u64> {
        let limit = segment.min(self.segment);
        let existing =
            list_segments(&self.dir).map_err(TsdbError::io("list WAL directory", &self.dir))?;
        let mut freed = 0;
        let mut removed = false;
        for n in existing.into_iter().filter(|&n| n < limit) {
            let path = segment_path(&self.dir, n);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path).map_err(TsdbError::io("remove WAL segment", path))?;
            freed += len;
            removed = true;
            let _ = self
                .stats
                .segments
                .fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1));
            let _ = self
                .stats
                .size_bytes
                .fetch_update(Relaxed, Relaxed, |v| v.checked_sub(len));
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(freed)
    }

    /// `fdatasync`s the current segment if anything was written since the
    /// last sync.
    pub fn sync(&mut self) -> Result<()> {
        self.sync_current()
    }

    /// Stops the fsync thread and syncs the current segment a last time.
    /// Also done, ignoring errors, when the writer is dropped.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    /// The counters of this writer, for `/metrics`.
    pub fn stats(&self) -> Arc<WalStats> {
        Arc::clone(&self.stats)
    }

    fn commit_pending(&mut self) -> Result<()> {
        if self.closed {
            return Err(TsdbError::Closed);
        }
        let len = self.batch.finish().len() as u64;
        if len == 0 {
            return Ok(());
        }
        self.repair_tail()?;
        if self.seg_len > HEADER_LEN && self.seg_len + len > self.opts.segment_size {
            self.cut()?;
        }
        let start = self.seg_len;
        if let Err(err) = self.write_batch(start) {
            self.stats.write_errors.fetch_add(1, Relaxed);
            tracing::error!(segment = self.segment, offset = start, error = %err, "WAL write failed");
            self.cut_back(start);
            return Err(TsdbError::Io {
                op: "write WAL segment",
                path: self.path(),
                source: err,
            });
        }
        self.seg_len += len;
        self.unsynced = true;
        if let Some(s) = &self.syncer {
            s.mark_dirty();
        }
        self.stats.size_bytes.fetch_add(len, Relaxed);
        if self.opts.fsync == WalFsync::Always {
            if let Err(err) = self.sync_current() {
                // The caller is told the write failed, so the log must not
                // keep it either: a retry would otherwise replay twice.
                self.stats.size_bytes.fetch_sub(len, Relaxed);
                self.cut_back(start);
                return Err(err);
            }
        }
        self.stats.bytes_written.fetch_add(len, Relaxed);
        self.stats
            .records_written
            .fetch_add(self.batch.records(), Relaxed);
        Ok(())
    }

    fn write_batch(&mut self, offset: u64) -> io::Result<()> {
        let buf = self.batch.finish();
        #[cfg(test)]
        if let Some(n) = self.fail.write_after.take() {
            self.file.write_all_at(&buf[..n.min(buf.len())], offset)?;
            return Err(io::Error::other("injected write failure"));
        }
        self.file.write_all_at(buf, offset)
    }

    /// Cuts the segment back to `len` after a failed commit; if even that
    /// fails, remembers it so no later commit writes behind the torn bytes.
    fn cut_back(&mut self, len: u64) {
        self.seg_len = len;
        self.torn = true;
        if let Err(err) = self.repair_tail() {
            tracing::error!(error = %err, "cannot cut failed WAL write off; refusing writes");
        }
    }

    /// Truncates away bytes of a failed commit, if there are any.
    fn repair_tail(&mut self) -> Result<()> {
        if !self.torn {
            return Ok(());
        }
        #[cfg(test)]
        if self.fail.truncate {
            self.stats.write_errors.fetch_add(1, Relaxed);
            let err = io::Error::other("injected truncate failure");
            return Err(TsdbError::Io {
                op: "truncate WAL segment",
                path: self.path(),
                source: err,
            });
        }
        if let Err(err) = self.file.set_len(self.seg_len) {
            self.stats.write_errors.fetch_add(1, Relaxed);
            return Err(TsdbError::Io {
                op: "truncate WAL segment",
                path: self.path(),
                source: err,
            });
        }
        self.torn = false;
        Ok(())
    }

    /// Syncs the current segment and moves on to a new one.
    fn cut(&mut self) -> Result<()> {
        // The old segment must be durable before records land in the next
        // one, or a power loss could leave a hole in the middle of the log.
        self.sync_current()?;
        let next = self.segment + 1;
        let file = create_segment(&self.dir, next)?;
        if let Some(s) = &self.syncer {
            match file.try_clone() {
                Ok(dup) => s.set_file(next, dup),
                Err(err) => {
                    let path = segment_path(&self.dir, next);
                    let _ = fs::remove_file(&path);
                    return Err(TsdbError::Io {
                        op: "dup WAL segment",
                        path,
                        source: err,
                    });
                }
            }
        }
        self.file = file;
        self.segment = next;
        self.seg_len = HEADER_LEN;
        self.unsynced = false;
        self.stats.segments.fetch_add(1, Relaxed);
        self.stats.size_bytes.fetch_add(HEADER_LEN, Relaxed);
        self.stats.bytes_written.fetch_add(HEADER_LEN, Relaxed);
        Ok(())
    }

    fn sync_current(&mut self) -> Result<()> {
        if !self.unsynced {
            return Ok(());
        }
        if let Some(s) = &self.syncer {
            s.mark_clean();
        }
        let start = Instant::now();
        if let Err(err) = self.file.sync_data() {
            self.stats.write_errors.fetch_add(1, Relaxed);
            return Err(TsdbError::Io {
                op: "fdatasync WAL segment",
                path: self.path(),
                source: err,
            });
        }
        self.stats.record_fsync(start.elapsed());
        self.unsynced = false;
        Ok(())
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if let Some(mut s) = self.syncer.take() {
            s.stop();
        }
        self.batch.clear();
        self.repair_tail()?;
        self.sync_current()
    }

    fn path(&self) -> PathBuf {
        segment_path(&self.dir, self.segment)
    }
}

impl Drop for WalWriter {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            tracing::warn!(error = %err, "closing the WAL on drop failed");
        }
    }
}

/// Creates segment `n` with its header and makes its directory entry durable.
fn create_segment(dir: &Path, n: u64) -> Result<File> {
    let path = segment_path(dir, n);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(TsdbError::io("create WAL segment", &path))?;
    if let Err(err) = file.write_all(&segment_header()) {
        // A segment without a header would read as damage on replay.
        let _ = fs::remove_file(&path);
        return Err(TsdbError::Io {
            op: "write WAL segment header",
            path,
            source: err,
        });
    }
    sync_dir(dir)?;
    Ok(file)
}
