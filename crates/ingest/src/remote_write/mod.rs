//! Prometheus remote write 1.0: snappy block decompression and a zero-copy
//! decoder of `prometheus.WriteRequest`.
//!
//! Messages and field numbers decoded (from prompb `remote.proto` and
//! `types.proto`):
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2;
//!                  repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
//!                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2;
//!                  string help = 4; string unit = 5; }
//! ```
//!
//! Exemplars are skipped and counted; native histograms are rejected rather
//! than silently dropped. Unknown fields of any wire type are skipped. Sample
//! values are kept bit for bit, so NaN, ±Inf and the stale marker survive.

mod decode;
pub mod encode;

#[cfg(test)]
mod tests;

use agentmon_model::{MetricMetadata, SeriesBatch};

use crate::{IngestError, Limits};

pub use decode::decode;

/// A decoded remote-write request; every string borrows the decompressed buffer.
#[derive(Debug, Default)]
pub struct WriteRequest<'a> {
    /// The series that carry at least one sample, validated, in request order.
    pub batch: SeriesBatch<'a>,
    /// Metric metadata entries, in request order.
    pub metadata: Vec<MetadataEntry<'a>>,
    /// How many exemplars the request carried; agentmon does not store them.
    pub exemplars_ignored: usize,
}

/// Type, help and unit of one metric family, as sent with remote write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry<'a> {
    /// The family name (a valid metric name).
    pub metric_family: &'a str,
    /// Type, help and unit.
    pub metadata: MetricMetadata,
}

/// Decompresses a snappy block-format body (what remote write sends).
///
/// The body size is checked against `limits.max_body_bytes`, and the
/// decompressed length declared in the snappy header against
/// `limits.max_decompressed_bytes`, before anything is allocated.
pub fn decompress(body: &[u8], limits: &Limits) -> Result<Vec<u8>, IngestError> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let declared = declared_len(body)?;
    if declared > limits.max_decompressed_bytes as u64 {
        return Err(IngestError::DecompressedTooLarge {
            declared,
            limit: limits.max_decompressed_bytes,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| IngestError::Snappy {
            reason: e.to_string(),
        })
}

/// Reads the uncompressed length that starts a snappy block: a varint of at
/// most 5 bytes that fits in 32 bits.
fn declared_len(body: &[u8]) -> Result<u64, IngestError> {
    let mut value: u64 = 0;
    for (i, &b) in body.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if value > u64::from(u32::MAX) {
                break;
            }
            return Ok(value);
        }
    }
    let reason = if body.is_empty() {
        "the body is empty"
    } else {
        "the length header is missing, truncated or over 32 bits"
    };
    Err(IngestError::Snappy {
        reason: reason.to_owned(),
    })
}
