//! `receivers`: a name and the integrations notifications go to, with
//! Alertmanager 0.25's field names and defaults
//! (<https://prometheus.io/docs/alerting/0.25/configuration/#receiver>).
//!
//! These structs are what the delivery side consumes. Defaults that come
//! from `global` (SMTP settings, `slack_api_url`, `pagerduty_url`) are
//! filled in by [`super::AlertmanagerConfig`] when the whole file is
//! validated, so after that the `Option`s that have a global fallback are
//! set. Template strings (`title`, `text`, ...) are kept as written; the
//! defaults name Alertmanager's default templates.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::common::{HostPort, HttpConfig, SecretUrl, TlsConfig, YamlDuration, YamlUrl};
use crate::secrets::{is_sealed_text, Secret, SecretError, SecretKey};

fn yes() -> bool {
    true
}

pub(crate) fn template(name: &str) -> String {
    format!("{{{{ template \"{name}\" . }}}}")
}

/// One `receivers` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    pub discord_configs: Vec<DiscordConfig>,
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    /// Integrations of Alertmanager that agentmon does not deliver to, kept
    /// so an alertmanager.yml loads unchanged; see
    /// [`ReceiverConfig::unsupported_integrations`].
    #[serde(default)]
    pub opsgenie_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub wechat_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub pushover_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub victorops_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub sns_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub telegram_configs: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub webex_configs: Vec<serde_yaml::Value>,
}

