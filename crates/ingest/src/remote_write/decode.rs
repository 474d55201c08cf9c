//! The remote-write `WriteRequest` decoder: one pass over the buffer that
//! pushes borrowed labels and samples into a flat [`SeriesBatch`], allocating
//! only the batch's three vectors (sized by a cheap pre-count of series).

use std::str;

use agentmon_model::{
    validate_metric_name, validate_wire_labels, LabelRef, MetricMetadata, MetricType, Sample,
    SeriesBatch,
};

use super::{MetadataEntry, WriteRequest};
use crate::error::describe_labels;
use crate::wire::{Reader, WireError, FIXED64, LEN, VARINT};
use crate::{IngestError, Limits, SeriesProblem};

/// Labels reserved per series before the batch has to grow; agent metrics
/// carry about seven.
const LABELS_PER_SERIES_GUESS: usize = 8;

/// Decodes a decompressed `prometheus.WriteRequest`.
///
/// Labels borrow `buf`. Every series is validated (sorted unique names, valid
/// names, non-empty values, a metric name, and `limits`); series without
/// samples are validated and then left out. Any problem fails the whole
/// request: nothing partial is returned.
pub fn decode<'a>(buf: &'a [u8], limits: &Limits) -> Result<WriteRequest<'a>, IngestError> {
    if buf.len() > limits.max_decompressed_bytes {
        return Err(IngestError::DecompressedTooLarge {
            declared: buf.len() as u64,
            limit: limits.max_decompressed_bytes,
        });
    }
    let series = count_series(buf)?;
    let labels = (series * LABELS_PER_SERIES_GUESS).min(buf.len() / 4);
    let mut request = WriteRequest {
        batch: SeriesBatch::with_capacity(series, labels, series),
        metadata: Vec::new(),
        exemplars_ignored: 0,
    };
    let mut r = Reader::new(buf);
    let mut series_index = 0;
    while !r.is_empty() {
        let (field, wire_type) = r.key().map_err(proto("WriteRequest"))?;
        match field {
            1 => {
                expect(&r, wire_type, LEN, "WriteRequest.timeseries")?;
                let (bytes, at) = r.bytes().map_err(proto("WriteRequest.timeseries"))?;
                let WriteRequest {
                    batch,
                    exemplars_ignored,
                    ..
                } = &mut request;
                decode_series(bytes, at, series_index, batch, exemplars_ignored, limits)?;
                series_index += 1;
            }
            3 => {
                expect(&r, wire_type, LEN, "WriteRequest.metadata")?;
                let (bytes, at) = r.bytes().map_err(proto("WriteRequest.metadata"))?;
                let index = request.metadata.len();
                request.metadata.push(decode_metadata(bytes, at, index)?);
            }
            _ => r.skip(field, wire_type).map_err(proto("WriteRequest"))?,
        }
    }
    Ok(request)
}

/// Counts the top-level time series, checking the top-level framing on the way.
fn count_series(buf: &[u8]) -> Result<usize, IngestError> {
    let mut r = Reader::new(buf);
    let mut count = 0;
    while !r.is_empty() {
        let (field, wire_type) = r.key().map_err(proto("WriteRequest"))?;
        if field == 1 && wire_type == LEN {
            count += 1;
        }
        r.skip(field, wire_type).map_err(proto("WriteRequest"))?;
    }
    Ok(count)
}

/// Maps a wire error to [`IngestError::Protobuf`] in the named message.
fn proto(message: &'static str) -> impl Fn(WireError) -> IngestError {
    move |e| IngestError::Protobuf {
        message,
        offset: e.offset,
        reason: e.reason,
    }
}

