//! The receiver defaults of alertmanager.yml's `global:` block, filled
//! into receivers that leave them out (as Alertmanager does when it loads
//! its config), and the sealed secrets of persisted configs.

use serde::Deserialize;

use super::http_config::HttpClientConfig;
use super::pagerduty::DEFAULT_URL as PAGERDUTY_URL;
use super::ReceiverConfig;
use crate::secrets::{is_sealed_text, Secret, SecretError, SecretKey};

/// The receiver-related part of `global:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReceiverDefaults {
    #[serde(default)]
    pub smtp_from: Option<String>,
    #[serde(default)]
    pub smtp_smarthost: Option<String>,
    #[serde(default)]
    pub smtp_hello: Option<String>,
    #[serde(default)]
    pub smtp_auth_username: Option<String>,
    #[serde(default)]
    pub smtp_auth_password: Option<Secret>,
    #[serde(default)]
    pub smtp_auth_identity: Option<String>,
    #[serde(default = "super::default_true")]
    pub smtp_require_tls: bool,
    #[serde(default)]
    pub slack_api_url: Option<Secret>,
    #[serde(default)]
    pub pagerduty_url: Option<String>,
    #[serde(default)]
    pub http_config: Option<HttpClientConfig>,
}

impl Default for ReceiverDefaults {
    fn default() -> ReceiverDefaults {
        ReceiverDefaults {
            smtp_from: None,
            smtp_smarthost: None,
            smtp_hello: None,
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_auth_identity: None,
            smtp_require_tls: true,
            slack_api_url: None,
            pagerduty_url: None,
            http_config: None,
        }
    }
}

impl ReceiverConfig {
    /// Fills what the receiver's integrations leave unset from `global`.
    pub fn apply_defaults(&mut self, global: &ReceiverDefaults) {
        for email in &mut self.email_configs {
            fill(&mut email.from, &global.smtp_from);
            fill(&mut email.smarthost, &global.smtp_smarthost);
            fill(&mut email.hello, &global.smtp_hello);
            if email.auth_username.is_none() {
                email.auth_username = global.smtp_auth_username.clone();
                fill(&mut email.auth_password, &global.smtp_auth_password);
                fill(&mut email.auth_identity, &global.smtp_auth_identity);
            }
            email.require_tls.get_or_insert(global.smtp_require_tls);
        }
        for slack in &mut self.slack_configs {
            fill(&mut slack.api_url, &global.slack_api_url);
        }
        if let Some(url) = &global.pagerduty_url {
            for pagerduty in &mut self.pagerduty_configs {
                if pagerduty.url == PAGERDUTY_URL {
                    pagerduty.url = url.clone();
                }
            }
        }
        if let Some(http) = &global.http_config {
            let default = HttpClientConfig::default();
            let configs = self
                .webhook_configs
                .iter_mut()
                .map(|c| &mut c.http_config)
                .chain(self.slack_configs.iter_mut().map(|c| &mut c.http_config))
                .chain(self.discord_configs.iter_mut().map(|c| &mut c.http_config))
                .chain(
                    self.pagerduty_configs
                        .iter_mut()
                        .map(|c| &mut c.http_config),
                );
            for config in configs {
                if *config == default {
                    *config = http.clone();
                }
            }
        }
    }

