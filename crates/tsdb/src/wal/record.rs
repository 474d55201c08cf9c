//! Byte format of WAL segments and records (see `docs/wal-format.md`).
//!
//! This module holds the format constants and the writer side, [`Batch`]:
//! a reusable buffer of complete, framed records ready for one `write(2)`.
//! The reader side is in `decode.rs`.

use agentmon_model::{LabelRef, MetricMetadata};

use super::RefSample;

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"AMWL";
/// Format version written after the magic; readers reject other versions.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the segment header: magic, version, three reserved zero bytes.
pub const SEGMENT_HEADER_LEN: usize = 8;
/// Length of a record frame header: type (1), payload length (4), CRC32 (4).
pub const FRAME_HEADER_LEN: usize = 9;

/// Record type of a batch of series definitions.
pub const RECORD_SERIES: u8 = 1;
/// Record type of a batch of samples.
pub const RECORD_SAMPLES: u8 = 2;
/// Record type of a batch of metric-family metadata.
pub const RECORD_METADATA: u8 = 3;

/// Samples per sample record. Bounds record size (about 280 KiB at worst)
/// so one record never needs a huge buffer, while keeping the per-record
/// framing and checksum negligible per sample.
pub const MAX_SAMPLES_PER_RECORD: u32 = 10_000;
/// A series or metadata record is closed once its payload passes this size;
/// the next entry starts a new record.
const SOFT_RECORD_LIMIT: usize = 1 << 20;
/// Upper bound on the bytes one encoded sample takes: two 10-byte varints
/// and the 8 value bytes.
const MAX_SAMPLE_BYTES: usize = 28;

/// The segment header as written at offset 0 of every segment.
pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4] = FORMAT_VERSION;
    h
}

/// Record currently being appended to; its frame header is filled in when
/// it is closed, because length and checksum are only known then.
#[derive(Debug, Clone, Copy)]
struct OpenRecord {
    kind: u8,
    start: usize,
    count: u32,
    base_ref: u32,
    base_t: i64,
}

/// Pending records of one commit, encoded and framed in a buffer that is
/// reused across commits.
#[derive(Debug, Default)]
pub struct Batch {
    buf: Vec<u8>,
    open: Option<OpenRecord>,
    closed_records: u64,
}

impl Batch {
    /// Appends one series definition, merged into the open series record.
    pub fn add_series(&mut self, series_ref: u32, labels: &[LabelRef<'_>]) {
        self.open_for(RECORD_SERIES);
        self.buf.extend_from_slice(&series_ref.to_le_bytes());
        put_uvarint(&mut self.buf, labels.len() as u64);
        for l in labels {
            put_bytes(&mut self.buf, l.name.as_bytes());
            put_bytes(&mut self.buf, l.value.as_bytes());
        }
    }

    /// Appends samples, continuing the open sample record while it has room.
    pub fn add_samples(&mut self, mut samples: &[RefSample]) {
        while let Some(first) = samples.first() {
            let rec = match self.open {
                Some(r) if r.kind == RECORD_SAMPLES && r.count < MAX_SAMPLES_PER_RECORD => r,
                _ => {
                    self.close();
                    let start = self.begin(RECORD_SAMPLES);
                    // The count is patched in on close; the base is the
                    // record's first sample so deltas stay small.
                    self.buf.extend_from_slice(&[0; 4]);
                    self.buf.extend_from_slice(&first.series_ref.to_le_bytes());
                    self.buf.extend_from_slice(&first.t.to_le_bytes());
                    let r = OpenRecord {
                        kind: RECORD_SAMPLES,
                        start,
                        count: 0,
                        base_ref: first.series_ref,
                        base_t: first.t,
                    };
                    self.open = Some(r);
                    r
                }
            };
            let take = samples
                .len()
                .min((MAX_SAMPLES_PER_RECORD - rec.count) as usize);
            self.buf.reserve(take * MAX_SAMPLE_BYTES);
            for s in &samples[..take] {
                let dref = i64::from(s.series_ref) - i64::from(rec.base_ref);
                put_uvarint(&mut self.buf, zigzag(dref));
                // Wrapping keeps the encoding total for extreme timestamps;
                // the decoder wraps back to the same value.
                put_uvarint(&mut self.buf, zigzag(s.t.wrapping_sub(rec.base_t)));
                self.buf.extend_from_slice(&s.v.to_bits().to_le_bytes());
            }
            if let Some(open) = self.open.as_mut() {
                open.count += take as u32;
            }
            samples = &samples[take..];
        }
    }

    /// Appends one metadata entry, merged into the open metadata record.
    pub fn add_metadata(&mut self, metric_family: &str, meta: &MetricMetadata) {
        self.open_for(RECORD_METADATA);
        put_bytes(&mut self.buf, metric_family.as_bytes());
        self.buf.push(meta.metric_type.code());
        put_bytes(&mut self.buf, meta.help.as_bytes());
        put_bytes(&mut self.buf, meta.unit.as_bytes());
    }

    /// Closes the open record and returns every pending byte, framed.
    pub fn finish(&mut self) -> &[u8] {
        self.close();
        &self.buf
    }

    /// Number of complete records in the buffer (call after [`Batch::finish`]).
    pub fn records(&self) -> u64 {
        self.closed_records
    }

    /// Whether nothing has been added since the last clear.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets every pending record, keeping the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.open = None;
        self.closed_records = 0;
    }

    /// Makes sure a record of `kind` with room for another entry is open.
    fn open_for(&mut self, kind: u8) {
        if let Some(r) = self.open {
            if r.kind == kind && self.buf.len() - r.start < SOFT_RECORD_LIMIT {
                return;
            }
        }
        self.close();
        let start = self.begin(kind);
        self.open = Some(OpenRecord {
            kind,
            start,
            count: 0,
            base_ref: 0,
            base_t: 0,
        });
    }

    /// Reserves a frame header for a new record and returns its offset.
    fn begin(&mut self, kind: u8) -> usize {
        let start = self.buf.len();
        self.buf.push(kind);
        self.buf.extend_from_slice(&[0; FRAME_HEADER_LEN - 1]);
        start
    }

    /// Fills in length and checksum of the open record.
    fn close(&mut self) {
        let Some(r) = self.open.take() else { return };
        let payload_start = r.start + FRAME_HEADER_LEN;
        if r.kind == RECORD_SAMPLES {
            self.buf[payload_start..payload_start + 4].copy_from_slice(&r.count.to_le_bytes());
        }
        let len = u32::try_from(self.buf.len() - payload_start)
            .expect("WAL record payload exceeds 4 GiB");
        self.buf[r.start + 1..r.start + 5].copy_from_slice(&len.to_le_bytes());
        let crc = frame_crc(&self.buf[r.start..r.start + 5], &self.buf[payload_start..]);
        self.buf[r.start + 5..r.start + 9].copy_from_slice(&crc.to_le_bytes());
        self.closed_records += 1;
    }
}

/// CRC32 (IEEE) over the type and length bytes and the payload, so a
/// corrupted length is caught even when the bytes it points at look valid.
pub(super) fn frame_crc(type_and_len: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(type_and_len);
    h.update(payload);
    h.finalize()
}

#[inline]
pub(super) fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

#[inline]
pub(super) fn put_uvarint(buf: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        buf.push(x as u8 | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}
