//! End to end against a real client library: a Python app instrumented
//! with `prometheus_client` (Counter, Gauge, Histogram, Summary, Info and
//! Enum, with labels, one label value needing every escape) serves its
//! registry on two loopback ports: one through the library's own
//! `start_http_server`, which answers agentmon's `Accept` header with
//! OpenMetrics, and one that always answers in the text format 0.0.4.
//! agentmon scrapes both (two jobs); every sample the app exposes, fetched
//! by the test with the same `Accept` header, must be answered by
//! `/api/v1/query` with the same name, labels (plus `job` and `instance`)
//! and value, and agentmon must hold no other series for the job.
//!
//! Needs `python3` with `prometheus_client` (`pip install
//! prometheus_client`); skipped without it unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::exposition::{parse_float, parse_samples, SeriesKey};
use common::http::client;
use common::server::{free_port, poll_until, Server};
use serde_json::Value;

/// The `Accept` header Prometheus (and agentmon) send when scraping.
const SCRAPE_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,\
    text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const APP: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Enum,
                               Gauge, Histogram, Info, Summary, generate_latest,
                               start_http_server)

registry = CollectorRegistry()
requests = Counter('agent_requests', 'Requests handled.', ['method', 'path'], registry=registry)
requests.labels('get', '/chat').inc(3)
requests.labels('post', 'a "quoted" \\ path\nnext line').inc(2.5)
tokens = Counter('agent_tokens_total', 'Tokens used.', ['model'], registry=registry)
tokens.labels('gpt-4o').inc(1234)
tokens.labels('claude-sonnet-4').inc(0.125)
queue = Gauge('agent_queue_depth', 'Work waiting.', ['queue'], registry=registry)
queue.labels('interactive').set(7)
queue.labels('batch').set(-1.5)
Gauge('agent_temperature_celsius', 'A gauge without labels.', registry=registry).set(21.25)
steps = Histogram('agent_step_seconds', 'Step latency.', ['model'],
                  buckets=[0.1, 0.5, 1, 5], registry=registry)
for value in [0.05, 0.3, 0.7, 2, 9]:
    steps.labels('gpt-4o').observe(value)
steps.labels('local-7b').observe(0.42)
tools = Summary('agent_tool_seconds', 'Tool latency.', ['tool'], registry=registry)
for value in [0.25, 0.5, 1.25]:
    tools.labels('search').observe(value)
Info('agent_build', 'Build information.', registry=registry).info(
    {'version': '1.2.3', 'commit': 'abc123'})
state = Enum('agent_state', 'Lifecycle state.', states=['idle', 'running', 'stopped'],
             registry=registry)
state.state('running')

negotiating_port, text_port = int(sys.argv[1]), int(sys.argv[2])
start_http_server(negotiating_port, addr='127.0.0.1', registry=registry)


class TextOnly(BaseHTTPRequestHandler):
    def do_GET(self):
        body = generate_latest(registry)
        self.send_response(200)
        self.send_header('Content-Type', CONTENT_TYPE_LATEST)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(('127.0.0.1', text_port), TextOnly).serve_forever()
"#;

/// The Python app; killed when dropped.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when python3 can import prometheus_client; otherwise prints a
/// SKIPPED line, or panics when peers are required.
fn prometheus_client_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("python3 with prometheus_client is missing and AGENTMON_REQUIRE_PEERS=1 (pip install prometheus_client)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: python3 with prometheus_client not installed (pip install prometheus_client)"
    );
    false
}

/// The app's exposition as a scraper asking with `accept` gets it, and the
/// content type it came with; `None` while the app is not up yet.
fn fetch_exposition(address: &str, accept: &str) -> Option<(String, String)> {
    let response = client()
        .get(format!("http://{address}/metrics"))
        .header("Accept", accept)
        .send()
        .ok()?;
    let content_type = response
        .headers()
        .get("content-type")?
        .to_str()
        .ok()?
        .to_owned();
    Some((content_type, response.text().ok()?))
}

/// Every series agentmon holds for `job` except the synthetic scrape
/// series, with `job` and `instance` removed.
fn stored_series(server: &Server, job: &str) -> Option<BTreeMap<SeriesKey, f64>> {
    let text = client()
        .get(server.url("/api/v1/query"))
        .query(&[("query", format!("{{job=\"{job}\"}}"))])
        .send()
        .ok()?
        .text()
        .ok()?;
    let reply: Value = serde_json::from_str(&text).ok()?;
    if reply["status"] != "success" {
        return None;
    }
    let mut stored = BTreeMap::new();
    for series in reply["data"]["result"].as_array()? {
        let mut labels: BTreeMap<String, String> =
            serde_json::from_value(series["metric"].clone()).ok()?;
        let name = labels.remove("__name__")?;
        if name == "up" || name.starts_with("scrape_") {
            continue;
        }
        labels.remove("job");
        labels.remove("instance");
        let value = parse_float(series["value"][1].as_str()?).ok()?;
        stored.insert((name, labels), value);
    }
    Some(stored)
}

