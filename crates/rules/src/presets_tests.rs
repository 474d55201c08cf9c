//! Preset compilation: every type gives an expression the parser accepts,
//! thresholds are checked, and a few expressions are evaluated over data.

use std::sync::Arc;

use agentmon_model::{Labels, Sample};
use agentmon_promql::Engine;

use super::*;
use crate::memory::MemoryStore;
use crate::query::{EngineQueryFunc, QueryFunc};
use crate::template_expander::GoTemplateExpander;

const MIN: i64 = 60_000;

fn sample_threshold(kind: PresetType) -> Option<f64> {
    match kind {
        PresetType::ToolErrorRate => Some(0.2),
        kind if kind.needs_threshold() => Some(5.0),
        _ => None,
    }
}

#[test]
fn every_type_compiles_to_an_expression_the_parser_accepts() {
    for kind in PresetType::ALL {
        for namespace in ["hermes", "acme"] {
            let expr = compile(kind, sample_threshold(kind), namespace)
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            agentmon_promql::parse_expr(&expr).unwrap_or_else(|e| panic!("{kind}: {expr}: {e}"));
            let agent_family = expr.contains("_total") && !expr.contains("aitbc_")
                || expr.contains("_seconds")
                || expr.contains("_active_sessions");
            if agent_family {
                assert!(
                    expr.contains(&format!("{namespace}_")),
                    "{kind} ignores the namespace: {expr}"
                );
                assert!(!(namespace == "acme" && expr.contains("hermes_")), "{expr}");
            }
        }
        assert_eq!(PresetType::parse(kind.as_str()), Ok(kind));
    }
}

#[test]
fn thresholds_are_required_and_checked() {
    assert_eq!(
        compile(PresetType::LowBalance, None, "hermes"),
        Err(PresetError::MissingThreshold(PresetType::LowBalance))
    );
    assert_eq!(
        compile(PresetType::InstanceDown, Some(1.0), "hermes"),
        Err(PresetError::UnexpectedThreshold {
            kind: PresetType::InstanceDown
        })
    );
    let err = compile(PresetType::ToolErrorRate, Some(1.5), "hermes").unwrap_err();
    assert!(err.to_string().contains("ratio"), "{err}");
    let err = compile(PresetType::JobFailed, Some(0.0), "hermes").unwrap_err();
    assert!(err.to_string().contains("greater than 0"), "{err}");
    let err = compile(PresetType::HighLatency, Some(f64::NAN), "hermes").unwrap_err();
    assert!(err.to_string().contains("finite"), "{err}");
    let err = PresetType::parse("disk_full").unwrap_err();
    assert!(err.to_string().contains("low_balance"), "{err}");
    // A stuck-session window defaults to 10 minutes.
    let expr = compile(PresetType::StuckSession, None, "hermes").unwrap();
    assert!(expr.contains("[600s]"), "{expr}");
}

#[test]
fn names_and_conditions_are_validated() {
    for good in ["low-balance", "a.b_c-1", &"x".repeat(128)] {
        assert!(validate_name(good).is_ok(), "{good}");
    }
    for bad in ["", "has space", "slash/", "ü", &"x".repeat(129)] {
        assert!(validate_name(bad).is_err(), "{bad:?}");
    }
    let err = validate_condition("rate(x[5m]").unwrap_err();
    assert!(matches!(err, PresetError::InvalidCondition(_)), "{err}");
    assert!(validate_condition("cpu_usage > 80").is_ok());
    assert!(
        ApiRule::check_labels(&BTreeMap::from([("severity".to_owned(), "x".to_owned())])).is_err()
    );
    assert!(ApiRule::check_labels(&BTreeMap::from([("2x".to_owned(), "x".to_owned())])).is_err());
    assert!(ApiRule::check_labels(&BTreeMap::from([("team".to_owned(), "a".to_owned())])).is_ok());
}

