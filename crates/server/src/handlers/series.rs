//! `GET|POST /api/v1/series`: the label sets of series matching any
//! `match[]` in the time range
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#finding-series-by-label-matchers>).

use axum::extract::State;
use axum::response::Response;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::{apply_limit, success_with_warnings, union_labels, LabelsJson};
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

/// Lists matching series, sorted by labels; `limit` truncates with a warning.
#[instrument(skip_all)]
pub async fn series(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let match_sets = params.match_sets()?;
    if match_sets.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (start, end) = params.time_range()?;
    let limit = params.result_limit()?;
    let mut series = with_db(&state, move |db| {
        let querier = db.querier(start, end);
        let lists = match_sets
            .iter()
            .map(|m| querier.series(m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(union_labels(lists))
    })
    .await?;
    let warnings = apply_limit(&mut series, limit);
    let data: Vec<LabelsJson<'_>> = series.iter().map(LabelsJson).collect();
    Ok(success_with_warnings(data, warnings))
}