/// Checks that a known field arrived with the wire type its schema gives it.
#[inline]
fn expect(r: &Reader<'_>, got: u8, want: u8, message: &'static str) -> Result<(), IngestError> {
    if got == want {
        return Ok(());
    }
    let reason = match want {
        LEN => "field has the wrong wire type: expected length-delimited (2)",
        FIXED64 => "field has the wrong wire type: expected 64-bit (1)",
        _ => "field has the wrong wire type: expected varint (0)",
    };
    Err(IngestError::Protobuf {
        message,
        offset: r.offset(),
        reason,
    })
}

/// Decodes one `TimeSeries` into the batch as its pending series, then
/// validates it and either finishes it or (with no samples) discards it.
#[inline]
fn decode_series<'a>(
    buf: &'a [u8],
    base: usize,
    index: usize,
    batch: &mut SeriesBatch<'a>,
    exemplars: &mut usize,
    limits: &Limits,
) -> Result<(), IngestError> {
    let mut r = Reader::nested(buf, base);
    let mut label_count = 0usize;
    let mut sample_count = 0usize;
    while let Some(tag) = r.peek() {
        // Single-byte keys of labels (field 1) and samples (field 2), both
        // length-delimited: nearly every key, so they skip the general match.
        let field = match tag {
            0x0a => {
                r.advance(1);
                1
            }
            0x12 => {
                r.advance(1);
                2
            }
            _ => {
                let (field, wire_type) = r.key().map_err(proto("TimeSeries"))?;
                match field {
                    1 => expect(&r, wire_type, LEN, "TimeSeries.labels")?,
                    2 => expect(&r, wire_type, LEN, "TimeSeries.samples")?,
                    3 => {
                        expect(&r, wire_type, LEN, "TimeSeries.exemplars")?;
                        r.bytes().map_err(proto("TimeSeries.exemplars"))?;
                        *exemplars += 1;
                        continue;
                    }
                    4 => return Err(series_error(batch, index, SeriesProblem::NativeHistograms)),
                    _ => {
                        r.skip(field, wire_type).map_err(proto("TimeSeries"))?;
                        continue;
                    }
                }
                field
            }
        };
        if field == 1 {
            let (bytes, at) = r.bytes().map_err(proto("TimeSeries.labels"))?;
            let label = decode_label(bytes, at).map_err(|e| match e {
                LabelError::Wire(w) => proto("Label")(w),
                LabelError::Utf8(field) => {
                    series_error(batch, index, SeriesProblem::InvalidUtf8 { field })
                }
            })?;
            label_count += 1;
            if let Err(problem) = limits
                .check_label_count(label_count)
                .and_then(|()| limits.check_label(label.name, label.value))
            {
                return Err(series_error(batch, index, problem));
            }
            batch.push_label(label);
        } else {
            let (bytes, at) = r.bytes().map_err(proto("TimeSeries.samples"))?;
            batch.push_sample(decode_sample(bytes, at)?);
            sample_count += 1;
        }
    }
    let labels = batch.pending_labels();
    if !labels_are_valid(labels) {
        if let Err(e) = validate_wire_labels(labels) {
            return Err(series_error(batch, index, e.into()));
        }
    }
    if sample_count == 0 {
        batch.discard_pending();
    } else {
        batch.finish_series();
    }
    Ok(())
}

/// Byte classes for name checks: bit 0 may start a label name, bit 1 may
/// continue one, bit 2 may start a metric name, bit 3 may continue one.
const NAME_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let colon = c == b':';
        table[b] = (alpha as u8)
            | (((alpha || digit) as u8) << 1)
            | (((alpha || colon) as u8) << 2)
            | (((alpha || digit || colon) as u8) << 3);
        b += 1;
    }
    table
};

/// Whether `s` is non-empty, starts with a byte of class `first` and goes
/// on with bytes of class `rest` (bits of [`NAME_BYTES`]).
#[inline(always)]
fn name_ok(s: &[u8], first: u8, rest: u8) -> bool {
    match s.split_first() {
        None => false,
        Some((head, tail)) => {
            NAME_BYTES[usize::from(*head)] & first != 0
                && tail.iter().all(|&b| NAME_BYTES[usize::from(b)] & rest != 0)
        }
    }
}

