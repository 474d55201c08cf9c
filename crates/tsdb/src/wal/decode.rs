//! Parsing of WAL segments held in memory (see `docs/wal-format.md`).
//!
//! Frames and payloads are read in place: strings borrow from the segment
//! bytes and samples decode into a caller-owned, reused buffer, so replay
//! does not allocate per sample or per label. Failures are `&'static str`
//! reasons because they are rare and must cost nothing on the hot path.

use agentmon_model::{LabelRef, MetricMetadata, MetricType};

use super::record::{
    frame_crc, FORMAT_VERSION, FRAME_HEADER_LEN, RECORD_METADATA, RECORD_SERIES,
    SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
use super::RefSample;

/// Fixed prefix of a sample payload: count, base ref, base timestamp.
const SAMPLES_PREFIX_LEN: usize = 16;

/// Checks the segment header at the start of `seg`.
pub fn check_segment_header(seg: &[u8]) -> Result<(), &'static str> {
    if seg.len() < SEGMENT_HEADER_LEN {
        return Err("segment header truncated");
    }
    if seg[..4] != SEGMENT_MAGIC {
        return Err("bad segment magic");
    }
    if seg[4] != FORMAT_VERSION {
        return Err("unsupported segment format version");
    }
    Ok(())
}

/// Parses and verifies the record frame at `pos`; returns its type and
/// payload. The caller advances by `FRAME_HEADER_LEN + payload.len()`.
pub fn read_frame(seg: &[u8], pos: usize) -> Result<(u8, &[u8]), &'static str> {
    let rest = &seg[pos..];
    if rest.len() < FRAME_HEADER_LEN {
        return Err("record header truncated");
    }
    let kind = rest[0];
    // Type 0 is never written, so zero-filled space left by a crash (some
    // file systems extend the file before the data lands) is caught here.
    if !(RECORD_SERIES..=RECORD_METADATA).contains(&kind) {
        return Err("unknown record type");
    }
    let len = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
    if len > rest.len() - FRAME_HEADER_LEN {
        return Err("record length runs past the end of the segment");
    }
    let payload = &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len];
    let want = u32::from_le_bytes(rest[5..9].try_into().unwrap());
    if frame_crc(&rest[..5], payload) != want {
        return Err("record checksum mismatch");
    }
    Ok((kind, payload))
}

/// Decodes a sample payload into `out` (cleared first).
pub fn decode_samples(payload: &[u8], out: &mut Vec<RefSample>) -> Result<(), &'static str> {
    out.clear();
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let count = c.u32_le()?;
    let base_ref = i64::from(c.u32_le()?);
    let base_t = c.i64_le()?;
    // Each sample takes at least 10 bytes; checking first keeps a bogus
    // count from reserving a huge buffer.
    if count as usize > (payload.len() - SAMPLES_PREFIX_LEN) / 10 {
        return Err("sample count exceeds record length");
    }
    out.reserve(count as usize);
    for _ in 0..count {
        let series_ref = u32::try_from(base_ref + unzigzag(c.uvarint()?))
            .map_err(|_| "sample series ref out of range")?;
        let t = base_t.wrapping_add(unzigzag(c.uvarint()?));
        let v = f64::from_bits(u64::from_le_bytes(c.array::<8>()?));
        out.push(RefSample { series_ref, t, v });
    }
    c.finished()
}

/// Decodes a series payload. Labels of all entries go into `labels`;
/// `entries` gets each entry's ref and the end of its labels in `labels`.
pub fn decode_series<'a>(
    payload: &'a [u8],
    labels: &mut Vec<LabelRef<'a>>,
    entries: &mut Vec<(u32, usize)>,
) -> Result<(), &'static str> {
    labels.clear();
    entries.clear();
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    while !c.at_end() {
        let series_ref = c.u32_le()?;
        let n = c.uvarint()?;
        for _ in 0..n {
            let name = c.str()?;
            let value = c.str()?;
            labels.push(LabelRef { name, value });
        }
        entries.push((series_ref, labels.len()));
    }
    Ok(())
}

