//! Opening the store: take the directory lock, load the blocks (setting
//! damaged ones aside), replay the WAL into the head, start a new WAL segment.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use agentmon_model::{LabelRef, MetricMetadata};
use parking_lot::{Mutex, RwLock};

use super::{CommitState, DbInner, DbState};
use crate::block::Block;
use crate::head::series::{judge, MemSeries, Verdict};
use crate::head::{hash_labels, Head};
use crate::wal::{self, RefSample, ReplayVisitor, WalOptions, WalWriter};
use crate::{Options, Result, TsdbError};

/// What [`crate::Db::open`] found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OpenReport {
    pub blocks_loaded: usize,
    /// Blocks that failed their checks, renamed to `<id>.corrupt` and not served.
    pub blocks_corrupt: Vec<String>,
    pub wal_segments: u64,
    pub wal_series: u64,
    pub wal_samples: u64,
    /// Samples in the WAL that were already superseded (e.g. duplicates).
    pub wal_samples_skipped: u64,
    pub wal_replay_seconds: f64,
    /// A damaged WAL tail that was cut off, described.
    pub wal_corruption: Option<String>,
    pub wal_truncated_bytes: u64,
}

pub(crate) fn blocks_dir(dir: &Path) -> PathBuf {
    dir.join("blocks")
}

pub(crate) fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

impl DbInner {
    pub(super) fn open(dir: &Path, opts: Options) -> Result<DbInner> {
        std::fs::create_dir_all(dir).map_err(TsdbError::io("create data directory", dir))?;
        let lock_path = dir.join("lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(TsdbError::io("open lock file", &lock_path))?;
        lock_file.try_lock().map_err(|_| TsdbError::Invalid {
            what: "data directory",
            reason: format!(
                "{} is in use by another agentmon process (lock file {})",
                dir.display(),
                lock_path.display()
            ),
        })?;

        let mut report = OpenReport::default();
        let blocks = load_blocks(&blocks_dir(dir), &mut report)?;

        let head = Head::new();
        let started = Instant::now();
        let mut visitor = Replay {
            head: &head,
            series: Vec::new(),
            skipped: 0,
            first_segment: first_wal_segment(&wal_dir(dir))?,
            window: opts.out_of_order_window.as_millis() as i64,
        };
        let replay = wal::replay(&wal_dir(dir), &mut visitor)?;
        report.wal_segments = replay.segments;
        report.wal_series = replay.series;
        report.wal_samples = replay.samples;
        report.wal_samples_skipped = visitor.skipped;
        report.wal_replay_seconds = started.elapsed().as_secs_f64();
        if let Some(c) = &replay.corruption {
            report.wal_corruption = Some(format!(
                "segment {} at offset {}: {}; cut {} bytes, removed segments {:?}",
                c.segment, c.offset, c.reason, c.truncated_bytes, c.removed_segments
            ));
            report.wal_truncated_bytes = c.truncated_bytes;
        }
        let first_segment = visitor.first_segment;
        drop(visitor);
        let head_stats = head.stats();
        let (head_min, head_max) = if head_stats.series > 0 && head_stats.min_time != i64::MAX {
            (head_stats.min_time, head_stats.max_time)
        } else {
            (i64::MAX, i64::MIN)
        };

        let wal = WalWriter::open(
            &wal_dir(dir),
            WalOptions {
                segment_size: opts.wal_segment_size,
                fsync: opts.wal_fsync,
            },
        )?;
        // Series replayed from the WAL have their labels in the oldest
        // remaining segment, so the epoch starts there.
        let wal_epoch = first_segment.unwrap_or_else(|| wal.current_segment());
        let metrics = super::TsdbMetrics::new(wal.stats());
        metrics
            .blocks_corrupt
            .fetch_add(report.blocks_corrupt.len() as u64, Ordering::Relaxed);
        if let Some(c) = &replay.corruption {
            metrics
                .wal_corruptions_replay
                .fetch_add(1, Ordering::Relaxed);
            metrics
                .wal_truncated_bytes_replay
                .fetch_add(c.truncated_bytes, Ordering::Relaxed);
        }
        metrics
            .replay_samples
            .store(replay.samples, Ordering::Relaxed);
        metrics
            .replay_nanos
            .store(started.elapsed().as_nanos() as u64, Ordering::Relaxed);

        tracing::info!(
            blocks = report.blocks_loaded,
            corrupt_blocks = report.blocks_corrupt.len(),
            wal_segments = report.wal_segments,
            series = report.wal_series,
            samples = report.wal_samples,
            seconds = report.wal_replay_seconds,
            "store opened"
        );
        Ok(DbInner {
            dir: dir.to_path_buf(),
            opts,
            head,
            commit: Mutex::new(CommitState {
                wal: Some(wal),
                stamp: 0,
                wal_epoch,
            }),
            state: RwLock::new(DbState {
                blocks,
                frozen: Vec::new(),
            }),
            maintenance: Mutex::new(()),
            metrics,
            open_report: report,
            head_min_time: AtomicI64::new(head_min),
            head_max_time: AtomicI64::new(head_max),
            history: Default::default(),
            _lock_file: lock_file,
        })
    }
}

/// The lowest numbered WAL segment on disk, if any.
fn first_wal_segment(wal_dir: &Path) -> Result<Option<u64>> {
    let entries = match std::fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TsdbError::io("list WAL segments", wal_dir)(e)),
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .min())
}

