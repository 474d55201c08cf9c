//! Alertmanager's API v2 (as Alertmanager 0.25 answers it, so that a
//! Prometheus can post alerts here and amtool can list alerts and manage
//! silences), and the delivery log.
//!
//! - `POST /api/v2/alerts` (write role): 200 with no body; alerts that
//!   fail validation are refused with 400 and Alertmanager's message as
//!   a JSON string, after the valid ones are stored.
//! - `GET /api/v2/alerts` (`filter`, `receiver`, `active`, `silenced`,
//!   `inhibited`, `unprocessed`) and `GET /api/v2/alerts/groups`.
//! - `GET /api/v2/silences` (`filter`), `POST /api/v2/silences` (write
//!   role; `{"silenceID": id}`), `GET /api/v2/silence/{id}`,
//!   `DELETE /api/v2/silence/{id}` (write role; expires it).
//! - `GET /api/v2/status`, `GET /api/v2/receivers`.
//! - `GET /api/v1/monitor/notifications`: the delivery log, newest first
//!   (`receiver`, `integration`, `status`, `group_key`, `since`, `limit`,
//!   `before` to page), in agentmon's envelope.
//!
//! Errors that Alertmanager's handlers raise are JSON strings; errors of
//! its request binding (a body that is not JSON, a parameter of the wrong
//! type, an id that is not a UUID) are `{"code": ..., "message": ...}`.
//! Without an `alertmanager:` section every endpoint answers 404.

use std::sync::Arc;

use agentmon_notify::api::{self, AlertFilter, PostableAlert, PostableSilence, VersionInfo};
use agentmon_notify::deliver::{DeliveryFilter, DeliveryStatus, Page};
use agentmon_notify::matcher::parse_matchers;
use agentmon_notify::receivers::IntegrationKind;
use agentmon_notify::NotifyError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tracing::instrument;

use crate::alerting::Alerting;
use crate::error::ApiError;
use crate::handlers::success;
use crate::params::Params;
use crate::state::AppState;

/// An Alertmanager error answer: its status and body.
#[derive(Debug)]
pub enum AmError {
    /// A handler's error: the message as a JSON string.
    Payload(StatusCode, String),
    /// A request-binding error: `{"code", "message"}`.
    Binding(StatusCode, u16, String),
    /// 404 with no body (an unknown silence on `GET`).
    NotFound,
    /// agentmon's own errors (auth, pipeline not configured).
    Api(ApiError),
}

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        match self {
            AmError::Payload(status, message) => (status, Json(message)).into_response(),
            AmError::Binding(status, code, message) => {
                (status, Json(json!({ "code": code, "message": message }))).into_response()
            }
            AmError::NotFound => StatusCode::NOT_FOUND.into_response(),
            AmError::Api(error) => error.into_response(),
        }
    }
}

fn bad_request(message: impl Into<String>) -> AmError {
    AmError::Payload(StatusCode::BAD_REQUEST, message.into())
}

fn not_configured() -> ApiError {
    ApiError::NotFound(
        "the notification pipeline is not configured: add an alertmanager section to agentmon.yml"
            .to_owned(),
    )
}

fn alerting(state: &AppState) -> Result<Arc<Alerting>, AmError> {
    state
        .alerting()
        .cloned()
        .ok_or_else(|| AmError::Api(not_configured()))
}

fn query(uri: &Uri) -> Result<Params, AmError> {
    Params::from_uri(uri).map_err(AmError::Api)
}

/// A boolean query parameter, true unless given.
fn flag(params: &Params, name: &str) -> Result<bool, AmError> {
    match params.get(name) {
        None => Ok(true),
        Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(AmError::Binding(
            StatusCode::BAD_REQUEST,
            400,
            format!("{name} in query must be of type boolean: {other:?}"),
        )),
    }
}

fn alert_filter(params: &Params) -> Result<AlertFilter, AmError> {
    let filters: Vec<String> = params
        .all("filter")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut filter = AlertFilter::parse(&filters, params.get("receiver"))
        .map_err(|e| bad_request(e.to_string()))?;
    filter.active = flag(params, "active")?;
    filter.silenced = flag(params, "silenced")?;
    filter.inhibited = flag(params, "inhibited")?;
    filter.unprocessed = flag(params, "unprocessed")?;
    Ok(filter)
}

/// Parses a JSON body as go-swagger does, naming what it was reading.
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, AmError> {
    serde_json::from_slice(body).map_err(|e| {
        AmError::Binding(
            StatusCode::BAD_REQUEST,
            400,
            format!("parsing {what} body from \"\" failed, because {e}"),
        )
    })
}

/// A silence id must be a UUID, as Alertmanager's spec says.
fn silence_id(id: &str) -> Result<&str, AmError> {
    let groups: Vec<&str> = id.split('-').collect();
    let well_formed = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    if well_formed {
        Ok(id)
    } else {
        Err(AmError::Binding(
            StatusCode::UNPROCESSABLE_ENTITY,
            602,
            format!("silenceID in path must be of type uuid: {id:?}"),
        ))
    }
}

