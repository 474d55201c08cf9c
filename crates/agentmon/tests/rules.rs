//! End to end: `agentmon serve` with `rule_files` and a 1s
//! `global.evaluation_interval` evaluates a recording rule (its output
//! queryable through `/api/v1/query`), moves an alert with a templated
//! annotation from pending to firing in `/api/v1/alerts` and `ALERTS`,
//! reports the rule-manager metrics, and on `POST /-/reload` with a broken
//! rule file keeps the old rules and answers the error; and the
//! `agentmon rules check|test` commands with promtool's output and exit
//! codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::http::{client, metric_value, metrics, post, remote_write, TestSeries};
use common::server::{poll_until, Server};
use common::writer::now_ms;
use reqwest::blocking::Client;
use serde_json::Value;

const RULES: &str = r#"groups:
  - name: load
    rules:
      - record: job:load:sum
        expr: sum by (job) (load)
      - alert: HighLoad
        expr: load > 1000
        for: 2s
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.instance }} at {{ $value | humanize }}'
"#;

/// `data` of a successful GET, panicking with the body otherwise.
fn get_data(http: &Client, url: &str) -> Value {
    let response = http
        .get(url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(status, 200, "GET {url}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body["data"].clone()
}

fn instant_query(http: &Client, server: &Server, query: &str) -> Vec<Value> {
    let url = server.url(&format!(
        "/api/v1/query?query={}",
        query
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(' ', "%20")
            .replace('=', "%3D")
    ));
    get_data(http, &url)["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn alert_states(http: &Client, server: &Server) -> Vec<Value> {
    get_data(http, &server.url("/api/v1/alerts"))["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn rule_names(http: &Client, server: &Server) -> Vec<String> {
    let data = get_data(http, &server.url("/api/v1/rules"));
    data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    // One more annotation, from `global.external_labels`.
    let rules = format!("{RULES}          dc: '{{{{ $externalLabels.dc }}}}'\n");
    std::fs::write(dir.join("rules/load.yml"), rules).unwrap();
    let config = dir.join("agentmon.yml");
    std::fs::write(
        &config,
        "global:\n  evaluation_interval: 1s\n  external_labels: {dc: test}\nrule_files: ['rules/*.yml']\n",
    )
    .unwrap();
    config
}

#[test]
fn rules_record_alert_and_reload_in_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    let http = client();

    // The groups are loaded before the server is ready.
    assert_eq!(rule_names(&http, &server), ["job:load:sum", "HighLoad"]);

    let now = now_ms();
    let reply = remote_write(
        &http,
        &server,
        &[
            TestSeries::new(
                &[
                    ("__name__", "load"),
                    ("instance", "host-a:9100"),
                    ("job", "node"),
                ],
                &[(now, 1_234_567.0)],
            ),
            TestSeries::new(
                &[
                    ("__name__", "load"),
                    ("instance", "host-b:9100"),
                    ("job", "node"),
                ],
                &[(now, 2.0)],
            ),
        ],
    );
    assert!(reply.is_success(), "remote write: {}", reply.text);

    // The recording rule's output is stored and queryable.
    let recorded = poll_until(Duration::from_secs(15), || {
        let result = instant_query(&http, &server, "job:load:sum");
        (!result.is_empty()).then_some(result)
    })
    .unwrap_or_else(|| panic!("no job:load:sum\n{}", server.log()));
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["metric"]["job"], "node");
    assert_eq!(recorded[0]["value"][1], "1234569");

    // The alert is pending first, then firing, with its annotation expanded.
    let pending = poll_until(Duration::from_secs(15), || {
        alert_states(&http, &server)
            .into_iter()
            .find(|a| a["state"] == "pending")
    })
    .unwrap_or_else(|| panic!("HighLoad never pending\n{}", server.log()));
    assert_eq!(pending["labels"]["alertname"], "HighLoad");
    assert_eq!(pending["labels"]["instance"], "host-a:9100");
    assert_eq!(pending["labels"]["severity"], "page");
    assert_eq!(pending["annotations"]["summary"], "host-a:9100 at 1.235M");
    assert_eq!(pending["annotations"]["dc"], "test");
    let firing = poll_until(Duration::from_secs(15), || {
        alert_states(&http, &server)
            .into_iter()
            .find(|a| a["state"] == "firing")
    })
    .unwrap_or_else(|| panic!("HighLoad never firing\n{}", server.log()));
    assert_eq!(firing["annotations"]["summary"], "host-a:9100 at 1.235M");
    assert_eq!(
        alert_states(&http, &server).len(),
        1,
        "host-b is below the threshold"
    );

    let alerts_series = poll_until(Duration::from_secs(10), || {
        let result = instant_query(&http, &server, "ALERTS{alertstate=\"firing\"}");
        (!result.is_empty()).then_some(result)
    })
    .unwrap_or_else(|| panic!("no firing ALERTS series\n{}", server.log()));
    assert_eq!(alerts_series[0]["metric"]["alertname"], "HighLoad");
    assert_eq!(alerts_series[0]["metric"]["instance"], "host-a:9100");

    // Filters of /api/v1/rules.
    let data = get_data(&http, &server.url("/api/v1/rules?type=record"));
    let rules = data["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["type"], "recording");
    assert_eq!(rules[0]["health"], "ok");
    let data = get_data(
        &http,
        &server.url("/api/v1/rules?type=alert&exclude_alerts=true"),
    );
    let rule = &data["groups"][0]["rules"][0];
    assert_eq!(rule["name"], "HighLoad");
    assert_eq!(rule["state"], "firing");
    assert!(rule["alerts"].is_null(), "{rule}");
    let data = get_data(&http, &server.url("/api/v1/rules?rule_group[]=other"));
    assert_eq!(data["groups"], serde_json::json!([]));

    let page = metrics(&http, &server);
    assert!(
        metric_value(&page, "agentmon_rule_evaluations_total").unwrap_or(0.0) >= 2.0,
        "{page}"
    );
    assert_eq!(metric_value(&page, "agentmon_rule_group_rules"), Some(2.0));

    // A broken rule file: the reload answers the error, the rules stay.
    std::fs::write(
        dir.path().join("rules/load.yml"),
        "groups:\n  - name: load\n    rules:\n      - record: broken\n        expr: sum(\n",
    )
    .unwrap();
    let reply = post(&http, &server.url("/-/reload"), &[], Vec::new());
    assert_eq!(reply.status, 400, "{}", reply.text);
    let body: Value = serde_json::from_str(&reply.text).unwrap();
    assert_eq!(body["errorType"], "bad_data");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("load.yml"), "{error}");
    assert_eq!(rule_names(&http, &server), ["job:load:sum", "HighLoad"]);
    assert_eq!(alert_states(&http, &server)[0]["state"], "firing");

    // A good file again: the reload applies it.
    std::fs::write(
        dir.path().join("rules/load.yml"),
        "groups:\n  - name: load\n    rules:\n      - record: job:load:max\n        expr: max by (job) (load)\n",
    )
    .unwrap();
    let reply = post(&http, &server.url("/-/reload"), &[], Vec::new());
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body: Value = serde_json::from_str(&reply.text).unwrap();
    assert_eq!(body["data"]["ruleGroups"], 1);
    assert_eq!(rule_names(&http, &server), ["job:load:max"]);
    poll_until(Duration::from_secs(10), || {
        (!instant_query(&http, &server, "job:load:max").is_empty()).then_some(())
    })
    .unwrap_or_else(|| panic!("no job:load:max after reload\n{}", server.log()));
    assert!(alert_states(&http, &server).is_empty());

    // SIGHUP reloads the rule files too.
    std::fs::write(
        dir.path().join("rules/load.yml"),
        "groups:\n  - name: load\n    rules:\n      - record: job:load:min\n        expr: min by (job) (load)\n",
    )
    .unwrap();
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    let sent = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(sent, 0);
    poll_until(Duration::from_secs(10), || {
        (rule_names(&http, &server) == ["job:load:min"]).then_some(())
    })
    .unwrap_or_else(|| panic!("SIGHUP did not reload the rules\n{}", server.log()));
}

#[test]
fn without_rule_files_the_rules_api_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let http = client();
    let response = http.get(server.url("/api/v1/rules")).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.text().unwrap(),
        r#"{"status":"success","data":{"groups":[]}}"#
    );
    let data = get_data(&http, &server.url("/api/v1/alerts"));
    assert_eq!(data["alerts"], serde_json::json!([]));
}

