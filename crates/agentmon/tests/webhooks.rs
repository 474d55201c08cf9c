//! Event webhooks end to end, through the real binary and real HTTP on
//! loopback: receivers the test runs record what agentmon sends them.
//!
//! - Webhooks with different filters each get exactly the events they
//!   asked for: sessions that complete and fail (`POST /api/v1/events`), a
//!   health check target and a scrape target served by a local service the
//!   test stops (`health_changed`, `instance_offline`), and an alert
//!   posted to `/api/v2/alerts` (`alert`), a session silent past the
//!   timeout (`session_abandoned`); payloads carry the type, an
//!   RFC 3339 timestamp and the data; a signed webhook's signature checks.
//! - A receiver that answers 500 twice and then recovers still gets its
//!   event (the delivery log shows three attempts).
//! - The test endpoint against a 200 receiver, a 500 receiver and a
//!   refused port; bad webhooks are refused with precise messages; URLs
//!   are redacted in answers and in the log.
//! - A restart keeps the webhooks, their filters and their secrets; an
//!   agent run sent as an OTLP span ends a session like the events API.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agentmon_notify::webhooks::hmac::{hex, hmac_sha256};
use common::http::{client, metric_value, metrics};
use common::receiver::{Receiver, Service};
use common::server::{free_port, poll_until, Server};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);
/// The token every receiver URL carries; it must never be shown.
const TOKEN: &str = "tok-e2e-9f8e7d";

fn config_text(service: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: miners\n    static_configs: [{{targets: ['{service}']}}]\n\
         alertmanager:\n  route:\n    receiver: 'null'\n    group_by: [alertname]\n    \
         group_wait: 1s\n    group_interval: 1s\n    repeat_interval: 1h\n  receivers:\n    - name: 'null'\n"
    )
}

fn start(dir: &Path) -> Server {
    Server::start_with(
        &dir.join("data"),
        &[
            "--config",
            dir.join("agentmon.yml").to_str().expect("utf-8"),
        ],
    )
}

fn request(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let http = client();
    let url = server.url(path);
    let builder = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url),
    };
    let builder = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => builder,
    };
    let response = builder.send().expect("request");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn create(server: &Server, body: Value) -> Value {
    let (status, answer) = request(server, "POST", "/api/v1/monitor/webhooks", Some(&body));
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}

