//! End to end over loopback: `file_sd_configs` targets follow their file
//! (written, changed, broken, removed) in `/api/v1/targets` and `up`
//! without a reload; HTTPS scraping with a CA and server certificate made
//! in the test (`server_name`, a wrong CA fails with `up 0`);
//! `basic_auth.password_file` read at each scrape; `body_size_limit`; the
//! rendered `scrape_configs` at `/api/v1/status/config`; and a
//! differential run against a real Prometheus (Debian's 2.42) reading the
//! same `file_sd_configs` file and scraping the same target: the same
//! target labels, discovered labels and scraped series (skipped when
//! `prometheus` is not installed, unless `AGENTMON_REQUIRE_PEERS=1`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::{client, metric_value, metrics};
use common::prometheus::{labels_of, prometheus_data, prometheus_or_skip, start_prometheus};
use common::server::free_port;
use common::server::{poll_until, Server};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(30);

/// Answers one request: the request's header lines in, status and body out.
type Handler = dyn Fn(&[String]) -> (u16, String) + Send + Sync;

/// A one-thread HTTP/1.1 exposition server, TLS or plain, on loopback;
/// stops when dropped.
struct TestServer {
    address: String,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
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
                match &tls {
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        answer(rustls::StreamOwned::new(connection, stream), &*handler);
                    }
                    None => answer(stream, &*handler),
                }
            }
        });
        TestServer { address, stop }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer<S: Read + Write>(stream: S, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        headers.push(line.trim_end().to_owned());
        line.clear();
    }
    if headers.is_empty() {
        return;
    }
    let (status, body) = handler(&headers);
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain; version=0.0.4\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = reader.get_mut().write_all(reply.as_bytes());
    let _ = reader.get_mut().flush();
}

fn plain(body: &str) -> TestServer {
    let body = body.to_owned();
    TestServer::start(None, Arc::new(move |_: &[String]| (200, body.clone())))
}

fn get_json(server: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let reply = client()
        .get(server.url(path))
        .query(query)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["status"], "success", "{reply}");
    reply["data"].clone()
}

