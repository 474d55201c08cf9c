//! Event webhooks at run time (`docs/webhooks.md`).
//!
//! [`EventWebhooks`] holds the webhooks (`webhooks.sqlite`, read once at
//! start and kept in memory), the shared [`DeliveryQueue`] and a bounded
//! channel of [`SourceEvent`]s. Sources never wait: the events API and OTLP
//! spans (`session_end`, sessions closed for silence), the health monitor
//! (a [`HealthChangeListener`]), the scrape loops (a target going down) and
//! the alert pipeline (each notification) call [`EventWebhooks::emit`],
//! which drops the event and counts it when the channel is full. One task
//! ([`EventWebhooks::run`]) turns each event into its payload (looking up a
//! session's totals in the session store on the blocking pool), picks the
//! enabled webhooks whose filter matches, and queues one delivery per
//! webhook (integration `event_webhook`), which the queue sends and retries
//! like any notification.

mod sources;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use agentmon_agents::ExpiredSession;
use agentmon_notify::deliver::{DeliveryQueue, Outcome};
use agentmon_notify::secrets::SecretKey;
use agentmon_notify::webhooks::{
    store, EventType, Webhook, WebhookError, WebhookEvent, WebhookSpec, WebhookStore,
};
use agentmon_probes::{HealthChange, HealthChangeListener};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

pub use sources::SessionEnded;

use crate::state::AppState;

/// How many events may wait for the task before new ones are dropped.
pub const CHANNEL_CAPACITY: usize = 4096;

/// What a source reports; the task builds the payload.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    SessionEnded(SessionEnded),
    SessionAbandoned {
        session: ExpiredSession,
        at_ms: i64,
    },
    /// Built by the source (health, scrape, alert).
    Ready(WebhookEvent),
}

/// Counters of `agentmon_webhook_*`.
#[derive(Debug, Default)]
struct Counters {
    /// Indexed like [`EventType::FILTERABLE`].
    emitted: [AtomicU64; 6],
    dropped: AtomicU64,
    queued: AtomicU64,
    not_queued: AtomicU64,
}

/// The webhooks, the queue they are delivered through, and the channel.
pub struct EventWebhooks {
    store: Arc<WebhookStore>,
    webhooks: Mutex<Arc<Vec<Arc<Webhook>>>>,
    /// Serializes create and delete (store first, then memory).
    changes: tokio::sync::Mutex<()>,
    queue: DeliveryQueue,
    events: mpsc::Sender<SourceEvent>,
    receiver: Mutex<Option<mpsc::Receiver<SourceEvent>>>,
    counters: Counters,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, WebhookError> + Send + 'static,
) -> Result<T, WebhookError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| WebhookError::Invalid(format!("webhook store task failed: {e}")))?
}

impl EventWebhooks {
    /// Opens `webhooks.sqlite` in `data_dir` (sealed with its
    /// `secret.key`) and loads the webhooks; deliveries go to `queue`.
    pub fn open(data_dir: &Path, queue: DeliveryQueue) -> Result<EventWebhooks, String> {
        EventWebhooks::open_with_capacity(data_dir, queue, CHANNEL_CAPACITY)
    }

    /// [`EventWebhooks::open`] with a channel of `capacity` events.
    pub fn open_with_capacity(
        data_dir: &Path,
        queue: DeliveryQueue,
        capacity: usize,
    ) -> Result<EventWebhooks, String> {
        let key = SecretKey::load_or_create(data_dir).map_err(|e| e.to_string())?;
        let store =
            WebhookStore::open(&data_dir.join(store::FILE_NAME), key).map_err(|e| e.to_string())?;
        let loaded = store.load().map_err(|e| e.to_string())?;
        let (events, receiver) = mpsc::channel(capacity.max(1));
        Ok(EventWebhooks {
            store: Arc::new(store),
            webhooks: Mutex::new(Arc::new(loaded.into_iter().map(Arc::new).collect())),
            changes: tokio::sync::Mutex::new(()),
            queue,
            events,
            receiver: Mutex::new(Some(receiver)),
            counters: Counters::default(),
        })
    }

    /// The delivery queue (shared with the alert pipeline).
    pub fn queue(&self) -> &DeliveryQueue {
        &self.queue
    }

    /// Every webhook, by name.
    pub fn list(&self) -> Arc<Vec<Arc<Webhook>>> {
        self.webhooks.lock().clone()
    }

