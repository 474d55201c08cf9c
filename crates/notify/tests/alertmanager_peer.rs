//! The webhook payload against a real Alertmanager 0.25 (Debian's
//! `prometheus-alertmanager`): the same two alerts are posted to it, its
//! webhook request is captured by a loopback receiver, and agentmon's
//! payload for the same group (with Alertmanager's group key and
//! fingerprints, which the routing core computes) must be the same text
//! field for field and in the same order; so must its Slack, Discord and
//! PagerDuty requests, rendered with the stock templates (the sender's
//! name apart). Skipped when Alertmanager is missing, unless
//! AGENTMON_REQUIRE_PEERS=1.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agentmon_model::{Alert, Labels};
use agentmon_notify::notification::{AlertStatus, Notification};
use agentmon_notify::receivers::gotime::format_rfc3339_ms;
use agentmon_notify::receivers::{
    prepare, DeliveryRequest, GoTemplateRenderer, PlainRenderer, ReceiverConfig,
};
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
    let others = other_integrations(&receiver);
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
{}",
        receiver.url("/hook"),
        others
            .lines()
            .skip(1)
            .map(|line| format!("    {line}\n"))
            .collect::<String>(),
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
            "annotations": {"summary": "p95 latency > 2s & <rising>", "runbook_url": "http://runbooks/latency"},
            "startsAt": format_rfc3339_ms(firing_start),
            "endsAt": format_rfc3339_ms(now + 3_600_000),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"
        },
        {
            "labels": {"alertname": "HighLatency", "instance": "agent-2:9100", "severity": "page"},
            "annotations": {"summary": "p95 latency > 2s & <rising>"},
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
        if accepted.len() >= EXPECTED_REQUESTS {
            break accepted;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager sent {} of {EXPECTED_REQUESTS} requests",
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
    check_other_integrations(&notification, &others, &body_at);
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

/// Requests Alertmanager sends for the alert group: the webhook and
/// those of `other_integrations`.
const EXPECTED_REQUESTS: usize = 6;

/// The receiver's other integrations, as one receiver's YAML (its first
/// line the name): each at its defaults, and Slack and PagerDuty again
/// with their texts, fields, actions, images and links configured.
fn other_integrations(receiver: &Receiver) -> String {
    format!(
        r#"name: hook
pagerduty_configs:
  - url: '{pagerduty}'
    routing_key: R0UT1NG
  - url: '{pagerduty2}'
    routing_key: R0UT1NG
    client: 'agents of {{{{ .Receiver }}}}'
    description: '{{{{ .CommonAnnotations.summary }}}} ({{{{ len .Alerts }}}})'
    class: latency
    images:
      - src: 'https://img.test/{{{{ .Status }}}}.png'
        alt: graph
        href: '{{{{ .ExternalURL }}}}'
      - src: ''
        alt: dropped
    links:
      - href: '{{{{ (index .Alerts 0).GeneratorURL }}}}'
        text: source
      - href: ''
        text: dropped
discord_configs:
  - webhook_url: '{discord}'
slack_configs:
  - api_url: '{slack}'
  - api_url: '{slack2}'
    send_resolved: true
    channel: '#agents'
    icon_emoji: ':robot_face:'
    link_names: true
    title: '{{{{ template "slack.default.title" . }}}} & more'
    text: '{{{{ template "__text_alert_list" .Alerts.Firing }}}}'
    short_fields: true
    fields:
      - title: Severity
        value: '{{{{ .CommonLabels.severity }}}}'
      - title: Alerts
        value: '{{{{ len .Alerts }}}}'
        short: false
    actions:
      - type: button
        text: Runbook
        url: '{{{{ (index .Alerts 0).Annotations.runbook_url }}}}'
        name: ignored
      - type: button
        text: Acknowledge
        name: ack
        value: '{{{{ .Status }}}}'
        style: danger
        confirm:
          text: Sure?
          ok_text: 'Yes'
    mrkdwn_in: [text, title]
"#,
        pagerduty = receiver.url("/pagerduty"),
        pagerduty2 = receiver.url("/pagerduty2"),
        discord = receiver.url("/discord"),
        slack = receiver.url("/slack"),
        slack2 = receiver.url("/slack2"),
    )
}

/// The Slack, Discord and PagerDuty requests: agentmon renders the same
/// configuration with its stock templates, and the bodies must be
/// Alertmanager's byte for byte, apart from the sender's name, which is
/// agentmon's.
fn check_other_integrations(
    notification: &Notification,
    receiver_yaml: &str,
    body_at: &dyn Fn(&str) -> String,
) {
    let config = ReceiverConfig::from_yaml(receiver_yaml).unwrap();
    let renderer = GoTemplateRenderer::load(&[], std::path::Path::new(".")).unwrap();
    let deliveries = prepare(notification, &config, &renderer).unwrap();
    assert_eq!(deliveries.len(), EXPECTED_REQUESTS - 1);
    for delivery in &deliveries {
        let DeliveryRequest::Http(ours) = &delivery.request else {
            panic!("expected HTTP");
        };
        let path = ours
            .url
            .rsplit_once('/')
            .map(|(_, p)| format!("/{p}"))
            .unwrap();
        let theirs = body_at(&path);
        let theirs = theirs
            .trim_end()
            .replace("\"Alertmanager\"", "\"agentmon\"");
        assert_eq!(
            ours.body, theirs,
            "\n{path}\nours:   {}\ntheirs: {}",
            ours.body, theirs
        );
    }
}
