//! Health checks of services over HTTP (`agentmon_probes`).
//!
//! - `GET /api/v1/monitor/health/targets`: every target (read role).
//! - `POST /api/v1/monitor/health/targets` (write role): adds a target from
//!   a JSON body `{service_name, endpoint, interval, timeout,
//!   expected_status}`; 201 with the target, 400 on bad input, 409 when the
//!   name is taken.
//! - `DELETE /api/v1/monitor/health/targets/{name}` (write role): 404 if
//!   unknown, 409 for a target from the configuration file.
//! - `GET /api/v1/monitor/health`: the overall status (`healthy`,
//!   `degraded`, `unhealthy`), the percentage of targets up and every
//!   service's latest probe.
//! - `GET /api/v1/monitor/health/{service}`: one service; 404 if unknown.
//!
//! All answer 503 until the monitor is running (after the WAL replay).

use std::time::{Duration, UNIX_EPOCH};

use agentmon_model::duration;
use agentmon_probes::{
    overall, validate_service_name, HealthMonitor, HealthTarget, ProbeError, ServiceStatus,
    TargetOrigin, TargetSpec,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::import::read_body;
use crate::handlers::server_status::rfc3339;
use crate::handlers::success;
use crate::state::AppState;

#[instrument(skip_all)]
pub async fn list_targets(State(state): State<AppState>) -> Result<Response, ApiError> {
    let monitor = monitor(&state)?;
    let targets: Vec<Value> = monitor
        .statuses()
        .iter()
        .map(|s| target_json(&s.target))
        .collect();
    Ok(success(json!({ "targets": targets })))
}

#[instrument(skip_all)]
pub async fn add_target(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let monitor = monitor(&state)?;
    let body = read_body(&state, &headers, body)?;
    let spec: TargetSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadData(format!("invalid health check target: {e}")))?;
    let target = spec.validate(TargetOrigin::Api).map_err(api_error)?;
    let answer = target_json(&target);
    monitor.add(target).await.map_err(api_error)?;
    let mut response = success(answer);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

#[instrument(skip_all)]
pub async fn delete_target(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let monitor = monitor(&state)?;
    monitor.remove(&name).await.map_err(api_error)?;
    Ok(success(json!({ "service_name": name })))
}

#[instrument(skip_all)]
pub async fn fleet_health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let statuses = monitor(&state)?.statuses();
    let (status, percent) = overall(&statuses);
    let services: Vec<Value> = statuses.iter().map(service_json).collect();
    Ok(success(json!({
        "status": status,
        "health_percent": percent,
        "services": services,
    })))
}

#[instrument(skip_all)]
pub async fn service_health(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let monitor = monitor(&state)?;
    validate_service_name(&name).map_err(api_error)?;
    let status = monitor
        .status(&name)
        .ok_or_else(|| api_error(ProbeError::NotFound(name)))?;
    Ok(success(service_json(&status)).into_response())
}

fn monitor(state: &AppState) -> Result<Arc<HealthMonitor>, ApiError> {
    state
        .health()
        .cloned()
        .ok_or_else(|| ApiError::Unavailable("health checks start after the WAL replay".to_owned()))
}

fn api_error(error: ProbeError) -> ApiError {
    let message = error.to_string();
    match error {
        ProbeError::InvalidTarget(_) => ApiError::BadData(message),
        ProbeError::Duplicate(_) | ProbeError::FromConfig(_) => ApiError::Conflict(message),
        ProbeError::NotFound(_) => ApiError::NotFound(message),
        ProbeError::Store { .. } | ProbeError::Open(_) | ProbeError::TaskFailed(_) => {
            ApiError::Internal(message)
        }
    }
}

fn format_duration(d: Duration) -> String {
    duration::format_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn target_json(target: &HealthTarget) -> Value {
    json!({
        "service_name": target.service_name,
        "endpoint": target.endpoint.as_str(),
        "interval": format_duration(target.interval),
        "timeout": format_duration(target.timeout),
        "expected_status": target.expected_status,
        "origin": target.origin,
    })
}

fn service_json(status: &ServiceStatus) -> Value {
    let outcome = status.state.last_outcome.as_ref();
    json!({
        "service_name": status.target.service_name,
        "endpoint": status.target.endpoint.as_str(),
        "state": status.state_name(),
        "last_latency_seconds": outcome.map(|o| o.duration.as_secs_f64()),
        "last_status_code": outcome.and_then(|o| o.status_code),
        "last_error": outcome.and_then(|o| o.error.clone()),
        "last_check": status
            .state
            .last_check_ms
            .map(|ms| rfc3339(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))),
        "interval": format_duration(status.target.interval),
        "timeout": format_duration(status.target.timeout),
        "expected_status": status.target.expected_status,
        "origin": status.target.origin,
    })
}
