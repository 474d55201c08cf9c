//! The notification pipeline at run time: the `alertmanager:` section of
//! agentmon.yml put to work.
//!
//! [`Alerting`] owns the notification core ([`agentmon_notify::State`],
//! behind one mutex), the durable delivery queue
//! (`notifications.sqlite`, sealed with `secret.key`), the silences
//! (`silences.sqlite`) and the notification log (`nflog.json`). A task
//! ([`Alerting::start`]) sleeps until the dispatcher's next due group
//! (`group_wait`, `group_interval`, `repeat_interval`), flushes it, and
//! hands each [`agentmon_notify::Notification`] to
//! [`agentmon_notify::receivers::prepare`] and the queue. Only once the
//! deliveries are queued is the notification log written, so a crash in
//! between sends again rather than never, and a restart does not notify
//! again what was already notified. The flush task takes the log's
//! snapshot after queueing and hands it to a writer task, which writes the
//! latest snapshot it has (skipping older ones) while the flush task goes
//! on: a slow disk sync then delays no group's notification.
//!
//! The delivery queue is opened here, or shared with the event webhooks
//! ([`Alerting::open_with_queue`]); each notification queued is also told
//! to an [`Alerting::on_notification`] hook (the `alert` webhook event).
//!
//! Alerts come in through an [`AlertSink`] (`POST /api/v2/alerts`, and
//! later the rule evaluator): a cheap clone that stores the alerts and
//! wakes the task.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentmon_model::Alert;
use agentmon_notify::config::SidecarRoute;
use agentmon_notify::deliver::{DeliveryQueue, QueueOptions};
use agentmon_notify::receivers::GoTemplateRenderer;
use agentmon_notify::silence::{SilenceState, Silences, SqliteSilenceStore};
use agentmon_notify::{AlertmanagerConfig, Notification, NotificationLogEntry, State, SystemClock};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

/// The silences' database in the data directory.
pub const SILENCES_FILE: &str = "silences.sqlite";
/// The notification log's snapshot in the data directory.
pub const NFLOG_FILE: &str = "nflog.json";
/// How often resolved alerts, expired silences and old log entries are
/// dropped.
const GC_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error("cannot open {file}: {reason}")]
    Open { file: &'static str, reason: String },
    #[error("alertmanager templates: {0}")]
    Templates(String),
}

/// Hands alerts to the notification core; cheap to clone.
#[derive(Clone)]
pub struct AlertSink {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
}

impl AlertSink {
    /// Stores alerts (already validated) and wakes the flush task, whose
    /// next due time may have moved.
    pub fn send(&self, alerts: &[Alert]) {
        if alerts.is_empty() {
            return;
        }
        self.state.lock().receive(alerts.iter().cloned());
        self.wake.notify_one();
    }
}

/// The running pipeline's parts; see the module documentation.
pub struct Alerting {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    queue: DeliveryQueue,
    /// Whether the queue was opened here (and its dispatcher is started by
    /// [`Alerting::start`]) or shared ([`Alerting::open_with_queue`]).
    owns_queue: bool,
    /// Told of every notification once its deliveries are queued (the
    /// `alert` event of the event webhooks).
    on_notification: std::sync::OnceLock<NotificationHook>,
    nflog_path: PathBuf,
    /// Receivers' texts are rendered with the `templates:` files.
    renderer: RwLock<Arc<GoTemplateRenderer>>,
    /// Relative `templates:` globs are read from here (the config file's
    /// directory, as Alertmanager does).
    config_dir: PathBuf,
    /// The configuration as written (before sidecar routes are added).
    base_config: RwLock<AlertmanagerConfig>,
    /// The routes of API-made alert rules, added beside the configured
    /// tree at every apply.
    sidecars: RwLock<Vec<SidecarRoute>>,
    /// Told the fingerprints whose acknowledgement ended (to forget them
    /// in `alert_rules.sqlite`).
    cleared_acks: std::sync::OnceLock<ClearedAcksHook>,
}

/// Called, on the blocking pool, with the fingerprints whose
/// acknowledgement ended.
pub type ClearedAcksHook = Arc<dyn Fn(Vec<u64>) + Send + Sync>;

