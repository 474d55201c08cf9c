//! `slack_configs`: a Slack incoming-webhook message with one attachment
//! (title, text, color `danger` while firing and `good` once resolved, as
//! Alertmanager's default colour template does). Texts are agentmon's own
//! unless configured. Resolved notifications are off by default.
//! <https://prometheus.io/docs/alerting/latest/configuration/#slack_config>

use serde::{Deserialize, Serialize};

use super::render::{custom, default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, auth_headers, endpoint, to_json, Built, DeliveryRequest, HttpRequest,
    TemplateData,
};
use crate::config::SlackConfig;
use crate::notification::Notification;
use crate::secrets::redact_url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackMessage {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel: Option<String>,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icon_emoji: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icon_url: Option<String>,
    pub attachments: Vec<SlackAttachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackAttachment {
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub title_link: String,
    pub text: String,
    pub fallback: String,
    pub color: String,
    pub mrkdwn_in: Vec<String>,
}

fn default_color(data: &TemplateData) -> String {
    match data.status {
        Status::Firing => "danger",
        Status::Resolved => "good",
    }
    .to_owned()
}

fn default_username(_: &TemplateData) -> String {
    "agentmon".to_owned()
}

fn default_title_link(data: &TemplateData) -> String {
    data.external_url.clone()
}

impl SlackConfig {
    pub(crate) fn build(
        &self,
        notification: &Notification,
        renderer: &dyn Renderer,
    ) -> Result<Option<Built>, String> {
        let url = endpoint(
            self.api_url.as_ref(),
            self.api_url_file.as_deref(),
            "api_url",
        )?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let defaults = SlackConfig::default();
        let render = |field: &str, default_field: &str, default| {
            render_or_default(renderer, custom(field, default_field), &data, default)
        };
        // Alertmanager's default icon templates render empty.
        let optional = |field: &str, default_field: &str| {
            custom(field, default_field).map(|text| render(text, default_field, |_| String::new()))
        };
        let title = render(&self.title, &defaults.title, default_title);
        let message = SlackMessage {
            channel: (!self.channel.is_empty()).then(|| self.channel.clone()),
            username: render(&self.username, &defaults.username, default_username),
            icon_emoji: optional(&self.icon_emoji, &defaults.icon_emoji),
            icon_url: optional(&self.icon_url, &defaults.icon_url),
            attachments: vec![SlackAttachment {
                fallback: title.clone(),
                title,
                title_link: render(&self.title_link, &defaults.title_link, default_title_link),
                text: render(&self.text, &defaults.text, default_text),
                color: render(&self.color, &defaults.color, default_color),
                mrkdwn_in: vec![
                    "fallback".to_owned(),
                    "pretext".to_owned(),
                    "text".to_owned(),
                ],
            }],
        };
        let request = DeliveryRequest::Http(HttpRequest {
            url: url.expose().to_owned(),
            headers: auth_headers(&self.http_config)?,
            body: to_json(&message)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(&data, redact_url(url.expose()), request)))
    }
}
