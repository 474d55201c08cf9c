//! Decoder of a protobuf `ExportMetricsServiceRequest`.
//!
//! ```text
//! ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
//! ResourceMetrics  { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
//! ScopeMetrics     { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
//! Metric           { string name = 1; string description = 2; string unit = 3;
//!                    oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
//!                    ExponentialHistogram exponential_histogram = 10; Summary summary = 11; } }
//! Gauge            { repeated NumberDataPoint data_points = 1; }
//! Sum              { repeated NumberDataPoint data_points = 1;
//!                    AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
//! Histogram / ExponentialHistogram { repeated ...DataPoint data_points = 1;
//!                    AggregationTemporality aggregation_temporality = 2; }
//! Summary          { repeated SummaryDataPoint data_points = 1; }
//! NumberDataPoint  { repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2;
//!                    fixed64 time_unix_nano = 3; double as_double = 4; sfixed64 as_int = 6;
//!                    uint32 flags = 8; }
//! HistogramDataPoint { attributes = 9; start = 2; time = 3; fixed64 count = 4;
//!                    optional double sum = 5; repeated fixed64 bucket_counts = 6;
//!                    repeated double explicit_bounds = 7; uint32 flags = 10;
//!                    optional double min = 11; optional double max = 12; }
//! ExponentialHistogramDataPoint { attributes = 1; start = 2; time = 3; fixed64 count = 4;
//!                    optional double sum = 5; sint32 scale = 6; fixed64 zero_count = 7;
//!                    Buckets positive = 8; Buckets negative = 9; uint32 flags = 10;
//!                    optional double min = 12; optional double max = 13; double zero_threshold = 14; }
//! Buckets          { sint32 offset = 1; repeated uint64 bucket_counts = 2; }
//! SummaryDataPoint { attributes = 7; start = 2; time = 3; fixed64 count = 4; double sum = 5;
//!                    repeated ValueAtQuantile quantile_values = 6; uint32 flags = 8; }
//! ValueAtQuantile  { double quantile = 1; double value = 2; }
//! ```
//!
//! Exemplars (fields 5, 8 and 11 of the data points) are skipped.

use super::metrics_model::{
    AggregationTemporality, ExponentialBuckets, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, MetricData,
    MetricsRequest, NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum,
    SummaryDataPoint, ValueAtQuantile,
};
use super::proto_common::{push_attribute, resource, scope, Message, Result};