/// The flush task and the queue's dispatcher, until
/// [`AlertingTasks::shutdown`].
pub struct AlertingTasks {
    stop: watch::Sender<bool>,
    flusher: tokio::task::JoinHandle<()>,
    log_writer: tokio::task::JoinHandle<()>,
    /// `None` when the queue is shared and its dispatcher runs elsewhere.
    deliveries: Option<agentmon_notify::deliver::Dispatcher>,
}

impl AlertingTasks {
    /// Stops flushing (a flush under way finishes and its deliveries are
    /// queued; groups due later wait for the next start), then lets the
    /// attempts under way end. Call it before the
    /// databases are dropped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.flusher.await;
        // The flusher has dropped its end: the writer saves the last
        // snapshot and ends.
        let _ = self.log_writer.await;
        if let Some(deliveries) = self.deliveries {
            deliveries.shutdown().await;
        }
    }
}

/// See [`Alerting::on_notification`].
pub type NotificationHook = Arc<dyn Fn(&Notification) + Send + Sync>;

/// One notification-log entry as `nflog.json` holds it.
#[derive(Serialize, Deserialize)]
struct SavedLogEntry {
    receiver: String,
    group_key: String,
    firing: Vec<u64>,
    resolved: Vec<u64>,
    at_ms: i64,
}

impl Alerting {
    /// Opens the stores in `data_dir` (creating them) and restores the
    /// notification log. `external_url` is how notifications link back.
    /// `config_dir` is where relative `templates:` globs are read from.
    pub fn open(
        data_dir: &Path,
        config_dir: &Path,
        config: AlertmanagerConfig,
        external_url: &str,
        queue_options: QueueOptions,
    ) -> Result<Alerting, AlertingError> {
        std::fs::create_dir_all(data_dir).map_err(|e| AlertingError::Open {
            file: "the data directory",
            reason: e.to_string(),
        })?;
        let queue =
            DeliveryQueue::open_in(data_dir, queue_options).map_err(|e| AlertingError::Open {
                file: agentmon_notify::deliver::store::FILE_NAME,
                reason: e.to_string(),
            })?;
        let mut alerting =
            Alerting::open_with_queue(data_dir, config_dir, config, external_url, queue)?;
        alerting.owns_queue = true;
        Ok(alerting)
    }

    /// [`Alerting::open`] with a delivery queue opened (and dispatched) by
    /// the caller, shared with the event webhooks.
    pub fn open_with_queue(
        data_dir: &Path,
        config_dir: &Path,
        config: AlertmanagerConfig,
        external_url: &str,
        queue: DeliveryQueue,
    ) -> Result<Alerting, AlertingError> {
        let renderer = load_templates(&config, config_dir).map_err(AlertingError::Templates)?;
        std::fs::create_dir_all(data_dir).map_err(|e| AlertingError::Open {
            file: "the data directory",
            reason: e.to_string(),
        })?;
        let store = SqliteSilenceStore::open(&data_dir.join(SILENCES_FILE)).map_err(|e| {
            AlertingError::Open {
                file: SILENCES_FILE,
                reason: e.to_string(),
            }
        })?;
        let silences = Silences::open(Box::new(store)).map_err(|e| AlertingError::Open {
            file: SILENCES_FILE,
            reason: e.to_string(),
        })?;
        warn_unsupported(&config);
        let base_config = config.clone();
        let mut state = State::new(config, silences, Arc::new(SystemClock), external_url);
        let nflog_path = data_dir.join(NFLOG_FILE);
        match read_log(&nflog_path) {
            Ok(entries) => state.dispatcher.restore_log(entries),
            Err(error) => tracing::warn!(%error, "notification log not restored"),
        }
        Ok(Alerting {
            state: Arc::new(Mutex::new(state)),
            wake: Arc::new(Notify::new()),
            queue,
            owns_queue: false,
            on_notification: std::sync::OnceLock::new(),
            nflog_path,
            renderer: RwLock::new(Arc::new(renderer)),
            config_dir: config_dir.to_owned(),
            base_config: RwLock::new(base_config),
            sidecars: RwLock::new(Vec::new()),
            cleared_acks: std::sync::OnceLock::new(),
        })
    }

