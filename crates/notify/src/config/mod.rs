//! The alertmanager.yml schema, as found under the `alertmanager:` key of
//! agentmon.yml, parsed and validated as strictly as Alertmanager 0.25
//! does (<https://prometheus.io/docs/alerting/0.25/configuration/>).
//!
//! [`AlertmanagerConfig::from_yaml`] (or [`AlertmanagerConfig::from_value`]
//! for an already parsed YAML value) refuses unknown keys, duplicate
//! receiver and time-interval names, receivers or time intervals used but
//! not defined, a root route without a receiver or with matchers, invalid
//! label names and regexes, and integrations missing what they need; the
//! messages are Alertmanager's. On success every default is filled in:
//! the route tree is compiled with inherited options ([`Route`]), inhibit
//! rules are compiled ([`InhibitRule`]), and receivers have their global
//! fallbacks (SMTP, Slack API URL, PagerDuty URL) applied.

mod common;
mod global;
mod receivers;
mod redact;
mod route;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;

pub use common::{
    check_url, inline_or_file, is_label_name, read_secret_file, Authorization, BasicAuth, HostPort,
    HttpConfig, SecretUrl, TlsConfig, YamlDuration, YamlUrl,
};
pub use global::{GlobalConfig, DEFAULT_PAGERDUTY_URL};
pub(crate) use receivers::{template, PAGERDUTY_DEFAULT_DETAILS};
pub use receivers::{
    DiscordConfig, EmailConfig, PagerdutyConfig, PagerdutyImage, PagerdutyLink, ReceiverConfig,
    SlackAction, SlackConfig, SlackConfirm, SlackField, WebhookConfig,
};
pub use route::{InhibitRuleConfig, MatcherList, RouteConfig};

use crate::inhibit::InhibitRule;
use crate::route::Route;
use crate::timeinterval::NamedTimeInterval;
use crate::NotifyError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    global: Option<GlobalConfig>,
    route: Option<RouteConfig>,
    #[serde(default)]
    receivers: Vec<ReceiverConfig>,
    #[serde(default)]
    inhibit_rules: Vec<InhibitRuleConfig>,
    #[serde(default)]
    mute_time_intervals: Vec<NamedTimeInterval>,
    #[serde(default)]
    time_intervals: Vec<NamedTimeInterval>,
    #[serde(default)]
    templates: Vec<String>,
}

/// A route agentmon adds beside the configured tree (see
/// [`AlertmanagerConfig::with_sidecar_routes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarRoute {
    /// The label and value the route matches.
    pub label: String,
    pub value: String,
    /// The receiver's name: a new one when `webhook_url` is set, else an
    /// existing one.
    pub receiver: String,
    pub webhook_url: Option<String>,
}

/// A validated alertmanager configuration.
#[derive(Debug, Clone)]
pub struct AlertmanagerConfig {
    pub global: GlobalConfig,
    /// The route tree as written.
    pub route_config: RouteConfig,
    /// The compiled route tree.
    pub route: Arc<Route>,
    pub receivers: Vec<ReceiverConfig>,
    pub inhibit_rules: Vec<InhibitRule>,
    /// `time_intervals` and `mute_time_intervals` together, by name.
    pub time_intervals: BTreeMap<String, NamedTimeInterval>,
    /// Template file globs, as written (relative to the config file).
    pub templates: Vec<String>,
    /// The configuration as YAML with secrets replaced by `<secret>`
    /// (`/api/v2/status`'s `config.original`).
    pub original: String,
}

fn invalid(message: impl Into<String>) -> NotifyError {
    NotifyError::Config(message.into())
}

impl AlertmanagerConfig {
    /// Parses and validates alertmanager.yml text.
    pub fn from_yaml(text: &str) -> Result<AlertmanagerConfig, NotifyError> {
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        AlertmanagerConfig::from_value(value)
    }

    /// Validates an already parsed YAML value (the `alertmanager:` key of
    /// agentmon.yml). A null value (an empty `alertmanager:` key) is an
    /// empty configuration, which is refused for lack of a route.
    pub fn from_value(value: serde_yaml::Value) -> Result<AlertmanagerConfig, NotifyError> {
        let value = match value {
            serde_yaml::Value::Null => serde_yaml::Value::Mapping(Default::default()),
            other => other,
        };
        let mut shown = value.clone();
        redact::redact(&mut shown);
        let original = serde_yaml::to_string(&shown).map_err(|e| invalid(e.to_string()))?;
        let raw: RawConfig = serde_yaml::from_value(value).map_err(|e| invalid(e.to_string()))?;
        AlertmanagerConfig::validate(raw, original)
    }

