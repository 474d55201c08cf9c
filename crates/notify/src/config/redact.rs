//! Secrets taken out of the configuration before it is shown
//! (`/api/v2/status`'s `config.original`), as Alertmanager prints
//! `<secret>` for its secret fields.

use serde_yaml::Value;

/// Keys whose values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "smtp_auth_password",
    "smtp_auth_secret",
    "auth_password",
    "auth_secret",
    "password",
    "credentials",
    "bearer_token",
    "slack_api_url",
    "api_url",
    "webhook_url",
    "routing_key",
    "service_key",
    "opsgenie_api_key",
    "victorops_api_key",
    "wechat_api_secret",
    "bot_token",
    "token",
    "user_key",
];

/// Replaces secret values by `<secret>`; `url` counts as a secret inside
/// `webhook_configs` (it often carries a token).
pub fn redact(value: &mut Value) {
    redact_in(value, false);
}

fn redact_in(value: &mut Value, in_webhook: bool) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map.iter_mut() {
                let name = key.as_str().unwrap_or("");
                let secret = SECRET_KEYS.contains(&name) || (in_webhook && name == "url");
                if secret && !matches!(inner, Value::Null) {
                    *inner = Value::String("<secret>".to_owned());
                } else {
                    redact_in(inner, in_webhook || name == "webhook_configs");
                }
            }
        }
        Value::Sequence(list) => {
            for inner in list {
                redact_in(inner, in_webhook);
            }
        }
        _ => {}
    }
}
