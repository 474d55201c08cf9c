//! OTLP metrics to Prometheus series, the way Prometheus 3.x's OTLP receiver
//! converts them with its default settings
//! (<https://prometheus.io/docs/guides/opentelemetry/>):
//!
//! - names by [`super::naming`]; data point attributes become labels
//!   (sorted by key; keys that sanitise to the same name have their values
//!   joined with `;`);
//! - `service.name` (prefixed `service.namespace/` when set) → `job`,
//!   `service.instance.id` → `instance`; other resource attributes are not
//!   copied onto series but go into one `target_info` gauge per resource
//!   (value 1, with `job`/`instance`), sampled from the earliest to the
//!   latest point every 2.5 minutes (half the default lookback delta);
//! - scope name and version are not added as labels (Prometheus's
//!   `promote_scope_metadata` is off by default);
//! - gauges and non-monotonic sums → gauge; monotonic sums → counter;
//!   histograms → `_bucket{le}` (cumulative), `_sum` (when sent), `_count`;
//!   summaries → `{quantile}`, `_sum`, `_count`;
//! - `NO_RECORDED_VALUE` → the stale marker; nanoseconds → milliseconds.
//!
//! Refused, per data point and counted by [`RejectReason`]: delta or
//! unspecified temporality (Prometheus only takes cumulative without its
//! delta feature flags), exponential histograms (agentmon stores no native
//! histograms), and points that break the data model (no value, time 0,
//! bucket counts that do not match the bounds, labels over the limits).

use std::collections::{BTreeMap, HashMap};

use agentmon_model::{Labels, MetricMetadata, MetricType, Sample, STALE_NAN};

use crate::Limits;

use super::metrics_model::{
    AggregationTemporality, HistogramDataPoint, Metric, MetricData, MetricsRequest,
    NumberDataPoint, NumberValue, ResourceMetrics, SummaryDataPoint, FLAG_NO_RECORDED_VALUE,
};
use super::model::{AnyValue, KeyValue};
use super::naming::{label_name, metric_name, unit_name, NameKind};
use super::value_text::{format_float, value_as_string};

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";
/// Half of Prometheus's default lookback delta of 5 minutes.
const TARGET_INFO_INTERVAL_MS: i64 = 150_000;

/// Why a data point was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// A sum or histogram with DELTA temporality.
    DeltaTemporality,
    /// A sum or histogram with no temporality set.
    UnspecifiedTemporality,
    /// An exponential histogram (would need native histograms).
    ExponentialHistogram,
    /// The point breaks the data model (no value, time 0, bad buckets).
    InvalidDataPoint,
    /// Nothing of the metric name survives normalisation.
    InvalidMetricName,
    /// The labels are invalid or over the limits.
    InvalidLabels,
}

impl RejectReason {
    /// The value of the `reason` label in self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::DeltaTemporality => "delta_temporality",
            RejectReason::UnspecifiedTemporality => "unspecified_temporality",
            RejectReason::ExponentialHistogram => "exponential_histogram",
            RejectReason::InvalidDataPoint => "invalid_data_point",
            RejectReason::InvalidMetricName => "invalid_metric_name",
            RejectReason::InvalidLabels => "invalid_labels",
        }
    }
}

/// One Prometheus series and its samples, sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// The outcome of translating one request.
#[derive(Debug, Default)]
pub struct Translation {
    /// Series to append, in first-seen order.
    pub series: Vec<PromSeries>,
    /// Type, help and unit per metric family.
    pub metadata: Vec<(String, MetricMetadata)>,
    /// Data points in the request.
    pub data_points: usize,
    /// Refused data points by reason.
    pub rejected: BTreeMap<RejectReason, usize>,
    /// What the first few refusals were, for `partial_success.error_message`.
    pub messages: Vec<String>,
}

impl Translation {
    /// Data points refused, all reasons together.
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }

    fn reject(&mut self, reason: RejectReason, count: usize, message: impl FnOnce() -> String) {
        if count == 0 {
            return;
        }
        *self.rejected.entry(reason).or_insert(0) += count;
        if self.messages.len() < 5 {
            self.messages.push(message());
        }
    }
}

/// Translates a decoded request. Never fails: what cannot be stored is
/// counted in [`Translation::rejected`].
pub fn translate_metrics(request: &MetricsRequest, limits: &Limits) -> Translation {
    let mut out = Builder {
        limits,
        index: HashMap::new(),
        families: HashMap::new(),
        t: Translation::default(),
    };
    for resource in &request.resource_metrics {
        out.resource(resource);
    }
    let mut t = out.t;
    for series in &mut t.series {
        series.samples.sort_by_key(|s| s.t);
        // Of two points at the same millisecond the later one in the request wins.
        let mut deduped: Vec<Sample> = Vec::with_capacity(series.samples.len());
        for s in series.samples.drain(..) {
            match deduped.last_mut() {
                Some(last) if last.t == s.t => *last = s,
                _ => deduped.push(s),
            }
        }
        series.samples = deduped;
    }
    t
}

