//! The same alert stream through agentmon and a real Alertmanager 0.25
//! (Debian's `prometheus-alertmanager`) with the same `alertmanager.yml`:
//! routing (`matchers`, `match_re`, `continue`, `group_by` with `'...'`),
//! grouping, inhibition, a silence, `max_alerts`, `send_resolved: false`,
//! and a second round that resolves alerts (lifting an inhibition) and adds
//! one. Both send their webhooks to one loopback receiver; the groups each
//! notified, and the first and last payload of every group, must agree
//! field by field apart from the external URL and the planned end of
//! firing alerts (which each server computes from its own clock).
//!
//! Prints `SKIPPED` when Alertmanager is not installed, and fails instead
//! when `AGENTMON_REQUIRE_PEERS=1`.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agentmon_notify::receivers::gotime::format_rfc3339_ms;
use common::http::client;
use common::prometheus::peer_or_skip;
use common::receiver::Receiver;
use common::server::{free_port, poll_until, Server};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
/// No new payload for this long: both servers have said all they will.
const QUIET: Duration = Duration::from_secs(4);

/// One webhook request: who sent it (`am` or `agentmon`), to which
/// receiver, and the payload.
#[derive(Clone, Debug)]
struct Received {
    sender: String,
    receiver: String,
    payload: Value,
    at: Instant,
}

/// The loopback webhook receiver, at `/<sender>/<receiver>`.
struct Hooks {
    receiver: Receiver,
}

impl Hooks {
    fn start() -> Hooks {
        Hooks {
            receiver: Receiver::start(200, 0, "e2e"),
        }
    }

    fn all(&self) -> Vec<Received> {
        self.receiver
            .received()
            .into_iter()
            .map(|r| {
                let (sender, receiver) = r.path.split_once('/').unwrap_or(("", &r.path));
                Received {
                    sender: sender.to_owned(),
                    receiver: receiver.to_owned(),
                    payload: r.body,
                    at: r.at,
                }
            })
            .collect()
    }

    /// Waits until both senders have sent something since `since` and
    /// nothing has arrived for [`QUIET`].
    fn settle(&self, since: Instant) {
        let settled = poll_until(DEADLINE, || {
            let all = self.all();
            let recent: Vec<&Received> = all.iter().filter(|r| r.at >= since).collect();
            let both = ["am", "agentmon"]
                .iter()
                .all(|s| recent.iter().any(|r| r.sender == *s));
            let last = recent.iter().map(|r| r.at).max()?;
            (both && last.elapsed() >= QUIET).then_some(())
        });
        assert!(
            settled.is_some(),
            "the webhooks did not settle: {:#?}",
            self.all()
                .iter()
                .map(|r| (&r.sender, &r.receiver))
                .collect::<Vec<_>>()
        );
    }
}

/// The routing configuration both servers run, with webhook URLs under
/// `<base>/<sender>/`.
fn routing(base: &str, sender: &str) -> String {
    format!(
        r#"route:
  receiver: all
  group_by: [alertname, agent]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      group_by: [agent]
      continue: true
    - match_re:
        team: 'ml|ops'
      receiver: team
      group_by: ['...']
    - matchers: ['severity=~"warning|info"']
      receiver: all
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [agent]
receivers:
  - name: all
    webhook_configs:
      - url: '{base}/{sender}/all'
  - name: pager
    webhook_configs:
      - url: '{base}/{sender}/pager'
        max_alerts: 1
  - name: team
    webhook_configs:
      - url: '{base}/{sender}/team'
        send_resolved: false
"#
    )
}

