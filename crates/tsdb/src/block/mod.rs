//! Immutable on-disk blocks: a directory of compressed samples and an index.
//!
//! A block is `<blocks_dir>/<ulid>/` holding `meta.json` ([`BlockMeta`]),
//! `index` (symbols, series with chunk metas, postings) and `chunks`
//! (zstd-compressed frames of columnar chunk data). The byte layout is
//! specified in `crates/tsdb/docs/block-format.md`.
//!
//! - [`write_block`] writes one from label-sorted series, atomically (a
//!   `.tmp` directory renamed into place after fsync).
//! - [`Block::open`] maps the files and verifies their checksums; queries
//!   read series, chunk metas and postings straight from the maps.
//! - [`compact_blocks`] merges blocks into larger ones, streaming series;
//!   [`plan_compaction`] decides which blocks to merge next.

mod columns;
mod compact;
mod index;
mod meta;
mod reader;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_size;

pub use compact::{compact_blocks, plan_compaction};
pub(crate) use index::ChunkMeta;
pub use meta::{new_ulid, BlockCompaction, BlockMeta, BlockStats};
pub(crate) use reader::FrameCache;
pub use reader::{Block, SeriesIter};
pub use writer::write_block;

use std::fs::File;
use std::path::Path;

use agentmon_model::{Labels, Sample};

use crate::{Result, TsdbError};

/// Format version written to `meta.json`, `index` and `chunks`.
pub const BLOCK_VERSION: u32 = 1;

/// File names inside a block directory.
pub const META_FILE: &str = "meta.json";
pub const INDEX_FILE: &str = "index";
pub const CHUNKS_FILE: &str = "chunks";

/// One series with its samples, as written to and read from blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Builds the error for damaged block data.
fn corrupt(what: &'static str, path: &Path, reason: impl Into<String>) -> TsdbError {
    TsdbError::Corrupt {
        what,
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Flushes a directory entry so a create or rename in it survives a crash.
fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TsdbError::io("fsync directory", dir))
}
