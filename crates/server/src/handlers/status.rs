//! `GET /api/v1/status/tsdb`: cardinality statistics of the head
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#tsdb-stats>),
//! plus agentmon's list of blocks.

use axum::extract::State;
use axum::response::Response;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

/// Answers the TSDB status with the top `limit` (default 10) entries per list.
#[instrument(skip_all)]
pub async fn tsdb_status(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = params.integer("limit", 10)?;
    if limit <= 0 {
        return Err(ApiError::BadData("limit must be a positive number".into()));
    }
    let status = with_db(&state, move |db| Ok(db.status(limit as usize))).await?;
    Ok(success(status))
}
