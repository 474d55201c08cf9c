//! `webhook_configs`: a JSON `POST` of Alertmanager's webhook payload,
//! version 4, field for field as Alertmanager 0.25 writes it: the fields of
//! its `template.Data` first (`receiver`, `status`, `alerts`,
//! `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`), then
//! `version`, `groupKey` and `truncatedAlerts`; maps with sorted keys;
//! times as Go prints them; fingerprints as 16 hex digits.
//! <https://prometheus.io/docs/alerting/latest/configuration/#webhook_config>

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::gotime::{format_optional_ms, format_rfc3339_ms};
use super::{
    alerts_to_send, auth_headers, endpoint, to_json, Built, DeliveryRequest, HttpRequest,
    TemplateData,
};
use crate::config::WebhookConfig;
use crate::notification::Notification;
use crate::secrets::redact_url;

/// The payload, version 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<WebhookAlert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub version: String,
    pub group_key: String,
    pub truncated_alerts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

/// Builds the version 4 payload for `data`, which is already cut to
/// `max_alerts`; `truncated` is how many alerts were cut.
pub fn webhook_message(data: &TemplateData, truncated: u64) -> WebhookMessage {
    WebhookMessage {
        receiver: data.receiver.clone(),
        status: data.status.as_str().to_owned(),
        alerts: data
            .alerts
            .iter()
            .map(|a| WebhookAlert {
                status: a.status.as_str().to_owned(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: format_rfc3339_ms(a.starts_at_ms),
                ends_at: format_optional_ms(a.ends_at_ms),
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint_hex(),
            })
            .collect(),
        group_labels: data.group_labels.clone(),
        common_labels: data.common_labels.clone(),
        common_annotations: data.common_annotations.clone(),
        external_url: data.external_url.clone(),
        version: "4".to_owned(),
        group_key: data.group_key.clone(),
        truncated_alerts: truncated,
    }
}

impl WebhookConfig {
    pub(crate) fn build(&self, notification: &Notification) -> Result<Option<Built>, String> {
        let url = endpoint(self.url.as_ref(), self.url_file.as_deref(), "url")?;
        let Some(mut alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let mut truncated = 0;
        if self.max_alerts > 0 && alerts.len() as u64 > self.max_alerts {
            truncated = alerts.len() as u64 - self.max_alerts;
            alerts.truncate(self.max_alerts as usize);
        }
        let data = TemplateData::new(notification, &alerts);
        let request = DeliveryRequest::Http(HttpRequest {
            url: url.expose().to_owned(),
            headers: auth_headers(&self.http_config)?,
            body: to_json(&webhook_message(&data, truncated))?,
            timeout_ms: self.timeout.map(|t| t.as_millis() as u64),
        });
        Ok(Some(Built::new(&data, redact_url(url.expose()), request)))
    }
}
