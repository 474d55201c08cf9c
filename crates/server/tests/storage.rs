//! Router tests against a real database in a temporary directory: what is
//! written through the ingest endpoints comes back through the query ones.

mod common;

use agentmon_server::auth::Tokens;
use agentmon_server::{router, AppState, Limits};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use common::Fixture;
use serde_json::json;
use tower::ServiceExt;

fn fixture() -> Fixture {
    Fixture::new(AppState::new(Tokens::default(), Limits::default()))
}

async fn send(state: &AppState, request: Request<Body>) -> Response {
    router(state.clone()).oneshot(request).await.unwrap()
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let response = send(state, Request::get(uri).body(Body::empty()).unwrap()).await;
    let status = response.status();
    (status, body_text(response).await)
}

async fn get_json(state: &AppState, uri: &str) -> serde_json::Value {
    let (status, body) = get(state, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn post(state: &AppState, uri: &str, body: impl Into<Body>) -> (StatusCode, String) {
    let response = send(state, Request::post(uri).body(body.into()).unwrap()).await;
    let status = response.status();
    (status, body_text(response).await)
}

const EXPOSITION: &str = "# HELP agent_steps_total Steps taken.\n\
# TYPE agent_steps_total counter\n\
agent_steps_total{agent=\"a\"} 1 1000\n\
agent_steps_total{agent=\"a\"} 2 2000\n\
agent_steps_total{agent=\"b\"} 5 1000\n\
agent_up 1 1000\n";

async fn import_exposition(state: &AppState) {
    let (status, body) = post(state, "/api/v1/import/prometheus", EXPOSITION).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn imported_text_is_queryable() {
    let f = fixture();
    import_exposition(&f.state).await;

    let series = get_json(&f.state, "/api/v1/series?match[]=agent_steps_total").await;
    assert_eq!(
        series,
        json!({"status": "success", "data": [
            {"__name__": "agent_steps_total", "agent": "a"},
            {"__name__": "agent_steps_total", "agent": "b"},
        ]})
    );
    let labels = get_json(&f.state, "/api/v1/labels").await;
    assert_eq!(labels["data"], json!(["__name__", "agent"]));
    let values = get_json(&f.state, "/api/v1/label/__name__/values").await;
    assert_eq!(values["data"], json!(["agent_steps_total", "agent_up"]));
    let values = get_json(
        &f.state,
        "/api/v1/label/agent/values?match[]=agent_steps_total%7Bagent%3D%22a%22%7D",
    )
    .await;
    assert_eq!(values["data"], json!(["a"]));
    let limited = get_json(&f.state, "/api/v1/label/agent/values?limit=1").await;
    assert_eq!(limited["data"], json!(["a"]));
    assert_eq!(
        limited["warnings"],
        json!(["results truncated due to limit"])
    );

    // The time range applies: nothing after 2s.
    let later = get_json(&f.state, "/api/v1/series?match[]=agent_up&start=3").await;
    assert_eq!(later["data"], json!([]));
}

#[tokio::test]
async fn metadata_follows_the_prometheus_shape() {
    let f = fixture();
    import_exposition(&f.state).await;
    let metadata = get_json(&f.state, "/api/v1/metadata?metric=agent_steps_total").await;
    assert_eq!(
        metadata["data"],
        json!({"agent_steps_total": [{"type": "counter", "help": "Steps taken.", "unit": ""}]})
    );
    let none = get_json(&f.state, "/api/v1/metadata?limit=0").await;
    assert_eq!(none["data"], json!({}));
}

#[tokio::test]
async fn export_round_trips_through_import() {
    let f = fixture();
    import_exposition(&f.state).await;
    let (status, exported) = get(
        &f.state,
        "/api/v1/export?match[]=%7B__name__%3D~%22agent_.*%22%7D",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert_eq!(exported.lines().count(), 3, "{exported}");

    let other = fixture();
    let (status, body) = post(&other.state, "/api/v1/import", exported.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, again) = get(
        &other.state,
        "/api/v1/export?match[]=%7B__name__%3D~%22agent_.*%22%7D",
    )
    .await;
    assert_eq!(again, exported);
}

#[tokio::test]
async fn rejected_samples_are_400_and_nothing_lands() {
    let f = fixture();
    import_exposition(&f.state).await;
    // Older than the series' newest sample, and a new series in the same
    // request: all or nothing.
    let (status, body) = post(
        &f.state,
        "/api/v1/import/prometheus",
        "agent_up 1 500\nagent_new 1 5000\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("rejected"), "{body}");
    let new = get_json(&f.state, "/api/v1/series?match[]=agent_new").await;
    assert_eq!(new["data"], json!([]));

    let (status, body) = post(&f.state, "/api/v1/import/prometheus", "not a metric line\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = post(
        &f.state,
        "/api/v1/import/prometheus?timestamp=soon",
        "a 1\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn status_flush_and_self_metrics() {
    let f = fixture();
    import_exposition(&f.state).await;
    let status = get_json(&f.state, "/api/v1/status/tsdb?limit=1").await;
    assert!(status["data"]["headStats"].is_object(), "{status}");
    assert!(
        status["data"]["seriesCountByMetricName"]
            .as_array()
            .unwrap()
            .len()
            <= 1,
        "{status}"
    );

    let (code, body) = post(&f.state, "/api/v1/admin/tsdb/flush", Body::empty()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let flushed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(flushed["data"]["series"], 3, "{body}");
    // Still queryable from the block.
    let series = get_json(&f.state, "/api/v1/series?match[]=agent_up").await;
    assert_eq!(series["data"], json!([{"__name__": "agent_up"}]));

    let (code, metrics) = get(&f.state, "/metrics").await;
    assert_eq!(code, StatusCode::OK);
    assert!(metrics.contains("agentmon_tsdb_"), "{metrics}");
}

/// Encodes a remote-write 1.0 `WriteRequest` by hand (protobuf wire format)
/// so the test does not depend on the encoder under test.
/// One series to encode: label pairs and `(timestamp_ms, value)` samples.
type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn write_request(series: &[TestSeries<'_>]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    let mut request = Vec::new();
    for (labels, samples) in series {
        let mut timeseries = Vec::new();
        for (name, value) in *labels {
            let mut label = Vec::new();
            bytes_field(&mut label, 1, name.as_bytes());
            bytes_field(&mut label, 2, value.as_bytes());
            bytes_field(&mut timeseries, 1, &label);
        }
        for (t, v) in *samples {
            let mut sample = Vec::new();
            varint(&mut sample, 1 << 3 | 1);
            sample.extend_from_slice(&v.to_le_bytes());
            varint(&mut sample, 2 << 3);
            varint(&mut sample, *t as u64);
            bytes_field(&mut timeseries, 2, &sample);
        }
        bytes_field(&mut request, 1, &timeseries);
    }
    snap::raw::Encoder::new().compress_vec(&request).unwrap()
}

fn remote_write(body: Vec<u8>) -> Request<Body> {
    Request::post("/api/v1/write")
        .header(header::CONTENT_ENCODING, "snappy")
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn remote_write_lands_whole_or_explains_why_not() {
    let f = fixture();
    let body = write_request(&[
        (
            &[("__name__", "tokens_total"), ("model", "m1")],
            &[(1000, 10.0), (2000, 20.0)],
        ),
        (
            &[("__name__", "tokens_total"), ("model", "m2")],
            &[(1000, 1.0)],
        ),
    ]);
    let response = send(&f.state, remote_write(body)).await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "{}",
        body_text(response).await
    );
    let (_, exported) = get(
        &f.state,
        "/api/v1/export?match[]=tokens_total%7Bmodel%3D%22m1%22%7D",
    )
    .await;
    assert!(
        exported.contains("[10,20]") && exported.contains("[1000,2000]"),
        "{exported}"
    );

    // Not snappy at all.
    let response = send(&f.state, remote_write(b"definitely not snappy".to_vec())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    // Valid protobuf, invalid label name: refused whole.
    let body = write_request(&[
        (&[("__name__", "ok_metric")], &[(1000, 1.0)]),
        (&[("__name__", "bad"), ("2xx", "v")], &[(1000, 1.0)]),
    ]);
    let response = send(&f.state, remote_write(body)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = body_text(response).await;
    assert!(message.contains("2xx"), "{message}");
    let ok = get_json(&f.state, "/api/v1/series?match[]=ok_metric").await;
    assert_eq!(ok["data"], json!([]));
}
