//! The server's messages on the live stream and how accepted agent events
//! become them.
//!
//! Every message is a JSON object with `type`, `executionId` (the session
//! id), `agent`, `data` and a millisecond `timestamp`, the shape of the
//! AgentNexus WebSocket protocol our users already speak:
//!
//! | event | message | `data` |
//! | --- | --- | --- |
//! | `session_start` | `status` | `{"status":"RUNNING"}` |
//! | `session_end` | `status` | `{"status":"COMPLETED"\|"FAILED","output":…,"duration":ms}` |
//! | `log` | `log` | `{"log":message,"level":level}` |
//! | `llm_error` | `log` | `{"log":error,"level":"error","model":…,"errorType":…}` |
//! | `step`, `tool_call` | `metrics` | the session's totals so far (below) |
//!
//! `metrics` carries `promptTokens`, `completionTokens`, `totalTokens`,
//! `costUsd` (the sum of the steps' costs: what the client sent, else the
//! tokens at the model's price, as the `hermes_cost_usd_total` counter
//! adds them; unpriced steps add nothing), `steps`,
//! `toolCalls` and `duration`: milliseconds from the first event seen of
//! the session to this one. Messages are rendered to JSON once, when
//! published, and shared by every connection.

use std::collections::HashMap;
use std::sync::Arc;

use agentmon_model::{AgentEvent, EventKind, SessionStatus};
use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};

/// Sessions whose running totals are kept at most; beyond it, the session
/// heard from least recently is forgotten (its totals restart from zero).
pub const MAX_TRACKED_SESSIONS: usize = 100_000;

/// One server message, rendered once and shared by every subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveMessage {
    /// The session (execution) the message is about.
    pub execution_id: String,
    /// The agent that ran the session; subscriptions may filter on it.
    pub agent: String,
    /// The whole message as JSON text, as sent on the wire; shared, so a
    /// send to one more connection copies no bytes.
    pub json: Utf8Bytes,
}

impl LiveMessage {
    fn new(kind: &str, event: &AgentEvent, data: Value) -> Arc<LiveMessage> {
        let json = json!({
            "type": kind,
            "executionId": event.session_id,
            "agent": event.agent,
            "data": data,
            "timestamp": event.timestamp_ms,
        })
        .to_string();
        Arc::new(LiveMessage {
            execution_id: event.session_id.clone(),
            agent: event.agent.clone(),
            json: Utf8Bytes::from(json),
        })
    }
}

/// A message the server sends about the connection itself, not a session
/// (`error`, `lagged`, `subscribed`, `unsubscribed`).
pub fn control_message(kind: &str, execution_id: Option<&str>, data: Value, now_ms: i64) -> String {
    let mut message = json!({ "type": kind, "data": data, "timestamp": now_ms });
    if let Some(id) = execution_id {
        message["executionId"] = Value::String(id.to_owned());
    }
    message.to_string()
}

/// What a session has used so far.
#[derive(Debug, Clone, Default, PartialEq)]
struct SessionTotals {
    first_ms: i64,
    last_ms: i64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
    steps: u64,
    tool_calls: u64,
}

/// Running totals per session, from which `metrics` messages are made.
#[derive(Debug, Default)]
pub struct SessionLedger {
    sessions: HashMap<String, SessionTotals>,
}

impl SessionLedger {
    /// Folds one event in and returns the message it makes, if any and if
    /// `build` (the totals are kept either way); `cost` prices a step (see
    /// [`crate::state::AppState::agent_metrics`]).
    pub fn message_for(
        &mut self,
        event: &AgentEvent,
        cost: &dyn Fn(&EventKind) -> Option<f64>,
        build: bool,
    ) -> Option<Arc<LiveMessage>> {
        match &event.kind {
            EventKind::SessionStart { .. } => {
                self.totals(event);
                build.then(|| LiveMessage::new("status", event, json!({ "status": "RUNNING" })))
            }
            EventKind::SessionEnd { status, output } => {
                let duration = self
                    .sessions
                    .remove(&event.session_id)
                    .map_or(0, |t| (event.timestamp_ms - t.first_ms).max(0));
                let status = match status {
                    SessionStatus::Completed => "COMPLETED",
                    SessionStatus::Failed => "FAILED",
                };
                build.then(|| {
                    LiveMessage::new(
                        "status",
                        event,
                        json!({ "status": status, "output": output, "duration": duration }),
                    )
                })
            }
            EventKind::Log { level, message } => {
                self.touch(event);
                build.then(|| {
                    LiveMessage::new(
                        "log",
                        event,
                        json!({ "log": message, "level": level.as_str() }),
                    )
                })
            }
            EventKind::LlmError {
                model,
                error,
                error_type,
            } => {
                self.touch(event);
                build.then(|| {
                    LiveMessage::new(
                        "log",
                        event,
                        json!({
                            "log": error,
                            "level": "error",
                            "model": model,
                            "errorType": error_type.as_str(),
                        }),
                    )
                })
            }
            EventKind::Step {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                let cost_usd = cost(&event.kind);
                let totals = self.totals(event);
                totals.steps += 1;
                totals.prompt_tokens = totals.prompt_tokens.saturating_add(*prompt_tokens);
                totals.completion_tokens =
                    totals.completion_tokens.saturating_add(*completion_tokens);
                totals.cost_usd += cost_usd.unwrap_or(0.0);
                build.then(|| {
                    LiveMessage::new("metrics", event, metrics_data(totals, event.timestamp_ms))
                })
            }
            EventKind::ToolCall { .. } => {
                let totals = self.totals(event);
                totals.tool_calls += 1;
                build.then(|| {
                    LiveMessage::new("metrics", event, metrics_data(totals, event.timestamp_ms))
                })
            }
        }
    }

    /// How many sessions have running totals.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session has running totals.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn touch(&mut self, event: &AgentEvent) {
        if let Some(totals) = self.sessions.get_mut(&event.session_id) {
            totals.last_ms = totals.last_ms.max(event.timestamp_ms);
        }
    }

    /// The session's totals, created at this event if it is new.
    fn totals(&mut self, event: &AgentEvent) -> &mut SessionTotals {
        // A known session is found without copying its id.
        if !self.sessions.contains_key(&event.session_id) {
            if self.sessions.len() >= MAX_TRACKED_SESSIONS {
                self.forget_least_recent();
            }
            self.sessions.insert(
                event.session_id.clone(),
                SessionTotals {
                    first_ms: event.timestamp_ms,
                    last_ms: event.timestamp_ms,
                    ..SessionTotals::default()
                },
            );
        }
        let totals = self
            .sessions
            .get_mut(&event.session_id)
            .expect("the session's totals were just ensured");
        totals.first_ms = totals.first_ms.min(event.timestamp_ms);
        totals.last_ms = totals.last_ms.max(event.timestamp_ms);
        totals
    }

    fn forget_least_recent(&mut self) {
        let oldest = self
            .sessions
            .iter()
            .min_by_key(|(_, totals)| totals.last_ms)
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            self.sessions.remove(&id);
        }
    }
}

fn metrics_data(totals: &SessionTotals, now_ms: i64) -> Value {
    json!({
        "promptTokens": totals.prompt_tokens,
        "completionTokens": totals.completion_tokens,
        "totalTokens": totals.prompt_tokens.saturating_add(totals.completion_tokens),
        "costUsd": totals.cost_usd,
        "steps": totals.steps,
        "toolCalls": totals.tool_calls,
        "duration": (now_ms - totals.first_ms).max(0),
    })
}
