//! Router tests of `GET /api/v1/sessions`, `GET /api/v1/sessions/{id}` and
//! `GET /api/v1/pricing`, with a real SQLite session store.

use std::sync::Arc;

use agentmon_server::auth::Tokens;
use agentmon_server::{router, AppState, Limits};
use agentmon_sessions::SessionStore;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

async fn send(state: &AppState, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    send(state, Method::GET, uri, "").await
}

fn with_store(dir: &tempfile::TempDir) -> AppState {
    let state = AppState::new(Tokens::new(Vec::new()), Limits::default());
    let store = SessionStore::open(&dir.path().join("agentmon.sqlite"), 30 * 60 * 1000).unwrap();
    state.set_sessions(Arc::new(store)).unwrap();
    state
}

const BATCH: &str = r#"{"type":"session_start","session_id":"s1","agent":"hermes","instance":"a","timestamp":1000}
{"type":"step","session_id":"s1","agent":"hermes","instance":"a","timestamp":2000,"model":"gpt-4o","provider":"openai","step_type":"plan","duration_seconds":1,"prompt_tokens":1000000,"completion_tokens":100000}
{"type":"step","session_id":"s1","agent":"hermes","instance":"a","timestamp":3000,"model":"homebrew","provider":"me","step_type":"act","duration_seconds":1,"prompt_tokens":7,"completion_tokens":3}
{"type":"session_end","session_id":"s1","agent":"hermes","instance":"a","timestamp":4000,"status":"failed"}
{"type":"session_start","session_id":"s2","agent":"other","instance":"b","timestamp":5000}
"#;

#[tokio::test]
async fn sessions_answer_503_until_the_store_is_open() {
    let state = AppState::new(Tokens::new(Vec::new()), Limits::default());
    let (status, body) = get(&state, "/api/v1/sessions").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // Events are still accepted without a store (metrics only).
    let (status, _) = send(&state, Method::POST, "/api/v1/events", BATCH).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn accepted_events_are_listed_and_timelined() {
    let dir = tempfile::tempdir().unwrap();
    let state = with_store(&dir);
    let (status, body) = send(&state, Method::POST, "/api/v1/events", BATCH).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, list) = get(&state, "/api/v1/sessions?agent=hermes").await;
    assert_eq!(status, StatusCode::OK);
    let sessions = list["data"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], "s1");
    assert_eq!(sessions[0]["status"], "failed");
    // gpt-4o from the built-in table: 1M × $2.50 + 0.1M × $10.
    let cost = sessions[0]["totals"]["cost_usd"].as_f64().unwrap();
    assert!((cost - 3.5).abs() < 1e-9, "{cost}");
    assert_eq!(sessions[0]["totals"]["unpriced_tokens"], 10);

    let (_, page) = get(&state, "/api/v1/sessions?limit=1").await;
    assert_eq!(page["data"]["sessions"][0]["id"], "s2");
    assert_eq!(page["data"]["next_offset"], 1);
    let (_, page) = get(&state, "/api/v1/sessions?limit=1&offset=1").await;
    assert_eq!(page["data"]["sessions"][0]["id"], "s1");
    assert!(page["data"]["next_offset"].is_null());
    // Active in [0s, 4s]: s1 only (s2 starts at 5s).
    let (_, window) = get(&state, "/api/v1/sessions?start=0&end=4").await;
    assert_eq!(window["data"]["sessions"].as_array().unwrap().len(), 1);

    let (status, timeline) = get(&state, "/api/v1/sessions/s1").await;
    assert_eq!(status, StatusCode::OK);
    let events = timeline["data"]["timeline"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[1]["timestamp"], 2.0);
    assert_eq!(events[1]["data"]["cost_source"], "price_table");
    assert_eq!(events[2]["data"]["cost_source"], "unpriced");

    let (_, pricing) = get(&state, "/api/v1/pricing").await;
    assert_eq!(pricing["data"]["unpriced"][0]["model"], "homebrew");
    assert_eq!(pricing["data"]["unpriced"][0]["tokens"], 10);
    assert!(pricing["data"]["builtin_version"].is_string());
}

#[tokio::test]
async fn bad_parameters_are_400_and_unknown_sessions_404() {
    let dir = tempfile::tempdir().unwrap();
    let state = with_store(&dir);
    for (query, names) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-3", "offset"),
        ("status=crashed", "status"),
        ("start=yesterday", "start"),
        ("start=10&end=5", "end"),
    ] {
        let (status, body) = get(&state, &format!("/api/v1/sessions?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["errorType"], "bad_data");
        assert!(
            body["error"].as_str().unwrap().contains(names),
            "{query}: {body}"
        );
    }
    let (status, body) = get(&state, "/api/v1/sessions/unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "error");
}

#[tokio::test]
async fn a_refused_batch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = with_store(&dir);
    let bad = format!("{BATCH}{{\"type\":\"step\",\"session_id\":\"s3\"}}\n");
    let (status, _) = send(&state, Method::POST, "/api/v1/events", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = get(&state, "/api/v1/sessions").await;
    assert_eq!(list["data"]["sessions"].as_array().unwrap().len(), 0);
}

/// The text of `GET /metrics/agents`.
async fn agent_metrics_text(state: &AppState) -> String {
    let request = Request::builder()
        .uri("/metrics/agents")
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_batch_the_store_cannot_keep_is_not_counted_either() {
    let dir = tempfile::tempdir().unwrap();
    let state = with_store(&dir);
    let empty = agent_metrics_text(&state).await;
    assert!(!empty.contains("hermes_tokens_total{"), "{empty}");

    // Another connection holds the write lock: the store's transaction
    // gives up after its busy timeout.
    let blocker = rusqlite::Connection::open(dir.path().join("agentmon.sqlite")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (status, body) = send(&state, Method::POST, "/api/v1/events", BATCH).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("not accepted"),
        "{body}"
    );
    // The registry counted the batch while the store tried, then took it
    // back out: nothing of it shows.
    assert_eq!(agent_metrics_text(&state).await, empty);

    blocker.execute_batch("ROLLBACK").unwrap();
    let (status, body) = send(&state, Method::POST, "/api/v1/events", BATCH).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = agent_metrics_text(&state).await;
    // Counted once: the retried batch only.
    assert!(
        text.contains(
            "hermes_tokens_total{agent=\"hermes\",instance=\"a\",model=\"gpt-4o\",token_type=\"prompt\"} 1000000\n"
        ),
        "{text}"
    );
    let (_, list) = get(&state, "/api/v1/sessions").await;
    assert_eq!(list["data"]["sessions"].as_array().unwrap().len(), 2);
}
