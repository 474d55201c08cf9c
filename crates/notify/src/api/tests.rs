use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::config::AlertmanagerConfig;
use crate::matcher::parse_matchers;
use crate::silence::{MemorySilenceStore, Silences};
use crate::{NotifyError, State};

const T0: i64 = 1_710_504_000_000; // 2024-03-15T12:00:00Z
const MIN: i64 = 60_000;

const CONFIG: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [team=db]
      receiver: db-pager
      continue: true
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
receivers:
  - name: default
  - name: db-pager
"#;

fn state() -> (State, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let config = AlertmanagerConfig::from_yaml(CONFIG).expect("valid");
    let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("opens");
    (
        State::new(config, silences, clock.clone(), "http://x"),
        clock,
    )
}

fn post(state: &mut State, body: Value) -> Option<String> {
    let posted: Vec<PostableAlert> = serde_json::from_value(body).expect("postable");
    let (valid, errors) = prepare_alerts(posted, state.now_ms(), 5 * MIN);
    state.receive(valid);
    errors
}

#[test]
fn times_are_written_as_alertmanager_writes_them() {
    assert_eq!(format_time(T0), "2024-03-15T12:00:00.000Z");
    assert_eq!(format_time(T0 + 1_234), "2024-03-15T12:00:01.234Z");
    assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(parse_time("2024-03-15T12:00:00Z"), Some(T0));
}

#[test]
fn posted_alerts_are_validated_like_alertmanager() {
    let (mut s, _) = state();
    let errors = post(
        &mut s,
        json!([
            {"labels": {"alertname": "X", "bad-name": "api"}},
            {"labels": {}},
            {"labels": {"a": "b"}, "startsAt": "2024-01-01T00:00:00Z", "endsAt": "2023-01-01T00:00:00Z"},
            {"labels": {"alertname": "Ok", "empty": ""}, "annotations": {"summary": "s"}},
        ]),
    );
    // The same text Alertmanager 0.25 answers for the first three.
    assert_eq!(
        errors.as_deref(),
        Some("invalid label set: invalid name \"bad-name\"; at least one label pair required; start time must be before end time")
    );
    let listed = list_alerts(&s, &AlertFilter::default());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].labels.len(), 1, "empty label values are dropped");
}

#[test]
fn gettable_alert_shape() {
    let (mut s, _) = state();
    assert_eq!(
        post(
            &mut s,
            json!([{"labels": {"alertname": "X", "job": "api"}, "annotations": {"s": "y"},
                    "generatorURL": "http://prom/graph"}])
        ),
        None
    );
    let listed = list_alerts(&s, &AlertFilter::default());
    let got = serde_json::to_value(&listed).expect("serializes");
    assert_eq!(
        got,
        json!([{
            "annotations": {"s": "y"},
            "endsAt": "2024-03-15T12:05:00.000Z",
            "fingerprint": "066f64239d6975fb",
            "receivers": [{"name": "default"}],
            "startsAt": "2024-03-15T12:00:00.000Z",
            "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
            "updatedAt": "2024-03-15T12:00:00.000Z",
            "generatorURL": "http://prom/graph",
            "labels": {"alertname": "X", "job": "api"}
        }])
    );
}

