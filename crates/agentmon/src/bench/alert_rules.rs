//! `agentmon bench alert-rules`: writes a Prometheus rule file of many
//! alerting rules over the agent-fleet workload's series ([`super::workload`]),
//! for the rule-evaluation benchmark (`bench/rules.sh`).
//!
//! The rules are a deterministic mix (for a seed) of what an agent fleet's
//! operators write: per-instance thresholds on gauges, `rate()` and
//! `increase()` thresholds on counters, error ratios, `histogram_quantile`
//! over the `hermes_*` buckets, and fleet-wide aggregations `by` a label.
//! Every threshold is the series' expected value (known from the workload's
//! rates) times a factor; most factors are high, as in a healthy fleet where
//! most rules are quiet, a few sit near the traffic's peaks so their alerts
//! come and go, and only fleet-wide aggregations (a handful of series each)
//! get factors low enough to fire for good. Rules carry `for`, `severity`
//! and `team` labels and templated `summary` annotations, so templating is
//! part of the cost.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};

use super::rng::Rng;

/// Options of `agentmon bench alert-rules`.
#[derive(clap::Args, Debug, Clone)]
pub struct AlertRulesArgs {
    /// Alerting rules to write.
    #[arg(long, default_value_t = 1000)]
    pub rules: usize,
    /// Groups to spread them over (evaluated concurrently, rules of one
    /// group in order).
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Instances of the workload the rules will see (sets the fleet-wide
    /// thresholds).
    #[arg(long, default_value_t = 200)]
    pub instances: usize,
    /// Seed of the mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the rule file.
    #[arg(long)]
    pub out: PathBuf,
}

const MODELS: [&str; 2] = ["hermes-3-8b", "hermes-3-70b"];
const TOOLS: [&str; 10] = [
    "web_search",
    "python",
    "shell",
    "read_file",
    "write_file",
    "browser",
    "sql",
    "http_get",
    "calculator",
    "memory",
];
const ERROR_TYPES: [(&str, f64); 4] = [
    ("rate_limit", 0.2),
    ("context_too_long", 0.03),
    ("timeout", 0.08),
    ("api_error", 0.05),
];
/// Mean tool latency in seconds, by [`TOOLS`] index (as the workload).
const TOOL_MEANS: [f64; 10] = [0.9, 1.8, 0.35, 0.012, 0.02, 4.5, 0.25, 0.6, 0.003, 0.04];
const WINDOWS: [&str; 3] = ["5m", "10m", "15m"];
const FORS: [&str; 4] = ["0s", "1m", "2m", "5m"];

/// Threshold factors for rules with one series per instance: quiet, or
/// firing only near the traffic's peaks.
const PER_INSTANCE_FACTORS: [f64; 8] = [1.3, 1.6, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0];
/// Threshold factors for fleet-wide aggregations: some fire for good.
const FLEET_FACTORS: [f64; 8] = [0.5, 0.8, 1.2, 1.5, 2.0, 3.0, 3.0, 5.0];

/// One generated rule, before it is written out.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRule {
    pub name: String,
    pub expr: String,
    pub for_: &'static str,
    pub severity: &'static str,
    pub team: &'static str,
    pub summary: String,
}

/// Short decimal text of a threshold: 4 significant digits.
fn threshold(value: f64) -> String {
    let text = format!("{value:.3e}");
    let parsed: f64 = text.parse().unwrap_or(value);
    format!("{parsed}")
}

