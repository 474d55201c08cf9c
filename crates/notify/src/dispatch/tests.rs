//! Grouping and timing with a manual clock: group_wait, group_interval,
//! repeat_interval, resolved alerts, muting by silences, inhibition and
//! time intervals.

use std::sync::Arc;

use agentmon_model::{Alert, Labels};

use crate::clock::ManualClock;
use crate::config::AlertmanagerConfig;
use crate::matcher::{parse_matchers, Matchers};
use crate::notification::Notification;
use crate::silence::{MemorySilenceStore, Silence, Silences};
use crate::State;

const S: i64 = 1000;
const MIN: i64 = 60 * S;
/// 2024-03-15T12:00:00Z, a Friday.
const T0: i64 = 1_710_504_000_000;

const BASE: &str = r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: [team=mail]
      receiver: mail
    - matchers: [team=both]
      receiver: hook
      continue: true
    - matchers: [team=both]
      receiver: mail
    - matchers: [team=muted]
      receiver: hook
      mute_time_intervals: [friday-noon]
    - matchers: [team=all]
      receiver: hook
      group_by: ['...']
    - matchers: [team=office]
      receiver: hook
      active_time_intervals: [friday-noon]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
time_intervals:
  - name: friday-noon
    time_intervals:
      - weekdays: [friday]
        times: [{start_time: '12:00', end_time: '12:10'}]
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:9/'}]
  - name: mail
    email_configs: [{to: a@b, from: c@d, smarthost: 'h:25'}]
"#;

struct Harness {
    state: State,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new() -> Harness {
        let clock = Arc::new(ManualClock::new(T0));
        let config = AlertmanagerConfig::from_yaml(BASE).expect("valid config");
        let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("opens");
        Harness {
            state: State::new(config, silences, clock.clone(), "http://agentmon:8080"),
            clock,
        }
    }

    fn at(&mut self, t: i64) -> Vec<Notification> {
        self.clock.set(t);
        let mut out = Vec::new();
        self.state.flush(&mut |n| out.push(n));
        out
    }

    fn send(&mut self, t: i64, alert: Alert) {
        self.clock.set(t);
        self.state.receive([alert]);
    }
}

fn alert(pairs: &[(&str, &str)], starts: i64, ends: Option<i64>) -> Alert {
    Alert {
        labels: Labels::new(pairs.iter().copied()).expect("valid"),
        annotations: Labels::new([("summary", "s")]).expect("valid"),
        starts_at_ms: starts,
        ends_at_ms: ends,
        generator_url: "http://prom/graph".to_owned(),
    }
}

fn names(n: &Notification) -> Vec<String> {
    n.alerts
        .iter()
        .map(|a| {
            format!(
                "{}{}",
                a.alert.labels,
                if a.resolved { " resolved" } else { "" }
            )
        })
        .collect()
}

#[test]
fn group_wait_then_group_interval() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "A"), ("i", "1")], T0, None));
    assert!(h.at(T0 + 29 * S).is_empty());
    let first = h.at(T0 + 30 * S);
    assert_eq!(first.len(), 1);
    let n = &first[0];
    assert_eq!(n.receiver, "hook");
    assert_eq!(n.group_key, r#"{}:{alertname="A"}"#);
    assert_eq!(n.group_labels.to_string(), r#"{alertname="A"}"#);
    assert_eq!(n.external_url, "http://agentmon:8080");
    assert_eq!(n.alerts.len(), 1);
    assert!(!n.alerts[0].resolved);
    assert_eq!(
        n.alerts[0].alert.ends_at_ms, None,
        "firing alerts carry no end"
    );
    // A second alert joins; it waits for the group interval, not group_wait.
    h.send(
        T0 + 40 * S,
        alert(&[("alertname", "A"), ("i", "2")], T0 + 40 * S, None),
    );
    // The first is sent again before its resolve timeout (5m) runs out.
    h.send(
        T0 + 4 * MIN,
        alert(&[("alertname", "A"), ("i", "1")], T0, None),
    );
    assert!(h.at(T0 + 40 * S + 30 * S).is_empty());
    assert!(h.at(T0 + 30 * S + 5 * MIN - 1).is_empty());
    let second = h.at(T0 + 30 * S + 5 * MIN);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].alerts.len(), 2);
    // Nothing changed: the next interval sends nothing.
    h.send(
        T0 + 6 * MIN,
        alert(&[("alertname", "A"), ("i", "1")], T0, None),
    );
    h.send(
        T0 + 6 * MIN,
        alert(&[("alertname", "A"), ("i", "2")], T0 + 40 * S, None),
    );
    assert!(h.at(T0 + 30 * S + 10 * MIN).is_empty());
}

