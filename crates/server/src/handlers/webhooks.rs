//! Event webhooks (`docs/webhooks.md`); answers are plain JSON in the
//! seed's shapes, not the Prometheus envelope; errors are the usual
//! `{"status": "error", ...}`.
//!
//! - `POST /api/v1/monitor/webhooks` (write role): `{name, url, events,
//!   enabled, headers, secret}`; 201 with the webhook (URL path and query,
//!   header values and secret redacted), 400 on bad input or an unknown
//!   field, 409 when the name is taken.
//! - `GET /api/v1/monitor/webhooks`: every webhook, by name (a JSON array).
//! - `GET /api/v1/monitor/webhooks/{name}`: one; 404 if unknown.
//! - `DELETE /api/v1/monitor/webhooks/{name}` (write role): 404 if unknown.
//! - `POST /api/v1/monitor/webhooks/{name}/test` (write role): sends a
//!   `test` event now, outside the queue (no retry), and answers 200 with
//!   `{"status": "sent", "response_code": 200}` or `{"status": "failed",
//!   "response_code": <code or null>, "error": "..."}`: the request to
//!   agentmon succeeded either way; 404 if the name is unknown.
//!
//! All answer 503 until the webhooks are open.

use std::sync::Arc;

use agentmon_notify::deliver::Outcome;
use agentmon_notify::webhooks::{WebhookError, WebhookSpec};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::import::read_body;
use crate::handlers::success;
use crate::state::AppState;
use crate::webhooks::EventWebhooks;

#[instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let webhooks = webhooks(&state)?;
    let body = read_body(&state, &headers, body)?;
    let spec: WebhookSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadData(format!("invalid webhook: {}", without_values(&e))))?;
    let webhook = webhooks.create(spec).await.map_err(api_error)?;
    let mut response = success(webhook.view());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

#[instrument(skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let views: Vec<Value> = webhooks(&state)?.list().iter().map(|w| w.view()).collect();
    Ok(success(views))
}

#[instrument(skip_all)]
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let webhook = webhooks(&state)?
        .get(&name)
        .ok_or_else(|| api_error(WebhookError::NotFound(name)))?;
    Ok(success(webhook.view()))
}

#[instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    webhooks(&state)?.delete(&name).await.map_err(api_error)?;
    Ok(success(json!({ "deleted": name })))
}

#[instrument(skip_all)]
pub async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = webhooks(&state)?.test(&name).await.map_err(api_error)?;
    let answer = match outcome {
        Outcome::Sent { code } => json!({ "status": "sent", "response_code": code }),
        Outcome::Failed { code, error } | Outcome::Retry { code, error, .. } => {
            tracing::info!(webhook = %name, response_code = ?code, %error, "webhook test failed");
            json!({ "status": "failed", "response_code": code, "error": error })
        }
    };
    Ok(Json(answer).into_response())
}

fn webhooks(state: &AppState) -> Result<Arc<EventWebhooks>, ApiError> {
    state
        .webhooks()
        .cloned()
        .ok_or_else(|| ApiError::Unavailable("event webhooks are not open yet".to_owned()))
}

fn api_error(error: WebhookError) -> ApiError {
    let message = error.to_string();
    match error {
        WebhookError::Invalid(_) => ApiError::BadData(message),
        WebhookError::Duplicate(_) => ApiError::Conflict(message),
        WebhookError::NotFound(_) => ApiError::NotFound(message),
        WebhookError::Store { .. } | WebhookError::Open(_) | WebhookError::Secret { .. } => {
            ApiError::Internal(message)
        }
    }
}

/// serde's message for a body that does not parse. Its texts name fields
/// and types, not values, except "invalid value: string \"...\"", which
/// could repeat a token; that part is cut.
fn without_values(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find("invalid value") {
        Some(at) => format!("{}invalid value", &text[..at]),
        None => text,
    }
}