    /// Checks that `routes` fit the configuration in effect (receivers
    /// named exist, new receiver names are free, URLs are valid).
    pub fn check_sidecars(&self, routes: &[SidecarRoute]) -> Result<(), String> {
        self.base_config
            .read()
            .with_sidecar_routes(routes)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Replaces the routes of API-made alert rules; groups are rebuilt as
    /// after a reload (what was notified is remembered). Fails, changing
    /// nothing, if they do not fit ([`Alerting::check_sidecars`]).
    pub fn set_sidecars(&self, routes: Vec<SidecarRoute>) -> Result<(), String> {
        if *self.sidecars.read() == routes {
            // Nothing to rebuild: the groups keep their timers.
            return Ok(());
        }
        let config = self
            .base_config
            .read()
            .with_sidecar_routes(&routes)
            .map_err(|e| e.to_string())?;
        *self.sidecars.write() = routes;
        self.state.lock().reload(config);
        self.wake.notify_one();
        Ok(())
    }

    /// Sets what is told about ended acknowledgements; later calls are
    /// ignored.
    pub fn set_cleared_acks_hook(&self, hook: ClearedAcksHook) {
        let _ = self.cleared_acks.set(hook);
    }

    /// `config` with the sidecar routes; those that no longer fit (their
    /// receiver was removed by a reload) are left out with an error log.
    fn with_sidecars(&self, config: &AlertmanagerConfig) -> AlertmanagerConfig {
        let routes = self.sidecars.read().clone();
        if let Ok(combined) = config.with_sidecar_routes(&routes) {
            return combined;
        }
        let fitting: Vec<SidecarRoute> = routes
            .into_iter()
            .filter(|route| match config.with_sidecar_routes(std::slice::from_ref(route)) {
                Ok(_) => true,
                Err(error) => {
                    tracing::error!(rule = %route.value, %error, "alert rule route dropped: it does not fit the reloaded configuration");
                    false
                }
            })
            .collect();
        config
            .with_sidecar_routes(&fitting)
            .unwrap_or_else(|_| config.clone())
    }

    /// Reads and parses the `templates:` files of `config`, for
    /// [`Alerting::apply`]; an error changes nothing.
    pub fn load_templates(
        &self,
        config: &AlertmanagerConfig,
    ) -> Result<GoTemplateRenderer, String> {
        load_templates(config, &self.config_dir)
    }

    /// Sets what is told of each notification after its deliveries are
    /// queued; later calls are ignored.
    pub fn on_notification(&self, hook: NotificationHook) {
        let _ = self.on_notification.set(hook);
    }

    /// Where alerts go in.
    pub fn sink(&self) -> AlertSink {
        AlertSink {
            state: Arc::clone(&self.state),
            wake: Arc::clone(&self.wake),
        }
    }

    /// The core's state, for the API v2 handlers.
    pub fn state(&self) -> &Arc<Mutex<State>> {
        &self.state
    }

    /// The renderer of receivers' texts (for test notifications).
    pub fn renderer(&self) -> Arc<GoTemplateRenderer> {
        Arc::clone(&self.renderer.read())
    }

    /// The delivery queue (log and metrics).
    pub fn queue(&self) -> &DeliveryQueue {
        &self.queue
    }

    /// The pipeline's metrics in text format: the delivery queue's
    /// (`agentmon_notifications_total`,
    /// `agentmon_notification_latency_seconds`), and the alerts and
    /// silences held by state (`agentmon_alerts{state}`,
    /// `agentmon_silences{state}`, as Alertmanager's `alertmanager_alerts`
    /// and `alertmanager_silences`).
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        // A shared queue's metrics are written by its owner.
        if self.owns_queue {
            self.queue.metrics().write_text(out);
        }
        let (alerts, silences) = {
            let state = self.state.lock();
            let now = state.now_ms();
            let alerts = agentmon_notify::api::list_alerts(&state, &Default::default());
            let mut silences = [0usize; 3];
            for silence in state.silences.iter() {
                silences[silence.state(now) as usize] += 1;
            }
            let suppressed = alerts
                .iter()
                .filter(|a| a.status.state == "suppressed")
                .count();
            ([alerts.len() - suppressed, suppressed], silences)
        };
        out.push_str(
            "# HELP agentmon_alerts Alerts held by the notification pipeline, by state.\n",
        );
        out.push_str("# TYPE agentmon_alerts gauge\n");
        for (state, count) in ["active", "suppressed"].iter().zip(alerts) {
            let _ = writeln!(out, "agentmon_alerts{{state=\"{state}\"}} {count}");
        }
        out.push_str("# HELP agentmon_silences Silences by state.\n");
        out.push_str("# TYPE agentmon_silences gauge\n");
        for state in [
            SilenceState::Active,
            SilenceState::Pending,
            SilenceState::Expired,
        ] {
            let _ = writeln!(
                out,
                "agentmon_silences{{state=\"{}\"}} {}",
                state.as_str(),
                silences[state as usize]
            );
        }
    }