#[test]
fn the_api_group_is_validated_like_a_rule_file() {
    let rule = ApiRule {
        name: "low-balance".to_owned(),
        expr: compile(PresetType::LowBalance, Some(100.0), "hermes").unwrap(),
        hold: Duration::from_secs(90),
        severity: Severity::Critical,
        preset: Some(PresetType::LowBalance),
        labels: BTreeMap::from([("team".to_owned(), "ops".to_owned())]),
    };
    let group = api_group(std::slice::from_ref(&rule), &GoTemplateExpander)
        .unwrap()
        .expect("a group");
    assert_eq!(group.name, API_GROUP_NAME);
    assert_eq!(group.file, API_RULES_FILE);
    let definition = &group.rules[0];
    assert_eq!(definition.name(), "low-balance");
    assert_eq!(definition.expr, "aitbc_wallet_balance < 100");
    assert_eq!(definition.labels["severity"], "critical");
    assert_eq!(definition.labels[ALERT_NAME_LABEL], "low-balance");
    assert_eq!(definition.labels[ALERT_TYPE_LABEL], "low_balance");
    assert_eq!(definition.labels["team"], "ops");
    match &definition.kind {
        crate::file::RuleKind::Alerting { hold, .. } => {
            assert_eq!(*hold, Duration::from_secs(90))
        }
        other => panic!("not an alerting rule: {other:?}"),
    }
    assert_eq!(api_group(&[], &GoTemplateExpander).unwrap(), None);
    let broken = ApiRule {
        expr: "up ==".to_owned(),
        ..rule
    };
    assert!(api_group(&[broken], &GoTemplateExpander).is_err());
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

/// Adds `value(minute)` at each minute of `minutes` to the series.
fn put(
    store: &MemoryStore,
    series: &[(&str, &str)],
    minutes: std::ops::Range<i64>,
    value: impl Fn(i64) -> f64,
) {
    for m in minutes {
        store
            .add(labels(series), Sample::new(m * MIN, value(m)))
            .unwrap();
    }
}

fn evaluate(store: &Arc<MemoryStore>, expr: &str, at_minute: i64) -> Vec<(Labels, f64)> {
    let query = EngineQueryFunc::new(Engine::default(), store.clone());
    query
        .query(expr, at_minute * MIN)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .into_iter()
        .map(|s| (s.labels, s.v))
        .collect()
}

#[test]
fn low_balance_fires_below_the_threshold_only() {
    let store = Arc::new(MemoryStore::new());
    put(
        &store,
        &[("__name__", "aitbc_wallet_balance"), ("wallet", "a")],
        0..10,
        |_| 50.0,
    );
    put(
        &store,
        &[("__name__", "aitbc_wallet_balance"), ("wallet", "b")],
        0..10,
        |_| 500.0,
    );
    let expr = compile(PresetType::LowBalance, Some(100.0), "hermes").unwrap();
    let result = evaluate(&store, &expr, 9);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0].0.get("wallet"), Some("a"));
}

#[test]
fn tool_error_rate_is_a_ratio_per_tool() {
    let store = Arc::new(MemoryStore::new());
    let series = |tool: &'static str, status: &'static str| {
        [
            ("__name__", "hermes_tool_call_total"),
            ("agent", "a"),
            ("instance", "i"),
            ("status", status),
            ("tool_name", tool),
        ]
    };
    // search: 3 errors for 1 success per minute (75% errors); fetch: all fine.
    put(&store, &series("search", "error"), 0..11, |m| {
        3.0 * m as f64
    });
    put(&store, &series("search", "success"), 0..11, |m| m as f64);
    put(&store, &series("fetch", "success"), 0..11, |m| {
        10.0 * m as f64
    });
    let expr = compile(PresetType::ToolErrorRate, Some(0.5), "hermes").unwrap();
    let result = evaluate(&store, &expr, 10);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0].0.get("tool_name"), Some("search"));
    assert!((result[0].1 - 0.75).abs() < 1e-9, "{result:?}");
}

