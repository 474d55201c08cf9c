//! The [`DeliveryQueue`]: deliveries are written to SQLite before any is
//! sent; a dispatcher task claims due rows and a pool of at most
//! `workers` concurrent attempts sends them, recording each outcome as the
//! [`RetryPolicy`] decides. Started on an existing file, it resumes the
//! pending rows.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::error::DeliverError;
use super::log::{DeliveryFilter, DeliveryRecord, Page};
use super::metrics::DeliveryMetrics;
use super::policy::RetryPolicy;
use super::send::{Outcome, Sender};
use super::store::{AttemptRecord, ClaimedDelivery, DeliveryStatus, DeliveryStore};
use crate::notification::Notification;
use crate::receivers::{prepare, PreparedDelivery, ReceiverConfig, Renderer};
use crate::secrets::SecretKey;

/// How the queue works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueOptions {
    /// Attempts under way at once.
    pub workers: usize,
    pub retry: RetryPolicy,
    /// Timeout of one attempt unless the integration sets its own.
    pub send_timeout: Duration,
    /// The longest the dispatcher sleeps without looking at the table.
    pub poll_interval: Duration,
    /// Finished deliveries are kept in the log this long.
    pub log_retention: Duration,
}

impl Default for QueueOptions {
    fn default() -> QueueOptions {
        QueueOptions {
            workers: 4,
            retry: RetryPolicy::default(),
            send_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            log_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The durable delivery queue.
#[derive(Clone)]
pub struct DeliveryQueue {
    inner: Arc<Inner>,
}

struct Inner {
    store: DeliveryStore,
    sender: Sender,
    metrics: DeliveryMetrics,
    options: QueueOptions,
    wake: Notify,
}

/// The running dispatcher; stop it with [`Dispatcher::shutdown`].
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    /// Stops claiming, waits for the attempts under way, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops at once, abandoning attempts under way, as a crash would:
    /// their rows stay claimed until the file is opened again.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// How often finished deliveries past the log retention are deleted.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeliverError> + Send + 'static,
) -> Result<T, DeliverError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeliverError::Join(e.to_string()))?
}

impl DeliveryQueue {
    /// Opens the queue's database at `path`, sealing payloads with `key`.
    pub fn open(
        path: &Path,
        key: SecretKey,
        options: QueueOptions,
    ) -> Result<DeliveryQueue, DeliverError> {
        let store = DeliveryStore::open(path, key)?;
        let sender = Sender::new(options.send_timeout)?;
        Ok(DeliveryQueue {
            inner: Arc::new(Inner {
                store,
                sender,
                metrics: DeliveryMetrics::default(),
                options: QueueOptions {
                    workers: options.workers.max(1),
                    ..options
                },
                wake: Notify::new(),
            }),
        })
    }

    /// Opens `notifications.sqlite` in `data_dir` with the directory's
    /// `secret.key` (created on first use).
    pub fn open_in(data_dir: &Path, options: QueueOptions) -> Result<DeliveryQueue, DeliverError> {
        let key = SecretKey::load_or_create(data_dir).map_err(DeliverError::Key)?;
        DeliveryQueue::open(&data_dir.join(super::store::FILE_NAME), key, options)
    }

    /// Prepares `notification` for every integration of `receiver` and
    /// queues the deliveries. Returns their ids (none if the receiver has
    /// nothing to send, e.g. only resolved alerts and no `send_resolved`).
    pub async fn enqueue_notification(
        &self,
        notification: &Notification,
        receiver: &ReceiverConfig,
        renderer: &dyn Renderer,
    ) -> Result<Vec<i64>, DeliverError> {
        let deliveries =
            prepare(notification, receiver, renderer).map_err(DeliverError::Prepare)?;
        self.enqueue(deliveries).await
    }

