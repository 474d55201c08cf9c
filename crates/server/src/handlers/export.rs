//! `GET|POST /api/v1/export`: raw samples as VictoriaMetrics JSON lines
//! (<https://docs.victoriametrics.com/#how-to-export-data-in-json-line-format>),
//! one line per series: `{"metric":{...},"values":[...],"timestamps":[...]}`.

use std::collections::BTreeMap;

use agentmon_model::{Labels, Sample};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::decode::write_vm_json_line;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

/// Exports every series matching any `match[]` within `start`..`end`.
#[instrument(skip_all)]
pub async fn export(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let match_sets = params.match_sets()?;
    if match_sets.is_empty() {
        return Err(ApiError::BadData(
            "missing \"match[]\" parameter: give at least one series selector".into(),
        ));
    }
    let (start, end) = params.time_range()?;
    let body = with_db(&state, move |db| {
        let querier = db.querier(start, end);
        // Series selected by several match[] sets are written once.
        let mut selected: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for matchers in &match_sets {
            for series in querier.select(matchers)? {
                selected.entry(series.labels).or_insert(series.samples);
            }
        }
        let mut out = Vec::new();
        for (labels, samples) in &selected {
            write_vm_json_line(&mut out, labels, samples);
        }
        Ok(out)
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/stream+json; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}