    /// Calls `f` on every secret of the receiver.
    pub fn for_each_secret_mut(&mut self, mut f: impl FnMut(&mut Secret)) {
        let http = |config: &mut HttpClientConfig, f: &mut dyn FnMut(&mut Secret)| {
            if let Some(basic) = &mut config.basic_auth {
                basic.password.iter_mut().for_each(&mut *f);
            }
            if let Some(auth) = &mut config.authorization {
                auth.credentials.iter_mut().for_each(&mut *f);
            }
            config.bearer_token.iter_mut().for_each(f);
        };
        for c in &mut self.webhook_configs {
            f(&mut c.url);
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.slack_configs {
            c.api_url.iter_mut().for_each(&mut f);
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.discord_configs {
            f(&mut c.webhook_url);
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.pagerduty_configs {
            c.routing_key.iter_mut().for_each(&mut f);
            c.service_key.iter_mut().for_each(&mut f);
            http(&mut c.http_config, &mut f);
        }
        for c in &mut self.email_configs {
            c.auth_password.iter_mut().for_each(&mut f);
        }
    }

    /// Opens every secret written sealed (`enc:v1:...`), as a persisted
    /// config stores them; secrets written in the clear stay as they are.
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

    /// Seals every secret in place (`enc:v1:...`), for writing the config
    /// to disk or a database.
    pub fn seal_secrets(&mut self, key: &SecretKey) -> Result<(), SecretError> {
        let mut result = Ok(());
        self.for_each_secret_mut(|secret| {
            if result.is_ok() && !is_sealed_text(secret.expose()) {
                match key.seal_text(secret) {
                    Ok(sealed) => *secret = Secret::new(sealed),
                    Err(e) => result = Err(e),
                }
            }
        });
        result
    }
}

fn fill<T: Clone>(field: &mut Option<T>, default: &Option<T>) {
    if field.is_none() {
        field.clone_from(default);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_fill_what_receivers_leave_out() {
        let global: ReceiverDefaults = serde_yaml::from_str(
            "smtp_from: am@example.com\nsmtp_smarthost: mail:587\nsmtp_auth_username: u\nsmtp_auth_password: p\nslack_api_url: https://hooks.slack.com/x\npagerduty_url: http://pd.local/enqueue",
        )
        .unwrap();
        let mut receiver: ReceiverConfig = serde_yaml::from_str(
            "name: r\nemail_configs: [{to: a@b.c}, {to: d@e.f, from: own@x.y, require_tls: false}]\nslack_configs: [{channel: c}]\npagerduty_configs: [{routing_key: k}]",
        )
        .unwrap();
        receiver.apply_defaults(&global);
        let first = &receiver.email_configs[0];
        assert_eq!(first.from.as_deref(), Some("am@example.com"));
        assert_eq!(first.smarthost.as_deref(), Some("mail:587"));
        assert_eq!(first.auth_password.as_ref().unwrap().expose(), "p");
        assert_eq!(first.require_tls, Some(true));
        let second = &receiver.email_configs[1];
        assert_eq!(second.from.as_deref(), Some("own@x.y"));
        assert_eq!(second.require_tls, Some(false));
        assert_eq!(
            receiver.slack_configs[0].api_url.as_ref().unwrap().expose(),
            "https://hooks.slack.com/x"
        );
        assert_eq!(receiver.pagerduty_configs[0].url, "http://pd.local/enqueue");
    }

    #[test]
    fn secrets_seal_and_open_in_place() {
        let key = SecretKey::generate().unwrap();
        let mut receiver: ReceiverConfig = serde_yaml::from_str(
            "name: r\nwebhook_configs: [{url: 'http://h/tok', http_config: {basic_auth: {username: u, password: pw}}}]\npagerduty_configs: [{routing_key: rk}]\nemail_configs: [{to: a@b.c, auth_password: mailpw}]",
        )
        .unwrap();
        let original = receiver.clone();
        receiver.seal_secrets(&key).unwrap();
        let mut count = 0;
        receiver.for_each_secret_mut(|s| {
            assert!(is_sealed_text(s.expose()));
            count += 1;
        });
        assert_eq!(count, 4);
        assert_ne!(receiver, original);
        receiver.open_sealed_secrets(&key).unwrap();
        assert_eq!(receiver, original);
        let mut sealed = original.clone();
        sealed.seal_secrets(&key).unwrap();
        assert!(sealed
            .open_sealed_secrets(&SecretKey::generate().unwrap())
            .is_err());
    }
}
