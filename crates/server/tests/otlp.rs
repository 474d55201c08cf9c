//! `POST /v1/metrics` and `POST /v1/traces` over real HTTP on loopback:
//! both encodings, gzip, the 4xx answers the OTLP/HTTP spec asks for,
//! partial success, the write role and the self-metrics.

mod common;

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentmon_ingest::otlp::encode::{encode_metrics, encode_traces};
use agentmon_ingest::otlp::{
    AggregationTemporality, AnyValue, Histogram, HistogramDataPoint, InstrumentationScope,
    KeyValue, Metric, MetricData, MetricsRequest, NumberDataPoint, NumberValue, Resource,
    ResourceMetrics, ResourceSpans, ScopeMetrics, ScopeSpans, Span, Sum, TracesRequest,
};
use agentmon_server::auth::{Role, Token, Tokens};
use agentmon_server::{router, AppState, Limits};
use common::Fixture;
use serde_json::Value;

/// A server on a loopback port, on its own runtime; stopped on drop.
struct Served {
    base: String,
    runtime: Option<tokio::runtime::Runtime>,
    _fixture: Fixture,
}

impl Served {
    fn start(state: AppState) -> Served {
        let fixture = Fixture::new(state.clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, router(state)).await });
        Served {
            base,
            runtime: Some(runtime),
            _fixture: fixture,
        }
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Vec<u8>) {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let mut request = client.post(format!("{}{path}", self.base)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().unwrap().to_vec())
    }

    fn get(&self, path: &str) -> String {
        reqwest::blocking::get(format!("{}{path}", self.base))
            .unwrap()
            .text()
            .unwrap()
    }

    /// The instant-query result of `query` as (labels, value) pairs.
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let url = format!(
            "{}/api/v1/query?query={}",
            self.base,
            query
                .replace('+', "%2B")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
        );
        let text = reqwest::blocking::get(url).unwrap().text().unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["status"], "success", "{body}");
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap().parse().unwrap();
                (r["metric"].clone(), value)
            })
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: AnyValue::String(value.into()),
    }
}

/// A counter of 7 requests, a delta sum (refused), and a histogram.
fn request(t: u64) -> MetricsRequest {
    let point = |value| NumberDataPoint {
        attributes: vec![string("http.route", "/chat")],
        start_time_unix_nano: t - 1_000_000_000,
        time_unix_nano: t,
        value,
        flags: 0,
    };
    MetricsRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Resource {
                attributes: vec![
                    string("service.name", "agent"),
                    string("service.instance.id", "i-1"),
                    string("host.name", "box"),
                ],
            },
            scope_metrics: vec![ScopeMetrics {
                scope: InstrumentationScope::default(),
                metrics: vec![
                    Metric {
                        name: "http.requests".into(),
                        description: "Requests served.".into(),
                        unit: "{request}".into(),
                        data: MetricData::Sum(Sum {
                            data_points: vec![point(NumberValue::Int(7))],
                            aggregation_temporality: AggregationTemporality::Cumulative,
                            is_monotonic: true,
                        }),
                    },
                    Metric {
                        name: "tokens".into(),
                        description: String::new(),
                        unit: String::new(),
                        data: MetricData::Sum(Sum {
                            data_points: vec![point(NumberValue::Double(3.0))],
                            aggregation_temporality: AggregationTemporality::Delta,
                            is_monotonic: true,
                        }),
                    },
                    Metric {
                        name: "latency".into(),
                        description: String::new(),
                        unit: "s".into(),
                        data: MetricData::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: t,
                                count: 4,
                                sum: Some(2.0),
                                bucket_counts: vec![1, 3],
                                explicit_bounds: vec![0.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Cumulative,
                        }),
                    },
                ],
            }],
        }],
    }
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

fn open_state() -> AppState {
    AppState::new(Tokens::default(), Limits::default())
}

#[test]
fn protobuf_metrics_land_as_prometheus_series_with_partial_success() {
    let server = Served::start(open_state());
    let (status, body) = server.post(
        "/v1/metrics",
        &[PROTOBUF],
        encode_metrics(&request(now_ns())),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // partial_success { rejected_data_points: 1, error_message: "..." }
    assert!(body.windows(3).any(|w| w == [0x08, 0x01, 0x12]), "{body:?}");
    assert!(String::from_utf8_lossy(&body).contains("delta temporality"));

    let counter = server.query("http_requests_total");
    assert_eq!(counter.len(), 1, "{counter:?}");
    assert_eq!(counter[0].1, 7.0);
    assert_eq!(counter[0].0["job"], "agent");
    assert_eq!(counter[0].0["instance"], "i-1");
    assert_eq!(counter[0].0["http_route"], "/chat");
    assert_eq!(server.query("latency_seconds_bucket{le=\"0.5\"}")[0].1, 1.0);
    assert_eq!(
        server.query("latency_seconds_bucket{le=\"+Inf\"}")[0].1,
        4.0
    );
    assert_eq!(server.query("latency_seconds_sum")[0].1, 2.0);
    assert!(server.query("tokens_total").is_empty());
    let info = server.query("target_info");
    assert_eq!(info[0].0["host_name"], "box");

    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("agentmon_otlp_data_points_received_total{signal=\"metrics\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "agentmon_otlp_rejected_total{signal=\"metrics\",reason=\"delta_temporality\"} 1"
    ));
}

#[test]
fn json_and_gzip_bodies_are_accepted() {
    let server = Served::start(open_state());
    let t = now_ns();
    let json = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"j"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"queue.depth","unit":"1","gauge":{{"dataPoints":[
        {{"timeUnixNano":"{t}","asInt":"12"}}]}}}}]}}]}}]}}"#
    );
    let (status, body) = server.post("/v1/metrics", &[JSON], json.into_bytes());
    assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));
    let ratio = server.query("queue_depth_ratio");
    assert_eq!((ratio[0].0["job"].as_str(), ratio[0].1), (Some("j"), 12.0));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&encode_metrics(&request(t))).unwrap();
    let (status, _) = server.post(
        "/v1/metrics",
        &[PROTOBUF, ("content-encoding", "gzip")],
        gz.finish().unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(server.query("http_requests_total")[0].1, 7.0);
}

