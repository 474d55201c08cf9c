//! Tests of the OTLP → Prometheus translation. The name cases are checked
//! against `prometheus/otlptranslator`'s own tests (`metric_namer_test.go`,
//! `label_namer_test.go`) with the default strategy
//! `UnderscoreEscapingWithSuffixes`.

use agentmon_model::{is_stale_nan, MetricType, Sample};

use super::decode_tests::sample_metrics;
use super::*;
use crate::Limits;

#[test]
fn metric_names_follow_prometheus_default_translation() {
    use NameKind::*;
    let cases: &[(&str, &str, NameKind, &str)] = &[
        ("requests", "", MonotonicCounter, "requests_total"),
        ("cpu_usage", "1", Gauge, "cpu_usage_ratio"),
        ("items", "1", MonotonicCounter, "items_total"),
        ("response_time", "ms", Gauge, "response_time_milliseconds"),
        ("memory_usage", "By", Gauge, "memory_usage_bytes"),
        ("requests", "1/s", Gauge, "requests_per_second"),
        ("throughput", "By/s", Gauge, "throughput_bytes_per_second"),
        (
            "custom_metric",
            "custom_unit",
            Gauge,
            "custom_metric_custom_unit",
        ),
        ("custom_metric", "{custom}", Gauge, "custom_metric"),
        ("custom_metric", "By/{custom}", Gauge, "custom_metric_bytes"),
        ("requests_total", "", MonotonicCounter, "requests_total"),
        ("cpu_usage_ratio", "1", Gauge, "cpu_usage_ratio"),
        ("response_time_seconds", "s", Gauge, "response_time_seconds"),
        (
            "metric__with__multiple__underscores",
            "unit__multiple__underscores",
            Gauge,
            "metric_with_multiple_underscores_unit_multiple_underscores",
        ),
        (
            "custom_metric",
            "unit@with#special/chars",
            Gauge,
            "custom_metric_unit_with_special_per_chars",
        ),
        ("@#$%", "", Gauge, ""),
        (
            "request_duration",
            "s",
            Histogram,
            "request_duration_seconds",
        ),
        (
            "request_size",
            "By",
            ExponentialHistogram,
            "request_size_bytes",
        ),
        ("response_time", "ms", Summary, "response_time_milliseconds"),
        (
            "active_connections",
            "",
            NonMonotonicCounter,
            "active_connections",
        ),
        ("uptime", "d", Gauge, "uptime_days"),
        ("duration", "h", Gauge, "duration_hours"),
        (
            "http.server.request.duration",
            "s",
            Histogram,
            "http_server_request_duration_seconds",
        ),
        ("system.io", "By", MonotonicCounter, "system_io_bytes_total"),
        (
            "gen_ai.client.token.usage",
            "{token}",
            Histogram,
            "gen_ai_client_token_usage",
        ),
        ("total.requests", "", MonotonicCounter, "requests_total"),
        ("123_requests", "", MonotonicCounter, "_123_requests_total"),
        ("temperature", "Cel", Gauge, "temperature_celsius"),
        ("disk.used", "%", Gauge, "disk_used_percent"),
        ("speed", "m/h", Gauge, "speed_meters_per_hour"),
        ("métric", "", Gauge, "m_tric"),
    ];
    for (name, unit, kind, want) in cases {
        assert_eq!(
            metric_name(name, unit, *kind),
            *want,
            "{name:?} {unit:?} {kind:?}"
        );
    }
}

#[test]
fn units_and_label_names_follow_prometheus() {
    assert_eq!(unit_name("By/s"), "bytes_per_second");
    assert_eq!(unit_name("1"), "");
    assert_eq!(unit_name("{request}"), "");
    assert_eq!(unit_name("1/s"), "per_second");
    let cases = [
        ("http.method", "http_method"),
        ("123invalid", "key_123invalid"),
        ("_private", "key_private"),
        ("__reserved__", "__reserved__"),
        ("label__with__underscores", "label__with__underscores"),
        ("ñ.key", "__key"),
        ("...", ""),
        ("", ""),
    ];
    for (key, want) in cases {
        assert_eq!(label_name(key), want, "{key:?}");
    }
}

