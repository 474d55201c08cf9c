//! Streaming block writer: series in, `chunks` + `index` + `meta.json` out.
//!
//! Series arrive in label order and are cut into chunks; each chunk's
//! timestamp and value columns are appended to an in-memory frame that is
//! zstd-compressed and written out once it reaches [`FRAME_TARGET`] bytes.
//! Timestamp columns are deduplicated by content hash across the whole block:
//! every series of one scrape target shares its timestamps, so each distinct
//! column is stored once. Memory grows with the number of series (labels and
//! chunk metas), never with the number of samples.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use agentmon_model::{Labels, Sample};

use super::columns::{encode_timestamps, encode_values};
use super::index::{write_index, ChunkMeta, ColumnRef, SeriesRecord};
use super::meta::{new_ulid, BlockCompaction, BlockMeta, BlockStats};
use super::{fsync_dir, BlockSeries, BLOCK_VERSION, CHUNKS_FILE, INDEX_FILE, META_FILE};
use crate::{Result, TsdbError};

/// Magic at both ends of the `chunks` file.
pub(crate) const CHUNKS_MAGIC: &[u8; 4] = b"AMCK";
/// Uncompressed frame size at which a frame is closed. Large enough for
/// zstd to find the repetition between neighbouring series, small enough
/// that reading one series decompresses little else.
pub(crate) const FRAME_TARGET: usize = 128 << 10;
/// A chunk holds at most this many samples...
pub(crate) const CHUNK_MAX_SAMPLES: usize = 1024;
/// ...and never crosses a multiple of this many ms, so series scraped
/// together are cut at the same places and their timestamp columns dedupe.
pub(crate) const CHUNK_WINDOW: i64 = 2 * 3600 * 1000;
/// zstd level: blocks are written in the background, so trade CPU for size.
const ZSTD_LEVEL: i32 = 9;

/// One compressed frame's place in the `chunks` file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameInfo {
    pub offset: u64,
    pub compressed_len: u32,
    pub raw_len: u32,
    pub crc: u32,
}

/// Writes a block from series sorted by labels (strictly ascending; error
/// [`TsdbError::Invalid`] otherwise), each with time-sorted samples (series
/// with no samples are skipped). Writes into `<blocks_dir>/<ulid>.tmp`,
/// fsyncs files and directory, renames to `<blocks_dir>/<ulid>`. Returns
/// `None` (and leaves nothing behind) when there are no samples. Empty
/// `sources` means a fresh block, whose sources are its own ulid.
pub fn write_block(
    blocks_dir: &Path,
    series: impl IntoIterator<Item = BlockSeries>,
    level: u32,
    sources: Vec<String>,
) -> Result<Option<BlockMeta>> {
    let mut writer = BlockWriter::create(blocks_dir, level, sources)?;
    for s in series {
        writer.add(&s.labels, &s.samples)?;
    }
    writer.finish()
}

/// An in-progress block in `<blocks_dir>/<ulid>.tmp`; removed if dropped
/// before [`BlockWriter::finish`].
pub(crate) struct BlockWriter {
    blocks_dir: PathBuf,
    ulid: String,
    tmp: PathBuf,
    level: u32,
    sources: Vec<String>,
    chunks: BufWriter<File>,
    written: u64,
    frame: Vec<u8>,
    frames: Vec<FrameInfo>,
    timestamp_columns: HashMap<u128, ColumnRef>,
    scratch: Vec<u8>,
    strings: Vec<String>,
    string_ids: HashMap<String, u32>,
    series: Vec<SeriesRecord>,
    last_labels: Option<Labels>,
    stats: BlockStats,
    min_time: i64,
    max_time: i64,
    finished: bool,
}

