//! Interoperability with the real OpenTelemetry Python SDK as the OTLP
//! sender: `tests/data/otel_export_metrics.py` records a counter, an
//! up-down counter, a histogram and a gauge and exports them (protobuf,
//! gzip) to `agentmon serve`'s `/v1/metrics`, then an agent run as GenAI
//! spans to `/v1/traces`, and a second run in two exports (its chat call
//! before its root span); the test reads the translated series back
//! through `/api/v1/query`, and the agent metrics and the sessions the
//! spans made through `/metrics/agents` and `/api/v1/sessions`: the run
//! exported in pieces is one completed session. Skipped (with a message)
//! when `python3` with `opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http` is not installed, unless
//! `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::http::{client, metrics};
use common::server::Server;
use reqwest::blocking::Client;
use serde_json::Value;

/// Whether the SDK and its OTLP/HTTP exporter import; `false` after a
/// SKIPPED line, a panic instead when `AGENTMON_REQUIRE_PEERS=1`.
fn python_sdk_or_skip() -> bool {
    let present = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http",
        ])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return true;
    }
    let install = "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http";
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the OpenTelemetry Python SDK is not installed and AGENTMON_REQUIRE_PEERS=1 ({install})");
    }
    eprintln!("SKIP: the OpenTelemetry Python SDK is not installed ({install})");
    false
}

/// The instant-query result of `query`: (labels, value) per series.
fn query(http: &Client, server: &Server, query: &str) -> Vec<(Value, f64)> {
    let response = http
        .get(server.url("/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .unwrap_or_else(|e| panic!("query {query}: {e}"));
    let body: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let value = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"].clone(), value)
        })
        .collect()
}

