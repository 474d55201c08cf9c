//! Router tests that need no database: auth, routing, readiness and the
//! request checks that come before storage.

use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, AppState, Limits};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use tower::ServiceExt;

const READ: &str = "read-token-0001";
const WRITE: &str = "write-token-0001";
const ADMIN: &str = "admin-token-0001";

fn state_with_tokens() -> AppState {
    let tokens = [
        ("reader", READ, Role::Read),
        ("writer", WRITE, Role::Write),
        ("admin", ADMIN, Role::Admin),
    ]
    .into_iter()
    .map(|(name, token, role)| Token {
        name: name.into(),
        token: token.into(),
        role,
    })
    .collect();
    AppState::new(Tokens::new(tokens), Limits::default())
}

fn open_state() -> AppState {
    AppState::new(
        Tokens::default(),
        Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        },
    )
}

async fn send(state: &AppState, request: Request<Body>) -> Response {
    router(state.clone()).oneshot(request).await.unwrap()
}

fn request(method: Method, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

async fn json(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn data_endpoints_answer_503_until_the_database_is_set() {
    let state = open_state();
    let response = send(&state, request(Method::GET, "/api/v1/labels", None)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        json(response).await,
        serde_json::json!({"status": "error", "errorType": "unavailable", "error": "WAL replay in progress"})
    );
    let ready = send(&state, request(Method::GET, "/health/ready", None)).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(ready).await["error"], "WAL replay in progress");
    let live = send(&state, request(Method::GET, "/health/live", None)).await;
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_or_unknown_tokens_get_401_with_a_challenge() {
    let state = state_with_tokens();
    for token in [None, Some("not-a-token")] {
        let response = send(&state, request(Method::GET, "/api/v1/labels", token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(json(response).await["errorType"], "unauthorized");
    }
    let basic = Request::get("/api/v1/labels")
        .header(header::AUTHORIZATION, "Basic YTpi")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, basic).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_include_the_ones_below_them() {
    let state = state_with_tokens();
    // (path, method, token, allowed)
    let cases = [
        (Method::GET, "/metrics", READ, true),
        (Method::GET, "/metrics", WRITE, true),
        (Method::GET, "/metrics", ADMIN, true),
        (Method::POST, "/api/v1/import", READ, false),
        (Method::POST, "/api/v1/import", WRITE, true),
        (Method::POST, "/api/v1/write", ADMIN, true),
        (Method::POST, "/api/v1/admin/tsdb/flush", READ, false),
        (Method::POST, "/api/v1/admin/tsdb/flush", WRITE, false),
        (Method::POST, "/api/v1/admin/tsdb/flush", ADMIN, true),
    ];
    for (method, path, token, allowed) in cases {
        let response = send(&state, request(method.clone(), path, Some(token))).await;
        let status = response.status();
        if allowed {
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{method} {path} {token}: {status}"
            );
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} {token}");
            let body = json(response).await;
            assert!(
                body["error"].as_str().unwrap().contains("needs role"),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn health_needs_no_token() {
    let state = state_with_tokens();
    let response = send(&state, request(Method::GET, "/health/live", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let state = open_state();
    let response = send(&state, request(Method::GET, "/api/v1/nope", None)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json(response).await["error"],
        "no endpoint at GET /api/v1/nope"
    );
    let response = send(&state, request(Method::GET, "/api/v1/write", None)).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(response).await["errorType"], "method_not_allowed");
}

fn remote_write(
    encoding: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::post("/api/v1/write");
    if let Some(encoding) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, encoding);
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn remote_write_checks_headers_and_size_first() {
    let state = open_state();
    let response = send(
        &state,
        remote_write(Some("gzip"), Some("application/x-protobuf"), vec![1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(text(response).await.contains("Content-Encoding"));

    let response = send(
        &state,
        remote_write(Some("snappy"), Some("application/json"), vec![1]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = send(&state, remote_write(Some("snappy"), None, vec![0; 4096])).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        text(response).await,
        "request body exceeds the limit of 1024 bytes\n"
    );

    // Valid headers but no database yet: 503, which remote-write senders retry.
    let response = send(&state, remote_write(Some("snappy"), None, vec![1])).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn bad_parameters_are_400_bad_data() {
    let state = open_state();
    for (uri, message) in [
        (
            "/api/v1/series?match[]=up%7B",
            "invalid parameter \"match[]\": 1:4: parse error",
        ),
        (
            "/api/v1/series?match[]=%7Bx%3D%22%22%7D",
            "at least one non-empty matcher",
        ),
        (
            "/api/v1/labels?start=abc",
            "cannot parse \"abc\" to a valid timestamp",
        ),
        (
            "/api/v1/labels?start=10&end=5",
            "end timestamp must not be before start time",
        ),
        ("/api/v1/series", "no match[] parameter provided"),
        ("/api/v1/label/a-b/values", "invalid label name: \"a-b\""),
        (
            "/api/v1/status/tsdb?limit=0",
            "limit must be a positive number",
        ),
    ] {
        let response = send(&state, request(Method::GET, uri, None)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        let body = json(response).await;
        assert_eq!(body["errorType"], "bad_data");
        assert!(
            body["error"].as_str().unwrap().contains(message),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn form_posts_carry_parameters_in_the_body() {
    let state = open_state();
    let request = Request::post("/api/v1/series")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("match[]=up%7B"))
        .unwrap();
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(json(response).await["error"]
        .as_str()
        .unwrap()
        .contains("1:4: parse error"));
}

#[tokio::test]
async fn self_metrics_count_requests_by_route_pattern() {
    let state = open_state();
    send(
        &state,
        request(Method::GET, "/api/v1/label/job/values", None),
    )
    .await;
    let response = send(&state, request(Method::GET, "/metrics", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert!(
        body.contains(
            "agentmon_http_requests_total{handler=\"/api/v1/label/{name}/values\",code=\"503\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains("# TYPE agentmon_http_request_duration_seconds histogram"));
    assert!(body.contains("process_resident_memory_bytes"));
}
