//! `/api/v1/rules` and `/api/v1/alerts` against a real Prometheus 2.42: the
//! same rule file (recording rule with labels, firing, pending with
//! `keep_firing_for`, inactive, and a rule failing with duplicate alert
//! labels) is loaded by Prometheus and by this crate; once both have
//! evaluated, the JSON documents must be identical apart from times
//! (`activeAt`, `lastEvaluation`, `evaluationTime`), which are checked for
//! presence only. This covers field names, which fields are left out, the
//! formatted `query`, the `%e` values, states, health and error texts.
//!
//! Skipped when `prometheus` (Debian package `prometheus`) is not installed,
//! unless `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agentmon_model::Alert;
use agentmon_promql::Engine;
use agentmon_rules::api::{alert_discovery, rule_discovery, RuleFilter};
use agentmon_rules::{
    parse_rule_file, EngineQueryFunc, GoTemplateExpander, Group, MemoryStore, RuleContext,
};
use common::{peer_or_skip, Peer};
use serde_json::Value;

const RULES: &str = r#"
groups:
  - name: api
    interval: 1s
    rules:
      - record: job:one:sum
        expr: sum by(job)   (vector(1))
        labels: {source: rules}
      - record: plain
        expr: vector(3)
      - alert: Firing
        expr: vector(27)>0
        labels: {severity: page}
        annotations: {summary: always}
      - alert: Pending
        expr: label_replace(vector(0.5), "instance", "i-1", "", "")
        for: 1h
        keep_firing_for: 5m
      - alert: Never
        expr: absent(vector(1))
      - alert: Broken
        expr: label_replace(vector(1), "a", "1", "", "") or label_replace(vector(2), "a", "2", "", "")
        labels: {a: same}
"#;

/// Times replaced by markers, so documents compare apart from them; panics
/// if a time field is not a string or number where one is expected.
fn without_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match key.as_str() {
                    "activeAt" | "lastEvaluation" => {
                        assert!(field.is_string(), "{key}: {field}");
                        *field = Value::String("<time>".to_owned());
                    }
                    "evaluationTime" => {
                        assert!(field.is_number(), "{key}: {field}");
                        *field = Value::String("<seconds>".to_owned());
                    }
                    _ => without_times(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_times),
        _ => {}
    }
}

fn get(http: &reqwest::blocking::Client, url: &str) -> Option<Value> {
    let response = http.get(url).send().ok()?;
    let json: Value = serde_json::from_str(&response.text().ok()?).ok()?;
    (json["status"] == "success").then(|| json["data"].clone())
}

#[test]
fn rules_and_alerts_json_match_prometheus() {
    let Some(binary) = peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
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
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut theirs = None;
    for _ in 0..150 {
        if let Some(data) = get(&http, &format!("{base}/api/v1/rules")) {
            let rules = &data["groups"][0]["rules"];
            let evaluated = rules
                .as_array()
                .is_some_and(|r| r.iter().all(|rule| rule["health"] != "unknown"));
            if evaluated && rules[2]["state"] == "firing" {
                theirs = Some(data);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log_text = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    let mut theirs = theirs.unwrap_or_else(|| panic!("Prometheus never evaluated:\n{log_text}"));
    let mut their_alerts = get(&http, &format!("{base}/api/v1/alerts")).unwrap();

    let store = Arc::new(MemoryStore::new());
    let ctx = RuleContext::new(
        Arc::new(EngineQueryFunc::new(Engine::default(), store.clone())),
        store,
        Arc::new(|_: &[Alert]| {}),
    );
    let definition = parse_rule_file("rules.yml", RULES, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let mut group = Group::new(definition, &ctx, false);
    group.eval(&ctx, 1_700_000_000_000);
    group.eval(&ctx, 1_700_000_001_000);
    let groups = [group];
    let mut ours = serde_json::to_value(rule_discovery(&groups, &RuleFilter::default())).unwrap();
    let mut our_alerts = serde_json::to_value(alert_discovery(&groups)).unwrap();

    for doc in [&mut theirs, &mut their_alerts, &mut ours, &mut our_alerts] {
        without_times(doc);
    }
    assert_eq!(
        serde_json::to_string_pretty(&ours).unwrap(),
        serde_json::to_string_pretty(&theirs).unwrap()
    );
    assert_eq!(
        serde_json::to_string_pretty(&our_alerts).unwrap(),
        serde_json::to_string_pretty(&their_alerts).unwrap()
    );
}