/// Strict byte-wise `a < b`, written out because names are short and a
/// `memcmp` call costs more than the comparison.
#[inline(always)]
fn name_less(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// The rules of [`validate_wire_labels`], inlined for the hot path: true
/// only when the labels are sorted, unique, validly named, non-empty and
/// include a valid metric name. When it says false, `validate_wire_labels`
/// decides and names the problem, so this check only has to be at least as
/// strict (a test compares the two on random label sets).
#[inline]
pub(super) fn labels_are_valid(labels: &[LabelRef<'_>]) -> bool {
    let mut has_name = false;
    let mut previous: &[u8] = &[];
    for (i, label) in labels.iter().enumerate() {
        let name = label.name.as_bytes();
        if i > 0 && !name_less(previous, name) {
            return false;
        }
        previous = name;
        if name == b"__name__" {
            if !name_ok(label.value.as_bytes(), 4, 8) {
                return false;
            }
            has_name = true;
        } else if !name_ok(name, 1, 2) || label.value.is_empty() {
            return false;
        }
    }
    has_name
}

/// Builds a series error showing the labels decoded so far.
#[cold]
fn series_error(batch: &SeriesBatch<'_>, index: usize, problem: SeriesProblem) -> IngestError {
    let labels = describe_labels(batch.pending_labels().iter().map(|l| (l.name, l.value)));
    IngestError::Series {
        index,
        labels,
        problem,
    }
}

/// Why a `Label` message could not be decoded.
enum LabelError {
    Wire(WireError),
    Utf8(&'static str),
}

impl From<WireError> for LabelError {
    fn from(e: WireError) -> LabelError {
        LabelError::Wire(e)
    }
}

/// Decodes one `Label` message; absent fields are empty strings (proto3).
#[inline(always)]
fn decode_label(buf: &[u8], base: usize) -> Result<LabelRef<'_>, LabelError> {
    // Fast path: the layout every encoder emits for strings under 128 bytes,
    // `0x0a len name 0x12 len value`, accounting for the whole message.
    if let [0x0a, name_len, rest @ ..] = buf {
        let n = usize::from(*name_len);
        if n < 0x80 && rest.len() >= n + 2 && rest[n] == 0x12 {
            let value_len = rest[n + 1];
            if value_len < 0x80 && usize::from(value_len) == rest.len() - n - 2 {
                let (name, value) = (&rest[..n], &rest[n + 2..]);
                // Tags and one-byte lengths are ASCII, so an all-ASCII message
                // means an all-ASCII name and value.
                if buf.is_ascii() {
                    return Ok(LabelRef {
                        name: ascii_str(name),
                        value: ascii_str(value),
                    });
                }
                return utf8_label(name, value);
            }
        }
    }
    decode_label_generic(buf, base)
}

/// Views bytes already checked to be ASCII as a `str`.
#[inline(always)]
fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    // SAFETY: the caller checked that every byte is ASCII, and ASCII is valid
    // UTF-8. This skips a second, per-string validation on the hot path.
    unsafe { str::from_utf8_unchecked(bytes) }
}

/// Validates a label's name and value as UTF-8.
#[inline]
fn utf8_label<'a>(name: &'a [u8], value: &'a [u8]) -> Result<LabelRef<'a>, LabelError> {
    let name = str::from_utf8(name).map_err(|_| LabelError::Utf8("name"))?;
    let value = str::from_utf8(value).map_err(|_| LabelError::Utf8("value"))?;
    Ok(LabelRef { name, value })
}

/// Decodes a `Label` in any valid layout (field order, repeats, unknown fields).
#[cold]
fn decode_label_generic(buf: &[u8], base: usize) -> Result<LabelRef<'_>, LabelError> {
    let mut r = Reader::nested(buf, base);
    let mut name: &[u8] = &[];
    let mut value: &[u8] = &[];
    while !r.is_empty() {
        let at = r.offset();
        let (field, wire_type) = r.key()?;
        match (field, wire_type) {
            (1, LEN) => name = r.bytes()?.0,
            (2, LEN) => value = r.bytes()?.0,
            (1 | 2, _) => {
                let reason = "field has the wrong wire type: expected length-delimited (2)";
                return Err(LabelError::Wire(WireError { offset: at, reason }));
            }
            _ => r.skip(field, wire_type)?,
        }
    }
    utf8_label(name, value)
}