struct Builder<'l> {
    limits: &'l Limits,
    index: HashMap<Labels, usize>,
    families: HashMap<String, usize>,
    t: Translation,
}

/// Resource-level labels every series of a resource gets.
struct Target {
    job: Option<String>,
    instance: Option<String>,
}

impl Builder<'_> {
    fn resource(&mut self, rm: &ResourceMetrics) {
        let attrs = &rm.resource.attributes;
        let text = |key| super::model::attribute(attrs, key).map(value_as_string);
        let job = text(SERVICE_NAME).map(|name| match text(SERVICE_NAMESPACE) {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        });
        let target = Target {
            job,
            instance: text(SERVICE_INSTANCE_ID),
        };
        let (mut earliest, mut latest) = (i64::MAX, i64::MIN);
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                for t in point_times(&metric.data) {
                    earliest = earliest.min(t);
                    latest = latest.max(t);
                }
                self.t.data_points += metric.data.data_point_count();
                self.metric(metric, &target);
            }
        }
        if earliest <= latest {
            self.target_info(attrs, &target, earliest, latest);
        }
    }

    fn target_info(&mut self, attrs: &[KeyValue], target: &Target, earliest: i64, latest: i64) {
        let identifying = [SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID];
        let others: Vec<KeyValue> = attrs
            .iter()
            .filter(|kv| !identifying.contains(&kv.key.as_str()))
            .cloned()
            .collect();
        if others.is_empty() || (target.job.is_none() && target.instance.is_none()) {
            return;
        }
        let Ok(labels) = self.labels(&others, target, "target_info", None) else {
            return;
        };
        let mut samples = Vec::new();
        let mut t = earliest;
        while t < latest {
            samples.push(Sample::new(t, 1.0));
            t += TARGET_INFO_INTERVAL_MS;
        }
        samples.push(Sample::new(latest, 1.0));
        self.family("target_info", MetricType::Gauge, "Target metadata", "");
        for s in samples {
            self.push(&labels, s);
        }
    }

    fn family(&mut self, name: &str, metric_type: MetricType, help: &str, unit: &str) {
        if self.families.contains_key(name) {
            return;
        }
        self.families.insert(name.to_owned(), self.t.metadata.len());
        self.t.metadata.push((
            name.to_owned(),
            MetricMetadata {
                metric_type,
                help: help.to_owned(),
                unit: unit.to_owned(),
            },
        ));
    }

    fn push(&mut self, labels: &Labels, sample: Sample) {
        let next = self.t.series.len();
        let at = *self.index.entry(labels.clone()).or_insert(next);
        if at == next {
            self.t.series.push(PromSeries {
                labels: labels.clone(),
                samples: Vec::new(),
            });
        }
        self.t.series[at].samples.push(sample);
    }

    fn metric(&mut self, metric: &Metric, target: &Target) {
        let count = metric.data.data_point_count();
        let (kind, temporality) = match &metric.data {
            MetricData::Empty => return,
            MetricData::Gauge(_) => (NameKind::Gauge, None),
            MetricData::Sum(sum) if sum.is_monotonic => (
                NameKind::MonotonicCounter,
                Some(sum.aggregation_temporality),
            ),
            MetricData::Sum(sum) => (
                NameKind::NonMonotonicCounter,
                Some(sum.aggregation_temporality),
            ),
            MetricData::Histogram(h) => (NameKind::Histogram, Some(h.aggregation_temporality)),
            MetricData::ExponentialHistogram(_) => {
                self.t.reject(RejectReason::ExponentialHistogram, count, || {
                    format!(
                        "metric {:?}: exponential histograms are not supported (agentmon stores no native histograms); configure the SDK's explicit-bucket histogram aggregation",
                        metric.name
                    )
                });
                return;
            }
            MetricData::Summary(_) => (NameKind::Summary, None),
        };
        match temporality {
            Some(AggregationTemporality::Delta) => {
                self.t.reject(RejectReason::DeltaTemporality, count, || {
                    format!(
                        "metric {:?}: delta temporality is not supported; configure the exporter's temporality preference to cumulative",
                        metric.name
                    )
                });
                return;
            }
            Some(AggregationTemporality::Unspecified) => {
                self.t
                    .reject(RejectReason::UnspecifiedTemporality, count, || {
                        format!(
                            "metric {:?}: aggregation temporality is unspecified",
                            metric.name
                        )
                    });
                return;
            }
            _ => {}
        }
        let name = metric_name(&metric.name, &metric.unit, kind);
        if name.is_empty() {
            self.t.reject(RejectReason::InvalidMetricName, count, || {
                format!("metric {:?}: the name has no valid character", metric.name)
            });
            return;
        }
        let metric_type = match kind {
            NameKind::MonotonicCounter => MetricType::Counter,
            NameKind::Histogram => MetricType::Histogram,
            NameKind::Summary => MetricType::Summary,
            _ => MetricType::Gauge,
        };
        self.family(
            &name,
            metric_type,
            &metric.description,
            &unit_name(&metric.unit),
        );
        match &metric.data {
            MetricData::Gauge(points) => {
                for p in points {
                    self.number_point(&name, p, target);
                }
            }
            MetricData::Sum(sum) => {
                for p in &sum.data_points {
                    self.number_point(&name, p, target);
                }
            }
            MetricData::Histogram(h) => {
                for p in &h.data_points {
                    self.histogram_point(&name, p, target);
                }
            }
            MetricData::Summary(points) => {
                for p in points {
                    self.summary_point(&name, p, target);
                }
            }
            MetricData::Empty | MetricData::ExponentialHistogram(_) => {}
        }
    }

    /// Checks the time and builds the point's base labels; `None` if refused.
    fn point_labels(
        &mut self,
        name: &str,
        attributes: &[KeyValue],
        time_unix_nano: u64,
        target: &Target,
        extra: Option<(&str, &str)>,
    ) -> Option<(Labels, i64)> {
        if time_unix_nano == 0 {
            self.t.reject(RejectReason::InvalidDataPoint, 1, || {
                format!("metric {name:?}: a data point has time_unix_nano 0")
            });
            return None;
        }
        match self.labels(attributes, target, name, extra) {
            Ok(labels) => Some((labels, (time_unix_nano / 1_000_000) as i64)),
            Err(reason) => {
                self.t.reject(RejectReason::InvalidLabels, 1, || {
                    format!("metric {name:?}: {reason}")
                });
                None
            }
        }
    }

    fn number_point(&mut self, name: &str, p: &NumberDataPoint, target: &Target) {
        let stale = p.flags & FLAG_NO_RECORDED_VALUE != 0;
        let value = match (p.value, stale) {
            (_, true) => STALE_NAN,
            (NumberValue::Double(v), false) => v,
            (NumberValue::Int(v), false) => v as f64,
            (NumberValue::Empty, false) => {
                self.t.reject(RejectReason::InvalidDataPoint, 1, || {
                    format!("metric {name:?}: a data point has neither asDouble nor asInt")
                });
                return;
            }
        };
        if let Some((labels, t)) =
            self.point_labels(name, &p.attributes, p.time_unix_nano, target, None)
        {
            self.push(&labels, Sample::new(t, value));
        }
    }

    fn histogram_point(&mut self, name: &str, p: &HistogramDataPoint, target: &Target) {
        let buckets_ok = (p.bucket_counts.is_empty() && p.explicit_bounds.is_empty())
            || p.bucket_counts.len() == p.explicit_bounds.len() + 1;
        let bounds_ok = p.explicit_bounds.windows(2).all(|w| w[0] < w[1])
            && p.explicit_bounds.iter().all(|b| !b.is_nan());
        if !buckets_ok || !bounds_ok {
            self.t.reject(RejectReason::InvalidDataPoint, 1, || {
                format!(
                    "metric {name:?}: a histogram point has {} bucket counts for {} bounds (must be one more, bounds strictly increasing)",
                    p.bucket_counts.len(),
                    p.explicit_bounds.len()
                )
            });
            return;
        }
        let stale = p.flags & FLAG_NO_RECORDED_VALUE != 0;
        let value = |v: f64| if stale { STALE_NAN } else { v };
        let sum_name = format!("{name}_sum");
        let count_name = format!("{name}_count");
        let bucket_name = format!("{name}_bucket");
        let Some((count_labels, t)) =
            self.point_labels(&count_name, &p.attributes, p.time_unix_nano, target, None)
        else {
            return;
        };
        // The count series passed, so the shared labels are valid; `le` and
        // longer names may still break a limit, which push_all handles.
        let Ok(base) = base_labels(&p.attributes, target) else {
            return;
        };
        let mut series = Vec::with_capacity(p.explicit_bounds.len() + 2);
        if let Some(sum) = p.sum {
            series.push((self.finish_labels(&base, &sum_name, None), value(sum)));
        }
        series.push((Ok(count_labels), value(p.count as f64)));
        let mut cumulative: u64 = 0;
        for (bound, count) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
            cumulative = cumulative.saturating_add(*count);
            let le = format_float(*bound);
            let labels = self.finish_labels(&base, &bucket_name, Some(("le", &le)));
            series.push((labels, value(cumulative as f64)));
        }
        let labels = self.finish_labels(&base, &bucket_name, Some(("le", "+Inf")));
        series.push((labels, value(p.count as f64)));
        self.push_all(name, series, t);
    }

    fn summary_point(&mut self, name: &str, p: &SummaryDataPoint, target: &Target) {
        let stale = p.flags & FLAG_NO_RECORDED_VALUE != 0;
        let value = |v: f64| if stale { STALE_NAN } else { v };
        let count_name = format!("{name}_count");
        let Some((count_labels, t)) =
            self.point_labels(&count_name, &p.attributes, p.time_unix_nano, target, None)
        else {
            return;
        };
        let Ok(base) = base_labels(&p.attributes, target) else {
            return;
        };
        let mut series = Vec::with_capacity(p.quantile_values.len() + 2);
        series.push((
            self.finish_labels(&base, &format!("{name}_sum"), None),
            value(p.sum),
        ));
        series.push((Ok(count_labels), value(p.count as f64)));
        for q in &p.quantile_values {
            let quantile = format_float(q.quantile);
            let labels = self.finish_labels(&base, name, Some(("quantile", &quantile)));
            series.push((labels, value(q.value)));
        }
        self.push_all(name, series, t);
    }

    /// Appends every series of one histogram or summary point, or none.
    fn push_all(&mut self, name: &str, series: Vec<(Result<Labels, String>, f64)>, t: i64) {
        if let Some(reason) = series.iter().find_map(|(l, _)| l.as_ref().err()) {
            let reason = reason.clone();
            self.t.reject(RejectReason::InvalidLabels, 1, || {
                format!("metric {name:?}: {reason}")
            });
            return;
        }
        for (labels, v) in series {
            if let Ok(labels) = labels {
                self.push(&labels, Sample::new(t, v));
            }
        }
    }

    /// The label set of one series: sanitised attributes, then job and
    /// instance, then `extra` (`le`, `quantile`), then `__name__`.
    fn labels(
        &self,
        attributes: &[KeyValue],
        target: &Target,
        name: &str,
        extra: Option<(&str, &str)>,
    ) -> Result<Labels, String> {
        let base = base_labels(attributes, target)?;
        self.finish_labels(&base, name, extra)
    }

    /// `base` with `extra` and `__name__` added, checked against the limits.
    fn finish_labels(
        &self,
        base: &BTreeMap<String, String>,
        name: &str,
        extra: Option<(&str, &str)>,
    ) -> Result<Labels, String> {
        let mut labels = base.clone();
        if let Some((k, v)) = extra {
            labels.insert(k.into(), v.into());
        }
        labels.insert("__name__".into(), name.into());
        labels.retain(|_, v| !v.is_empty());
        self.limits
            .check_label_count(labels.len())
            .map_err(|e| e.to_string())?;
        for (k, v) in &labels {
            self.limits.check_label(k, v).map_err(|e| e.to_string())?;
        }
        Labels::new(labels).map_err(|e| e.to_string())
    }
}