    /// Persists deliveries (superseding pending ones of the same groups)
    /// and wakes the dispatcher. Returns the deliveries' ids.
    pub async fn enqueue(
        &self,
        deliveries: Vec<PreparedDelivery>,
    ) -> Result<Vec<i64>, DeliverError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        let ids = blocking(move || {
            let stored = inner.store.enqueue(&deliveries, now_ms())?;
            for entry in &stored {
                for _ in 0..entry.superseded {
                    inner.metrics.count(entry.integration, "superseded");
                }
            }
            Ok(stored.into_iter().map(|entry| entry.id).collect())
        })
        .await?;
        self.inner.wake.notify_one();
        Ok(ids)
    }

    /// Sends one delivery at once, outside the queue (no retry, no log
    /// row): for "send a test notification" endpoints, which answer with
    /// the outcome. Counted in the metrics like any attempt.
    pub async fn send_now(&self, delivery: &PreparedDelivery) -> Outcome {
        let started = Instant::now();
        let outcome = self.inner.sender.send(&delivery.request).await;
        let metrics = &self.inner.metrics;
        metrics.observe_latency(delivery.integration, started.elapsed().as_secs_f64());
        let counted = match outcome {
            Outcome::Sent { .. } => "sent",
            Outcome::Failed { .. } | Outcome::Retry { .. } => "failed",
        };
        metrics.count(delivery.integration, counted);
        outcome
    }

    /// The delivery log, newest first.
    pub async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
        page: Page,
    ) -> Result<Vec<DeliveryRecord>, DeliverError> {
        let inner = self.inner.clone();
        blocking(move || inner.store.list_deliveries(&filter, page)).await
    }

    /// The underlying store (synchronous; for the blocking pool).
    pub fn store(&self) -> &DeliveryStore {
        &self.inner.store
    }

    pub fn metrics(&self) -> &DeliveryMetrics {
        &self.inner.metrics
    }

    /// Starts the dispatcher on the current tokio runtime.
    pub fn start(&self) -> Dispatcher {
        let (stop, stopped) = watch::channel(false);
        let inner = self.inner.clone();
        let task = tokio::spawn(dispatch(inner, stopped));
        Dispatcher { stop, task }
    }
}

async fn dispatch(inner: Arc<Inner>, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(inner.options.workers));
    let mut attempts = JoinSet::new();
    let mut last_cleanup: Option<Instant> = None;
    loop {
        if *stopped.borrow() {
            break;
        }
        let cleanup_due = match last_cleanup {
            None => true,
            Some(at) => at.elapsed() >= CLEANUP_INTERVAL,
        };
        if cleanup_due {
            last_cleanup = Some(Instant::now());
            let cleanup_inner = inner.clone();
            let before = now_ms() - inner.options.log_retention.as_millis() as i64;
            match blocking(move || cleanup_inner.store.delete_finished_before(before)).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "old deliveries removed from the log"),
                Err(error) => tracing::warn!(%error, "cannot remove old deliveries from the log"),
            }
        }
        while attempts.try_join_next().is_some() {}
        let free = slots.available_permits();
        let claimed = if free > 0 {
            let claim_inner = inner.clone();
            blocking(move || claim_inner.store.claim_due(now_ms(), free)).await
        } else {
            Ok(Vec::new())
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::error!(%error, "cannot claim due notifications");
            Vec::new()
        });
        let claimed_any = !claimed.is_empty();
        for delivery in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let inner = inner.clone();
            attempts.spawn(async move {
                attempt(inner.clone(), delivery).await;
                drop(permit);
                // A slot is free and the group may have more due.
                inner.wake.notify_one();
            });
        }
        if claimed_any {
            continue;
        }
        let next_due = {
            let due_inner = inner.clone();
            blocking(move || due_inner.store.next_due_at())
                .await
                .ok()
                .flatten()
        };
        let mut sleep = inner.options.poll_interval;
        if let Some(due) = next_due {
            let wait = due.saturating_sub(now_ms());
            if wait > 0 {
                sleep = sleep.min(Duration::from_millis(wait as u64));
            }
        }
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = stopped.changed() => {}
        }
    }
    while attempts.join_next().await.is_some() {}
}

async fn attempt(inner: Arc<Inner>, delivery: ClaimedDelivery) {
    let integration = delivery.integration;
    let id = delivery.id;
    let policy = inner.options.retry;
    let (attempted, record) = if policy.is_expired(delivery.created_at_ms, now_ms()) {
        let record = AttemptRecord {
            status: DeliveryStatus::Expired,
            next_attempt_at_ms: None,
            response_code: None,
            error: Some("not sent within the maximum age".to_owned()),
        };
        (false, record)
    } else {
        let started = Instant::now();
        let outcome = inner.sender.send(&delivery.request).await;
        inner
            .metrics
            .observe_latency(integration, started.elapsed().as_secs_f64());
        let record = policy.decide(
            &outcome,
            delivery.attempts + 1,
            delivery.created_at_ms,
            now_ms(),
        );
        if let Outcome::Retry { .. } | Outcome::Failed { .. } = outcome {
            tracing::warn!(
                delivery = id,
                %integration,
                receiver = %delivery.receiver,
                attempts = delivery.attempts + 1,
                status = record.status.as_str(),
                error = record.error.as_deref().unwrap_or(""),
                "notification attempt did not succeed"
            );
        }
        (true, record)
    };
    inner.metrics.count(
        integration,
        match record.status {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Expired => "expired",
            _ => "retried",
        },
    );
    let record_inner = inner.clone();
    let recorded =
        blocking(move || record_inner.store.record(id, attempted, &record, now_ms())).await;
    if let Err(error) = recorded {
        tracing::error!(%error, delivery = id, "cannot record a notification attempt");
    }
}