/// Polls until agentmon's series for `job` equal `expected` (values
/// compared bit for bit, NaN equal to NaN); panics with the difference.
fn assert_job_matches(server: &Server, job: &str, expected: &BTreeMap<SeriesKey, f64>) {
    let same = |stored: &BTreeMap<SeriesKey, f64>| {
        stored.len() == expected.len()
            && stored
                .iter()
                .zip(expected)
                .all(|((ka, va), (kb, vb))| ka == kb && (va == vb || (va.is_nan() && vb.is_nan())))
    };
    let mut last = BTreeMap::new();
    let matched = poll_until(Duration::from_secs(30), || {
        let stored = stored_series(server, job)?;
        if same(&stored) {
            return Some(());
        }
        last = stored;
        None
    });
    if matched.is_none() {
        let missing: Vec<_> = expected
            .iter()
            .filter(|(k, v)| last.get(*k) != Some(v))
            .collect();
        let extra: Vec<_> = last
            .iter()
            .filter(|(k, _)| !expected.contains_key(*k))
            .collect();
        panic!(
            "job {job}: agentmon's series differ from the app's exposition\n\
             missing or different: {missing:#?}\nnot exposed: {extra:#?}\n--- server log ---\n{}",
            server.log()
        );
    }
}

#[test]
fn prometheus_client_app_is_scraped_with_and_without_openmetrics() {
    if !prometheus_client_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("app.py");
    std::fs::write(&script, APP).unwrap();
    let (negotiating_port, text_port) = (free_port(), free_port());
    let negotiating = format!("127.0.0.1:{negotiating_port}");
    let text_only = format!("127.0.0.1:{text_port}");
    let _app = App(Command::new("python3")
        .arg(&script)
        .arg(negotiating_port.to_string())
        .arg(text_port.to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("start python3"));

    // What the app exposes to a scraper, in each format.
    let (om_type, om_page) = poll_until(Duration::from_secs(30), || {
        fetch_exposition(&negotiating, SCRAPE_ACCEPT)
    })
    .expect("the app serves on its negotiating port within 30 s");
    assert!(
        om_type.starts_with("application/openmetrics-text"),
        "the library negotiates OpenMetrics: {om_type}"
    );
    assert!(om_page.trim_end().ends_with("# EOF"), "{om_page}");
    let (text_type, text_page) = poll_until(Duration::from_secs(30), || {
        fetch_exposition(&text_only, SCRAPE_ACCEPT)
    })
    .expect("the app serves on its text port within 30 s");
    assert!(text_type.starts_with("text/plain"), "{text_type}");
    let om = parse_samples(&om_page);
    let text = parse_samples(&text_page);
    assert!(om.len() >= 30 && text.len() >= 30, "{om_page}\n{text_page}");

    // The pages hold what the app set, so the comparison below covers
    // every metric kind, the escaping and non-integer values.
    let key = |name: &str, labels: &[(&str, &str)]| -> SeriesKey {
        (
            name.to_owned(),
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let tricky = [
        ("method", "post"),
        ("path", "a \"quoted\" \\ path\nnext line"),
    ];
    for page in [&om, &text] {
        assert_eq!(page.get(&key("agent_requests_total", &tricky)), Some(&2.5));
        assert_eq!(
            page.get(&key(
                "agent_step_seconds_bucket",
                &[("model", "gpt-4o"), ("le", "1.0")]
            )),
            Some(&3.0)
        );
        assert_eq!(
            page.get(&key("agent_tool_seconds_sum", &[("tool", "search")])),
            Some(&2.0)
        );
        assert_eq!(
            page.get(&key(
                "agent_build_info",
                &[("version", "1.2.3"), ("commit", "abc123")]
            )),
            Some(&1.0)
        );
        assert_eq!(
            page.get(&key("agent_state", &[("agent_state", "running")])),
            Some(&1.0)
        );
    }

    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: openmetrics\n    static_configs: [{{targets: ['{negotiating}']}}]\n\
             \x20 - job_name: text\n    static_configs: [{{targets: ['{text_only}']}}]\n"
        ),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    assert_job_matches(&server, "openmetrics", &om);
    assert_job_matches(&server, "text", &text);
}
