//! The background thread behind `WalFsync::Interval`.
//!
//! Commits only `write(2)` in this mode, so the write path never waits for
//! the disk; this thread `fdatasync`s the current segment every interval in
//! which something was written. It syncs through its own duplicate of the
//! segment's file handle, swapped by the writer on rotation under a mutex,
//! so it never races a segment change and the writer never shares its
//! handle.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::WalStats;

/// State shared between the writer and the fsync thread.
struct Shared {
    /// Segment number and a duplicate handle of the current segment.
    file: Mutex<Option<(u64, File)>>,
    /// Set by the writer after each write, cleared right before a sync, so
    /// every write that happened before the clear is covered by that sync.
    dirty: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
    stats: Arc<WalStats>,
}

/// Handle to a running periodic-fsync thread; stops it on drop.
pub(super) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread, syncing `file` (segment `segment`) every `interval`.
    pub(super) fn start(
        segment: u64,
        file: File,
        interval: Duration,
        stats: Arc<WalStats>,
    ) -> io::Result<Syncer> {
        let shared = Arc::new(Shared {
            file: Mutex::new(Some((segment, file))),
            dirty: AtomicBool::new(false),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            stats,
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wal-fsync".into())
            .spawn(move || run(&s, interval))?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// Notes that bytes were written since the last sync.
    pub(super) fn mark_dirty(&self) {
        self.shared.dirty.store(true, Ordering::Release);
    }

    /// Notes that the writer is about to sync everything itself.
    pub(super) fn mark_clean(&self) {
        self.shared.dirty.store(false, Ordering::Release);
    }

    /// Points the thread at a new current segment.
    pub(super) fn set_file(&self, segment: u64, file: File) {
        *self.shared.file.lock() = Some((segment, file));
    }

    /// Stops and joins the thread; idempotent.
    pub(super) fn stop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // A panic in the thread already printed itself; nothing to add.
            let _ = t.join();
        }
        *self.shared.file.lock() = None;
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, interval: Duration) {
    let mut stopped = shared.stop.lock();
    loop {
        // Waits out the whole interval even across spurious wakeups.
        let deadline = Instant::now() + interval;
        while !*stopped && !shared.wake.wait_until(&mut stopped, deadline).timed_out() {}
        if *stopped {
            return;
        }
        // The stop flag is released while syncing so stop() never waits
        // behind a slow disk to set it.
        MutexGuard::unlocked(&mut stopped, || sync_if_dirty(shared));
    }
}

fn sync_if_dirty(shared: &Shared) {
    if !shared.dirty.swap(false, Ordering::AcqRel) {
        return;
    }
    let guard = shared.file.lock();
    let Some((segment, file)) = guard.as_ref() else {
        return;
    };
    let start = Instant::now();
    match file.sync_data() {
        Ok(()) => shared.stats.record_fsync(start.elapsed()),
        Err(err) => {
            // Not retried: after a failed fdatasync Linux may have marked the
            // pages clean, so a retry could claim success for lost data.
            shared.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(segment, error = %err, "periodic WAL fsync failed");
        }
    }
}
