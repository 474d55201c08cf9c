//! The `global` section: defaults for every receiver and the resolve
//! timeout of alerts sent without an end time.

use std::time::Duration;

use serde::Deserialize;

use super::common::{HostPort, HttpConfig, SecretUrl, YamlDuration, YamlUrl};
use crate::secrets::Secret;

/// PagerDuty's Events API v2 endpoint, Alertmanager's default.
pub const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn default_resolve_timeout() -> YamlDuration {
    YamlDuration(Duration::from_secs(300))
}

fn default_hello() -> String {
    "localhost".to_owned()
}

fn yes() -> bool {
    true
}

fn default_pagerduty_url() -> YamlUrl {
    YamlUrl(DEFAULT_PAGERDUTY_URL.to_owned())
}

/// `global`, with Alertmanager's defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long an alert without `endsAt` stays firing after its last
    /// update (5m).
    #[serde(default = "default_resolve_timeout")]
    pub resolve_timeout: YamlDuration,
    #[serde(default)]
    pub http_config: HttpConfig,
    #[serde(default)]
    pub smtp_from: String,
    #[serde(default = "default_hello")]
    pub smtp_hello: String,
    /// An empty string counts as unset, as in Alertmanager.
    #[serde(default, deserialize_with = "super::common::optional_host_port")]
    pub smtp_smarthost: Option<HostPort>,
    #[serde(default)]
    pub smtp_auth_username: String,
    #[serde(default)]
    pub smtp_auth_password: Secret,
    #[serde(default)]
    pub smtp_auth_password_file: String,
    #[serde(default)]
    pub smtp_auth_secret: Secret,
    #[serde(default)]
    pub smtp_auth_identity: String,
    #[serde(default = "yes")]
    pub smtp_require_tls: bool,
    pub slack_api_url: Option<SecretUrl>,
    pub slack_api_url_file: Option<String>,
    #[serde(default = "default_pagerduty_url")]
    pub pagerduty_url: YamlUrl,
    /// Settings of integrations agentmon does not deliver to; accepted so
    /// an alertmanager.yml loads unchanged.
    pub opsgenie_api_url: Option<YamlUrl>,
    pub opsgenie_api_key: Option<String>,
    pub opsgenie_api_key_file: Option<String>,
    pub wechat_api_url: Option<YamlUrl>,
    pub wechat_api_secret: Option<String>,
    pub wechat_api_corp_id: Option<String>,
    pub victorops_api_url: Option<YamlUrl>,
    pub victorops_api_key: Option<String>,
    pub victorops_api_key_file: Option<String>,
    pub telegram_api_url: Option<YamlUrl>,
    pub webex_api_url: Option<YamlUrl>,
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        // An empty mapping yields every serde default above.
        serde_yaml::from_str("{}").expect("the empty mapping takes every default")
    }
}
