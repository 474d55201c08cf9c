//! Which session ids the file may already hold: a Bloom filter over every
//! id with a row, so a batch's new sessions skip the row read that would
//! find nothing (a new session is most of the ids a busy store meets that
//! it does not remember).
//!
//! The filter is filled on a thread of its own, with its own connection,
//! from the rows as they stand when [`SeenIds::start`] is called (the
//! caller makes them current first); ids the store notes meanwhile are
//! kept aside and added when it is ready. Until then, or if it cannot be
//! built, every id may be held and is looked up as before. A filter only
//! errs towards "may hold" (a row read that finds nothing), never the other
//! way. Deleted sessions stay in it until the next build. Past its
//! capacity it reports itself full and the store starts a bigger one.
//! [`SeenIds::stop`] (also on drop) ends a build under way and waits for
//! its thread, so its connection never outlives the store's own: the last
//! connection to close a WAL database takes an exclusive lock, which
//! would make the next opener's first write fail as busy.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use agentmon_model::FastHashState;
use rusqlite::{Connection, OpenFlags};

/// Ids a filter is sized for at least.
const MIN_CAPACITY: usize = 1 << 20;

/// Bits per id of capacity: with [`PROBES`] probes, about 1 % of unknown
/// ids look held at full capacity.
const BITS_PER_ID: usize = 10;

/// Bits set and tested per id.
const PROBES: u64 = 7;

/// The filter over the file's session ids.
#[derive(Debug)]
pub(crate) struct SeenIds {
    hasher: FastHashState,
    phase: Phase,
    /// The thread of a build, until [`SeenIds::stop`] has waited for it.
    builder: Option<JoinHandle<()>>,
    /// Tells the build to give up.
    stopping: Arc<AtomicBool>,
}

#[derive(Debug)]
enum Phase {
    /// Being filled from the rows; the hashes of ids noted meanwhile.
    Building {
        added: Vec<u64>,
        done: mpsc::Receiver<Result<Bloom, String>>,
    },
    Ready(Bloom),
    /// No filter (the build failed): every id may be held.
    Off,
}

impl SeenIds {
    /// Starts filling a filter from the session rows of the file at `path`
    /// as they stand now.
    pub(crate) fn start(path: &Path) -> SeenIds {
        let hasher = FastHashState::new();
        let (send, done) = mpsc::sync_channel(1);
        let stopping = Arc::new(AtomicBool::new(false));
        let (path, keys, stop): (PathBuf, FastHashState, Arc<AtomicBool>) =
            (path.to_owned(), hasher.clone(), Arc::clone(&stopping));
        let spawned = std::thread::Builder::new()
            .name("agentmon-session-ids".into())
            .spawn(move || {
                let _ = send.send(read_ids(&path, &keys, &stop));
            });
        let (phase, builder) = match spawned {
            Ok(thread) => (
                Phase::Building {
                    added: Vec::new(),
                    done,
                },
                Some(thread),
            ),
            Err(_) => (Phase::Off, None),
        };
        SeenIds {
            hasher,
            phase,
            builder,
            stopping,
        }
    }

    /// Ends a build under way (every id then may be held) and waits for
    /// its thread and connection to be gone.
    pub(crate) fn stop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.join();
    }

    /// Waits for a build's thread, then takes what it sent.
    fn join(&mut self) {
        if let Some(thread) = self.builder.take() {
            let _ = thread.join();
        }
        self.poll();
    }

    /// Whether the file may hold a row for `id`: `false` only if it
    /// certainly does not.
    pub(crate) fn may_hold(&mut self, id: &str) -> bool {
        self.poll();
        match &self.phase {
            Phase::Ready(bloom) => bloom.contains(self.hasher.hash_one(id)),
            Phase::Building { .. } | Phase::Off => true,
        }
    }

    /// Notes an id that is getting a row.
    pub(crate) fn note(&mut self, id: &str) {
        let hash = self.hasher.hash_one(id);
        match &mut self.phase {
            Phase::Ready(bloom) => bloom.insert(hash),
            Phase::Building { added, .. } => added.push(hash),
            Phase::Off => {}
        }
    }

    /// Whether the filter holds more ids than it was sized for (it then
    /// answers "may hold" more and more often): time to start a new one.
    pub(crate) fn is_full(&self) -> bool {
        matches!(&self.phase, Phase::Ready(bloom) if bloom.ids > bloom.capacity)
    }

    /// Takes the built filter if it has arrived.
    fn poll(&mut self) {
        let Phase::Building { added, done } = &mut self.phase else {
            return;
        };
        self.phase = match done.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return,
            Ok(Ok(mut bloom)) => {
                for hash in added.drain(..) {
                    bloom.insert(hash);
                }
                Phase::Ready(bloom)
            }
            Ok(Err(_)) | Err(mpsc::TryRecvError::Disconnected) => Phase::Off,
        };
    }

    /// Waits for the build to end; whether a filter is in use.
    #[cfg(test)]
    pub(crate) fn wait_ready(&mut self) -> bool {
        self.join();
        matches!(self.phase, Phase::Ready(_))
    }
}

