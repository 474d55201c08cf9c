//! Agent events and the metrics derived from them.
//!
//! - `POST /api/v1/events` (write role): a JSON array of events, or NDJSON
//!   with `Content-Type: application/x-ndjson`; the contract is
//!   `docs/events.schema.json`. The whole body is validated first
//!   (`agentmon_ingest::events`); if any event is bad the answer is 400 with
//!   every bad index and why, and nothing is applied. Otherwise the events
//!   are written to the session store in one transaction while the
//!   registry counts them provisionally (if the store fails the registry
//!   takes them back out and the answer is 500: nothing is applied); once
//!   committed the registry keeps them, they are published to the live
//!   stream in order, session ends go to the event webhooks, and the
//!   answer is `{"accepted": N}`.
//! - `GET /metrics/agents`: the registry in the Prometheus text format.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use agentmon_agents::Observation;
use agentmon_ingest::events::{self, BodyFormat, EventLimits};
use agentmon_ingest::IngestError;
use agentmon_model::AgentEvent;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::import::read_body;
use crate::state::AppState;

/// Validates a batch of events and folds it into the derived metrics.
#[instrument(skip_all)]
pub async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let format = match body_format(&headers) {
        Ok(format) => format,
        Err(error) => return error.into_response(),
    };
    let body = match read_body(&state, &headers, body) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    // Decoding and keeping the batch run on one blocking thread, with no
    // hop back to the async runtime between them.
    let keeping = state.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let events = events::parse(&body, format, now_ms(), &EventLimits::default())?;
        Ok::<_, IngestError>(accept_events_blocking(&keeping, events, Vec::new()))
    })
    .await;
    match parsed {
        Ok(Ok(Ok(accepted))) => Json(json!({ "accepted": accepted })).into_response(),
        Ok(Ok(Err(error))) => error.into_response(),
        Ok(Err(IngestError::Events { faulty, problems })) => {
            let message = IngestError::Events {
                faulty,
                problems: problems.clone(),
            }
            .to_string();
            tracing::debug!(faulty, "agent events refused");
            let errors: Vec<serde_json::Value> = problems
                .iter()
                .map(|p| match p.line {
                    Some(line) => json!({"index": p.index, "line": line, "error": p.reason}),
                    None => json!({"index": p.index, "error": p.reason}),
                })
                .collect();
            (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "status": "error",
                    "errorType": "bad_data",
                    "error": message,
                    "invalid": faulty,
                    "errors": errors,
                })),
            )
                .into_response()
        }
        Ok(Err(other)) => ApiError::from(other).into_response(),
        Err(e) => ApiError::Internal(format!("agent events task failed: {e}")).into_response(),
    }
}

/// Keeps a validated batch of events, from the events API or from OTLP
/// spans (with the GenAI histograms' `observations`, if the events came
/// from spans). Blocks; runs on the blocking pool. The session store writes the batch (one transaction) on
/// another pooled thread while this one counts it provisionally in the
/// derived metrics, so a request takes the longer of the two rather than
/// their sum. Once the store has committed, the metrics keep the batch,
/// the live stream gets it in order and the event webhooks the session
/// ends and the sessions the batch closed for silence (handed to a
/// channel, never waited for). If the store fails, the metrics take the
/// batch back out whole and the answer is an error: nothing of the request
/// is applied. Answers how many events were kept.
pub(crate) fn accept_events_blocking(
    state: &AppState,
    events: Vec<AgentEvent>,
    observations: Vec<Observation>,
) -> Result<usize, ApiError> {
    let runtime = tokio::runtime::Handle::current();
    let events = Arc::new(events);
    let metrics = state.agent_metrics();
    let stored = state.session_store().map(|store| {
        let (verdict, verdict_out) = std::sync::mpsc::sync_channel(1);
        let events = Arc::clone(&events);
        let metrics = Arc::clone(metrics);
        drop(runtime.spawn_blocking(move || {
            let outcome = store.append(&events, &|kind| metrics.step_cost(kind));
            let _ = verdict.send(outcome.map_err(|e| e.to_string()));
        }));
        verdict_out
    });
    let counted = match stored {
        None => Ok(metrics.apply_with_observations(&events, &observations)),
        Some(stored) => {
            let pending = metrics.apply_pending(&events, &observations);
            match stored.recv() {
                Ok(Ok(())) => Ok(pending.keep()),
                Ok(Err(e)) => {
                    pending.take_back();
                    Err(e)
                }
                Err(_) => {
                    pending.take_back();
                    Err("the session store's writer ended without a verdict".to_owned())
                }
            }
        }
    };
    let abandoned = counted.map_err(|e| {
        tracing::error!(error = %e, "agent events not stored (nothing of the request applied)");
        ApiError::Internal(format!("events not accepted: {e}"))
    })?;
    state
        .live()
        .publish(&events, &|kind| metrics.step_cost(kind));
    if let Some(webhooks) = state.webhooks() {
        webhooks.emit_session_ends(&events);
        webhooks.emit_abandoned(abandoned);
    }
    let accepted = events.len();
    tracing::debug!(events = accepted, "agent events accepted");
    // Freeing a batch's strings is not the client's wait: it happens on
    // another pooled thread while the answer goes out.
    drop(runtime.spawn_blocking(move || drop(events)));
    Ok(accepted)
}

/// The derived metrics, as a scrape target would serve them.
pub async fn agent_metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.agent_metrics().render(),
    )
        .into_response()
}

/// JSON array unless the client says NDJSON; other media types are 415.
fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyFormat::JsonArray);
    };
    let text = value.to_str().unwrap_or("");
    let media_type = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" | "" => Ok(BodyFormat::JsonArray),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Ok(BodyFormat::Ndjson)
        }
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {text:?}: send application/json (an array of events) \
             or application/x-ndjson (one event per line)"
        ))),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