/// The `index`-th rule of the mix, drawing its choices from `rng`.
fn rule(index: usize, instances: usize, rng: &mut Rng) -> GeneratedRule {
    let pick = |rng: &mut Rng, n: usize| rng.range(0, n as i64 - 1) as usize;
    let per_instance = |rng: &mut Rng| PER_INSTANCE_FACTORS[pick(rng, 8)];
    let fleet = |rng: &mut Rng| FLEET_FACTORS[pick(rng, 8)];
    let window = WINDOWS[pick(rng, WINDOWS.len())];
    let fleet_size = instances.max(1) as f64;
    let kind = pick(rng, 12);
    let (stem, expr, summary) = match kind {
        0 => {
            // Sessions random-walk from 5..=40.
            let t = (22.0 * per_instance(rng)).round();
            (
                "TooManySessions",
                format!("hermes_active_sessions > {t}"),
                "{{ $labels.instance }} has {{ $value }} sessions in progress".to_owned(),
            )
        }
        1 => {
            // Resident memory starts at 273..=781 MiB and drifts slowly.
            let t = (520.0 * (0.8 + 0.3 * per_instance(rng))).round();
            (
                "HighMemory",
                format!("process_resident_memory_bytes / 1048576 > {t}"),
                "{{ $labels.instance }} uses {{ $value | humanize }} MiB".to_owned(),
            )
        }
        2 => {
            let tool = pick(rng, TOOLS.len());
            let expected = 3.0 / (1.0 + tool as f64 * 0.6) * 0.05;
            let t = threshold(expected * per_instance(rng));
            (
                "ToolErrorRate",
                format!(
                    "rate(hermes_tool_call_total{{tool_name=\"{}\",status=\"error\"}}[{window}]) > {t}",
                    TOOLS[tool]
                ),
                "{{ $labels.tool_name }} fails {{ $value | humanize }}/s on {{ $labels.instance }}"
                    .to_owned(),
            )
        }
        3 => {
            // Errors and timeouts are 8% of tool calls.
            let t = threshold(0.08 * (1.0 + 0.25 * per_instance(rng)));
            (
                "ToolFailureRatio",
                format!(
                    "sum by (instance) (rate(hermes_tool_call_total{{status=~\"error|timeout\"}}[{window}])) \
                     / sum by (instance) (rate(hermes_tool_call_total[{window}])) > {t}"
                ),
                "{{ $labels.instance }}: {{ $value | humanizePercentage }} of tool calls fail"
                    .to_owned(),
            )
        }
        4 => {
            // p95 of an exponential with mean 4.2 s is about 12.6 s.
            let t = threshold(12.6 * per_instance(rng));
            (
                "SlowRuns",
                format!(
                    "histogram_quantile(0.95, sum by (le, instance) \
                     (rate(hermes_request_duration_seconds_bucket{{status=\"success\"}}[{window}]))) > {t}"
                ),
                "p95 run latency {{ $value | humanizeDuration }} on {{ $labels.instance }}"
                    .to_owned(),
            )
        }
        5 => {
            let tool = pick(rng, TOOLS.len());
            // p99 of an exponential is 4.6 × its mean.
            let t = threshold(4.6 * TOOL_MEANS[tool] * fleet(rng));
            (
                "SlowTool",
                format!(
                    "histogram_quantile(0.99, sum by (le, tool_name) \
                     (rate(hermes_tool_duration_seconds_bucket{{tool_name=\"{}\"}}[{window}]))) > {t}",
                    TOOLS[tool]
                ),
                "p99 of {{ $labels.tool_name }} is {{ $value | humanizeDuration }}".to_owned(),
            )
        }
        6 => {
            let model = pick(rng, MODELS.len());
            let per_instance_usd = [0.0004, 0.0021][model];
            let t = threshold(per_instance_usd * 3600.0 * fleet_size * fleet(rng));
            (
                "CostOverrun",
                format!(
                    "sum by (model) (rate(hermes_cost_usd_total{{model=\"{}\"}}[{window}])) * 3600 > {t}",
                    MODELS[model]
                ),
                "{{ $labels.model }} costs {{ $value | printf \"%.2f\" }} USD/h".to_owned(),
            )
        }
        7 => {
            let model = pick(rng, MODELS.len());
            let per_instance_tokens = [580.0, 280.0][model];
            let t = threshold(per_instance_tokens * fleet_size * fleet(rng));
            (
                "TokenSpike",
                format!(
                    "sum by (model, token_type) (rate(hermes_tokens_total{{model=\"{}\"}}[{window}])) > {t}",
                    MODELS[model]
                ),
                "{{ $labels.model }} {{ $labels.token_type }} tokens at {{ $value | humanize }}/s"
                    .to_owned(),
            )
        }
        8 => {
            let (error_type, rate) = ERROR_TYPES[pick(rng, ERROR_TYPES.len())];
            let t = threshold(rate * 600.0 * per_instance(rng));
            (
                "LlmErrors",
                format!(
                    "increase(hermes_llm_errors_total{{error_type=\"{error_type}\"}}[10m]) > {t}"
                ),
                "{{ $labels.instance }}: {{ $value | humanize }} {{ $labels.error_type }} errors from {{ $labels.model }} in 10m"
                    .to_owned(),
            )
        }
        9 => {
            let t = threshold(0.36 * fleet_size * fleet(rng));
            (
                "LlmErrorsByType",
                format!("sum by (model, error_type) (rate(hermes_llm_errors_total[{window}])) * 60 > {t}"),
                "{{ $labels.model }}: {{ $value | humanize }} {{ $labels.error_type }} errors/min"
                    .to_owned(),
            )
        }
        10 => {
            let t = (22.0 * per_instance(rng)).round();
            (
                "BusyInstance",
                format!("avg_over_time(hermes_active_sessions[{window}]) > {t}"),
                "{{ $labels.instance }} averaged {{ $value | humanize }} sessions".to_owned(),
            )
        }
        _ => {
            // Requests fail at 0.1 of 1.6 per second.
            let t = threshold(0.0625 * fleet(rng));
            (
                "RunErrorRatio",
                format!(
                    "sum(rate(hermes_request_duration_seconds_count{{status=\"error\"}}[{window}])) \
                     / sum(rate(hermes_request_duration_seconds_count[{window}])) > {t}"
                ),
                "{{ $value | humanizePercentage }} of agent runs fail".to_owned(),
            )
        }
    };
    GeneratedRule {
        name: format!("{stem}{index:04}"),
        expr,
        for_: FORS[pick(rng, FORS.len())],
        severity: if rng.next_f64() < 0.3 {
            "critical"
        } else {
            "warning"
        },
        team: ["agents", "platform", "finance"][pick(rng, 3)],
        summary,
    }
}

