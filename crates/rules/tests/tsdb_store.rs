//! Rules over agentmon's real store: queries through the PromQL engine on a
//! `Db`, output written with [`TsdbAppender`]. A recording rule's output is
//! read by the next rule of the same evaluation, stale markers survive the
//! store, and `ALERTS` lands in it. An ignored test times 1,000 alerting
//! rules (run it with `--release -- --ignored --nocapture`).

use std::sync::Arc;
use std::time::Instant;

use agentmon_model::{is_stale_nan, Alert, LabelRef, Labels, Sample, SeriesBatch, STALE_NAN};
use agentmon_promql::Engine;
use agentmon_rules::{
    parse_rule_file, AlertState, EngineQueryFunc, GoTemplateExpander, Group, Rule, RuleContext,
    TsdbAppender,
};
use agentmon_tsdb::{Db, Options};

const MIN: i64 = 60_000;

fn open_db(dir: &std::path::Path) -> Arc<Db> {
    Arc::new(Db::open(dir, Options::default()).unwrap())
}

fn append(db: &Db, labels: &[(&str, &str)], samples: &[Sample]) {
    let refs: Vec<LabelRef<'_>> = labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
    let mut batch = SeriesBatch::new();
    batch.push_series(&refs, samples);
    db.append(&batch, &[]).unwrap();
}

fn context(db: &Arc<Db>) -> RuleContext {
    RuleContext::new(
        Arc::new(EngineQueryFunc::new(Engine::default(), db.clone())),
        Arc::new(TsdbAppender(db.clone())),
        Arc::new(|_: &[Alert]| {}),
    )
}

fn samples_of(db: &Db, pairs: &[(&str, &str)]) -> Vec<Sample> {
    let wanted = Labels::new(pairs.iter().copied()).unwrap();
    let matchers: Vec<_> = wanted
        .iter()
        .map(|l| agentmon_model::Matcher::equal(&l.name, &l.value))
        .collect();
    db.querier(i64::MIN, i64::MAX)
        .select(&matchers)
        .unwrap()
        .into_iter()
        .find(|s| s.labels == wanted)
        .map(|s| s.samples)
        .unwrap_or_default()
}

#[test]
fn rules_read_and_write_the_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let base = (agentmon_rules::now_ms() / MIN - 30) * MIN;
    for a in ["1", "2", "3"] {
        let mut samples: Vec<Sample> = (0..=5).map(|m| Sample::new(base + m * MIN, 1.0)).collect();
        if a == "3" {
            samples.truncate(2);
            samples.push(Sample::new(base + 2 * MIN, STALE_NAN));
        }
        append(&db, &[("__name__", "x"), ("a", a)], &samples);
    }
    let ctx = context(&db);
    let text = r#"
groups:
  - name: g
    rules:
      - record: total
        expr: sum(x)
      - alert: Many
        expr: total > 2
        for: 1m
      - record: copy
        expr: x
"#;
    let definition = parse_rule_file("rules.yml", text, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let mut group = Group::new(definition, &ctx, false);
    for m in 0..=3 {
        group.eval(&ctx, base + m * MIN);
        for entry in &group.rules {
            assert_eq!(entry.status.last_error, None, "{}", entry.rule.name());
        }
    }
    let total = samples_of(&db, &[("__name__", "total")]);
    assert_eq!(
        total.iter().map(|s| (s.t - base, s.v)).collect::<Vec<_>>(),
        [(0, 3.0), (MIN, 3.0), (2 * MIN, 2.0), (3 * MIN, 2.0)]
    );
    let Rule::Alerting(alert) = &group.rules[1].rule else {
        unreachable!()
    };
    // Pending at 0, firing at 1m (total 3 > 2 for 1m), resolved at 2m when
    // x{a="3"} went stale.
    assert!(alert.active_alerts().next().is_none());
    let pending = samples_of(
        &db,
        &[
            ("__name__", "ALERTS"),
            ("alertname", "Many"),
            ("alertstate", "pending"),
        ],
    );
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending[0].v == 1.0 && pending[0].t == base);
    assert!(is_stale_nan(pending[1].v) && pending[1].t == base + MIN);
    let firing = samples_of(
        &db,
        &[
            ("__name__", "ALERTS"),
            ("alertname", "Many"),
            ("alertstate", "firing"),
        ],
    );
    assert_eq!(firing.len(), 2, "{firing:?}");
    assert!(firing[0].v == 1.0 && firing[0].t == base + MIN);
    assert!(is_stale_nan(firing[1].v) && firing[1].t == base + 2 * MIN);
    let gone = samples_of(&db, &[("__name__", "copy"), ("a", "3")]);
    assert_eq!(gone.len(), 3);
    assert!(
        is_stale_nan(gone[2].v),
        "stale marker kept bit for bit: {gone:?}"
    );
}

/// 1,000 alerting rules over 2,000 series (100 agents × 20 tools), one
/// evaluation timed. The issue's target: 1,000 rules every 15 s within 20%
/// of a core, i.e. one evaluation under 3 s.
#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn evaluation_cost_of_1000_alerting_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path());
    let base = (agentmon_rules::now_ms() / MIN - 60) * MIN;
    let step = 15_000;
    for agent in 0..100 {
        let instance = format!("agent-{agent}");
        for tool in 0..20 {
            let tool = format!("tool-{tool}");
            let samples: Vec<Sample> = (0..=240)
                .map(|i| Sample::new(base + i * step, (i * (agent + 1)) as f64))
                .collect();
            append(
                &db,
                &[
                    ("__name__", "agent_tool_calls_total"),
                    ("instance", &instance),
                    ("tool", &tool),
                ],
                &samples,
            );
        }
    }
    let mut text = String::from("groups:\n  - name: load\n    rules:\n");
    for rule in 0..1000 {
        let agent = rule % 100;
        let expr = match rule % 4 {
            0 => format!("rate(agent_tool_calls_total{{instance=\"agent-{agent}\"}}[5m]) > 1"),
            1 => format!("sum by (instance) (rate(agent_tool_calls_total{{instance=\"agent-{agent}\"}}[5m])) > 10"),
            2 => format!("max_over_time(agent_tool_calls_total{{instance=\"agent-{agent}\", tool=\"tool-{}\"}}[10m]) > 100", rule % 20),
            _ => format!("absent(agent_tool_calls_total{{instance=\"agent-{agent}\"}})"),
        };
        text.push_str(&format!(
            "      - alert: Rule{rule}\n        expr: '{expr}'\n        for: 5m\n        labels: {{severity: page}}\n"
        ));
    }
    let definition = parse_rule_file("load.yml", &text, &GoTemplateExpander)
        .unwrap()
        .remove(0);
    let ctx = context(&db);
    let mut group = Group::new(definition, &ctx, false);
    let end = base + 240 * step;
    let mut timings = Vec::new();
    for i in 0..4 {
        let started = Instant::now();
        group.eval(&ctx, end - (3 - i) * step);
        timings.push(started.elapsed());
    }
    let pending: usize = group.alert_count(AlertState::Pending);
    assert!(pending > 500, "the rules match: {pending} pending");
    assert!(group.rules.iter().all(|r| r.status.last_error.is_none()));
    eprintln!(
        "1000 alerting rules over 2000 series, {pending} pending alerts: evaluations took {:?}",
        timings
    );
}
