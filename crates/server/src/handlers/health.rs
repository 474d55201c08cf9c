//! `/health/live` and `/health/ready`, for process supervisors and load
//! balancers; they need no token.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::state::{AppState, NOT_READY_REASON};

/// Always 200 while the process serves HTTP.
#[instrument(skip_all)]
pub async fn live() -> Response {
    success("alive")
}

/// 200 once the database is open, 503 with the reason before.
#[instrument(skip_all)]
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.ready_db().is_some() {
        success("ready")
    } else {
        ApiError::Unavailable(NOT_READY_REASON.to_owned()).into_response()
    }
}