/// Decodes a metadata payload into `(family, metadata)` pairs.
pub fn decode_metadata<'a>(
    payload: &'a [u8],
    out: &mut Vec<(&'a str, MetricMetadata)>,
) -> Result<(), &'static str> {
    out.clear();
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    while !c.at_end() {
        let family = c.str()?;
        let metric_type = MetricType::from_code(u64::from(c.array::<1>()?[0]));
        let help = c.str()?.to_owned();
        let unit = c.str()?.to_owned();
        out.push((
            family,
            MetricMetadata {
                metric_type,
                help,
                unit,
            },
        ));
    }
    Ok(())
}

#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Bounds-checked reader over one payload.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn finished(&self) -> Result<(), &'static str> {
        if self.at_end() {
            Ok(())
        } else {
            Err("trailing bytes after record payload")
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let b = self
            .buf
            .get(self.pos..self.pos + N)
            .ok_or("record payload truncated")?;
        self.pos += N;
        Ok(b.try_into().unwrap())
    }

    fn u32_le(&mut self) -> Result<u32, &'static str> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    fn i64_le(&mut self) -> Result<i64, &'static str> {
        self.array::<8>().map(i64::from_le_bytes)
    }

    #[inline]
    fn uvarint(&mut self) -> Result<u64, &'static str> {
        // Most deltas fit one byte; take that path without the loop.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("varint truncated")?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err("varint overflows 64 bits")
    }

    fn str(&mut self) -> Result<&'a str, &'static str> {
        let len = usize::try_from(self.uvarint()?).map_err(|_| "string length too large")?;
        let end = self.pos.checked_add(len).ok_or("string length too large")?;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or("string runs past the record")?;
        self.pos = end;
        std::str::from_utf8(b).map_err(|_| "string is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::record::{put_uvarint, zigzag, Batch, RECORD_SAMPLES};

    #[test]
    fn varints_round_trip_at_the_edges() {
        for x in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i64::MAX,
            i64::MIN,
            1 << 40,
            -(1 << 40),
        ] {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, zigzag(x));
            let mut c = Cursor { buf: &buf, pos: 0 };
            assert_eq!(unzigzag(c.uvarint().unwrap()), x);
            assert!(c.at_end());
        }
        let overlong = [0xffu8; 11];
        assert!(Cursor {
            buf: &overlong,
            pos: 0
        }
        .uvarint()
        .is_err());
    }

    #[test]
    fn samples_split_into_bounded_records() {
        let samples: Vec<RefSample> = (0..25_000u32)
            .map(|i| RefSample {
                series_ref: i % 7,
                t: i64::from(i) * 15,
                v: f64::from(i),
            })
            .collect();
        let mut b = Batch::default();
        b.add_samples(&samples[..100]);
        b.add_samples(&samples[100..]);
        let buf = b.finish().to_vec();
        assert_eq!(b.records(), 3);
        let (mut pos, mut got, mut out) = (0, Vec::new(), Vec::new());
        while pos < buf.len() {
            let (kind, payload) = read_frame(&buf, pos).unwrap();
            assert_eq!(kind, RECORD_SAMPLES);
            decode_samples(payload, &mut out).unwrap();
            got.extend_from_slice(&out);
            pos += FRAME_HEADER_LEN + payload.len();
        }
        assert_eq!(got, samples);
    }

    #[test]
    fn extreme_timestamps_and_refs_survive() {
        let samples = [
            RefSample {
                series_ref: u32::MAX,
                t: i64::MIN,
                v: -0.0,
            },
            RefSample {
                series_ref: 0,
                t: i64::MAX,
                v: f64::INFINITY,
            },
        ];
        let mut b = Batch::default();
        b.add_samples(&samples);
        let buf = b.finish().to_vec();
        let (_, payload) = read_frame(&buf, 0).unwrap();
        let mut out = Vec::new();
        decode_samples(payload, &mut out).unwrap();
        assert_eq!(out[0].series_ref, u32::MAX);
        assert_eq!(out[0].t, i64::MIN);
        assert_eq!(out[0].v.to_bits(), (-0.0f64).to_bits());
        assert_eq!(out[1].t, i64::MAX);
    }

    #[test]
    fn corrupted_length_or_payload_is_rejected() {
        let mut b = Batch::default();
        b.add_series(3, &[LabelRef::new("__name__", "up")]);
        let good = b.finish().to_vec();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(
                read_frame(&bad, 0).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
    }
}
