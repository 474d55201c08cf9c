//! Rule evaluation with a fake clock (evaluation timestamps passed in) over
//! an in-memory store and the real PromQL engine.

use std::sync::Arc;

use agentmon_model::Alert;
use agentmon_promql::Engine;
use parking_lot::Mutex;

use super::*;
use crate::alerting::{ActiveAlert, ALERTS_FOR_STATE_METRIC, ALERTS_METRIC};
use crate::api::{RuleFilter, RuleType};
use crate::file::parse_rule_file;
use crate::memory::MemoryStore;
use crate::query::EngineQueryFunc;
use crate::template::{Expander, TemplateData};

const MIN: i64 = 60_000;

struct Fixture {
    store: Arc<MemoryStore>,
    sent: Arc<Mutex<Vec<Alert>>>,
    ctx: RuleContext,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let query = Arc::new(EngineQueryFunc::new(Engine::default(), store.clone()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sink = sent.clone();
    let mut ctx = RuleContext::new(
        query,
        store.clone(),
        Arc::new(move |alerts: &[Alert]| sink.lock().extend_from_slice(alerts)),
    );
    ctx.series = Some(store.clone());
    ctx.external_url = "http://agentmon:9009".to_owned();
    Fixture { store, sent, ctx }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

/// `x{a=...}` with `value(minute)` at each minute of `minutes`.
fn put(
    store: &MemoryStore,
    a: &str,
    minutes: std::ops::RangeInclusive<i64>,
    value: fn(i64) -> f64,
) {
    for m in minutes {
        store
            .add(
                labels(&[("__name__", "x"), ("a", a)]),
                Sample::new(m * MIN, value(m)),
            )
            .unwrap();
    }
}

fn group(fixture: &Fixture, text: &str, restore: bool) -> Group {
    let mut definitions =
        parse_rule_file("rules.yml", text, fixture.ctx.expander.as_ref()).unwrap();
    Group::new(definitions.remove(0), &fixture.ctx, restore)
}

fn alerting(group: &Group, index: usize) -> &AlertingRule {
    match &group.rules[index].rule {
        Rule::Alerting(rule) => rule,
        other => panic!("not an alerting rule: {other:?}"),
    }
}

fn only_alert(group: &Group) -> ActiveAlert {
    let rule = alerting(group, 0);
    assert_eq!(rule.active.len(), 1, "{:?}", rule.active);
    rule.active.values().next().unwrap().clone()
}

fn alerts_series(store: &MemoryStore, state: &str, extra: &[(&str, &str)]) -> Vec<Sample> {
    let mut pairs = vec![
        ("__name__", ALERTS_METRIC),
        ("alertname", "A"),
        ("alertstate", state),
    ];
    pairs.extend_from_slice(extra);
    store.samples(&labels(&pairs))
}

const FOR_3M: &str = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        for: 3m
        labels: {severity: page}
"#;

#[test]
fn alerts_go_pending_then_firing_after_for() {
    let f = fixture();
    put(&f.store, "1", 0..=10, |_| 1.0);
    let mut g = group(&f, FOR_3M, false);
    let mut states = Vec::new();
    for m in 0..=5 {
        g.eval(&f.ctx, m * MIN);
        states.push(only_alert(&g).state);
        if m == 4 {
            assert_eq!(
                f.sent.lock().len(),
                1,
                "no resend one minute after the first send"
            );
        }
    }
    use AlertState::*;
    assert_eq!(states, [Pending, Pending, Pending, Firing, Firing, Firing]);
    let alert = only_alert(&g);
    assert_eq!(alert.active_at_ms, 0);
    assert_eq!(alert.fired_at_ms, Some(3 * MIN));
    assert_eq!(
        alert.labels,
        labels(&[("a", "1"), ("alertname", "A"), ("severity", "page")])
    );

    let extra = [("a", "1"), ("severity", "page")];
    let pending = alerts_series(&f.store, "pending", &extra);
    assert_eq!(pending.len(), 4, "{pending:?}");
    assert_eq!(
        pending[..3].iter().map(|s| s.t).collect::<Vec<_>>(),
        [0, MIN, 2 * MIN]
    );
    assert!(
        is_stale_nan(pending[3].v) && pending[3].t == 3 * MIN,
        "stale marker when it fires"
    );
    let firing = alerts_series(&f.store, "firing", &extra);
    assert_eq!(
        firing.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(),
        [(3 * MIN, 1.0), (4 * MIN, 1.0), (5 * MIN, 1.0)]
    );
    let for_state = f.store.samples(&labels(&[
        ("__name__", ALERTS_FOR_STATE_METRIC),
        ("a", "1"),
        ("alertname", "A"),
        ("severity", "page"),
    ]));
    assert_eq!(for_state.len(), 6);
    assert!(for_state.iter().all(|s| s.v == 0.0));

    let sent = f.sent.lock().clone();
    assert_eq!(
        sent.len(),
        2,
        "sent when it fired and again after the resend delay"
    );
    assert_eq!(sent[0].starts_at_ms, 3 * MIN);
    assert_eq!(sent[0].ends_at_ms, Some(3 * MIN + 4 * MIN));
    assert_eq!(sent[1].ends_at_ms, Some(5 * MIN + 4 * MIN));
    assert_eq!(
        sent[0].generator_url,
        "http://agentmon:9009/graph?g0.expr=x+%3E+0&g0.tab=1"
    );
    assert_eq!(g.rules[0].status.health, RuleHealth::Ok);
    assert_eq!(g.rules[0].status.last_evaluation_ms, Some(5 * MIN));
}

#[test]
fn pending_alerts_that_vanish_are_dropped_unsent() {
    let f = fixture();
    put(&f.store, "1", 0..=1, |_| 1.0);
    put(&f.store, "1", 2..=5, |_| 0.0);
    let mut g = group(&f, FOR_3M, false);
    for m in 0..=3 {
        g.eval(&f.ctx, m * MIN);
    }
    assert!(alerting(&g, 0).active.is_empty());
    assert!(f.sent.lock().is_empty());
}

#[test]
fn resolved_alerts_are_sent_kept_for_15m_then_dropped() {
    let f = fixture();
    put(&f.store, "1", 0..=3, |_| 1.0);
    put(&f.store, "1", 4..=30, |_| 0.0);
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n        for: 1m\n";
    let mut g = group(&f, text, false);
    let mut sends = Vec::new();
    for m in 0..=20 {
        g.eval(&f.ctx, m * MIN);
        let count = f.sent.lock().len();
        sends.push(count);
        if m == 19 {
            assert_eq!(alerting(&g, 0).active.len(), 1, "kept 15m after resolving");
        }
    }
    assert!(alerting(&g, 0).active.is_empty(), "dropped after 15m");
    // Fired at 1m (sent), resent at 3m, resolved at 4m (sent at once), then
    // resent every two minutes (strictly after the one-minute delay).
    assert_eq!(&sends[..8], [0, 1, 1, 2, 3, 3, 4, 4]);
    let sent = f.sent.lock().clone();
    let resolved = &sent[2];
    assert_eq!(resolved.starts_at_ms, MIN);
    assert_eq!(resolved.ends_at_ms, Some(4 * MIN));
    assert!(resolved.is_resolved_at(4 * MIN));
    let firing = alerts_series(&f.store, "firing", &[("a", "1")]);
    let last = firing.last().unwrap();
    assert!(is_stale_nan(last.v) && last.t == 4 * MIN);
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let f = fixture();
    put(&f.store, "1", 0..=1, |_| 1.0);
    put(&f.store, "1", 2..=9, |_| 0.0);
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n        keep_firing_for: 2m\n";
    let mut g = group(&f, text, false);
    let mut states = Vec::new();
    for m in 0..=4 {
        g.eval(&f.ctx, m * MIN);
        states.push(only_alert(&g).state);
    }
    use AlertState::*;
    assert_eq!(states, [Firing, Firing, Firing, Firing, Inactive]);
    assert_eq!(only_alert(&g).resolved_at_ms, Some(4 * MIN));
}

#[test]
fn limit_errors_the_rule() {
    let f = fixture();
    put(&f.store, "1", 0..=1, |_| 1.0);
    put(&f.store, "2", 0..=1, |_| 1.0);
    let text = "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: x > 0\n      - record: r\n        expr: x\n";
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 0);
    assert_eq!(g.rules[0].status.health, RuleHealth::Err);
    assert_eq!(
        g.rules[0].status.last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(alerting(&g, 0).active.is_empty());
    assert_eq!(
        g.rules[1].status.last_error.as_deref(),
        Some("exceeded limit of 1 with 2 series")
    );
    assert!(f.store.series_named("r").is_empty(), "nothing written");
}

#[test]
fn recording_output_is_seen_by_later_rules_of_the_same_evaluation() {
    let f = fixture();
    put(&f.store, "1", 0..=5, |_| 1.0);
    put(&f.store, "2", 0..=5, |_| 1.0);
    let text = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: r > 1
      - record: r
        expr: sum(x)
        labels: {team: t}
      - alert: B
        expr: r > 1
"#;
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 0);
    assert!(alerting(&g, 0).active.is_empty(), "A ran before r existed");
    let b = alerting(&g, 2);
    let alert = b.active.values().next().expect("B sees r at once");
    assert_eq!(alert.value, 2.0);
    assert_eq!(alert.labels, labels(&[("alertname", "B"), ("team", "t")]));
    let recorded = f
        .store
        .samples(&labels(&[("__name__", "r"), ("team", "t")]));
    assert_eq!(recorded, [Sample::new(0, 2.0)]);
}

#[test]
fn recording_series_that_disappear_get_stale_markers() {
    let f = fixture();
    put(&f.store, "1", 0..=3, |_| 1.0);
    put(&f.store, "2", 0..=1, |_| 1.0);
    f.store
        .add(
            labels(&[("__name__", "x"), ("a", "2")]),
            Sample::new(2 * MIN, STALE_NAN),
        )
        .unwrap();
    let text = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x * 2\n";
    let mut g = group(&f, text, false);
    for m in 0..=3 {
        g.eval(&f.ctx, m * MIN);
    }
    let gone = f.store.samples(&labels(&[("__name__", "r"), ("a", "2")]));
    assert_eq!(gone.len(), 3);
    assert!(is_stale_nan(gone[2].v) && gone[2].t == 2 * MIN);
    let kept = f.store.samples(&labels(&[("__name__", "r"), ("a", "1")]));
    assert_eq!(kept.iter().map(|s| s.v).collect::<Vec<_>>(), [2.0; 4]);
}

#[test]
fn query_offset_shifts_queries_and_output() {
    let f = fixture();
    put(&f.store, "1", 0..=10, |m| m as f64);
    let text = "groups:\n  - name: g\n    query_offset: 1m\n    rules:\n      - record: r\n        expr: x\n";
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 5 * MIN);
    let recorded = f.store.samples(&labels(&[("__name__", "r"), ("a", "1")]));
    assert_eq!(recorded, [Sample::new(4 * MIN, 4.0)]);
}

#[test]
fn identical_output_series_are_an_error() {
    let f = fixture();
    put(&f.store, "1", 0..=1, |_| 1.0);
    put(&f.store, "2", 0..=1, |_| 1.0);
    let text = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n        labels: {a: same}\n";
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 0);
    assert_eq!(
        g.rules[0].status.last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying rule labels")
    );
}

