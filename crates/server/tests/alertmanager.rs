//! The Alertmanager API v2 and the delivery log over real sockets: the
//! router serves on a loopback port with a real notification pipeline
//! (SQLite silences and queue in a temporary directory) that delivers to
//! a webhook receiver of the test's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentmon_notify::deliver::{QueueOptions, RetryPolicy};
use agentmon_notify::AlertmanagerConfig;
use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, Alerting, AppState, Limits};
use axum::routing::post;
use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const READER: &str = "reader-token-1";
const WRITER: &str = "writer-token-1";

/// A webhook receiver that keeps every payload.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/hook?token=hook-s3cret"), received)
}

struct Server {
    base: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(state: AppState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
        Server {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request; the body is JSON text, `None` for no body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, text) = self.call(Method::GET, path, READER, None).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        };
        (status, value)
    }
}

fn tokens() -> Tokens {
    Tokens::new(vec![
        Token {
            name: "reader".to_owned(),
            token: READER.to_owned(),
            role: Role::Read,
        },
        Token {
            name: "writer".to_owned(),
            token: WRITER.to_owned(),
            role: Role::Write,
        },
    ])
}

fn options() -> QueueOptions {
    QueueOptions {
        poll_interval: Duration::from_millis(100),
        retry: RetryPolicy::default(),
        ..QueueOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_api_v2_and_the_delivery_log() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, received) = webhook().await;
    let config = AlertmanagerConfig::from_yaml(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1m\n\
         receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook_url}'}}]\n  - name: nobody\n"
    ))
    .unwrap();
    let alerting = Arc::new(
        Alerting::open(
            dir.path(),
            dir.path(),
            config,
            "http://agentmon.test",
            options(),
        )
        .unwrap(),
    );
    let tasks = alerting.start();
    let state = AppState::new(tokens(), Limits::default());
    state.set_alerting(alerting.clone());
    let server = Server::start(state).await;

    // Posting needs the write role.
    let alert = r#"[{"labels":{"alertname":"HighLatency","job":"agent"},"annotations":{"summary":"slow"}}]"#;
    let (status, _) = server
        .call(Method::POST, "/api/v2/alerts", READER, Some(alert))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bad input: Alertmanager's answers.
    let (status, body) = server
        .call(Method::POST, "/api/v2/alerts", WRITER, Some("{not json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("parsing alerts body from \"\" failed"));
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v2/alerts",
            WRITER,
            Some(r#"[{"labels":{}}]"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "\"at least one label pair required\"");
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v2/alerts",
            WRITER,
            Some(r#"[{"labels":{"alertname":"X"},"startsAt":"2030-01-01T00:00:00Z","endsAt":"2029-01-01T00:00:00Z"}]"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "\"start time must be before end time\"");
    let (status, body) = server
        .call(Method::POST, "/api/v2/alerts", WRITER, Some(alert))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Listing, with filters.
    let (status, alerts) = server.get("/api/v2/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    assert_eq!(alerts[0]["labels"]["alertname"], "HighLatency");
    assert_eq!(alerts[0]["receivers"][0]["name"], "hook");
    let fingerprint = alerts[0]["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 16);
    let (_, none) = server.get("/api/v2/alerts?filter=job%3D%22other%22").await;
    assert_eq!(none, json!([]));
    let (_, by_receiver) = server.get("/api/v2/alerts?receiver=nob.*").await;
    assert_eq!(by_receiver, json!([]));
    let (status, body) = server.get("/api/v2/alerts?filter=job%3D~%22(%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.is_string(), "{body}");
    let (status, body) = server.get("/api/v2/alerts?active=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "active in query must be of type boolean: \"maybe\""
    );
    let (_, groups) = server.get("/api/v2/alerts/groups").await;
    assert_eq!(groups[0]["labels"], json!({"alertname": "HighLatency"}));
    assert_eq!(groups[0]["receiver"]["name"], "hook");

    // The webhook gets payload version 4 after group_wait.
    let deadline = Instant::now() + Duration::from_secs(15);
    while received.lock().is_empty() {
        assert!(Instant::now() < deadline, "no webhook delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let payload = received.lock()[0].clone();
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["receiver"], "hook");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["alerts"][0]["labels"]["job"], "agent");
    assert_eq!(payload["alerts"][0]["fingerprint"], fingerprint);
    assert_eq!(payload["externalURL"], "http://agentmon.test");

    // Silences.
    let now = agentmon_notify::api::format_time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "HighLatency", "isRegex": false, "isEqual": true}],
        "startsAt": now,
        "endsAt": "2099-01-01T00:00:00.000Z",
        "createdBy": "test",
        "comment": "maintenance",
    })
    .to_string();
    let (status, _) = server
        .call(Method::POST, "/api/v2/silences", READER, Some(&silence))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = server
        .call(Method::POST, "/api/v2/silences", WRITER, Some(&silence))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, got) = server.get(&format!("/api/v2/silence/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(got["comment"], "maintenance");
    let (_, listed) = server
        .get("/api/v2/silences?filter=alertname%3DHighLatency")
        .await;
    assert_eq!(listed[0]["id"], id.as_str());
    let (_, alerts) = server.get("/api/v2/alerts").await;
    assert_eq!(alerts[0]["status"]["state"], "suppressed");
    assert_eq!(alerts[0]["status"]["silencedBy"], json!([id]));
    let (_, unsilenced) = server.get("/api/v2/alerts?silenced=false").await;
    assert_eq!(unsilenced, json!([]));
    // Bad silences and ids.
    let backwards = silence.replace("2099-01-01", "2000-01-01");
    let (status, body) = server
        .call(Method::POST, "/api/v2/silences", WRITER, Some(&backwards))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("start time must be before end time"),
        "{body}"
    );
    let (status, body) = server.get("/api/v2/silence/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], 602);
    let unknown = "/api/v2/silence/00000000-0000-4000-8000-000000000000";
    let (status, _) = server.get(unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.call(Method::DELETE, unknown, WRITER, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = format!("/api/v2/silence/{id}");
    let (status, _) = server.call(Method::DELETE, &path, READER, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.call(Method::DELETE, &path, WRITER, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, got) = server.get(&path).await;
    assert_eq!(got["status"]["state"], "expired");
    let (status, body) = server.call(Method::DELETE, &path, WRITER, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("already expired"), "{body}");

    // Status and receivers; the webhook URL's token stays hidden.
    let (_, status_body) = server.get("/api/v2/status").await;
    assert_eq!(status_body["cluster"]["status"], "disabled");
    let original = status_body["config"]["original"].as_str().unwrap();
    assert!(original.contains("<secret>"), "{original}");
    assert!(!original.contains("hook-s3cret"), "{original}");
    let (_, receivers) = server.get("/api/v2/receivers").await;
    assert_eq!(receivers, json!([{"name": "hook"}, {"name": "nobody"}]));

    // The delivery log, its filters and paging.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (status, log) = server
            .get("/api/v1/monitor/notifications?receiver=hook&status=sent")
            .await;
        assert_eq!(status, StatusCode::OK, "{log}");
        if !log["data"]["deliveries"].as_array().unwrap().is_empty() {
            break log;
        }
        assert!(Instant::now() < deadline, "delivery not logged as sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let record = &log["data"]["deliveries"][0];
    assert_eq!(record["integration"], "webhook");
    assert_eq!(record["response_code"], 200);
    assert_eq!(record["firing"], 1);
    assert!(!record.to_string().contains("hook-s3cret"), "{record}");
    let (_, other) = server
        .get("/api/v1/monitor/notifications?receiver=nobody")
        .await;
    assert_eq!(other["data"]["deliveries"], json!([]));
    let (_, page) = server.get("/api/v1/monitor/notifications?limit=1").await;
    assert_eq!(page["data"]["deliveries"].as_array().unwrap().len(), 1);
    let next = page["data"]["next_before"].as_i64().unwrap();
    let (_, rest) = server
        .get(&format!("/api/v1/monitor/notifications?before={next}"))
        .await;
    assert_eq!(rest["data"]["deliveries"], json!([]));
    for bad in ["integration=fax", "status=lost", "limit=0", "limit=x"] {
        let (status, body) = server
            .get(&format!("/api/v1/monitor/notifications?{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["errorType"], "bad_data");
    }

    // The metrics count the delivery.
    let (_, metrics) = server.call(Method::GET, "/metrics", READER, None).await;
    assert!(
        metrics.contains("agentmon_notifications_total{integration=\"webhook\",status=\"sent\"} 1"),
        "{metrics}"
    );
    for line in [
        "agentmon_alerts{state=\"active\"} 1",
        "agentmon_alerts{state=\"suppressed\"} 0",
        "agentmon_silences{state=\"expired\"} 1",
        "agentmon_silences{state=\"active\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    tasks.shutdown().await;
}

#[tokio::test]
async fn without_an_alertmanager_section_the_api_is_not_found() {
    let server = Server::start(AppState::new(tokens(), Limits::default())).await;
    for path in [
        "/api/v2/alerts",
        "/api/v2/status",
        "/api/v1/monitor/notifications",
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            body["error"].as_str().unwrap().contains("not configured"),
            "{body}"
        );
    }
}
