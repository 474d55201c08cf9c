//! The `index` file: symbols, series (labels + chunk metas), postings.
//!
//! Written once by [`write_index`] and read through a memory map by
//! [`IndexFile`]. Only the symbol table and the label-name → value →
//! postings-offset table are decoded into the heap at open; series entries
//! and postings lists are decoded from the map when a query needs them.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use agentmon_model::{Label, Labels};
use memmap2::Mmap;

use super::columns::{put_varint, put_zigzag, Cursor, Malformed};
use super::corrupt;
use crate::{Result, TsdbError};

const MAGIC: &[u8; 4] = b"AMIX";
const HEADER_LEN: usize = 16;
const SECTIONS: usize = 5;
/// TOC entries (offset, length, crc) plus TOC crc and trailing magic.
const TOC_LEN: usize = SECTIONS * 20 + 8;
const WHAT: &str = "block index";

/// Where one chunk's column starts: frame number and offset in the
/// decompressed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ColumnRef {
    pub frame: u32,
    pub offset: u32,
}

/// Time range and column locations of one chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkMeta {
    pub mint: i64,
    pub maxt: i64,
    pub timestamps: ColumnRef,
    pub values: ColumnRef,
}

/// A series as the writer collects it; label ids are the writer's own
/// (insertion order) string ids, remapped to sorted symbols at the end.
pub(crate) struct SeriesRecord {
    pub labels: Vec<(u32, u32)>,
    pub chunks: Vec<ChunkMeta>,
}

/// Writes the index for `series` (already in label order) to `path`;
/// `strings` are the writer's string ids.
pub(crate) fn write_index(
    path: &Path,
    strings: &[String],
    series: &[SeriesRecord],
    base_time: i64,
) -> Result<()> {
    // Symbol ids follow string order, so sorting pairs of ids sorts pairs
    // of strings and readers can binary-search values by id.
    let mut order: Vec<u32> = (0..strings.len() as u32).collect();
    order.sort_by(|&a, &b| strings[a as usize].cmp(&strings[b as usize]));
    let mut remap = vec![0u32; strings.len()];
    for (sym, &id) in order.iter().enumerate() {
        remap[id as usize] = sym as u32;
    }

    let mut symbols = Vec::new();
    put_varint(&mut symbols, order.len() as u64);
    for &id in &order {
        let s = strings[id as usize].as_bytes();
        put_varint(&mut symbols, s.len() as u64);
        symbols.extend_from_slice(s);
    }

    let mut entries = Vec::new();
    let mut offsets = Vec::with_capacity(series.len() * 4);
    let mut postings_of: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for (id, rec) in series.iter().enumerate() {
        offsets.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        put_varint(&mut entries, rec.labels.len() as u64);
        for &(n, v) in &rec.labels {
            let pair = (remap[n as usize], remap[v as usize]);
            put_varint(&mut entries, u64::from(pair.0));
            put_varint(&mut entries, u64::from(pair.1));
            postings_of.entry(pair).or_default().push(id as u32);
        }
        put_varint(&mut entries, rec.chunks.len() as u64);
        let mut prev = base_time;
        for c in &rec.chunks {
            put_zigzag(&mut entries, c.mint.wrapping_sub(prev));
            put_zigzag(&mut entries, c.maxt.wrapping_sub(c.mint));
            for r in [c.timestamps, c.values] {
                put_varint(&mut entries, u64::from(r.frame));
                put_varint(&mut entries, u64::from(r.offset));
            }
            prev = c.maxt;
        }
    }
    if entries.len() > u32::MAX as usize {
        return Err(TsdbError::Invalid {
            what: "block",
            reason: "series table over 4 GiB".into(),
        });
    }

    let mut postings = Vec::new();
    let mut table = Vec::new();
    let names: Vec<u32> = {
        let mut n: Vec<u32> = postings_of.keys().map(|k| k.0).collect();
        n.dedup();
        n
    };
    put_varint(&mut table, names.len() as u64);
    for name in names {
        let values: Vec<(&(u32, u32), &Vec<u32>)> =
            postings_of.range((name, 0)..=(name, u32::MAX)).collect();
        put_varint(&mut table, u64::from(name));
        put_varint(&mut table, values.len() as u64);
        for ((_, value), ids) in values {
            put_varint(&mut table, u64::from(*value));
            put_varint(&mut table, postings.len() as u64);
            put_varint(&mut postings, ids.len() as u64);
            let mut prev = 0u32;
            for &id in ids {
                put_varint(&mut postings, u64::from(id - prev));
                prev = id;
            }
        }
    }

    // Sections go straight to the file: a second in-memory copy of the
    // whole index would be the largest allocation of a flush.
    let io = TsdbError::io("write", path);
    let file = std::fs::File::create(path).map_err(TsdbError::io("create", path))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&super::BLOCK_VERSION.to_le_bytes());
    header.extend_from_slice(&base_time.to_le_bytes());
    let mut written = header.len() as u64;
    let mut toc = Vec::with_capacity(TOC_LEN);
    let mut result = out.write_all(&header);
    for section in [&symbols, &entries, &offsets, &postings, &table] {
        toc.extend_from_slice(&written.to_le_bytes());
        toc.extend_from_slice(&(section.len() as u64).to_le_bytes());
        toc.extend_from_slice(&crc32fast::hash(section).to_le_bytes());
        result = result.and_then(|_| out.write_all(section));
        written += section.len() as u64;
    }
    let toc_crc = crc32fast::hash(&toc);
    result = result
        .and_then(|_| out.write_all(&toc))
        .and_then(|_| out.write_all(&toc_crc.to_le_bytes()))
        .and_then(|_| out.write_all(MAGIC))
        .and_then(|_| out.flush());
    result.map_err(io)
}

