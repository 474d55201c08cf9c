//! Event types, the event filter of a webhook, and the JSON payload every
//! event webhook receives: `{"event": "<type>", "timestamp": "<RFC 3339>",
//! "data": {...}}`.

use std::fmt;

use serde_json::Value;

use super::error::WebhookError;
use crate::receivers::gotime::format_rfc3339_ms;

/// What happened. `Test` is only sent by the test endpoint, never matched
/// by a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    SessionCompleted,
    SessionFailed,
    SessionAbandoned,
    InstanceOffline,
    HealthChanged,
    Alert,
    Test,
}

impl EventType {
    /// The types a filter can name (all but `Test`).
    pub const FILTERABLE: [EventType; 6] = [
        EventType::SessionCompleted,
        EventType::SessionFailed,
        EventType::SessionAbandoned,
        EventType::InstanceOffline,
        EventType::HealthChanged,
        EventType::Alert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SessionCompleted => "session_completed",
            EventType::SessionFailed => "session_failed",
            EventType::SessionAbandoned => "session_abandoned",
            EventType::InstanceOffline => "instance_offline",
            EventType::HealthChanged => "health_changed",
            EventType::Alert => "alert",
            EventType::Test => "test",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The filter word that matches every type.
pub const ALL: &str = "all";

/// The names the seed's CLI uses, kept as aliases: a "job" is an agent
/// session, a "miner" an instance.
const ALIASES: [(&str, EventType); 2] = [
    ("job_completed", EventType::SessionCompleted),
    ("miner_offline", EventType::InstanceOffline),
];

/// Every name a filter accepts, for error messages and the docs.
pub fn valid_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = EventType::FILTERABLE.iter().map(|t| t.as_str()).collect();
    names.push(ALL);
    names.extend(ALIASES.iter().map(|(alias, _)| *alias));
    names
}

/// A webhook's event filter: the names as the client wrote them (shown back
/// unchanged) and what they select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    names: Vec<String>,
    all: bool,
    types: Vec<EventType>,
}

impl EventFilter {
    /// Parses the names of a filter. Names are exact (lower case); an
    /// unknown name, or no name at all, is refused with the list of valid
    /// ones. Repeated names are kept once.
    pub fn parse(names: &[String]) -> Result<EventFilter, WebhookError> {
        if names.is_empty() {
            return Err(WebhookError::Invalid(format!(
                "events must name at least one event type: {}",
                valid_names().join(", ")
            )));
        }
        let mut filter = EventFilter {
            names: Vec::new(),
            all: false,
            types: Vec::new(),
        };
        for name in names {
            if filter.names.contains(name) {
                continue;
            }
            if name == ALL {
                filter.all = true;
            } else if let Some(kind) = parse_type(name) {
                if !filter.types.contains(&kind) {
                    filter.types.push(kind);
                }
            } else {
                return Err(WebhookError::Invalid(format!(
                    "unknown event type {name:?}: valid types are {}",
                    valid_names().join(", ")
                )));
            }
            filter.names.push(name.clone());
        }
        Ok(filter)
    }

    /// Whether an event of `kind` goes to this webhook (`test` never does:
    /// it is sent to one webhook on request).
    pub fn matches(&self, kind: EventType) -> bool {
        kind != EventType::Test && (self.all || self.types.contains(&kind))
    }

    /// The names as given.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A filterable type by its name or alias.
fn parse_type(name: &str) -> Option<EventType> {
    EventType::FILTERABLE
        .into_iter()
        .find(|t| t.as_str() == name)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, t)| *t)
        })
}

/// One event, ready to be sent to every webhook that wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub kind: EventType,
    /// When it happened, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The type's fields (see `docs/webhooks.md`).
    pub data: Value,
}

impl WebhookEvent {
    pub fn new(kind: EventType, timestamp_ms: i64, data: Value) -> WebhookEvent {
        WebhookEvent {
            kind,
            timestamp_ms,
            data,
        }
    }

    /// The request body: `{"event", "timestamp", "data"}`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "event": self.kind.as_str(),
            "timestamp": format_rfc3339_ms(self.timestamp_ms),
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn aliases_select_their_types_and_keep_their_names() {
        let filter = EventFilter::parse(&names(&["job_completed", "miner_offline", "alert"]))
            .expect("valid");
        assert!(filter.matches(EventType::SessionCompleted));
        assert!(filter.matches(EventType::InstanceOffline));
        assert!(filter.matches(EventType::Alert));
        assert!(!filter.matches(EventType::SessionFailed));
        assert!(!filter.matches(EventType::HealthChanged));
        assert_eq!(filter.names(), ["job_completed", "miner_offline", "alert"]);
    }

    #[test]
    fn all_matches_everything_but_test() {
        let filter = EventFilter::parse(&names(&["all"])).expect("valid");
        for kind in EventType::FILTERABLE {
            assert!(filter.matches(kind), "{kind}");
        }
        assert!(!filter.matches(EventType::Test));
    }

    #[test]
    fn unknown_and_empty_filters_are_refused_with_the_valid_names() {
        let error = EventFilter::parse(&names(&["session_failed", "Session_Completed"]))
            .expect_err("case matters")
            .to_string();
        assert!(error.contains("\"Session_Completed\""), "{error}");
        assert!(
            error.contains("session_completed, session_failed"),
            "{error}"
        );
        assert!(error.contains("job_completed"), "{error}");
        let error = EventFilter::parse(&[]).expect_err("empty").to_string();
        assert!(error.contains("at least one"), "{error}");
        assert!(EventFilter::parse(&names(&["test"])).is_err());
    }

    #[test]
    fn repeated_names_are_kept_once() {
        let filter =
            EventFilter::parse(&names(&["alert", "alert", "session_failed"])).expect("valid");
        assert_eq!(filter.names(), ["alert", "session_failed"]);
    }

    #[test]
    fn the_body_has_event_timestamp_and_data() {
        let event = WebhookEvent::new(
            EventType::SessionFailed,
            1_700_000_000_250,
            serde_json::json!({"session_id": "s-1"}),
        );
        let body: Value = serde_json::from_str(&event.body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "event": "session_failed",
                "timestamp": "2023-11-14T22:13:20.25Z",
                "data": {"session_id": "s-1"},
            })
        );
    }
}
