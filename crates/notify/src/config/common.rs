//! Value types shared by the configuration sections: durations, URLs,
//! `host:port` addresses, label-name checks and the `http_config` block
//! (prometheus/common's `HTTPClientConfig`, the commonly used part).

use std::time::Duration;

use agentmon_model::duration;
use serde::{Deserialize, Deserializer};

use crate::secrets::Secret;

/// A Prometheus duration string (`30s`, `4h`) in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlDuration(pub Duration);

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<YamlDuration, D::Error> {
        let text = String::deserialize(d)?;
        duration::parse(&text)
            .map(YamlDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// Checks a URL as Alertmanager's `URL` type does: scheme http or https
/// and a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => match url.split_once(':') {
            Some((scheme, _)) if !scheme.contains('/') => (scheme, ""),
            _ => ("", ""),
        },
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if host.is_empty() {
        return Err("missing host for URL".to_owned());
    }
    Ok(())
}

/// A URL field: refuses what Alertmanager's config loader refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlUrl(pub String);

impl<'de> Deserialize<'de> for YamlUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<YamlUrl, D::Error> {
        let text = String::deserialize(d)?;
        check_url(&text).map_err(serde::de::Error::custom)?;
        Ok(YamlUrl(text))
    }
}

/// A URL that is a credential (webhook URLs carry tokens): checked like
/// [`YamlUrl`], held as a [`Secret`] so that it never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUrl(pub Secret);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretUrl, D::Error> {
        let text = String::deserialize(d)?;
        check_url(&text).map_err(serde::de::Error::custom)?;
        Ok(SecretUrl(Secret::new(text)))
    }
}

/// Reads a `*_file` secret (trailing newline dropped), as Alertmanager
/// does when it sends; `field` names the key in the error.
pub fn read_secret_file(path: &str, field: &str) -> Result<Secret, String> {
    std::fs::read_to_string(path)
        .map(|text| Secret::new(text.trim_end_matches(['\n', '\r'])))
        .map_err(|e| format!("{field} {path:?}: {e}"))
}

/// The value of a secret given inline or as `*_file` (inline first);
/// `None` when neither is set.
pub fn inline_or_file(
    inline: Option<&Secret>,
    file: Option<&str>,
    field: &str,
) -> Result<Option<Secret>, String> {
    match (
        inline.filter(|s| !s.is_empty()),
        file.filter(|f| !f.is_empty()),
    ) {
        (Some(secret), _) => Ok(Some(secret.clone())),
        (None, Some(path)) => read_secret_file(path, &format!("{field}_file")).map(Some),
        (None, None) => Ok(None),
    }
}

/// A `host:port` address (`smarthost`), split as Go's `net.SplitHostPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: String,
}

impl HostPort {
    /// Parses `host:port` or `[v6]:port`.
    pub fn parse(text: &str) -> Result<HostPort, String> {
        let missing = || format!("address {text}: missing port in address");
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("address {text}: missing ']' in address"))?;
            (host, after.strip_prefix(':').ok_or_else(missing)?)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(missing)?;
            if host.contains(':') {
                return Err(format!("address {text}: too many colons in address"));
            }
            (host, port)
        };
        if port.is_empty() {
            return Err(format!("address {text:?}: port cannot be empty"));
        }
        Ok(HostPort {
            host: host.to_owned(),
            port: port.to_owned(),
        })
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HostPort, D::Error> {
        let text = String::deserialize(d)?;
        HostPort::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An optional `host:port` where the empty string means unset.
pub(super) fn optional_host_port<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<HostPort>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => HostPort::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn yes() -> bool {
    true
}

/// `basic_auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_file: String,
}

/// `authorization`: sent as `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Defaults to `Bearer`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub credentials: Secret,
    #[serde(default)]
    pub credentials_file: String,
}

/// `tls_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    pub min_version: String,
}

/// `http_config` of a receiver or of `global`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<String>,
    pub proxy_url: Option<YamlUrl>,
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Defaults to true.
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Defaults to true.
    #[serde(default = "yes")]
    pub enable_http2: bool,
    /// Accepted, not used by agentmon's HTTP client (documented).
    pub oauth2: Option<serde_yaml::Value>,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            proxy_url: None,
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            oauth2: None,
        }
    }
}