fn active_targets(server: &Server, pool: &str) -> Vec<Value> {
    get_json(
        server,
        "/api/v1/targets",
        &[("state", "active"), ("scrapePool", pool)],
    )["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `up` of each instance of `job`, from an instant query.
fn up_by_instance(server: &Server, job: &str) -> Vec<(String, f64)> {
    let data = get_json(
        server,
        "/api/v1/query",
        &[("query", &format!("up{{job=\"{job}\"}}"))],
    );
    let mut out: Vec<(String, f64)> = data["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                s["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The target of `pool` at `instance` once its health is `health`.
fn wait_health(server: &Server, pool: &str, instance: &str, health: &str) -> Value {
    poll_until(DEADLINE, || {
        active_targets(server, pool)
            .into_iter()
            .find(|t| t["labels"]["instance"] == instance && t["health"] == health)
    })
    .unwrap_or_else(|| {
        panic!(
            "{pool}/{instance} never became {health}: {:?}\n{}",
            active_targets(server, pool),
            server.log()
        )
    })
}

fn instances(server: &Server, pool: &str) -> Vec<String> {
    let mut out: Vec<String> = active_targets(server, pool)
        .iter()
        .map(|t| t["labels"]["instance"].as_str().unwrap_or("").to_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn file_sd_targets_follow_their_file_without_a_reload() {
    let a = plain("demo 1\n");
    let b = plain("demo 2\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sd")).unwrap();
    let sd_file = dir.path().join("sd").join("targets.json");
    std::fs::write(
        &sd_file,
        format!(
            r#"[{{"targets": ["{}"], "labels": {{"team": "x"}}}}]"#,
            a.address
        ),
    )
    .unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: files\n    file_sd_configs:\n      - files: ['sd/*.json', 'sd/*.yml']\n",
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );

    // Written: the target is there with the file's labels.
    let target = wait_health(&server, "files", &a.address, "up");
    assert_eq!(target["labels"]["team"], "x");
    assert_eq!(target["labels"]["job"], "files");
    let filepath = target["discoveredLabels"]["__meta_filepath"]
        .as_str()
        .unwrap();
    assert!(filepath.ends_with("targets.json"), "{filepath}");
    assert!(
        target["labels"].get("__meta_filepath").is_none(),
        "meta labels are not target labels"
    );

    // Changed: a second target appears, and a YAML file adds a third group.
    write_atomically(
        &sd_file,
        &format!(
            r#"[{{"targets": ["{}"], "labels": {{"team": "x"}}}}, {{"targets": ["{}"]}}]"#,
            a.address, b.address
        ),
    );
    wait_health(&server, "files", &b.address, "up");
    let mut both = vec![a.address.clone(), b.address.clone()];
    both.sort();
    poll_until(DEADLINE, || {
        (up_by_instance(&server, "files").len() == 2).then_some(())
    })
    .expect("up for both targets");

    // Broken: the last good targets stay, the failure is counted.
    let errors_before = metric_value(
        &metrics(&client(), &server),
        "agentmon_sd_file_read_errors_total",
    )
    .expect("the read-error counter is exposed");
    write_atomically(&sd_file, "[{\"targets\": [");
    poll_until(DEADLINE, || {
        let page = metrics(&client(), &server);
        (metric_value(&page, "agentmon_sd_file_read_errors_total")? > errors_before).then_some(())
    })
    .expect("the broken file is counted");
    assert_eq!(instances(&server, "files"), both);

    // Removed: its targets go, and their `up` goes stale.
    std::fs::remove_file(&sd_file).unwrap();
    poll_until(DEADLINE, || {
        instances(&server, "files").is_empty().then_some(())
    })
    .expect("targets of a removed file disappear");
    poll_until(DEADLINE, || {
        up_by_instance(&server, "files").is_empty().then_some(())
    })
    .expect("up of removed targets is marked stale");

    // A YAML file brings a target back, still without a reload.
    write_atomically(
        &dir.path().join("sd").join("more.yml"),
        &format!("- targets: ['{}']\n  labels: {{team: y}}\n", b.address),
    );
    let target = wait_health(&server, "files", &b.address, "up");
    assert_eq!(target["labels"]["team"], "y");
}

/// Writes through a temporary file (not matched by the globs) and a
/// rename, so that discovery never sees a half-written file.
fn write_atomically(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A CA and a server certificate for `scrape.test` signed by it, as PEM,
/// plus the server's rustls config.
struct Pki {
    ca_pem: String,
    server_config: Arc<rustls::ServerConfig>,
}

fn make_pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "agentmon test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["scrape.test".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    }
}

#[test]
fn https_password_file_and_body_size_limit() {
    let pki = make_pki();
    let other_ca = make_pki().ca_pem;
    let expected = format!("Authorization: Basic {}", base64(b"scraper:s3cret"));
    let seen_headers: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = seen_headers.clone();
    let secure = TestServer::start(
        Some(pki.server_config.clone()),
        Arc::new(move |headers: &[String]| {
            *seen.lock().unwrap() = headers.to_vec();
            if headers.iter().any(|h| h.eq_ignore_ascii_case(&expected)) {
                (200, "secure_metric 42\n".to_owned())
            } else {
                (401, "unauthorized\n".to_owned())
            }
        }),
    );
    let big = plain(&format!("big_metric{{pad=\"{}\"}} 1\n", "x".repeat(400)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("other-ca.pem"), &other_ca).unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: secure\n    scheme: https\n\
             \x20   tls_config: {{ca_file: ca.pem, server_name: scrape.test}}\n\
             \x20   basic_auth: {{username: scraper, password_file: password}}\n\
             \x20   static_configs: [{{targets: ['{secure}']}}]\n\
             \x20 - job_name: wrong_ca\n    scheme: https\n\
             \x20   tls_config: {{ca_file: other-ca.pem, server_name: scrape.test}}\n\
             \x20   basic_auth: {{username: scraper, password_file: password}}\n\
             \x20   static_configs: [{{targets: ['{secure}']}}]\n\
             \x20 - job_name: limited\n    body_size_limit: 100B\n\
             \x20   static_configs: [{{targets: ['{big}']}}]\n\
             \x20 - job_name: unlimited\n    body_size_limit: 1KB\n\
             \x20   static_configs: [{{targets: ['{big}']}}]\n",
            secure = secure.address,
            big = big.address,
        ),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );

    let target = wait_health(&server, "secure", &secure.address, "up");
    assert_eq!(
        target["scrapeUrl"],
        format!("https://{}/metrics", secure.address)
    );
    assert_eq!(
        up_by_instance(&server, "secure"),
        [(secure.address.clone(), 1.0)]
    );
    let value = get_json(&server, "/api/v1/query", &[("query", "secure_metric")]);
    assert_eq!(value["result"][0]["value"][1], "42", "{value}");
    let headers = seen_headers.lock().unwrap().clone();
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("accept-encoding: gzip")),
        "{headers:?}"
    );

    let wrong = wait_health(&server, "wrong_ca", &secure.address, "down");
    let error = wrong["lastError"].as_str().unwrap();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert_eq!(
        up_by_instance(&server, "wrong_ca"),
        [(secure.address.clone(), 0.0)]
    );

    // The password file is read at each scrape: a wrong one gives 401, a
    // missing one a clear error, the right one up again.
    std::fs::write(&password, "wrong").unwrap();
    let down = wait_health(&server, "secure", &secure.address, "down");
    assert!(
        down["lastError"].as_str().unwrap().contains("401"),
        "{down}"
    );
    std::fs::remove_file(&password).unwrap();
    let missing = poll_until(DEADLINE, || {
        active_targets(&server, "secure").into_iter().find(|t| {
            t["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("unable to read credentials file"))
        })
    })
    .expect("a missing password file is reported");
    assert!(missing["lastError"].as_str().unwrap().contains("password"));
    std::fs::write(&password, "s3cret").unwrap();
    wait_health(&server, "secure", &secure.address, "up");

    let limited = wait_health(&server, "limited", &big.address, "down");
    assert_eq!(limited["lastError"], "body size limit exceeded");
    wait_health(&server, "unlimited", &big.address, "up");

    // The status endpoint renders the jobs with secrets hidden.
    let yaml = get_json(&server, "/api/v1/status/config", &[])["yaml"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(yaml.contains("scrape_configs:"), "{yaml}");
    assert!(yaml.contains("password_file: password"), "{yaml}");
    assert!(yaml.contains("body_size_limit: 100B"), "{yaml}");
    assert!(yaml.contains("server_name: scrape.test"), "{yaml}");
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The label sets of the latest samples of `job` in an instant query
/// answer's `result`.
fn label_sets(result: &Value) -> BTreeSet<BTreeMap<String, String>> {
    result
        .as_array()
        .map(|series| series.iter().map(|s| labels_of(&s["metric"])).collect())
        .unwrap_or_default()
}

#[test]
fn file_sd_targets_and_series_match_prometheus() {
    let Some(prometheus) = prometheus_or_skip() else {
        return;
    };
    let exposition = plain(
        "# TYPE demo_total counter\ndemo_total{path=\"/a\"} 3\ndemo_gauge{instance=\"inner\"} 1.5\n",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sd")).unwrap();
    write_atomically(
        &dir.path().join("sd").join("targets.json"),
        &format!(
            r#"[{{"targets": ["{}"], "labels": {{"team": "x"}}}}, {{"targets": ["drop.invalid:1"]}}]"#,
            exposition.address
        ),
    );
    // Prometheus 2.42's keys only, so both read the same text.
    let config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: files\n    file_sd_configs:\n      - files: ['sd/*.json']\n\
         \x20   relabel_configs:\n\
         \x20     - {source_labels: [__address__], regex: 'drop.*', action: drop}\n\
         \x20     - {source_labels: [__meta_filepath], regex: '.*/(.*)[.]json', target_label: sd_file}\n";
    std::fs::write(dir.path().join("agentmon.yml"), config).unwrap();
    let server = Server::start_with(
        // Prometheus keeps its data in `data`.
        &dir.path().join("agentmon-data"),
        &[
            "--config",
            dir.path().join("agentmon.yml").to_str().unwrap(),
        ],
    );
    let mut peer = start_prometheus(&prometheus, dir.path(), free_port(), config, &[]);
    let http = client();
    let peer_targets = poll_until(Duration::from_secs(60), || {
        if peer.has_exited() {
            panic!("prometheus exited:\n{}", peer.log());
        }
        let data = prometheus_data(&http, &peer.url("/api/v1/targets"), &[])?;
        let active = data["activeTargets"].as_array()?.clone();
        (active.len() == 1 && active[0]["health"] == "up").then_some(data)
    })
    .unwrap_or_else(|| panic!("prometheus never scraped the target:\n{}", peer.log()));
    let ours = get_json(&server, "/api/v1/targets", &[]);
    wait_health(&server, "files", &exposition.address, "up");
    let ours_active = &ours["activeTargets"];
    let theirs_active = &peer_targets["activeTargets"];
    assert_eq!(
        labels_of(&ours_active[0]["labels"]),
        labels_of(&theirs_active[0]["labels"]),
        "target labels"
    );
    assert_eq!(
        labels_of(&ours_active[0]["discoveredLabels"]),
        labels_of(&theirs_active[0]["discoveredLabels"]),
        "discovered labels"
    );
    assert_eq!(ours_active[0]["scrapeUrl"], theirs_active[0]["scrapeUrl"]);
    let count = |data: &Value| data["droppedTargets"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&ours), count(&peer_targets), "dropped targets");

    // The same series, once both have scraped twice (scrape_series_added
    // settles).
    let query = [("query", "{job=\"files\"}".to_owned())];
    let matched = poll_until(DEADLINE, || {
        let theirs = prometheus_data(&http, &peer.url("/api/v1/query"), &query)?;
        let ours = get_json(&server, "/api/v1/query", &[("query", "{job=\"files\"}")]);
        let (theirs, ours) = (label_sets(&theirs["result"]), label_sets(&ours["result"]));
        (!ours.is_empty() && ours == theirs).then_some(ours)
    });
    let Some(series) = matched else {
        let theirs = prometheus_data(&http, &peer.url("/api/v1/query"), &query);
        let ours = get_json(&server, "/api/v1/query", &[("query", "{job=\"files\"}")]);
        panic!("series differ:\nagentmon: {ours}\nprometheus: {theirs:?}");
    };
    let names: BTreeSet<&str> = series
        .iter()
        .filter_map(|l| l.get("__name__"))
        .map(String::as_str)
        .collect();
    assert!(
        names.contains("demo_total") && names.contains("up"),
        "{names:?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.get("exported_instance").map(String::as_str) == Some("inner")),
        "{series:?}"
    );
}