    /// The receiver with this name.
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// This configuration with `routes` added as sidecars of the root
    /// route: each one matches `label="value"` and delivers to its receiver
    /// in addition to whatever the configured tree does with the alert.
    /// A route with a webhook URL gets a new receiver of that name
    /// (webhook payload v4, resolved notifications sent); one without must
    /// name an existing receiver. `original` (shown by `/api/v2/status`)
    /// stays the configuration as written.
    pub fn with_sidecar_routes(
        &self,
        routes: &[SidecarRoute],
    ) -> Result<AlertmanagerConfig, NotifyError> {
        let mut config = self.clone();
        for sidecar in routes {
            if let Some(url) = &sidecar.webhook_url {
                if config.receiver(&sidecar.receiver).is_some() {
                    return Err(invalid(format!(
                        "receiver {:?} already exists",
                        sidecar.receiver
                    )));
                }
                check_url(url).map_err(|e| invalid(format!("webhook URL: {e}")))?;
                let mut receiver = ReceiverConfig {
                    name: sidecar.receiver.clone(),
                    webhook_configs: vec![WebhookConfig {
                        send_resolved: true,
                        http_config: HttpConfig::default(),
                        url: Some(SecretUrl(crate::secrets::Secret::new(url.clone()))),
                        url_file: None,
                        max_alerts: 0,
                        timeout: None,
                    }],
                    ..ReceiverConfig::default()
                };
                receiver.validate().map_err(invalid)?;
                apply_globals(&mut receiver, &config.global)?;
                config.receivers.push(receiver);
            } else if config.receiver(&sidecar.receiver).is_none() {
                return Err(invalid(format!(
                    "unknown receiver {:?}: not in the alertmanager configuration",
                    sidecar.receiver
                )));
            }
            config.route_config.routes.push(RouteConfig {
                receiver: Some(sidecar.receiver.clone()),
                match_eq: BTreeMap::from([(sidecar.label.clone(), sidecar.value.clone())]),
                sidecar: true,
                ..RouteConfig::default()
            });
        }
        let route = Route::build(&config.route_config).map_err(invalid)?;
        config.route = Arc::new(route);
        Ok(config)
    }

    fn validate(raw: RawConfig, original: String) -> Result<AlertmanagerConfig, NotifyError> {
        let mut global = raw.global.unwrap_or_default();
        global.http_config.validate().map_err(invalid)?;
        if global.slack_api_url.is_some() && global.slack_api_url_file.is_some() {
            return Err(invalid(
                "at most one of slack_api_url & slack_api_url_file must be configured",
            ));
        }
        let mut receivers = raw.receivers;
        let mut names = HashSet::new();
        for receiver in &mut receivers {
            receiver.validate().map_err(invalid)?;
            if !names.insert(receiver.name.clone()) {
                return Err(invalid(format!(
                    "notification config name {:?} is not unique",
                    receiver.name
                )));
            }
            apply_globals(receiver, &global)?;
        }
        let Some(route_config) = raw.route else {
            return Err(invalid("no routes provided"));
        };
        if route_config.receiver.as_deref().unwrap_or("").is_empty() {
            return Err(invalid("root route must specify a default receiver"));
        }
        if route_config.has_matchers() {
            return Err(invalid("root route must not have any matchers"));
        }
        if !route_config.mute_time_intervals.is_empty() {
            return Err(invalid("root route must not have any mute time intervals"));
        }
        if !route_config.active_time_intervals.is_empty() {
            return Err(invalid(
                "root route must not have any active time intervals",
            ));
        }
        let route = Route::build(&route_config).map_err(invalid)?;
        check_receivers(&route, &names)?;
        let mut time_intervals = BTreeMap::new();
        for interval in raw.mute_time_intervals {
            if time_intervals.contains_key(&interval.name) {
                return Err(invalid(format!(
                    "mute time interval {:?} is not unique",
                    interval.name
                )));
            }
            time_intervals.insert(interval.name.clone(), interval);
        }
        for interval in raw.time_intervals {
            if time_intervals.contains_key(&interval.name) {
                return Err(invalid(format!(
                    "time interval {:?} is not unique",
                    interval.name
                )));
            }
            time_intervals.insert(interval.name.clone(), interval);
        }
        check_time_intervals(&route, &time_intervals)?;
        let inhibit_rules = raw
            .inhibit_rules
            .iter()
            .map(InhibitRule::build)
            .collect::<Result<Vec<_>, String>>()
            .map_err(invalid)?;
        Ok(AlertmanagerConfig {
            global,
            route_config,
            route: Arc::new(route),
            receivers,
            inhibit_rules,
            time_intervals,
            templates: raw.templates,
            original,
        })
    }
}

