//! Reading a block: [`Block`] maps its files and answers queries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentmon_model::{Labels, Matcher, Sample};
use memmap2::Mmap;

use super::columns::{decode_timestamps, decode_values, Cursor};
use super::index::{ChunkMeta, ColumnRef, IndexFile};
use super::meta::BlockMeta;
use super::writer::{FrameInfo, CHUNKS_MAGIC};
use super::{corrupt, BlockSeries, BLOCK_VERSION, CHUNKS_FILE, INDEX_FILE};
use crate::index::{postings_for_matchers, IndexReader};
use crate::{Result, TsdbError};

/// Frame directory footer: directory offset, frame count, crc, magic.
const FOOTER_LEN: usize = 20;
/// Frames a query keeps decompressed: the current value frame plus the few
/// older frames that hold the timestamp columns it points back to.
const CACHE_FRAMES: usize = 8;
/// Refuse frame sizes no writer produces, so damage cannot make us allocate
/// gigabytes before the decompressor notices.
const MAX_FRAME: u32 = 64 << 20;

/// An opened, verified, immutable block. Cheap to share between threads.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexFile,
    chunks_path: PathBuf,
    chunks: Mmap,
    frames: Vec<FrameInfo>,
    meta_size: u64,
}

impl Block {
    /// Opens the block in `dir`, verifying magic numbers, versions and every
    /// checksum (index sections, chunk frame directory and every frame); any
    /// damage is a [`TsdbError::Corrupt`] naming the file.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        let meta_path = dir.join(super::META_FILE);
        let meta_size = std::fs::metadata(&meta_path)
            .map_err(TsdbError::io("stat", &meta_path))?
            .len();
        let index = IndexFile::open(&dir.join(INDEX_FILE))?;
        if u64::from(index.num_series()) != meta.stats.num_series {
            return Err(corrupt(
                "block index",
                &dir.join(INDEX_FILE),
                "series count differs from meta.json",
            ));
        }
        let chunks_path = dir.join(CHUNKS_FILE);
        let file =
            std::fs::File::open(&chunks_path).map_err(TsdbError::io("open", &chunks_path))?;
        // SAFETY: block files are immutable once the block directory is in
        // place; deletion does not invalidate an existing map.
        let chunks = unsafe { Mmap::map(&file) }.map_err(TsdbError::io("mmap", &chunks_path))?;
        let frames = read_frames(&chunks, &chunks_path)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks_path,
            chunks,
            frames,
            meta_size,
        })
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk of all the block's files.
    pub fn size_bytes(&self) -> u64 {
        self.meta_size + self.index.size_bytes() + self.chunks.len() as u64
    }

    /// Series with at least one sample in `[mint, maxt]`, their samples
    /// restricted to that range, sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<BlockSeries>> {
        let mut cache = FrameCache::default();
        let mut out = Vec::new();
        for (labels, chunks) in self.select_chunks(matchers, mint, maxt)? {
            let samples = self.read_samples(&chunks, mint, maxt, &mut cache)?;
            if !samples.is_empty() {
                out.push(BlockSeries { labels, samples });
            }
        }
        Ok(out)
    }

    /// Ids of the series selected by `matchers`, in label order; none if
    /// the block does not overlap `[mint, maxt]`.
    pub(crate) fn select_ids(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<u32>> {
        if mint > maxt || maxt < self.meta.min_time || mint > self.meta.max_time {
            return Ok(Vec::new());
        }
        postings_for_matchers(self, matchers)
    }

    /// A series' labels and its chunks that overlap `[mint, maxt]` (none
    /// if it has no data there), without reading any chunk.
    pub(crate) fn series_chunks(
        &self,
        id: u32,
        mint: i64,
        maxt: i64,
    ) -> Result<(Labels, Vec<ChunkMeta>)> {
        let (labels, mut chunks) = self.index.series(id)?;
        chunks.retain(|c| c.maxt >= mint && c.mint <= maxt);
        Ok((labels, chunks))
    }

    /// The selected series with their chunks that overlap `[mint, maxt]`,
    /// without reading any chunk, sorted by labels.
    pub(crate) fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<ChunkMeta>)>> {
        let mut out = Vec::new();
        for id in self.select_ids(matchers, mint, maxt)? {
            let (labels, chunks) = self.series_chunks(id, mint, maxt)?;
            if !chunks.is_empty() {
                out.push((labels, chunks));
            }
        }
        Ok(out)
    }

    /// The samples in `[mint, maxt]` of a series' `chunks`, read through
    /// `cache` (series read in index order share frames).
    pub(crate) fn read_samples(
        &self,
        chunks: &[ChunkMeta],
        mint: i64,
        maxt: i64,
        cache: &mut FrameCache,
    ) -> Result<Vec<Sample>> {
        let mut samples = Vec::new();
        for c in chunks {
            let chunk = self.read_chunk(c, cache)?;
            samples.extend(chunk.into_iter().filter(|s| s.t >= mint && s.t <= maxt));
        }
        Ok(samples)
    }

    /// Labels of the series selected by `matchers`, without reading samples.
    pub fn series_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        postings_for_matchers(self, matchers)?
            .into_iter()
            .map(|id| self.index.series_labels(id))
            .collect()
    }

    /// Sorted label names of the selected series (all names if no matchers).
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            return Ok(self.index.label_names());
        }
        let mut names = std::collections::BTreeSet::new();
        for labels in self.series_labels(matchers)? {
            names.extend(labels.into_vec().into_iter().map(|l| l.name));
        }
        Ok(names.into_iter().collect())
    }

    /// Sorted values of label `name` among the selected series.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        if matchers.is_empty() {
            return Ok(self.index.label_values(name));
        }
        let mut values = std::collections::BTreeSet::new();
        for labels in self.series_labels(matchers)? {
            if let Some(v) = labels.get(name) {
                values.insert(v.to_owned());
            }
        }
        Ok(values.into_iter().collect())
    }

    /// Every series with all its samples, in label order, one at a time.
    pub fn iter_series(&self) -> SeriesIter<'_> {
        SeriesIter {
            block: self,
            next: 0,
            cache: FrameCache::default(),
        }
    }

    /// Reads every series fully, e.g. after an unclean shutdown; frames are
    /// already checksummed by [`Block::open`], this also decodes them.
    pub fn verify(&self) -> Result<()> {
        self.iter_series().try_for_each(|s| s.map(drop))
    }

    fn read_series(&self, id: u32, cache: &mut FrameCache) -> Result<BlockSeries> {
        let (labels, chunks) = self.index.series(id)?;
        let mut samples = Vec::new();
        for c in &chunks {
            samples.extend(self.read_chunk(c, cache)?);
        }
        Ok(BlockSeries { labels, samples })
    }

    fn read_chunk(&self, chunk: &ChunkMeta, cache: &mut FrameCache) -> Result<Vec<Sample>> {
        let bad = |reason: &'static str| corrupt("block chunks", &self.chunks_path, reason);
        let ts_frame = self.frame(chunk.timestamps, cache)?;
        let ts = decode_timestamps(&mut self.column(&ts_frame, chunk.timestamps)?)
            .map_err(|e| bad(e.0))?;
        let val_frame = self.frame(chunk.values, cache)?;
        let vs = decode_values(&mut self.column(&val_frame, chunk.values)?, ts.len())
            .map_err(|e| bad(e.0))?;
        if ts.first() != Some(&chunk.mint) || ts.last() != Some(&chunk.maxt) {
            return Err(bad("chunk time range differs from index"));
        }
        Ok(ts
            .into_iter()
            .zip(vs)
            .map(|(t, v)| Sample::new(t, v))
            .collect())
    }

    fn column<'a>(&self, frame: &'a [u8], at: ColumnRef) -> Result<Cursor<'a>> {
        let data = frame.get(at.offset as usize..);
        let data = data.ok_or_else(|| {
            corrupt(
                "block chunks",
                &self.chunks_path,
                "column offset past frame",
            )
        })?;
        Ok(Cursor::new(data))
    }

    /// The decompressed frame holding `at`, from the query's cache if there.
    fn frame(&self, at: ColumnRef, cache: &mut FrameCache) -> Result<Arc<[u8]>> {
        if let Some(f) = cache.get(at.frame) {
            return Ok(f);
        }
        let bad = |reason: String| corrupt("block chunks", &self.chunks_path, reason);
        let info = self
            .frames
            .get(at.frame as usize)
            .ok_or_else(|| bad(format!("no frame {}", at.frame)))?;
        let start = info.offset as usize;
        let data = &self.chunks[start..start + info.compressed_len as usize];
        let raw = zstd::bulk::decompress(data, info.raw_len as usize)
            .map_err(|e| bad(format!("frame {}: {e}", at.frame)))?;
        if raw.len() != info.raw_len as usize {
            return Err(bad(format!("frame {} has the wrong length", at.frame)));
        }
        let raw: Arc<[u8]> = raw.into();
        cache.put(at.frame, raw.clone());
        Ok(raw)
    }
}