#[test]
fn alert_filters() {
    let (mut s, clock) = state();
    post(
        &mut s,
        json!([
            {"labels": {"alertname": "A", "severity": "critical", "team": "db"}},
            {"labels": {"alertname": "A", "severity": "warning"}},
            {"labels": {"alertname": "B", "severity": "warning"}},
            {"labels": {"alertname": "Gone"}, "startsAt": "2024-03-15T11:00:00Z", "endsAt": "2024-03-15T11:30:00Z"},
        ]),
    );
    let id = post_silence(
        &mut s,
        serde_json::from_value(json!({
            "matchers": [{"name": "alertname", "value": "B", "isRegex": false}],
            "startsAt": "2024-03-15T11:00:00Z", "endsAt": "2024-03-15T13:00:00Z",
            "createdBy": "me", "comment": "c"}))
        .expect("postable"),
    )
    .expect("created");
    let all = list_alerts(&s, &AlertFilter::default());
    assert_eq!(all.len(), 3, "resolved alerts are not listed");
    let state_of = |name: &str, sev: &str| {
        all.iter()
            .find(|a| a.labels["alertname"] == name && a.labels["severity"] == sev)
            .map(|a| a.status.clone())
            .expect("listed")
    };
    assert_eq!(
        state_of("B", "warning").silenced_by,
        std::slice::from_ref(&id)
    );
    assert_eq!(state_of("B", "warning").state, "suppressed");
    assert_eq!(state_of("A", "warning").inhibited_by.len(), 1);
    assert_eq!(state_of("A", "critical").state, "active");
    let critical = all
        .iter()
        .find(|a| a.labels["severity"] == "critical")
        .expect("listed");
    let names: Vec<&str> = critical.receivers.iter().map(|r| r.name.as_str()).collect();
    // `continue` on the last child: only that child matches, not the root.
    assert_eq!(names, ["db-pager"]);

    let f = AlertFilter {
        silenced: false,
        inhibited: false,
        ..AlertFilter::default()
    };
    assert_eq!(list_alerts(&s, &f).len(), 1);
    let f = AlertFilter {
        active: false,
        ..AlertFilter::default()
    };
    assert_eq!(list_alerts(&s, &f).len(), 2);
    let f = AlertFilter::parse(&["{severity=~\"warn.*\"}".to_owned()], None).expect("parses");
    assert_eq!(list_alerts(&s, &f).len(), 2);
    let f = AlertFilter::parse(&[], Some("db-.*")).expect("parses");
    assert_eq!(list_alerts(&s, &f).len(), 1);
    let f = AlertFilter::parse(&[], Some("db")).expect("parses");
    assert_eq!(list_alerts(&s, &f).len(), 0, "receiver regex is anchored");
    assert!(AlertFilter::parse(&["nope".to_owned()], None).is_err());

    let groups = list_alert_groups(&s, &AlertFilter::default());
    let shape: Vec<(String, String, usize)> = groups
        .iter()
        .map(|g| {
            (
                g.receiver.name.clone(),
                g.labels["alertname"].clone(),
                g.alerts.len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("db-pager".to_owned(), "A".to_owned(), 1),
            ("default".to_owned(), "A".to_owned(), 1),
            ("default".to_owned(), "B".to_owned(), 1),
        ]
    );
    // Once every alert has timed out, nothing is listed.
    clock.advance(6 * MIN);
    assert!(list_alerts(&s, &AlertFilter::default()).is_empty());
    assert!(list_alert_groups(&s, &AlertFilter::default()).is_empty());
}

#[test]
fn silences_through_the_api() {
    let (mut s, clock) = state();
    let postable = |starts: &str, ends: &str, value: &str| -> PostableSilence {
        serde_json::from_value(json!({
            "matchers": [{"name": "job", "value": value, "isRegex": true, "isEqual": true},
                         {"name": "env", "value": "prod", "isRegex": false}],
            "startsAt": starts, "endsAt": ends, "createdBy": "me", "comment": "c"}))
        .expect("postable")
    };
    let active = post_silence(
        &mut s,
        postable("2024-03-15T11:00:00Z", "2024-03-15T14:00:00Z", "api|web"),
    )
    .expect("created");
    let pending = post_silence(
        &mut s,
        postable("2024-03-15T13:00:00Z", "2024-03-15T15:00:00Z", "db"),
    )
    .expect("created");
    let got = serde_json::to_value(get_silence(&s, &active).expect("found")).expect("json");
    assert_eq!(
        got,
        json!({
            "id": active,
            "status": {"state": "active"},
            "updatedAt": "2024-03-15T12:00:00.000Z",
            "comment": "c",
            "createdBy": "me",
            "endsAt": "2024-03-15T14:00:00.000Z",
            "matchers": [
                {"isEqual": true, "isRegex": true, "name": "job", "value": "api|web"},
                {"isEqual": true, "isRegex": false, "name": "env", "value": "prod"}
            ],
            "startsAt": "2024-03-15T12:00:00.000Z"
        })
    );
    s.silences.expire(&active, T0 + MIN).expect("expires");
    clock.advance(2 * MIN);
    let third = post_silence(
        &mut s,
        postable("2024-03-15T11:00:00Z", "2024-03-15T13:30:00Z", "x"),
    )
    .expect("created");
    let order: Vec<(String, String)> = list_silences(&s, &[])
        .into_iter()
        .map(|g| (g.id, g.status.state))
        .collect();
    assert_eq!(
        order,
        [
            (third, "active".to_owned()),
            (pending.clone(), "pending".to_owned()),
            (active.clone(), "expired".to_owned()),
        ]
    );
    // The filter sees the silences' equality matchers as labels.
    let filter = parse_matchers("env=prod").expect("parses");
    assert_eq!(list_silences(&s, &filter).len(), 3);
    let filter = parse_matchers("job=db").expect("parses");
    assert!(list_silences(&s, &filter).is_empty());
    // Refusals.
    let err = post_silence(
        &mut s,
        postable("2024-03-15T13:00:00Z", "2024-03-15T12:30:00Z", "x"),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "Failed to create silence: start time must be before end time"
    );
    let err = post_silence(
        &mut s,
        postable("2024-03-15T10:00:00Z", "2024-03-15T11:00:00Z", "x"),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "Failed to create silence: end time can't be in the past"
    );
    let mut unknown = postable("2024-03-15T13:00:00Z", "2024-03-15T14:00:00Z", "x");
    unknown.id = Some("0000".to_owned());
    assert_eq!(
        post_silence(&mut s, unknown),
        Err(NotifyError::SilenceNotFound)
    );
    let err = post_silence(
        &mut s,
        postable("2024-03-15T13:00:00Z", "2024-03-15T14:00:00Z", "("),
    );
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("invalid regular expression"));
}

#[test]
fn status_and_receivers() {
    let (s, _) = state();
    let version = VersionInfo {
        version: "0.1.0".to_owned(),
        ..VersionInfo::default()
    };
    let got = serde_json::to_value(status(&s, version)).expect("json");
    assert_eq!(got["cluster"], json!({"peers": [], "status": "disabled"}));
    assert_eq!(got["uptime"], "2024-03-15T12:00:00.000Z");
    assert_eq!(got["versionInfo"]["version"], "0.1.0");
    assert!(got["versionInfo"]["goVersion"].is_string());
    assert!(got["config"]["original"]
        .as_str()
        .expect("text")
        .contains("db-pager"));
    let names = serde_json::to_value(receivers(&s)).expect("json");
    assert_eq!(names, json!([{"name": "default"}, {"name": "db-pager"}]));
}
