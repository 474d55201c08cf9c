//! Receivers: [`prepare`] turns a [`Notification`] into one
//! self-contained [`PreparedDelivery`] per integration of a
//! [`ReceiverConfig`] (the validated `receivers:` entry of
//! [`crate::config`]): the exact request to send, rendered once, so that
//! the queue can retry it after a restart without the config or the
//! alerts. Each integration's file holds its payload types and the
//! `build` of its config struct.

pub mod discord;
pub mod email;
pub mod go_render;
pub mod gotime;
pub mod pagerduty;
pub mod render;
pub mod slack;
pub mod template_data;
pub mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::config::{
    DiscordConfig, EmailConfig, HttpConfig, PagerdutyConfig, ReceiverConfig, SlackConfig,
    WebhookConfig,
};
use crate::notification::{AlertStatus, Notification};
pub use go_render::GoTemplateRenderer;
pub use render::{PlainRenderer, RenderError, Renderer};
pub use template_data::TemplateData;

/// The kinds of integration, as named in metrics and the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    Webhook,
    Slack,
    Discord,
    Pagerduty,
    Email,
    /// An event webhook ([`crate::webhooks`]), not an Alertmanager receiver.
    EventWebhook,
}

impl IntegrationKind {
    pub const ALL: [IntegrationKind; 6] = [
        IntegrationKind::Webhook,
        IntegrationKind::Slack,
        IntegrationKind::Discord,
        IntegrationKind::Pagerduty,
        IntegrationKind::Email,
        IntegrationKind::EventWebhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Slack => "slack",
            IntegrationKind::Discord => "discord",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Email => "email",
            IntegrationKind::EventWebhook => "event_webhook",
        }
    }

    pub fn parse(text: &str) -> Option<IntegrationKind> {
        IntegrationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to send, complete: stored sealed in the queue, since URLs,
/// headers and SMTP credentials in it are secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DeliveryRequest {
    Http(HttpRequest),
    Email(EmailRequest),
}

impl fmt::Debug for DeliveryRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryRequest::Http(r) => f
                .debug_struct("Http")
                .field("url", &crate::secrets::redact_url(&r.url))
                .field("body_bytes", &r.body.len())
                .finish_non_exhaustive(),
            DeliveryRequest::Email(r) => f
                .debug_struct("Email")
                .field("smarthost", &r.smarthost)
                .field("to", &r.to)
                .finish_non_exhaustive(),
        }
    }
}

/// A JSON `POST`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub url: String,
    /// Extra headers (`Authorization`); `Content-Type` is always JSON.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// `None`: the queue's default send timeout.
    pub timeout_ms: Option<u64>,
}

/// A message for an SMTP smarthost.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailRequest {
    /// `host:port`; port 465 means TLS from the first byte.
    pub smarthost: String,
    pub hello: String,
    pub require_tls: bool,
    pub insecure_skip_verify: bool,
    pub auth_username: Option<String>,
    pub auth_password: Option<String>,
    pub auth_identity: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// The whole RFC 5322 message, headers and body.
    pub message: String,
}

/// One delivery of one notification through one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDelivery {
    pub receiver: String,
    pub integration: IntegrationKind,
    /// Position among the receiver's configs of that kind.
    pub integration_index: u32,
    pub group_key: String,
    /// Where it goes, fit to show (URL redacted, or the SMTP host).
    pub target: String,
    pub firing: u32,
    pub resolved: u32,
    pub request: DeliveryRequest,
}

/// Why a notification could not be turned into deliveries.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("receiver {receiver:?}: {integration} config #{index}: {reason}")]
    Invalid {
        receiver: String,
        integration: IntegrationKind,
        index: usize,
        reason: String,
    },
}

/// The alerts an integration sends: all of them, or only the firing ones
/// if it does not send resolved notifications. `None` when that leaves
/// nothing to say (no firing alert and `send_resolved: false`), which
/// Alertmanager counts as delivered without sending.
pub fn alerts_to_send(
    notification: &Notification,
    send_resolved: bool,
) -> Option<Vec<AlertStatus>> {
    let any_firing = notification.alerts.iter().any(|a| !a.resolved);
    if notification.alerts.is_empty() || (!send_resolved && !any_firing) {
        return None;
    }
    Some(
        notification
            .alerts
            .iter()
            .filter(|a| send_resolved || !a.resolved)
            .cloned()
            .collect(),
    )
}