/// Alertmanager, killed and reaped when dropped.
struct Alertmanager {
    child: Child,
    port: u16,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    fn start(binary: &Path, dir: &Path, config: &str) -> Alertmanager {
        let config_path = dir.join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write alertmanager.yml");
        let log = File::create(dir.join("alertmanager.log")).expect("log");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.external-url=http://am.test:9093")
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn alertmanager");
        let am = Alertmanager { child, port };
        let ready = poll_until(Duration::from_secs(30), || {
            let reply = client().get(am.url("/-/ready")).send().ok()?;
            reply.status().is_success().then_some(())
        });
        assert!(
            ready.is_some(),
            "Alertmanager did not become ready: {}",
            std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
        );
        am
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn rfc3339(ms: i64) -> String {
    format_rfc3339_ms(ms)
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

fn alert(name: &str, labels: &[(&str, &str)], starts_ms: i64, ends_ms: Option<i64>) -> Value {
    let mut all: BTreeMap<&str, &str> = labels.iter().copied().collect();
    all.insert("alertname", name);
    let mut alert = json!({
        "labels": all,
        "annotations": {"summary": format!("{name} on {}", all.get("agent").unwrap_or(&"?"))},
        "startsAt": rfc3339(starts_ms),
        "generatorURL": format!("http://prometheus.test/graph?g0.expr={name}"),
    });
    if let Some(ends) = ends_ms {
        alert["endsAt"] = json!(rfc3339(ends));
    }
    alert
}

fn post(url: &str, body: &Value) {
    let reply = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("request");
    let status = reply.status();
    assert!(
        status.is_success(),
        "{url}: {status} {}",
        reply.text().unwrap_or_default()
    );
}

/// The payload without what legitimately differs: the external URL and
/// the planned end of firing alerts.
fn normalized(payload: &Value) -> Value {
    let mut payload = payload.clone();
    payload
        .as_object_mut()
        .expect("payload object")
        .remove("externalURL");
    for alert in payload["alerts"].as_array_mut().expect("alerts") {
        if alert["status"] == "firing" {
            alert.as_object_mut().expect("alert").remove("endsAt");
        }
    }
    payload
}

/// Per (receiver, group key): the sender's first and last payloads.
fn by_group(received: &[Received], sender: &str) -> BTreeMap<(String, String), (Value, Value)> {
    let mut groups: BTreeMap<(String, String), (Value, Value)> = BTreeMap::new();
    for r in received.iter().filter(|r| r.sender == sender) {
        let key = (
            r.receiver.clone(),
            r.payload["groupKey"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        let payload = normalized(&r.payload);
        groups
            .entry(key)
            .and_modify(|(_, last)| *last = payload.clone())
            .or_insert_with(|| (payload.clone(), payload));
    }
    groups
}

/// Compares the two senders' groups; returns how many there are.
fn compare(received: &[Received], round: &str) -> usize {
    let ours = by_group(received, "agentmon");
    let theirs = by_group(received, "am");
    let our_keys: Vec<_> = ours.keys().collect();
    let their_keys: Vec<_> = theirs.keys().collect();
    assert_eq!(our_keys, their_keys, "{round}: the groups notified differ");
    for (key, (first, last)) in &theirs {
        let (our_first, our_last) = &ours[key];
        assert_eq!(
            our_first, first,
            "{round}: first payload of {key:?}\nours:   {our_first}\ntheirs: {first}"
        );
        assert_eq!(
            our_last, last,
            "{round}: last payload of {key:?}\nours:   {our_last}\ntheirs: {last}"
        );
    }
    theirs.len()
}

#[test]
fn the_same_alert_stream_notifies_as_alertmanager_does() {
    let Some(binary) = peer_or_skip("prometheus-alertmanager", "prometheus-alertmanager") else {
        return;
    };
    let hooks = Hooks::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Alertmanager::start(&binary, dir.path(), &routing(&hooks.receiver.base, "am"));
    let config = dir.path().join("agentmon.yml");
    let section: String = routing(&hooks.receiver.base, "agentmon")
        .lines()
        .map(|line| format!("  {line}\n"))
        .collect();
    std::fs::write(&config, format!("alertmanager:\n{section}")).expect("write config");
    let mut server = Server::start_with(
        &dir.path().join("data"),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--web.external-url",
            "http://agentmon.test:8080",
        ],
    );
    let targets = [am.url("/api/v2"), server.url("/api/v2")];

    // A silence for agent d, on both.
    let now = now_ms();
    let silence = json!({
        "matchers": [{"name": "agent", "value": "d", "isRegex": false, "isEqual": true}],
        "startsAt": rfc3339(now - 1000),
        "endsAt": rfc3339(now + 3_600_000),
        "createdBy": "test",
        "comment": "agent d is being redeployed",
    });
    for base in &targets {
        post(&format!("{base}/silences"), &silence);
    }

    // Round 1: seven alerts at once.
    // Alerts that started less than `group_wait` ago: both servers then
    // wait `group_wait` before a new group's first notification (an older
    // alert is notified at once, and Alertmanager may then notify before
    // the rest of the same request has reached the group).
    let start = now_ms();
    let round_one = json!([
        alert(
            "HighLatency",
            &[("agent", "a"), ("severity", "critical"), ("team", "ml")],
            start,
            None
        ),
        alert(
            "HighLatency",
            &[("agent", "b"), ("severity", "warning")],
            start,
            None
        ),
        alert(
            "ToolErrors",
            &[("agent", "a"), ("severity", "warning")],
            start,
            None
        ),
        alert(
            "ToolErrors",
            &[("agent", "c"), ("severity", "critical"), ("team", "ops")],
            start,
            None
        ),
        alert(
            "CostOverrun",
            &[("agent", "b"), ("severity", "info"), ("team", "ml")],
            start,
            None
        ),
        alert(
            "CostOverrun",
            &[("agent", "d"), ("severity", "info")],
            start,
            None
        ),
        alert(
            "StuckSession",
            &[("agent", "a"), ("severity", "critical")],
            start,
            None
        ),
    ]);
    let since = Instant::now();
    // The sources of the inhibition first: Alertmanager applies an
    // inhibition once its inhibitor has seen the source, which it learns
    // apart from the dispatcher; posting both in one request lets it
    // notify the target now and then.
    let (sources, rest): (Vec<Value>, Vec<Value>) = round_one
        .as_array()
        .expect("alerts")
        .iter()
        .cloned()
        .partition(|a| a["labels"]["severity"] == "critical");
    for base in &targets {
        post(&format!("{base}/alerts"), &Value::Array(sources.clone()));
    }
    std::thread::sleep(Duration::from_millis(300));
    for base in &targets {
        post(&format!("{base}/alerts"), &Value::Array(rest.clone()));
    }
    hooks.settle(since);
    let first_round = hooks.all();
    // Pager: agents a and c; team: three alerts grouped by all labels;
    // all: HighLatency/b (ToolErrors/a inhibited, CostOverrun/d silenced;
    // StuckSession/a matched the pager route only).
    assert_eq!(compare(&first_round, "round 1"), 6);
    // The stream exercises what it means to: the silenced and the
    // inhibited alerts reached no one, max_alerts cut a payload.
    let ours: Vec<&Received> = first_round
        .iter()
        .filter(|r| r.sender == "agentmon")
        .collect();
    let names: Vec<String> = ours
        .iter()
        .flat_map(|r| r.payload["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| format!("{}/{}", a["labels"]["alertname"], a["labels"]["agent"]))
        .collect();
    assert!(!names.iter().any(|n| n.contains("\"d\"")), "{names:?}");
    assert!(
        !names.contains(&"\"ToolErrors\"/\"a\"".to_owned()),
        "inhibited alert notified: {names:?}"
    );
    assert!(
        ours.iter()
            .any(|r| r.receiver == "pager" && r.payload["truncatedAlerts"] == 1),
        "no truncated pager payload"
    );
    assert!(ours.iter().any(|r| r.receiver == "team"));

    // Round 2: agent a's critical alerts and b's cost resolve (lifting
    // the inhibition of a's tool errors), a new critical alert for b.
    let now = now_ms();
    let round_two = json!([
        alert(
            "HighLatency",
            &[("agent", "a"), ("severity", "critical"), ("team", "ml")],
            start,
            Some(now - 1000)
        ),
        alert(
            "StuckSession",
            &[("agent", "a"), ("severity", "critical")],
            start,
            Some(now - 1000)
        ),
        alert(
            "CostOverrun",
            &[("agent", "b"), ("severity", "info"), ("team", "ml")],
            start,
            Some(now - 1000)
        ),
        alert(
            "HighLatency",
            &[("agent", "b"), ("severity", "critical")],
            now,
            None
        ),
    ]);
    let since = Instant::now();
    for base in &targets {
        post(&format!("{base}/alerts"), &round_two);
    }
    hooks.settle(since);
    let second_round = hooks.all();
    // Round 1's and pager b, all ToolErrors/a.
    assert_eq!(compare(&second_round, "round 2"), 8);
    let lifted = second_round.iter().any(|r| {
        r.sender == "agentmon"
            && r.at >= since
            && r.payload["alerts"].as_array().is_some_and(|alerts| {
                alerts.iter().any(|a| {
                    a["labels"]["alertname"] == "ToolErrors" && a["labels"]["agent"] == "a"
                })
            })
    });
    assert!(lifted, "the inhibition of ToolErrors/a was not lifted");
    let resolved = second_round.iter().any(|r| {
        r.sender == "agentmon"
            && r.at >= since
            && r.receiver == "pager"
            && r.payload["status"] == "resolved"
    });
    assert!(resolved, "no resolved notification in round 2");
    server.terminate(Duration::from_secs(30));
}
