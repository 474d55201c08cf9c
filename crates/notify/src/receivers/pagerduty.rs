//! `pagerduty_configs`: PagerDuty Events API v2. A firing group is a
//! `trigger`, a resolved one a `resolve`, both with the same `dedup_key`:
//! the SHA-256 of the group key in hex, as Alertmanager computes it, so
//! that PagerDuty folds one group's notifications into one incident (and
//! an Alertmanager moved to agentmon keeps resolving its incidents).
//! <https://prometheus.io/docs/alerting/latest/configuration/#pagerduty_config>
//! <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::discord::truncate_chars;
use super::http_config::HttpClientConfig;
use super::render::{default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, check_url, to_json, Built, DeliveryRequest, HttpRequest, TemplateData,
};
use crate::notification::Notification;
use crate::secrets::{redact_url, Secret};

/// Where Events API v2 events go unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// PagerDuty's limit on `payload.summary`.
const MAX_SUMMARY_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PagerdutyConfig {
    /// The integration key of an Events API v2 integration.
    #[serde(default)]
    pub routing_key: Option<Secret>,
    /// The Events API v1 key: not supported, refused with a clear error.
    #[serde(default)]
    pub service_key: Option<Secret>,
    #[serde(default = "default_url")]
    pub url: String,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub client_url: Option<String>,
    /// The summary; agentmon's default title when unset.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// Custom details; `firing`, `resolved`, `num_firing`, `num_resolved`
    /// when unset.
    #[serde(default)]
    pub details: Option<BTreeMap<String, String>>,
    #[serde(default = "super::default_true")]
    pub send_resolved: bool,
    #[serde(default)]
    pub http_config: HttpClientConfig,
}

fn default_url() -> String {
    DEFAULT_URL.to_owned()
}

fn default_severity() -> String {
    "error".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerdutyEvent {
    pub routing_key: String,
    pub event_action: String,
    pub dedup_key: String,
    pub payload: PagerdutyPayload,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub client: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub client_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerdutyPayload {
    pub summary: String,
    pub source: String,
    pub severity: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub class: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub component: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub group: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub custom_details: BTreeMap<String, String>,
}

/// Alertmanager's hash of a group key: SHA-256, lower-case hex.
pub fn group_key_hash(group_key: &str) -> String {
    let digest = Sha256::digest(group_key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn text_of(data: &TemplateData, status: Status) -> String {
    let mut only = data.clone();
    only.alerts.retain(|a| a.status == status);
    default_text(&only)
}

impl PagerdutyConfig {
    pub(crate) fn build(
        &self,
        notification: &Notification,
        renderer: &dyn Renderer,
    ) -> Result<Option<Built>, String> {
        if self.routing_key.is_none() && self.service_key.is_some() {
            return Err("service_key (Events API v1) is not supported; use routing_key".into());
        }
        let routing_key = self.routing_key.as_ref().ok_or("routing_key is missing")?;
        check_url(&self.url, "url")?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let render = |template: &str| {
            renderer.render(template, &data).unwrap_or_else(|error| {
                tracing::warn!(%error, "pagerduty: using the template text as written");
                template.to_owned()
            })
        };
        let optional = |field: &Option<String>| field.as_deref().map(render).unwrap_or_default();
        let custom_details = match &self.details {
            Some(details) => details
                .iter()
                .map(|(name, value)| (name.clone(), render(value)))
                .collect(),
            None => BTreeMap::from([
                ("firing".to_owned(), text_of(&data, Status::Firing)),
                ("resolved".to_owned(), text_of(&data, Status::Resolved)),
                ("num_firing".to_owned(), data.firing().count().to_string()),
                (
                    "num_resolved".to_owned(),
                    data.resolved().count().to_string(),
                ),
            ]),
        };
        let summary =
            render_or_default(renderer, self.description.as_deref(), &data, default_title);
        let event = PagerdutyEvent {
            routing_key: routing_key.expose().to_owned(),
            event_action: match data.status {
                Status::Firing => "trigger",
                Status::Resolved => "resolve",
            }
            .to_owned(),
            dedup_key: group_key_hash(&notification.group_key),
            payload: PagerdutyPayload {
                summary: truncate_chars(&summary, MAX_SUMMARY_CHARS),
                source: self
                    .source
                    .as_deref()
                    .map_or_else(|| "agentmon".to_owned(), render),
                severity: render(&self.severity),
                class: optional(&self.class),
                component: optional(&self.component),
                group: optional(&self.group),
                custom_details,
            },
            client: self
                .client
                .as_deref()
                .map_or_else(|| "agentmon".to_owned(), render),
            client_url: self
                .client_url
                .as_deref()
                .map_or_else(|| data.external_url.clone(), render),
        };
        let headers = self
            .http_config
            .authorization_header()
            .map(|value| ("Authorization".to_owned(), value))
            .into_iter()
            .collect();
        let request = DeliveryRequest::Http(HttpRequest {
            url: self.url.clone(),
            headers,
            body: to_json(&event)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(&data, redact_url(&self.url), request)))
    }
}
