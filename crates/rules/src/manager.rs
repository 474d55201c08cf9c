//! The [`RuleManager`]: loads rule files from `rule_files` globs, runs each
//! group on its own tokio task at its aligned evaluation times, and reloads
//! without losing state (Prometheus's `rules.Manager`).
//!
//! A reload parses every file first; if any is broken nothing changes, the
//! last good rules keep running and the error is kept for the status API.
//! Otherwise groups whose definition is unchanged keep running untouched,
//! changed groups are restarted with their rules' alerts and status carried
//! over, and removed groups stop and mark their series stale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{alert_discovery, rule_discovery, AlertDiscovery, RuleDiscovery, RuleFilter};
use crate::context::{millis, RuleContext};
use crate::error::RulesError;
use crate::file::{load_rule_file, GroupDefinition};
use crate::group::Group;

/// The wall clock in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// The files `patterns` name, relative ones under `base_dir`, each once, in
/// order (a pattern without matches names nothing, as in Prometheus).
pub fn expand_rule_files(
    patterns: &[String],
    base_dir: Option<&Path>,
) -> Result<Vec<PathBuf>, RulesError> {
    let mut files = Vec::new();
    for pattern in patterns {
        let full = match base_dir {
            Some(base) if Path::new(pattern).is_relative() => {
                base.join(pattern).to_string_lossy().into_owned()
            }
            _ => pattern.clone(),
        };
        let paths = glob::glob(&full).map_err(|e| RulesError::Pattern {
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
        let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        matched.sort();
        for path in matched {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Every group of `files`, or the first file's errors.
pub fn load_groups(
    files: &[PathBuf],
    ctx: &RuleContext,
) -> Result<Vec<GroupDefinition>, RulesError> {
    let mut groups = Vec::new();
    for file in files {
        groups.extend(load_rule_file(
            &file.to_string_lossy(),
            ctx.expander.as_ref(),
        )?);
    }
    Ok(groups)
}

struct RunningGroup {
    definition: GroupDefinition,
    group: Arc<Mutex<Group>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct ManagerState {
    groups: BTreeMap<(String, String), RunningGroup>,
    /// Whether rules were loaded once (groups of the first load restore
    /// their `for` state).
    loaded: bool,
    last_error: Option<String>,
    /// The last good groups of the rule files.
    file_groups: Vec<GroupDefinition>,
    /// The group of API-made rules, run after the files' groups.
    api_group: Option<GroupDefinition>,
    /// Whether the API group ran once (its first run restores `for` state,
    /// whenever it comes).
    api_started: bool,
}

/// Runs rule groups and reloads them.
pub struct RuleManager {
    ctx: RuleContext,
    state: tokio::sync::Mutex<ManagerState>,
    /// Groups as the API sees them; updated with each reload.
    published: Mutex<Vec<Arc<Mutex<Group>>>>,
    last_error: Mutex<Option<String>>,
}

impl RuleManager {
    /// A manager with no rules yet.
    pub fn new(ctx: RuleContext) -> RuleManager {
        RuleManager {
            ctx,
            state: tokio::sync::Mutex::new(ManagerState::default()),
            published: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
        }
    }

    /// The seams and settings the manager runs with.
    pub fn context(&self) -> &RuleContext {
        &self.ctx
    }

    /// Loads the files `patterns` name (relative ones under `base_dir`) and
    /// runs their groups. On error the running rules stay as they were and
    /// the error is returned and kept ([`RuleManager::last_error`]).
    pub async fn update(
        &self,
        patterns: &[String],
        base_dir: Option<&Path>,
    ) -> Result<(), RulesError> {
        let loaded =
            expand_rule_files(patterns, base_dir).and_then(|files| load_groups(&files, &self.ctx));
        let definitions = match loaded {
            Ok(definitions) => definitions,
            Err(error) => {
                tracing::error!(%error, "loading rule files failed; keeping the last good rules");
                *self.last_error.lock() = Some(error.to_string());
                let mut state = self.state.lock().await;
                state.last_error = Some(error.to_string());
                return Err(error);
            }
        };
        self.apply(definitions).await;
        Ok(())
    }

    /// Runs `definitions` (already validated) as the rule files' groups,
    /// beside the API group, keeping the state of groups that stay.
    pub async fn apply(&self, definitions: Vec<GroupDefinition>) {
        let mut state = self.state.lock().await;
        state.file_groups = definitions;
        self.apply_locked(&mut state).await;
    }

    /// Replaces the group of API-made rules (`None`: no such group),
    /// keeping the files' groups and the state of rules that stay. A
    /// reload of the rule files keeps it.
    pub async fn set_api_group(&self, group: Option<GroupDefinition>) {
        let mut state = self.state.lock().await;
        state.api_group = group;
        self.apply_locked(&mut state).await;
    }

    async fn apply_locked(&self, state: &mut ManagerState) {
        let mut definitions = state.file_groups.clone();
        let api_key = state
            .api_group
            .as_ref()
            .map(|g| (g.file.clone(), g.name.clone()));
        definitions.extend(state.api_group.clone());
        let restore = !state.loaded;
        let mut old = std::mem::take(&mut state.groups);
        let mut next = BTreeMap::new();
        for definition in definitions {
            let key = (definition.file.clone(), definition.name.clone());
            if let Some(running) = old.remove(&key) {
                if running.definition == definition {
                    next.insert(key, running);
                    continue;
                }
                let previous = stop_group(running).await;
                let mut group = Group::new(definition.clone(), &self.ctx, false);
                group.copy_state(&previous);
                next.insert(key, self.start(definition, group));
            } else {
                let first_api_run = Some(&key) == api_key.as_ref() && !state.api_started;
                let group = Group::new(definition.clone(), &self.ctx, restore || first_api_run);
                next.insert(key, self.start(definition, group));
            }
        }
        for (_, running) in old {
            let group = stop_group(running).await;
            let stale = group.stale_markers(now_ms());
            if !stale.is_empty() {
                if let Err(error) = self.ctx.appender.append(&stale) {
                    tracing::warn!(%error, group = group.name(), "writing stale markers failed");
                }
            }
        }
        *self.published.lock() = next.values().map(|r| r.group.clone()).collect();
        state.groups = next;
        state.loaded = true;
        state.api_started |= api_key.is_some();
        state.last_error = None;
        *self.last_error.lock() = None;
    }

    fn start(&self, definition: GroupDefinition, group: Group) -> RunningGroup {
        let group = Arc::new(Mutex::new(group));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_group(group.clone(), self.ctx.clone(), stopped));
        RunningGroup {
            definition,
            group,
            stop,
            task,
        }
    }

    /// Stops every group (without stale markers, as at shutdown).
    pub async fn stop(&self) {
        let mut state = self.state.lock().await;
        for (_, running) in std::mem::take(&mut state.groups) {
            stop_group(running).await;
        }
    }

    /// The error of the last reload, if it failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// A copy of every running group, in file and name order.
    pub fn groups(&self) -> Vec<Group> {
        self.published
            .lock()
            .iter()
            .map(|g| g.lock().clone())
            .collect()
    }

    /// `/api/v1/rules` data for the rules `filter` selects.
    pub fn rule_discovery(&self, filter: &RuleFilter) -> RuleDiscovery {
        rule_discovery(&self.groups(), filter)
    }

    /// Appends the `agentmon_rule_*` self-metrics in the text format.
    pub fn write_metrics(&self, out: &mut String) {
        crate::metrics::write_rule_metrics(&self.groups(), out);
    }

    /// `/api/v1/alerts` data.
    pub fn alert_discovery(&self) -> AlertDiscovery {
        alert_discovery(&self.groups())
    }
}

/// Stops a group's task, waits for it, and returns the group's last state.
async fn stop_group(running: RunningGroup) -> Group {
    let _ = running.stop.send(true);
    if let Err(error) = running.task.await {
        tracing::warn!(%error, "rule group task ended abnormally");
    }
    let group = running.group.lock().clone();
    group
}

/// One group's loop: wait for the next aligned evaluation time, evaluate on
/// the blocking pool, skip evaluations missed while busy; after the second
/// evaluation restore `for` state if the group needs it (Prometheus waits
/// for one more evaluation so recording rules have caught up).
async fn run_group(group: Arc<Mutex<Group>>, ctx: RuleContext, mut stopped: watch::Receiver<bool>) {
    let interval_ms = millis(group.lock().interval).max(1);
    let mut eval_ts = group.lock().eval_timestamp(now_ms()) + interval_ms;
    let mut evaluations = 0u64;
    loop {
        let wait = Duration::from_millis(u64::try_from(eval_ts - now_ms()).unwrap_or(0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        evaluations += 1;
        let working = group.lock().clone();
        let task_ctx = ctx.clone();
        let restore_now = working.should_restore && evaluations >= 2;
        let evaluated = tokio::task::spawn_blocking(move || {
            let mut working = working;
            working.eval(&task_ctx, eval_ts);
            if restore_now {
                working.restore_for_state(&task_ctx, now_ms());
            }
            working
        })
        .await;
        match evaluated {
            Ok(working) => *group.lock() = working,
            Err(error) => tracing::error!(%error, "rule group evaluation panicked"),
        }
        let now = now_ms();
        let missed = ((now - eval_ts) / interval_ms - 1).max(0);
        if missed > 0 {
            tracing::warn!(missed, "rule group evaluation was slower than its interval");
            group.lock().iterations_missed_total += missed as u64;
        }
        eval_ts += (missed + 1) * interval_ms;
    }
}