/// The labels a data point's series share: sanitised attributes (last
/// occurrence of a key wins, as in a map; colliding names joined with `;`
/// in key order), then `job` and `instance`.
fn base_labels(
    attributes: &[KeyValue],
    target: &Target,
) -> Result<BTreeMap<String, String>, String> {
    let mut unique: BTreeMap<&str, &AnyValue> = BTreeMap::new();
    for kv in attributes {
        unique.insert(&kv.key, &kv.value);
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in unique {
        let label = label_name(key);
        if label.is_empty() {
            return Err(format!("attribute key {key:?} gives no valid label name"));
        }
        let value = value_as_string(value);
        if value.is_empty() {
            continue;
        }
        match labels.get_mut(&label) {
            Some(existing) => {
                existing.push(';');
                existing.push_str(&value);
            }
            None => {
                labels.insert(label, value);
            }
        }
    }
    if let Some(job) = &target.job {
        labels.insert("job".into(), job.clone());
    }
    if let Some(instance) = &target.instance {
        labels.insert("instance".into(), instance.clone());
    }
    Ok(labels)
}

/// The timestamps (ms) of every point of a metric with a time set.
fn point_times(data: &MetricData) -> Vec<i64> {
    let nanos: Vec<u64> = match data {
        MetricData::Empty => Vec::new(),
        MetricData::Gauge(p) => p.iter().map(|p| p.time_unix_nano).collect(),
        MetricData::Sum(s) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        MetricData::Histogram(h) => h.data_points.iter().map(|p| p.time_unix_nano).collect(),
        MetricData::ExponentialHistogram(h) => {
            h.data_points.iter().map(|p| p.time_unix_nano).collect()
        }
        MetricData::Summary(p) => p.iter().map(|p| p.time_unix_nano).collect(),
    };
    nanos
        .into_iter()
        .filter(|n| *n != 0)
        .map(|n| (n / 1_000_000) as i64)
        .collect()
}