#[test]
fn bad_requests_get_415_400_and_413_with_a_status_message() {
    let limits = Limits {
        max_decompressed_bytes: 4096,
        ..Limits::default()
    };
    let server = Served::start(AppState::new(Tokens::default(), limits));
    let body = encode_metrics(&request(now_ns()));

    let (status, _) = server.post(
        "/v1/metrics",
        &[("content-type", "text/plain")],
        body.clone(),
    );
    assert_eq!(status, 415);
    let (status, _) = server.post(
        "/v1/metrics",
        &[PROTOBUF, ("content-encoding", "br")],
        body.clone(),
    );
    assert_eq!(status, 415);

    // Truncated protobuf: 400, google.rpc.Status { code: 3, message }, and
    // nothing of the request is stored.
    let (status, answer) = server.post("/v1/metrics", &[PROTOBUF], body[..body.len() - 3].to_vec());
    assert_eq!(status, 400);
    assert_eq!(&answer[..2], [0x08, 3]);
    assert!(String::from_utf8_lossy(&answer).contains("malformed protobuf"));
    assert!(server.query("http_requests_total").is_empty());

    let (status, answer) = server.post(
        "/v1/metrics",
        &[JSON],
        br#"{"resourceMetrics":{}}"#.to_vec(),
    );
    assert_eq!(status, 400);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["code"], 3);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("resourceMetrics"),
        "{answer}"
    );

    // 1 MB of zeros gzips to about 1 kB but inflates past the 4 kB limit.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 1 << 20]).unwrap();
    let (status, answer) = server.post(
        "/v1/metrics",
        &[PROTOBUF, ("content-encoding", "gzip")],
        gz.finish().unwrap(),
    );
    assert_eq!(status, 413);
    assert_eq!(&answer[..2], [0x08, 8]);
}

fn traces() -> TracesRequest {
    TracesRequest {
        resource_spans: vec![ResourceSpans {
            resource: Resource {
                attributes: vec![string("service.name", "agent")],
            },
            scope_spans: vec![ScopeSpans {
                scope: InstrumentationScope::default(),
                spans: vec![
                    Span {
                        trace_id: vec![7; 16],
                        span_id: vec![1; 8],
                        name: "chat".into(),
                        ..Default::default()
                    },
                    Span {
                        trace_id: vec![7; 16],
                        span_id: vec![2; 8],
                        parent_span_id: vec![1; 8],
                        name: "execute_tool".into(),
                        ..Default::default()
                    },
                ],
            }],
        }],
    }
}

#[test]
fn traces_are_decoded_validated_and_counted() {
    let server = Served::start(open_state());
    let (status, body) = server.post("/v1/traces", &[PROTOBUF], encode_traces(&traces()));
    assert_eq!((status, body.len()), (200, 0));
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0707070707070707070707070707070a",
        "spanId":"0101010101010101","name":"chat","kind":"SPAN_KIND_CLIENT"}]}]}]}"#;
    let (status, body) = server.post("/v1/traces", &[JSON], json.as_bytes().to_vec());
    assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));

    let mut bad = traces();
    bad.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1; 4];
    let (status, body) = server.post("/v1/traces", &[PROTOBUF], encode_traces(&bad));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("spans[1]"));

    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("agentmon_otlp_data_points_received_total{signal=\"traces\"} 3"),
        "{metrics}"
    );
}

#[test]
fn exporting_needs_the_write_role() {
    let tokens = Tokens::new(vec![
        Token {
            name: "reader".into(),
            token: "r-secret".into(),
            role: Role::Read,
        },
        Token {
            name: "writer".into(),
            token: "w-secret".into(),
            role: Role::Write,
        },
    ]);
    let server = Served::start(AppState::new(tokens, Limits::default()));
    let body = encode_traces(&traces());
    let (status, _) = server.post(
        "/v1/traces",
        &[PROTOBUF, ("authorization", "Bearer r-secret")],
        body.clone(),
    );
    assert_eq!(status, 403);
    let (status, _) = server.post(
        "/v1/traces",
        &[PROTOBUF, ("authorization", "Bearer w-secret")],
        body,
    );
    assert_eq!(status, 200);
}
