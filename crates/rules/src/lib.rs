//! Prometheus rules in agentmon: rule files, their evaluation, and the
//! manager that runs them.
//!
//! - [`file`] reads Prometheus rule files (`groups:` of recording and
//!   alerting rules) strictly and validates them as `promtool check rules`
//!   does, giving [`GroupDefinition`]s; [`check_files`] is the
//!   `agentmon rules check` command with promtool's output.
//! - A [`Group`] evaluates its rules in order at one timestamp: recording
//!   rules ([`recording`]) write their renamed output, alerting rules
//!   ([`alerting`]) move alerts through inactive → pending → firing, write
//!   `ALERTS` and `ALERTS_FOR_STATE`, and send firing and resolved alerts;
//!   series that disappear get stale markers; each rule keeps its health,
//!   last error and evaluation time. After a restart, `for` state is restored
//!   from `ALERTS_FOR_STATE` ([`Group::restore_for_state`]).
//! - The [`RuleManager`] loads `rule_files` globs, runs each group on a tokio
//!   task at Prometheus's aligned times, and reloads keeping state (a broken
//!   file keeps the last good rules). [`api`] shapes `/api/v1/rules` and
//!   `/api/v1/alerts` as Prometheus does; [`write_rule_metrics`] gives the
//!   `agentmon_rule_*` self-metrics.
//! - Rules meet the rest of agentmon through narrow seams, bundled in a
//!   [`RuleContext`]: a [`QueryFunc`] (implemented over the PromQL engine by
//!   [`EngineQueryFunc`]), an [`Appender`] for the series rules write, an
//!   [`AlertSender`] for alerts, and an [`Expander`] for Go templates:
//!   [`GoTemplateExpander`] (the default) runs them with
//!   `agentmon-template` and Prometheus's functions; [`PlainTextExpander`]
//!   accepts text without `{{` only.
//!   [`TsdbAppender`] writes rule output into agentmon's own store.
//! - [`presets`] compiles alert presets (`low_balance`, `high_latency`,
//!   ...) to PromQL and builds the `agentmon-api` group of API-made rules,
//!   which the manager runs beside the files' groups
//!   ([`RuleManager::set_api_group`]).
//! - [`MemoryStore`] keeps series in memory for rule unit tests;
//!   [`unittest`] runs promtool's rule unit-test files (`agentmon rules
//!   test`).

pub mod alerting;
pub mod api;
mod check;
mod context;
mod error;
pub mod file;
mod group;
mod manager;
mod memory;
mod metrics;
pub mod presets;
mod query;
pub mod recording;
mod template;
mod template_expander;
mod tsdb;
pub mod unittest;

pub use alerting::{ActiveAlert, AlertState, AlertingRule};
pub use check::{check_files, CheckReport, FileCheck};
pub use context::{RuleContext, SeriesReader};
pub use error::{EvalError, RulesError};
pub use file::{
    load_rule_file, parse_rule_file, validate_spec, GroupDefinition, RuleDefinition, RuleKind,
};
pub use group::{generator_url, EvaluationStatus, Group, Rule, RuleEntry, RuleHealth};
pub use manager::{expand_rule_files, load_groups, now_ms, RuleManager};
pub use memory::MemoryStore;
pub use metrics::write_rule_metrics;
pub use query::{AlertSender, Appender, EngineQueryFunc, QueryFunc, RuleSample, NOT_VECTOR};
pub use recording::RecordingRule;
pub use template::{Expander, PlainTextExpander, TemplateData};
pub use template_expander::GoTemplateExpander;
pub use tsdb::TsdbAppender;
pub use unittest::{run_unit_tests, TestReport};
