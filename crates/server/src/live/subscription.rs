//! What a live-stream client asks for: its messages (`subscribe`,
//! `unsubscribe`), validated field by field, and the set of subscriptions
//! a connection holds.

use serde_json::{Map, Value};

use super::message::LiveMessage;

/// The `executionId` that subscribes to every session.
pub const ALL_SESSIONS: &str = "*";
/// Longest accepted `executionId` or `agent`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 256;

/// One subscription: a session (or `*`) and optionally one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub execution_id: String,
    pub agent: Option<String>,
}

impl Subscription {
    /// Checks an `executionId` and optional `agent` from outside.
    pub fn new(execution_id: &str, agent: Option<&str>) -> Result<Subscription, String> {
        check_id("executionId", execution_id)?;
        if let Some(agent) = agent {
            check_id("agent", agent)?;
        }
        Ok(Subscription {
            execution_id: execution_id.to_owned(),
            agent: agent.map(str::to_owned),
        })
    }

    /// Whether the message is one this subscription asked for.
    pub fn matches(&self, message: &LiveMessage) -> bool {
        (self.execution_id == ALL_SESSIONS || self.execution_id == message.execution_id)
            && match &self.agent {
                None => true,
                Some(agent) => *agent == message.agent,
            }
    }
}

fn check_id(field: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(format!(
            "{field} is {} bytes long, at most {MAX_ID_BYTES} are allowed",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// A client's request on the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRequest {
    Subscribe(Subscription),
    Unsubscribe(Subscription),
}

/// Parses one text frame from a client; the error is the message sent back.
pub fn parse_client_message(text: &str) -> Result<ClientRequest, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("message is not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("message must be a JSON object with \"type\" and \"executionId\"".into());
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "type" | "executionId" | "agent") {
            return Err(format!(
                "unknown field {key:?}: a message has \"type\", \"executionId\" and optionally \"agent\""
            ));
        }
    }
    let kind = string_field(&object, "type")?
        .ok_or_else(|| "missing field \"type\": \"subscribe\" or \"unsubscribe\"".to_owned())?;
    let execution_id = string_field(&object, "executionId")?.ok_or_else(|| {
        "missing field \"executionId\": a session id, or \"*\" for every session".to_owned()
    })?;
    let agent = string_field(&object, "agent")?;
    let subscription = Subscription::new(execution_id, agent)?;
    match kind {
        "subscribe" => Ok(ClientRequest::Subscribe(subscription)),
        "unsubscribe" => Ok(ClientRequest::Unsubscribe(subscription)),
        other => Err(format!(
            "unknown message type {other:?}: expected \"subscribe\" or \"unsubscribe\""
        )),
    }
}

fn string_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("field {name:?} must be a string")),
    }
}

/// The subscriptions of one connection.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions {
    list: Vec<Subscription>,
}

impl Subscriptions {
    /// Adds a subscription (a repeated one is kept once).
    pub fn add(&mut self, subscription: Subscription) -> Result<(), String> {
        if self.list.contains(&subscription) {
            return Ok(());
        }
        if self.list.len() >= MAX_SUBSCRIPTIONS {
            return Err(format!(
                "a connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions: unsubscribe first"
            ));
        }
        self.list.push(subscription);
        Ok(())
    }

    /// Removes the subscriptions to that `executionId`: all of them when
    /// the request names no agent, only the one of that agent otherwise.
    /// Returns how many were removed.
    pub fn remove(&mut self, request: &Subscription) -> usize {
        let before = self.list.len();
        self.list.retain(|s| {
            !(s.execution_id == request.execution_id
                && (request.agent.is_none() || s.agent == request.agent))
        });
        before - self.list.len()
    }

    /// Whether any subscription asks for the message.
    pub fn matches(&self, message: &LiveMessage) -> bool {
        self.list.iter().any(|s| s.matches(message))
    }

    /// How many subscriptions are held.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
