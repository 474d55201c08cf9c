//! Hand-written protobuf encoder for Prometheus remote-write 1.0 requests.
//!
//! The wire schema (package `prometheus`, proto3) that this module emits:
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2;
//!                  string help = 4; string unit = 5; }
//! ```
//!
//! `MetricMetadata` has no field 3: help and unit are fields 4 and 5.
//!
//! Encoding is a single forward pass over one output buffer. Every nested
//! message's length is computed arithmetically before its bytes are written,
//! so nothing is encoded twice and no length prefix is patched afterwards.
//! Fields holding the proto3 default (empty string, zero integer, `+0.0`) are
//! omitted, as a generated encoder does; `-0.0` and NaNs are kept bit for bit.
//!
//! The finished buffer is the uncompressed body; [`compress`] wraps it in the
//! snappy *block* format (not the framed format) that remote write requires.

use agentmon_model::{LabelRef, MetricMetadata, Sample};

/// Wire type of varint-encoded fields (int64, enums).
const WIRE_VARINT: u8 = 0;
/// Wire type of fixed 64-bit fields (double).
const WIRE_FIXED64: u8 = 1;
/// Wire type of length-delimited fields (strings, nested messages).
const WIRE_LEN: u8 = 2;

/// Builds the key byte of a field; every field number used here is below 16,
/// so a key always fits in one byte.
const fn key(field: u8, wire_type: u8) -> u8 {
    (field << 3) | wire_type
}

const WRITE_REQUEST_TIMESERIES: u8 = key(1, WIRE_LEN);
const WRITE_REQUEST_METADATA: u8 = key(3, WIRE_LEN);
const TIMESERIES_LABEL: u8 = key(1, WIRE_LEN);
const TIMESERIES_SAMPLE: u8 = key(2, WIRE_LEN);
const LABEL_NAME: u8 = key(1, WIRE_LEN);
const LABEL_VALUE: u8 = key(2, WIRE_LEN);
const SAMPLE_VALUE: u8 = key(1, WIRE_FIXED64);
const SAMPLE_TIMESTAMP: u8 = key(2, WIRE_VARINT);
const METADATA_TYPE: u8 = key(1, WIRE_VARINT);
const METADATA_FAMILY_NAME: u8 = key(2, WIRE_LEN);
const METADATA_HELP: u8 = key(4, WIRE_LEN);
const METADATA_UNIT: u8 = key(5, WIRE_LEN);

/// Accumulates one `prometheus.WriteRequest` in protobuf form.
///
/// Series and metadata may be interleaved; a decoder sees two repeated fields
/// either way. Reuse one encoder for many requests with [`clear`](Self::clear).
#[derive(Debug, Default, Clone)]
pub struct WriteRequestEncoder {
    buf: Vec<u8>,
    series: usize,
    samples: usize,
    metadata: usize,
}