    /// Makes the flush task look again at what is due (after a silence
    /// changed, say).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Applies a new configuration (already validated) with its templates
    /// (from [`Alerting::load_templates`]); the flush task picks up the
    /// rebuilt groups' times.
    pub fn apply(&self, config: AlertmanagerConfig, templates: GoTemplateRenderer) {
        warn_unsupported(&config);
        *self.renderer.write() = Arc::new(templates);
        let combined = self.with_sidecars(&config);
        *self.base_config.write() = config;
        self.state.lock().reload(combined);
        self.wake.notify_one();
    }

    /// Starts the flush task and the delivery queue's dispatcher on the
    /// current runtime.
    pub fn start(self: &Arc<Self>) -> AlertingTasks {
        let (stop, stopped) = watch::channel(false);
        let deliveries = self.owns_queue.then(|| self.queue.start());
        let (snapshots, latest) = watch::channel(Vec::new());
        let log_writer = tokio::spawn(write_log_snapshots(self.nflog_path.clone(), latest));
        let flusher = tokio::spawn(Arc::clone(self).run(stopped, snapshots));
        AlertingTasks {
            stop,
            flusher,
            log_writer,
            deliveries,
        }
    }

    async fn run(
        self: Arc<Self>,
        mut stopped: watch::Receiver<bool>,
        snapshots: watch::Sender<Vec<NotificationLogEntry>>,
    ) {
        let mut last_gc = tokio::time::Instant::now();
        loop {
            if *stopped.borrow() {
                return;
            }
            let wait = {
                let state = self.state.lock();
                state.next_flush_ms().map(|due| {
                    Duration::from_millis(u64::try_from(due - state.now_ms()).unwrap_or(0))
                })
            }
            .unwrap_or(GC_INTERVAL)
            .min(GC_INTERVAL);
            tokio::select! {
                // Stopped, or the tasks' handle dropped without a shutdown.
                _ = stopped.changed() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            self.flush(&snapshots).await;
            if last_gc.elapsed() >= GC_INTERVAL {
                last_gc = tokio::time::Instant::now();
                if let Err(error) = self.state.lock().gc() {
                    tracing::warn!(%error, "alerting garbage collection failed");
                }
            }
        }
    }

    /// Flushes the due groups, queues their deliveries, then hands the
    /// notification log's snapshot to the writer.
    async fn flush(&self, snapshots: &watch::Sender<Vec<NotificationLogEntry>>) {
        let mut notifications: Vec<Notification> = Vec::new();
        let (config, cleared) = {
            let mut state = self.state.lock();
            state.flush(&mut |n| notifications.push(n));
            (
                Arc::clone(state.config()),
                state.take_cleared_acknowledgements(),
            )
        };
        if !cleared.is_empty() {
            if let Some(hook) = self.cleared_acks.get().cloned() {
                if let Err(error) = tokio::task::spawn_blocking(move || hook(cleared)).await {
                    tracing::error!(%error, "forgetting ended acknowledgements failed");
                }
            }
        }
        if notifications.is_empty() {
            return;
        }
        let renderer = Arc::clone(&self.renderer.read());
        for notification in &notifications {
            let Some(receiver) = config.receiver(&notification.receiver) else {
                tracing::error!(receiver = %notification.receiver, "notification for an unknown receiver dropped");
                continue;
            };
            match self
                .queue
                .enqueue_notification(notification, receiver, renderer.as_ref())
                .await
            {
                Ok(ids) => {
                    tracing::debug!(
                        receiver = %notification.receiver,
                        group_key = %notification.group_key,
                        deliveries = ids.len(),
                        "notification queued"
                    );
                    if let Some(hook) = self.on_notification.get() {
                        hook(notification);
                    }
                }
                Err(error) => {
                    tracing::error!(
                        receiver = %notification.receiver,
                        group_key = %notification.group_key,
                        %error,
                        "notification not queued; the group's next flush tries again"
                    );
                    self.state
                        .lock()
                        .dispatcher
                        .forget_notified(&notification.receiver, &notification.group_key);
                }
            }
        }
        // Taken after the deliveries are queued, so the snapshot never
        // names a notification that is not in the queue.
        let entries = self.state.lock().dispatcher.log_entries();
        snapshots.send_replace(entries);
    }
}

/// Writes each notification-log snapshot the flush task hands over; when
/// several arrive during one write, only the latest is written next. Ends
/// once the flush task has ended and its last snapshot is written.
async fn write_log_snapshots(
    path: PathBuf,
    mut latest: watch::Receiver<Vec<NotificationLogEntry>>,
) {
    while latest.changed().await.is_ok() {
        let entries = latest.borrow_and_update().clone();
        let path = path.clone();
        match tokio::task::spawn_blocking(move || write_log(&path, &entries)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "notification log not saved"),
            Err(error) => tracing::error!(%error, "notification log task failed"),
        }
    }
}

