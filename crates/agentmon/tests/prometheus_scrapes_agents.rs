//! End to end against a real Prometheus (Debian's 2.42): agent events are
//! posted to agentmon, then Prometheus scrapes agentmon's `/metrics/agents`
//! (`honor_labels: true`, since the families carry their own `instance`).
//! For every sample of every `hermes_*` family on agentmon's page (its
//! registry), Prometheus's `/api/v1/query` must answer the same name,
//! labels (plus `job`) and value, with no extra series; and Prometheus's
//! metadata must give each family the type agentmon declared.
//!
//! Skipped without `prometheus` on PATH unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::exposition::{parse_float, parse_samples, parse_types, SeriesKey};
use common::http::{client, post};
use common::prometheus::{prometheus_data, prometheus_or_skip, start_prometheus};
use common::server::{free_port, poll_until, Server};

/// Two agents, three sessions: steps with and without a client cost, on a
/// priced and an unpriced model, tool calls of every status, LLM errors of
/// several classes, logs, and sessions that end or keep running.
fn events() -> String {
    let head = |session: &str, agent: &str, instance: &str| {
        format!(r#""session_id":"{session}","agent":"{agent}","instance":"{instance}""#)
    };
    let (a, b, c) = (
        head("s-1", "planner", "host-1"),
        head("s-2", "planner", "host-2"),
        head("s-3", "coder", "host-1"),
    );
    [
        format!(r#"{{"type":"session_start",{a}}}"#),
        format!(r#"{{"type":"session_start",{b},"attributes":{{"user":"u1"}}}}"#),
        format!(r#"{{"type":"session_start",{c}}}"#),
        format!(r#"{{"type":"step",{a},"model":"gpt-4o","provider":"openai","step_type":"reasoning","duration_seconds":1.25,"prompt_tokens":1200,"completion_tokens":300}}"#),
        format!(r#"{{"type":"step",{a},"model":"gpt-4o","provider":"openai","step_type":"tool_selection","duration_seconds":0.4,"prompt_tokens":800,"completion_tokens":50,"cost_usd":0.02}}"#),
        format!(r#"{{"type":"tool_call",{a},"tool_name":"web_search","status":"success","duration_seconds":0.8}}"#),
        format!(r#"{{"type":"tool_call",{a},"tool_name":"web_search","status":"error","duration_seconds":2.5,"error":"503"}}"#),
        format!(r#"{{"type":"tool_call",{b},"tool_name":"run_shell","status":"timeout","duration_seconds":30}}"#),
        format!(r#"{{"type":"step",{b},"model":"in-house-7b","provider":"self-hosted","step_type":"reasoning","duration_seconds":3,"prompt_tokens":4000,"completion_tokens":700}}"#),
        format!(r#"{{"type":"llm_error",{b},"model":"gpt-4o","error":"429 Too Many Requests: rate limit exceeded"}}"#),
        format!(r#"{{"type":"llm_error",{c},"model":"claude-sonnet-4","error":"maximum context length exceeded"}}"#),
        format!(r#"{{"type":"step",{c},"model":"claude-sonnet-4","provider":"anthropic","step_type":"reasoning","duration_seconds":7.5,"prompt_tokens":20000,"completion_tokens":1500,"cost_usd":0.0825}}"#),
        format!(r#"{{"type":"log",{c},"level":"warn","message":"retrying"}}"#),
        format!(r#"{{"type":"session_end",{a},"status":"completed","output":"done"}}"#),
        format!(r#"{{"type":"session_end",{c},"status":"failed"}}"#),
    ]
    .join("\n")
}

#[test]
fn prometheus_scraping_metrics_agents_sees_the_registry_values() {
    let Some(prometheus) = prometheus_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let http = client();
    let reply = post(
        &http,
        &server.url("/api/v1/events"),
        &[("Content-Type", "application/x-ndjson")],
        events().into_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    let page = http
        .get(server.url("/metrics/agents"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let registry: BTreeMap<SeriesKey, f64> = parse_samples(&page)
        .into_iter()
        .filter(|((name, _), _)| name.starts_with("hermes_"))
        .collect();
    let types: BTreeMap<String, String> = parse_types(&page)
        .into_iter()
        .filter(|(name, _)| name.starts_with("hermes_"))
        .collect();
    // The events must have reached every kind of family, or the comparison
    // would prove little.
    for family in [
        "hermes_tokens_total",
        "hermes_tool_call_total",
        "hermes_llm_errors_total",
        "hermes_active_sessions",
        "hermes_step_duration_seconds_bucket",
        "hermes_cost_usd_total",
    ] {
        assert!(
            registry.keys().any(|(name, _)| name == family),
            "{family} missing from /metrics/agents:\n{page}"
        );
    }

    let prometheus_dir = tempfile::tempdir().unwrap();
    let prometheus_port = free_port();
    let target = format!("127.0.0.1:{}", server.port());
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: agentmon\n    honor_labels: true\n    \
         metrics_path: /metrics/agents\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let mut peer = start_prometheus(
        &prometheus,
        prometheus_dir.path(),
        prometheus_port,
        &config,
        &[],
    );
    let query_url = peer.url("/api/v1/query");
    let selector = "{__name__=~\"hermes_.*\",job=\"agentmon\"}".to_owned();
    let scraped = |data: &serde_json::Value| -> Option<BTreeMap<SeriesKey, f64>> {
        let mut seen = BTreeMap::new();
        for series in data["result"].as_array()? {
            let mut labels: BTreeMap<String, String> =
                serde_json::from_value(series["metric"].clone()).ok()?;
            let name = labels.remove("__name__")?;
            labels.remove("job");
            // Prometheus adds the target address as `instance` only where
            // the page has none.
            if labels.get("instance") == Some(&target) {
                labels.remove("instance");
            }
            seen.insert(
                (name, labels),
                parse_float(series["value"][1].as_str()?).ok()?,
            );
        }
        Some(seen)
    };
    let mut last = BTreeMap::new();
    let matched = poll_until(Duration::from_secs(60), || {
        if peer.has_exited() {
            return Some(false);
        }
        let data = prometheus_data(&http, &query_url, &[("query", selector.clone())])?;
        let seen = scraped(&data)?;
        if seen == registry {
            return Some(true);
        }
        last = seen;
        None
    });
    assert!(
        matched == Some(true),
        "Prometheus's answers differ from agentmon's registry\nregistry: {registry:#?}\nPrometheus: {last:#?}\n--- prometheus log ---\n{}",
        peer.log()
    );

    // Prometheus keeps the TYPE agentmon declared for every family.
    let metadata_url = peer.url("/api/v1/metadata");
    for (family, kind) in &types {
        let data = poll_until(Duration::from_secs(20), || {
            let data = prometheus_data(&http, &metadata_url, &[("metric", family.clone())])?;
            data[family.as_str()].as_array().is_some().then_some(data)
        })
        .unwrap_or_else(|| panic!("no metadata for {family} in Prometheus"));
        assert_eq!(
            data[family.as_str()][0]["type"].as_str(),
            Some(kind.as_str()),
            "type of {family}"
        );
    }
}