#[test]
fn repeat_interval_resends_unchanged_groups() {
    let mut h = Harness::new();
    let a = alert(&[("alertname", "A")], T0, Some(T0 + 10 * 3600 * S));
    h.send(T0, a);
    assert_eq!(h.at(T0 + 30 * S).len(), 1);
    let mut sent = Vec::new();
    let mut t = T0 + 30 * S;
    while t < T0 + 30 * S + 150 * MIN {
        t += 5 * MIN;
        if !h.at(t).is_empty() {
            sent.push((t - T0 - 30 * S) / MIN);
        }
    }
    // Due when the last notification is older than 1h, checked every 5m:
    // strictly older, so at 65m and 130m (as Alertmanager).
    assert_eq!(sent, [65, 130]);
}

#[test]
fn resolved_alerts_are_sent_once_then_dropped() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "A"), ("i", "1")], T0, None));
    h.send(T0, alert(&[("alertname", "A"), ("i", "2")], T0, None));
    assert_eq!(h.at(T0 + 30 * S)[0].alerts.len(), 2);
    h.send(
        T0 + MIN,
        alert(&[("alertname", "A"), ("i", "1")], T0, Some(T0 + MIN)),
    );
    h.send(
        T0 + 4 * MIN,
        alert(&[("alertname", "A"), ("i", "2")], T0, None),
    );
    let n = h.at(T0 + 30 * S + 5 * MIN);
    assert_eq!(n.len(), 1);
    assert_eq!(
        names(&n[0]),
        [
            r#"{alertname="A", i="1"} resolved"#,
            r#"{alertname="A", i="2"}"#
        ]
    );
    assert_eq!(n[0].alerts[0].alert.ends_at_ms, Some(T0 + MIN));
    // The resolved alert left the group.
    let group = h.state.dispatcher.groups().next().expect("group kept");
    assert_eq!(group.alerts.len(), 1);
    // The other one times out (resolve_timeout 5m after its last update,
    // 4m): resolved from 9m on, notified at the next interval.
    let n = h.at(T0 + 30 * S + 10 * MIN);
    assert_eq!(names(&n[0]), [r#"{alertname="A", i="2"} resolved"#]);
    assert!(
        h.state.dispatcher.groups().next().is_none(),
        "empty group removed"
    );
    assert_eq!(h.state.next_flush_ms(), None);
}

#[test]
fn resolved_only_is_not_sent_without_send_resolved() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "M"), ("team", "mail")], T0, None));
    let first = h.at(T0 + 30 * S);
    assert_eq!(first[0].receiver, "mail");
    h.send(
        T0 + MIN,
        alert(&[("alertname", "M"), ("team", "mail")], T0, Some(T0 + MIN)),
    );
    assert!(h.at(T0 + 30 * S + 5 * MIN).is_empty());
    assert!(h.state.dispatcher.groups().next().is_none());
}

