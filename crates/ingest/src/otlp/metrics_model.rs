//! Plain types for OTLP's metrics messages
//! (`opentelemetry/proto/metrics/v1/metrics.proto`), in the style of
//! [`super::model`]: owned values, only what agentmon reads. Exemplars are
//! not kept.

use super::model::{InstrumentationScope, KeyValue, Resource};

/// `DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK`: the point marks
/// the end of a series (Prometheus's staleness marker).
pub const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// `opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsRequest {
    pub resource_metrics: Vec<ResourceMetrics>,
}

impl MetricsRequest {
    /// How many data points the request carries, of every metric type.
    pub fn data_point_count(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.data.data_point_count())
            .sum()
    }
}

/// `opentelemetry.proto.metrics.v1.ResourceMetrics`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceMetrics {
    pub resource: Resource,
    pub scope_metrics: Vec<ScopeMetrics>,
}

/// `opentelemetry.proto.metrics.v1.ScopeMetrics`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeMetrics {
    pub scope: InstrumentationScope,
    pub metrics: Vec<Metric>,
}

/// `opentelemetry.proto.metrics.v1.Metric`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric {
    pub name: String,
    pub description: String,
    /// UCUM unit, e.g. `s`, `By`, `1`, `{request}`.
    pub unit: String,
    pub data: MetricData,
}

/// The `data` oneof of a `Metric`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MetricData {
    /// No data field was set.
    #[default]
    Empty,
    Gauge(Vec<NumberDataPoint>),
    Sum(Sum),
    Histogram(Histogram),
    ExponentialHistogram(ExponentialHistogram),
    Summary(Vec<SummaryDataPoint>),
}

impl MetricData {
    /// How many data points this metric carries.
    pub fn data_point_count(&self) -> usize {
        match self {
            MetricData::Empty => 0,
            MetricData::Gauge(points) => points.len(),
            MetricData::Sum(sum) => sum.data_points.len(),
            MetricData::Histogram(h) => h.data_points.len(),
            MetricData::ExponentialHistogram(h) => h.data_points.len(),
            MetricData::Summary(points) => points.len(),
        }
    }
}

/// `opentelemetry.proto.metrics.v1.AggregationTemporality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AggregationTemporality {
    #[default]
    Unspecified = 0,
    Delta = 1,
    Cumulative = 2,
}

impl AggregationTemporality {
    /// The enum from its wire number; unknown numbers are `Unspecified`.
    pub fn from_number(number: i64) -> AggregationTemporality {
        match number {
            1 => AggregationTemporality::Delta,
            2 => AggregationTemporality::Cumulative,
            _ => AggregationTemporality::Unspecified,
        }
    }
}

/// `opentelemetry.proto.metrics.v1.Sum`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sum {
    pub data_points: Vec<NumberDataPoint>,
    pub aggregation_temporality: AggregationTemporality,
    pub is_monotonic: bool,
}

/// `opentelemetry.proto.metrics.v1.Histogram`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub data_points: Vec<HistogramDataPoint>,
    pub aggregation_temporality: AggregationTemporality,
}

/// `opentelemetry.proto.metrics.v1.ExponentialHistogram`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExponentialHistogram {
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    pub aggregation_temporality: AggregationTemporality,
}

/// The `value` oneof of a `NumberDataPoint`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NumberValue {
    /// Neither `as_double` nor `as_int` was set.
    #[default]
    Empty,
    Double(f64),
    Int(i64),
}

/// `opentelemetry.proto.metrics.v1.NumberDataPoint`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NumberDataPoint {
    pub attributes: Vec<KeyValue>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub value: NumberValue,
    pub flags: u32,
}

/// `opentelemetry.proto.metrics.v1.HistogramDataPoint`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramDataPoint {
    pub attributes: Vec<KeyValue>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub count: u64,
    /// Absent when the sender left it out (e.g. negative observations).
    pub sum: Option<f64>,
    /// Per bucket (not cumulative); one more than `explicit_bounds`, or empty.
    pub bucket_counts: Vec<u64>,
    pub explicit_bounds: Vec<f64>,
    pub flags: u32,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// `ExponentialHistogramDataPoint.Buckets`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExponentialBuckets {
    pub offset: i32,
    pub bucket_counts: Vec<u64>,
}

/// `opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExponentialHistogramDataPoint {
    pub attributes: Vec<KeyValue>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub count: u64,
    pub sum: Option<f64>,
    pub scale: i32,
    pub zero_count: u64,
    pub positive: ExponentialBuckets,
    pub negative: ExponentialBuckets,
    pub flags: u32,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub zero_threshold: f64,
}

/// `SummaryDataPoint.ValueAtQuantile`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ValueAtQuantile {
    pub quantile: f64,
    pub value: f64,
}

/// `opentelemetry.proto.metrics.v1.SummaryDataPoint`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryDataPoint {
    pub attributes: Vec<KeyValue>,
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub count: u64,
    pub sum: f64,
    pub quantile_values: Vec<ValueAtQuantile>,
    pub flags: u32,
}