impl HttpConfig {
    /// prometheus/common's `HTTPClientConfig.Validate`, the checks that
    /// apply to the fields kept here. Fills the default authorization type.
    pub fn validate(&mut self) -> Result<(), String> {
        let token = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        let schemes = [
            self.basic_auth.is_some(),
            self.oauth2.is_some(),
            token,
            self.authorization.is_some(),
        ];
        if schemes.iter().filter(|&&s| s).count() > 1 {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
        if let Some(basic) = &self.basic_auth {
            if !basic.password.is_empty() && !basic.password_file.is_empty() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured".into(),
                );
            }
        }
        if let Some(auth) = &mut self.authorization {
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if !auth.credentials.is_empty() && !auth.credentials_file.is_empty() {
                return Err(
                    "at most one of authorization credentials & credentials_file must be configured"
                        .into(),
                );
            }
            if auth.kind.is_empty() {
                auth.kind = "Bearer".to_owned();
            }
        }
        Ok(())
    }

    /// The `Authorization` header value this block asks for, if any
    /// (basic auth, `authorization`, or the older `bearer_token`), with
    /// `*_file` secrets read now.
    pub fn authorization_header(&self) -> Result<Option<String>, String> {
        use base64::Engine as _;
        if let Some(basic) = &self.basic_auth {
            let password = inline_or_file(
                Some(&basic.password),
                Some(&basic.password_file),
                "basic_auth password",
            )?
            .unwrap_or_default();
            let pair = format!("{}:{}", basic.username, password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            return Ok(Some(format!("Basic {encoded}")));
        }
        if let Some(auth) = &self.authorization {
            let credentials = inline_or_file(
                Some(&auth.credentials),
                Some(&auth.credentials_file),
                "authorization credentials",
            )?
            .unwrap_or_default();
            let scheme = if auth.kind.is_empty() {
                "Bearer"
            } else {
                &auth.kind
            };
            return Ok(Some(format!("{scheme} {}", credentials.expose())));
        }
        Ok(inline_or_file(
            self.bearer_token.as_ref(),
            self.bearer_token_file.as_deref(),
            "bearer_token",
        )?
        .map(|token| format!("Bearer {}", token.expose())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_addresses() {
        assert!(check_url("https://hooks.slack.com/x").is_ok());
        assert!(check_url("http://user:pw@127.0.0.1:9/x?y").is_ok());
        assert_eq!(
            check_url("ftp://x/").unwrap_err(),
            "unsupported scheme \"ftp\" for URL"
        );
        assert_eq!(
            check_url("foo").unwrap_err(),
            "unsupported scheme \"\" for URL"
        );
        assert_eq!(check_url("http:///x").unwrap_err(), "missing host for URL");
        let hp = HostPort::parse("smtp.example.org:587").expect("valid");
        assert_eq!(
            (hp.host.as_str(), hp.port.as_str()),
            ("smtp.example.org", "587")
        );
        assert_eq!(
            HostPort::parse("[::1]:25").expect("valid").to_string(),
            "[::1]:25"
        );
        assert_eq!(
            HostPort::parse("localhost").unwrap_err(),
            "address localhost: missing port in address"
        );
        assert!(HostPort::parse("localhost:").is_err());
    }

    #[test]
    fn http_config_checks() {
        let mut two: HttpConfig =
            serde_yaml::from_str("basic_auth: {username: a}\nbearer_token: b").expect("parses");
        assert!(two
            .validate()
            .unwrap_err()
            .starts_with("at most one of basic_auth"));
        let mut auth: HttpConfig =
            serde_yaml::from_str("authorization: {credentials: x}").expect("parses");
        auth.validate().expect("valid");
        assert_eq!(
            auth.authorization_header().expect("inline"),
            Some("Bearer x".to_owned())
        );
        assert_eq!(auth.authorization.expect("set").kind, "Bearer");
        assert!(auth.follow_redirects);
        let basic: HttpConfig =
            serde_yaml::from_str("basic_auth: {username: u, password: p}").expect("parses");
        assert_eq!(
            basic.authorization_header().expect("inline"),
            Some("Basic dTpw".to_owned())
        );
        assert!(!format!("{basic:?}").contains("\"p\""));
        let old: HttpConfig = serde_yaml::from_str("bearer_token: t2").expect("parses");
        assert_eq!(
            old.authorization_header().expect("inline"),
            Some("Bearer t2".to_owned())
        );
        let missing: HttpConfig =
            serde_yaml::from_str("bearer_token_file: /nonexistent/agentmon-token").expect("parses");
        assert!(missing
            .authorization_header()
            .unwrap_err()
            .starts_with("bearer_token_file \"/nonexistent/agentmon-token\""));
    }
}