#[test]
fn old_alerts_flush_at_once_and_continue_reaches_both() {
    let mut h = Harness::new();
    h.send(
        T0,
        alert(&[("alertname", "B"), ("team", "both")], T0 - 10 * MIN, None),
    );
    assert_eq!(h.state.next_flush_ms(), Some(T0));
    let n = h.at(T0);
    let receivers: Vec<&str> = n.iter().map(|n| n.receiver.as_str()).collect();
    assert_eq!(receivers.len(), 2);
    assert!(receivers.contains(&"hook") && receivers.contains(&"mail"));
    let keys: Vec<&str> = n.iter().map(|n| n.group_key.as_str()).collect();
    assert!(keys.contains(&r#"{}/{team="both"}:{alertname="B"}"#));
}

#[test]
fn silences_mute_until_expired() {
    let mut h = Harness::new();
    let silence = Silence {
        id: String::new(),
        matchers: Matchers(parse_matchers("alertname=A").expect("parses")),
        starts_at_ms: T0,
        ends_at_ms: T0 + 3600 * S,
        updated_at_ms: 0,
        created_by: "me".to_owned(),
        comment: String::new(),
    };
    let id = h.state.silences.set(silence, T0).expect("set");
    h.send(T0, alert(&[("alertname", "A")], T0, None));
    assert!(h.at(T0 + 30 * S).is_empty());
    h.state.silences.expire(&id, T0 + MIN).expect("expire");
    h.send(T0 + 2 * MIN, alert(&[("alertname", "A")], T0, None));
    let n = h.at(T0 + 30 * S + 5 * MIN);
    assert_eq!(n.len(), 1);
}

#[test]
fn inhibited_alerts_are_left_out() {
    let mut h = Harness::new();
    h.send(
        T0,
        alert(&[("alertname", "A"), ("severity", "critical")], T0, None),
    );
    h.send(
        T0,
        alert(&[("alertname", "A"), ("severity", "warning")], T0, None),
    );
    h.send(
        T0,
        alert(&[("alertname", "B"), ("severity", "warning")], T0, None),
    );
    let n = h.at(T0 + 30 * S);
    let mut all: Vec<String> = n.iter().flat_map(names).collect();
    all.sort();
    assert_eq!(
        all,
        [
            r#"{alertname="A", severity="critical"}"#,
            r#"{alertname="B", severity="warning"}"#
        ]
    );
}

#[test]
fn mute_time_interval_holds_notifications() {
    let mut h = Harness::new();
    // 12:00 to 12:10 on Fridays is muted; T0 is Friday 12:00.
    h.send(
        T0,
        alert(&[("alertname", "Q"), ("team", "muted")], T0, None),
    );
    assert!(h.at(T0 + 30 * S).is_empty());
    h.send(
        T0 + 4 * MIN,
        alert(&[("alertname", "Q"), ("team", "muted")], T0, None),
    );
    let n = h.at(T0 + 30 * S + 5 * MIN);
    assert!(n.is_empty(), "12:05:30 is still muted");
    h.send(
        T0 + 9 * MIN,
        alert(&[("alertname", "Q"), ("team", "muted")], T0, None),
    );
    let n = h.at(T0 + 30 * S + 10 * MIN);
    assert_eq!(n.len(), 1, "12:10:30 is outside the interval");
}

#[test]
fn group_by_all_and_ordering() {
    let mut h = Harness::new();
    h.send(
        T0,
        alert(&[("alertname", "Z"), ("team", "all"), ("x", "1")], T0, None),
    );
    h.send(
        T0,
        alert(
            &[("alertname", "Y"), ("team", "mail"), ("job", "b")],
            T0,
            None,
        ),
    );
    h.send(
        T0,
        alert(
            &[
                ("alertname", "Y"),
                ("team", "mail"),
                ("job", "a"),
                ("z", "1"),
            ],
            T0,
            None,
        ),
    );
    h.send(T0, alert(&[("alertname", "Y"), ("team", "mail")], T0, None));
    let n = h.at(T0 + 30 * S);
    let all = n.iter().find(|n| n.receiver == "hook").expect("hook");
    assert_eq!(
        all.group_key,
        r#"{}/{team="all"}:{alertname="Z", team="all", x="1"}"#
    );
    let mail = n.iter().find(|n| n.receiver == "mail").expect("mail");
    let jobs: Vec<Option<&str>> = mail
        .alerts
        .iter()
        .map(|a| a.alert.labels.get("job"))
        .collect();
    assert_eq!(jobs, [Some("a"), Some("b"), None]);
}

#[test]
fn reload_regroups_without_resending() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "A")], T0, None));
    assert_eq!(h.at(T0 + 30 * S).len(), 1);
    let config = AlertmanagerConfig::from_yaml(BASE).expect("valid");
    h.clock.set(T0 + MIN);
    h.state.reload(config);
    // A new group waits again, and the notification log suppresses a
    // duplicate.
    h.send(T0 + 2 * MIN, alert(&[("alertname", "A")], T0, None));
    assert!(h.at(T0 + MIN + 30 * S).is_empty());
    assert!(h.state.dispatcher.groups().next().is_some());
}

