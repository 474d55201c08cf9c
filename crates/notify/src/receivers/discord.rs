//! `discord_configs`: a Discord webhook message with one embed (title,
//! description, colour red while firing, green once resolved, as
//! Alertmanager 0.25 sends them), within Discord's limits of 256
//! characters of title and 4096 of description.
//! <https://prometheus.io/docs/alerting/latest/configuration/#discord_config>

use serde::{Deserialize, Serialize};

use super::render::{configured, default_text, default_title, render_or_default, Renderer};
use super::template_data::Status;
use super::{
    alerts_to_send, auth_headers, endpoint, to_json, Built, DeliveryRequest, HttpRequest,
    TemplateData,
};
use crate::config::DiscordConfig;
use crate::notification::Notification;
use crate::secrets::redact_url;

const MAX_TITLE_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Embed colours (RGB as an integer): firing, resolved.
pub const COLOR_FIRING: u32 = 0x992D22;
pub const COLOR_RESOLVED: u32 = 0x2ECC71;

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
        let url = endpoint(
            self.webhook_url.as_ref(),
            self.webhook_url_file.as_deref(),
            "webhook_url",
        )?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let defaults = DiscordConfig::default();
        let title = render_or_default(
            renderer,
            configured(renderer, &self.title, &defaults.title),
            &data,
            default_title,
        );
        let description = render_or_default(
            renderer,
            configured(renderer, &self.message, &defaults.message),
            &data,
            default_text,
        );
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
        let request = DeliveryRequest::Http(HttpRequest {
            url: url.expose().to_owned(),
            headers: auth_headers(&self.http_config)?,
            body: to_json(&message)?,
            timeout_ms: None,
        });
        Ok(Some(Built::new(&data, redact_url(url.expose()), request)))
    }
}