impl Drop for SeenIds {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Rows read between looks at the stop flag.
const ROWS_PER_STOP_CHECK: usize = 4096;

/// Reads every session id of the file into a filter sized for twice as
/// many (at least [`MIN_CAPACITY`]), unless told to stop.
fn read_ids(path: &Path, hasher: &FastHashState, stop: &AtomicBool) -> Result<Bloom, String> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    // One read transaction: the count and the ids see the same rows.
    connection
        .execute_batch("BEGIN")
        .map_err(|e| e.to_string())?;
    let rows: i64 = connection
        .query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let mut bloom = Bloom::with_capacity(usize::try_from(rows).unwrap_or(0).saturating_mul(2));
    let mut statement = connection
        .prepare("SELECT session_id FROM sessions")
        .map_err(|e| e.to_string())?;
    let mut ids = statement.query([]).map_err(|e| e.to_string())?;
    let mut read = 0usize;
    while let Some(row) = ids.next().map_err(|e| e.to_string())? {
        read += 1;
        if read.is_multiple_of(ROWS_PER_STOP_CHECK) && stop.load(Ordering::Relaxed) {
            return Err("stopped".to_owned());
        }
        let id = row.get_ref(0).map_err(|e| e.to_string())?;
        let text = id.as_str().map_err(|e| e.to_string())?;
        bloom.insert(hasher.hash_one(text));
    }
    Ok(bloom)
}

/// A Bloom filter over 64-bit hashes (two halves of one hash give the
/// probe sequence).
#[derive(Debug)]
struct Bloom {
    words: Vec<u64>,
    /// Bits − 1 (the bit count is a power of two).
    mask: u64,
    ids: usize,
    capacity: usize,
}

impl Bloom {
    fn with_capacity(capacity: usize) -> Bloom {
        let capacity = capacity.max(MIN_CAPACITY);
        let bits = capacity.saturating_mul(BITS_PER_ID).next_power_of_two();
        Bloom {
            words: vec![0; bits / 64],
            mask: bits as u64 - 1,
            ids: 0,
            capacity,
        }
    }

    fn insert(&mut self, hash: u64) {
        for bit in probes(hash, self.mask) {
            self.words[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.ids += 1;
    }

    fn contains(&self, hash: u64) -> bool {
        probes(hash, self.mask).all(|bit| self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// The bits of `hash` in a filter of `mask + 1` bits.
fn probes(hash: u64, mask: u64) -> impl Iterator<Item = u64> {
    let step = (hash >> 32) | 1;
    (0..PROBES).map(move |i| hash.wrapping_add(i.wrapping_mul(step)) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bloom_filter_holds_what_went_in_and_little_else() {
        let hasher = FastHashState::new();
        let mut bloom = Bloom::with_capacity(0);
        for i in 0..MIN_CAPACITY {
            bloom.insert(hasher.hash_one(format!("in-{i}")));
        }
        for i in 0..MIN_CAPACITY {
            assert!(
                bloom.contains(hasher.hash_one(format!("in-{i}"))),
                "lost in-{i}"
            );
        }
        let trials = 100_000;
        let false_positives = (0..trials)
            .filter(|i| bloom.contains(hasher.hash_one(format!("out-{i}"))))
            .count();
        // About 1 % at full capacity (10 bits and 7 probes per id).
        assert!(
            false_positives < trials / 50,
            "{false_positives} of {trials} unknown ids looked held"
        );
    }

    #[test]
    fn ids_noted_while_building_are_held_once_built() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.sqlite");
        let connection = Connection::open(&path).expect("open");
        connection
            .execute_batch(
                "CREATE TABLE sessions (session_id TEXT PRIMARY KEY);
                 INSERT INTO sessions VALUES ('old-1'), ('old-2');",
            )
            .expect("rows");
        let mut seen = SeenIds::start(&path);
        seen.note("new-1");
        assert!(seen.wait_ready());
        for id in ["old-1", "old-2", "new-1"] {
            assert!(seen.may_hold(id), "{id} must look held");
        }
        seen.note("new-2");
        assert!(seen.may_hold("new-2"));
        let unknown = (0..1000)
            .filter(|i| seen.may_hold(&format!("never-{i}")))
            .count();
        assert!(unknown < 20, "{unknown} of 1000 unknown ids looked held");
        assert!(!seen.is_full());
    }

    #[test]
    fn a_file_without_the_table_leaves_the_filter_off() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("empty.sqlite");
        Connection::open(&path).expect("create");
        let mut seen = SeenIds::start(&path);
        assert!(!seen.wait_ready());
        assert!(seen.may_hold("anything"));
    }
}