#[test]
fn cost_overrun_is_usd_per_hour() {
    let store = Arc::new(MemoryStore::new());
    let series = [
        ("__name__", "hermes_cost_usd_total"),
        ("agent", "a"),
        ("instance", "i"),
        ("model", "m"),
        ("provider", "p"),
    ];
    // $0.5 a minute is $30 an hour.
    put(&store, &series, 0..31, |m| 0.5 * m as f64);
    let fires = compile(PresetType::CostOverrun, Some(20.0), "hermes").unwrap();
    let result = evaluate(&store, &fires, 30);
    assert_eq!(result.len(), 1, "{result:?}");
    assert!((result[0].1 - 30.0).abs() < 1e-6, "{result:?}");
    let quiet = compile(PresetType::CostOverrun, Some(40.0), "hermes").unwrap();
    assert!(evaluate(&store, &quiet, 30).is_empty());
}

#[test]
fn stuck_session_needs_open_sessions_without_steps() {
    let store = Arc::new(MemoryStore::new());
    let active = |agent: &'static str| {
        [
            ("__name__", "hermes_active_sessions"),
            ("agent", agent),
            ("instance", "i"),
        ]
    };
    let steps = |agent: &'static str| {
        [
            ("__name__", "hermes_step_duration_seconds_count"),
            ("agent", agent),
            ("instance", "i"),
            ("model", "m"),
            ("step_type", "llm"),
        ]
    };
    // Agent "busy" keeps stepping; "stuck" stopped at minute 5; "idle" has
    // no open session; "never" opened one but never stepped.
    put(&store, &active("busy"), 0..31, |_| 1.0);
    put(&store, &steps("busy"), 0..31, |m| m as f64);
    put(&store, &active("stuck"), 0..31, |_| 2.0);
    put(&store, &steps("stuck"), 0..31, |m| m.min(5) as f64);
    put(&store, &active("idle"), 0..31, |_| 0.0);
    put(&store, &active("never"), 0..31, |_| 1.0);
    let expr = compile(PresetType::StuckSession, Some(600.0), "hermes").unwrap();
    let mut agents: Vec<String> = evaluate(&store, &expr, 30)
        .into_iter()
        .filter_map(|(l, _)| l.get("agent").map(str::to_owned))
        .collect();
    agents.sort();
    assert_eq!(agents, ["never", "stuck"]);
}

#[test]
fn token_spike_compares_with_the_hourly_average() {
    let store = Arc::new(MemoryStore::new());
    let series = [
        ("__name__", "hermes_tokens_total"),
        ("agent", "a"),
        ("instance", "i"),
        ("model", "m"),
        ("token_type", "prompt"),
    ];
    // 100 tokens a minute for 55 minutes, then 2000 a minute.
    put(&store, &series, 0..61, |m| {
        if m <= 55 {
            100.0 * m as f64
        } else {
            5500.0 + 2000.0 * (m - 55) as f64
        }
    });
    let expr = compile(PresetType::TokenSpike, Some(3.0), "hermes").unwrap();
    assert_eq!(evaluate(&store, &expr, 60).len(), 1);
    assert!(evaluate(&store, &expr, 50).is_empty());
}

#[test]
fn tool_loop_and_session_budget_watch_the_worst_open_session() {
    let store = Arc::new(MemoryStore::new());
    let calls = |tool: &'static str| {
        [
            ("__name__", "hermes_session_max_tool_calls"),
            ("agent", "a"),
            ("instance", "i"),
            ("tool_name", tool),
        ]
    };
    // One session called search 12 times; fetch never more than 3.
    put(&store, &calls("search"), 0..10, |m| m as f64 + 3.0);
    put(&store, &calls("fetch"), 0..10, |_| 3.0);
    let expr = compile(PresetType::ToolLoop, Some(10.0), "hermes").unwrap();
    let result = evaluate(&store, &expr, 9);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0].0.get("tool_name"), Some("search"));
    assert_eq!(result[0].1, 12.0);
    assert!(evaluate(&store, &expr, 6).is_empty());

    let cost = [
        ("__name__", "hermes_session_max_cost_usd"),
        ("agent", "a"),
        ("instance", "i"),
    ];
    put(&store, &cost, 0..10, |m| 0.5 * m as f64);
    let expr = compile(PresetType::SessionBudget, Some(2.0), "hermes").unwrap();
    assert!(evaluate(&store, &expr, 4).is_empty());
    let result = evaluate(&store, &expr, 5);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0].1, 2.5);
}
