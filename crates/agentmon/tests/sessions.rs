//! End to end: events posted to the real binary are kept per session in
//! SQLite and read back through `/api/v1/sessions`, `/api/v1/sessions/{id}`
//! and, for cost, `/api/v1/pricing`; they survive a restart.

mod common;

use common::http::{client, post};
use common::server::Server;
use serde_json::Value;

fn get(http: &reqwest::blocking::Client, url: &str) -> (u16, Value) {
    let reply = http.get(url).send().unwrap();
    let status = reply.status().as_u16();
    (
        status,
        serde_json::from_str(&reply.text().unwrap()).unwrap(),
    )
}

#[test]
fn posted_events_are_read_back_as_sessions_and_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(&config, "pricing:\n  local-model: {input: 2, output: 4}\n").unwrap();
    let data = dir.path().join("data");
    let args = ["--config", config.to_str().unwrap()];
    let mut server = Server::start_with(&data, &args);
    let http = client();

    let head = |id: &str| format!(r#""session_id":"{id}","agent":"hermes","instance":"a1""#);
    let step = |id: &str, model: &str, at: i64| {
        format!(
            "{{\"type\":\"step\",{},\"timestamp\":{at},\"model\":\"{model}\",\"provider\":\"p\",\
             \"step_type\":\"plan\",\"duration_seconds\":1,\"prompt_tokens\":1000000,\
             \"completion_tokens\":500000}}\n",
            head(id)
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = format!(
        "{{\"type\":\"session_start\",{},\"timestamp\":{}}}\n{}{}\
         {{\"type\":\"session_end\",{},\"timestamp\":{},\"status\":\"completed\"}}\n\
         {{\"type\":\"session_start\",{},\"timestamp\":{}}}\n",
        head("s1"),
        now - 10_000,
        step("s1", "local-model", now - 9_000),
        step("s1", "mystery-model", now - 8_000),
        head("s1"),
        now - 7_000,
        head("s2"),
        now - 5_000,
    );
    let reply = post(
        &http,
        &server.url("/api/v1/events"),
        &[("Content-Type", "application/x-ndjson")],
        body.into_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    let (status, list) = get(&http, &server.url("/api/v1/sessions"));
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s2", "s1"]);
    let (_, completed) = get(
        &http,
        &server.url("/api/v1/sessions?status=completed&limit=1"),
    );
    assert_eq!(completed["data"]["sessions"][0]["id"], "s1");
    assert!(completed["data"]["next_offset"].is_null());

    let (status, timeline) = get(&http, &server.url("/api/v1/sessions/s1"));
    assert_eq!(status, 200, "{timeline}");
    let types: Vec<&str> = timeline["data"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["session_start", "step", "step", "session_end"]);
    let totals = &timeline["data"]["session"]["totals"];
    // 1M prompt at $2 + 0.5M completion at $4; the other model is unpriced.
    assert_eq!(totals["cost_usd"], 4.0);
    assert_eq!(totals["unpriced_tokens"], 1_500_000);
    assert_eq!(timeline["data"]["session"]["status"], "completed");

    let (status, missing) = get(&http, &server.url("/api/v1/sessions/nope"));
    assert_eq!(status, 404);
    assert_eq!(missing["status"], "error");
    for bad in [
        "limit=0",
        "limit=1001",
        "status=done",
        "offset=-1",
        "start=x",
    ] {
        let (status, error) = get(&http, &server.url(&format!("/api/v1/sessions?{bad}")));
        assert_eq!(status, 400, "{bad}: {error}");
    }

    let (_, pricing) = get(&http, &server.url("/api/v1/pricing"));
    let unpriced = &pricing["data"]["unpriced"];
    assert_eq!(unpriced[0]["model"], "mystery-model", "{pricing}");
    assert_eq!(unpriced[0]["tokens"], 1_500_000);
    let local = pricing["data"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "local-model")
        .unwrap();
    assert_eq!(local["source"], "config");

    // The store survives a restart.
    server.terminate(std::time::Duration::from_secs(20));
    let server = Server::start_with(&data, &args);
    let (_, timeline) = get(&http, &server.url("/api/v1/sessions/s1"));
    assert_eq!(timeline["data"]["timeline"].as_array().unwrap().len(), 4);
}
