//! The [`HealthMonitor`]: the set of targets, one probing task per target,
//! and the latest result of each.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::error::ProbeError;
use crate::probe::{probe, ProbeOutcome};
use crate::store::TargetStore;
use crate::target::{HealthTarget, TargetOrigin};

/// Where probe results go besides the monitor's own state (the server
/// writes them into the TSDB). Called on the probing task; keep it short.
pub trait ProbeWriter: Send + Sync + 'static {
    fn write(&self, target: &HealthTarget, outcome: &ProbeOutcome, timestamp_ms: i64);
}

/// A target whose probes went from success to failure or back.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    pub service_name: String,
    pub endpoint: String,
    /// Whether the previous probe succeeded.
    pub was_up: bool,
    /// The probe that changed it.
    pub outcome: ProbeOutcome,
    pub timestamp_ms: i64,
}

/// Told when a target's state changes between up and down (not on its
/// first probe, whose previous state is unknown). Called on the probing
/// task; keep it short (hand the change to a channel).
pub trait HealthChangeListener: Send + Sync + 'static {
    fn changed(&self, change: HealthChange);
}

/// The latest probe of a target; both `None` before the first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceState {
    pub last_check_ms: Option<i64>,
    pub last_outcome: Option<ProbeOutcome>,
}

/// A target and its latest probe.
#[derive(Debug, Clone)]
pub struct ServiceStatus {
    pub target: HealthTarget,
    pub state: ServiceState,
}

impl ServiceStatus {
    /// `up`, `down`, or `unknown` before the first probe.
    pub fn state_name(&self) -> &'static str {
        match &self.state.last_outcome {
            None => "unknown",
            Some(outcome) if outcome.success => "up",
            Some(_) => "down",
        }
    }
}

struct Entry {
    target: HealthTarget,
    state: Arc<Mutex<ServiceState>>,
    task: JoinHandle<()>,
}

/// Runs the probes. Adding and removing go through the store first (for
/// API targets), then the running set, under one lock so two requests for
/// the same name cannot both succeed.
pub struct HealthMonitor {
    client: reqwest::Client,
    writer: Arc<dyn ProbeWriter>,
    store: Option<Arc<TargetStore>>,
    listener: Option<Arc<dyn HealthChangeListener>>,
    entries: Mutex<BTreeMap<String, Entry>>,
    changes: tokio::sync::Mutex<()>,
}

