//! A webhook: what the API accepts ([`WebhookSpec`]), its validated form
//! ([`Webhook`]), how it is shown (URL, headers and secret redacted), and
//! the request it is sent for one event ([`Webhook::prepare`]).

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::WebhookError;
use super::event::{EventFilter, WebhookEvent, ALL};
use super::hmac::{hex, hmac_sha256};
use crate::receivers::gotime::format_rfc3339_ms;
use crate::receivers::{DeliveryRequest, HttpRequest, IntegrationKind, PreparedDelivery};
use crate::secrets::{redact_url, Secret, REDACTED};

/// The header carrying the body's HMAC-SHA256 when a webhook has a secret.
pub const SIGNATURE_HEADER: &str = "X-Agentmon-Signature";
/// The header naming the event type.
pub const EVENT_HEADER: &str = "X-Agentmon-Event";
/// The header carrying the event's id, the same on every retry: receivers
/// deduplicate on it.
pub const EVENT_ID_HEADER: &str = "X-Agentmon-Event-Id";

/// The longest name.
const MAX_NAME_LEN: usize = agentmon_model::API_NAME_MAX_LEN;

/// Headers a webhook may not set: the sender sets them.
const RESERVED_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "host",
    "x-agentmon-signature",
    "x-agentmon-event",
    "x-agentmon-event-id",
];

/// The body of `POST /api/v1/monitor/webhooks`; unknown fields are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub name: String,
    pub url: Secret,
    /// Default: `["all"]`.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Default: true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Extra request headers (an `Authorization`, say); kept sealed.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Secret>>,
    /// Signs each body with HMAC-SHA256 when set.
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// A validated webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub name: String,
    pub url: Secret,
    pub filter: EventFilter,
    pub enabled: bool,
    pub created_at_ms: i64,
    /// Extra headers, by name as given.
    pub headers: Vec<(String, Secret)>,
    pub secret: Option<Secret>,
}

impl WebhookSpec {
    /// Checks every field; `now_ms` becomes `created_at`.
    pub fn validate(self, now_ms: i64) -> Result<Webhook, WebhookError> {
        validate_name(&self.name)?;
        validate_url(self.url.expose())?;
        let names = self.events.unwrap_or_else(|| vec![ALL.to_owned()]);
        let filter = EventFilter::parse(&names)?;
        let mut headers = Vec::new();
        for (name, value) in self.headers.unwrap_or_default() {
            validate_header(&name, value.expose())?;
            headers.push((name, value));
        }
        if let Some(secret) = &self.secret {
            if secret.is_empty() {
                return Err(WebhookError::Invalid(
                    "secret must not be empty: leave it out to send unsigned requests".to_owned(),
                ));
            }
        }
        Ok(Webhook {
            name: self.name,
            url: self.url,
            filter,
            enabled: self.enabled.unwrap_or(true),
            created_at_ms: now_ms,
            headers,
            secret: self.secret,
        })
    }
}

/// A name is 1 to 128 of `A-Z a-z 0-9 _ . -`.
pub fn validate_name(name: &str) -> Result<(), WebhookError> {
    if agentmon_model::is_api_name(name) {
        Ok(())
    } else {
        Err(WebhookError::Invalid(format!(
            "webhook name {name:?} is invalid: must match [A-Za-z0-9_.-]{{1,{MAX_NAME_LEN}}}"
        )))
    }
}

/// An absolute `http` or `https` URL with a host. The message never
/// repeats the URL, which may hold a token.
fn validate_url(raw: &str) -> Result<(), WebhookError> {
    let url = url::Url::parse(raw)
        .map_err(|e| WebhookError::Invalid(format!("url is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebhookError::Invalid(format!(
            "url scheme {:?} is not supported: use http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(WebhookError::Invalid("url has no host".to_owned()));
    }
    Ok(())
}

fn validate_header(name: &str, value: &str) -> Result<(), WebhookError> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(WebhookError::Invalid(format!(
            "header name {name:?} is not a valid HTTP header name"
        )));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(WebhookError::Invalid(format!(
            "header {name:?} is set by agentmon and cannot be configured"
        )));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(WebhookError::Invalid(format!(
            "the value of header {name:?} is not a valid HTTP header value"
        )));
    }
    Ok(())
}

impl Webhook {
    /// How the API shows a webhook: the URL's path and query, header values
    /// and the secret are redacted.
    pub fn view(&self) -> Value {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), REDACTED))
            .collect();
        json!({
            "name": self.name,
            "url": redact_url(self.url.expose()),
            "events": self.filter.names(),
            "enabled": self.enabled,
            "created_at": format_rfc3339_ms(self.created_at_ms),
            "headers": headers,
            "signed": self.secret.is_some(),
        })
    }

    /// The delivery of `event` to this webhook, with the event's unique
    /// `event_id` (the delivery's group key, so that no two events
    /// supersede each other in the queue).
    pub fn prepare(&self, event: &WebhookEvent, event_id: &str) -> PreparedDelivery {
        let body = event.body();
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect();
        headers.push((EVENT_HEADER.to_owned(), event.kind.as_str().to_owned()));
        headers.push((EVENT_ID_HEADER.to_owned(), event_id.to_owned()));
        if let Some(secret) = &self.secret {
            headers.push((SIGNATURE_HEADER.to_owned(), signature(secret, &body)));
        }
        PreparedDelivery {
            receiver: self.name.clone(),
            integration: IntegrationKind::EventWebhook,
            integration_index: 0,
            group_key: format!("{}:{event_id}", event.kind),
            target: redact_url(self.url.expose()),
            firing: 0,
            resolved: 0,
            request: DeliveryRequest::Http(HttpRequest {
                url: self.url.expose().to_owned(),
                headers,
                body,
                timeout_ms: None,
            }),
        }
    }
}

/// `sha256=<hex HMAC-SHA256 of the body under the secret>`.
pub fn signature(secret: &Secret, body: &str) -> String {
    format!(
        "sha256={}",
        hex(&hmac_sha256(secret.expose().as_bytes(), body.as_bytes()))
    )
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
