//! The notification pipeline end to end, through the real binary: an
//! `alertmanager:` section routes to a webhook receiver the test runs on
//! loopback.
//!
//! - Alerts posted to `/api/v2/alerts` reach the webhook after
//!   `group_wait`; after a restart the same alert is not notified again
//!   and silences are still there; a broken `alertmanager:` section is
//!   refused by `POST /-/reload`, which keeps the running one.
//! - Debian's amtool 0.25 lists alerts and adds, queries and expires
//!   silences against agentmon.
//! - Prometheus 2.42 with agentmon as its Alertmanager: a rule that fires
//!   at once reaches the webhook through agentmon.
//!
//! amtool and Prometheus tests print `SKIPPED` when the program is not
//! installed, and fail instead when `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::http::client;
use common::prometheus::{peer_or_skip, prometheus_or_skip, start_prometheus};
use common::receiver::Receiver;
use common::server::{free_port, poll_until, Server};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);

/// A webhook receiver keeping every payload.
struct Webhook {
    receiver: Receiver,
}

impl Webhook {
    fn start() -> Webhook {
        // The token stands for the credentials such URLs carry.
        Webhook {
            receiver: Receiver::start(200, 0, "e2e-s3cret"),
        }
    }

    fn payloads(&self) -> Vec<Value> {
        self.receiver
            .received()
            .into_iter()
            .map(|r| r.body)
            .collect()
    }

    /// Waits for the first payload whose alerts include `alertname`.
    fn wait_for(&self, alertname: &str) -> Value {
        poll_until(DEADLINE, || {
            self.payloads()
                .into_iter()
                .find(|p| p["alerts"][0]["labels"]["alertname"] == alertname)
        })
        .unwrap_or_else(|| panic!("no webhook payload for {alertname}: {:?}", self.payloads()))
    }
}

fn config_text(hook_url: &str, extra_receiver: &str) -> String {
    format!(
        "alertmanager:\n  route:\n    receiver: hook\n    group_by: [alertname]\n    group_wait: 1s\n    \
         group_interval: 1s\n    repeat_interval: 1h\n  receivers:\n    - name: hook\n      \
         webhook_configs: [{{url: '{hook_url}'}}]\n{extra_receiver}"
    )
}

fn start(dir: &Path, config: &Path) -> Server {
    Server::start_with(
        &dir.join("data"),
        &["--config", config.to_str().expect("utf-8")],
    )
}

/// A webhook receiver, a config file routing every alert to it, and
/// agentmon running with that file.
struct Setup {
    webhook: Webhook,
    dir: tempfile::TempDir,
    config: PathBuf,
    server: Server,
}

fn setup() -> Setup {
    let webhook = Webhook::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("agentmon.yml");
    std::fs::write(&config, config_text(&webhook.receiver.url, "")).expect("write config");
    let server = start(dir.path(), &config);
    Setup {
        webhook,
        dir,
        config,
        server,
    }
}

fn post_json(server: &Server, path: &str, body: &Value) -> (u16, String) {
    let response = client()
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().expect("body"))
}

fn get_json(server: &Server, path: &str) -> Value {
    let response = client().get(server.url(path)).send().expect("request");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    serde_json::from_str(&response.text().expect("body")).expect("JSON")
}

