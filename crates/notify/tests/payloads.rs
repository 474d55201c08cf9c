//! The payloads of every integration, built from one notification and
//! checked field by field: the webhook against a fixture written from
//! Alertmanager's documented version 4 format (including the order of the
//! fields, which Go's encoder fixes), the others against their services'
//! documented shapes.

use agentmon_model::{Alert, Labels};
use agentmon_notify::notification::{AlertStatus, Notification};
use agentmon_notify::receivers::pagerduty::group_key_hash;
use agentmon_notify::receivers::{
    prepare, DeliveryRequest, IntegrationKind, PlainRenderer, ReceiverConfig,
};
use serde_json::Value;

fn alert(
    instance: &str,
    starts: i64,
    ends: Option<i64>,
    fingerprint: u64,
    resolved: bool,
) -> AlertStatus {
    AlertStatus {
        alert: Alert {
            labels: Labels::new([
                ("alertname", "HighLatency"),
                ("instance", instance),
                ("severity", "page"),
            ])
            .unwrap(),
            annotations: Labels::new([("summary", "p95 latency above 2s")]).unwrap(),
            starts_at_ms: starts,
            ends_at_ms: ends,
            generator_url: "http://prometheus:9090/graph?g0.expr=latency".to_owned(),
        },
        fingerprint,
        resolved,
    }
}

fn notification() -> Notification {
    Notification {
        receiver: "team-webhook".to_owned(),
        group_key: "{}/{severity=\"page\"}:{alertname=\"HighLatency\"}".to_owned(),
        group_labels: Labels::new([("alertname", "HighLatency")]).unwrap(),
        alerts: vec![
            // A firing alert's planned end is not shown.
            alert(
                "agent-1:9100",
                1_700_000_000_120,
                Some(1_700_000_300_000),
                0x0123_4567_89ab_cdef,
                false,
            ),
            alert(
                "agent-2:9100",
                1_699_999_200_000,
                Some(1_699_999_800_500),
                0xff,
                true,
            ),
        ],
        external_url: "http://agentmon:9093".to_owned(),
    }
}

fn receiver(yaml: &str) -> ReceiverConfig {
    ReceiverConfig::from_yaml(yaml).unwrap()
}

fn http_body(request: &DeliveryRequest) -> (String, String, Vec<(String, String)>) {
    match request {
        DeliveryRequest::Http(http) => (http.url.clone(), http.body.clone(), http.headers.clone()),
        DeliveryRequest::Email(_) => panic!("expected an HTTP request"),
    }
}

/// The keys of a JSON object in the order the text has them.
fn key_order(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    struct Keys<'a>(&'a mut Vec<String>);
    impl<'de> serde::de::Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                self.0.push(key);
                map.next_value::<serde::de::IgnoredAny>()?;
            }
            Ok(())
        }
    }
    serde::Deserializer::deserialize_map(&mut deserializer, Keys(&mut out)).unwrap();
    out
}

#[test]
fn webhook_payload_matches_the_version_4_fixture() {
    let config = receiver(
        "name: team-webhook\nwebhook_configs:\n  - url: http://127.0.0.1:9/hook?token=abc\n    http_config: {authorization: {credentials: tok}}\n",
    );
    let deliveries = prepare(&notification(), &config, &PlainRenderer).unwrap();
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.integration, IntegrationKind::Webhook);
    assert_eq!(delivery.target, "http://127.0.0.1:9/<secret>");
    assert_eq!((delivery.firing, delivery.resolved), (1, 1));
    let (url, body, headers) = http_body(&delivery.request);
    assert_eq!(url, "http://127.0.0.1:9/hook?token=abc");
    assert_eq!(
        headers,
        vec![("Authorization".to_owned(), "Bearer tok".to_owned())]
    );

    let fixture_text = include_str!("fixtures/webhook_v4.json");
    let fixture: Value = serde_json::from_str(fixture_text).unwrap();
    let got: Value = serde_json::from_str(&body).unwrap();
    let fixture_object = fixture.as_object().unwrap();
    let got_object = got.as_object().unwrap();
    assert_eq!(got_object.len(), fixture_object.len(), "{body}");
    for (field, expected) in fixture_object {
        if field == "alerts" {
            continue;
        }
        assert_eq!(&got[field], expected, "field {field}");
    }
    let (got_alerts, fixture_alerts) = (
        got["alerts"].as_array().unwrap(),
        fixture["alerts"].as_array().unwrap(),
    );
    assert_eq!(got_alerts.len(), fixture_alerts.len());
    for (i, (got_alert, expected)) in got_alerts.iter().zip(fixture_alerts).enumerate() {
        assert_eq!(
            got_alert.as_object().unwrap().len(),
            expected.as_object().unwrap().len()
        );
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&got_alert[field], value, "alert {i} field {field}");
        }
    }
    // Field order as Go writes it: template.Data's fields, then the
    // message's own.
    assert_eq!(key_order(&body), key_order(fixture_text));
    let alerts_start = body.find("\"alerts\":[").unwrap();
    let first_alert = &body[alerts_start + 10..];
    let alert_keys = [
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    ];
    let positions: Vec<usize> = alert_keys
        .iter()
        .map(|k| first_alert.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "alert field order in {first_alert}"
    );
}