fn get_json(http: &Client, server: &Server, path: &str) -> Value {
    let text = http.get(server.url(path)).send().unwrap().text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// The event types of a `GET /api/v1/sessions/{id}` answer, in order.
fn timeline_types(session: &Value) -> Vec<&str> {
    session["data"]["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("{session}"))
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect()
}

fn single(http: &Client, server: &Server, selector: &str) -> (Value, f64) {
    let mut result = query(http, server, selector);
    assert_eq!(result.len(), 1, "{selector}: {result:?}\n{}", server.log());
    result.remove(0)
}

#[test]
fn python_sdk_metrics_arrive_with_prometheus_names() {
    if !python_sdk_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "data",
        "otel_export_metrics.py",
    ]
    .iter()
    .collect();
    let output = Command::new("python3")
        .arg(&script)
        .arg(server.url(""))
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "exporter failed: {}\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );

    let http = client();
    let (labels, value) = single(&http, &server, "agent_requests_total");
    assert_eq!(value, 5.0);
    assert_eq!(labels["model"], "gpt");
    assert_eq!(labels["job"], "otel-e2e");
    assert_eq!(labels["instance"], "inst-1");

    // An up-down counter is a non-monotonic sum: a gauge, no _total.
    assert_eq!(single(&http, &server, "agent_queue_depth").1, 3.0);
    assert!(query(&http, &server, "agent_queue_depth_total").is_empty());

    // The SDK's default buckets are 0, 5, 10, 25, ...: 3 ≤ 5, 7 ≤ 10, 120 > 100.
    let bucket = |le: &str| {
        single(
            &http,
            &server,
            &format!("agent_latency_milliseconds_bucket{{le=\"{le}\"}}"),
        )
        .1
    };
    assert_eq!(
        (
            bucket("0"),
            bucket("5"),
            bucket("10"),
            bucket("100"),
            bucket("250"),
            bucket("+Inf")
        ),
        (0.0, 1.0, 2.0, 2.0, 3.0, 3.0)
    );
    assert_eq!(
        single(&http, &server, "agent_latency_milliseconds_sum").1,
        130.0
    );
    assert_eq!(
        single(&http, &server, "agent_latency_milliseconds_count").1,
        3.0
    );

    assert_eq!(single(&http, &server, "agent_memory_usage_bytes").1, 2048.0);

    let (info, value) = single(&http, &server, "target_info");
    assert_eq!(value, 1.0);
    assert_eq!(info["deployment_environment"], "test");
    assert_eq!(info["job"], "otel-e2e");
    assert_eq!(info["telemetry_sdk_language"], "python");

    let metadata: Value = serde_json::from_str(
        &http
            .get(server.url("/api/v1/metadata"))
            .query(&[("metric", "agent_requests_total")])
            .send()
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        metadata["data"]["agent_requests_total"][0]["type"], "counter",
        "{metadata}"
    );
    assert_eq!(
        metadata["data"]["agent_requests_total"][0]["help"],
        "Requests sent."
    );

    // The six spans reached /v1/traces and became agent events.
    let page = metrics(&http, &server);
    assert!(
        page.contains("agentmon_otlp_data_points_received_total{signal=\"traces\"} 6"),
        "{page}"
    );
    let agents = http
        .get(server.url("/metrics/agents"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let value_of = |name: &str, labels: &[&str]| -> f64 {
        agents
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{")) && labels.iter().all(|want| l.contains(want))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} with {labels:?} in\n{agents}"))
    };
    let run = ["agent=\"planner\"", "instance=\"inst-1\""];
    let with = |more: &[&'static str]| -> Vec<&'static str> {
        run.iter().copied().chain(more.iter().copied()).collect()
    };
    assert_eq!(
        value_of(
            "hermes_tokens_total",
            &with(&["model=\"gpt-4o\"", "token_type=\"prompt\""])
        ),
        12.0
    );
    assert_eq!(
        value_of(
            "hermes_tokens_total",
            &with(&["model=\"gpt-4o\"", "token_type=\"completion\""])
        ),
        30.0
    );
    assert_eq!(
        value_of(
            "hermes_tool_call_total",
            &with(&["tool_name=\"search\"", "status=\"success\""])
        ),
        1.0
    );
    assert_eq!(
        value_of(
            "gen_ai_client_token_usage_count",
            &with(&[
                "gen_ai_token_type=\"input\"",
                "gen_ai_provider_name=\"openai\""
            ])
        ),
        1.0
    );
    // The conversation is a session with its timeline.
    let session = get_json(&http, &server, "/api/v1/sessions/conv-e2e-1");
    assert_eq!(
        session["data"]["session"]["status"], "completed",
        "{session}"
    );
    assert_eq!(
        timeline_types(&session),
        ["session_start", "step", "tool_call", "session_end"],
        "{session}"
    );

    // The run exported in two parts is one session, the trace's: its chat
    // call came before anything named the conversation.
    let trace_id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(trace_id.len(), 32, "{trace_id:?}");
    let split: Value = get_json(&http, &server, &format!("/api/v1/sessions/{trace_id}"));
    assert_eq!(split["data"]["session"]["status"], "completed", "{split}");
    assert_eq!(
        timeline_types(&split),
        ["session_start", "step", "tool_call", "session_end"],
        "{split}"
    );
    let listed = get_json(&http, &server, "/api/v1/sessions");
    let ids: Vec<&str> = listed["data"]["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(
        ids.contains(&"conv-e2e-1") && ids.contains(&trace_id.as_str()),
        "{listed}"
    );
    // The SDK exports on flush and again on shutdown: four points each time.
    let metrics_points: u64 = page
        .lines()
        .find_map(|l| {
            l.strip_prefix("agentmon_otlp_data_points_received_total{signal=\"metrics\"} ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metrics count in {page}"));
    assert!(
        metrics_points >= 4 && metrics_points.is_multiple_of(4),
        "{metrics_points}"
    );
    assert!(!page.contains("agentmon_otlp_rejected_total{"), "{page}");
    // Both runs' traces are remembered for the spans still to come.
    assert!(
        page.contains("\nagentmon_otlp_trace_sessions 2\n"),
        "{page}"
    );
}
