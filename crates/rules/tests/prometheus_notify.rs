//! What alerts are sent, against a real Prometheus 2.42 posting to a fake
//! Alertmanager (resend delay 1s, interval 1s): an alert that fires, is
//! resent, resolves and is resent as resolved. Every alert Prometheus posts
//! (`startsAt`, `endsAt`, `generatorURL`) must be one this crate's
//! evaluator sends for the same rule at the same evaluation times: firing
//! sends valid for `4 × max(resend_delay, interval)`, resent strictly after
//! the delay (every other evaluation here), `startsAt` when it fired, the
//! resolution with `endsAt` at the evaluation that resolved it. Prometheus
//! drops what it sends before it has discovered the Alertmanager, so its
//! first sends may be missing; the comparison is one of inclusion.
//!
//! Skipped when `prometheus` is not installed, unless
//! `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use agentmon_model::{calendar, Alert};
use agentmon_promql::Engine;
use agentmon_rules::{
    now_ms, parse_rule_file, EngineQueryFunc, GoTemplateExpander, Group, MemoryStore, RuleContext,
};
use common::{peer_or_skip, Peer};
use parking_lot::Mutex;
use serde_json::Value;

const EXTERNAL_URL: &str = "http://agentmon.example:9090";

/// A fake Alertmanager: answers every request 200 and hands on the bodies
/// of `POST /api/v2/alerts`.
fn fake_alertmanager() -> (u16, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if request_line.starts_with("POST /api/v2/alerts") {
                if let Ok(json) = serde_json::from_slice(&body) {
                    if sender.send(json).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (port, receiver)
}

fn ms(value: &Value) -> i64 {
    calendar::parse_rfc3339_ms(value.as_str().unwrap()).unwrap()
}

#[test]
fn sent_alerts_have_prometheus_times_and_urls() {
    let Some(binary) = peer_or_skip("prometheus") else {
        return;
    };
    // Fires from the first evaluation, resolves about twelve seconds later
    // (after the notifier's first discovery of the Alertmanager, which takes
    // about five seconds and holds alerts back until then).
    // The threshold is taken modulo 100,000 s: Prometheus prints number
    // literals of a million and more in exponent form, the parser used
    // here does not (see docs/rules.md), and the expression is part of
    // the generator URL compared below.
    if (now_ms() / 1000 + 12) % 100_000 < 40 {
        std::thread::sleep(Duration::from_secs(41));
    }
    let until = now_ms() / 1000 + 12;
    let threshold = until % 100_000;
    let rules = format!(
        "groups:\n  - name: notify\n    interval: 1s\n    rules:\n      - alert: Brief\n        expr: 'sum(vector(time() % 100000))<{threshold}'\n        labels: {{severity: page}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), &rules).unwrap();
    let (am_port, bodies) = fake_alertmanager();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _peer = Peer(
        Command::new(binary)
            .current_dir(dir.path())
            .arg("--config.file=prometheus.yml")
            .arg("--storage.tsdb.path=data")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url={EXTERNAL_URL}"))
            .arg("--rules.alert.resend-delay=1s")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );

    // Everything sent until eight seconds after the alert resolved; by then
    // the latest sends repeat the resolution (resent every second).
    let mut received = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while now_ms() < until * 1000 + 8_000 && std::time::Instant::now() < deadline {
        if let Ok(body) = bodies.recv_timeout(Duration::from_secs(1)) {
            received.extend(body.as_array().cloned().unwrap_or_default());
        }
    }
    let log_text = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert!(
        received.len() >= 3,
        "too few sends: {received:?}\n{log_text}"
    );
    // Sends made before Prometheus discovered the Alertmanager are dropped,
    // so the first ones may be missing; the rest must be exactly what this
    // crate sends for the same rule at the same evaluation times.
    let fired_at = ms(&received[0]["startsAt"]);
    let resolved_at = ms(&received.last().unwrap()["endsAt"]);
    assert!(
        resolved_at >= until * 1000 && resolved_at < until * 1000 + 1000,
        "resolved at the first evaluation after {until}: {received:?}"
    );

    let store = Arc::new(MemoryStore::new());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sink = sent.clone();
    let mut ctx = RuleContext::new(
        Arc::new(EngineQueryFunc::new(Engine::default(), store.clone())),
        store,
        Arc::new(move |alerts: &[Alert]| sink.lock().extend_from_slice(alerts)),
    );
    ctx.external_url = EXTERNAL_URL.to_owned();
    ctx.resend_delay = Duration::from_secs(1);
    let definition = parse_rule_file("rules.yml", &rules, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let mut group = Group::new(definition, &ctx, false);
    let mut ts = fired_at;
    while ts <= resolved_at + 10_000 {
        group.eval(&ctx, ts);
        ts += 1000;
    }
    let ours: Vec<(i64, i64, String)> = sent
        .lock()
        .iter()
        .map(|a| {
            (
                a.starts_at_ms,
                a.ends_at_ms.unwrap(),
                a.generator_url.clone(),
            )
        })
        .collect();
    let mut firing_sends = 0;
    for alert in &received {
        assert_eq!(alert["labels"]["alertname"], "Brief");
        assert_eq!(alert["labels"]["severity"], "page");
        let theirs = (
            ms(&alert["startsAt"]),
            ms(&alert["endsAt"]),
            alert["generatorURL"].as_str().unwrap().to_owned(),
        );
        assert!(
            ours.contains(&theirs),
            "Prometheus sent {theirs:?}; this crate sends {ours:?}"
        );
        if theirs.1 != resolved_at {
            firing_sends += 1;
            // Valid for 4 × max(resend 1s, interval 1s) after its send,
            // which was an evaluation at least 2 s after the last (resent
            // strictly after the delay).
            assert_eq!((theirs.1 - theirs.0) % 2000, 0, "{theirs:?}");
        }
    }
    assert!(firing_sends >= 1, "{received:?}");
}
