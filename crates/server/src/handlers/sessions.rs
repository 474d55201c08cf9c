//! The session timeline store over HTTP (read role).
//!
//! - `GET /api/v1/sessions`: sessions newest start first. Parameters:
//!   `agent`, `status` (`running`, `completed`, `failed`, `abandoned`),
//!   `start`/`end` (RFC 3339 or Unix seconds; sessions active in the
//!   range), `limit` (1 to 1000, default 100), `offset` (default 0). The
//!   answer's `next_offset` is the offset of the next page, or null.
//! - `GET /api/v1/sessions/{id}`: one session with its events in time
//!   order and its totals; 404 if unknown.
//!
//! Both answer 503 until the store is open.

use std::time::{SystemTime, UNIX_EPOCH};

use agentmon_sessions::{
    SessionQuery, SessionStatusFilter, SessionStore, SessionSummary, MAX_PAGE_SIZE,
};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use serde_json::{json, Value};
use tracing::instrument;

use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

const DEFAULT_PAGE_SIZE: usize = 100;

#[instrument(skip_all)]
pub async fn list_sessions(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let query = session_query(&Params::from_uri(&uri)?)?;
    let store = store(&state)?;
    let page = blocking(move || store.list(&query, now_ms())).await?;
    let sessions: Vec<Value> = page.sessions.iter().map(summary_json).collect();
    Ok(Json(json!({
        "status": "success",
        "data": { "sessions": sessions, "next_offset": page.next_offset },
    })))
}

#[instrument(skip_all)]
pub async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = store(&state)?;
    let lookup = id.clone();
    let timeline = blocking(move || store.timeline(&lookup, now_ms()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("session {id:?} not found")))?;
    let events: Vec<Value> = timeline
        .events
        .iter()
        .map(|e| {
            json!({
                "timestamp": e.timestamp_ms as f64 / 1000.0,
                "type": e.event_type,
                "data": e.body,
            })
        })
        .collect();
    Ok(Json(json!({
        "status": "success",
        "data": { "session": summary_json(&timeline.session), "timeline": events },
    })))
}

fn session_query(params: &Params) -> Result<SessionQuery, ApiError> {
    let status = match params.get("status") {
        None | Some("") => None,
        Some(text) => Some(SessionStatusFilter::parse(text).ok_or_else(|| {
            ApiError::BadData(format!(
                "invalid parameter \"status\": {text:?} is not one of running, completed, failed, abandoned"
            ))
        })?),
    };
    let (start, end) = params.time_range()?;
    let limit = params.integer("limit", DEFAULT_PAGE_SIZE as i64)?;
    if !(1..=MAX_PAGE_SIZE as i64).contains(&limit) {
        return Err(ApiError::BadData(format!(
            "invalid parameter \"limit\": {limit} is not between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let offset = params.integer("offset", 0)?;
    let offset = usize::try_from(offset).map_err(|_| {
        ApiError::BadData("invalid parameter \"offset\": must not be negative".into())
    })?;
    Ok(SessionQuery {
        agent: params
            .get("agent")
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        status,
        start_ms: (start != i64::MIN).then_some(start),
        end_ms: (end != i64::MAX).then_some(end),
        limit: limit as usize,
        offset,
    })
}

fn summary_json(s: &SessionSummary) -> Value {
    let seconds = |ms: i64| ms as f64 / 1000.0;
    json!({
        "id": s.session_id,
        "agent": s.agent,
        "instance": s.instance,
        "status": s.status,
        "start": seconds(s.started_ms),
        "last_event": seconds(s.last_seen_ms),
        "end": s.ended_ms.map(seconds),
        "totals": {
            "steps": s.steps,
            "tool_calls": s.tool_calls,
            "errors": s.errors,
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "unpriced_tokens": s.unpriced_tokens,
            "cost_usd": s.cost_usd,
        },
    })
}

fn store(state: &AppState) -> Result<std::sync::Arc<SessionStore>, ApiError> {
    state
        .session_store()
        .ok_or_else(|| ApiError::Unavailable("session store not open yet".into()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, agentmon_sessions::SessionError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("session store task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
