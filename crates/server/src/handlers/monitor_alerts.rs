//! Alert rules made through the API, their active alerts and
//! acknowledgements (`docs/alert-presets.md`). Answers use the Prometheus
//! envelope (`{"status":"success","data":...}`) like the other
//! `/api/v1/monitor/*` endpoints.
//!
//! - `POST /api/v1/monitor/alerts` (write role): a preset `{name, type,
//!   threshold, duration, severity, webhook, notification, labels,
//!   enabled}`; 201 with the rule and its compiled `expr`.
//! - `POST /api/v1/monitor/alerts/rules` (write role): a free PromQL rule
//!   `{name, condition, duration, severity, webhook, notification, labels,
//!   enabled}`.
//! - `GET /api/v1/monitor/alerts`, `GET /api/v1/monitor/alerts/rules`:
//!   every API-made rule (presets and conditions share one name space).
//! - `DELETE /api/v1/monitor/alerts/{name}` (write role).
//! - `GET /api/v1/monitor/alerts/active`: pending and firing alerts of all
//!   rules and those posted to `/api/v2/alerts`, with acknowledgements.
//! - `POST /api/v1/monitor/alerts/{id}/acknowledge` (write role).
//! - `POST /api/v1/monitor/alerts/{name}/test` (write role): a test
//!   notification through the rule's webhook or receiver, sent at once.
//!
//! 400 for bad input (unknown fields included), 404 for an unknown rule or
//! alert, 409 for a taken name or an alert that is not firing, 413 for a
//! body over 64 KiB, 503 until the rules run.

use std::collections::BTreeMap;
use std::sync::Arc;

use agentmon_model::{Alert, Labels};
use agentmon_notify::deliver::Outcome;
use agentmon_notify::fingerprint::{fingerprint, fingerprint_hex};
use agentmon_notify::receivers::prepare;
use agentmon_notify::secrets::Secret;
use agentmon_notify::{AlertStatus, Notification};
use agentmon_rules::api::rfc3339_ms;
use agentmon_rules::presets::{self, PresetType, Severity};
use agentmon_rules::{now_ms, AlertState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::instrument;

use crate::alert_rules::{
    shown_webhook, webhook_receiver_name, AlertRule, AlertRules, AlertRulesError,
};
use crate::alert_rules_store::StoredRule;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::handlers::import::read_body;
use crate::handlers::success;
use crate::state::AppState;

/// The largest body these endpoints take.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Names that are paths of this API and so cannot name a rule.
const RESERVED_NAMES: [&str; 2] = ["rules", "active"];

/// A preset as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetBody {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    duration: Option<Value>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    notification: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A free PromQL rule as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionBody {
    name: String,
    condition: String,
    #[serde(default)]
    duration: Option<Value>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    notification: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// An acknowledgement as posted (every field optional, the body too).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

#[instrument(skip_all)]
pub async fn create_preset(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    let body: PresetBody = parse_body(&state, &headers, body, "alert")?;
    let kind = PresetType::parse(&body.kind).map_err(bad)?;
    let hold_ms = match &body.duration {
        Some(value) => parse_duration(value)?,
        None => u64::try_from(kind.default_hold().as_millis()).unwrap_or(u64::MAX),
    };
    // Compiled here for the precise message; the store compiles again.
    presets::compile(kind, body.threshold, rules.namespace()).map_err(bad)?;
    let stored = common_checks(
        body.name,
        Some(kind.as_str().to_owned()),
        None,
        body.threshold,
        hold_ms,
        body.severity,
        body.webhook,
        body.notification,
        body.labels,
        body.enabled,
    )?;
    let created = rules.create(stored).await.map_err(api_error)?;
    created_answer(&created)
}

#[instrument(skip_all)]
pub async fn create_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    let body: ConditionBody = parse_body(&state, &headers, body, "alert rule")?;
    presets::validate_condition(&body.condition).map_err(bad)?;
    let hold_ms = match &body.duration {
        Some(value) => parse_duration(value)?,
        None => 0,
    };
    let stored = common_checks(
        body.name,
        None,
        Some(body.condition),
        None,
        hold_ms,
        body.severity,
        body.webhook,
        body.notification,
        body.labels,
        body.enabled,
    )?;
    let created = rules.create(stored).await.map_err(api_error)?;
    created_answer(&created)
}

#[instrument(skip_all)]
pub async fn list_rules(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    let list: Vec<Value> = rules.list().await.iter().map(rule_json).collect();
    Ok(success(list))
}

#[instrument(skip_all)]
pub async fn delete_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    rules.delete(&name).await.map_err(api_error)?;
    Ok(success(json!({ "name": name })))
}

