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
use super::render::{configured, default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, auth_headers, check_url, to_json, Built, DeliveryRequest, HttpRequest,
    TemplateData,
};
use crate::config::{
    inline_or_file, PagerdutyConfig, DEFAULT_PAGERDUTY_URL, PAGERDUTY_DEFAULT_DETAILS,
};
use crate::notification::Notification;
use crate::secrets::redact_url;

/// PagerDuty's limit on `payload.summary`.
const MAX_SUMMARY_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerdutyEvent {
    pub routing_key: String,
    pub dedup_key: String,
    pub event_action: String,
    pub payload: PagerdutyPayload,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub client: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub client_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub images: Vec<PagerdutyEventImage>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub links: Vec<PagerdutyEventLink>,
}

/// An image of the event (`images`), rendered; kept only with a `src`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerdutyEventImage {
    pub src: String,
    pub alt: String,
    pub href: String,
}

/// A link of the event (`links`), rendered; kept only with an `href`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerdutyEventLink {
    pub href: String,
    pub text: String,
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
        let routing_key = inline_or_file(
            Some(&self.routing_key),
            Some(&self.routing_key_file),
            "routing_key",
        )?;
        let Some(routing_key) = routing_key else {
            if !self.service_key.is_empty() || !self.service_key_file.is_empty() {
                return Err("service_key (Events API v1) is not supported; use routing_key".into());
            }
            return Err("routing_key is missing".into());
        };
        let url = self
            .url
            .as_ref()
            .map_or(DEFAULT_PAGERDUTY_URL, |u| u.0.as_str());
        check_url(url, "url")?;
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
        let defaults = PagerdutyConfig::default();
        let or_else = |field: &str, default_field: &str, fallback: String| {
            configured(renderer, field, default_field).map_or(fallback, render)
        };
        let custom_details = self
            .details
            .iter()
            .map(|(name, value)| {
                let builtin = PAGERDUTY_DEFAULT_DETAILS
                    .iter()
                    .any(|(key, default)| key == name && default == value);
                let text = match name.as_str() {
                    _ if !builtin || renderer.has_stock_templates() => render(value),
                    "firing" => text_of(&data, Status::Firing),
                    "resolved" => text_of(&data, Status::Resolved),
                    "num_firing" => data.firing().count().to_string(),
                    "num_resolved" => data.resolved().count().to_string(),
                    _ => render(value),
                };
                (name.clone(), text)
            })
            .collect();
        let summary = render_or_default(
            renderer,
            configured(renderer, &self.description, &defaults.description),
            &data,
            default_title,
        );
        let client = or_else(&self.client, &defaults.client, "agentmon".to_owned());
        let severity = if self.severity.is_empty() {
            "error"
        } else {
            &self.severity
        };
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
                // Alertmanager's source defaults to the client's text.
                source: or_else(&self.source, "", client.clone()),
                severity: render(severity),
                class: or_else(&self.class, "", String::new()),
                component: or_else(&self.component, "", String::new()),
                group: or_else(&self.group, "", String::new()),
                custom_details,
            },
            client,
            images: self
                .images
                .iter()
                .map(|image| PagerdutyEventImage {
                    src: render(&image.src),
                    alt: render(&image.alt),
                    href: render(&image.href),
                })
                .filter(|image| !image.src.is_empty())
                .collect(),
            links: self
                .links
                .iter()
                .map(|link| PagerdutyEventLink {
                    href: render(&link.href),
                    text: render(&link.text),
                })
                .filter(|link| !link.href.is_empty())
                .collect(),
            client_url: or_else(
                &self.client_url,
                &defaults.client_url,
                data.external_url.clone(),
            ),
        };
        let request = DeliveryRequest::Http(HttpRequest {
            url: url.to_owned(),
            headers: auth_headers(&self.http_config)?,
            body: to_json(&event)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(&data, redact_url(url), request)))
    }
}
