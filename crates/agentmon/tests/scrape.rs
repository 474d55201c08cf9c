//! End to end: `agentmon serve` with `scrape_configs` scrapes a test
//! exposition server on loopback; `up`, scraped series and their stale
//! markers are answered over `/api/v1/query`, and `/api/v1/targets` shows
//! the targets in Prometheus's shape.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::client;
use common::server::{free_port, poll_until, Server};
use serde_json::Value;

/// A one-thread HTTP/1.0-style server answering every request with the
/// current body; stops when dropped.
struct ExpositionServer {
    address: String,
    body: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl ExpositionServer {
    fn start(body: &str) -> ExpositionServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let body = Arc::new(Mutex::new(body.to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (body.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: at most ten minutes of polling.
            for _ in 0..60_000 {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let text = shared.lock().unwrap().clone();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = reader.get_mut().write_all(reply.as_bytes());
            }
        });
        ExpositionServer {
            address,
            body,
            stop,
        }
    }
}

impl Drop for ExpositionServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn query(server: &Server, promql: &str) -> Vec<Value> {
    let http = client();
    let reply = http
        .get(server.url("/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .unwrap()
        .text()
        .unwrap();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["status"], "success", "{reply}");
    reply["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn value(series: &Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn scraped_targets_are_queryable_and_disappearing_series_go_stale() {
    let exposition = ExpositionServer::start(
        "# TYPE demo_requests counter\ndemo_requests_total{path=\"/\"} 5\ndemo_gauge 7\n",
    );
    let dead = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: demo\n    static_configs:\n      - targets: ['{}']\n        labels: {{team: a}}\n\
             \x20 - job_name: dead\n    static_configs: [{{targets: ['{dead}', 'skip.invalid:1']}}]\n\
             \x20   relabel_configs: [{{source_labels: [__address__], regex: 'skip.*', action: drop}}]\n",
            exposition.address
        ),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let deadline = Duration::from_secs(30);

    let ups = poll_until(deadline, || {
        let result = query(&server, "up");
        (result.len() == 2).then_some(result)
    })
    .unwrap_or_else(|| panic!("no up series\n{}", server.log()));
    for series in &ups {
        let expected = if series["metric"]["job"] == "demo" {
            1.0
        } else {
            0.0
        };
        assert_eq!(value(series), expected, "{series}");
    }
    let scraped = query(&server, "demo_requests_total");
    assert_eq!(scraped.len(), 1, "{scraped:?}");
    assert_eq!(value(&scraped[0]), 5.0);
    let metric = &scraped[0]["metric"];
    assert_eq!(metric["job"], "demo");
    assert_eq!(metric["instance"], exposition.address.as_str());
    assert_eq!(metric["team"], "a");
    assert_eq!(metric["path"], "/");

    let targets = client()
        .get(server.url("/api/v1/targets"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let targets: Value = serde_json::from_str(&targets).unwrap();
    let active = targets["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 2, "{targets}");
    let demo = active.iter().find(|t| t["scrapePool"] == "demo").unwrap();
    assert_eq!(demo["health"], "up");
    assert_eq!(
        demo["scrapeUrl"],
        format!("http://{}/metrics", exposition.address)
    );
    assert_eq!(demo["labels"]["instance"], exposition.address.as_str());
    assert_eq!(
        demo["discoveredLabels"]["__address__"],
        exposition.address.as_str()
    );
    let down = active.iter().find(|t| t["scrapePool"] == "dead").unwrap();
    assert_eq!(down["health"], "down");
    assert_ne!(down["lastError"], "");
    let dropped = targets["data"]["droppedTargets"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{targets}");
    assert_eq!(
        dropped[0]["discoveredLabels"]["__address__"],
        "skip.invalid:1"
    );
    let bad = client()
        .get(server.url("/api/v1/targets?state=sleeping"))
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    // The counter disappears from the exposition: its stale marker ends it
    // in instant queries at once, while the gauge stays.
    *exposition.body.lock().unwrap() = "demo_gauge 8\n".to_owned();
    let gone = poll_until(deadline, || {
        query(&server, "demo_requests_total")
            .is_empty()
            .then_some(())
    });
    assert!(gone.is_some(), "demo_requests_total never went stale");
    let gauge = query(&server, "demo_gauge");
    assert_eq!(gauge.len(), 1);
    assert_eq!(value(&gauge[0]), 8.0);
}

fn config_with_jobs(jobs: &str) -> String {
    format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{jobs}")
}

fn up_jobs(server: &Server) -> Vec<String> {
    let mut jobs: Vec<String> = query(server, "up")
        .iter()
        .map(|s| s["metric"]["job"].as_str().unwrap_or("").to_owned())
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn reload_by_post_and_sighup_swaps_jobs_and_refuses_bad_files() {
    let exposition = ExpositionServer::start("m 1\n");
    let job = |name: &str| {
        format!(
            "  - job_name: {name}\n    static_configs: [{{targets: ['{}']}}]\n",
            exposition.address
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(&config, config_with_jobs(&job("first"))).unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let deadline = Duration::from_secs(30);
    assert!(poll_until(deadline, || (up_jobs(&server) == ["first"]).then_some(())).is_some());

    // An invalid file is refused and the running jobs stay.
    std::fs::write(
        &config,
        config_with_jobs("  - job_name: x\n    scheme: gopher\n"),
    )
    .unwrap();
    let refused = client().post(server.url("/-/reload")).send().unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().unwrap().contains("gopher"));

    std::fs::write(&config, config_with_jobs(&job("second"))).unwrap();
    let accepted = client().post(server.url("/-/reload")).send().unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
    // The removed job's series are marked stale: only the new job is up.
    let swapped = poll_until(deadline, || (up_jobs(&server) == ["second"]).then_some(()));
    assert!(swapped.is_some(), "{:?}", up_jobs(&server));

    std::fs::write(&config, config_with_jobs(&job("third"))).unwrap();
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    let sent = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(sent, 0);
    let swapped = poll_until(deadline, || (up_jobs(&server) == ["third"]).then_some(()));
    assert!(
        swapped.is_some(),
        "{:?}\n{}",
        up_jobs(&server),
        server.log()
    );
}

/// Kills the child when dropped, so a failing test leaves nothing behind.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's node_exporter on PATH, or `None` after a SKIPPED line; a panic
/// instead when `AGENTMON_REQUIRE_PEERS=1`.
fn node_exporter_or_skip() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .flat_map(|dir| {
            [
                dir.join("prometheus-node-exporter"),
                dir.join("node_exporter"),
            ]
        })
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("node_exporter is not installed and AGENTMON_REQUIRE_PEERS=1 (apt-get install prometheus-node-exporter)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: node_exporter not installed (apt-get install prometheus-node-exporter)"
        );
    }
    found
}

#[test]
fn real_node_exporter_is_scraped() {
    let Some(binary) = node_exporter_or_skip() else {
        return;
    };
    let address = format!("127.0.0.1:{}", free_port());
    let exporter = std::process::Command::new(binary)
        .arg(format!("--web.listen-address={address}"))
        .args([
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.time",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start node_exporter");
    let _exporter = ChildGuard(exporter);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        config_with_jobs(&format!(
            "  - job_name: node\n    static_configs: [{{targets: ['{address}']}}]\n"
        )),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let up = poll_until(Duration::from_secs(30), || {
        let up = query(&server, "up{job=\"node\"}");
        up.first().filter(|s| value(s) == 1.0).cloned()
    });
    assert!(
        up.is_some(),
        "node_exporter never up: {:?}",
        query(&server, "up")
    );
    let load = query(&server, "node_load1");
    assert_eq!(load.len(), 1, "{load:?}");
    assert_eq!(load[0]["metric"]["instance"], address.as_str());
    let build = query(&server, "node_exporter_build_info");
    assert_eq!(build.len(), 1, "{build:?}");
    let scraped = query(&server, "scrape_samples_scraped{job=\"node\"}");
    assert!(value(&scraped[0]) > 3.0, "{scraped:?}");
}
