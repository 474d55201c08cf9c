//! The write-ahead log: every acknowledged write is appended here before the
//! caller is answered, and replayed into the head on startup.
//!
//! The log is a directory of numbered segment files (`00000001`,
//! `00000002`, ...), each a small header followed by checksummed records.
//! The byte format is specified in `docs/wal-format.md` next to this crate's
//! `Cargo.toml`; [`record`] holds its constants and encoder, `decode.rs`
//! the parser.
//!
//! - [`WalWriter`] buffers series, sample and metadata records of one write
//!   into a reused pending buffer and [`WalWriter::commit`]s them with a
//!   single `write(2)`, so a process kill after the acknowledgement cannot
//!   lose them. Power-loss durability follows [`crate::WalFsync`].
//! - [`replay`] reads the segments back in order and hands every record to a
//!   [`ReplayVisitor`]. A torn or corrupt tail is cut off at the last good
//!   record, later segments are deleted, and the damage is reported in a
//!   [`ReplayReport`] instead of failing, so the store always starts.
//! - [`WalStats`] holds the counters exported on `/metrics`.

mod decode;
mod reader;
pub mod record;
mod stats;
mod sync;
mod writer;

#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub use reader::{replay, ReplayReport, ReplayVisitor, WalCorruption};
pub use stats::{WalStats, FSYNC_BUCKETS_SECONDS};
pub use writer::{WalOptions, WalWriter};

use crate::{Result, TsdbError};

/// One sample of an already known series, addressed by its WAL series
/// reference (announced earlier by a series record).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    pub series_ref: u32,
    pub t: i64,
    pub v: f64,
}

/// Digits in a segment file name; numbers are zero-padded to this width so
/// names sort like numbers in directory listings.
const SEGMENT_NAME_DIGITS: usize = 8;

/// Path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:0width$}", width = SEGMENT_NAME_DIGITS))
}

/// Parses a segment file name; anything else in the directory (temporary
/// files, future checkpoints) is ignored rather than treated as damage.
fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() < SEGMENT_NAME_DIGITS || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// Numbers of the segments in `dir`, ascending. A missing directory is an
/// `Err` of kind `NotFound` so callers can decide what that means.
fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_segment_name) {
            if entry.file_type()?.is_file() {
                segments.push(n);
            }
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Makes creations, deletions and truncations of entries in `dir` durable;
/// without it a power loss can resurrect deleted segments or lose new ones.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TsdbError::io("sync WAL directory", dir))
}
