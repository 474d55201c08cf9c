//! `slack_configs`: a Slack incoming-webhook message with one attachment
//! (title, text, fields, actions, color `danger` while firing and `good`
//! once resolved, as Alertmanager's default colour template does), with
//! Alertmanager's field order and omissions. Fields left at their default
//! render the stock templates (so the request is Alertmanager's, the
//! sender's name apart). Resolved notifications are off by default.
//! <https://prometheus.io/docs/alerting/latest/configuration/#slack_config>

use serde::{Deserialize, Serialize};

use super::discord::truncate_chars;
use super::render::{configured, default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, auth_headers, endpoint, to_json, Built, DeliveryRequest, HttpRequest,
    TemplateData,
};
use crate::config::SlackConfig;
use crate::notification::Notification;
use crate::secrets::redact_url;

/// The request body, with Alertmanager's field order and omissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackMessage {
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub icon_url: String,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub link_names: bool,
    pub attachments: Vec<SlackAttachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackAttachment {
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub pretext: String,
    pub text: String,
    pub fallback: String,
    pub callback_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fields: Vec<SlackFieldOut>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub actions: Vec<SlackActionOut>,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub image_url: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub thumb_url: String,
    pub footer: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub color: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mrkdwn_in: Vec<String>,
}

/// A rendered `fields` entry; `short` falls back to `short_fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackFieldOut {
    pub title: String,
    pub value: String,
    pub short: bool,
}

/// A rendered `actions` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackActionOut {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub style: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirm: Option<SlackConfirmOut>,
}

/// A rendered action `confirm` dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackConfirmOut {
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub ok_text: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub dismiss_text: String,
}

/// Slack's limit on an attachment title, in characters.
const MAX_TITLE_CHARS: usize = 1024;

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

fn empty(_: &TemplateData) -> String {
    String::new()
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
        // A field left at its default renders the stock template, or
        // agentmon's own default text when the renderer has none.
        let field = |text: &str, default_text: &str, fallback: fn(&TemplateData) -> String| {
            render_or_default(
                renderer,
                configured(renderer, text, default_text),
                &data,
                fallback,
            )
        };
        // Fields with no default template: rendered when set.
        let plain = |text: &str| field(text, "", empty);
        let title = truncate_chars(
            &field(&self.title, &defaults.title, default_title),
            MAX_TITLE_CHARS,
        );
        let fields = self
            .fields
            .iter()
            .map(|f| SlackFieldOut {
                title: plain(&f.title),
                value: plain(&f.value),
                short: f.short.unwrap_or(self.short_fields),
            })
            .collect();
        let actions = self
            .actions
            .iter()
            .map(|a| SlackActionOut {
                kind: plain(&a.kind),
                text: plain(&a.text),
                url: plain(&a.url),
                style: plain(&a.style),
                name: plain(&a.name),
                value: plain(&a.value),
                confirm: a.confirm.as_ref().map(|c| SlackConfirmOut {
                    text: plain(&c.text),
                    title: plain(&c.title),
                    ok_text: plain(&c.ok_text),
                    dismiss_text: plain(&c.dismiss_text),
                }),
            })
            .collect();
        let mrkdwn_in = if self.mrkdwn_in.is_empty() {
            ["fallback", "pretext", "text"].map(str::to_owned).to_vec()
        } else {
            self.mrkdwn_in.clone()
        };
        let message = SlackMessage {
            channel: plain(&self.channel),
            username: field(&self.username, &defaults.username, default_username),
            icon_emoji: field(&self.icon_emoji, &defaults.icon_emoji, empty),
            icon_url: field(&self.icon_url, &defaults.icon_url, empty),
            link_names: self.link_names,
            attachments: vec![SlackAttachment {
                title,
                title_link: field(&self.title_link, &defaults.title_link, default_title_link),
                pretext: field(&self.pretext, &defaults.pretext, empty),
                text: field(&self.text, &defaults.text, default_text),
                fallback: field(&self.fallback, &defaults.fallback, default_title),
                callback_id: field(&self.callback_id, &defaults.callback_id, empty),
                fields,
                actions,
                image_url: plain(&self.image_url),
                thumb_url: plain(&self.thumb_url),
                footer: field(&self.footer, &defaults.footer, empty),
                color: field(&self.color, &defaults.color, default_color),
                mrkdwn_in,
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
