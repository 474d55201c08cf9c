//! Differential test of grouping against a real Alertmanager 0.25
//! (Debian's `prometheus-alertmanager`): the same configuration and alert
//! stream go to Alertmanager, whose webhook notifications a loopback
//! listener collects, and to agentmon's `State` driven by a manual clock.
//! For each group key both must produce the same sequence of
//! notifications: receiver, group labels, and the alerts in order with
//! their status. Skipped when the binary is absent, unless
//! `AGENTMON_REQUIRE_PEERS=1`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod peer;

use peer::{http, http_full, without_times};

use agentmon_notify::api::{
    format_time, list_alert_groups, list_alerts, prepare_alerts, AlertFilter, PostableAlert,
};
use agentmon_notify::silence::{MemorySilenceStore, Silences};
use agentmon_notify::{AlertmanagerConfig, ManualClock, Notification, State};
use serde_json::{json, Value};

mod erased {
    /// Serialises any of the API answers to JSON.
    pub trait Serialize {
        fn to_json(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Serialize for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializes")
        }
    }
}

/// Accepts webhook POSTs, answers 200 and sends each JSON body on.
fn webhook_listener() -> (u16, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Ok(v) = serde_json::from_slice(&body) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    (port, rx)
}

/// The comparable part of a notification: receiver, group labels, and
/// each alert's labels and status, in order.
type Shape = (String, String, Vec<String>);

fn shape_of_payload(v: &Value) -> (String, Shape) {
    let alerts = v["alerts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| format!("{} {}", a["labels"], a["status"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    (
        v["groupKey"].as_str().unwrap_or("").to_owned(),
        (
            v["receiver"].as_str().unwrap_or("").to_owned(),
            v["groupLabels"].to_string(),
            alerts,
        ),
    )
}

fn shape_of_notification(n: &Notification) -> (String, Shape) {
    let labels = |l: &agentmon_model::Labels| {
        let map: BTreeMap<&str, &str> = l
            .iter()
            .map(|x| (x.name.as_str(), x.value.as_str()))
            .collect();
        serde_json::to_value(map).expect("json").to_string()
    };
    let alerts = n
        .alerts
        .iter()
        .map(|a| {
            let status = if a.resolved { "resolved" } else { "firing" };
            format!("{} {status}", labels(&a.alert.labels))
        })
        .collect();
    (
        n.group_key.clone(),
        (n.receiver.clone(), labels(&n.group_labels), alerts),
    )
}

fn config(hook_port: u16) -> String {
    format!(
        r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['team="db"', 'severity=~"crit.*"']
      receiver: hook
      continue: true
    - match_re: {{team: 'd.'}}
      receiver: hook2
      group_by: [team, alertname]
    - matchers: [team=all]
      receiver: hook
      group_by: ['...']
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/'}}]
  - name: hook2
    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/'}}]
"#
    )
}

fn first_batch() -> Value {
    json!([
        {"labels": {"alertname": "A", "job": "x", "instance": "2"}},
        {"labels": {"alertname": "A", "instance": "1"}},
        {"labels": {"alertname": "A", "job": "w", "zone": "z"}},
        {"labels": {"alertname": "B", "severity": "critical", "team": "db"}},
        {"labels": {"alertname": "B", "severity": "warning", "team": "db"}},
        {"labels": {"alertname": "C", "team": "all", "note": "q\"uote"}},
    ])
}

fn second_batch(ends_at: &str) -> Value {
    json!([
        {"labels": {"alertname": "A", "job": "x", "instance": "2"}, "endsAt": ends_at},
        {"labels": {"alertname": "A", "instance": "1"}},
        {"labels": {"alertname": "A", "job": "w", "zone": "z"}},
    ])
}

