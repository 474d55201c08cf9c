//! The seam between HTTP handlers and the PromQL engine.
//!
//! [`run_query`] is the only place a handler evaluates PromQL. It
//!
//! - waits for one of `max_concurrency` slots (Prometheus's
//!   `--query.max-concurrency`); the wait counts against the query's timeout,
//!   and a query still queued at its deadline fails with
//!   `query timed out in query queue`, as in Prometheus;
//! - runs the engine on tokio's blocking pool, since a query can scan many
//!   blocks and hold a worker for seconds;
//! - sets the query's cancel flag when the request future is dropped (the
//!   client went away), so an abandoned query stops at its next check
//!   instead of running to its timeout. The slot is held by the blocking
//!   task, so it is only freed once the query really stopped;
//! - turns [`PromqlError`]s into [`ApiError`]s with Prometheus's error types
//!   (`bad_data`, `execution`, `timeout`, `canceled`, `internal`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentmon_promql::{Engine, PromqlError, Query, QueryKind, QueryOutput};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::AppState;

/// The engine and the admission control in front of it.
#[derive(Debug, Clone)]
pub struct QueryEngine {
    engine: Engine,
    slots: Arc<Semaphore>,
}

impl QueryEngine {
    /// An engine admitting at most `max_concurrency` queries at once
    /// (at least one).
    pub fn new(engine: Engine, max_concurrency: usize) -> QueryEngine {
        QueryEngine {
            engine,
            slots: Arc::new(Semaphore::new(max_concurrency.max(1))),
        }
    }

    /// The engine itself.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Sets the cancel flag when dropped: on normal completion (harmless, the
/// query is over) and when the request future is dropped mid-query.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Evaluates `text` against the database, within the state's limits.
/// `timeout` is the request's own `timeout` parameter; the engine's
/// configured timeout caps it.
pub(crate) async fn run_query(
    state: &AppState,
    text: String,
    kind: QueryKind,
    timeout: Option<Duration>,
) -> Result<QueryOutput, ApiError> {
    let db = state.db()?;
    let queries = state.query_engine().clone();
    let started = Instant::now();
    let limit = queries.engine.options().timeout;
    let timeout = timeout.map_or(limit, |t| t.min(limit));

    let permit = match tokio::time::timeout(timeout, queries.slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_closed)) => return Err(ApiError::Internal("query queue is closed".into())),
        Err(_elapsed) => {
            return Err(to_api_error(PromqlError::Timeout {
                phase: "query queue",
            }))
        }
    };
    let remaining = timeout.saturating_sub(started.elapsed());

    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let query = Query {
            text: &text,
            kind,
            timeout: Some(remaining),
            cancel: Some(cancel),
        };
        queries.engine.query(db.as_ref(), &query)
    });
    task.await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
        .map_err(to_api_error)
}

/// Maps an engine error to its Prometheus error type: parse errors are the
/// client's (`bad_data`, worded as Prometheus words an invalid `query`
/// parameter), timeouts and cancellations have their own types, storage
/// failures are ours, and everything else failed while executing.
pub(crate) fn to_api_error(error: PromqlError) -> ApiError {
    match error {
        PromqlError::Parse { .. } | PromqlError::InvalidRange { .. } => {
            ApiError::BadData(format!("invalid parameter \"query\": {error}"))
        }
        PromqlError::Timeout { .. } => ApiError::Timeout(error.to_string()),
        PromqlError::Canceled { .. } => ApiError::Canceled(error.to_string()),
        PromqlError::Storage { .. } | PromqlError::TestSetup { .. } => {
            ApiError::Internal(error.to_string())
        }
        _ => ApiError::Execution(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_get_prometheus_error_types() {
        let cases = [
            (
                PromqlError::Parse {
                    message: "x".into(),
                },
                "bad_data",
                400,
            ),
            (PromqlError::Timeout { phase: "eval" }, "timeout", 503),
            (PromqlError::Canceled { phase: "eval" }, "canceled", 499),
            (
                PromqlError::TooManySamples { phase: "eval" },
                "execution",
                422,
            ),
            (
                PromqlError::NotImplemented {
                    feature: "f".into(),
                },
                "execution",
                422,
            ),
            (
                PromqlError::Storage {
                    selector: "up".into(),
                    message: "disk".into(),
                },
                "internal",
                500,
            ),
        ];
        for (error, error_type, status) in cases {
            let api = to_api_error(error);
            assert_eq!(api.error_type(), error_type, "{api}");
            assert_eq!(api.status().as_u16(), status, "{api}");
        }
    }

    #[test]
    fn parse_errors_name_the_query_parameter() {
        let api = to_api_error(PromqlError::Parse {
            message: "1:3: unexpected end of input".into(),
        });
        assert_eq!(
            api.message(),
            "invalid parameter \"query\": parse error: 1:3: unexpected end of input"
        );
    }
}