impl WriteRequestEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder whose buffer can hold `bytes` of protobuf before growing.
    pub fn with_capacity(bytes: usize) -> Self {
        WriteRequestEncoder {
            buf: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Appends one `TimeSeries`. Labels are written in the order given (remote
    /// write expects them sorted by name; the caller is responsible), and so
    /// are the samples.
    pub fn add_series(&mut self, labels: &[LabelRef<'_>], samples: &[Sample]) {
        let body: usize = labels
            .iter()
            .map(|l| field_len(label_len(l)))
            .chain(samples.iter().map(|s| field_len(sample_len(s))))
            .sum();
        self.buf.reserve(field_len(body));
        self.buf.push(WRITE_REQUEST_TIMESERIES);
        put_varint(&mut self.buf, body as u64);
        let start = self.buf.len();
        for label in labels {
            self.buf.push(TIMESERIES_LABEL);
            put_varint(&mut self.buf, label_len(label) as u64);
            put_string(&mut self.buf, LABEL_NAME, label.name);
            put_string(&mut self.buf, LABEL_VALUE, label.value);
        }
        for sample in samples {
            self.buf.push(TIMESERIES_SAMPLE);
            put_varint(&mut self.buf, sample_len(sample) as u64);
            if sample.v.to_bits() != 0 {
                self.buf.push(SAMPLE_VALUE);
                self.buf.extend_from_slice(&sample.v.to_le_bytes());
            }
            if sample.t != 0 {
                self.buf.push(SAMPLE_TIMESTAMP);
                put_varint(&mut self.buf, sample.t as u64);
            }
        }
        debug_assert_eq!(self.buf.len() - start, body);
        self.series += 1;
        self.samples += samples.len();
    }

    /// Appends one `MetricMetadata` for the family `metric_family`.
    pub fn add_metadata(&mut self, metric_family: &str, meta: &MetricMetadata) {
        let type_code = u64::from(meta.metric_type.code());
        let body = if type_code == 0 {
            0
        } else {
            1 + varint_len(type_code)
        } + string_field_len(metric_family)
            + string_field_len(&meta.help)
            + string_field_len(&meta.unit);
        self.buf.reserve(field_len(body));
        self.buf.push(WRITE_REQUEST_METADATA);
        put_varint(&mut self.buf, body as u64);
        if type_code != 0 {
            self.buf.push(METADATA_TYPE);
            put_varint(&mut self.buf, type_code);
        }
        put_string(&mut self.buf, METADATA_FAMILY_NAME, metric_family);
        put_string(&mut self.buf, METADATA_HELP, &meta.help);
        put_string(&mut self.buf, METADATA_UNIT, &meta.unit);
        self.metadata += 1;
    }

    /// Length in bytes of the protobuf encoded so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing (no series, no metadata) has been added.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Number of series added since creation or the last clear.
    pub fn series(&self) -> usize {
        self.series
    }

    /// Number of samples added since creation or the last clear.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Number of metadata entries added since creation or the last clear.
    pub fn metadata(&self) -> usize {
        self.metadata
    }

    /// Forgets everything added, keeping the buffer's capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.series = 0;
        self.samples = 0;
        self.metadata = 0;
    }

    /// The encoded, uncompressed `WriteRequest`.
    pub fn finish(&self) -> &[u8] {
        &self.buf
    }
}

/// Compresses an encoded request with snappy's block format, the
/// `Content-Encoding: snappy` body of a remote-write request.
///
/// # Panics
/// If `proto` exceeds snappy's maximum block input (about 4 GiB), far beyond
/// any sensible request.
pub fn compress(proto: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(proto)
        .expect("remote-write body exceeds the snappy block size limit")
}

/// Bytes needed by `v` as a base-128 varint (1 to 10).
fn varint_len(v: u64) -> usize {
    // Each byte carries 7 bits; zero still takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Size of a length-delimited field (key, length prefix, body) whose body is
/// `body` bytes long.
fn field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

/// Size of a string field, zero when the string is empty and thus omitted.
fn string_field_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        field_len(s.len())
    }
}

/// Writes a string field, omitting it when empty (the proto3 default).
fn put_string(buf: &mut Vec<u8>, key: u8, s: &str) {
    if !s.is_empty() {
        buf.push(key);
        put_varint(buf, s.len() as u64);
        buf.extend_from_slice(s.as_bytes());
    }
}

/// Size of an encoded `Label` message body.
fn label_len(label: &LabelRef<'_>) -> usize {
    string_field_len(label.name) + string_field_len(label.value)
}

/// Size of an encoded `Sample` message body. Negative timestamps take ten
/// bytes, as int64 varints are two's complement.
fn sample_len(sample: &Sample) -> usize {
    let value = if sample.v.to_bits() == 0 { 0 } else { 9 };
    let timestamp = if sample.t == 0 {
        0
    } else {
        1 + varint_len(sample.t as u64)
    };
    value + timestamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_model::MetricType;

    #[test]
    fn varint_lengths_match_the_encoding() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, 1 << 35, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "value {v}");
        }
        assert_eq!(varint_len(u64::MAX), 10);
    }

    /// Encodes one series with two labels and two samples plus one metadata
    /// entry, and checks every byte against a hand-decoding of the schema.
    #[test]
    fn small_request_is_byte_exact() {
        let mut enc = WriteRequestEncoder::new();
        let labels = [LabelRef::new("__name__", "up"), LabelRef::new("job", "a")];
        let samples = [Sample::new(1000, 1.0), Sample::new(1_700_000_000_000, 0.0)];
        enc.add_series(&labels, &samples);
        let meta = MetricMetadata {
            metric_type: MetricType::Gauge,
            help: "Up.".to_owned(),
            unit: String::new(),
        };
        enc.add_metadata("up", &meta);

        let mut want: Vec<u8> = Vec::new();
        // Label __name__="up": 0x0a len 8 "__name__", 0x12 len 2 "up" -> 14 bytes.
        let label1: &[u8] = b"\x0a\x08__name__\x12\x02up";
        // Label job="a": 0x0a 3 "job" 0x12 1 "a" -> 8 bytes.
        let label2: &[u8] = b"\x0a\x03job\x12\x01a";
        // Sample 1.0 @ 1000: 0x09 + f64 LE, 0x10 + varint(1000) = e8 07 -> 12 bytes.
        let mut sample1 = vec![0x09];
        sample1.extend_from_slice(&1.0f64.to_le_bytes());
        sample1.extend_from_slice(&[0x10, 0xe8, 0x07]);
        // Sample 0.0 @ 1.7e12: value omitted; varint of 1_700_000_000_000.
        let mut sample2 = vec![0x10];
        let mut t = 1_700_000_000_000u64;
        while t >= 0x80 {
            sample2.push((t as u8 & 0x7f) | 0x80);
            t >>= 7;
        }
        sample2.push(t as u8);
        assert_eq!(sample2.len(), 7);

        let mut series = Vec::new();
        series.extend_from_slice(&[0x0a, label1.len() as u8]);
        series.extend_from_slice(label1);
        series.extend_from_slice(&[0x0a, label2.len() as u8]);
        series.extend_from_slice(label2);
        series.extend_from_slice(&[0x12, sample1.len() as u8]);
        series.extend_from_slice(&sample1);
        series.extend_from_slice(&[0x12, sample2.len() as u8]);
        series.extend_from_slice(&sample2);
        assert_eq!(series.len(), 16 + 10 + 14 + 9);
        want.extend_from_slice(&[0x0a, series.len() as u8]);
        want.extend_from_slice(&series);
        // Metadata: type GAUGE (08 02), name (12 02 "up"), help field 4 (22 03 "Up."),
        // empty unit omitted.
        let meta_body: &[u8] = b"\x08\x02\x12\x02up\x22\x03Up.";
        want.extend_from_slice(&[0x1a, meta_body.len() as u8]);
        want.extend_from_slice(meta_body);

        assert_eq!(enc.finish(), want.as_slice());
        assert_eq!(enc.len(), want.len());
        assert_eq!((enc.series(), enc.samples(), enc.metadata()), (1, 2, 1));

        enc.clear();
        assert!(enc.is_empty());
        assert_eq!(enc.series(), 0);
    }

    #[test]
    fn negative_timestamps_and_negative_zero_are_kept() {
        let mut enc = WriteRequestEncoder::new();
        enc.add_series(&[LabelRef::new("__name__", "x")], &[Sample::new(-1, -0.0)]);
        let bytes = enc.finish();
        // Label field: key, length 13, `__name__` (10 bytes) and `x` (3 bytes).
        // Then the sample field: key, length 20, value, ten-byte timestamp.
        let sample = &bytes[2 + 15..];
        assert_eq!(sample[0], 0x12);
        assert_eq!(sample[1] as usize, 9 + 11);
        assert_eq!(sample[2], 0x09);
        assert_eq!(&sample[3..11], &(-0.0f64).to_le_bytes());
        assert_eq!(sample[11], 0x10);
        assert_eq!(&sample[12..21], &[0xff; 9]);
        assert_eq!(sample[21], 0x01);
        assert_eq!(bytes.len(), 2 + 15 + 22);
    }

    #[test]
    fn long_series_use_multi_byte_length_prefixes() {
        let mut enc = WriteRequestEncoder::new();
        let value = "v".repeat(300);
        let samples: Vec<Sample> = (1..=50)
            .map(|i| Sample::new(i * 15_000, i as f64))
            .collect();
        enc.add_series(&[LabelRef::new("__name__", &value)], &samples);
        let bytes = enc.finish();
        assert_eq!(bytes[0], 0x0a);
        // The outer length is a two-byte varint covering the rest of the buffer.
        let len = (bytes[1] & 0x7f) as usize | ((bytes[2] as usize) << 7);
        assert!(bytes[1] & 0x80 != 0 && bytes[2] < 0x80);
        assert_eq!(len, bytes.len() - 3);
    }

    #[test]
    fn compressed_body_round_trips_through_snappy() {
        let mut enc = WriteRequestEncoder::with_capacity(1 << 16);
        for i in 0..200 {
            let instance = format!("10.0.0.{i}:8000");
            let labels = [
                LabelRef::new("__name__", "hermes_tokens_total"),
                LabelRef::new("instance", &instance),
                LabelRef::new("job", "hermes-agent"),
            ];
            enc.add_series(
                &labels,
                &[Sample::new(1_700_000_000_000 + i, i as f64 * 1.5)],
            );
        }
        let compressed = compress(enc.finish());
        assert!(compressed.len() < enc.len());
        let back = snap::raw::Decoder::new()
            .decompress_vec(&compressed)
            .unwrap();
        assert_eq!(back, enc.finish());
    }
}