#[test]
fn notifications_match_alertmanager() {
    if !peer::available() {
        return;
    }
    let (hook_port, payloads) = webhook_listener();
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = config(hook_port);
    let (_peer, am_port) = peer::start(dir.path(), &yaml);

    // Alertmanager: first batch, wait for the first flushes (group_wait
    // 1s) of the four groups, then resolve one alert and wait for its
    // notification, and a little longer for anything unexpected. Waiting
    // for counts rather than fixed times keeps a slow machine from
    // mixing the two rounds.
    let collect = |count: usize, grace: Duration| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_default();
            match payloads.recv_timeout(left) {
                Ok(v) => got.push(v),
                Err(_) => panic!("only {} of {count} notifications came: {got:#?}", got.len()),
            }
        }
        let end = Instant::now() + grace;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match payloads.recv_timeout(left) {
                Ok(v) => got.push(v),
                Err(_) => break,
            }
        }
        got
    };
    assert_eq!(
        http(
            am_port,
            "POST",
            "/api/v2/alerts",
            &first_batch().to_string()
        )
        .ok(),
        Some(200)
    );
    let mut theirs = collect(4, Duration::from_millis(200));
    let api = |path: &str| {
        let (status, body) = http_full(am_port, "GET", path, "").expect("api answers");
        assert_eq!(status, 200, "{path}: {body}");
        without_times(serde_json::from_str(&body).expect("json"))
    };
    let their_alerts = api("/api/v2/alerts");
    let their_groups = api("/api/v2/alerts/groups");
    let their_filtered = api("/api/v2/alerts?filter=team%3D%22db%22&inhibited=false");
    assert_eq!(
        their_alerts.as_array().map(Vec::len),
        Some(6),
        "{their_alerts}"
    );
    assert_eq!(
        their_groups.as_array().map(Vec::len),
        Some(4),
        "{their_groups}"
    );
    assert_eq!(
        their_filtered.as_array().map(Vec::len),
        Some(1),
        "{their_filtered}"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let body = second_batch(&format_time(now_ms)).to_string();
    assert_eq!(
        http(am_port, "POST", "/api/v2/alerts", &body).ok(),
        Some(200)
    );
    theirs.extend(collect(1, Duration::from_millis(2500)));

    // agentmon: the same stream on a manual clock.
    let t0 = 1_710_504_000_000;
    let clock = Arc::new(ManualClock::new(t0));
    let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("silences");
    let config = AlertmanagerConfig::from_yaml(&yaml).expect("valid config");
    let mut state = State::new(config, silences, clock.clone(), "http://x");
    let mut ours = Vec::new();
    let post = |state: &mut State, body: Value| {
        let posted: Vec<PostableAlert> = serde_json::from_value(body).expect("postable");
        let (valid, errors) = prepare_alerts(posted, state.now_ms(), 300_000);
        assert_eq!(errors, None);
        state.receive(valid);
    };
    post(&mut state, first_batch());
    clock.set(t0 + 1_000);
    state.flush(&mut |n| ours.push(n));
    // The API answers agree with Alertmanager's, times apart: fingerprints,
    // receivers, inhibitedBy, group order and alert order.
    let json = |v: &dyn erased::Serialize| without_times(v.to_json());
    assert_eq!(
        json(&list_alerts(&state, &AlertFilter::default())),
        their_alerts
    );
    assert_eq!(
        json(&list_alert_groups(&state, &AlertFilter::default())),
        their_groups
    );
    let filter = AlertFilter {
        inhibited: false,
        ..AlertFilter::parse(&["team=\"db\"".to_owned()], None).expect("filter")
    };
    assert_eq!(json(&list_alerts(&state, &filter)), their_filtered);
    clock.set(t0 + 1_800);
    post(&mut state, second_batch(&format_time(t0 + 1_800)));
    for step in [3_000, 5_000] {
        clock.set(t0 + step);
        state.flush(&mut |n| ours.push(n));
    }

    let by_key = |list: Vec<(String, Shape)>| {
        let mut map: BTreeMap<String, Vec<Shape>> = BTreeMap::new();
        for (key, shape) in list {
            map.entry(key).or_default().push(shape);
        }
        map
    };
    let theirs = by_key(theirs.iter().map(shape_of_payload).collect());
    let ours = by_key(ours.iter().map(shape_of_notification).collect());
    eprintln!("alertmanager notified: {theirs:#?}");
    assert!(theirs.len() >= 4, "too few groups notified by alertmanager");
    assert_eq!(ours, theirs);
}