/// Decodes a protobuf `ExportMetricsServiceRequest` (already decompressed).
pub fn decode_metrics(buf: &[u8]) -> Result<MetricsRequest> {
    let mut m = Message::top(buf, "ExportMetricsServiceRequest");
    let mut request = MetricsRequest::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => request
                .resource_metrics
                .push(resource_metrics(m.message(wt, "ResourceMetrics")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(request)
}

fn resource_metrics(mut m: Message<'_>) -> Result<ResourceMetrics> {
    let mut out = ResourceMetrics::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.resource = resource(m.message(wt, "Resource")?)?,
            2 => out
                .scope_metrics
                .push(scope_metrics(m.message(wt, "ScopeMetrics")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn scope_metrics(mut m: Message<'_>) -> Result<ScopeMetrics> {
    let mut out = ScopeMetrics::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.scope = scope(m.message(wt, "InstrumentationScope")?)?,
            2 => out.metrics.push(metric(m.message(wt, "Metric")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn metric(mut m: Message<'_>) -> Result<Metric> {
    let mut out = Metric::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.name = m.string(wt)?,
            2 => out.description = m.string(wt)?,
            3 => out.unit = m.string(wt)?,
            5 => {
                let (points, _, _) = number_points(m.message(wt, "Gauge")?)?;
                out.data = MetricData::Gauge(points);
            }
            7 => {
                let (data_points, aggregation_temporality, is_monotonic) =
                    number_points(m.message(wt, "Sum")?)?;
                out.data = MetricData::Sum(Sum {
                    data_points,
                    aggregation_temporality,
                    is_monotonic,
                });
            }
            9 => out.data = MetricData::Histogram(histogram(m.message(wt, "Histogram")?)?),
            10 => {
                out.data = MetricData::ExponentialHistogram(exponential_histogram(
                    m.message(wt, "ExponentialHistogram")?,
                )?)
            }
            11 => out.data = MetricData::Summary(summary(m.message(wt, "Summary")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

/// Gauge or Sum: the points, the temporality and the monotonic flag (the
/// last two stay at their defaults for a gauge, which has no such fields).
fn number_points(
    mut m: Message<'_>,
) -> Result<(Vec<NumberDataPoint>, AggregationTemporality, bool)> {
    let mut points = Vec::new();
    let mut temporality = AggregationTemporality::Unspecified;
    let mut monotonic = false;
    let is_sum = m.name == "Sum";
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => points.push(number_point(m.message(wt, "NumberDataPoint")?)?),
            2 if is_sum => temporality = AggregationTemporality::from_number(m.varint(wt)? as i64),
            3 if is_sum => monotonic = m.varint(wt)? != 0,
            _ => m.skip(field, wt)?,
        }
    }
    Ok((points, temporality, monotonic))
}

fn number_point(mut m: Message<'_>) -> Result<NumberDataPoint> {
    let mut p = NumberDataPoint::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            7 => push_attribute(&mut m, wt, &mut p.attributes)?,
            2 => p.start_time_unix_nano = m.fixed64(wt)?,
            3 => p.time_unix_nano = m.fixed64(wt)?,
            4 => p.value = NumberValue::Double(m.double(wt)?),
            6 => p.value = NumberValue::Int(m.fixed64(wt)? as i64),
            8 => p.flags = m.uint32(wt)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(p)
}

fn histogram(mut m: Message<'_>) -> Result<Histogram> {
    let mut out = Histogram::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out
                .data_points
                .push(histogram_point(m.message(wt, "HistogramDataPoint")?)?),
            2 => {
                out.aggregation_temporality =
                    AggregationTemporality::from_number(m.varint(wt)? as i64)
            }
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn histogram_point(mut m: Message<'_>) -> Result<HistogramDataPoint> {
    let mut p = HistogramDataPoint::default();
    let mut bounds: Vec<u64> = Vec::new();
    while let Some((field, wt)) = m.next()? {
        match field {
            9 => push_attribute(&mut m, wt, &mut p.attributes)?,
            2 => p.start_time_unix_nano = m.fixed64(wt)?,
            3 => p.time_unix_nano = m.fixed64(wt)?,
            4 => p.count = m.fixed64(wt)?,
            5 => p.sum = Some(m.double(wt)?),
            6 => m.repeated_fixed64(wt, &mut p.bucket_counts)?,
            7 => m.repeated_fixed64(wt, &mut bounds)?,
            10 => p.flags = m.uint32(wt)?,
            11 => p.min = Some(m.double(wt)?),
            12 => p.max = Some(m.double(wt)?),
            _ => m.skip(field, wt)?,
        }
    }
    p.explicit_bounds = bounds.into_iter().map(f64::from_bits).collect();
    Ok(p)
}

fn exponential_histogram(mut m: Message<'_>) -> Result<ExponentialHistogram> {
    let mut out = ExponentialHistogram::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.data_points.push(exponential_point(
                m.message(wt, "ExponentialHistogramDataPoint")?,
            )?),
            2 => {
                out.aggregation_temporality =
                    AggregationTemporality::from_number(m.varint(wt)? as i64)
            }
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn exponential_point(mut m: Message<'_>) -> Result<ExponentialHistogramDataPoint> {
    let mut p = ExponentialHistogramDataPoint::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => push_attribute(&mut m, wt, &mut p.attributes)?,
            2 => p.start_time_unix_nano = m.fixed64(wt)?,
            3 => p.time_unix_nano = m.fixed64(wt)?,
            4 => p.count = m.fixed64(wt)?,
            5 => p.sum = Some(m.double(wt)?),
            6 => p.scale = m.sint32(wt)?,
            7 => p.zero_count = m.fixed64(wt)?,
            8 => p.positive = buckets(m.message(wt, "Buckets")?)?,
            9 => p.negative = buckets(m.message(wt, "Buckets")?)?,
            10 => p.flags = m.uint32(wt)?,
            12 => p.min = Some(m.double(wt)?),
            13 => p.max = Some(m.double(wt)?),
            14 => p.zero_threshold = m.double(wt)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(p)
}

fn buckets(mut m: Message<'_>) -> Result<ExponentialBuckets> {
    let mut out = ExponentialBuckets::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => out.offset = m.sint32(wt)?,
            2 => m.repeated_varint(wt, &mut out.bucket_counts)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(out)
}

fn summary(mut m: Message<'_>) -> Result<Vec<SummaryDataPoint>> {
    let mut points = Vec::new();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => points.push(summary_point(m.message(wt, "SummaryDataPoint")?)?),
            _ => m.skip(field, wt)?,
        }
    }
    Ok(points)
}

fn summary_point(mut m: Message<'_>) -> Result<SummaryDataPoint> {
    let mut p = SummaryDataPoint::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            7 => push_attribute(&mut m, wt, &mut p.attributes)?,
            2 => p.start_time_unix_nano = m.fixed64(wt)?,
            3 => p.time_unix_nano = m.fixed64(wt)?,
            4 => p.count = m.fixed64(wt)?,
            5 => p.sum = m.double(wt)?,
            6 => {
                let mut q = m.message(wt, "ValueAtQuantile")?;
                let mut value = ValueAtQuantile::default();
                while let Some((f, t)) = q.next()? {
                    match f {
                        1 => value.quantile = q.double(t)?,
                        2 => value.value = q.double(t)?,
                        _ => q.skip(f, t)?,
                    }
                }
                p.quantile_values.push(value);
            }
            8 => p.flags = m.uint32(wt)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(p)
}