impl BlockWriter {
    pub(crate) fn create(
        blocks_dir: &Path,
        level: u32,
        sources: Vec<String>,
    ) -> Result<BlockWriter> {
        let ulid = new_ulid();
        let tmp = blocks_dir.join(format!("{ulid}.tmp"));
        std::fs::create_dir_all(&tmp).map_err(TsdbError::io("create directory", &tmp))?;
        let path = tmp.join(CHUNKS_FILE);
        let file = File::create(&path).map_err(TsdbError::io("create", &path))?;
        let mut chunks = BufWriter::with_capacity(1 << 20, file);
        let mut header = CHUNKS_MAGIC.to_vec();
        header.extend_from_slice(&BLOCK_VERSION.to_le_bytes());
        chunks
            .write_all(&header)
            .map_err(TsdbError::io("write", &path))?;
        let sources = if sources.is_empty() {
            vec![ulid.clone()]
        } else {
            sources
        };
        Ok(BlockWriter {
            blocks_dir: blocks_dir.to_path_buf(),
            ulid,
            tmp,
            level,
            sources,
            chunks,
            written: header.len() as u64,
            frame: Vec::with_capacity(FRAME_TARGET * 2),
            frames: Vec::new(),
            timestamp_columns: HashMap::new(),
            scratch: Vec::new(),
            strings: Vec::new(),
            string_ids: HashMap::new(),
            series: Vec::new(),
            last_labels: None,
            stats: BlockStats::default(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            finished: false,
        })
    }

    /// Appends one series; labels must sort after the previous series'.
    pub(crate) fn add(&mut self, labels: &Labels, samples: &[Sample]) -> Result<()> {
        if let Some(prev) = &self.last_labels {
            if prev >= labels {
                return Err(TsdbError::Invalid {
                    what: "block series",
                    reason: format!("{labels} does not sort after {prev}"),
                });
            }
        }
        self.last_labels = Some(labels.clone());
        if let Some(w) = samples.windows(2).find(|w| w[0].t >= w[1].t) {
            return Err(TsdbError::Invalid {
                what: "block samples",
                reason: format!("{labels}: timestamp {} not after {}", w[1].t, w[0].t),
            });
        }
        if samples.is_empty() {
            return Ok(());
        }
        let label_ids = labels
            .iter()
            .map(|l| (self.intern(&l.name), self.intern(&l.value)))
            .collect();
        let mut chunks = Vec::new();
        for chunk in cut_chunks(samples) {
            chunks.push(self.write_chunk(chunk)?);
        }
        self.stats.num_series += 1;
        self.stats.num_chunks += chunks.len() as u64;
        self.stats.num_samples += samples.len() as u64;
        self.min_time = self.min_time.min(samples[0].t);
        self.max_time = self.max_time.max(samples[samples.len() - 1].t);
        // Every series is held until the index is written: keep exactly
        // what it needs (a Vec's first growth would reserve four chunk metas).
        chunks.shrink_to_fit();
        self.series.push(SeriesRecord {
            labels: label_ids,
            chunks,
        });
        Ok(())
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_owned());
        self.string_ids.insert(s.to_owned(), id);
        id
    }

    fn here(&self) -> ColumnRef {
        ColumnRef {
            frame: self.frames.len() as u32,
            offset: self.frame.len() as u32,
        }
    }

    fn write_chunk(&mut self, samples: &[Sample]) -> Result<ChunkMeta> {
        self.scratch.clear();
        encode_timestamps(&mut self.scratch, samples);
        // 128 bits of xxh3: a collision would silently swap timestamps, so
        // make it astronomically unlikely rather than merely unlikely.
        let key = xxhash_rust::xxh3::xxh3_128(&self.scratch);
        let timestamps = match self.timestamp_columns.get(&key) {
            Some(&r) => r,
            None => {
                let r = self.here();
                self.frame.extend_from_slice(&self.scratch);
                self.timestamp_columns.insert(key, r);
                r
            }
        };
        let values = self.here();
        encode_values(&mut self.frame, samples);
        let meta = ChunkMeta {
            mint: samples[0].t,
            maxt: samples[samples.len() - 1].t,
            timestamps,
            values,
        };
        if self.frame.len() >= FRAME_TARGET {
            self.flush_frame()?;
        }
        Ok(meta)
    }

