//! Decode throughput on requests shaped like agent metrics: remote write
//! with 2000 series of 7 labels and one sample each, and OTLP protobuf with
//! 2000 gauge points of 5 attributes under one resource (decode alone, and
//! decode plus translation to Prometheus series). Run with
//! `cargo bench -p agentmon-ingest --bench decode -- --quick`.

use agentmon_ingest::otlp::{self, encode::encode_metrics};
use agentmon_ingest::{remote_write, Limits};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const SERIES: usize = 2000;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn len_field(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// A WriteRequest of `SERIES` agent-like series, labels sorted by name.
fn agent_request() -> Vec<u8> {
    let metrics = [
        "agent_tokens_total",
        "agent_tool_calls_total",
        "agent_step_seconds",
        "up",
    ];
    let mut request = Vec::new();
    for i in 0..SERIES {
        let agent = format!("agent-{:05}", i / 4);
        let instance = format!("10.0.{}.{}:9100", i / 250, i % 250);
        let labels = [
            ("__name__", metrics[i % metrics.len()]),
            ("agent_id", agent.as_str()),
            ("fleet", "research"),
            ("instance", instance.as_str()),
            ("job", "agents"),
            ("model", "large-2025"),
            ("region", "eu-west-1"),
        ];
        let mut series = Vec::new();
        for (name, value) in labels {
            let mut label = Vec::new();
            len_field(&mut label, 1, name.as_bytes());
            len_field(&mut label, 2, value.as_bytes());
            len_field(&mut series, 1, &label);
        }
        let mut sample = vec![0x09];
        sample.extend_from_slice(&(i as f64 * 1.5).to_bits().to_le_bytes());
        sample.push(0x10);
        varint(&mut sample, 1_700_000_000_000 + i as u64);
        len_field(&mut series, 2, &sample);
        len_field(&mut request, 1, &series);
    }
    request
}

fn bench_decode(c: &mut Criterion) {
    let limits = Limits::default();
    let plain = agent_request();
    let body = snap::raw::Encoder::new()
        .compress_vec(&plain)
        .expect("snappy");
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("decode_2000_series", |b| {
        b.iter(|| {
            let request = remote_write::decode(black_box(&plain), &limits).expect("decode");
            black_box(request.batch.series_count())
        })
    });
    group.bench_function("decompress_and_decode_2000_series", |b| {
        b.iter(|| {
            let buf = remote_write::decompress(black_box(&body), &limits).expect("snappy");
            let request = remote_write::decode(&buf, &limits).expect("decode");
            black_box(request.batch.series_count())
        })
    });
    group.finish();
}

fn otlp_request() -> Vec<u8> {
    let text = |key: &str, value: String| otlp::KeyValue {
        key: key.into(),
        value: otlp::AnyValue::String(value),
    };
    let points = (0..SERIES)
        .map(|i| otlp::NumberDataPoint {
            attributes: vec![
                text("agent", format!("agent-{}", i % 50)),
                text("model", format!("model-{}", i % 7)),
                text("tool", format!("tool-{}", i % 13)),
                text("region", "eu-west-1".into()),
                text("session", format!("s{i}")),
            ],
            start_time_unix_nano: 1_700_000_000_000_000_000,
            time_unix_nano: 1_700_000_060_000_000_000,
            value: otlp::NumberValue::Double(i as f64),
            flags: 0,
        })
        .collect();
    encode_metrics(&otlp::MetricsRequest {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: otlp::Resource {
                attributes: vec![
                    text("service.name", "agents".into()),
                    text("service.instance.id", "host-1".into()),
                ],
            },
            scope_metrics: vec![otlp::ScopeMetrics {
                scope: otlp::InstrumentationScope::default(),
                metrics: vec![otlp::Metric {
                    name: "agent.tokens.in_flight".into(),
                    description: String::new(),
                    unit: "{token}".into(),
                    data: otlp::MetricData::Gauge(points),
                }],
            }],
        }],
    })
}

fn bench_otlp(c: &mut Criterion) {
    let limits = Limits::default();
    let body = otlp_request();
    let mut group = c.benchmark_group("otlp");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("decode_2000_points", |b| {
        b.iter(|| {
            let request = otlp::decode_metrics(black_box(&body)).expect("decode");
            black_box(request.data_point_count())
        })
    });
    group.bench_function("decode_and_translate_2000_points", |b| {
        b.iter(|| {
            let request = otlp::decode_metrics(black_box(&body)).expect("decode");
            let translation = otlp::translate_metrics(&request, &limits);
            black_box(translation.series.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_decode, bench_otlp);
criterion_main!(benches);