#[instrument(skip_all)]
pub async fn active_alerts(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rules = state
        .rules()
        .ok_or_else(|| ApiError::Unavailable("rules start after the WAL replay".to_owned()))?;
    let mut out: BTreeMap<u64, Value> = BTreeMap::new();
    for group in rules.manager.groups() {
        for entry in &group.rules {
            let agentmon_rules::Rule::Alerting(alerting) = &entry.rule else {
                continue;
            };
            for alert in alerting.active_alerts() {
                if alert.state == AlertState::Inactive {
                    continue;
                }
                let fp = fingerprint(&alert.labels);
                out.insert(
                    fp,
                    json!({
                        "id": fingerprint_hex(fp),
                        "labels": labels_json(&alert.labels),
                        "annotations": labels_json(&alert.annotations),
                        "state": alert.state.as_str(),
                        "activeAt": rfc3339_ms(alert.active_at_ms),
                        "value": alert.value,
                        "acknowledgement": Value::Null,
                    }),
                );
            }
        }
    }
    if let Some(alerting) = state.alerting() {
        let core = alerting.state().lock();
        let now = core.now_ms();
        for stored in core.alerts.iter() {
            if stored.resolved_at(now) {
                continue;
            }
            let entry = out.entry(stored.fingerprint).or_insert_with(|| {
                json!({
                    "id": fingerprint_hex(stored.fingerprint),
                    "labels": labels_json(&stored.alert.labels),
                    "annotations": labels_json(&stored.alert.annotations),
                    "state": "firing",
                    "activeAt": rfc3339_ms(stored.alert.starts_at_ms),
                    "value": Value::Null,
                    "acknowledgement": Value::Null,
                })
            });
            if let Some(ack) = core.acknowledgement(stored.fingerprint) {
                entry["acknowledgement"] = json!({
                    "by": ack.by,
                    "at": rfc3339_ms(ack.at_ms),
                    "comment": ack.comment,
                });
            }
        }
    }
    Ok(success(out.into_values().collect::<Vec<_>>()))
}

#[instrument(skip_all)]
pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    let raw = read_body(&state, &headers, body)?;
    if raw.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let body: AckBody = if raw.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::BadData(format!("invalid acknowledgement: {e}")))?
    };
    let fp = u64::from_str_radix(&id, 16)
        .ok()
        .filter(|_| id.len() == 16)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no alert with id {id:?}: ids are 16 hexadecimal digits"
            ))
        })?;
    let by = match body.by.filter(|b| !b.trim().is_empty()) {
        Some(by) => by,
        None => caller.map_or_else(|| "anonymous".to_owned(), |Extension(c)| c.name),
    };
    if by.len() > 256 {
        return Err(ApiError::BadData("by: at most 256 bytes".to_owned()));
    }
    let ack = rules
        .acknowledge(fp, by, body.comment.unwrap_or_default())
        .await
        .map_err(api_error)?;
    Ok(success(json!({
        "id": fingerprint_hex(fp),
        "acknowledgement": {
            "by": ack.by,
            "at": rfc3339_ms(ack.at_ms),
            "comment": ack.comment,
        },
    })))
}

#[instrument(skip_all)]
pub async fn test_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rules = alert_rules(&state)?;
    let rule = rules
        .get(&name)
        .await
        .ok_or_else(|| ApiError::NotFound(format!("no alert rule named {name:?}")))?;
    let receiver_name = match (&rule.stored.webhook, &rule.stored.notification) {
        (Some(_), _) => webhook_receiver_name(&name),
        (None, Some(receiver)) => receiver.clone(),
        (None, None) => {
            return Err(ApiError::BadData(format!(
                "alert rule {name:?} has neither a webhook nor a notification receiver to test"
            )))
        }
    };
    let alerting = state.alerting().ok_or_else(|| {
        ApiError::Unavailable("the notification pipeline is not configured".to_owned())
    })?;
    let receiver = alerting
        .state()
        .lock()
        .config()
        .receiver(&receiver_name)
        .cloned()
        .ok_or_else(|| {
            ApiError::Internal(format!("receiver {receiver_name:?} is not in effect"))
        })?;
    let mut labels: BTreeMap<String, String> = rule.stored.labels.clone();
    labels.insert("alertname".to_owned(), name.clone());
    labels.insert("severity".to_owned(), rule.stored.severity.clone());
    labels.insert(presets::ALERT_NAME_LABEL.to_owned(), name.clone());
    labels.insert("agentmon_test".to_owned(), "true".to_owned());
    let labels = Labels::new(labels).map_err(|e| ApiError::Internal(e.to_string()))?;
    let annotations = Labels::new([(
        "summary",
        format!("test notification for alert rule {name}").as_str(),
    )])
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let fp = fingerprint(&labels);
    let notification = Notification {
        receiver: receiver_name.clone(),
        group_key: format!("{{}}:{{agentmon_test=\"{name}\"}}"),
        group_labels: Labels::default(),
        alerts: vec![AlertStatus {
            alert: Alert {
                labels,
                annotations,
                starts_at_ms: now_ms(),
                ends_at_ms: None,
                generator_url: String::new(),
            },
            fingerprint: fp,
            resolved: false,
        }],
        external_url: String::new(),
    };
    let renderer = alerting.renderer();
    let deliveries = prepare(&notification, &receiver, renderer.as_ref())
        .map_err(|e| ApiError::BadData(e.to_string()))?;
    if deliveries.is_empty() {
        return Err(ApiError::BadData(format!(
            "receiver {receiver_name:?} has no integration to send to"
        )));
    }
    let mut answer = json!({ "status": "sent", "response_code": Value::Null });
    for delivery in &deliveries {
        match alerting.queue().send_now(delivery).await {
            Outcome::Sent { code } => {
                if answer["status"] == "sent" {
                    answer["response_code"] = json!(code);
                }
            }
            Outcome::Failed { code, error } | Outcome::Retry { code, error, .. } => {
                answer = json!({ "status": "failed", "response_code": code, "error": error });
                break;
            }
        }
    }
    // The seed's shape as it is, like the webhooks' test.
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        answer,
    )))
}