#[test]
fn notifications_are_not_repeated_after_a_restart_and_silences_persist() {
    let Setup {
        webhook,
        dir,
        config,
        mut server,
    } = setup();

    let alert = json!([{
        "labels": {"alertname": "AgentDown", "instance": "a1"},
        "annotations": {"summary": "agent a1 is down"},
        "startsAt": "2026-01-01T00:00:00Z",
    }]);
    let (status, body) = post_json(&server, "/api/v2/alerts", &alert);
    assert_eq!(status, 200, "{body}");
    let payload = webhook.wait_for("AgentDown");
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["alerts"][0]["startsAt"], "2026-01-01T00:00:00Z");
    assert_eq!(
        payload["externalURL"],
        format!("http://127.0.0.1:{}", server.port())
    );

    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": false, "isEqual": true}],
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "e2e",
        "comment": "kept across restarts",
    });
    let (status, body) = post_json(&server, "/api/v2/silences", &silence);
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("JSON")["silenceID"]
        .as_str()
        .expect("id")
        .to_owned();

    // A broken section is refused and the running one stays.
    std::fs::write(
        &config,
        config_text(&webhook.receiver.url, "    - name: hook\n"),
    )
    .expect("write");
    let (status, body) = post_json(&server, "/-/reload", &json!({}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("notification config name \\\"hook\\\" is not unique"),
        "{body}"
    );
    assert_eq!(
        get_json(&server, "/api/v2/receivers"),
        json!([{"name": "hook"}])
    );
    std::fs::write(
        &config,
        config_text(&webhook.receiver.url, "    - name: second\n"),
    )
    .expect("write");
    let (status, body) = post_json(&server, "/-/reload", &json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        get_json(&server, "/api/v2/receivers"),
        json!([{"name": "hook"}, {"name": "second"}])
    );
    // SIGHUP reloads the section too.
    std::fs::write(
        &config,
        config_text(&webhook.receiver.url, "    - name: third\n"),
    )
    .expect("write");
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    let sent = unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(sent, 0);
    let reloaded = poll_until(DEADLINE, || {
        let names = get_json(&server, "/api/v2/receivers");
        (names == json!([{"name": "hook"}, {"name": "third"}])).then_some(())
    });
    assert!(reloaded.is_some(), "{}", server.log());

    let log = poll_until(DEADLINE, || {
        let log = get_json(&server, "/api/v1/monitor/notifications?status=sent");
        (!log["data"]["deliveries"].as_array()?.is_empty()).then_some(log)
    })
    .expect("delivery logged as sent");
    assert_eq!(log["data"]["deliveries"][0]["receiver"], "hook");

    let exit = server.terminate(DEADLINE);
    assert!(exit.success(), "{exit:?}\n{}", server.log());
    assert_eq!(webhook.payloads().len(), 1);

    // Restarted: Prometheus would send the same alert again.
    let server = start(dir.path(), &config);
    let (status, body) = post_json(&server, "/api/v2/alerts", &alert);
    assert_eq!(status, 200, "{body}");
    // Past group_wait and group_interval: the alert is in a group that
    // was flushed, and nothing was sent again.
    let flushed = poll_until(DEADLINE, || {
        let groups = get_json(&server, "/api/v2/alerts/groups");
        (groups.as_array()?.len() == 1).then_some(())
    });
    assert!(flushed.is_some());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        webhook.payloads().len(),
        1,
        "notified again after the restart: {:?}\n{}",
        webhook.payloads(),
        server.log()
    );
    let kept = get_json(&server, &format!("/api/v2/silence/{id}"));
    assert_eq!(kept["status"]["state"], "active");
    assert_eq!(kept["comment"], "kept across restarts");

    // A new alert still goes out after the restart.
    let other = json!([{"labels": {"alertname": "BudgetExceeded", "session": "s9"}}]);
    let (status, body) = post_json(&server, "/api/v2/alerts", &other);
    assert_eq!(status, 200, "{body}");
    webhook.wait_for("BudgetExceeded");
    assert!(!server.log().contains("e2e-s3cret"), "a secret in the log");
    let shown = client()
        .get(server.url("/api/v1/status/config"))
        .send()
        .expect("request")
        .text()
        .expect("body");
    assert!(shown.contains("alertmanager"), "{shown}");
    assert!(!shown.contains("e2e-s3cret"), "{shown}");
}