/// One label name's values (symbol ids, ascending) with postings offsets.
struct LabelValues {
    name: String,
    values: Vec<(u32, u64)>,
}

/// A verified, memory-mapped index file.
pub(crate) struct IndexFile {
    path: PathBuf,
    map: Mmap,
    base_time: i64,
    symbols: Vec<String>,
    labels: Vec<LabelValues>,
    entries: Range<usize>,
    offsets: Range<usize>,
    postings: Range<usize>,
}

impl IndexFile {
    /// Maps `path`, checks magic, version and every section's CRC, and
    /// loads the symbol and label tables.
    pub(crate) fn open(path: &Path) -> Result<IndexFile> {
        let file = std::fs::File::open(path).map_err(TsdbError::io("open", path))?;
        // SAFETY: block files are never modified after the block is renamed
        // into place; they are only deleted, which keeps the map valid.
        let map = unsafe { Mmap::map(&file) }.map_err(TsdbError::io("mmap", path))?;
        let bad = |reason: &str| corrupt(WHAT, path, reason);
        let len = map.len();
        if len < HEADER_LEN + TOC_LEN || &map[..4] != MAGIC || &map[len - 4..] != MAGIC {
            return Err(bad("bad magic or truncated file"));
        }
        let version = u32::from_le_bytes(map[4..8].try_into().map_err(|_| bad("header"))?);
        if version != super::BLOCK_VERSION {
            return Err(bad(&format!("unsupported version {version}")));
        }
        let base_time = i64::from_le_bytes(map[8..16].try_into().map_err(|_| bad("header"))?);
        let toc = &map[len - TOC_LEN..len - 8];
        let toc_crc = u32::from_le_bytes(map[len - 8..len - 4].try_into().map_err(|_| bad("toc"))?);
        if crc32fast::hash(toc) != toc_crc {
            return Err(bad("table of contents checksum mismatch"));
        }
        let mut ranges = Vec::with_capacity(SECTIONS);
        for (i, e) in toc.chunks_exact(20).enumerate() {
            let field = |r: Range<usize>| u64::from_le_bytes(e[r].try_into().unwrap_or([0xFF; 8]));
            let (start, size) = (field(0..8) as usize, field(8..16) as usize);
            let crc = u32::from_le_bytes(e[16..20].try_into().map_err(|_| bad("toc"))?);
            let end = start
                .checked_add(size)
                .filter(|&end| start >= HEADER_LEN && end <= len - TOC_LEN);
            let end = end.ok_or_else(|| bad(&format!("section {i} out of bounds")))?;
            if crc32fast::hash(&map[start..end]) != crc {
                return Err(bad(&format!("section {i} checksum mismatch")));
            }
            ranges.push(start..end);
        }
        let m = |e: Malformed| corrupt(WHAT, path, e.0);
        let mut cur = Cursor::new(&map[ranges[0].clone()]);
        let count = cur.varint_below(ranges[0].len() as u64 + 1).map_err(m)?;
        let mut symbols = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let n = cur.varint_below(u32::MAX as u64).map_err(m)? as usize;
            let s = std::str::from_utf8(cur.bytes(n).map_err(m)?)
                .map_err(|_| bad("symbol not UTF-8"))?;
            symbols.push(s.to_owned());
        }
        if ranges[2].len() % 4 != 0 {
            return Err(bad("series offset table length"));
        }
        let mut cur = Cursor::new(&map[ranges[4].clone()]);
        let sym_count = symbols.len() as u64;
        let mut labels = Vec::new();
        for _ in 0..cur.varint_below(sym_count + 1).map_err(m)? {
            let name = symbols[cur.varint_below(sym_count).map_err(m)? as usize].clone();
            let n = cur.varint_below(sym_count + 1).map_err(m)?;
            let mut values = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let v = cur.varint_below(sym_count).map_err(m)? as u32;
                let off = cur.varint_below(ranges[3].len() as u64).map_err(m)?;
                values.push((v, off));
            }
            if !values.windows(2).all(|w| w[0].0 < w[1].0) {
                return Err(bad("label values out of order"));
            }
            labels.push(LabelValues { name, values });
        }
        if !labels.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(bad("label names out of order"));
        }
        Ok(IndexFile {
            path: path.to_path_buf(),
            base_time,
            symbols,
            labels,
            entries: ranges[1].clone(),
            offsets: ranges[2].clone(),
            postings: ranges[3].clone(),
            map,
        })
    }

    fn malformed(&self, e: Malformed) -> TsdbError {
        corrupt(WHAT, &self.path, e.0)
    }

    pub(crate) fn num_series(&self) -> u32 {
        (self.offsets.len() / 4) as u32
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// All label names, sorted.
    pub(crate) fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|l| l.name.clone()).collect()
    }

    fn label(&self, name: &str) -> Option<&LabelValues> {
        self.labels
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.labels[i])
    }

    /// All values of `name`, sorted.
    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.label(name)
            .map(|l| {
                l.values
                    .iter()
                    .map(|&(v, _)| self.symbols[v as usize].clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Series ids having `name`=`value`, ascending.
    pub(crate) fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>> {
        let Some(label) = self.label(name) else {
            return Ok(Vec::new());
        };
        let found = label
            .values
            .binary_search_by(|&(v, _)| self.symbols[v as usize].as_str().cmp(value));
        let Ok(i) = found else { return Ok(Vec::new()) };
        let section = &self.map[self.postings.clone()];
        let mut cur = Cursor::new(&section[label.values[i].1 as usize..]);
        let n = self.num_series();
        let count = cur
            .varint_below(u64::from(n) + 1)
            .map_err(|e| self.malformed(e))?;
        let mut ids = Vec::with_capacity(count as usize);
        let mut id = 0u64;
        for k in 0..count {
            let delta = cur
                .varint_below(u64::from(n))
                .map_err(|e| self.malformed(e))?;
            if k > 0 && delta == 0 {
                return Err(self.malformed(Malformed("postings not ascending")));
            }
            id += delta;
            if id >= u64::from(n) {
                return Err(self.malformed(Malformed("series id out of range")));
            }
            ids.push(id as u32);
        }
        Ok(ids)
    }

    /// Decodes series `id`: its labels and chunk metas.
    pub(crate) fn series(&self, id: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        self.read_series(id, true).map_err(|e| self.malformed(e))
    }

    /// Decodes only the labels of series `id`.
    pub(crate) fn series_labels(&self, id: u32) -> Result<Labels> {
        Ok(self
            .read_series(id, false)
            .map_err(|e| self.malformed(e))?
            .0)
    }

    fn read_series(
        &self,
        id: u32,
        with_chunks: bool,
    ) -> Result<(Labels, Vec<ChunkMeta>), Malformed> {
        let at = self.offsets.start + id as usize * 4;
        let raw = self.map.get(at..at + 4).filter(|_| id < self.num_series());
        let offset = raw.ok_or(Malformed("series id out of range"))?;
        let offset =
            u32::from_le_bytes(offset.try_into().map_err(|_| Malformed("offset"))?) as usize;
        let entries = &self.map[self.entries.clone()];
        let mut cur = Cursor::new(
            entries
                .get(offset..)
                .ok_or(Malformed("series offset out of range"))?,
        );
        let sym_count = self.symbols.len() as u64;
        let n = cur.varint_below(sym_count + 1)?;
        let mut labels: Vec<Label> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let name = &self.symbols[cur.varint_below(sym_count)? as usize];
            let value = &self.symbols[cur.varint_below(sym_count)? as usize];
            if labels.last().is_some_and(|l| l.name >= *name) {
                return Err(Malformed("series labels out of order"));
            }
            labels.push(Label {
                name: name.clone(),
                value: value.clone(),
            });
        }
        let mut chunks = Vec::new();
        if with_chunks {
            let count = cur.varint_below(cur.remaining() as u64 + 1)?;
            chunks.reserve(count as usize);
            let mut prev = self.base_time;
            for _ in 0..count {
                let mint = prev.wrapping_add(cur.zigzag()?);
                let maxt = mint.wrapping_add(cur.zigzag()?);
                let mut refs = [ColumnRef {
                    frame: 0,
                    offset: 0,
                }; 2];
                for r in &mut refs {
                    r.frame = cur.varint_below(u64::from(u32::MAX))? as u32;
                    r.offset = cur.varint_below(u64::from(u32::MAX))? as u32;
                }
                chunks.push(ChunkMeta {
                    mint,
                    maxt,
                    timestamps: refs[0],
                    values: refs[1],
                });
                prev = maxt;
            }
        }
        Ok((Labels::from_sorted_unchecked(labels), chunks))
    }
}