fn alert_rules(state: &AppState) -> Result<Arc<AlertRules>, ApiError> {
    state
        .alert_rules()
        .cloned()
        .ok_or_else(|| ApiError::Unavailable("alert rules start after the WAL replay".to_owned()))
}

fn parse_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let raw = read_body(state, headers, body)?;
    if raw.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    serde_json::from_slice(&raw).map_err(|e| ApiError::BadData(format!("invalid {what}: {e}")))
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "body larger than {MAX_BODY_BYTES} bytes: alert rules are small"
    ))
}

/// `duration`: seconds as a number, or a Prometheus duration string.
fn parse_duration(value: &Value) -> Result<u64, ApiError> {
    let invalid = || {
        ApiError::BadData(format!(
            "invalid duration {value}: give seconds (a number at least 0) or a duration such as \"5m\""
        ))
    };
    match value {
        Value::Number(n) => {
            let seconds = n
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(invalid)?;
            if seconds > 365.0 * 86_400.0 {
                return Err(invalid());
            }
            Ok((seconds * 1000.0).round() as u64)
        }
        Value::String(text) => agentmon_model::duration::parse_millis(text).map_err(|_| invalid()),
        Value::Null => Ok(0),
        _ => Err(invalid()),
    }
}

#[allow(clippy::too_many_arguments)]
fn common_checks(
    name: String,
    preset_type: Option<String>,
    condition: Option<String>,
    threshold: Option<f64>,
    hold_ms: u64,
    severity: Option<String>,
    webhook: Option<String>,
    notification: Option<String>,
    labels: BTreeMap<String, String>,
    enabled: Option<bool>,
) -> Result<StoredRule, ApiError> {
    presets::validate_name(&name).map_err(bad)?;
    if RESERVED_NAMES.contains(&name.as_str()) {
        return Err(ApiError::BadData(format!(
            "alert name {name:?} is reserved: it is a path of this API"
        )));
    }
    let severity = match severity {
        Some(text) => Severity::parse(&text).map_err(bad)?,
        None => Severity::default(),
    };
    presets::ApiRule::check_labels(&labels).map_err(bad)?;
    if let Some(url) = &webhook {
        agentmon_notify::config::check_url(url)
            .map_err(|e| ApiError::BadData(format!("invalid webhook: {e}")))?;
    }
    if notification.as_deref() == Some("") {
        return Err(ApiError::BadData(
            "notification: name a receiver of the alertmanager section".to_owned(),
        ));
    }
    Ok(StoredRule {
        name,
        preset_type,
        condition,
        threshold,
        hold_ms,
        severity: severity.as_str().to_owned(),
        webhook: webhook.map(Secret::new),
        notification,
        labels,
        created_at_ms: now_ms(),
        enabled: enabled.unwrap_or(true),
    })
}

fn created_answer(rule: &AlertRule) -> Result<Response, ApiError> {
    let mut response = success(rule_json(rule));
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

fn rule_json(rule: &AlertRule) -> Value {
    let stored = &rule.stored;
    json!({
        "name": stored.name,
        "type": stored.preset_type,
        "threshold": stored.threshold,
        "condition": stored.condition,
        "webhook": shown_webhook(&stored.webhook),
        "notification": stored.notification,
        "created_at": rfc3339_ms(stored.created_at_ms),
        "enabled": stored.enabled,
        "expr": rule.expr,
        "for": agentmon_model::duration::format_millis(stored.hold_ms),
        "duration": stored.hold_ms as f64 / 1000.0,
        "severity": stored.severity,
        "labels": stored.labels,
    })
}

fn labels_json(labels: &Labels) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

fn bad(error: presets::PresetError) -> ApiError {
    ApiError::BadData(error.to_string())
}

fn api_error(error: AlertRulesError) -> ApiError {
    let message = error.to_string();
    match error {
        AlertRulesError::Invalid(_) => ApiError::BadData(message),
        AlertRulesError::Conflict(_) => ApiError::Conflict(message),
        AlertRulesError::NotFound(_) => ApiError::NotFound(message),
        AlertRulesError::Store(_) => ApiError::Internal(message),
    }
}
