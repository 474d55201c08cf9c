//! `/api/v1/admin/*`: operations that change storage, for admin tokens.
//! `POST|PUT /api/v1/admin/tsdb/flush` cuts the head into a block now.

use axum::extract::State;
use axum::response::Response;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::state::AppState;
use crate::storage::with_db;

/// Flushes the head to a block and reports what was written.
#[instrument(skip_all)]
pub async fn flush(State(state): State<AppState>) -> Result<Response, ApiError> {
    let summary = with_db(&state, |db| Ok(db.flush()?)).await?;
    tracing::info!(
        blocks = summary.blocks_written,
        samples = summary.samples,
        "head flushed on request"
    );
    Ok(success(summary))
}