#[test]
fn webhook_max_alerts_and_send_resolved() {
    let config = receiver(
        "name: r\nwebhook_configs:\n  - url: http://127.0.0.1:9/a\n    max_alerts: 1\n  - url: http://127.0.0.1:9/b\n    send_resolved: false\n    timeout: 3s\n",
    );
    let deliveries = prepare(&notification(), &config, &PlainRenderer).unwrap();
    assert_eq!(deliveries.len(), 2);
    let (_, body, _) = http_body(&deliveries[0].request);
    let cut: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(cut["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(cut["truncatedAlerts"], 1);
    // Common labels are those of the alerts sent.
    assert_eq!(cut["commonLabels"]["instance"], "agent-1:9100");
    let DeliveryRequest::Http(second) = &deliveries[1].request else {
        panic!()
    };
    assert_eq!(second.timeout_ms, Some(3_000));
    let firing_only: Value = serde_json::from_str(&second.body).unwrap();
    let alerts = firing_only["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["status"], "firing");

    // All resolved and send_resolved: false: nothing to send.
    let mut resolved = notification();
    resolved.alerts.retain(|a| a.resolved);
    let deliveries = prepare(&resolved, &config, &PlainRenderer).unwrap();
    assert_eq!(deliveries.len(), 1);
    let (_, body, _) = http_body(&deliveries[0].request);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "resolved"
    );
}

#[test]
fn slack_discord_and_pagerduty_payloads() {
    let config = receiver(
        r##"
name: team
slack_configs:
  - api_url: https://hooks.slack.com/services/T0/B0/SECRET
    channel: "#alerts"
    text: "{{ .CommonAnnotations.summary }} ({{ .Status }})"
discord_configs:
  - webhook_url: https://discord.com/api/webhooks/1/SECRET
pagerduty_configs:
  - routing_key: R0UT1NG
    severity: critical
    component: "{{ .GroupLabels.alertname }}"
"##,
    );
    let n = notification();
    let deliveries = prepare(&n, &config, &PlainRenderer).unwrap();
    let kinds: Vec<IntegrationKind> = deliveries.iter().map(|d| d.integration).collect();
    assert_eq!(
        kinds,
        [
            IntegrationKind::Slack,
            IntegrationKind::Discord,
            IntegrationKind::Pagerduty
        ]
    );
    for delivery in &deliveries {
        assert!(!delivery.target.contains("SECRET"), "{}", delivery.target);
    }

    // Slack: send_resolved defaults to false, so only the firing alert.
    let (_, body, _) = http_body(&deliveries[0].request);
    let slack: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(slack["channel"], "#alerts");
    let attachment = &slack["attachments"][0];
    assert_eq!(attachment["color"], "danger");
    assert_eq!(attachment["title"], "[FIRING:1] HighLatency");
    assert_eq!(attachment["text"], "p95 latency above 2s (firing)");
    assert_eq!(deliveries[0].resolved, 0);

    let (_, body, _) = http_body(&deliveries[1].request);
    let discord: Value = serde_json::from_str(&body).unwrap();
    let embed = &discord["embeds"][0];
    assert_eq!(embed["color"], 0x992D22);
    assert_eq!(embed["title"], "[FIRING:1] HighLatency");
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("Firing (1):") && description.contains("Resolved (1):"),
        "{description}"
    );

    let (url, body, _) = http_body(&deliveries[2].request);
    assert_eq!(url, "https://events.pagerduty.com/v2/enqueue");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["routing_key"], "R0UT1NG");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], group_key_hash(&n.group_key));
    assert_eq!(event["payload"]["severity"], "critical");
    assert_eq!(event["payload"]["component"], "HighLatency");
    assert_eq!(event["payload"]["summary"], "[FIRING:1] HighLatency");
    assert_eq!(event["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(event["payload"]["custom_details"]["num_resolved"], "1");

    // Resolved: Slack says nothing (send_resolved false), Discord turns
    // green, PagerDuty resolves the same dedup key.
    let mut resolved = n.clone();
    resolved.alerts.retain(|a| a.resolved);
    let deliveries = prepare(&resolved, &config, &PlainRenderer).unwrap();
    let kinds: Vec<IntegrationKind> = deliveries.iter().map(|d| d.integration).collect();
    assert_eq!(
        kinds,
        [IntegrationKind::Discord, IntegrationKind::Pagerduty]
    );
    let discord: Value = serde_json::from_str(&http_body(&deliveries[0].request).1).unwrap();
    assert_eq!(discord["embeds"][0]["color"], 0x2ECC71);
    let event: Value = serde_json::from_str(&http_body(&deliveries[1].request).1).unwrap();
    assert_eq!(event["event_action"], "resolve");
    assert_eq!(event["dedup_key"], group_key_hash(&n.group_key));
}

#[test]
fn pagerduty_dedup_key_is_sha256_of_the_group_key() {
    // sha256("{}:{alertname=\"X\"}"), computed with Python's hashlib.
    assert_eq!(
        group_key_hash("{}:{alertname=\"X\"}"),
        "25fb0bff77cf7f8850f1cb3aeea9e63be0fbd3e78a8c0ef038392ade26e7d3a6"
    );
}

#[test]
fn bad_configs_are_refused_before_queueing() {
    for (yaml, needle) in [
        (
            "name: r\nwebhook_configs: [{url: 'ftp://x/y'}]",
            "unsupported scheme \"ftp\" for URL",
        ),
        (
            "name: r\nslack_configs: [{channel: x}]",
            "no global Slack API URL set",
        ),
        (
            "name: r\nwebhook_configs: [{url_file: /nonexistent/agentmon-url}]",
            "url_file \"/nonexistent/agentmon-url\"",
        ),
        (
            "name: r\npagerduty_configs: [{service_key: k}]",
            "service_key",
        ),
        (
            "name: r\nemail_configs: [{to: a@b.c, smarthost: 'nohost'}]",
            "missing port in address",
        ),
        (
            "name: r\nemail_configs: [{to: a@b.c, smarthost: 'h:25'}]",
            "no global SMTP from set",
        ),
    ] {
        // Refused when the config loads, or at the latest when prepared.
        let error = match ReceiverConfig::from_yaml(yaml) {
            Ok(config) => prepare(&notification(), &config, &PlainRenderer)
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(error.to_string().contains(needle), "{yaml}: {error}");
    }
}

#[test]
fn secrets_in_configs_do_not_print() {
    let config = receiver(
        "name: r\nwebhook_configs: [{url: 'http://h/tok3n'}]\nemail_configs: [{to: a@b.c, from: x@y.z, smarthost: 'h:25', auth_password: pa55w0rd}]\npagerduty_configs: [{routing_key: rk-123}]",
    );
    let shown = format!("{config:?}");
    for secret in ["tok3n", "pa55w0rd", "rk-123"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let deliveries = prepare(
        &notification(),
        &receiver("name: r\nwebhook_configs: [{url: 'http://h/tok3n'}]"),
        &PlainRenderer,
    )
    .unwrap();
    assert!(!format!("{deliveries:?}").contains("tok3n"));
}