#[test]
fn reload_still_notifies_a_resolution() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "A")], T0, None));
    assert_eq!(h.at(T0 + 30 * S).len(), 1);
    h.send(T0 + MIN, alert(&[("alertname", "A")], T0, Some(T0 + MIN)));
    h.clock.set(T0 + 2 * MIN);
    h.state
        .reload(AlertmanagerConfig::from_yaml(BASE).expect("valid"));
    // The rebuilt group holds the resolved alert; its old start makes it
    // flush at once, and the notification log says it was firing.
    let n = h.at(T0 + 2 * MIN);
    assert_eq!(n.len(), 1);
    assert_eq!(names(&n[0]), [r#"{alertname="A"} resolved"#]);
}

#[test]
fn notification_log_survives_a_restart() {
    let mut h = Harness::new();
    h.send(T0, alert(&[("alertname", "A")], T0, None));
    assert_eq!(h.at(T0 + 30 * S).len(), 1);
    let saved = h.state.dispatcher.log_entries();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].group_key, r#"{}:{alertname="A"}"#);
    assert_eq!(saved[0].at_ms, T0 + 30 * S);
    // A new process: the same alert is sent again (as Prometheus does);
    // with the restored log it is not notified twice.
    let mut fresh = Harness::new();
    fresh.state.dispatcher.restore_log(saved.clone());
    fresh.send(T0 + MIN, alert(&[("alertname", "A")], T0, None));
    assert!(fresh.at(T0 + MIN).is_empty());
    // Without it, it would be.
    let mut forgetful = Harness::new();
    forgetful.send(T0 + MIN, alert(&[("alertname", "A")], T0, None));
    assert_eq!(forgetful.at(T0 + MIN).len(), 1);
}

#[test]
fn a_forgotten_notification_is_sent_again_at_the_next_flush() {
    let mut remembered = Harness::new();
    let mut forgotten = Harness::new();
    for h in [&mut remembered, &mut forgotten] {
        h.send(T0, alert(&[("alertname", "A")], T0, Some(T0 + 60 * MIN)));
        assert_eq!(h.at(T0 + 30 * S).len(), 1);
    }
    forgotten
        .state
        .dispatcher
        .forget_notified("hook", r#"{}:{alertname="A"}"#);
    assert!(remembered.at(T0 + 30 * S + 5 * MIN).is_empty());
    assert_eq!(forgotten.at(T0 + 30 * S + 5 * MIN).len(), 1);
}

#[test]
fn active_time_interval_sends_only_inside_it() {
    let mut h = Harness::new();
    // Sent during the interval (Friday 12:00-12:10): goes out.
    h.send(
        T0,
        alert(&[("alertname", "O"), ("team", "office")], T0, None),
    );
    assert_eq!(h.at(T0 + 30 * S).len(), 1);
    // A new alert of the group at 12:12: the next flushes are outside the
    // interval and hold it; a week later it goes out.
    h.send(
        T0 + 12 * MIN,
        alert(
            &[("alertname", "O"), ("team", "office"), ("i", "2")],
            T0 + 12 * MIN,
            Some(T0 + 8 * 24 * 60 * MIN),
        ),
    );
    h.send(
        T0 + 12 * MIN,
        alert(
            &[("alertname", "O"), ("team", "office")],
            T0,
            Some(T0 + 8 * 24 * 60 * MIN),
        ),
    );
    assert!(h.at(T0 + 30 * S + 15 * MIN).is_empty());
    let week = 7 * 24 * 60 * MIN;
    let n = h.at(T0 + week + MIN);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].alerts.len(), 2);
}
