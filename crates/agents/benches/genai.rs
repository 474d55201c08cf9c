//! GenAI span mapping throughput on a request of 500 agent runs (an
//! `invoke_agent` root with two `chat` spans and one `execute_tool` each,
//! 2,000 spans), without and with a memory of the traces' sessions (the
//! server's path; after the first round every trace is remembered), and
//! folding the result into the registry. Run with
//! `cargo bench -p agentmon-agents --bench genai -- --quick`.

use agentmon_agents::{map_spans, AgentMetrics, AgentMetricsOptions, TraceSessions};
use agentmon_ingest::events::EventLimits;
use agentmon_ingest::otlp::{
    AnyValue, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, TracesRequest,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const RUNS: usize = 500;
const BASE_NS: u64 = 1_700_000_000_000_000_000;

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, AnyValue::String(value.into()))
}

fn agent_runs() -> TracesRequest {
    let mut spans = Vec::new();
    for run in 0..RUNS {
        let trace = (run as u128 + 1).to_be_bytes().to_vec();
        let id = |n: u64| (run as u64 * 8 + n).to_be_bytes().to_vec();
        let start = BASE_NS + run as u64 * 10_000_000_000;
        let child = |n, op: &str, offset_ms: u64, attributes: Vec<KeyValue>| {
            let mut all = vec![text("gen_ai.operation.name", op)];
            all.extend(attributes);
            Span {
                trace_id: trace.clone(),
                span_id: id(n),
                parent_span_id: id(0),
                name: format!("{op} {n}"),
                start_time_unix_nano: start + offset_ms * 1_000_000,
                end_time_unix_nano: start + (offset_ms + 900) * 1_000_000,
                attributes: all,
                ..Span::default()
            }
        };
        let chat = |n, offset_ms| {
            child(
                n,
                "chat",
                offset_ms,
                vec![
                    text("gen_ai.provider.name", "openai"),
                    text("gen_ai.request.model", "gpt-4o"),
                    text("gen_ai.response.model", "gpt-4o-2024-08-06"),
                    kv("gen_ai.usage.input_tokens", AnyValue::Int(1200)),
                    kv("gen_ai.usage.output_tokens", AnyValue::Int(300)),
                ],
            )
        };
        spans.push(chat(1, 100));
        spans.push(child(
            2,
            "execute_tool",
            1_100,
            vec![text("gen_ai.tool.name", "search")],
        ));
        spans.push(chat(3, 2_100));
        spans.push(Span {
            trace_id: trace.clone(),
            span_id: id(0),
            name: "invoke_agent planner".into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 3_500_000_000,
            attributes: vec![
                text("gen_ai.operation.name", "invoke_agent"),
                text("gen_ai.agent.name", "planner"),
                text("gen_ai.conversation.id", &format!("conv-{run}")),
            ],
            ..Span::default()
        });
    }
    TracesRequest {
        resource_spans: vec![ResourceSpans {
            resource: Resource {
                attributes: vec![
                    text("service.name", "travel"),
                    text("service.instance.id", "pod-1"),
                ],
            },
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
        }],
    }
}

fn bench(c: &mut Criterion) {
    let request = agent_runs();
    let limits = EventLimits::default();
    let spans = RUNS as u64 * 4;
    let mut group = c.benchmark_group("genai");
    group.throughput(Throughput::Elements(spans));
    group.bench_function("map_spans_2000", |b| {
        b.iter(|| map_spans(black_box(&request), &limits))
    });
    let memory = TraceSessions::default();
    group.bench_function("remembered_map_2000", |b| {
        b.iter(|| memory.map(black_box(&request), &limits))
    });
    let batch = map_spans(&request, &limits);
    assert!(batch.skipped.is_empty());
    assert_eq!(memory.map(&request, &limits), batch);
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    group.bench_function("apply_genai_2000", |b| {
        b.iter(|| metrics.apply_genai(black_box(&batch)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