/// Turns `notification` into the deliveries `receiver` asks for.
pub fn prepare(
    notification: &Notification,
    receiver: &ReceiverConfig,
    renderer: &dyn Renderer,
) -> Result<Vec<PreparedDelivery>, PrepareError> {
    let mut out = Vec::new();
    let mut push = |integration: IntegrationKind,
                    index: usize,
                    built: Result<Option<Built>, String>|
     -> Result<(), PrepareError> {
        let built = built.map_err(|reason| PrepareError::Invalid {
            receiver: receiver.name.clone(),
            integration,
            index,
            reason,
        })?;
        if let Some(built) = built {
            out.push(PreparedDelivery {
                receiver: notification.receiver.clone(),
                integration,
                integration_index: index as u32,
                group_key: notification.group_key.clone(),
                target: built.target,
                firing: built.firing,
                resolved: built.resolved,
                request: built.request,
            });
        }
        Ok(())
    };
    for (i, config) in receiver.webhook_configs.iter().enumerate() {
        push(IntegrationKind::Webhook, i, config.build(notification))?;
    }
    for (i, config) in receiver.slack_configs.iter().enumerate() {
        push(
            IntegrationKind::Slack,
            i,
            config.build(notification, renderer),
        )?;
    }
    for (i, config) in receiver.discord_configs.iter().enumerate() {
        push(
            IntegrationKind::Discord,
            i,
            config.build(notification, renderer),
        )?;
    }
    for (i, config) in receiver.pagerduty_configs.iter().enumerate() {
        push(
            IntegrationKind::Pagerduty,
            i,
            config.build(notification, renderer),
        )?;
    }
    for (i, config) in receiver.email_configs.iter().enumerate() {
        push(
            IntegrationKind::Email,
            i,
            config.build(notification, renderer),
        )?;
    }
    Ok(out)
}

/// What an integration's `build` returns.
pub(crate) struct Built {
    pub target: String,
    pub firing: u32,
    pub resolved: u32,
    pub request: DeliveryRequest,
}

impl Built {
    pub(crate) fn new(data: &TemplateData, target: String, request: DeliveryRequest) -> Built {
        Built {
            target,
            firing: data.firing().count() as u32,
            resolved: data.resolved().count() as u32,
            request,
        }
    }
}

/// A JSON body; serializing our own payload types cannot fail, but an
/// error is reported rather than assumed away.
/// JSON as Go's `encoding/json` writes it, which Alertmanager's requests
/// are: `<`, `>`, `&`, U+2028 and U+2029 escaped as `\uXXXX`. Those
/// characters can only occur inside strings of the encoded text, so they
/// are replaced after encoding.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, String> {
    let text =
        serde_json::to_string(value).map_err(|e| format!("cannot encode the payload: {e}"))?;
    if !text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A URL must be http(s) with a host before it is queued, so that a
/// typo (in a `*_file`, which the config loader does not read) fails at
/// once rather than after a day of retries. Alertmanager's check, as the
/// config loader applies it to inline URLs.
pub(crate) fn check_url(url: &str, field: &str) -> Result<(), String> {
    crate::config::check_url(url).map_err(|e| format!("{field}: {e}"))
}

/// The URL of an integration, given inline or as a file, checked.
pub(crate) fn endpoint(
    inline: Option<&crate::config::SecretUrl>,
    file: Option<&str>,
    field: &str,
) -> Result<crate::secrets::Secret, String> {
    let url = crate::config::inline_or_file(inline.map(|u| &u.0), file, field)?
        .ok_or_else(|| format!("{field} is missing"))?;
    check_url(url.expose(), field)?;
    Ok(url)
}

/// The headers an HTTP integration sends besides `Content-Type`.
pub(crate) fn auth_headers(http: &HttpConfig) -> Result<Vec<(String, String)>, String> {
    Ok(http
        .authorization_header()?
        .map(|value| ("Authorization".to_owned(), value))
        .into_iter()
        .collect())
}
