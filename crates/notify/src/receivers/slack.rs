//! `slack_configs`: a Slack incoming-webhook message with one attachment
//! (title, text, color `danger` while firing and `good` once resolved, as
//! Alertmanager's default colour template does). Texts are agentmon's own
//! unless configured. Resolved notifications are off by default.
//! <https://prometheus.io/docs/alerting/latest/configuration/#slack_config>

use serde::{Deserialize, Serialize};

use super::http_config::HttpClientConfig;
use super::render::{default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, check_url, to_json, Built, DeliveryRequest, HttpRequest, TemplateData,
};
use crate::notification::Notification;
use crate::secrets::{redact_url, Secret};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SlackConfig {
    /// The incoming-webhook URL (it is the credential). Falls back to
    /// `global.slack_api_url` when the core fills it in.
    #[serde(default)]
    pub api_url: Option<Secret>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub title_link: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub icon_emoji: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    #[serde(default)]
    pub send_resolved: bool,
    #[serde(default)]
    pub http_config: HttpClientConfig,
}

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
        let url = self
            .api_url
            .as_ref()
            .ok_or("api_url is missing (and no global.slack_api_url)")?;
        check_url(url.expose(), "api_url")?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let render = |field: &Option<String>, default| {
            render_or_default(renderer, field.as_deref(), &data, default)
        };
        let title = render(&self.title, default_title);
        let message = SlackMessage {
            channel: self.channel.clone(),
            username: render(&self.username, default_username),
            icon_emoji: self.icon_emoji.clone(),
            icon_url: self.icon_url.clone(),
            attachments: vec![SlackAttachment {
                fallback: title.clone(),
                title,
                title_link: render(&self.title_link, default_title_link),
                text: render(&self.text, default_text),
                color: render(&self.color, default_color),
                mrkdwn_in: vec![
                    "fallback".to_owned(),
                    "pretext".to_owned(),
                    "text".to_owned(),
                ],
            }],
        };
        let headers = self
            .http_config
            .authorization_header()
            .map(|value| ("Authorization".to_owned(), value))
            .into_iter()
            .collect();
        let request = DeliveryRequest::Http(HttpRequest {
            url: url.expose().to_owned(),
            headers,
            body: to_json(&message)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(&data, redact_url(url.expose()), request)))
    }
}
