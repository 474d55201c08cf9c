//! `GET|POST /api/v1/labels` and `GET /api/v1/label/{name}/values`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#getting-label-names>):
//! label names, and the values of one label, over series matching any
//! `match[]` (all series when none is given) in the time range.

use agentmon_model::{validate_label_name, Matcher, METRIC_NAME_LABEL};
use axum::extract::{Path, State};
use axum::response::Response;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::{apply_limit, success_with_warnings, union_sorted};
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

/// Lists label names, sorted.
#[instrument(skip_all)]
pub async fn label_names(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let match_sets = match_sets_or_all(&params)?;
    let (start, end) = params.time_range()?;
    let limit = params.result_limit()?;
    let mut names = with_db(&state, move |db| {
        let querier = db.querier(start, end);
        let lists = match_sets
            .iter()
            .map(|m| querier.label_names(m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(union_sorted(lists))
    })
    .await?;
    let warnings = apply_limit(&mut names, limit);
    Ok(success_with_warnings(names, warnings))
}

/// Lists the values of label `name`, sorted.
#[instrument(skip_all, fields(label = %name))]
pub async fn label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if name != METRIC_NAME_LABEL && validate_label_name(&name).is_err() {
        return Err(ApiError::BadData(format!("invalid label name: {name:?}")));
    }
    let match_sets = match_sets_or_all(&params)?;
    let (start, end) = params.time_range()?;
    let limit = params.result_limit()?;
    let mut values = with_db(&state, move |db| {
        let querier = db.querier(start, end);
        let lists = match_sets
            .iter()
            .map(|m| querier.label_values(&name, m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(union_sorted(lists))
    })
    .await?;
    let warnings = apply_limit(&mut values, limit);
    Ok(success_with_warnings(values, warnings))
}

/// The `match[]` sets, or one empty set (every series) when none is given.
fn match_sets_or_all(params: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let sets = params.match_sets()?;
    Ok(if sets.is_empty() {
        vec![Vec::new()]
    } else {
        sets
    })
}