impl ReceiverConfig {
    /// The `*_configs` keys present that agentmon accepts but does not
    /// deliver to (the caller may warn about them).
    pub fn unsupported_integrations(&self) -> Vec<&'static str> {
        [
            ("opsgenie_configs", &self.opsgenie_configs),
            ("wechat_configs", &self.wechat_configs),
            ("pushover_configs", &self.pushover_configs),
            ("victorops_configs", &self.victorops_configs),
            ("sns_configs", &self.sns_configs),
            ("telegram_configs", &self.telegram_configs),
            ("webex_configs", &self.webex_configs),
        ]
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(name, _)| name)
        .collect()
    }

    /// Whether any integration of this receiver sends resolved
    /// notifications (the dispatcher's deduplication uses this).
    pub fn any_send_resolved(&self) -> bool {
        self.webhook_configs.iter().any(|c| c.send_resolved)
            || self.slack_configs.iter().any(|c| c.send_resolved)
            || self.discord_configs.iter().any(|c| c.send_resolved)
            || self.pagerduty_configs.iter().any(|c| c.send_resolved)
            || self.email_configs.iter().any(|c| c.send_resolved)
    }

    /// One receiver on its own, as a `receivers:` entry would be read in
    /// a whole configuration: validated, with `global`'s fallbacks.
    pub fn parse(
        value: serde_yaml::Value,
        global: &super::GlobalConfig,
    ) -> Result<ReceiverConfig, crate::NotifyError> {
        let mut receiver: ReceiverConfig =
            serde_yaml::from_value(value).map_err(|e| crate::NotifyError::Config(e.to_string()))?;
        receiver.validate().map_err(crate::NotifyError::Config)?;
        super::apply_globals(&mut receiver, global)?;
        Ok(receiver)
    }

    /// [`ReceiverConfig::parse`] of YAML text, with `global`'s defaults.
    pub fn from_yaml(text: &str) -> Result<ReceiverConfig, crate::NotifyError> {
        let value =
            serde_yaml::from_str(text).map_err(|e| crate::NotifyError::Config(e.to_string()))?;
        ReceiverConfig::parse(value, &super::GlobalConfig::default())
    }

    /// Calls `f` on every inline secret of the receiver.
    pub fn for_each_secret_mut(&mut self, mut f: impl FnMut(&mut Secret)) {
        let http = |config: &mut HttpConfig, f: &mut dyn FnMut(&mut Secret)| {
            if let Some(basic) = &mut config.basic_auth {
                f(&mut basic.password);
            }
            if let Some(auth) = &mut config.authorization {
                f(&mut auth.credentials);
            }
            config.bearer_token.iter_mut().for_each(f);
        };
        for c in &mut self.webhook_configs {
            c.url.iter_mut().for_each(|u| f(&mut u.0));
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.slack_configs {
            c.api_url.iter_mut().for_each(|u| f(&mut u.0));
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.discord_configs {
            c.webhook_url.iter_mut().for_each(|u| f(&mut u.0));
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.pagerduty_configs {
            f(&mut c.routing_key);
            f(&mut c.service_key);
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.email_configs {
            f(&mut c.auth_password);
            f(&mut c.auth_secret);
        }
    }

    /// Seals every non-empty secret in place (`enc:v1:...`), for writing
    /// the receiver to disk or a database.
    pub fn seal_secrets(&mut self, key: &SecretKey) -> Result<(), SecretError> {
        let mut result = Ok(());
        self.for_each_secret_mut(|secret| {
            if result.is_ok() && !secret.is_empty() && !is_sealed_text(secret.expose()) {
                match key.seal_text(secret) {
                    Ok(sealed) => *secret = Secret::new(sealed),
                    Err(e) => result = Err(e),
                }
            }
        });
        result
    }

    /// Opens every secret written sealed; secrets in the clear stay.
    pub fn open_sealed_secrets(&mut self, key: &SecretKey) -> Result<(), SecretError> {
        let mut result = Ok(());
        self.for_each_secret_mut(|secret| {
            if result.is_ok() && is_sealed_text(secret.expose()) {
                match key.open_text(secret.expose()) {
                    Ok(opened) => *secret = opened,
                    Err(e) => result = Err(e),
                }
            }
        });
        result
    }

    /// Checks each integration on its own (global defaults come later).
    pub(super) fn validate(&mut self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("missing name in receiver".to_owned());
        }
        for c in &mut self.webhook_configs {
            c.validate()?;
        }
        for c in &mut self.slack_configs {
            c.validate()?;
        }
        for c in &mut self.discord_configs {
            c.validate()?;
        }
        for c in &mut self.pagerduty_configs {
            c.validate()?;
        }
        for c in &mut self.email_configs {
            c.validate()?;
        }
        Ok(())
    }
}

/// `webhook_configs`: POSTs Alertmanager's webhook payload (version 4).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Defaults to true.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    #[serde(default)]
    pub http_config: HttpConfig,
    /// A secret: such URLs often carry a token.
    pub url: Option<SecretUrl>,
    pub url_file: Option<String>,
    /// At most this many alerts per payload; 0 means all.
    #[serde(default)]
    pub max_alerts: u64,
    /// Per-request timeout; `None` means no timeout of its own.
    #[serde(default, deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<YamlDuration>::deserialize(d)?.map(|d| d.0))
}

impl WebhookConfig {
    fn validate(&mut self) -> Result<(), String> {
        match (&self.url, &self.url_file) {
            // Alertmanager 0.25's words (it has no `url_file` yet).
            (None, None) => return Err("missing URL in webhook config".to_owned()),
            (Some(_), Some(_)) => {
                return Err("at most one of url & url_file must be configured".to_owned())
            }
            _ => {}
        }
        self.http_config.validate()
    }
}

/// A `fields` entry of a Slack attachment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackField {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub value: String,
    pub short: Option<bool>,
}

/// An `actions` entry of a Slack attachment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAction {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub style: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    pub confirm: Option<SlackConfirm>,
}

/// The `confirm` dialog of a Slack action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfirm {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub ok_text: String,
    #[serde(default)]
    pub dismiss_text: String,
}

impl SlackConfig {
    /// Alertmanager's checks of `fields` and `actions` (its messages); an
    /// action with a `url` drops its `name`, as Alertmanager does.
    fn validate(&mut self) -> Result<(), String> {
        for field in &self.fields {
            if field.title.is_empty() {
                return Err("missing title in Slack field configuration".to_owned());
            }
            if field.value.is_empty() {
                return Err("missing value in Slack field configuration".to_owned());
            }
        }
        for action in &mut self.actions {
            if action.kind.is_empty() {
                return Err("missing type in Slack action configuration".to_owned());
            }
            if action.text.is_empty() {
                return Err("missing text in Slack action configuration".to_owned());
            }
            if !action.url.is_empty() {
                action.name.clear();
            } else if action.name.is_empty() {
                return Err("missing name or url in Slack action configuration".to_owned());
            }
            if action.confirm.as_ref().is_some_and(|c| c.text.is_empty()) {
                return Err("missing text in Slack confirmation configuration".to_owned());
            }
        }
        self.http_config.validate()
    }
}

