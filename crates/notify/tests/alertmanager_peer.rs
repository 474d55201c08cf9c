//! The webhook payload against a real Alertmanager 0.25 (Debian's
//! `prometheus-alertmanager`): the same two alerts are posted to it, its
//! webhook request is captured by a loopback receiver, and agentmon's
//! payload for the same group (with Alertmanager's group key and
//! fingerprints, which the routing core computes) must be the same text
//! field for field and in the same order. Skipped when Alertmanager is
//! missing, unless AGENTMON_REQUIRE_PEERS=1.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agentmon_model::{Alert, Labels};
use agentmon_notify::notification::{AlertStatus, Notification};
use agentmon_notify::receivers::gotime::format_rfc3339_ms;
use agentmon_notify::receivers::{prepare, DeliveryRequest, PlainRenderer, ReceiverConfig};
use serde_json::{json, Value};
use support::{ok, Receiver};

const BINARY: &str = "prometheus-alertmanager";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_payload_is_alertmanagers() {
    if Command::new(BINARY)
        .arg("--version")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{BINARY} is required (apt-get install prometheus-alertmanager)");
        }
        eprintln!("SKIP: {BINARY} is not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let receiver = Receiver::start(vec![], ok()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "route:
  receiver: hook
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: '{}'
    pagerduty_configs:
      - url: '{}'
        routing_key: R0UT1NG
    discord_configs:
      - webhook_url: '{}'
    slack_configs:
      - api_url: '{}'
",
        receiver.url("/hook"),
        receiver.url("/pagerduty"),
        receiver.url("/discord"),
        receiver.url("/slack"),
    );
    std::fs::write(dir.path().join("am.yml"), &config).unwrap();
    let port = free_port();
    let _alertmanager = Killed(
        Command::new(BINARY)
            .arg(format!(
                "--config.file={}",
                dir.path().join("am.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.external-url=http://agentmon.test:9093")
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{base}/-/ready")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One firing alert (its planned end an hour ahead), one resolved; odd
    // milliseconds, to compare how times are printed.
    let now = now_ms();
    let firing_start = now - 60_000 - (now % 1000) + 120;
    let resolved_start = now - 600_000 - (now % 1000);
    let resolved_end = now - 30_000 - (now % 1000) + 500;
    let alerts = json!([
        {
            "labels": {"alertname": "HighLatency", "instance": "agent-1:9100", "severity": "page"},
            "annotations": {"summary": "p95 latency above 2s", "runbook_url": "http://runbooks/latency"},
            "startsAt": format_rfc3339_ms(firing_start),
            "endsAt": format_rfc3339_ms(now + 3_600_000),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"
        },
        {
            "labels": {"alertname": "HighLatency", "instance": "agent-2:9100", "severity": "page"},
            "annotations": {"summary": "p95 latency above 2s"},
            "startsAt": format_rfc3339_ms(resolved_start),
            "endsAt": format_rfc3339_ms(resolved_end),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"
        }
    ]);
    let posted = client
        .post(format!("{base}/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .body(alerts.to_string())
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{:?}", posted.text().await);

    let deadline = Instant::now() + Duration::from_secs(30);
    let bodies = loop {
        let accepted = receiver.accepted();
        if accepted.len() >= 4 {
            break accepted;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager sent {} of 4 requests",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body_at = |path: &str| -> String {
        bodies
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no request to {path}"))
            .body
            .clone()
    };
    let theirs = body_at("/hook");
    let their_json: Value = serde_json::from_str(&theirs).unwrap();

    // The same group as agentmon's core would hand it over: Alertmanager's
    // group key, alert order and fingerprints.
    let mut statuses = Vec::new();
    for alert in their_json["alerts"].as_array().unwrap() {
        let instance = alert["labels"]["instance"].as_str().unwrap();
        let resolved = alert["status"] == "resolved";
        let posted = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["instance"] == instance)
            .unwrap();
        let pairs = |v: &Value| -> Vec<(String, String)> {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        };
        statuses.push(AlertStatus {
            alert: Alert {
                labels: Labels::new(pairs(&posted["labels"])).unwrap(),
                annotations: Labels::new(pairs(&posted["annotations"])).unwrap(),
                starts_at_ms: if resolved {
                    resolved_start
                } else {
                    firing_start
                },
                ends_at_ms: Some(if resolved {
                    resolved_end
                } else {
                    now + 3_600_000
                }),
                generator_url: posted["generatorURL"].as_str().unwrap().to_owned(),
            },
            fingerprint: u64::from_str_radix(alert["fingerprint"].as_str().unwrap(), 16).unwrap(),
            resolved,
        });
    }
    assert_eq!(statuses.len(), 2, "{theirs}");
    let notification = Notification {
        receiver: "hook".to_owned(),
        group_key: their_json["groupKey"].as_str().unwrap().to_owned(),
        group_labels: Labels::new([("alertname", "HighLatency")]).unwrap(),
        alerts: statuses,
        external_url: "http://agentmon.test:9093".to_owned(),
    };
    let receiver_config: ReceiverConfig = ReceiverConfig::from_yaml(&format!(
        "name: hook\nwebhook_configs: [{{url: '{}'}}]",
        receiver.url("/hook")
    ))
    .unwrap();
    let deliveries = prepare(&notification, &receiver_config, &PlainRenderer).unwrap();
    let DeliveryRequest::Http(ours) = &deliveries[0].request else {
        panic!("expected HTTP");
    };
    check_other_integrations(&notification, &receiver, &body_at);
    // Go's encoder ends the body with a newline; otherwise the texts must
    // be identical: fields, order, times, fingerprints.
    assert_eq!(
        ours.body,
        theirs.trim_end(),
        "\nours:   {}\ntheirs: {}",
        ours.body,
        theirs
    );
}

/// The parts of the Slack, Discord and PagerDuty requests that agentmon
/// means to share with Alertmanager (texts are agentmon's own): PagerDuty's
/// dedup key and action, Discord's colour, Slack's colour.
fn check_other_integrations(
    notification: &Notification,
    receiver: &Receiver,
    body_at: &dyn Fn(&str) -> String,
) {
    let config: ReceiverConfig = ReceiverConfig::from_yaml(&format!(
        "name: hook
pagerduty_configs: [{{url: '{}', routing_key: R0UT1NG}}]
discord_configs: [{{webhook_url: '{}'}}]
slack_configs: [{{api_url: '{}'}}]",
        receiver.url("/pagerduty"),
        receiver.url("/discord"),
        receiver.url("/slack")
    ))
    .unwrap();
    let deliveries = prepare(notification, &config, &PlainRenderer).unwrap();
    let ours: Vec<Value> = deliveries
        .iter()
        .map(|d| match &d.request {
            DeliveryRequest::Http(http) => serde_json::from_str(&http.body).unwrap(),
            DeliveryRequest::Email(_) => panic!("expected HTTP"),
        })
        .collect();
    // prepare goes through integrations in a fixed order: slack, discord, pagerduty.
    let (slack, discord, pagerduty) = (&ours[0], &ours[1], &ours[2]);
    let theirs: Value = serde_json::from_str(&body_at("/pagerduty")).unwrap();
    assert_eq!(pagerduty["dedup_key"], theirs["dedup_key"]);
    assert_eq!(pagerduty["event_action"], theirs["event_action"]);
    assert_eq!(pagerduty["routing_key"], theirs["routing_key"]);
    assert_eq!(
        pagerduty["payload"]["severity"],
        theirs["payload"]["severity"]
    );
    let theirs: Value = serde_json::from_str(&body_at("/discord")).unwrap();
    assert_eq!(discord["embeds"][0]["color"], theirs["embeds"][0]["color"]);
    let theirs: Value = serde_json::from_str(&body_at("/slack")).unwrap();
    assert_eq!(
        slack["attachments"][0]["color"],
        theirs["attachments"][0]["color"]
    );
}