    /// One webhook by name.
    pub fn get(&self, name: &str) -> Option<Arc<Webhook>> {
        self.webhooks
            .lock()
            .iter()
            .find(|w| w.name == name)
            .cloned()
    }

    /// Validates, stores and adds a webhook.
    pub async fn create(&self, spec: WebhookSpec) -> Result<Arc<Webhook>, WebhookError> {
        let webhook = Arc::new(spec.validate(now_ms())?);
        let _changing = self.changes.lock().await;
        if self.get(&webhook.name).is_some() {
            return Err(WebhookError::Duplicate(webhook.name.clone()));
        }
        let store = self.store.clone();
        let stored = webhook.clone();
        blocking(move || store.insert(&stored)).await?;
        let mut webhooks = self.webhooks.lock();
        let mut next: Vec<Arc<Webhook>> = webhooks.iter().cloned().collect();
        next.push(webhook.clone());
        next.sort_by(|a, b| a.name.cmp(&b.name));
        *webhooks = Arc::new(next);
        tracing::info!(webhook = %webhook.name, events = ?webhook.filter.names(), "event webhook created");
        Ok(webhook)
    }

    /// Deletes a webhook; deliveries already queued still go out.
    pub async fn delete(&self, name: &str) -> Result<(), WebhookError> {
        let _changing = self.changes.lock().await;
        if self.get(name).is_none() {
            return Err(WebhookError::NotFound(name.to_owned()));
        }
        let store = self.store.clone();
        let owned = name.to_owned();
        blocking(move || store.delete(&owned)).await?;
        let mut webhooks = self.webhooks.lock();
        let next: Vec<Arc<Webhook>> = webhooks
            .iter()
            .filter(|w| w.name != name)
            .cloned()
            .collect();
        *webhooks = Arc::new(next);
        tracing::info!(webhook = %name, "event webhook deleted");
        Ok(())
    }

    /// Sends a `test` event to one webhook at once, outside the queue.
    pub async fn test(&self, name: &str) -> Result<Outcome, WebhookError> {
        let webhook = self
            .get(name)
            .ok_or_else(|| WebhookError::NotFound(name.to_owned()))?;
        let event = sources::test_event(name, now_ms());
        let delivery = webhook.prepare(&event, &event_id());
        Ok(self.queue.send_now(&delivery).await)
    }