/// The whole mix: `rules` rules for a fleet of `instances`.
pub fn generate(rules: usize, instances: usize, seed: u64) -> Vec<GeneratedRule> {
    let mut rng = Rng::new(seed ^ 0x5eed_a1e7);
    (0..rules).map(|i| rule(i, instances, &mut rng)).collect()
}

/// A YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rule file text: the rules dealt round-robin into `groups` groups
/// named `bench-NN`.
pub fn render(rules: &[GeneratedRule], groups: usize) -> String {
    let groups = groups.max(1);
    let mut out = String::from("groups:\n");
    for g in 0..groups {
        let _ = writeln!(out, "  - name: bench-{g:02}\n    rules:");
        for rule in rules.iter().skip(g).step_by(groups) {
            let _ = writeln!(out, "      - alert: {}", rule.name);
            let _ = writeln!(out, "        expr: {}", quoted(&rule.expr));
            let _ = writeln!(out, "        for: {}", rule.for_);
            let _ = writeln!(
                out,
                "        labels:\n          severity: {}\n          team: {}",
                rule.severity, rule.team
            );
            let _ = writeln!(
                out,
                "        annotations:\n          summary: {}",
                quoted(&rule.summary)
            );
        }
    }
    out
}

/// Writes the rule file.
pub fn run_alert_rules(args: &AlertRulesArgs) -> anyhow::Result<()> {
    if args.rules == 0 || args.groups == 0 || args.instances == 0 {
        bail!("--rules, --groups and --instances must be positive");
    }
    let rules = generate(args.rules, args.instances, args.seed);
    let text = render(&rules, args.groups);
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} alerting rules in {} groups to {}",
        args.rules,
        args.groups,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_rules::{parse_rule_file, GoTemplateExpander, RuleKind};
    use std::collections::HashSet;

    #[test]
    fn the_file_parses_as_a_rule_file_with_every_rule() {
        let rules = generate(1000, 200, 1);
        let text = render(&rules, 10);
        let groups = parse_rule_file("bench.yml", &text, &GoTemplateExpander).unwrap();
        assert_eq!(groups.len(), 10);
        let parsed: Vec<_> = groups.iter().flat_map(|g| &g.rules).collect();
        assert_eq!(parsed.len(), 1000);
        let names: HashSet<&str> = parsed.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), 1000, "alert names are unique");
        assert!(parsed
            .iter()
            .all(|r| matches!(r.kind, RuleKind::Alerting { .. })));
    }

    #[test]
    fn the_mix_covers_every_kind_and_is_deterministic() {
        let rules = generate(1000, 200, 1);
        assert_eq!(rules, generate(1000, 200, 1));
        assert_ne!(rules, generate(1000, 200, 2));
        let stems: HashSet<&str> = rules
            .iter()
            .map(|r| r.name.trim_end_matches(|c: char| c.is_ascii_digit()))
            .collect();
        assert_eq!(stems.len(), 12, "{stems:?}");
        let count = |needle: &str| rules.iter().filter(|r| r.expr.contains(needle)).count();
        assert!(count("histogram_quantile(") > 100);
        assert!(count("rate(") > 500);
        assert!(count(" by (") > 300);
        let fors: HashSet<&str> = rules.iter().map(|r| r.for_).collect();
        assert_eq!(fors.len(), FORS.len());
    }

    #[test]
    fn thresholds_are_short_decimals() {
        assert_eq!(threshold(0.123456789), "0.1235");
        assert_eq!(threshold(1512.0), "1512");
        assert_eq!(threshold(0.0004 * 3600.0 * 200.0), "288");
    }
}
