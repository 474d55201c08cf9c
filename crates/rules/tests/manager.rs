//! The rule manager on real tokio tasks and the wall clock: groups run at
//! short intervals, reloads keep the last good rules, removed groups mark
//! their series stale; and `check_files` prints what promtool prints.

use std::sync::Arc;
use std::time::Duration;

use agentmon_model::{is_stale_nan, Alert, Labels, Sample};
use agentmon_promql::Engine;
use agentmon_rules::{
    check_files, now_ms, EngineQueryFunc, GoTemplateExpander, MemoryStore, RuleContext, RuleHealth,
    RuleManager,
};
use parking_lot::Mutex;

fn manager() -> (RuleManager, Arc<MemoryStore>, Arc<Mutex<Vec<Alert>>>) {
    let store = Arc::new(MemoryStore::new());
    let query = Arc::new(EngineQueryFunc::new(Engine::default(), store.clone()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sink = sent.clone();
    let ctx = RuleContext::new(
        query,
        store.clone(),
        Arc::new(move |alerts: &[Alert]| sink.lock().extend_from_slice(alerts)),
    );
    (RuleManager::new(ctx), store, sent)
}

/// Waits up to 10 s for `condition`.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

const GOOD: &str = r#"
groups:
  - name: fast
    interval: 100ms
    rules:
      - record: two
        expr: vector(2)
      - alert: Always
        expr: vector(1)
        labels: {severity: info}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_groups_and_keeps_the_last_good_rules_on_a_broken_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.rules.yml");
    std::fs::write(&file, GOOD).unwrap();
    let (manager, store, sent) = manager();
    let patterns = vec!["*.rules.yml".to_owned()];
    manager.update(&patterns, Some(dir.path())).await.unwrap();

    let two = Labels::new([("__name__", "two")]).unwrap();
    assert!(
        eventually(|| store.samples(&two).len() >= 3).await,
        "the group runs every 100ms"
    );
    let samples = store.samples(&two);
    let steps: Vec<i64> = samples.windows(2).map(|w| w[1].t - w[0].t).collect();
    assert!(
        steps.iter().all(|s| s % 100 == 0),
        "aligned steps: {steps:?}"
    );
    assert!(
        eventually(|| !sent.lock().is_empty()).await,
        "the alert is sent"
    );
    assert_eq!(sent.lock()[0].name(), "Always");
    let groups = manager.groups();
    assert_eq!(groups.len(), 1);
    assert!(groups[0]
        .rules
        .iter()
        .all(|r| r.status.health == RuleHealth::Ok));
    let json = serde_json::to_value(manager.alert_discovery()).unwrap();
    assert_eq!(json["alerts"][0]["labels"]["alertname"], "Always");
    assert_eq!(json["alerts"][0]["state"], "firing");

    std::fs::write(
        &file,
        "groups:\n  - name: fast\n    rules:\n      - record: 'bad name'\n        expr: up\n",
    )
    .unwrap();
    let err = manager
        .update(&patterns, Some(dir.path()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid recording rule name: bad name"),
        "{err}"
    );
    assert_eq!(manager.last_error(), Some(err.to_string()));
    let before = store.samples(&two).len();
    assert!(
        eventually(|| store.samples(&two).len() > before + 1).await,
        "the last good rules keep running"
    );

    // A good reload without the group stops it and marks its series stale.
    std::fs::write(&file, "groups: []\n").unwrap();
    manager.update(&patterns, Some(dir.path())).await.unwrap();
    assert_eq!(manager.last_error(), None);
    assert!(manager.groups().is_empty());
    let last: Sample = *store.samples(&two).last().unwrap();
    assert!(is_stale_nan(last.v), "{last:?}");
    assert!((now_ms() - last.t).abs() < 10_000);
    manager.stop().await;
}

#[tokio::test]
async fn changed_groups_keep_their_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    std::fs::write(&file, GOOD.replace("labels: {severity: info}", "for: 1h")).unwrap();
    let (manager, store, _sent) = manager();
    let patterns = vec![file.to_string_lossy().into_owned()];
    manager.update(&patterns, None).await.unwrap();
    let active_at = |m: &RuleManager| {
        m.groups().first().and_then(|g| match &g.rules[1].rule {
            agentmon_rules::Rule::Alerting(rule) => {
                rule.active_alerts().next().map(|a| a.active_at_ms)
            }
            _ => None,
        })
    };
    assert!(eventually(|| active_at(&manager).is_some()).await);
    let first = active_at(&manager);
    std::fs::write(
        &file,
        GOOD.replace("labels: {severity: info}", "for: 1h")
            .replace("vector(2)", "vector(3)"),
    )
    .unwrap();
    manager.update(&patterns, None).await.unwrap();
    let two = Labels::new([("__name__", "two")]).unwrap();
    assert!(
        eventually(|| store.samples(&two).last().is_some_and(|s| s.v == 3.0)).await,
        "the changed group runs"
    );
    assert_eq!(active_at(&manager), first, "pending since the first load");
    manager.stop().await;
}

#[test]
fn check_files_prints_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, GOOD).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {'x-y': z}\n",
    )
    .unwrap();
    let good = good.to_string_lossy().into_owned();
    let bad = bad.to_string_lossy().into_owned();
    let report = check_files(&[good.clone(), bad.clone()], &GoTemplateExpander);
    assert!(!report.passed());
    assert_eq!(
        report.stdout(),
        format!("Checking {good}\n  SUCCESS: 2 rules found\n\nChecking {bad}\n\n")
    );
    assert_eq!(
        report.stderr(),
        format!("  FAILED:\n{bad}: group \"g\", rule 1, \"A\": invalid annotation name: x-y\n")
    );
    assert!(check_files(&[good], &GoTemplateExpander).passed());
}