fn amtool(binary: &Path, server: &Server, args: &[&str]) -> String {
    let output = Command::new(binary)
        .arg(format!("--alertmanager.url={}", server.url("")))
        .args(args)
        .output()
        .expect("run amtool");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "amtool {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn amtool_lists_alerts_and_manages_silences() {
    let Some(binary) = peer_or_skip("amtool", "prometheus-alertmanager") else {
        return;
    };
    // `_dir` keeps the temporary directory until the test ends.
    let Setup {
        webhook,
        dir: _dir,
        server,
        ..
    } = setup();
    let alerts = json!([
        {"labels": {"alertname": "ToolLoop", "session": "s1", "severity": "warning"}},
        {"labels": {"alertname": "CostOverrun", "team": "infra"}},
    ]);
    let (status, body) = post_json(&server, "/api/v2/alerts", &alerts);
    assert_eq!(status, 200, "{body}");

    let listed: Value =
        serde_json::from_str(&amtool(&binary, &server, &["alert", "query", "-o", "json"]))
            .expect("amtool JSON");
    let mut names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["CostOverrun", "ToolLoop"]);
    let filtered = amtool(&binary, &server, &["alert", "query", "alertname=ToolLoop"]);
    assert!(filtered.contains("ToolLoop"), "{filtered}");
    assert!(!filtered.contains("CostOverrun"), "{filtered}");

    let id = amtool(
        &binary,
        &server,
        &[
            "silence",
            "add",
            "alertname=ToolLoop",
            "--comment=looping on purpose",
            "--author=e2e",
            "--duration=2h",
        ],
    )
    .trim()
    .to_owned();
    assert_eq!(id.len(), 36, "silence id {id:?}");
    let queried = amtool(&binary, &server, &["silence", "query", "-q"]);
    assert_eq!(queried.trim(), id);
    let silenced = get_json(&server, "/api/v2/alerts?silenced=false");
    assert_eq!(silenced.as_array().expect("list").len(), 1, "{silenced}");
    assert_eq!(silenced[0]["labels"]["alertname"], "CostOverrun");
    let active_only = amtool(&binary, &server, &["alert", "query", "-o", "json"]);
    assert!(!active_only.contains("ToolLoop"), "{active_only}");

    amtool(&binary, &server, &["silence", "expire", &id]);
    assert_eq!(
        amtool(&binary, &server, &["silence", "query", "-q"]).trim(),
        ""
    );
    let expired = amtool(&binary, &server, &["silence", "query", "--expired", "-q"]);
    assert_eq!(expired.trim(), id);
    assert_eq!(
        get_json(&server, &format!("/api/v2/silence/{id}"))["status"]["state"],
        "expired"
    );
    // The unsilenced alert went out meanwhile.
    assert_eq!(
        webhook.wait_for("CostOverrun")["alerts"][0]["labels"]["team"],
        "infra"
    );
}

#[test]
fn prometheus_sends_its_alerts_to_agentmon() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let Setup {
        webhook,
        dir,
        server,
        ..
    } = setup();

    let peer_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&peer_dir).expect("mkdir");
    let rules = peer_dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: e2e\n    interval: 1s\n    rules:\n      - alert: AlwaysFiring\n        \
         expr: vector(1)\n        for: 0s\n        labels: {severity: page}\n        \
         annotations: {summary: 'fires at once'}\n",
    )
    .expect("write rules");
    let prometheus_config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    \
         - api_version: v2\n      static_configs:\n        - targets: ['127.0.0.1:{}']\n",
        rules.display(),
        server.port()
    );
    // Prometheus's first send can come before its notifier knows of any
    // Alertmanager and be dropped; a short resend delay sends it again.
    let mut prometheus = start_prometheus(
        &binary,
        &peer_dir,
        free_port(),
        &prometheus_config,
        &["--rules.alert.resend-delay=1s"],
    );
    let payload = poll_until(Duration::from_secs(60), || {
        webhook
            .payloads()
            .into_iter()
            .find(|p| p["alerts"][0]["labels"]["alertname"] == "AlwaysFiring")
    });
    let Some(payload) = payload else {
        let exited = prometheus.has_exited();
        panic!(
            "no notification from Prometheus's alert (exited: {exited})\n--- prometheus ---\n{}\n--- agentmon ---\n{}",
            prometheus.log(),
            server.log()
        );
    };
    let alert = &payload["alerts"][0];
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "fires at once");
    assert_eq!(alert["status"], "firing");
    assert!(
        alert["generatorURL"]
            .as_str()
            .is_some_and(|u| u.contains("/graph?g0.expr=vector")),
        "{alert}"
    );
    let listed = get_json(&server, "/api/v2/alerts?filter=alertname%3DAlwaysFiring");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}
