use std::time::Duration;

use agentmon_model::Alert;
use agentmon_notify::AlertStatus;
use agentmon_probes::ProbeOutcome;

use super::*;

fn summary() -> SessionSummary {
    SessionSummary {
        session_id: "s-1".into(),
        agent: "coder".into(),
        instance: "host-a".into(),
        status: "completed".into(),
        started_ms: 1_700_000_000_000,
        last_seen_ms: 1_700_000_090_000,
        ended_ms: Some(1_700_000_090_000),
        steps: 3,
        tool_calls: 2,
        errors: 1,
        prompt_tokens: 300,
        completion_tokens: 40,
        unpriced_tokens: 0,
        cost_usd: 0.25,
    }
}

fn ended(status: SessionStatus) -> SessionEnded {
    SessionEnded {
        session_id: "s-1".into(),
        agent: "coder".into(),
        instance: "host-a".into(),
        status,
        output: Some("done".into()),
        timestamp_ms: 1_700_000_090_000,
    }
}

#[test]
fn a_completed_session_carries_its_totals() {
    let event = session_ended(&ended(SessionStatus::Completed), Some(&summary()));
    assert_eq!(event.kind, EventType::SessionCompleted);
    assert_eq!(event.timestamp_ms, 1_700_000_090_000);
    assert_eq!(
        event.data,
        json!({
            "session_id": "s-1",
            "agent": "coder",
            "instance": "host-a",
            "status": "completed",
            "output": "done",
            "ended_at": "2023-11-14T22:14:50Z",
            "started_at": "2023-11-14T22:13:20Z",
            "duration_seconds": 90.0,
            "totals": {
                "steps": 3, "tool_calls": 2, "errors": 1,
                "prompt_tokens": 300, "completion_tokens": 40, "cost_usd": 0.25,
            },
        })
    );
}

#[test]
fn a_failed_session_without_a_store_has_no_totals() {
    let event = session_ended(&ended(SessionStatus::Failed), None);
    assert_eq!(event.kind, EventType::SessionFailed);
    assert_eq!(event.data["status"], "failed");
    assert!(event.data.get("totals").is_none());
}

#[test]
fn an_abandoned_session_says_when_it_was_last_seen() {
    let expired = ExpiredSession {
        agent: "coder".into(),
        instance: "host-a".into(),
        session_id: "s-2".into(),
        started_ms: 0,
        last_seen_ms: 60_000,
        steps: 1,
    };
    let event = session_abandoned(&expired, None, 2_000_000);
    assert_eq!(event.kind, EventType::SessionAbandoned);
    assert_eq!(event.timestamp_ms, 2_000_000);
    assert_eq!(event.data["last_seen_at"], "1970-01-01T00:01:00Z");
    assert_eq!(event.data["status"], "abandoned");
}

#[test]
fn a_health_change_names_both_states_and_the_error() {
    let change = HealthChange {
        service_name: "api".into(),
        endpoint: "http://127.0.0.1:1/health".into(),
        was_up: true,
        outcome: ProbeOutcome {
            success: false,
            duration: Duration::from_millis(5),
            status_code: Some(503),
            error: Some("status 503, expected 200".into()),
        },
        timestamp_ms: 5,
    };
    let event = health_changed(&change);
    assert_eq!(event.kind, EventType::HealthChanged);
    assert_eq!(event.data["service"], "api");
    assert_eq!(event.data["old_state"], "healthy");
    assert_eq!(event.data["new_state"], "unhealthy");
    assert_eq!(event.data["status_code"], 503);
    assert_eq!(event.data["error"], "status 503, expected 200");
}

#[test]
fn only_a_target_going_down_is_an_instance_offline() {
    let labels = Labels::new([("job", "miners"), ("instance", "10.0.0.1:9100")]).unwrap();
    assert!(instance_offline(&labels, Health::Up, "", 1).is_none());
    let event = instance_offline(&labels, Health::Down, "connection refused", 1).unwrap();
    assert_eq!(event.kind, EventType::InstanceOffline);
    assert_eq!(
        event.data,
        json!({
            "job": "miners",
            "instance": "10.0.0.1:9100",
            "labels": {"instance": "10.0.0.1:9100", "job": "miners"},
            "error": "connection refused",
        })
    );
}

#[test]
fn an_alert_notification_lists_its_alerts() {
    let alert = |name: &str, resolved: bool| AlertStatus {
        alert: Alert {
            labels: Labels::new([("alertname", name), ("severity", "page")]).unwrap(),
            annotations: Labels::new([("summary", "it broke")]).unwrap(),
            starts_at_ms: 1_000,
            ends_at_ms: resolved.then_some(2_000),
            generator_url: "http://x/graph".into(),
        },
        fingerprint: 0xabc,
        resolved,
    };
    let notification = Notification {
        receiver: "team".into(),
        group_key: "{}:{alertname=\"A\"}".into(),
        group_labels: Labels::new([("alertname", "A")]).unwrap(),
        alerts: vec![alert("A", false), alert("A", true)],
        external_url: "http://127.0.0.1".into(),
    };
    let event = alert_notification(&notification, 3_000);
    assert_eq!(event.kind, EventType::Alert);
    assert_eq!(event.data["status"], "firing");
    assert_eq!(
        (event.data["firing"].clone(), event.data["resolved"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(event.data["alerts"][0]["labels"]["severity"], "page");
    assert_eq!(
        event.data["alerts"][0]["annotations"]["summary"],
        "it broke"
    );
    assert_eq!(event.data["alerts"][0]["ends_at"], Value::Null);
    assert_eq!(event.data["alerts"][1]["status"], "resolved");
    assert_eq!(event.data["alerts"][1]["fingerprint"], "0000000000000abc");
    let resolved = Notification {
        alerts: vec![alert("A", true)],
        ..notification
    };
    assert_eq!(alert_notification(&resolved, 0).data["status"], "resolved");
}