/// Opens every block directory; leftovers of interrupted writes are removed
/// and damaged blocks are set aside so the rest can be served.
fn load_blocks(blocks_dir: &Path, report: &mut OpenReport) -> Result<Vec<Arc<Block>>> {
    std::fs::create_dir_all(blocks_dir)
        .map_err(TsdbError::io("create blocks directory", blocks_dir))?;
    let entries =
        std::fs::read_dir(blocks_dir).map_err(TsdbError::io("list blocks", blocks_dir))?;
    let mut blocks = Vec::new();
    for entry in entries {
        let entry = entry.map_err(TsdbError::io("list blocks", blocks_dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() || name.ends_with(".corrupt") {
            continue;
        }
        if name.ends_with(".tmp") || name.ends_with(".deleted") {
            // An interrupted write or delete: never a complete block.
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "could not remove leftover block directory");
            }
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(e) => {
                tracing::error!(block = %name, error = %e, "block is damaged; setting it aside and serving the rest");
                let aside = blocks_dir.join(format!("{name}.corrupt"));
                if let Err(e) = std::fs::rename(&path, &aside) {
                    tracing::error!(block = %name, error = %e, "could not rename damaged block");
                }
                report.blocks_corrupt.push(name);
            }
        }
    }
    blocks.sort_by(|a, b| {
        (a.meta().min_time, &a.meta().ulid).cmp(&(b.meta().min_time, &b.meta().ulid))
    });
    report.blocks_loaded = blocks.len();
    Ok(blocks)
}

/// Rebuilds the head from WAL records.
struct Replay<'a> {
    head: &'a Head,
    /// Local mirror of ref → series, to avoid a table lookup per sample.
    series: Vec<Option<Arc<MemSeries>>>,
    skipped: u64,
    first_segment: Option<u64>,
    window: i64,
}

impl ReplayVisitor for Replay<'_> {
    fn series(&mut self, series_ref: u32, labels: &[LabelRef<'_>]) {
        let epoch = self.first_segment.unwrap_or(0);
        let series = self
            .head
            .create(series_ref, hash_labels(labels), labels, epoch);
        let slot = series_ref as usize;
        if self.series.len() <= slot {
            self.series.resize(slot + 1, None);
        }
        self.series[slot] = Some(series);
    }

    fn samples(&mut self, samples: &[RefSample]) {
        let mut current: Option<(
            u32,
            parking_lot::MutexGuard<'_, crate::head::series::SeriesData>,
        )> = None;
        for s in samples {
            let Some(Some(series)) = self.series.get(s.series_ref as usize) else {
                // A sample whose series record was lost with a cut-off tail.
                self.skipped += 1;
                continue;
            };
            if current.as_ref().is_none_or(|(r, _)| *r != s.series_ref) {
                drop(current.take());
                current = Some((s.series_ref, series.data.lock()));
            }
            let Some((_, data)) = current.as_mut() else {
                continue;
            };
            let newest = (data.max_time, data.last_value_bits);
            match judge(s.t, s.v, newest, self.window, |t| data.stored_value_at(t)) {
                Verdict::InOrder => data.append_in_order(s.t, s.v),
                Verdict::OutOfOrder => {
                    data.insert_out_of_order(agentmon_model::Sample::new(s.t, s.v))
                }
                _ => self.skipped += 1,
            }
        }
    }

    fn metadata(&mut self, metric_family: &str, meta: &MetricMetadata) {
        self.head
            .metadata
            .write()
            .insert(metric_family.to_owned(), meta.clone());
    }
}
