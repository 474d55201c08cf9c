//! The events' `data`, built from what each source reports: a session
//! that ended (with its totals from the session store), a session closed
//! for silence, a health check that changed, a scrape target that went
//! down, an alert notification. Pure functions; see `docs/webhooks.md` for
//! the fields.

use agentmon_agents::ExpiredSession;
use agentmon_ingest::scrape::Health;
use agentmon_model::{Labels, SessionStatus};
use agentmon_notify::receivers::gotime::format_rfc3339_ms;
use agentmon_notify::webhooks::{EventType, WebhookEvent};
use agentmon_notify::Notification;
use agentmon_probes::HealthChange;
use agentmon_sessions::SessionSummary;
use serde_json::{json, Map, Value};

/// A `session_end` event as the events API accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEnded {
    pub session_id: String,
    pub agent: String,
    pub instance: String,
    pub status: SessionStatus,
    pub output: Option<String>,
    pub timestamp_ms: i64,
}

/// `session_completed` or `session_failed`, with the session's totals when
/// the store has them.
pub fn session_ended(ended: &SessionEnded, summary: Option<&SessionSummary>) -> WebhookEvent {
    let kind = match ended.status {
        SessionStatus::Completed => EventType::SessionCompleted,
        SessionStatus::Failed => EventType::SessionFailed,
    };
    let mut data = json!({
        "session_id": ended.session_id,
        "agent": ended.agent,
        "instance": ended.instance,
        "status": ended.status.as_str(),
        "output": ended.output,
        "ended_at": format_rfc3339_ms(ended.timestamp_ms),
    });
    if let (Some(summary), Value::Object(fields)) = (summary, &mut data) {
        fields.insert(
            "started_at".to_owned(),
            json!(format_rfc3339_ms(summary.started_ms)),
        );
        let duration = (ended.timestamp_ms - summary.started_ms).max(0) as f64 / 1000.0;
        fields.insert("duration_seconds".to_owned(), json!(duration));
        fields.insert("totals".to_owned(), totals(summary));
    }
    WebhookEvent::new(kind, ended.timestamp_ms, data)
}

fn totals(summary: &SessionSummary) -> Value {
    json!({
        "steps": summary.steps,
        "tool_calls": summary.tool_calls,
        "errors": summary.errors,
        "prompt_tokens": summary.prompt_tokens,
        "completion_tokens": summary.completion_tokens,
        "cost_usd": summary.cost_usd,
    })
}

/// `session_abandoned`: no event for the session timeout. Timestamped at
/// the detection (`now_ms`).
pub fn session_abandoned(
    expired: &ExpiredSession,
    summary: Option<&SessionSummary>,
    now_ms: i64,
) -> WebhookEvent {
    let mut data = json!({
        "session_id": expired.session_id,
        "agent": expired.agent,
        "instance": expired.instance,
        "status": "abandoned",
        "started_at": format_rfc3339_ms(expired.started_ms),
        "last_seen_at": format_rfc3339_ms(expired.last_seen_ms),
    });
    if let (Some(summary), Value::Object(fields)) = (summary, &mut data) {
        fields.insert("totals".to_owned(), totals(summary));
    }
    WebhookEvent::new(EventType::SessionAbandoned, now_ms, data)
}

/// `health_changed`: a health check target went from up to down or back.
pub fn health_changed(change: &HealthChange) -> WebhookEvent {
    let word = |up: bool| if up { "healthy" } else { "unhealthy" };
    WebhookEvent::new(
        EventType::HealthChanged,
        change.timestamp_ms,
        json!({
            "service": change.service_name,
            "endpoint": change.endpoint,
            "old_state": word(change.was_up),
            "new_state": word(change.outcome.success),
            "status_code": change.outcome.status_code,
            "error": change.outcome.error,
            "duration_seconds": change.outcome.duration.as_secs_f64(),
        }),
    )
}

/// `instance_offline`: a scrape target's `up` went from 1 to 0. `None` for
/// any other change.
pub fn instance_offline(
    labels: &Labels,
    health: Health,
    error: &str,
    now_ms: i64,
) -> Option<WebhookEvent> {
    if health != Health::Down {
        return None;
    }
    Some(WebhookEvent::new(
        EventType::InstanceOffline,
        now_ms,
        json!({
            "job": labels.get("job").unwrap_or(""),
            "instance": labels.get("instance").unwrap_or(""),
            "labels": labels_object(labels),
            "error": error,
        }),
    ))
}

/// `alert`: one notification of the alert pipeline (a group of alerts for
/// one receiver), `firing` when any of its alerts fires.
pub fn alert_notification(notification: &Notification, now_ms: i64) -> WebhookEvent {
    let firing = notification.alerts.iter().filter(|a| !a.resolved).count();
    let resolved = notification.alerts.len() - firing;
    let alerts: Vec<Value> = notification
        .alerts
        .iter()
        .map(|status| {
            json!({
                "status": if status.resolved { "resolved" } else { "firing" },
                "labels": labels_object(&status.alert.labels),
                "annotations": labels_object(&status.alert.annotations),
                "starts_at": format_rfc3339_ms(status.alert.starts_at_ms),
                "ends_at": status.alert.ends_at_ms.map(format_rfc3339_ms),
                "generator_url": status.alert.generator_url,
                "fingerprint": format!("{:016x}", status.fingerprint),
            })
        })
        .collect();
    WebhookEvent::new(
        EventType::Alert,
        now_ms,
        json!({
            "status": if firing > 0 { "firing" } else { "resolved" },
            "receiver": notification.receiver,
            "group_key": notification.group_key,
            "group_labels": labels_object(&notification.group_labels),
            "firing": firing,
            "resolved": resolved,
            "alerts": alerts,
        }),
    )
}

/// `test`: what the test endpoint sends.
pub fn test_event(webhook: &str, now_ms: i64) -> WebhookEvent {
    WebhookEvent::new(
        EventType::Test,
        now_ms,
        json!({
            "webhook": webhook,
            "message": "test event from agentmon",
        }),
    )
}

fn labels_object(labels: &Labels) -> Value {
    let mut object = Map::new();
    for label in labels.iter() {
        object.insert(label.name.clone(), json!(label.value));
    }
    Value::Object(object)
}

#[cfg(test)]
#[path = "sources_tests.rs"]
mod tests;