/// Decodes one `Sample` message; the value keeps its exact bit pattern.
#[inline]
fn decode_sample(buf: &[u8], base: usize) -> Result<Sample, IngestError> {
    // Fast path: `0x09 <8-byte value> 0x10 <varint timestamp>`, nothing else.
    if let [0x09, v0, v1, v2, v3, v4, v5, v6, v7, 0x10, rest @ ..] = buf {
        let mut r = Reader::nested(rest, base + 10);
        if let Ok(t) = r.varint() {
            if r.is_empty() {
                let v =
                    f64::from_bits(u64::from_le_bytes([*v0, *v1, *v2, *v3, *v4, *v5, *v6, *v7]));
                return Ok(Sample { t: t as i64, v });
            }
        }
    }
    decode_sample_generic(buf, base)
}

/// Decodes a `Sample` in any valid layout.
#[cold]
fn decode_sample_generic(buf: &[u8], base: usize) -> Result<Sample, IngestError> {
    let mut r = Reader::nested(buf, base);
    let mut sample = Sample { t: 0, v: 0.0 };
    while !r.is_empty() {
        let (field, wire_type) = r.key().map_err(proto("Sample"))?;
        match field {
            1 => {
                expect(&r, wire_type, FIXED64, "Sample.value")?;
                sample.v = f64::from_bits(r.fixed64().map_err(proto("Sample.value"))?);
            }
            2 => {
                expect(&r, wire_type, VARINT, "Sample.timestamp")?;
                sample.t = r.varint().map_err(proto("Sample.timestamp"))? as i64;
            }
            _ => r.skip(field, wire_type).map_err(proto("Sample"))?,
        }
    }
    Ok(sample)
}

/// Decodes one `MetricMetadata` message.
fn decode_metadata(
    buf: &[u8],
    base: usize,
    index: usize,
) -> Result<MetadataEntry<'_>, IngestError> {
    let mut r = Reader::nested(buf, base);
    let mut kind = 0u64;
    let (mut family, mut help, mut unit): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
    while !r.is_empty() {
        let (field, wire_type) = r.key().map_err(proto("MetricMetadata"))?;
        match field {
            1 => {
                expect(&r, wire_type, VARINT, "MetricMetadata.type")?;
                kind = r.varint().map_err(proto("MetricMetadata.type"))?;
            }
            2 | 4 | 5 => {
                expect(&r, wire_type, LEN, "MetricMetadata")?;
                let bytes = r.bytes().map_err(proto("MetricMetadata"))?.0;
                match field {
                    2 => family = bytes,
                    4 => help = bytes,
                    _ => unit = bytes,
                }
            }
            _ => r.skip(field, wire_type).map_err(proto("MetricMetadata"))?,
        }
    }
    let text = |bytes, what: &str| {
        str::from_utf8(bytes).map_err(|_| IngestError::Metadata {
            index,
            reason: format!("{what} is not valid UTF-8"),
        })
    };
    let metric_family = text(family, "metric_family_name")?;
    validate_metric_name(metric_family).map_err(|e| IngestError::Metadata {
        index,
        reason: format!("metric_family_name: {e}"),
    })?;
    let metadata = MetricMetadata {
        metric_type: MetricType::from_code(kind),
        help: text(help, "help")?.to_owned(),
        unit: text(unit, "unit")?.to_owned(),
    };
    Ok(MetadataEntry {
        metric_family,
        metadata,
    })
}
