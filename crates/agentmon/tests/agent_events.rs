//! End to end: agent events posted to the real binary over a socket show
//! up on `/metrics/agents` at once, and in PromQL after the next periodic
//! write of the derived metrics.

mod common;

use std::time::Duration;

use common::http::{client, post};
use common::server::{poll_until, Server};

#[test]
fn posted_events_become_derived_metrics_and_queryable_series() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        "agents:\n  metrics_interval: 1s\n  namespace: fleet\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    let http = client();

    let head = r#""session_id":"s1","agent":"hermes","instance":"a1""#;
    let events = format!(
        "{{\"type\":\"session_start\",{head}}}\n\
         {{\"type\":\"step\",{head},\"model\":\"m\",\"provider\":\"p\",\"step_type\":\"plan\",\
           \"duration_seconds\":0.3,\"prompt_tokens\":120,\"completion_tokens\":30}}\n\
         {{\"type\":\"tool_call\",{head},\"tool_name\":\"search\",\"status\":\"error\",\
           \"duration_seconds\":2,\"error\":\"boom\"}}\n"
    );
    let reply = post(
        &http,
        &server.url("/api/v1/events"),
        &[("Content-Type", "application/x-ndjson")],
        events.into_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text, r#"{"accepted":3}"#);

    // A bad batch is refused whole and changes nothing.
    let reply = post(
        &http,
        &server.url("/api/v1/events"),
        &[("Content-Type", "application/json")],
        format!("[{{\"type\":\"log\",{head},\"level\":\"info\",\"message\":\"x\"}},{{\"type\":\"step\",{head}}}]")
            .into_bytes(),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.text.contains(r#""index":1"#), "{}", reply.text);

    let page = http
        .get(server.url("/metrics/agents"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("# TYPE fleet_tokens_total counter\n"),
        "{page}"
    );
    assert!(
        page.contains(
            "fleet_tokens_total{agent=\"hermes\",instance=\"a1\",model=\"m\",token_type=\"prompt\"} 120\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("fleet_active_sessions{agent=\"hermes\",instance=\"a1\"} 1\n"),
        "{page}"
    );

    // The periodic writer stores the same values; PromQL reads them back.
    let query = server.url("/api/v1/query?query=sum(fleet_tokens_total)");
    let answer = poll_until(Duration::from_secs(15), || {
        let text = http.get(&query).send().ok()?.text().ok()?;
        let body: serde_json::Value = serde_json::from_str(&text).ok()?;
        let value = body["data"]["result"][0]["value"][1].as_str()?.to_owned();
        Some(value)
    });
    assert_eq!(answer.as_deref(), Some("150"), "{}", server.log());
    server.terminate(Duration::from_secs(20));
}