/// Logs the integrations that load but deliver nothing (`opsgenie_configs`
/// and the like), once per configuration.
fn warn_unsupported(config: &AlertmanagerConfig) {
    for receiver in &config.receivers {
        let unsupported = receiver.unsupported_integrations();
        if !unsupported.is_empty() {
            tracing::warn!(
                receiver = %receiver.name,
                integrations = ?unsupported,
                "integrations not supported by agentmon: nothing is delivered to them"
            );
        }
    }
}

fn read_log(path: &Path) -> Result<Vec<NotificationLogEntry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let saved: Vec<SavedLogEntry> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(saved
        .into_iter()
        .map(|e| NotificationLogEntry {
            receiver: e.receiver,
            group_key: e.group_key,
            firing: e.firing,
            resolved: e.resolved,
            at_ms: e.at_ms,
        })
        .collect())
}

/// Writes the snapshot beside the file, syncs it and renames it over, so
/// the file is always a whole snapshot.
fn write_log(path: &Path, entries: &[NotificationLogEntry]) -> Result<(), String> {
    use std::io::Write as _;
    let saved: Vec<SavedLogEntry> = entries
        .iter()
        .map(|e| SavedLogEntry {
            receiver: e.receiver.clone(),
            group_key: e.group_key.clone(),
            firing: e.firing.clone(),
            resolved: e.resolved.clone(),
            at_ms: e.at_ms,
        })
        .collect();
    let text = serde_json::to_vec(&saved).map_err(|e| e.to_string())?;
    let temporary = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| format!("{}: {e}", path.display()))
}

/// The renderer with `config`'s `templates:` files, relative globs read
/// from `config_dir`.
fn load_templates(
    config: &AlertmanagerConfig,
    config_dir: &Path,
) -> Result<GoTemplateRenderer, String> {
    GoTemplateRenderer::load(&config.templates, config_dir).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_snapshot_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(NFLOG_FILE);
        assert!(read_log(&path).expect("missing is empty").is_empty());
        let entries = vec![NotificationLogEntry {
            receiver: "team".to_owned(),
            group_key: "{}:{alertname=\"A\"}".to_owned(),
            firing: vec![1, u64::MAX],
            resolved: vec![7],
            at_ms: 1_700_000_000_000,
        }];
        write_log(&path, &entries).expect("written");
        assert_eq!(read_log(&path).expect("read"), entries);
        std::fs::write(&path, "{not json").expect("written");
        assert!(read_log(&path).is_err());
    }

    #[tokio::test]
    async fn the_writer_saves_the_latest_snapshot_before_it_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(NFLOG_FILE);
        let (snapshots, latest) = watch::channel(Vec::new());
        let writer = tokio::spawn(write_log_snapshots(path.clone(), latest));
        let entry = |at_ms| NotificationLogEntry {
            receiver: "team".to_owned(),
            group_key: "{}:{alertname=\"A\"}".to_owned(),
            firing: vec![at_ms as u64],
            resolved: vec![],
            at_ms,
        };
        for at_ms in 1..=50 {
            snapshots.send_replace(vec![entry(at_ms)]);
        }
        drop(snapshots);
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the writer ends once the sender is gone")
            .expect("the writer does not panic");
        assert_eq!(read_log(&path).expect("read"), vec![entry(50)]);
    }
}