    /// Hands an event to the task without waiting; when the channel is
    /// full the event is dropped and counted. Nothing is done when there
    /// are no webhooks.
    pub fn emit(&self, event: SourceEvent) {
        if self.webhooks.lock().is_empty() {
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?event, "webhook event dropped: the channel is full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The session ends among accepted agent events.
    pub fn emit_session_ends(&self, events: &[agentmon_model::AgentEvent]) {
        for event in events {
            if let agentmon_model::EventKind::SessionEnd { status, output } = &event.kind {
                self.emit(SourceEvent::SessionEnded(SessionEnded {
                    session_id: event.session_id.clone(),
                    agent: event.agent.clone(),
                    instance: event.instance.clone(),
                    status: *status,
                    output: output.clone(),
                    timestamp_ms: event.timestamp_ms,
                }));
            }
        }
    }

    /// Sessions the registry closed for silence.
    pub fn emit_abandoned(&self, sessions: Vec<ExpiredSession>) {
        let at_ms = now_ms();
        for session in sessions {
            self.emit(SourceEvent::SessionAbandoned { session, at_ms });
        }
    }

    /// A scrape target's health changed; only going down is an event.
    pub fn emit_target_health(
        &self,
        labels: &agentmon_model::Labels,
        health: agentmon_ingest::scrape::Health,
        error: &str,
    ) {
        if let Some(event) = sources::instance_offline(labels, health, error, now_ms()) {
            self.emit(SourceEvent::Ready(event));
        }
    }

    /// A notification of the alert pipeline.
    pub fn emit_alert(&self, notification: &agentmon_notify::Notification) {
        self.emit(SourceEvent::Ready(sources::alert_notification(
            notification,
            now_ms(),
        )));
    }

    /// Turns events into deliveries until `stop` fires; events still in
    /// the channel then are queued before it returns. Runs once: a second
    /// call returns at once.
    pub async fn run(self: Arc<Self>, state: AppState, mut stop: watch::Receiver<bool>) {
        let Some(mut receiver) = self.receiver.lock().take() else {
            return;
        };
        loop {
            let event = tokio::select! {
                event = receiver.recv() => event,
                _ = stop.changed() => break,
            };
            let Some(event) = event else {
                return;
            };
            self.deliver(&state, event).await;
        }
        receiver.close();
        while let Some(event) = receiver.recv().await {
            self.deliver(&state, event).await;
        }
    }

    async fn deliver(&self, state: &AppState, event: SourceEvent) {
        // Session events read the session's totals from the store, which
        // only matters when some webhook takes them.
        let kind = match &event {
            SourceEvent::Ready(event) => event.kind,
            SourceEvent::SessionEnded(ended) => match ended.status {
                agentmon_model::SessionStatus::Completed => EventType::SessionCompleted,
                agentmon_model::SessionStatus::Failed => EventType::SessionFailed,
            },
            SourceEvent::SessionAbandoned { .. } => EventType::SessionAbandoned,
        };
        if let Some(index) = EventType::FILTERABLE.iter().position(|t| *t == kind) {
            self.counters.emitted[index].fetch_add(1, Ordering::Relaxed);
        }
        if !self
            .list()
            .iter()
            .any(|w| w.enabled && w.filter.matches(kind))
        {
            return;
        }
        let event = match event {
            SourceEvent::Ready(event) => event,
            SourceEvent::SessionEnded(ended) => {
                let summary = session_summary(state, &ended.session_id).await;
                sources::session_ended(&ended, summary.as_ref())
            }
            SourceEvent::SessionAbandoned { session, at_ms } => {
                let summary = session_summary(state, &session.session_id).await;
                sources::session_abandoned(&session, summary.as_ref(), at_ms)
            }
        };
        let id = event_id();
        let deliveries: Vec<_> = self
            .list()
            .iter()
            .filter(|w| w.enabled && w.filter.matches(event.kind))
            .map(|w| w.prepare(&event, &id))
            .collect();
        if deliveries.is_empty() {
            return;
        }
        let count = deliveries.len() as u64;
        match self.queue.enqueue(deliveries).await {
            Ok(_) => {
                self.counters.queued.fetch_add(count, Ordering::Relaxed);
                tracing::debug!(event = %event.kind, id, webhooks = count, "webhook event queued");
            }
            Err(error) => {
                self.counters.not_queued.fetch_add(count, Ordering::Relaxed);
                tracing::error!(event = %event.kind, id, %error, "webhook event not queued");
            }
        }
    }

    /// `agentmon_webhook_*` in text format.
    pub fn write_metrics(&self, out: &mut String) {
        out.push_str(
            "# HELP agentmon_webhook_events_total Events handed to event webhooks, by type.\n",
        );
        out.push_str("# TYPE agentmon_webhook_events_total counter\n");
        for (kind, count) in EventType::FILTERABLE.iter().zip(&self.counters.emitted) {
            let _ = writeln!(
                out,
                "agentmon_webhook_events_total{{event=\"{kind}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let counters = [
            (
                "agentmon_webhook_events_dropped_total",
                "Events dropped because the webhook channel was full.",
                &self.counters.dropped,
            ),
            (
                "agentmon_webhook_deliveries_queued_total",
                "Webhook deliveries written to the delivery queue.",
                &self.counters.queued,
            ),
            (
                "agentmon_webhook_deliveries_not_queued_total",
                "Webhook deliveries the delivery queue could not store.",
                &self.counters.not_queued,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
    }
}

/// The session's summary from the store, if there is a store and it
/// knows the session.
async fn session_summary(
    state: &AppState,
    session_id: &str,
) -> Option<agentmon_sessions::SessionSummary> {
    let store = state.session_store()?;
    let id = session_id.to_owned();
    match tokio::task::spawn_blocking(move || store.summary(&id, now_ms())).await {
        Ok(Ok(summary)) => summary,
        Ok(Err(error)) => {
            tracing::warn!(%error, "session totals not added to a webhook event");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "session totals task failed");
            None
        }
    }
}

/// A random id per event: the deliveries' group key (no two events
/// supersede each other) and the `X-Agentmon-Event-Id` header.
fn event_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The health monitor's changes, as `health_changed` events.
pub struct HealthChangesToWebhooks(pub Arc<EventWebhooks>);

impl HealthChangeListener for HealthChangesToWebhooks {
    fn changed(&self, change: HealthChange) {
        self.0
            .emit(SourceEvent::Ready(sources::health_changed(&change)));
    }
}
