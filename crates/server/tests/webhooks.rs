//! Router tests of the event webhook API (`/api/v1/monitor/webhooks*`):
//! roles, the answer before the webhooks are open, and the bounded
//! channel that drops (and counts) events instead of making a source wait.

use std::sync::Arc;
use std::time::Duration;

use agentmon_model::{AgentEvent, EventKind, SessionStatus};
use agentmon_notify::deliver::{DeliveryFilter, DeliveryQueue, Page, QueueOptions};
use agentmon_notify::receivers::IntegrationKind;
use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, AppState, EventWebhooks, Limits};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn send(
    state: &AppState,
    method: Method,
    uri: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn tokens() -> Tokens {
    let token = |name: &str, role| Token {
        name: name.into(),
        token: format!("{name}-token-123"),
        role,
    };
    Tokens::new(vec![
        token("reader", Role::Read),
        token("writer", Role::Write),
    ])
}

fn open(dir: &tempfile::TempDir, capacity: usize) -> (DeliveryQueue, Arc<EventWebhooks>) {
    let queue = DeliveryQueue::open_in(dir.path(), QueueOptions::default()).unwrap();
    let webhooks = EventWebhooks::open_with_capacity(dir.path(), queue.clone(), capacity).unwrap();
    (queue, Arc::new(webhooks))
}

#[tokio::test]
async fn changes_need_the_write_role_and_reads_the_read_role() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(tokens(), Limits::default());
    let list = "/api/v1/monitor/webhooks";
    let (status, body) = send(&state, Method::GET, list, "reader-token-123", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (_, webhooks) = open(&dir, 16);
    state.set_webhooks(webhooks);

    let hook = r#"{"name":"ops","url":"http://127.0.0.1:9/hook?token=abc"}"#;
    let (status, _) = send(&state, Method::POST, list, "reader-token-123", hook).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&state, Method::POST, list, "writer-token-123", hook).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["url"], "http://127.0.0.1:9/<secret>");
    let (status, body) = send(&state, Method::GET, list, "reader-token-123", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");
    for (method, uri) in [
        (Method::POST, "/api/v1/monitor/webhooks/ops/test"),
        (Method::DELETE, "/api/v1/monitor/webhooks/ops"),
    ] {
        let (status, _) = send(&state, method, uri, "reader-token-123", "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    let (status, body) = send(
        &state,
        Method::DELETE,
        "/api/v1/monitor/webhooks/ops",
        "writer-token-123",
        "",
    )
    .await;
    assert_eq!(
        (status, &body["data"]),
        (StatusCode::OK, &json!({"deleted": "ops"}))
    );
}

fn session_end(id: &str) -> AgentEvent {
    AgentEvent {
        session_id: id.into(),
        agent: "a".into(),
        instance: "i".into(),
        timestamp_ms: 1_000,
        kind: EventKind::SessionEnd {
            status: SessionStatus::Completed,
            output: None,
        },
    }
}

#[tokio::test]
async fn a_full_channel_drops_and_counts_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(Tokens::new(Vec::new()), Limits::default());
    let (queue, webhooks) = open(&dir, 2);
    state.set_webhooks(webhooks.clone());
    // Without a webhook nothing is even handed over.
    webhooks.emit_session_ends(&[session_end("before")]);
    let spec = serde_json::from_value(json!({
        "name": "w", "url": "http://127.0.0.1:9/", "events": ["job_completed"]
    }))
    .unwrap();
    webhooks.create(spec).await.unwrap();
    // The task is not running: two fit, the third is dropped at once.
    webhooks.emit_session_ends(&[session_end("s1"), session_end("s2"), session_end("s3")]);
    let mut text = String::new();
    webhooks.write_metrics(&mut text);
    assert!(
        text.contains("agentmon_webhook_events_dropped_total 1\n"),
        "{text}"
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(webhooks.clone().run(state.clone(), stopped));
    let mut records = Vec::new();
    for _ in 0..200 {
        records = queue
            .list_deliveries(
                DeliveryFilter::default(),
                Page {
                    limit: 10,
                    before_id: None,
                },
            )
            .await
            .unwrap();
        if records.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records
        .iter()
        .all(|r| r.integration == IntegrationKind::EventWebhook && r.receiver == "w"));
    assert!(records
        .iter()
        .all(|r| r.group_key.starts_with("session_completed:")));
    assert_ne!(records[0].group_key, records[1].group_key);
    let _ = stop.send(true);
    task.await.unwrap();
    let mut text = String::new();
    webhooks.write_metrics(&mut text);
    assert!(
        text.contains("agentmon_webhook_events_total{event=\"session_completed\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("agentmon_webhook_deliveries_queued_total 2\n"),
        "{text}"
    );
}
