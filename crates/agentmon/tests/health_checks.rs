//! End to end: a health check target created through the API is probed by
//! the real binary against a local HTTP service, reported healthy by
//! `GET /api/v1/monitor/health`, written as `probe_success` into the TSDB,
//! and still there after a restart.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::http::{client, post};
use common::server::{poll_until, Server};
use serde_json::Value;

/// A loopback HTTP service that answers every request with 200 "ok".
fn start_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            // One read holds a probe's small GET; the answer closes the
            // connection, so no keep-alive handling is needed.
            let _ = stream.read(&mut request);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    format!("http://{address}/health")
}

fn get(http: &reqwest::blocking::Client, url: &str) -> Option<Value> {
    let text = http.get(url).send().ok()?.text().ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn api_target_is_probed_written_and_kept_across_restarts() {
    let endpoint = start_service();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let http = client();

    let body = format!(
        r#"{{"service_name":"checkout","endpoint":"{endpoint}","interval":"1s","timeout":"500ms"}}"#
    );
    let reply = post(
        &http,
        &server.url("/api/v1/monitor/health/targets"),
        &[("Content-Type", "application/json")],
        body.into_bytes(),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);

    let health_url = server.url("/api/v1/monitor/health");
    let health = poll_until(Duration::from_secs(15), || {
        let health = get(&http, &health_url)?;
        (health["data"]["services"][0]["state"] == "up").then_some(health)
    });
    let health = health.unwrap_or_else(|| panic!("never up\n{}", server.log()));
    assert_eq!(health["data"]["status"], "healthy");
    assert_eq!(health["data"]["health_percent"], 100.0);
    assert_eq!(health["data"]["services"][0]["service_name"], "checkout");

    let query = server.url("/api/v1/query?query=probe_success");
    let result = poll_until(Duration::from_secs(15), || {
        let answer = get(&http, &query)?;
        let first = answer["data"]["result"].get(0)?.clone();
        Some(first)
    })
    .unwrap_or_else(|| panic!("no probe_success\n{}", server.log()));
    assert_eq!(result["metric"]["service"], "checkout");
    assert_eq!(result["metric"]["endpoint"], endpoint.as_str());
    assert_eq!(result["value"][1], "1");
    server.terminate(Duration::from_secs(20));

    let server = Server::start(&data);
    let targets = poll_until(Duration::from_secs(15), || {
        get(&http, &server.url("/api/v1/monitor/health/targets"))
    })
    .unwrap();
    let names: Vec<&str> = targets["data"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["checkout"], "{targets}");
    assert_eq!(targets["data"]["targets"][0]["origin"], "api");
    assert_eq!(targets["data"]["targets"][0]["interval"], "1s");
    assert_eq!(targets["data"]["targets"][0]["timeout"], "500ms");
}