#[instrument(skip_all)]
pub async fn post_alerts(State(state): State<AppState>, body: Bytes) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let posted: Vec<PostableAlert> = json_body(&body, "alerts")?;
    let (valid, errors) = {
        let core = alerting.state().lock();
        let timeout = core.config().global.resolve_timeout.0.as_millis() as i64;
        api::prepare_alerts(posted, core.now_ms(), timeout)
    };
    alerting.sink().send(&valid);
    match errors {
        Some(message) => Err(bad_request(message)),
        None => Ok(StatusCode::OK.into_response()),
    }
}

#[instrument(skip_all)]
pub async fn get_alerts(State(state): State<AppState>, uri: Uri) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let filter = alert_filter(&query(&uri)?)?;
    let alerts = api::list_alerts(&alerting.state().lock(), &filter);
    Ok(Json(alerts).into_response())
}

#[instrument(skip_all)]
pub async fn get_alert_groups(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let filter = alert_filter(&query(&uri)?)?;
    let groups = api::list_alert_groups(&alerting.state().lock(), &filter);
    Ok(Json(groups).into_response())
}

#[instrument(skip_all)]
pub async fn get_silences(State(state): State<AppState>, uri: Uri) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let params = query(&uri)?;
    let mut matchers = Vec::new();
    for text in params.all("filter") {
        matchers.extend(parse_matchers(text).map_err(|e| bad_request(e.to_string()))?);
    }
    let silences = api::list_silences(&alerting.state().lock(), &matchers);
    Ok(Json(silences).into_response())
}

#[instrument(skip_all)]
pub async fn post_silences(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let posted: PostableSilence = json_body(&body, "silence")?;
    let result = api::post_silence(&mut alerting.state().lock(), posted);
    match result {
        Ok(id) => {
            // A new silence may mute what is due; so may an expired one unmute.
            alerting.wake();
            Ok(Json(json!({ "silenceID": id })).into_response())
        }
        Err(NotifyError::SilenceNotFound) => Err(AmError::Payload(
            StatusCode::NOT_FOUND,
            NotifyError::SilenceNotFound.to_string(),
        )),
        Err(NotifyError::Store(message)) => Err(AmError::Payload(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("silence store: {message}"),
        )),
        Err(error) => Err(bad_request(error.to_string())),
    }
}

#[instrument(skip_all)]
pub async fn get_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let id = silence_id(&id)?;
    let silence = api::get_silence(&alerting.state().lock(), id).ok_or(AmError::NotFound)?;
    Ok(Json(silence).into_response())
}

#[instrument(skip_all)]
pub async fn delete_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let id = silence_id(&id)?;
    let result = {
        let mut core = alerting.state().lock();
        let now = core.now_ms();
        core.silences.expire(id, now)
    };
    match result {
        Ok(()) => {
            alerting.wake();
            Ok(StatusCode::OK.into_response())
        }
        Err(NotifyError::SilenceNotFound) => Err(AmError::NotFound),
        // Alertmanager answers 500 for an already expired silence too.
        Err(error) => Err(AmError::Payload(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.to_string(),
        )),
    }
}

#[instrument(skip_all)]
pub async fn status(State(state): State<AppState>) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let version = VersionInfo {
        branch: String::new(),
        build_date: String::new(),
        build_user: String::new(),
        go_version: String::new(),
        revision: String::new(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let status = api::status(&alerting.state().lock(), version);
    Ok(Json(status).into_response())
}

#[instrument(skip_all)]
pub async fn receivers(State(state): State<AppState>) -> Result<Response, AmError> {
    let alerting = alerting(&state)?;
    let receivers = api::receivers(&alerting.state().lock());
    Ok(Json(receivers).into_response())
}

/// `GET /api/v1/monitor/notifications`.
#[instrument(skip_all)]
pub async fn notifications(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let queue = state.delivery_queue().cloned().ok_or_else(not_configured)?;
    let params = Params::from_uri(&uri)?;
    let integration = params
        .get("integration")
        .map(|text| {
            IntegrationKind::parse(text).ok_or_else(|| {
                let known: Vec<&str> = IntegrationKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::BadData(format!(
                    "unknown integration {text:?}: one of {}",
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let status = params
        .get("status")
        .map(|text| {
            DeliveryStatus::parse(text).ok_or_else(|| {
                let known: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::BadData(format!(
                    "unknown status {text:?}: one of {}",
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let since_ms = match params.get("since") {
        None => None,
        Some(_) => Some(params.required_timestamp_ms("since")?),
    };
    let limit = params.integer("limit", 100)?;
    if !(1..=agentmon_notify::deliver::log::MAX_PAGE as i64).contains(&limit) {
        return Err(ApiError::BadData(format!(
            "limit must be between 1 and {}, got {limit}",
            agentmon_notify::deliver::log::MAX_PAGE
        )));
    }
    let before_id = match params.get("before") {
        None => None,
        Some(_) => Some(params.integer("before", 0)?),
    };
    let filter = DeliveryFilter {
        receiver: params.get("receiver").map(str::to_owned),
        integration,
        status,
        group_key: params.get("group_key").map(str::to_owned),
        since_ms,
    };
    let page = Page {
        limit: limit as usize,
        before_id,
    };

    let records = tokio::task::spawn_blocking(move || queue.store().list_deliveries(&filter, page))
        .await
        .map_err(|e| ApiError::Internal(format!("delivery log task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The next page starts below the last id, if this page was full.
    let next_before = (records.len() == page.limit)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    Ok(success(
        json!({ "deliveries": records, "next_before": next_before }),
    ))
}
