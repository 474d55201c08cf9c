//! [`replay`]: reads the WAL back on startup.
//!
//! Each segment is read into memory with one read and parsed in place;
//! sample records decode into one reused buffer and labels borrow from the
//! segment bytes, so replay does not allocate per sample or per label.
//!
//! Damage is expected after a crash (a torn last write, zero-filled space
//! at the end of a file) and must not keep the store from starting. Replay
//! stops at the first record that fails to verify, cuts that segment off at
//! the end of the last good record, deletes every later segment (their
//! records could refer to series defined in the lost part), and reports it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use agentmon_model::{LabelRef, MetricMetadata};

use super::decode::{
    check_segment_header, decode_metadata, decode_samples, decode_series, read_frame,
};
use super::record::{
    FRAME_HEADER_LEN, RECORD_METADATA, RECORD_SAMPLES, RECORD_SERIES, SEGMENT_HEADER_LEN,
};
use super::{list_segments, segment_path, sync_dir, RefSample};
use crate::{Result, TsdbError};

/// Receives the WAL's records in the order they were committed.
pub trait ReplayVisitor {
    /// A series was created with reference `series_ref`.
    fn series(&mut self, series_ref: u32, labels: &[LabelRef<'_>]);
    /// Samples of series announced earlier; the slice is reused afterwards.
    fn samples(&mut self, samples: &[RefSample]);
    /// Metadata of a metric family was set.
    fn metadata(&mut self, metric_family: &str, meta: &MetricMetadata);
}

/// What a replay read and what it had to cut off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    /// Segments read, including one cut short by corruption.
    pub segments: u64,
    /// Valid records handed to the visitor.
    pub records: u64,
    /// Series definitions handed to the visitor.
    pub series: u64,
    /// Samples handed to the visitor.
    pub samples: u64,
    /// Bytes of valid segment headers and records.
    pub bytes: u64,
    /// The damage found, if any; replay stops there.
    pub corruption: Option<WalCorruption>,
}

/// Where the WAL was damaged and what was dropped because of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalCorruption {
    /// Segment holding the first bad record.
    pub segment: u64,
    /// Byte offset of the first bad record in that segment; the segment was
    /// truncated to this length.
    pub offset: u64,
    /// Why the record was rejected.
    pub reason: String,
    /// All bytes dropped: the cut-off tail plus every removed segment.
    pub truncated_bytes: u64,
    /// Later segments deleted because they followed the damage.
    pub removed_segments: Vec<u64>,
}

/// Reads all segments of the WAL in `dir` in order and feeds every valid
/// record to `visitor`. On a bad checksum, bad length, unknown record type
/// or truncated record, the segment is truncated at the end of the last
/// good record, all later segments are deleted, a warning is logged and the
/// damage is returned in the report. A missing `dir` is an empty WAL. Only
/// I/O errors (not corruption) make this fail.
pub fn replay(dir: &Path, visitor: &mut impl ReplayVisitor) -> Result<ReplayReport> {
    let segments = match list_segments(dir) {
        Ok(s) => s,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(ReplayReport::default()),
        Err(err) => {
            return Err(TsdbError::Io {
                op: "list WAL directory",
                path: dir.into(),
                source: err,
            })
        }
    };
    let mut report = ReplayReport::default();
    let mut buf = Vec::new();
    let mut samples = Vec::new();
    for (i, &n) in segments.iter().enumerate() {
        if i > 0 && n != segments[i - 1] + 1 {
            // Records after a hole may use series defined inside it.
            let reason = format!("segment {} is missing", segments[i - 1] + 1);
            report.corruption = Some(drop_tail(dir, n, 0, None, &segments[i..], reason)?);
            break;
        }
        read_segment(dir, n, &mut buf)?;
        report.segments += 1;
        if let Err((offset, reason)) = replay_segment(&buf, visitor, &mut samples, &mut report) {
            let len = Some(buf.len() as u64);
            let later = &segments[i + 1..];
            report.corruption = Some(drop_tail(dir, n, offset as u64, len, later, reason.into())?);
            break;
        }
    }
    Ok(report)
}