impl IndexReader for Block {
    fn label_values(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.index.label_values(name))
    }
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>> {
        self.index.postings(name, value)
    }
    fn all_postings(&self) -> Result<Vec<u32>> {
        Ok((0..self.index.num_series()).collect())
    }
}

/// Iterator over all series of a block, see [`Block::iter_series`].
pub struct SeriesIter<'a> {
    block: &'a Block,
    next: u32,
    cache: FrameCache,
}

impl Iterator for SeriesIter<'_> {
    type Item = Result<BlockSeries>;
    fn next(&mut self) -> Option<Result<BlockSeries>> {
        if self.next >= self.block.index.num_series() {
            return None;
        }
        let id = self.next;
        self.next += 1;
        Some(self.block.read_series(id, &mut self.cache))
    }
}

/// Most-recently-used decompressed frames of one query.
#[derive(Default)]
pub(crate) struct FrameCache(Vec<(u32, Arc<[u8]>)>);

impl FrameCache {
    fn get(&mut self, frame: u32) -> Option<Arc<[u8]>> {
        let i = self.0.iter().position(|(f, _)| *f == frame)?;
        let entry = self.0.remove(i);
        let data = entry.1.clone();
        self.0.push(entry);
        Some(data)
    }

    fn put(&mut self, frame: u32, data: Arc<[u8]>) {
        if self.0.len() >= CACHE_FRAMES {
            self.0.remove(0);
        }
        self.0.push((frame, data));
    }
}