/// Fills the integrations' global fallbacks, as Alertmanager's
/// `Config.UnmarshalYAML` does. An integration without its own
/// `http_config` takes `global.http_config`.
pub(crate) fn apply_globals(
    receiver: &mut ReceiverConfig,
    global: &GlobalConfig,
) -> Result<(), NotifyError> {
    let unset = HttpConfig::default();
    let http_configs = receiver
        .webhook_configs
        .iter_mut()
        .map(|c| &mut c.http_config)
        .chain(
            receiver
                .slack_configs
                .iter_mut()
                .map(|c| &mut c.http_config),
        )
        .chain(
            receiver
                .discord_configs
                .iter_mut()
                .map(|c| &mut c.http_config),
        )
        .chain(
            receiver
                .pagerduty_configs
                .iter_mut()
                .map(|c| &mut c.http_config),
        );
    for http in http_configs {
        if *http == unset {
            *http = global.http_config.clone();
        }
    }
    for email in &mut receiver.email_configs {
        if email.smarthost.is_none() {
            match &global.smtp_smarthost {
                Some(host) => email.smarthost = Some(host.clone()),
                None => return Err(invalid("no global SMTP smarthost set")),
            }
        }
        if email.from.is_empty() {
            if global.smtp_from.is_empty() {
                return Err(invalid("no global SMTP from set"));
            }
            email.from = global.smtp_from.clone();
        }
        if email.hello.is_empty() {
            email.hello = global.smtp_hello.clone();
        }
        if email.auth_username.is_empty() {
            email.auth_username = global.smtp_auth_username.clone();
        }
        if email.auth_password.is_empty() && email.auth_password_file.is_empty() {
            email.auth_password = global.smtp_auth_password.clone();
            email.auth_password_file = global.smtp_auth_password_file.clone();
        }
        if email.auth_secret.is_empty() {
            email.auth_secret = global.smtp_auth_secret.clone();
        }
        if email.auth_identity.is_empty() {
            email.auth_identity = global.smtp_auth_identity.clone();
        }
        if email.require_tls.is_none() {
            email.require_tls = Some(global.smtp_require_tls);
        }
    }
    for slack in &mut receiver.slack_configs {
        if slack.api_url.is_none() && slack.api_url_file.is_none() {
            if global.slack_api_url.is_none() && global.slack_api_url_file.is_none() {
                return Err(invalid(
                    "no global Slack API URL set either inline or in a file",
                ));
            }
            slack.api_url = global.slack_api_url.clone();
            slack.api_url_file = global.slack_api_url_file.clone();
        }
    }
    for pagerduty in &mut receiver.pagerduty_configs {
        if pagerduty.url.is_none() {
            pagerduty.url = Some(global.pagerduty_url.clone());
        }
    }
    Ok(())
}

fn check_receivers(route: &Route, names: &HashSet<String>) -> Result<(), NotifyError> {
    if !names.contains(&route.opts.receiver) {
        return Err(invalid(format!(
            "undefined receiver {:?} used in route",
            route.opts.receiver
        )));
    }
    route
        .routes
        .iter()
        .try_for_each(|child| check_receivers(child, names))
}

fn check_time_intervals(
    route: &Route,
    intervals: &BTreeMap<String, NamedTimeInterval>,
) -> Result<(), NotifyError> {
    for name in route
        .opts
        .mute_time_intervals
        .iter()
        .chain(&route.opts.active_time_intervals)
    {
        if !intervals.contains_key(name) {
            return Err(invalid(format!(
                "undefined time interval {name:?} used in route"
            )));
        }
    }
    route
        .routes
        .iter()
        .try_for_each(|child| check_time_intervals(child, intervals))
}

#[cfg(test)]
mod tests;
