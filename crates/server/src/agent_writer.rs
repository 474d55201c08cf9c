//! Writes the derived agent metrics into the TSDB every
//! `agents.metrics_interval`, as a scrape of `/metrics/agents` would: one
//! sample per series at the tick's time, through the one atomic
//! [`Db::append`]. Ticks before the database is ready are skipped; sessions
//! silent past the timeout are closed at each tick.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentmon_agents::AgentMetrics;
use agentmon_model::{LabelRef, Sample, SeriesBatch};

use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::Db;

/// Appends the registry's current values at `timestamp_ms`; returns how
/// many series were written.
pub fn write_agent_metrics(
    db: &Db,
    metrics: &AgentMetrics,
    timestamp_ms: i64,
) -> Result<usize, ApiError> {
    let samples = metrics.samples();
    if samples.is_empty() {
        return Ok(0);
    }
    let refs: Vec<Vec<LabelRef<'_>>> = samples.iter().map(|(labels, _)| labels.refs()).collect();
    let mut batch = SeriesBatch::with_capacity(samples.len(), 0, samples.len());
    for ((_, value), labels) in samples.iter().zip(&refs) {
        batch.push_series(labels, &[Sample::new(timestamp_ms, *value)]);
    }
    db.append(&batch, &[])?;
    Ok(samples.len())
}

/// Writes the registry every `interval` until `stop` fires; a write under
/// way when it fires is finished first, so awaiting the task before closing
/// the database leaves no append running against the close.
pub async fn run_agent_metrics_writer(
    state: AppState,
    interval: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => return,
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let metrics = state.agent_metrics().clone();
        let abandoned = metrics.expire_sessions(now);
        if let Some(webhooks) = state.webhooks() {
            webhooks.emit_abandoned(abandoned);
        }
        let Some(db) = state.ready_db() else {
            continue;
        };
        let written =
            tokio::task::spawn_blocking(move || write_agent_metrics(&db, &metrics, now)).await;
        match written {
            Ok(Ok(series)) => tracing::debug!(series, "agent metrics written"),
            Ok(Err(error)) => tracing::warn!(%error, "cannot write agent metrics"),
            Err(error) => tracing::warn!(%error, "agent metrics task failed"),
        }
    }
}