#[test]
fn a_broken_rule_file_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - record: 'not a name'\n        expr: up\n",
    )
    .unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(&config, "rule_files: [bad.yml]\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agentmon"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot load the rule files"), "{stderr}");
    assert!(stderr.contains("not a name"), "{stderr}");
}

fn agentmon(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentmon"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run agentmon")
}

#[test]
fn rules_check_prints_like_promtool_and_fails_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yml"), RULES).unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {summary: '{{ $labels.x '}\n",
    )
    .unwrap();

    let output = agentmon(&["rules", "check", "good.yml"], dir.path());
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Checking good.yml\n  SUCCESS: 2 rules found\n\n"
    );
    assert!(output.stderr.is_empty());

    let output = agentmon(&["rules", "check", "good.yml", "bad.yml"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Checking good.yml\n  SUCCESS: 2 rules found\n\nChecking bad.yml\n\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("  FAILED:\nbad.yml: group \"g\", rule 1, \"A\": annotation \"summary\": template: __alert_A:1:"), "{stderr}");

    let output = agentmon(&["rules", "check", "missing.yml"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.yml"));
}

#[test]
fn rules_test_runs_promtool_unit_tests_with_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("load.yml"), RULES).unwrap();
    let test = |summary: &str| {
        format!(
            "rule_files: [load.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      \
             - series: 'load{{instance=\"a:1\", job=\"node\"}}'\n        values: '2000x10'\n    alert_rule_test:\n      \
             - eval_time: 5m\n        alertname: HighLoad\n        exp_alerts:\n          \
             - exp_labels: {{instance: 'a:1', job: node, severity: page}}\n            exp_annotations: {{summary: '{summary}'}}\n"
        )
    };
    std::fs::write(dir.path().join("pass.yml"), test("a:1 at 2k")).unwrap();
    std::fs::write(dir.path().join("fail.yml"), test("a:1 at 3k")).unwrap();

    let output = agentmon(&["rules", "test", "pass.yml"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Unit Testing:  pass.yml\n  SUCCESS\n\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success());

    let output = agentmon(&["rules", "test", "pass.yml", "fail.yml"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Unit Testing:  pass.yml\n  SUCCESS\n\nUnit Testing:  fail.yml\n\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("  FAILED:\n"), "{stderr}");
    assert!(
        stderr.contains("a:1 at 3k") && stderr.contains("a:1 at 2k"),
        "{stderr}"
    );
}