/// The API group runs beside the files' groups, survives reloads of the
/// files and goes when it is set to `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_group_runs_beside_the_files_and_survives_reloads() {
    use agentmon_rules::presets::{api_group, ApiRule, Severity, API_GROUP_NAME};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rules.yml"), GOOD).unwrap();
    // The API group has no interval of its own: the global one.
    let store = Arc::new(MemoryStore::new());
    let query = Arc::new(EngineQueryFunc::new(Engine::default(), store.clone()));
    let sent = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let sink = sent.clone();
    let mut ctx = RuleContext::new(
        query,
        store,
        Arc::new(move |alerts: &[Alert]| sink.lock().extend_from_slice(alerts)),
    );
    ctx.evaluation_interval = Duration::from_millis(100);
    let manager = RuleManager::new(ctx);
    let rule = ApiRule {
        name: "from-api".to_owned(),
        expr: "vector(5) > 1".to_owned(),
        hold: Duration::ZERO,
        severity: Severity::Warning,
        preset: None,
        labels: Default::default(),
    };
    let group = api_group(&[rule], &GoTemplateExpander).unwrap();
    manager.set_api_group(group).await;
    let patterns = vec!["*.rules.yml".to_owned()];
    manager.update(&patterns, Some(dir.path())).await.unwrap();
    let names = |m: &RuleManager| -> Vec<String> {
        let mut names: Vec<String> = m.groups().iter().map(|g| g.name().to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&manager), [API_GROUP_NAME, "fast"]);
    // A reload of the files keeps it.
    manager.update(&patterns, Some(dir.path())).await.unwrap();
    assert_eq!(names(&manager), [API_GROUP_NAME, "fast"]);
    assert!(
        eventually(|| sent.lock().iter().any(|a| a.name() == "from-api")).await,
        "the API rule's alert is sent"
    );
    let sent_alert = sent
        .lock()
        .iter()
        .find(|a| a.name() == "from-api")
        .cloned()
        .unwrap();
    assert_eq!(sent_alert.labels.get("agentmon_alert"), Some("from-api"));
    assert_eq!(
        sent_alert.labels.get("agentmon_alert_type"),
        Some("condition")
    );
    manager.set_api_group(None).await;
    assert_eq!(names(&manager), ["fast"]);
    manager.stop().await;
}