#[test]
fn failing_queries_make_the_rule_unhealthy() {
    let mut f = fixture();
    f.ctx.query = Arc::new(
        |_: &str, _: i64| -> Result<Vec<agentmon_promql::InstantSample>, String> {
            Err("storage is on fire".to_owned())
        },
    );
    let mut g = group(&f, FOR_3M, false);
    assert_eq!(g.rules[0].status.health, RuleHealth::Unknown);
    g.eval(&f.ctx, 0);
    assert_eq!(g.rules[0].status.health, RuleHealth::Err);
    assert_eq!(
        g.rules[0].status.last_error.as_deref(),
        Some("storage is on fire")
    );
}

/// Expands `{{ $labels.a }}` and `{{ $value }}` only: enough to check what
/// the evaluator hands a template engine.
struct TinyExpander;

impl Expander for TinyExpander {
    fn check(&self, _name: &str, _text: &str) -> Result<(), String> {
        Ok(())
    }
    fn expand(&self, name: &str, text: &str, data: &TemplateData) -> Result<String, String> {
        if text.contains("{{ fail }}") {
            return Err(format!("template: {name}: fail"));
        }
        Ok(text
            .replace(
                "{{ $labels.a }}",
                data.labels.get("a").map_or("", String::as_str),
            )
            .replace("{{ $value }}", &data.value.to_string())
            .replace("{{ $externalURL }}", &data.external_url)
            .replace(
                "{{ $labels.__name__ }}",
                data.labels.get("__name__").map_or("", String::as_str),
            ))
    }
}