impl HealthMonitor {
    /// A monitor without targets. API targets are persisted in `store`
    /// when there is one.
    pub fn new(writer: Arc<dyn ProbeWriter>, store: Option<Arc<TargetStore>>) -> HealthMonitor {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .unwrap_or_default();
        HealthMonitor {
            client,
            writer,
            store,
            listener: None,
            entries: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// Tells `listener` of every change between up and down, for the
    /// targets started after this call.
    pub fn with_listener(mut self, listener: Arc<dyn HealthChangeListener>) -> HealthMonitor {
        self.listener = Some(listener);
        self
    }

    /// Starts probing targets that are already validated (and, for API
    /// targets, already stored): the config file's and the store's at
    /// start-up. A name seen twice keeps the first; the rest are returned.
    pub fn start(&self, targets: Vec<HealthTarget>) -> Vec<HealthTarget> {
        let mut entries = self.entries.lock();
        let mut skipped = Vec::new();
        for target in targets {
            if entries.contains_key(&target.service_name) {
                skipped.push(target);
                continue;
            }
            let entry = self.spawn(target);
            entries.insert(entry.target.service_name.clone(), entry);
        }
        skipped
    }

    /// Adds an API target: stored, then probed.
    pub async fn add(&self, target: HealthTarget) -> Result<(), ProbeError> {
        let _changing = self.changes.lock().await;
        if self.entries.lock().contains_key(&target.service_name) {
            return Err(ProbeError::Duplicate(target.service_name));
        }
        if let Some(store) = &self.store {
            let store = store.clone();
            let stored = target.clone();
            run_blocking(move || store.insert(&stored)).await?;
        }
        let entry = self.spawn(target);
        self.entries
            .lock()
            .insert(entry.target.service_name.clone(), entry);
        Ok(())
    }

    /// Removes an API target; config-file targets are refused.
    pub async fn remove(&self, service_name: &str) -> Result<(), ProbeError> {
        let _changing = self.changes.lock().await;
        match self.entries.lock().get(service_name) {
            None => return Err(ProbeError::NotFound(service_name.to_owned())),
            Some(entry) if entry.target.origin == TargetOrigin::Config => {
                return Err(ProbeError::FromConfig(service_name.to_owned()))
            }
            Some(_) => {}
        }
        if let Some(store) = &self.store {
            let store = store.clone();
            let name = service_name.to_owned();
            run_blocking(move || store.delete(&name)).await?;
        }
        if let Some(entry) = self.entries.lock().remove(service_name) {
            entry.task.abort();
        }
        Ok(())
    }

    /// Every target with its latest probe, by service name.
    pub fn statuses(&self) -> Vec<ServiceStatus> {
        self.entries
            .lock()
            .values()
            .map(|entry| ServiceStatus {
                target: entry.target.clone(),
                state: entry.state.lock().clone(),
            })
            .collect()
    }

    /// One target with its latest probe.
    pub fn status(&self, service_name: &str) -> Option<ServiceStatus> {
        self.entries
            .lock()
            .get(service_name)
            .map(|entry| ServiceStatus {
                target: entry.target.clone(),
                state: entry.state.lock().clone(),
            })
    }

    /// Stops every probing task.
    pub fn stop(&self) {
        for entry in self.entries.lock().values() {
            entry.task.abort();
        }
    }

    fn spawn(&self, target: HealthTarget) -> Entry {
        let state = Arc::new(Mutex::new(ServiceState::default()));
        let task = tokio::spawn(run_prober(
            self.client.clone(),
            target.clone(),
            state.clone(),
            self.writer.clone(),
            self.listener.clone(),
        ));
        Entry {
            target,
            state,
            task,
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Probes `target` every interval, the first time at once.
async fn run_prober(
    client: reqwest::Client,
    target: HealthTarget,
    state: Arc<Mutex<ServiceState>>,
    writer: Arc<dyn ProbeWriter>,
    listener: Option<Arc<dyn HealthChangeListener>>,
) {
    let mut ticks = tokio::time::interval(target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcome = probe(&client, &target).await;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if let Some(error) = &outcome.error {
            tracing::debug!(service = %target.service_name, %error, "health probe failed");
        }
        writer.write(&target, &outcome, now_ms);
        let previous = std::mem::replace(
            &mut *state.lock(),
            ServiceState {
                last_check_ms: Some(now_ms),
                last_outcome: Some(outcome.clone()),
            },
        );
        let was_up = previous.last_outcome.map(|o| o.success);
        if let (Some(listener), Some(was_up)) = (&listener, was_up) {
            if was_up != outcome.success {
                listener.changed(HealthChange {
                    service_name: target.service_name.clone(),
                    endpoint: target.endpoint.to_string(),
                    was_up,
                    outcome,
                    timestamp_ms: now_ms,
                });
            }
        }
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProbeError> + Send + 'static,
) -> Result<T, ProbeError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(ProbeError::TaskFailed(join.to_string())),
    }
}

/// The fleet's health: `healthy` when every target is up (or there are
/// none), `unhealthy` when none is, `degraded` otherwise; and the percentage
/// of targets up. A target not probed yet counts as not up.
pub fn overall(statuses: &[ServiceStatus]) -> (&'static str, f64) {
    let total = statuses.len();
    if total == 0 {
        return ("healthy", 100.0);
    }
    let up = statuses.iter().filter(|s| s.state_name() == "up").count();
    let percent = up as f64 * 100.0 / total as f64;
    let status = if up == total {
        "healthy"
    } else if up == 0 {
        "unhealthy"
    } else {
        "degraded"
    };
    (status, percent)
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