/// Reads segment `n` whole into `buf`, reusing its allocation.
fn read_segment(dir: &Path, n: u64, buf: &mut Vec<u8>) -> Result<()> {
    let path = segment_path(dir, n);
    buf.clear();
    let read = |buf: &mut Vec<u8>| -> io::Result<()> {
        let mut f = File::open(&path)?;
        buf.reserve(f.metadata()?.len() as usize);
        f.read_to_end(buf)?;
        Ok(())
    };
    read(buf).map_err(TsdbError::io("read WAL segment", &path))
}

/// Feeds the records of one in-memory segment to `visitor`; on damage,
/// returns the offset of the first bad record and why.
fn replay_segment(
    seg: &[u8],
    visitor: &mut impl ReplayVisitor,
    samples: &mut Vec<RefSample>,
    report: &mut ReplayReport,
) -> std::result::Result<(), (usize, &'static str)> {
    // A crash between creating a segment and writing its header leaves an
    // empty file; nothing was acknowledged in it, so it is not damage.
    if seg.is_empty() {
        return Ok(());
    }
    check_segment_header(seg).map_err(|r| (0, r))?;
    report.bytes += SEGMENT_HEADER_LEN as u64;
    let mut labels: Vec<LabelRef<'_>> = Vec::new();
    let mut entries = Vec::new();
    let mut metas = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < seg.len() {
        let (kind, payload) = read_frame(seg, pos).map_err(|r| (pos, r))?;
        // Each record is decoded completely before the visitor sees any of
        // it, so a malformed record is dropped whole, like a torn one.
        match kind {
            RECORD_SAMPLES => {
                decode_samples(payload, samples).map_err(|r| (pos, r))?;
                visitor.samples(samples);
                report.samples += samples.len() as u64;
            }
            RECORD_SERIES => {
                decode_series(payload, &mut labels, &mut entries).map_err(|r| (pos, r))?;
                let mut from = 0;
                for &(series_ref, to) in &entries {
                    visitor.series(series_ref, &labels[from..to]);
                    from = to;
                }
                report.series += entries.len() as u64;
            }
            RECORD_METADATA => {
                decode_metadata(payload, &mut metas).map_err(|r| (pos, r))?;
                for (family, meta) in &metas {
                    visitor.metadata(family, meta);
                }
            }
            _ => return Err((pos, "unknown record type")),
        }
        let framed = FRAME_HEADER_LEN + payload.len();
        pos += framed;
        report.records += 1;
        report.bytes += framed as u64;
    }
    Ok(())
}

/// Cuts segment `segment` to `offset` (when `len`, its current length, is
/// given), deletes the segments in `remove`, makes that durable and logs it.
fn drop_tail(
    dir: &Path,
    segment: u64,
    offset: u64,
    len: Option<u64>,
    remove: &[u64],
    reason: String,
) -> Result<WalCorruption> {
    let mut dropped = 0;
    if let Some(len) = len {
        let path = segment_path(dir, segment);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| {
                f.set_len(offset)?;
                f.sync_all()
            })
            .map_err(TsdbError::io("truncate WAL segment", &path))?;
        dropped += len - offset;
    }
    let mut removed_segments = Vec::with_capacity(remove.len());
    for &n in remove {
        let path = segment_path(dir, n);
        dropped += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&path).map_err(TsdbError::io("remove WAL segment", path))?;
        removed_segments.push(n);
    }
    if !remove.is_empty() {
        sync_dir(dir)?;
    }
    tracing::warn!(
        segment,
        offset,
        bytes_dropped = dropped,
        removed_segments = ?removed_segments,
        reason = %reason,
        "WAL corruption: cut off the damaged tail and replayed everything before it"
    );
    Ok(WalCorruption {
        segment,
        offset,
        reason,
        truncated_bytes: dropped,
        removed_segments,
    })
}
