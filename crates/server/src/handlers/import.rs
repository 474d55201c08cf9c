//! VictoriaMetrics-compatible import endpoints
//! (<https://docs.victoriametrics.com/#how-to-import-time-series-data>):
//!
//! - `POST /api/v1/import/prometheus`: Prometheus text exposition. Lines
//!   without a timestamp get the `timestamp` query parameter, in
//!   milliseconds since the epoch as VictoriaMetrics takes it, or the
//!   arrival time.
//! - `POST /api/v1/import`: VictoriaMetrics JSON lines, as
//!   `/api/v1/export` writes them.
//!
//! Both answer 204 when the whole body landed, and a plain-text 4xx saying
//! what was wrong otherwise; nothing is half-applied.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::decode::{self, IngestReport};
use crate::error::{ApiError, PlainText};
use crate::handlers::write::body_error;
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

/// Imports Prometheus text exposition.
#[instrument(skip_all)]
pub async fn import_prometheus(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let params = Params::from_uri(&uri)?;
        let body = read_body(&state, &headers, body)?;
        let default_timestamp_ms = match params.get("timestamp") {
            None | Some("") => now_ms(),
            Some(value) => value.trim().parse::<i64>().map_err(|_| {
                ApiError::BadData(format!(
                    "invalid parameter \"timestamp\": {value:?} is not an integer number of milliseconds since the epoch"
                ))
            })?,
        };
        let limits = *state.limits();
        with_db(&state, move |db| {
            let text = std::str::from_utf8(&body).map_err(|e| {
                ApiError::BadData(format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()))
            })?;
            decode::text_body(db, text, default_timestamp_ms, &limits)
        })
        .await
    }
    .await;
    answer(result, "prometheus text import")
}

/// Imports VictoriaMetrics JSON lines.
#[instrument(skip_all)]
pub async fn import_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let body = read_body(&state, &headers, body)?;
        let limits = *state.limits();
        with_db(&state, move |db| decode::vm_json_body(db, &body, &limits)).await
    }
    .await;
    answer(result, "json lines import")
}

/// The raw body; compressed bodies are refused with 415 until we can
/// decompress them.
pub(crate) fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or("");
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {encoding:?}: send the body uncompressed"
            )));
        }
    }
    body.map_err(|rejection| body_error(rejection, state.limits().max_body_bytes))
}

fn answer(result: Result<IngestReport, ApiError>, what: &'static str) -> Response {
    match result {
        Ok(report) => {
            tracing::debug!(
                series = report.series,
                samples = report.samples_appended,
                duplicates = report.samples_duplicate,
                "{what} appended"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => PlainText(error).into_response(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
