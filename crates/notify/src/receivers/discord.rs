//! `discord_configs`: a Discord webhook message with one embed (title,
//! description, colour red while firing, green once resolved, as
//! Alertmanager 0.25 sends them), within Discord's limits of 256
//! characters of title and 4096 of description.
//! <https://prometheus.io/docs/alerting/latest/configuration/#discord_config>

use serde::{Deserialize, Serialize};

use super::http_config::HttpClientConfig;
use super::render::{default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, check_url, to_json, Built, DeliveryRequest, HttpRequest, TemplateData,
};
use crate::notification::Notification;
use crate::secrets::{redact_url, Secret};

const MAX_TITLE_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Embed colours (RGB as an integer): firing, resolved.
pub const COLOR_FIRING: u32 = 0x992D22;
pub const COLOR_RESOLVED: u32 = 0x2ECC71;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DiscordConfig {
    pub webhook_url: Secret,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "super::default_true")]
    pub send_resolved: bool,
    #[serde(default)]
    pub http_config: HttpClientConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscordMessage {
    pub content: String,
    pub embeds: Vec<DiscordEmbed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscordEmbed {
    pub title: String,
    pub description: String,
    pub color: u32,
}

/// Cuts `text` to `max` characters, ending with `…` when cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl DiscordConfig {
    pub(crate) fn build(
        &self,
        notification: &Notification,
        renderer: &dyn Renderer,
    ) -> Result<Option<Built>, String> {
        check_url(self.webhook_url.expose(), "webhook_url")?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let title = render_or_default(renderer, self.title.as_deref(), &data, default_title);
        let description = render_or_default(renderer, self.message.as_deref(), &data, default_text);
        let message = DiscordMessage {
            content: String::new(),
            embeds: vec![DiscordEmbed {
                title: truncate_chars(&title, MAX_TITLE_CHARS),
                description: truncate_chars(&description, MAX_DESCRIPTION_CHARS),
                color: match data.status {
                    Status::Firing => COLOR_FIRING,
                    Status::Resolved => COLOR_RESOLVED,
                },
            }],
        };
        let headers = self
            .http_config
            .authorization_header()
            .map(|value| ("Authorization".to_owned(), value))
            .into_iter()
            .collect();
        let request = DeliveryRequest::Http(HttpRequest {
            url: self.webhook_url.expose().to_owned(),
            headers,
            body: to_json(&message)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(
            &data,
            redact_url(self.webhook_url.expose()),
            request,
        )))
    }
}
