//! `for` state restored after a restart, against a real Prometheus 2.42.
//!
//! Prometheus runs an alert with `for: 30s` (grace period 2s) until it has
//! been pending for a few seconds, is stopped, stays down for a few seconds
//! and is started again on the same data. Once it has restored the alert
//! (its `ALERTS_FOR_STATE` series reappears), its `activeAt` is compared
//! with what this crate's [`Group::restore_for_state`] computes from the
//! same `ALERTS_FOR_STATE` samples (read from Prometheus). Prometheus
//! restores at a moment between its restart and our observation that we
//! cannot see exactly, so ours is computed at both ends and Prometheus's must
//! fall between them (±1 s for the whole seconds of `ALERTS_FOR_STATE`). A
//! restore that forgot the outage, or took the grace-period branch, would be
//! many seconds outside.
//!
//! The times of those samples also show that Prometheus evaluated the
//! group at the times [`Group::eval_timestamp`] computes (its hash-based
//! phase).
//!
//! Skipped when `prometheus` is not installed, unless
//! `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agentmon_model::{calendar, Alert, Labels, Sample};
use agentmon_promql::Engine;
use agentmon_rules::{
    now_ms, parse_rule_file, EngineQueryFunc, GoTemplateExpander, Group, MemoryStore, Rule,
    RuleContext,
};
use common::{peer_or_skip, Peer};
use serde_json::Value;

const RULES: &str = "groups:\n  - name: restore\n    interval: 1s\n    rules:\n      - alert: Slow\n        expr: vector(1)\n        for: 30s\n";

impl Peer {
    fn start(binary: &Path, dir: &Path, port: u16) -> Peer {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("prometheus.log"))
            .unwrap();
        Peer(
            Command::new(binary)
                .current_dir(dir)
                .arg("--config.file=prometheus.yml")
                .arg("--storage.tsdb.path=data")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--rules.alert.for-grace-period=2s")
                .arg("--rules.alert.for-outage-tolerance=1h")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap(),
        )
    }

    /// Stops the process gracefully (SIGTERM), so its WAL is complete.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not stop within 10 s");
    }
}

fn get(http: &reqwest::blocking::Client, url: &str, query: &[(&str, &str)]) -> Option<Value> {
    let response = http.get(url).query(query).send().ok()?;
    let json: Value = serde_json::from_str(&response.text().ok()?).ok()?;
    (json["status"] == "success").then(|| json["data"].clone())
}

/// Polls `check` every 100 ms for up to 30 s.
fn wait_for<T>(what: &str, dir: &Path, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(found) = check() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    panic!("timed out waiting for {what}\n{log}");
}

fn active_at_ms(alerts: &Value) -> Option<i64> {
    let text = alerts["alerts"].as_array()?.first()?["activeAt"].as_str()?;
    calendar::parse_rfc3339_ms(text)
}

/// This crate's restored `activeAt` from `samples` if restoring at `now`.
fn ours(samples: &[Sample], labels: &Labels, now: i64) -> i64 {
    let store = Arc::new(MemoryStore::new());
    for sample in samples {
        store.add(labels.clone(), *sample).unwrap();
    }
    let mut ctx = RuleContext::new(
        Arc::new(EngineQueryFunc::new(Engine::default(), store.clone())),
        store.clone(),
        Arc::new(|_: &[Alert]| {}),
    );
    ctx.series = Some(store);
    ctx.for_grace_period = Duration::from_secs(2);
    let definition = parse_rule_file("rules.yml", RULES, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let mut group = Group::new(definition, &ctx, true);
    group.eval(&ctx, now - 1000);
    group.eval(&ctx, now);
    group.restore_for_state(&ctx, now);
    let Rule::Alerting(rule) = &group.rules[0].rule else {
        unreachable!()
    };
    let active_at = rule.active_alerts().next().unwrap().active_at_ms;
    active_at
}

#[test]
fn restored_for_state_matches_prometheus() {
    let Some(binary) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let alerts_url = format!("{base}/api/v1/alerts");

    // Run 1: pending for about five seconds, then down.
    let peer = Peer::start(&binary, dir, port);
    let first_active = wait_for("the alert to be pending", dir, || {
        get(&http, &alerts_url, &[]).and_then(|a| active_at_ms(&a))
    });
    wait_for("five seconds of pending", dir, || {
        (now_ms() - first_active > 5_000).then_some(())
    });
    peer.stop();
    std::thread::sleep(Duration::from_secs(4));

    // Run 2: restart, wait for the restored alert.
    let restarted = now_ms();
    let peer = Peer::start(&binary, dir, port);
    let query_url = format!("{base}/api/v1/query");
    wait_for("ALERTS_FOR_STATE after the restart", dir, || {
        let data = get(
            &http,
            &query_url,
            &[("query", "timestamp(ALERTS_FOR_STATE)")],
        )?;
        let written = data["result"][0]["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()?;
        ((written * 1000.0) as i64 > restarted).then_some(())
    });
    let observed = now_ms();
    let theirs = active_at_ms(&get(&http, &alerts_url, &[]).unwrap()).unwrap();

    // The samples Prometheus wrote before the outage.
    let at = format!("{}", (restarted as f64) / 1000.0);
    let data = get(
        &http,
        &query_url,
        &[("query", "ALERTS_FOR_STATE[10m]"), ("time", &at)],
    )
    .unwrap();
    drop(peer);
    let series = &data["result"][0];
    let labels = Labels::new(
        series["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
    )
    .unwrap();
    let samples: Vec<Sample> = series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let t = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
            let v: f64 = pair[1].as_str().unwrap().parse().unwrap();
            Sample::new(t, v)
        })
        .collect();
    assert!(samples.len() >= 4, "{samples:?}");
    assert!(samples.iter().all(|s| s.v == (first_active / 1000) as f64));

    // Prometheus evaluated at the times this crate aligns the group to
    // (offset by the hash of file "rules.yml" and name "restore").
    let definition = parse_rule_file("rules.yml", RULES, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let store = Arc::new(MemoryStore::new());
    let ctx = RuleContext::new(
        Arc::new(EngineQueryFunc::new(Engine::default(), store.clone())),
        store,
        Arc::new(|_: &[Alert]| {}),
    );
    let group = Group::new(definition, &ctx, false);
    for sample in &samples {
        // The phase is in nanoseconds and sample times are truncated to
        // milliseconds, so the evaluation lies within (t, t + 1ms).
        assert_eq!(group.eval_timestamp(sample.t + 1), sample.t, "{samples:?}");
        assert_eq!(
            group.eval_timestamp(sample.t + 999),
            sample.t,
            "phase of {}",
            sample.t
        );
    }

    let low = ours(&samples, &labels, restarted);

    let high = ours(&samples, &labels, observed);
    assert!(
        low - 1000 <= theirs && theirs <= high + 1000,
        "Prometheus restored activeAt {theirs}, ours between {low} and {high} \
         (first active {first_active}, restarted {restarted}, observed {observed})"
    );
    let _ = writeln!(
        std::io::stderr(),
        "restored activeAt: Prometheus {theirs}, ours {low}..={high} (window {} ms)",
        high - low
    );
    assert!(
        theirs > first_active + 3_000,
        "the outage moved activeAt later"
    );
}