/// `slack_configs`: an incoming-webhook message with one attachment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Defaults to false.
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    /// Falls back to `global.slack_api_url`.
    pub api_url: Option<SecretUrl>,
    pub api_url_file: Option<String>,
    pub channel: String,
    pub username: String,
    pub color: String,
    pub title: String,
    pub title_link: String,
    pub pretext: String,
    pub text: String,
    pub fields: Vec<SlackField>,
    pub short_fields: bool,
    pub footer: String,
    pub fallback: String,
    pub callback_id: String,
    pub icon_emoji: String,
    pub icon_url: String,
    pub image_url: String,
    pub thumb_url: String,
    pub link_names: bool,
    pub mrkdwn_in: Vec<String>,
    pub actions: Vec<SlackAction>,
}

impl Default for SlackConfig {
    fn default() -> SlackConfig {
        SlackConfig {
            send_resolved: false,
            http_config: HttpConfig::default(),
            api_url: None,
            api_url_file: None,
            channel: String::new(),
            username: template("slack.default.username"),
            color: "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}".to_owned(),
            title: template("slack.default.title"),
            title_link: template("slack.default.titlelink"),
            pretext: template("slack.default.pretext"),
            text: template("slack.default.text"),
            fields: Vec::new(),
            short_fields: false,
            footer: template("slack.default.footer"),
            fallback: template("slack.default.fallback"),
            callback_id: template("slack.default.callbackid"),
            icon_emoji: template("slack.default.iconemoji"),
            icon_url: template("slack.default.iconurl"),
            image_url: String::new(),
            thumb_url: String::new(),
            link_names: false,
            mrkdwn_in: Vec::new(),
            actions: Vec::new(),
        }
    }
}

/// `discord_configs`: a Discord webhook message with one embed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// Defaults to true.
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    pub webhook_url: Option<SecretUrl>,
    pub webhook_url_file: Option<String>,
    pub title: String,
    pub message: String,
}

impl Default for DiscordConfig {
    fn default() -> DiscordConfig {
        DiscordConfig {
            send_resolved: true,
            http_config: HttpConfig::default(),
            webhook_url: None,
            webhook_url_file: None,
            title: template("discord.default.title"),
            message: template("discord.default.message"),
        }
    }
}

impl DiscordConfig {
    fn validate(&mut self) -> Result<(), String> {
        match (&self.webhook_url, &self.webhook_url_file) {
            (None, None) => return Err("no discord webhook URL provided".into()),
            (Some(_), Some(_)) => {
                return Err(
                    "at most one of webhook_url & webhook_url_file must be configured".into(),
                )
            }
            _ => {}
        }
        self.http_config.validate()
    }
}

/// An `images` entry of a PagerDuty event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyImage {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default)]
    pub href: String,
}

/// A `links` entry of a PagerDuty event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyLink {
    #[serde(default)]
    pub href: String,
    #[serde(default)]
    pub text: String,
}

/// `pagerduty_configs`: Events API v2 with `routing_key`, or v1 with the
/// older `service_key`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerdutyConfig {
    /// Defaults to true.
    pub send_resolved: bool,
    pub http_config: HttpConfig,
    pub routing_key: Secret,
    pub routing_key_file: String,
    pub service_key: Secret,
    pub service_key_file: String,
    /// Falls back to `global.pagerduty_url`.
    pub url: Option<YamlUrl>,
    pub client: String,
    pub client_url: String,
    pub description: String,
    /// Always holds `firing`, `resolved`, `num_firing` and `num_resolved`
    /// (Alertmanager's default details) unless the user set them.
    pub details: BTreeMap<String, String>,
    pub images: Vec<PagerdutyImage>,
    pub links: Vec<PagerdutyLink>,
    pub source: String,
    /// Empty means `error` when sending, as Alertmanager does.
    pub severity: String,
    pub class: String,
    pub component: String,
    pub group: String,
}