fn refused(server: &Server, body: Value, code: u16, expected: &str) {
    let (status, answer) = request(server, "POST", "/api/v1/monitor/webhooks", Some(&body));
    assert_eq!(status, code, "{body}: {answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains(expected), "{body}: {error}");
    assert!(!error.contains(TOKEN), "{error}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A session that starts, takes one step and ends with `status`.
fn session_events(id: &str, status: &str, at: i64) -> String {
    let head = format!(r#""session_id":"{id}","agent":"miner-agent","instance":"rig-1""#);
    format!(
        "{{\"type\":\"session_start\",{head},\"timestamp\":{}}}\n\
         {{\"type\":\"step\",{head},\"timestamp\":{},\"model\":\"m\",\"provider\":\"p\",\
         \"step_type\":\"plan\",\"duration_seconds\":1,\"prompt_tokens\":100,\
         \"completion_tokens\":20,\"cost_usd\":0.5}}\n\
         {{\"type\":\"session_end\",{head},\"timestamp\":{at},\"status\":\"{status}\"}}\n",
        at - 2_000,
        at - 1_000,
    )
}

fn post_events(server: &Server, body: String) {
    let response = client()
        .post(server.url("/api/v1/events"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("events");
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().unwrap_or_default()
    );
}

fn is_rfc3339(text: &str) -> bool {
    agentmon_model::calendar::parse_rfc3339_ms(text).is_some()
}

#[test]
fn webhooks_get_exactly_their_events_with_retries_tests_and_restarts() {
    let mut service = Service::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("agentmon.yml"),
        config_text(&service.address),
    )
    .expect("config");
    let mut server = start(dir.path());

    let sessions = Receiver::start(200, 0, TOKEN);
    let seed = Receiver::start(200, 0, TOKEN);
    let health = Receiver::start(200, 0, TOKEN);
    let everything = Receiver::start(200, 0, TOKEN);
    let flaky = Receiver::start(200, 2, TOKEN);
    let broken = Receiver::start(500, 0, TOKEN);

    // Creation answers the seed's shape with the URL redacted.
    let answer = create(
        &server,
        json!({"name": "slack", "url": seed.url, "events": ["job_completed", "miner_offline", "alert"]}),
    );
    assert_eq!(answer["name"], "slack");
    assert_eq!(
        answer["events"],
        json!(["job_completed", "miner_offline", "alert"])
    );
    assert_eq!(answer["enabled"], true);
    assert!(
        is_rfc3339(answer["created_at"].as_str().unwrap_or("")),
        "{answer}"
    );
    let shown_url = answer["url"].as_str().expect("url");
    assert!(
        shown_url.ends_with("/<secret>") && !shown_url.contains(TOKEN),
        "{shown_url}"
    );
    create(
        &server,
        json!({"name": "sessions", "url": sessions.url, "events": ["session_completed", "session_failed"]}),
    );
    create(
        &server,
        json!({"name": "health", "url": health.url, "events": ["health_changed"]}),
    );
    let signed = create(
        &server,
        json!({"name": "all.signed", "url": everything.url, "events": ["all"],
               "secret": "sig-key-123", "headers": {"Authorization": "Bearer hdr-456"}}),
    );
    assert_eq!(signed["signed"], true);
    assert_eq!(signed["headers"], json!({"Authorization": "<secret>"}));
    create(
        &server,
        json!({"name": "flaky", "url": flaky.url, "events": ["session_failed"]}),
    );
    create(
        &server,
        json!({"name": "broken", "url": broken.url, "events": ["alert"], "enabled": false}),
    );

    // Refusals.
    refused(
        &server,
        json!({"name": "slack", "url": seed.url}),
        409,
        "already exists",
    );
    refused(
        &server,
        json!({"name": "no spaces", "url": seed.url}),
        400,
        "[A-Za-z0-9_.-]{1,128}",
    );
    refused(
        &server,
        json!({"name": "x", "url": seed.url, "events": ["job_started"]}),
        400,
        "valid types are session_completed, session_failed, session_abandoned, instance_offline, health_changed, alert, all",
    );
    refused(
        &server,
        json!({"name": "x", "url": format!("ftp://h/{TOKEN}")}),
        400,
        "scheme",
    );
    refused(
        &server,
        json!({"name": "x", "url": "/relative"}),
        400,
        "absolute",
    );
    refused(
        &server,
        json!({"name": "x", "url": seed.url, "colour": 1}),
        400,
        "unknown field `colour`",
    );

    let (status, list) = request(&server, "GET", "/api/v1/monitor/webhooks", None);
    assert_eq!(status, 200);
    let list = &list["data"];
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "all.signed",
            "broken",
            "flaky",
            "health",
            "sessions",
            "slack"
        ]
    );
    assert!(!list.to_string().contains(TOKEN));
    assert!(!list.to_string().contains("sig-key-123") && !list.to_string().contains("hdr-456"));
    let (status, one) = request(&server, "GET", "/api/v1/monitor/webhooks/slack", None);
    assert_eq!((status, &one["data"]), (200, &answer));
    assert_eq!(
        request(&server, "GET", "/api/v1/monitor/webhooks/nope", None).0,
        404
    );

    // A health check target on the service; both it and the scrape target
    // must be up before the service stops.
    let (status, body) = request(
        &server,
        "POST",
        "/api/v1/monitor/health/targets",
        Some(
            &json!({"service_name": "rig-api", "endpoint": format!("http://{}/health", service.address),
                     "interval": "1s", "timeout": "500ms"}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    poll_until(DEADLINE, || {
        let (_, health) = request(&server, "GET", "/api/v1/monitor/health/rig-api", None);
        let (_, targets) = request(&server, "GET", "/api/v1/targets", None);
        let scrape_up = targets["data"]["activeTargets"][0]["health"] == "up";
        (health.to_string().contains("\"up\"") && scrape_up).then_some(())
    })
    .expect("health and scrape targets up");

    // Sessions that complete and fail, and an alert.
    // A session silent for longer than the 30-minute timeout is closed
    // (abandoned) by the newer events of the same batch.
    let now = now_ms();
    let stale = format!(
        "{{\"type\":\"session_start\",\"session_id\":\"s-stale\",\"agent\":\"miner-agent\",\
         \"instance\":\"rig-2\",\"timestamp\":{}}}\n",
        now - 31 * 60_000
    );
    post_events(
        &server,
        stale + &session_events("s-ok", "completed", now) + &session_events("s-bad", "failed", now),
    );
    let (status, body) = request(
        &server,
        "POST",
        "/api/v2/alerts",
        Some(
            &json!([{"labels": {"alertname": "MinerDown", "severity": "page"},
                      "annotations": {"summary": "rig-1 is down"}}]),
        ),
    );
    assert_eq!(status, 200, "{body}");
    service.stop();

    // Every receiver gets what it asked for.
    everything.wait_for(6);
    seed.wait_for(3);
    sessions.wait_for(2);
    health.wait_for(1);
    flaky.wait_for(1);
    // Nothing more arrives (the targets stay down, the alert repeats in 1h).
    std::thread::sleep(Duration::from_secs(3));
    let sorted = |receiver: &Receiver| {
        let mut events = receiver.events();
        events.sort();
        events
    };
    assert_eq!(
        sorted(&everything),
        [
            "alert",
            "health_changed",
            "instance_offline",
            "session_abandoned",
            "session_completed",
            "session_failed"
        ]
    );
    assert_eq!(
        sorted(&seed),
        ["alert", "instance_offline", "session_completed"]
    );
    assert_eq!(sorted(&sessions), ["session_completed", "session_failed"]);
    assert_eq!(health.events(), ["health_changed"]);
    assert_eq!(flaky.events(), ["session_failed"]);
    assert_eq!(flaky.refused.load(Ordering::SeqCst), 2);
    assert!(
        broken.received().is_empty(),
        "a disabled webhook gets nothing"
    );

    // Payloads.
    let completed = seed.only("session_completed");
    assert!(is_rfc3339(
        completed.body["timestamp"].as_str().unwrap_or("")
    ));
    let data = &completed.body["data"];
    assert_eq!(data["session_id"], "s-ok");
    assert_eq!(data["agent"], "miner-agent");
    assert_eq!(data["instance"], "rig-1");
    assert_eq!(data["status"], "completed");
    assert_eq!(data["totals"]["steps"], 1);
    assert_eq!(data["totals"]["prompt_tokens"], 100);
    assert_eq!(data["totals"]["cost_usd"], 0.5);
    assert_eq!(data["duration_seconds"], 2.0);
    assert_eq!(completed.headers["x-agentmon-event"], "session_completed");
    let abandoned = everything.only("session_abandoned");
    let data = &abandoned.body["data"];
    assert_eq!(
        (data["session_id"].as_str(), data["instance"].as_str()),
        (Some("s-stale"), Some("rig-2"))
    );
    assert_eq!(data["status"], "abandoned");
    assert_eq!(
        agentmon_model::calendar::parse_rfc3339_ms(data["last_seen_at"].as_str().unwrap_or("")),
        Some(now - 31 * 60_000)
    );
    let failed = sessions.only("session_failed");
    assert_eq!(failed.body["data"]["session_id"], "s-bad");
    assert_eq!(failed.body["data"]["status"], "failed");
    let change = health.only("health_changed");
    let data = &change.body["data"];
    assert_eq!(data["service"], "rig-api");
    assert_eq!(
        (data["old_state"].as_str(), data["new_state"].as_str()),
        (Some("healthy"), Some("unhealthy"))
    );
    assert!(
        data["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{data}"
    );
    let offline = seed.only("instance_offline");
    assert_eq!(offline.body["data"]["job"], "miners");
    assert_eq!(offline.body["data"]["instance"], service.address);
    let alert = seed.only("alert");
    let data = &alert.body["data"];
    assert_eq!(data["status"], "firing");
    assert_eq!(data["receiver"], "null");
    assert_eq!(data["alerts"][0]["labels"]["alertname"], "MinerDown");
    assert_eq!(data["alerts"][0]["annotations"]["summary"], "rig-1 is down");

    // The signed webhook: every body verifies, the extra header is sent,
    // and the same event has the same id for every webhook.
    for received in everything.received() {
        let expected = format!(
            "sha256={}",
            hex(&hmac_sha256(b"sig-key-123", received.raw.as_bytes()))
        );
        assert_eq!(received.headers["x-agentmon-signature"], expected);
        assert_eq!(received.headers["authorization"], "Bearer hdr-456");
    }
    assert!(!seed.received()[0]
        .headers
        .contains_key("x-agentmon-signature"));
    assert_eq!(
        everything.only("alert").headers["x-agentmon-event-id"],
        alert.headers["x-agentmon-event-id"]
    );

    // The delivery log shows the event webhooks, the retried one with its
    // three attempts.
    let (status, log) = request(
        &server,
        "GET",
        "/api/v1/monitor/notifications?integration=event_webhook&receiver=flaky",
        None,
    );
    assert_eq!(status, 200, "{log}");
    let deliveries = log["data"]["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone();
    assert_eq!(deliveries.len(), 1, "{log}");
    assert_eq!(deliveries[0]["status"], "sent");
    assert_eq!(deliveries[0]["attempts"], 3);
    assert_eq!(deliveries[0]["integration"], "event_webhook");
    assert!(!log.to_string().contains(TOKEN));
    let page = metrics(&client(), &server);
    assert_eq!(
        metric_value(
            &page,
            "agentmon_webhook_events_total{event=\"session_completed\"}"
        ),
        Some(1.0)
    );
    // 6 + 3 + 2 + 1 + 1 deliveries; the flaky one's failures are retries.
    assert_eq!(
        metric_value(
            &page,
            "agentmon_notifications_total{integration=\"event_webhook\",status=\"sent\"}"
        ),
        Some(13.0)
    );
    assert_eq!(
        metric_value(
            &page,
            "agentmon_notifications_total{integration=\"event_webhook\",status=\"retried\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_value(&page, "agentmon_webhook_events_dropped_total"),
        Some(0.0)
    );

    // The test endpoint: 200, 500, a refused port, an unknown name.
    let (status, answer) = request(
        &server,
        "POST",
        "/api/v1/monitor/webhooks/sessions/test",
        None,
    );
    assert_eq!(
        (status, answer),
        (200, json!({"status": "sent", "response_code": 200}))
    );
    let test = sessions.wait_for(3).pop().expect("test event");
    assert_eq!(test.body["event"], "test");
    assert_eq!(test.body["data"]["webhook"], "sessions");
    let (status, answer) = request(
        &server,
        "POST",
        "/api/v1/monitor/webhooks/broken/test",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        (&answer["status"], &answer["response_code"]),
        (&json!("failed"), &json!(500))
    );
    assert!(
        answer["error"].as_str().is_some_and(|e| e.contains("500")),
        "{answer}"
    );
    let closed = format!("http://127.0.0.1:{}/hook?token={TOKEN}", free_port());
    create(&server, json!({"name": "nowhere", "url": closed}));
    let (status, answer) = request(
        &server,
        "POST",
        "/api/v1/monitor/webhooks/nowhere/test",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        (&answer["status"], &answer["response_code"]),
        (&json!("failed"), &Value::Null)
    );
    let error = answer["error"].as_str().unwrap_or("");
    assert!(
        error.contains("connect") && !error.contains(TOKEN),
        "{answer}"
    );
    assert_eq!(
        request(&server, "POST", "/api/v1/monitor/webhooks/nope/test", None).0,
        404
    );

    // Deleting.
    assert_eq!(
        request(&server, "DELETE", "/api/v1/monitor/webhooks/nowhere", None).0,
        200
    );
    assert_eq!(
        request(&server, "DELETE", "/api/v1/monitor/webhooks/nowhere", None).0,
        404
    );

    // A restart keeps the webhooks, their filters and secrets.
    let created_at = answer_of(&server, "slack")["created_at"].clone();
    server.terminate(DEADLINE);
    let first_log = server.log();
    let server = start(dir.path());
    let (_, list) = request(&server, "GET", "/api/v1/monitor/webhooks", None);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(6), "{list}");
    assert_eq!(answer_of(&server, "slack")["created_at"], created_at);
    post_events(&server, session_events("s-later", "completed", now_ms()));
    let later = sessions.wait_for(4).pop().expect("later");
    assert_eq!(later.body["data"]["session_id"], "s-later");
    // An agent run sent as an OTLP span ends a session too.
    let end_ns = now_ms() * 1_000_000;
    let trace = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "otel-agent"}},
            {"key": "service.instance.id", "value": {"stringValue": "pod-7"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "0707070707070707070707070707070b", "spanId": "0202020202020202",
            "name": "invoke_agent planner", "kind": "SPAN_KIND_INTERNAL",
            "startTimeUnixNano": (end_ns - 3_000_000_000).to_string(),
            "endTimeUnixNano": end_ns.to_string(),
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                {"key": "gen_ai.conversation.id", "value": {"stringValue": "otlp-run"}},
                {"key": "gen_ai.agent.name", "value": {"stringValue": "planner"}}]}]}]}]});
    let (status, body) = request(&server, "POST", "/v1/traces", Some(&trace));
    assert_eq!(status, 200, "{body}");
    let traced = sessions.wait_for(5).pop().expect("traced");
    assert_eq!(traced.body["event"], "session_completed");
    let data = &traced.body["data"];
    assert_eq!(
        (
            data["session_id"].as_str(),
            data["agent"].as_str(),
            data["instance"].as_str()
        ),
        (Some("otlp-run"), Some("planner"), Some("pod-7"))
    );
    assert_eq!(data["duration_seconds"], 3.0);
    let signed = poll_until(DEADLINE, || {
        everything
            .received()
            .into_iter()
            .find(|r| r.body["data"]["session_id"] == "s-later")
    })
    .expect("the signed webhook gets the event after the restart");
    let expected = format!(
        "sha256={}",
        hex(&hmac_sha256(b"sig-key-123", signed.raw.as_bytes()))
    );
    assert_eq!(signed.headers["x-agentmon-signature"], expected);

    // No token, header value or secret in the server's log.
    let log = first_log + &server.log();
    for secret in [TOKEN, "sig-key-123", "hdr-456"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

fn answer_of(server: &Server, name: &str) -> Value {
    let (status, answer) = request(
        server,
        "GET",
        &format!("/api/v1/monitor/webhooks/{name}"),
        None,
    );
    assert_eq!(status, 200, "{answer}");
    answer["data"].clone()
}
