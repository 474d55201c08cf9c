//! The retention of the session store: sessions whose last event is older
//! than the storage `retention_time` are deleted, at start and then every
//! ten minutes, on the blocking pool.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::state::AppState;

/// How often old sessions are looked for.
const PERIOD: Duration = Duration::from_secs(600);

/// Runs until `stop` fires (or its sender is dropped).
pub async fn run_session_retention(
    state: AppState,
    retention: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut ticks = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return,
        }
        let Some(store) = state.session_store() else {
            continue;
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let cutoff =
            now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        match tokio::task::spawn_blocking(move || store.delete_before(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "old sessions deleted by retention"),
            Ok(Err(error)) => tracing::error!(%error, "session retention failed"),
            Err(error) => tracing::error!(%error, "session retention task failed"),
        }
    }
}