/// Checks the `chunks` file's header, footer and directory and every
/// frame's checksum, returning the directory.
fn read_frames(map: &[u8], path: &Path) -> Result<Vec<FrameInfo>> {
    let bad = |reason: String| corrupt("block chunks", path, reason);
    let len = map.len();
    if len < 8 + FOOTER_LEN || &map[..4] != CHUNKS_MAGIC || &map[len - 4..] != CHUNKS_MAGIC {
        return Err(bad("bad magic or truncated file".into()));
    }
    let le32 = |at: usize| u32::from_le_bytes([map[at], map[at + 1], map[at + 2], map[at + 3]]);
    let le64 = |at: usize| u64::from(le32(at)) | (u64::from(le32(at + 4)) << 32);
    if le32(4) != BLOCK_VERSION {
        return Err(bad(format!("unsupported version {}", le32(4))));
    }
    let footer = len - FOOTER_LEN;
    let (dir_start, count, dir_crc) = (le64(footer), le32(footer + 8) as usize, le32(footer + 12));
    let dir_end = (dir_start as usize).checked_add(count.saturating_mul(20));
    if dir_start < 8 || dir_end != Some(footer) {
        return Err(bad("frame directory out of bounds".into()));
    }
    let directory = &map[dir_start as usize..footer];
    if crc32fast::hash(directory) != dir_crc {
        return Err(bad("frame directory checksum mismatch".into()));
    }
    let mut frames = Vec::with_capacity(count);
    let mut expected = 8u64;
    for (i, e) in directory.chunks_exact(20).enumerate() {
        let at = dir_start as usize + i * 20;
        let f = FrameInfo {
            offset: le64(at),
            compressed_len: le32(at + 8),
            raw_len: le32(at + 12),
            crc: le32(at + 16),
        };
        // Frames are contiguous; checking that also bounds every slice.
        if f.offset != expected || f.raw_len > MAX_FRAME || e.len() != 20 {
            return Err(bad(format!("frame {i} out of place")));
        }
        expected += u64::from(f.compressed_len);
        if expected > dir_start {
            return Err(bad(format!("frame {i} out of bounds")));
        }
        let data = &map[f.offset as usize..expected as usize];
        if crc32fast::hash(data) != f.crc {
            return Err(bad(format!("frame {i} checksum mismatch")));
        }
        frames.push(f);
    }
    if expected != dir_start {
        return Err(bad("unaccounted bytes before frame directory".into()));
    }
    Ok(frames)
}
