//! Router tests of the health check API (`/api/v1/monitor/health*`) with a
//! real monitor probing a local HTTP service and a real SQLite store.

use std::sync::Arc;
use std::time::Duration;

use agentmon_probes::{HealthMonitor, TargetOrigin, TargetSpec, TargetStore};
use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, AppState, DbProbeWriter, Limits};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

async fn send(
    state: &AppState,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn get_json(state: &AppState, uri: &str) -> (StatusCode, Value) {
    send(state, Method::GET, uri, None, "").await
}

/// A local service: `/ok` answers 200, `/down` 503.
async fn service() -> String {
    let app = axum::Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// A state with a monitor whose one config target is `config-svc`.
fn with_monitor(tokens: Tokens, dir: &tempfile::TempDir, base: &str) -> AppState {
    let state = AppState::new(tokens, Limits::default());
    let store = TargetStore::open(&dir.path().join(agentmon_probes::FILE_NAME)).unwrap();
    let monitor = HealthMonitor::new(
        Arc::new(DbProbeWriter::new(state.clone())),
        Some(Arc::new(store)),
    );
    let config_target = TargetSpec {
        service_name: "config-svc".to_owned(),
        endpoint: format!("{base}/down"),
        interval: None,
        timeout: None,
        expected_status: None,
    }
    .validate(TargetOrigin::Config)
    .unwrap();
    assert!(monitor.start(vec![config_target]).is_empty());
    state.set_health(Arc::new(monitor));
    state
}

/// Polls the fleet health until every service has been probed.
async fn probed_health(state: &AppState) -> Value {
    for _ in 0..500 {
        let (status, body) = get_json(state, "/api/v1/monitor/health").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let services = body["data"]["services"].as_array().unwrap();
        if services.iter().all(|s| s["state"] != "unknown") {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("services were not probed in time");
}

#[tokio::test]
async fn health_endpoints_answer_503_before_the_monitor_runs() {
    let state = AppState::new(Tokens::default(), Limits::default());
    for uri in [
        "/api/v1/monitor/health",
        "/api/v1/monitor/health/targets",
        "/api/v1/monitor/health/api",
    ] {
        let (status, body) = get_json(&state, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
    }
}

#[tokio::test]
async fn targets_are_added_reported_and_deleted() {
    let base = service().await;
    let dir = tempfile::tempdir().unwrap();
    let state = with_monitor(Tokens::default(), &dir, &base);
    let targets = "/api/v1/monitor/health/targets";

    let body =
        format!(r#"{{"service_name":"api","endpoint":"{base}/ok","interval":60,"timeout":"2s"}}"#);
    let (status, created) = send(&state, Method::POST, targets, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["interval"], "1m");
    assert_eq!(created["data"]["timeout"], "2s");
    assert_eq!(created["data"]["expected_status"], 200);
    assert_eq!(created["data"]["origin"], "api");

    let (status, error) = send(&state, Method::POST, targets, None, &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert!(error["error"].as_str().unwrap().contains("exists already"));

    let (status, list) = get_json(&state, targets).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["data"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "config-svc"]);

    let health = probed_health(&state).await;
    assert_eq!(health["data"]["status"], "degraded");
    assert_eq!(health["data"]["health_percent"], 50.0);
    let (status, api) = get_json(&state, "/api/v1/monitor/health/api").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api["data"]["state"], "up");
    assert_eq!(api["data"]["last_status_code"], 200);
    assert!(api["data"]["last_error"].is_null());
    assert!(api["data"]["last_latency_seconds"].as_f64().unwrap() >= 0.0);
    assert!(api["data"]["last_check"].as_str().unwrap().ends_with('Z'));
    let (_, down) = get_json(&state, "/api/v1/monitor/health/config-svc").await;
    assert_eq!(down["data"]["state"], "down");
    assert_eq!(down["data"]["last_error"], "status 503, expected 200");

    let (status, error) = send(
        &state,
        Method::DELETE,
        "/api/v1/monitor/health/targets/config-svc",
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("comes from the configuration file"));

    let (status, _) = send(&state, Method::DELETE, &format!("{targets}/api"), None, "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&state, Method::DELETE, &format!("{targets}/api"), None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&state, "/api/v1/monitor/health/api").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let health = probed_health(&state).await;
    assert_eq!(health["data"]["status"], "unhealthy");
    assert_eq!(health["data"]["health_percent"], 0.0);
}

#[tokio::test]
async fn bad_targets_are_refused_with_400() {
    let base = service().await;
    let dir = tempfile::tempdir().unwrap();
    let state = with_monitor(Tokens::default(), &dir, &base);
    let targets = "/api/v1/monitor/health/targets";
    let cases = [
        ("not json", "invalid health check target"),
        (
            r#"{"endpoint":"http://h/"}"#,
            "missing field `service_name`",
        ),
        (
            r#"{"service_name":"a","endpoint":"http://h/","retries":1}"#,
            "unknown field `retries`",
        ),
        (
            r#"{"service_name":"a b","endpoint":"http://h/"}"#,
            "character ' '",
        ),
        (r#"{"service_name":"a","endpoint":"h"}"#, "endpoint"),
        (
            r#"{"service_name":"a","endpoint":"http://h/","timeout":"1m"}"#,
            "longer than the interval",
        ),
        (
            r#"{"service_name":"a","endpoint":"http://h/","interval":"soon"}"#,
            "interval",
        ),
        (
            r#"{"service_name":"a","endpoint":"http://h/","expected_status":700}"#,
            "expected_status 700",
        ),
        (
            r#"{"service_name":"a","endpoint":"http://h/","expected_status":-1}"#,
            "invalid health check target",
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = send(&state, Method::POST, targets, None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (status, _) = get_json(&state, "/api/v1/monitor/health/bad%20name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = get_json(&state, targets).await;
    assert_eq!(list["data"]["targets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn changing_targets_needs_the_write_role() {
    let base = service().await;
    let dir = tempfile::tempdir().unwrap();
    let token = |name: &str, role| Token {
        name: name.into(),
        token: format!("{name}-token-123"),
        role,
    };
    let tokens = Tokens::new(vec![
        token("reader", Role::Read),
        token("writer", Role::Write),
    ]);
    let state = with_monitor(tokens, &dir, &base);
    let targets = "/api/v1/monitor/health/targets";
    let body = format!(r#"{{"service_name":"api","endpoint":"{base}/ok"}}"#);
    let (status, _) = send(&state, Method::GET, targets, Some("reader-token-123"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &state,
        Method::POST,
        targets,
        Some("reader-token-123"),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &state,
        Method::POST,
        targets,
        Some("writer-token-123"),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let delete = format!("{targets}/api");
    let (status, _) = send(
        &state,
        Method::DELETE,
        &delete,
        Some("reader-token-123"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &state,
        Method::DELETE,
        &delete,
        Some("writer-token-123"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