#[test]
fn labels_and_annotations_are_expanded_per_alert() {
    let mut f = fixture();
    f.ctx.expander = Arc::new(TinyExpander);
    put(&f.store, "1", 0..=1, |_| 7.0);
    let text = r#"
groups:
  - name: g
    rules:
      - alert: A
        expr: x > 0
        labels: {instance: "i-{{ $labels.a }}"}
        annotations: {summary: "value {{ $value }} at {{ $externalURL }}", broken: "{{ fail }}", metric: "{{ $labels.__name__ }}"}
"#;
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 0);
    let alert = only_alert(&g);
    assert_eq!(alert.labels.get("instance"), Some("i-1"));
    assert_eq!(
        alert.annotations.get("summary"),
        Some("value 7 at http://agentmon:9009")
    );
    assert_eq!(alert.annotations.get("metric"), Some("x"));
    assert_eq!(alert.labels.get("__name__"), None);
    assert_eq!(
        alert.annotations.get("broken"),
        Some("<error expanding template: template: __alert_A: fail>")
    );
}

const FOR_30M: &str = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n        for: 30m\n      - alert: B\n        expr: x > 0\n        for: 15m\n      - alert: C\n        expr: x > 0\n        for: 5m\n";

#[test]
fn for_state_is_restored_after_a_restart() {
    let f = fixture();
    put(&f.store, "1", 0..=300, |_| 1.0);
    let mut before = group(&f, FOR_30M, false);
    for m in 0..=10 {
        before.eval(&f.ctx, m * MIN);
    }
    // Down from 10m to 20m; the new process evaluates twice, then restores.
    let mut after = group(&f, FOR_30M, true);
    after.eval(&f.ctx, 20 * MIN);
    assert!(
        alerts_series(&f.store, "pending", &[("a", "1")])
            .iter()
            .all(|s| s.t <= 10 * MIN),
        "no ALERTS before restoring"
    );
    after.eval(&f.ctx, 21 * MIN);
    after.restore_for_state(&f.ctx, 21 * MIN);
    let active_at = |index: usize| {
        alerting(&after, index)
            .active
            .values()
            .next()
            .unwrap()
            .active_at_ms
    };
    // A: 10m of 30m spent; the 10m outage is added.
    assert_eq!(active_at(0), 11 * MIN);
    // B: 5m left is less than the 10m grace period: fires 10m from now.
    assert_eq!(active_at(1), 21 * MIN + 10 * MIN - 15 * MIN);
    // C: `for` shorter than the grace period: not restored.
    assert_eq!(active_at(2), 20 * MIN);
    after.eval(&f.ctx, 40 * MIN);
    assert_eq!(alerting(&after, 0).state(), AlertState::Pending);
    after.eval(&f.ctx, 41 * MIN);
    assert_eq!(alerting(&after, 0).state(), AlertState::Firing);
    let pending = alerts_series(&f.store, "pending", &[("a", "1")]);
    assert!(
        pending.iter().any(|s| s.t == 40 * MIN),
        "ALERTS written after restoring"
    );
}

