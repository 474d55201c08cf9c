//! The seam between HTTP handlers and the storage engine.
//!
//! Every call into [`Db`] goes through [`with_db`], which answers 503 while
//! the WAL is still being replayed and runs the call on tokio's blocking pool
//! (appends `write(2)` and maybe `fsync` the WAL; queries can scan blocks), so
//! no handler blocks an async worker. Storage errors become [`ApiError`]s
//! here and nowhere else.

use std::sync::Arc;

use crate::error::ApiError;
use crate::state::AppState;

use agentmon_tsdb::TsdbError;
pub use agentmon_tsdb::{AppendError, Db};

/// Runs `work` against the database on the blocking pool.
///
/// Fails with 503 while the database is still opening.
pub(crate) async fn with_db<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Db) -> Result<T, ApiError> + Send + 'static,
{
    let db: Arc<Db> = state.db()?;
    tokio::task::spawn_blocking(move || work(&db))
        .await
        .map_err(|e| ApiError::Internal(format!("storage task failed: {e}")))?
}

impl From<TsdbError> for ApiError {
    fn from(error: TsdbError) -> ApiError {
        ApiError::Internal(format!("storage error: {error}"))
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> ApiError {
        match error {
            AppendError::Rejected(rejection) => ApiError::BadData(rejection.to_string()),
            AppendError::Storage(error) => error.into(),
        }
    }
}