fn series<'t>(t: &'t Translation, selector: &[(&str, &str)]) -> &'t PromSeries {
    t.series
        .iter()
        .find(|s| selector.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no series {selector:?} in {:#?}", t.series))
}

fn metadata(t: &Translation, family: &str) -> MetricMetadata {
    t.metadata
        .iter()
        .find(|(name, _)| name == family)
        .map(|(_, m)| m.clone())
        .unwrap_or_else(|| panic!("no metadata for {family} in {:?}", t.metadata))
}

use agentmon_model::MetricMetadata;

#[test]
fn every_metric_kind_becomes_prometheus_series() {
    let mut request = sample_metrics();
    let resource = &mut request.resource_metrics[0];
    resource.resource.attributes.extend([
        KeyValue {
            key: "service.namespace".into(),
            value: AnyValue::String("team".into()),
        },
        KeyValue {
            key: "service.instance.id".into(),
            value: AnyValue::String("pod-1".into()),
        },
        KeyValue {
            key: "host.name".into(),
            value: AnyValue::String("box".into()),
        },
    ]);
    // Make the histogram cumulative so that it is kept.
    if let MetricData::Histogram(h) = &mut resource.scope_metrics[0].metrics[2].data {
        h.aggregation_temporality = AggregationTemporality::Cumulative;
    }
    let t = translate_metrics(&request, &Limits::default());
    let ms = 1_700_000_000_123;

    // Gauge of unit "1": _ratio, attributes as labels, job/instance.
    let g = series(&t, &[("__name__", "g_ratio")]);
    assert_eq!(g.labels.get("job"), Some("team/svc"));
    assert_eq!(g.labels.get("instance"), Some("pod-1"));
    assert_eq!(g.labels.get("s"), Some("x"));
    assert_eq!(g.labels.get("b"), Some("true"));
    assert_eq!(g.labels.get("i"), Some("-7"));
    assert_eq!(g.labels.get("d"), Some("1.5"));
    assert_eq!(g.labels.get("bytes"), Some("AP8D"));
    assert_eq!(g.labels.get("arr"), Some(r#"[1,"two"]"#));
    assert_eq!(g.labels.get("map"), Some(r#"{"k":false}"#));
    assert_eq!(
        g.labels.get("host_name"),
        None,
        "resource attributes stay in target_info"
    );
    assert_eq!(g.labels.get("otel_scope_name"), None);
    assert_eq!(g.samples, [Sample::new(ms, 0.25)]);
    assert_eq!(metadata(&t, "g_ratio").metric_type, MetricType::Gauge);
    assert_eq!(metadata(&t, "g_ratio").help, "a gauge");

    // Monotonic cumulative sum of bytes: counter, stale because of flag 1.
    let c = series(&t, &[("__name__", "c_bytes_total")]);
    assert_eq!(c.samples.len(), 1);
    assert!(is_stale_nan(c.samples[0].v));
    let meta = metadata(&t, "c_bytes_total");
    assert_eq!(
        (meta.metric_type, meta.unit.as_str()),
        (MetricType::Counter, "bytes")
    );

    // Histogram: cumulative buckets, +Inf = count, _sum, _count.
    let bucket = |le| series(&t, &[("__name__", "h_seconds_bucket"), ("le", le)]).samples[0].v;
    assert_eq!(
        (bucket("0.1"), bucket("1"), bucket("+Inf")),
        (1.0, 3.0, 6.0)
    );
    assert_eq!(
        series(&t, &[("__name__", "h_seconds_count")]).samples[0].v,
        6.0
    );
    assert_eq!(
        series(&t, &[("__name__", "h_seconds_sum")]).samples[0].v,
        0.0
    );
    assert_eq!(metadata(&t, "h_seconds").metric_type, MetricType::Histogram);

    // Summary: quantiles, _sum, _count.
    let q = |quantile| {
        series(
            &t,
            &[("__name__", "q_milliseconds"), ("quantile", quantile)],
        )
    };
    assert_eq!((q("0.5").samples[0].v, q("0.99").samples[0].v), (3.0, 7.0));
    assert_eq!(
        series(&t, &[("__name__", "q_milliseconds_sum")]).samples[0].v,
        99.5
    );
    assert_eq!(
        series(&t, &[("__name__", "q_milliseconds_count")]).samples[0].v,
        10.0
    );

    // Exponential histogram: refused and counted.
    assert_eq!(
        t.rejected.get(&RejectReason::ExponentialHistogram),
        Some(&1)
    );
    assert!(t
        .series
        .iter()
        .all(|s| !s.labels.metric_name().unwrap().starts_with('e')));
    assert_eq!(t.data_points, 5);
    assert_eq!(t.rejected_total(), 1);
    assert!(t.messages[0].contains("exponential"));

    // target_info: other resource attributes, job and instance, value 1.
    let info = series(&t, &[("__name__", "target_info")]);
    assert_eq!(info.labels.get("host_name"), Some("box"));
    assert_eq!(info.labels.get("job"), Some("team/svc"));
    assert_eq!(info.labels.get("service_name"), None);
    assert_eq!(info.samples, [Sample::new(ms, 1.0)]);
}

fn gauge_request(points: Vec<NumberDataPoint>, resource: Vec<KeyValue>) -> MetricsRequest {
    MetricsRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Resource {
                attributes: resource,
            },
            scope_metrics: vec![ScopeMetrics {
                scope: InstrumentationScope::default(),
                metrics: vec![Metric {
                    name: "temp".into(),
                    description: String::new(),
                    unit: String::new(),
                    data: MetricData::Gauge(points),
                }],
            }],
        }],
    }
}

fn point(attributes: Vec<(&str, &str)>, t_ns: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes
            .into_iter()
            .map(|(k, v)| KeyValue {
                key: k.into(),
                value: AnyValue::String(v.into()),
            })
            .collect(),
        start_time_unix_nano: 0,
        time_unix_nano: t_ns,
        value: NumberValue::Double(v),
        flags: 0,
    }
}

#[test]
fn colliding_label_names_join_values_in_key_order() {
    let request = gauge_request(
        vec![point(vec![("a.b", "2"), ("a_b", "1")], 5_000_000, 1.0)],
        vec![],
    );
    let t = translate_metrics(&request, &Limits::default());
    // Sorted by original key: "a.b" < "a_b".
    assert_eq!(t.series[0].labels.get("a_b"), Some("2;1"));
}

#[test]
fn points_of_one_series_are_grouped_sorted_and_in_milliseconds() {
    let request = gauge_request(
        vec![
            point(vec![], 3_999_999, 3.0),
            point(vec![], 1_000_000, 1.0),
            point(vec![("x", "y")], 2_000_000, 2.0),
        ],
        vec![],
    );
    let t = translate_metrics(&request, &Limits::default());
    assert_eq!(t.series.len(), 2);
    assert_eq!(
        t.series[0].samples,
        [Sample::new(1, 1.0), Sample::new(3, 3.0)]
    );
    assert!(t.metadata.iter().all(|(name, _)| name != "target_info"));
}

#[test]
fn delta_unspecified_and_invalid_points_are_refused_with_reasons() {
    let mut request = sample_metrics();
    let metrics = &mut request.resource_metrics[0].scope_metrics[0].metrics;
    if let MetricData::Sum(sum) = &mut metrics[1].data {
        sum.aggregation_temporality = AggregationTemporality::Unspecified;
    }
    if let MetricData::Gauge(points) = &mut metrics[0].data {
        points.push(NumberDataPoint {
            time_unix_nano: 0,
            value: NumberValue::Double(1.0),
            ..Default::default()
        });
        points.push(NumberDataPoint {
            time_unix_nano: 5,
            value: NumberValue::Empty,
            ..Default::default()
        });
    }
    let t = translate_metrics(&request, &Limits::default());
    assert_eq!(t.rejected.get(&RejectReason::DeltaTemporality), Some(&1));
    assert_eq!(
        t.rejected.get(&RejectReason::UnspecifiedTemporality),
        Some(&1)
    );
    assert_eq!(t.rejected.get(&RejectReason::InvalidDataPoint), Some(&2));
    assert_eq!(t.rejected_total(), 5);
    assert_eq!(t.data_points, 7);
    assert!(t.messages.iter().any(|m| m.contains("delta temporality")));
    // The valid gauge point is still there.
    assert_eq!(series(&t, &[("__name__", "g_ratio")]).samples.len(), 1);
}

#[test]
fn mismatched_histogram_buckets_and_label_limits_are_refused() {
    let mut request = sample_metrics();
    if let MetricData::Histogram(h) =
        &mut request.resource_metrics[0].scope_metrics[0].metrics[2].data
    {
        h.aggregation_temporality = AggregationTemporality::Cumulative;
        h.data_points[0].bucket_counts.pop();
    }
    let t = translate_metrics(&request, &Limits::default());
    assert_eq!(t.rejected.get(&RejectReason::InvalidDataPoint), Some(&1));
    assert!(t
        .series
        .iter()
        .all(|s| !s.labels.metric_name().unwrap().starts_with("h_")));

    let request = gauge_request(
        vec![point(vec![("k", &"v".repeat(100))], 1_000_000, 1.0)],
        vec![],
    );
    let limits = Limits {
        max_label_value_bytes: 50,
        ..Limits::default()
    };
    let t = translate_metrics(&request, &limits);
    assert_eq!(t.rejected.get(&RejectReason::InvalidLabels), Some(&1));
    assert!(t.series.is_empty());
}

#[test]
fn target_info_spans_the_points_every_two_and_a_half_minutes() {
    let resource = vec![
        KeyValue {
            key: "service.name".into(),
            value: AnyValue::String("svc".into()),
        },
        KeyValue {
            key: "os.type".into(),
            value: AnyValue::String("linux".into()),
        },
    ];
    let minute = 60_000_000_000u64;
    let request = gauge_request(
        vec![point(vec![], minute, 1.0), point(vec![], 7 * minute, 2.0)],
        resource,
    );
    let t = translate_metrics(&request, &Limits::default());
    let info = series(&t, &[("__name__", "target_info")]);
    let times: Vec<i64> = info.samples.iter().map(|s| s.t).collect();
    assert_eq!(times, [60_000, 210_000, 360_000, 420_000]);
    assert_eq!(info.labels.get("os_type"), Some("linux"));
    assert_eq!(metadata(&t, "target_info").help, "Target metadata");

    // Without job and instance there is no target_info.
    let request = gauge_request(
        vec![point(vec![], minute, 1.0)],
        vec![KeyValue {
            key: "os.type".into(),
            value: AnyValue::String("linux".into()),
        }],
    );
    let t = translate_metrics(&request, &Limits::default());
    assert!(t
        .series
        .iter()
        .all(|s| s.labels.metric_name() != Some("target_info")));
}

#[test]
fn floats_render_like_go_format_float() {
    assert_eq!(format_float(1.0), "1");
    assert_eq!(format_float(0.005), "0.005");
    assert_eq!(format_float(1e-7), "0.0000001");
    assert_eq!(format_float(2.5e10), "25000000000");
    assert_eq!(format_float(f64::INFINITY), "+Inf");
    assert_eq!(value_as_string(&AnyValue::Double(0.1)), "0.1");
}

#[test]
fn a_histogram_point_is_stored_whole_or_not_at_all() {
    let mut request = sample_metrics();
    let metrics = &mut request.resource_metrics[0].scope_metrics[0].metrics;
    let MetricData::Histogram(h) = &mut metrics[2].data else {
        panic!("sample changed");
    };
    h.aggregation_temporality = AggregationTemporality::Cumulative;
    h.data_points[0].attributes = vec![KeyValue {
        key: "a".into(),
        value: AnyValue::String("b".into()),
    }];
    // {__name__, a, job} fits for _count and _sum; `le` makes the buckets one too many.
    let limits = Limits {
        max_labels_per_series: 3,
        ..Limits::default()
    };
    let t = translate_metrics(&request, &limits);
    assert!(
        t.series
            .iter()
            .all(|s| !s.labels.metric_name().unwrap().starts_with("h_seconds")),
        "{:#?}",
        t.series
    );
    assert!(
        t.messages.iter().any(|m| m.contains("h_seconds")),
        "{:?}",
        t.messages
    );
}