impl Default for PagerdutyConfig {
    fn default() -> PagerdutyConfig {
        PagerdutyConfig {
            send_resolved: true,
            http_config: HttpConfig::default(),
            routing_key: Secret::default(),
            routing_key_file: String::new(),
            service_key: Secret::default(),
            service_key_file: String::new(),
            url: None,
            client: template("pagerduty.default.client"),
            client_url: template("pagerduty.default.clientURL"),
            description: template("pagerduty.default.description"),
            details: BTreeMap::new(),
            images: Vec::new(),
            links: Vec::new(),
            source: String::new(),
            severity: String::new(),
            class: String::new(),
            component: String::new(),
            group: String::new(),
        }
    }
}

impl PagerdutyConfig {
    fn validate(&mut self) -> Result<(), String> {
        if self.routing_key.is_empty()
            && self.service_key.is_empty()
            && self.routing_key_file.is_empty()
            && self.service_key_file.is_empty()
        {
            return Err("missing service or routing key in PagerDuty config".to_owned());
        }
        if !self.routing_key.is_empty() && !self.routing_key_file.is_empty() {
            return Err("at most one of routing_key & routing_key_file must be configured".into());
        }
        if !self.service_key.is_empty() && !self.service_key_file.is_empty() {
            return Err("at most one of service_key & service_key_file must be configured".into());
        }
        for (key, value) in PAGERDUTY_DEFAULT_DETAILS {
            self.details
                .entry(key.to_owned())
                .or_insert_with(|| value.to_owned());
        }
        self.http_config.validate()
    }
}

/// Alertmanager's default PagerDuty `details`, filled into every config.
pub(crate) const PAGERDUTY_DEFAULT_DETAILS: [(&str, &str); 4] = [
    (
        "firing",
        "{{ template \"pagerduty.default.instances\" .Alerts.Firing }}",
    ),
    (
        "resolved",
        "{{ template \"pagerduty.default.instances\" .Alerts.Resolved }}",
    ),
    ("num_firing", "{{ .Alerts.Firing | len }}"),
    ("num_resolved", "{{ .Alerts.Resolved | len }}"),
];

/// `email_configs`: one message per notification over SMTP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Defaults to false.
    pub send_resolved: bool,
    pub to: String,
    /// Falls back to `global.smtp_from`.
    pub from: String,
    /// Falls back to `global.smtp_hello` (`localhost`).
    pub hello: String,
    /// Falls back to `global.smtp_smarthost`.
    #[serde(deserialize_with = "super::common::optional_host_port")]
    pub smarthost: Option<HostPort>,
    pub auth_username: String,
    pub auth_password: Secret,
    pub auth_password_file: String,
    pub auth_secret: Secret,
    pub auth_identity: String,
    /// Header names normalised to title case (`Subject`, `To`, ...);
    /// `Subject` defaults to Alertmanager's subject template.
    pub headers: BTreeMap<String, String>,
    pub html: String,
    pub text: String,
    /// Falls back to `global.smtp_require_tls` (true).
    pub require_tls: Option<bool>,
    pub tls_config: TlsConfig,
}

impl Default for EmailConfig {
    fn default() -> EmailConfig {
        EmailConfig {
            send_resolved: false,
            to: String::new(),
            from: String::new(),
            hello: String::new(),
            smarthost: None,
            auth_username: String::new(),
            auth_password: Secret::default(),
            auth_password_file: String::new(),
            auth_secret: Secret::default(),
            auth_identity: String::new(),
            headers: BTreeMap::new(),
            html: template("email.default.html"),
            text: String::new(),
            require_tls: None,
            tls_config: TlsConfig::default(),
        }
    }
}

/// Go's `strings.Title` on a header name: upper-cases the first letter of
/// each word (words split at non-letters), leaves the rest.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut at_start = true;
    for c in name.chars() {
        if at_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

impl EmailConfig {
    fn validate(&mut self) -> Result<(), String> {
        if self.to.is_empty() {
            return Err("missing to address in email config".to_owned());
        }
        let mut normalized = BTreeMap::new();
        for (name, value) in std::mem::take(&mut self.headers) {
            let key = title_case(&name);
            if normalized.insert(key.clone(), value).is_some() {
                return Err(format!("duplicate header {key:?} in email config"));
            }
        }
        normalized
            .entry("Subject".to_owned())
            .or_insert_with(|| template("email.default.subject"));
        self.headers = normalized;
        Ok(())
    }
}