#[test]
fn nothing_is_restored_after_a_long_outage() {
    let f = fixture();
    put(&f.store, "1", 0..=300, |_| 1.0);
    let mut before = group(&f, FOR_30M, false);
    for m in 0..=10 {
        before.eval(&f.ctx, m * MIN);
    }
    let mut after = group(&f, FOR_30M, true);
    after.eval(&f.ctx, 80 * MIN);
    after.eval(&f.ctx, 81 * MIN);
    after.restore_for_state(&f.ctx, 81 * MIN);
    let first = alerting(&after, 0)
        .active
        .values()
        .next()
        .unwrap()
        .active_at_ms;
    assert_eq!(
        first,
        80 * MIN,
        "series older than the outage tolerance are ignored"
    );
}

#[test]
fn copy_state_keeps_alerts_across_a_reload() {
    let f = fixture();
    put(&f.store, "1", 0..=10, |_| 1.0);
    let mut old = group(&f, FOR_3M, false);
    old.eval(&f.ctx, 0);
    old.eval(&f.ctx, MIN);
    let changed = FOR_3M.replace("name: g", "name: g\n    interval: 30s");
    let mut new = group(&f, &changed, false);
    new.copy_state(&old);
    new.eval(&f.ctx, 3 * MIN);
    let alert = only_alert(&new);
    assert_eq!(alert.active_at_ms, 0);
    assert_eq!(alert.state, AlertState::Firing);
}

