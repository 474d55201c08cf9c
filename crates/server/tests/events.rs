//! Router tests of `POST /api/v1/events` and `GET /metrics/agents`, and of
//! writing the derived metrics into a real database.

use std::sync::Arc;

use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, write_agent_metrics, AppState, Db, Limits};
use agentmon_tsdb::Options;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use serde_json::json;
use tower::ServiceExt;

const READ: &str = "read-token-0001";
const WRITE: &str = "write-token-0001";

fn state() -> AppState {
    let tokens = [("reader", READ, Role::Read), ("writer", WRITE, Role::Write)]
        .into_iter()
        .map(|(name, token, role)| Token {
            name: name.into(),
            token: token.into(),
            role,
        })
        .collect();
    AppState::new(Tokens::new(tokens), Limits::default())
}

async fn send(
    state: &AppState,
    method: Method,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    let response: Response = router(state.clone())
        .oneshot(builder.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn post(state: &AppState, content_type: Option<&str>, body: &str) -> (StatusCode, String) {
    send(
        state,
        Method::POST,
        "/api/v1/events",
        WRITE,
        content_type,
        body,
    )
    .await
}

async fn agent_page(state: &AppState) -> String {
    let (status, body) = send(state, Method::GET, "/metrics/agents", READ, None, "").await;
    assert_eq!(status, StatusCode::OK);
    body
}

const TOOL_OK: &str = r#"{"type":"tool_call","session_id":"s1","agent":"hermes","instance":"a1","tool_name":"search","status":"success","duration_seconds":0.2}"#;

#[tokio::test]
async fn accepted_events_show_on_the_agent_metrics_page() {
    let state = state();
    let body = format!("[{TOOL_OK},{TOOL_OK}]");
    let (status, answer) = post(&state, Some("application/json"), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&answer).unwrap(),
        json!({"accepted": 2})
    );

    let ndjson = format!("{TOOL_OK}\n\n{TOOL_OK}\n");
    let (status, answer) = post(&state, Some("application/x-ndjson"), &ndjson).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let page = agent_page(&state).await;
    assert!(
        page.contains("# TYPE hermes_tool_call_total counter\n"),
        "{page}"
    );
    assert!(
        page.contains(
            "hermes_tool_call_total{agent=\"hermes\",instance=\"a1\",tool_name=\"search\",status=\"success\"} 4\n"
        ),
        "{page}"
    );
}

#[tokio::test]
async fn a_bad_event_refuses_the_whole_request_with_every_index() {
    let state = state();
    let bad_type = r#"{"type":"nap","session_id":"s1","agent":"hermes","instance":"a1"}"#;
    let negative = TOOL_OK.replace("0.2", "-1");
    let body = format!("{TOOL_OK}\n{bad_type}\n{TOOL_OK}\n{negative}\n");
    let (status, answer) = post(&state, Some("application/x-ndjson; charset=utf-8"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["status"], "error");
    assert_eq!(answer["errorType"], "bad_data");
    assert_eq!(answer["invalid"], 2);
    assert_eq!(answer["errors"][0]["index"], 1);
    assert_eq!(answer["errors"][0]["line"], 2);
    assert!(answer["errors"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("unknown type \"nap\""));
    assert_eq!(answer["errors"][1]["index"], 3);
    assert_eq!(
        answer["errors"][1]["error"],
        "field \"duration_seconds\" must not be negative, got -1"
    );
    // Nothing was applied, not even the good events.
    assert_eq!(agent_page(&state).await, "");

    let (status, answer) = post(&state, None, "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.contains("body must be a JSON array of events"),
        "{answer}"
    );
}

#[tokio::test]
async fn roles_and_media_types_are_checked() {
    let state = state();
    let body = format!("[{TOOL_OK}]");
    let (status, _) = send(&state, Method::POST, "/api/v1/events", READ, None, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &state,
        Method::POST,
        "/api/v1/events",
        "nope-nope-nope",
        None,
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = post(&state, Some("text/plain"), &body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(answer.contains("application/x-ndjson"), "{answer}");
    let (status, _) = send(&state, Method::GET, "/api/v1/events", WRITE, None, "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(agent_page(&state).await, "");
}

#[tokio::test]
async fn derived_metrics_are_written_into_the_database_and_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        background_compaction: false,
        ..Options::default()
    };
    let db = Arc::new(Db::open(dir.path(), options).unwrap());
    let state = state();
    assert!(state.set_db(db.clone()).is_ok());
    let (status, _) = post(&state, None, &format!("[{TOOL_OK}]")).await;
    assert_eq!(status, StatusCode::OK);

    let written = write_agent_metrics(&db, state.agent_metrics(), 1_000_000).unwrap();
    // One counter and a tool-duration histogram of 8 buckets + Inf + sum + count.
    assert_eq!(written, 1 + 11);
    let (status, answer) = send(
        &state,
        Method::GET,
        "/api/v1/query?query=hermes_tool_call_total&time=1000",
        READ,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["data"]["result"][0]["value"][1], "1");
    assert_eq!(answer["data"]["result"][0]["metric"]["tool_name"], "search");
    let _ = db.close();
}
