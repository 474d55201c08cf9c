//! Replays the requests Grafana's Prometheus data source sends (health
//! check, label browser, metric autocomplete, metadata, range queries by
//! form POST with step-aligned times, build info, exemplars) plus the
//! query-tool and status endpoints, and checks the answers' shapes.

mod common;

use agentmon_server::auth::Tokens;
use agentmon_server::config::QuerySettings;
use agentmon_server::{AppState, Limits, ServerInfo};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{get, import, post_form, send, Fixture};
use serde_json::{json, Value};

/// `agent_tokens_total` for two agents every 15 s from 1700000000 to +60 s.
async fn fixture() -> Fixture {
    let info = ServerInfo {
        config_yaml: "listen: 127.0.0.1:8080\n".into(),
        flags: [("query.timeout".to_owned(), "2m".to_owned())].into(),
        storage_retention: "15d".into(),
    };
    let f = Fixture::new(AppState::with_query_settings(
        Tokens::default(),
        Limits::default(),
        QuerySettings::default(),
        info,
    ));
    let mut text =
        String::from("# HELP agent_tokens_total Tokens used.\n# TYPE agent_tokens_total counter\n");
    for i in 0..=4i64 {
        let t = 1_700_000_000_000 + i * 15_000;
        text.push_str(&format!(
            "agent_tokens_total{{agent=\"a\"}} {} {t}\n",
            i * 100
        ));
        text.push_str(&format!(
            "agent_tokens_total{{agent=\"b\"}} {} {t}\n",
            i * 10
        ));
    }
    import(&f.state, text).await;
    f
}

async fn get_ok(state: &AppState, uri: &str) -> Value {
    let (status, body) = get(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn post_form_ok(state: &AppState, uri: &str, form: &str) -> Value {
    let (status, body) = post_form(state, uri, form).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn health_check_query_is_a_scalar() {
    let f = fixture().await;
    let by_post = post_form_ok(&f.state, "/api/v1/query", "query=1%2B1&time=1700000060").await;
    assert_eq!(
        by_post,
        json!({"status": "success", "data": {"resultType": "scalar", "result": [1700000060, "2"]}})
    );
    let by_get = get_ok(&f.state, "/api/v1/query?query=1%2B1&time=1700000060").await;
    assert_eq!(by_get, by_post);
}

#[tokio::test]
async fn label_browser_and_autocomplete() {
    let f = fixture().await;
    let labels = get_ok(
        &f.state,
        "/api/v1/labels?start=1699999000&end=1700000100&match%5B%5D=agent_tokens_total",
    )
    .await;
    assert_eq!(labels["data"], json!(["__name__", "agent"]));
    let names = get_ok(
        &f.state,
        "/api/v1/label/__name__/values?start=1699999000&end=1700000100",
    )
    .await;
    assert_eq!(names["data"], json!(["agent_tokens_total"]));
    let agents = get_ok(
        &f.state,
        "/api/v1/label/agent/values?start=1699999000&end=1700000100&match%5B%5D=%7B__name__%3D%22agent_tokens_total%22%7D",
    )
    .await;
    assert_eq!(agents["data"], json!(["a", "b"]));
    let metadata = get_ok(&f.state, "/api/v1/metadata").await;
    assert_eq!(
        metadata["data"]["agent_tokens_total"][0]["type"],
        json!("counter")
    );
}

#[tokio::test]
async fn range_query_with_aligned_times() {
    let f = fixture().await;
    let answer = post_form_ok(
        &f.state,
        "/api/v1/query_range",
        "query=sum+by+(agent)+(rate(agent_tokens_total%5B1m%5D))&start=1700000030&end=1700000060&step=15",
    )
    .await;
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["data"]["resultType"], "matrix");
    let result = answer["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"], json!({"agent": "a"}));
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(values[0][0], json!(1700000030));
    assert_eq!(values.last().unwrap()[0], json!(1700000060));
    // Values are strings, timestamps numbers.
    assert!(values[0][1].is_string());
}

#[tokio::test]
async fn build_info_reads_as_prometheus_3() {
    let f = fixture().await;
    let info = get_ok(&f.state, "/api/v1/status/buildinfo").await;
    let data = &info["data"];
    for field in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(data[field].is_string(), "{field}: {info}");
    }
    assert!(data["version"].as_str().unwrap().starts_with("3."));
    assert!(data["revision"].as_str().unwrap().starts_with("agentmon-"));
    // Grafana takes `application`/`features` to mean Mimir or Cortex.
    assert!(data.get("application").is_none() && data.get("features").is_none());
}

#[tokio::test]
async fn exemplars_are_checked_and_empty() {
    let f = fixture().await;
    let answer = get_ok(
        &f.state,
        "/api/v1/query_exemplars?query=agent_tokens_total&start=1700000000&end=1700000060",
    )
    .await;
    assert_eq!(answer, json!({"status": "success", "data": []}));
    let (status, _) = send(
        &f.state,
        Request::get("/api/v1/query_exemplars?query=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(
        &f.state,
        Request::get("/api/v1/query_exemplars?query=up&start=10&end=5")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("end timestamp must not be before start timestamp"),
        "{body}"
    );
}

#[tokio::test]
async fn format_and_parse_query() {
    let f = fixture().await;
    let (status, body) = send(
        &f.state,
        Request::get("/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)%3E1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":"sum by (job) (rate(x[5m])) \u003e 1"}"#
    );
    let tree = post_form_ok(
        &f.state,
        "/api/v1/parse_query",
        "query=foo%7Bjob%3D%22a%22%7D+%2B+1",
    )
    .await;
    assert_eq!(tree["data"]["type"], "binaryExpr");
    assert_eq!(tree["data"]["op"], "+");
    assert_eq!(tree["data"]["lhs"]["type"], "vectorSelector");
    assert_eq!(tree["data"]["lhs"]["name"], "foo");
    let (status, body) = send(
        &f.state,
        Request::get("/api/v1/format_query?query=sum(")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("\"errorType\":\"bad_data\""), "{body}");
}

#[tokio::test]
async fn status_endpoints() {
    let f = fixture().await;
    let config = get_ok(&f.state, "/api/v1/status/config").await;
    assert_eq!(config["data"], json!({"yaml": "listen: 127.0.0.1:8080\n"}));
    let flags = get_ok(&f.state, "/api/v1/status/flags").await;
    assert_eq!(flags["data"], json!({"query.timeout": "2m"}));
    let runtime = get_ok(&f.state, "/api/v1/status/runtimeinfo").await;
    let data = &runtime["data"];
    assert_eq!(data["storageRetention"], "15d");
    assert!(data["startTime"].as_str().unwrap().ends_with('Z'));
    assert!(data["GOMAXPROCS"].as_u64().unwrap() >= 1);
    assert_eq!(data["reloadConfigSuccess"], true);
}