#[test]
fn evaluation_times_are_aligned_per_group() {
    let f = fixture();
    let g = group(&f, FOR_3M, false);
    let interval = 60_000;
    let first = g.eval_timestamp(1_700_000_000_123);
    assert!(first <= 1_700_000_000_123 && first > 1_700_000_000_123 - interval);
    for now in [1_700_000_000_123, 1_700_000_030_000, 1_700_000_555_555] {
        let ts = g.eval_timestamp(now);
        assert!(ts <= now && now - ts < interval);
        assert_eq!((ts - first).rem_euclid(interval), 0, "same phase at {now}");
    }
    let mut other = g.clone();
    other.definition.name = "another".to_owned();
    assert_ne!(
        other.eval_timestamp(1_700_000_000_123),
        first,
        "groups spread over the interval"
    );
}

#[test]
fn generator_urls_escape_like_go() {
    assert_eq!(
        generator_url("http://h:9090/", "sum(up{job=\"a b\"}) == 0"),
        "http://h:9090/graph?g0.expr=sum%28up%7Bjob%3D%22a+b%22%7D%29+%3D%3D+0&g0.tab=1"
    );
}

#[test]
fn api_json_has_prometheus_field_names() {
    let f = fixture();
    put(&f.store, "1", 0..=10, |_| 1.0);
    let mut g = group(&f, FOR_3M, false);
    g.eval(&f.ctx, 0);
    let json = serde_json::to_value(crate::api::rule_discovery(
        std::slice::from_ref(&g),
        &RuleFilter::default(),
    ))
    .unwrap();
    let rule = &json["groups"][0]["rules"][0];
    assert_eq!(json["groups"][0]["name"], "g");
    assert_eq!(json["groups"][0]["file"], "rules.yml");
    assert_eq!(json["groups"][0]["interval"], 60);
    assert_eq!(
        serde_json::to_string(&json["groups"][0]["interval"]).unwrap(),
        "60"
    );
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["state"], "pending");
    assert_eq!(rule["duration"], 180);
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["lastEvaluation"], "1970-01-01T00:00:00Z");
    assert!(rule.get("lastError").is_none());
    assert_eq!(rule["alerts"][0]["state"], "pending");
    assert_eq!(rule["alerts"][0]["value"], "1e+00");
    assert_eq!(rule["alerts"][0]["activeAt"], "1970-01-01T00:00:00Z");
    assert_eq!(rule["alerts"][0]["labels"]["alertname"], "A");
    let alerts =
        serde_json::to_value(crate::api::alert_discovery(std::slice::from_ref(&g))).unwrap();
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1);
    let groups = [g];
    let only = |filter: RuleFilter| {
        serde_json::to_value(crate::api::rule_discovery(&groups, &filter)).unwrap()
    };
    let recording_only = only(RuleFilter {
        kind: Some(RuleType::Record),
        ..RuleFilter::default()
    });
    assert_eq!(
        recording_only["groups"],
        serde_json::json!([]),
        "emptied groups are left out"
    );
    let by_name = only(RuleFilter {
        rule_names: vec!["A".to_owned()],
        exclude_alerts: true,
        ..RuleFilter::default()
    });
    assert_eq!(by_name["groups"][0]["rules"][0]["name"], "A");
    assert!(by_name["groups"][0]["rules"][0]["alerts"].is_null());
    let other_file = only(RuleFilter {
        files: vec!["other.yml".to_owned()],
        ..RuleFilter::default()
    });
    assert_eq!(other_file["groups"], serde_json::json!([]));
    assert_eq!(RuleType::parse("ALERT"), Ok(Some(RuleType::Alert)));
    assert!(RuleType::parse("both").is_err());
}

#[test]
fn rules_dropped_by_a_reload_get_stale_markers() {
    let f = fixture();
    put(&f.store, "1", 0..=10, |_| 1.0);
    let text = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n      - record: s\n        expr: x\n";
    let mut old = group(&f, text, true);
    old.eval(&f.ctx, 0);
    let mut new = group(&f, &text.replace("record: s", "record: t"), false);
    new.copy_state(&old);
    assert!(new.should_restore, "still waiting to restore");
    new.eval(&f.ctx, MIN);
    let s = f.store.samples(&labels(&[("__name__", "s"), ("a", "1")]));
    assert_eq!(s.len(), 2);
    assert!(is_stale_nan(s[1].v) && s[1].t == MIN);
    let r = f.store.samples(&labels(&[("__name__", "r"), ("a", "1")]));
    assert_eq!(
        r.iter().map(|p| p.v).collect::<Vec<_>>(),
        [1.0, 1.0],
        "kept rule not stale"
    );
}