    fn chunks_path(&self) -> PathBuf {
        self.tmp.join(CHUNKS_FILE)
    }

    fn flush_frame(&mut self) -> Result<()> {
        if self.frame.is_empty() {
            return Ok(());
        }
        let path = self.chunks_path();
        let compressed = zstd::bulk::compress(&self.frame, ZSTD_LEVEL)
            .map_err(TsdbError::io("compress chunks for", &path))?;
        self.chunks
            .write_all(&compressed)
            .map_err(TsdbError::io("write", &path))?;
        self.frames.push(FrameInfo {
            offset: self.written,
            compressed_len: compressed.len() as u32,
            raw_len: self.frame.len() as u32,
            crc: crc32fast::hash(&compressed),
        });
        self.written += compressed.len() as u64;
        self.frame.clear();
        Ok(())
    }

    /// Completes the block and moves it into place; `None` if it is empty.
    pub(crate) fn finish(mut self) -> Result<Option<BlockMeta>> {
        if self.stats.num_samples == 0 {
            return Ok(None); // Drop removes the temporary directory.
        }
        self.flush_frame()?;
        let path = self.chunks_path();
        let mut directory = Vec::with_capacity(self.frames.len() * 20 + 20);
        for f in &self.frames {
            directory.extend_from_slice(&f.offset.to_le_bytes());
            directory.extend_from_slice(&f.compressed_len.to_le_bytes());
            directory.extend_from_slice(&f.raw_len.to_le_bytes());
            directory.extend_from_slice(&f.crc.to_le_bytes());
        }
        let directory_crc = crc32fast::hash(&directory);
        directory.extend_from_slice(&self.written.to_le_bytes());
        directory.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        directory.extend_from_slice(&directory_crc.to_le_bytes());
        directory.extend_from_slice(CHUNKS_MAGIC);
        self.chunks
            .write_all(&directory)
            .map_err(TsdbError::io("write", &path))?;
        self.chunks.flush().map_err(TsdbError::io("write", &path))?;
        self.chunks
            .get_ref()
            .sync_all()
            .map_err(TsdbError::io("fsync", &path))?;

        let index_path = self.tmp.join(INDEX_FILE);
        write_index(&index_path, &self.strings, &self.series, self.min_time)?;
        sync_file(&index_path)?;

        let mut sources = std::mem::take(&mut self.sources);
        sources.sort();
        sources.dedup();
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_time: self.min_time,
            max_time: self.max_time,
            stats: self.stats.clone(),
            compaction: BlockCompaction {
                level: self.level,
                sources,
            },
            version: BLOCK_VERSION,
        };
        let meta_path = self.tmp.join(META_FILE);
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| TsdbError::Invalid {
            what: "block meta",
            reason: e.to_string(),
        })?;
        std::fs::write(&meta_path, json).map_err(TsdbError::io("write", &meta_path))?;
        sync_file(&meta_path)?;
        fsync_dir(&self.tmp)?;

        let dest = self.blocks_dir.join(&self.ulid);
        std::fs::rename(&self.tmp, &dest).map_err(TsdbError::io("rename", &self.tmp))?;
        self.finished = true;
        fsync_dir(&self.blocks_dir)?;
        Ok(Some(meta))
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Best effort: a leftover .tmp directory is ignored by readers.
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(TsdbError::io("fsync", path))
}

/// Splits samples into chunks of at most [`CHUNK_MAX_SAMPLES`] that do not
/// cross a [`CHUNK_WINDOW`] boundary. The cut points depend only on the
/// timestamps, so series with equal timestamps get equal chunks.
fn cut_chunks(samples: &[Sample]) -> impl Iterator<Item = &[Sample]> {
    let mut rest = samples;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let window = first.t.div_euclid(CHUNK_WINDOW);
        let limit = rest.len().min(CHUNK_MAX_SAMPLES);
        let n = rest[..limit]
            .iter()
            .position(|s| s.t.div_euclid(CHUNK_WINDOW) != window)
            .unwrap_or(limit);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}
