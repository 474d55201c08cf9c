//! Router tests of `/api/v1/query` and `/api/v1/query_range` against a real
//! database: exact answer bytes, every parameter check with Prometheus's
//! message, and the query limits (samples, timeout).

mod common;

use std::time::Duration;

use agentmon_server::auth::Tokens;
use agentmon_server::config::QuerySettings;
use agentmon_server::{AppState, Limits, ServerInfo};
use axum::http::StatusCode;
use common::{get, import, post_form, Fixture};

/// A store with two `steps_total` series sampled every 15 s from 0 to 60 s.
async fn loaded(settings: QuerySettings) -> Fixture {
    let f = Fixture::new(AppState::with_query_settings(
        Tokens::default(),
        Limits::default(),
        settings,
        ServerInfo::default(),
    ));
    let mut text = String::new();
    for i in 0..=4 {
        let t = i * 15_000;
        text.push_str(&format!("steps_total{{agent=\"a\"}} {} {t}\n", i * 10));
        text.push_str(&format!("steps_total{{agent=\"b\"}} {} {t}\n", i * 20));
    }
    import(&f.state, text).await;
    f
}

#[tokio::test]
async fn instant_query_answers_a_vector_byte_for_byte() {
    let f = loaded(QuerySettings::default()).await;
    let (status, body) = get(&f.state, "/api/v1/query?query=steps_total&time=60.5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":{"resultType":"vector","result":["#,
            r#"{"metric":{"__name__":"steps_total","agent":"a"},"value":[60.500,"40"]},"#,
            r#"{"metric":{"__name__":"steps_total","agent":"b"},"value":[60.500,"80"]}]}}"#
        )
    );
}

#[tokio::test]
async fn range_query_by_form_post_answers_a_matrix() {
    let f = loaded(QuerySettings::default()).await;
    let (status, body) = post_form(
        &f.state,
        "/api/v1/query_range",
        "query=steps_total%7Bagent%3D%22b%22%7D+%2F+2&start=0&end=30&step=15s",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"agent":"b"},"values":[[0,"0"],[15,"10"],[30,"20"]]}]}}"#
        )
    );
}

#[tokio::test]
async fn scalars_and_limits() {
    let f = loaded(QuerySettings::default()).await;
    let (status, body) = get(&f.state, "/api/v1/query?query=1%2B1&time=1.234").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1.234,"2"]}}"#
    );

    let (status, body) = get(&f.state, "/api/v1/query?query=steps_total&time=60&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["warnings"],
        serde_json::json!(["results truncated due to limit"])
    );

    // A limit the result fits in changes nothing and warns of nothing.
    let (_, body) = get(&f.state, "/api/v1/query?query=steps_total&time=60&limit=2").await;
    assert!(!body.contains("warnings"), "{body}");
}

#[tokio::test]
async fn bad_parameters_get_prometheus_messages() {
    let f = loaded(QuerySettings::default()).await;
    let cases = [
        (
            "/api/v1/query?query=up&time=yesterday",
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/api/v1/query?query=up&limit=-1",
            "invalid parameter \"limit\": limit must be non-negative",
        ),
        (
            "/api/v1/query?query=up&timeout=soon",
            "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration",
        ),
        (
            "/api/v1/query?query=sum(",
            "invalid parameter \"query\": parse error: unclosed left parenthesis",
        ),
        (
            "/api/v1/query_range?query=up&end=10&step=1",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=10&end=x&step=1",
            "invalid parameter \"end\": cannot parse \"x\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10",
            "invalid parameter \"step\": cannot parse \"\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=-15s",
            "invalid parameter \"step\": cannot parse \"-15s\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=11001&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
    ];
    for (uri, message) in cases {
        let (status, body) = get(&f.state, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["errorType"], "bad_data", "{uri}");
        let error = json["error"].as_str().unwrap();
        assert!(
            error.starts_with(message),
            "{uri}: got {error:?}, want {message:?}"
        );
    }
    // Exactly 11,000 steps is still allowed.
    let (status, body) = get(
        &f.state,
        "/api/v1/query_range?query=1&start=0&end=11000&step=1",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A missing query is a parse error of the empty text.
    let (status, body) = get(&f.state, "/api/v1/query").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("invalid parameter \\\"query\\\""), "{body}");
}

#[tokio::test]
async fn evaluation_errors_are_execution_errors() {
    let f = loaded(QuerySettings::default()).await;
    let (status, body) = get(
        &f.state,
        "/api/v1/query?query=steps_total+%2B+on()+steps_total&time=60",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["errorType"], "execution");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .starts_with("found duplicate series for the match group"));
}

#[tokio::test]
async fn too_many_samples_is_an_execution_error() {
    let f = loaded(QuerySettings {
        max_samples: 3,
        ..QuerySettings::default()
    })
    .await;
    let (status, body) = get(
        &f.state,
        "/api/v1/query_range?query=steps_total&start=0&end=60&step=15",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["errorType"], "execution");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .starts_with("query processing would load too many samples into memory in "));
}

#[tokio::test]
async fn an_expired_timeout_answers_503_timeout() {
    let f = loaded(QuerySettings::default()).await;
    let (status, body) = get(
        &f.state,
        "/api/v1/query_range?query=steps_total&start=0&end=10000&step=1&timeout=0.000000001",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["errorType"], "timeout");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .starts_with("query timed out in "));

    // The server's own limit caps a longer `timeout` parameter.
    let f = loaded(QuerySettings {
        timeout: Duration::from_nanos(1),
        ..QuerySettings::default()
    })
    .await;
    let (status, body) = get(
        &f.state,
        "/api/v1/query_range?query=steps_total&start=0&end=10000&step=1&timeout=1h",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn queries_answer_503_until_the_database_is_set() {
    let state = AppState::new(Tokens::default(), Limits::default());
    let (status, body) = get(&state, "/api/v1/query?query=1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"unavailable","error":"WAL replay in progress"}"#
    );
}

#[tokio::test]
async fn error_bodies_escape_like_go() {
    let f = loaded(QuerySettings::default()).await;
    let (_, body) = get(&f.state, "/api/v1/query?query=up&time=%3Cx%3E").await;
    assert!(body.contains(r#"\"\u003cx\u003e\""#), "{body}");
}