#[test]
fn self_metrics_count_evaluations_and_failures() {
    let f = fixture();
    put(&f.store, "1", 0..=1, |_| 1.0);
    put(&f.store, "2", 0..=1, |_| 1.0);
    let text = "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: x > 0\n      - record: r\n        expr: sum(x)\n";
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 0);
    g.eval(&f.ctx, MIN);
    let mut out = String::new();
    crate::metrics::write_rule_metrics(std::slice::from_ref(&g), &mut out);
    assert!(
        out.contains("agentmon_rule_evaluations_total{rule_group=\"rules.yml;g\"} 4\n"),
        "{out}"
    );
    assert!(
        out.contains("agentmon_rule_evaluation_failures_total{rule_group=\"rules.yml;g\"} 2\n"),
        "{out}"
    );
    assert!(out.contains("agentmon_rule_group_last_evaluation_timestamp_seconds{rule_group=\"rules.yml;g\"} 60\n"), "{out}");
    assert!(
        out.contains("agentmon_rule_group_rules{rule_group=\"rules.yml;g\"} 2\n"),
        "{out}"
    );
    assert!(out.contains("# TYPE agentmon_rule_evaluations_total counter\n"));
}

#[test]
fn alerts_written_during_an_evaluation_are_seen_by_later_rules() {
    let f = fixture();
    put(&f.store, "1", 0..=5, |_| 1.0);
    // `Before` reads ALERTS before `High` writes it; `After` must still see
    // it, so ALERTS is never answered from an earlier read of the group.
    let text = r#"
groups:
  - name: g
    rules:
      - alert: Before
        expr: ALERTS{alertname="High"}
      - alert: High
        expr: x > 0
      - alert: After
        expr: ALERTS{alertname="High"}
"#;
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 5 * MIN);
    assert!(alerting(&g, 0).active.is_empty());
    assert_eq!(alerting(&g, 1).active.len(), 1);
    assert_eq!(alerting(&g, 2).active.len(), 1, "After sees High's ALERTS");
}

/// A store that counts the selects reaching it.
struct CountingStore {
    store: Arc<MemoryStore>,
    selects: std::sync::atomic::AtomicUsize,
}

impl agentmon_promql::Storage for CountingStore {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<agentmon_tsdb::Series>, String> {
        self.selects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.store.select(matchers, mint, maxt)
    }
}

#[test]
fn rules_of_one_evaluation_read_a_selector_once() {
    let mut f = fixture();
    put(&f.store, "1", 0..=20, |m| m as f64);
    put(&f.store, "2", 0..=20, |m| 2.0 * m as f64);
    let counting = Arc::new(CountingStore {
        store: f.store.clone(),
        selects: Default::default(),
    });
    f.ctx.query = Arc::new(EngineQueryFunc::new(Engine::default(), counting.clone()));
    let text = r#"
groups:
  - name: g
    rules:
      - alert: Slow
        expr: rate(x[10m]) > 0
      - alert: Fast
        expr: rate(x[5m]) > 0.025
      - alert: Level
        expr: x > 30
"#;
    let mut g = group(&f, text, false);
    g.eval(&f.ctx, 20 * MIN);
    assert_eq!(
        counting.selects.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the 5m window and the lookback lie inside the 10m read"
    );
    // The answers are those of separate reads.
    assert_eq!(alerting(&g, 0).active.len(), 2);
    let fast = alerting(&g, 1);
    assert_eq!(fast.active.len(), 1);
    assert_eq!(
        fast.active.values().next().unwrap().labels.get("a"),
        Some("2")
    );
    let level = alerting(&g, 2);
    assert_eq!(level.active.len(), 1);
    assert_eq!(level.active.values().next().unwrap().value, 40.0);
    g.eval(&f.ctx, 21 * MIN);
    assert_eq!(
        counting.selects.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "nothing is kept from one evaluation to the next"
    );
}
