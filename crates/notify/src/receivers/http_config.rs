//! The `http_config` block of HTTP receivers (Prometheus's common HTTP
//! client settings, the parts agentmon honours): basic auth, an
//! `Authorization` header, or a bearer token. Other keys of the block
//! (proxy, TLS, OAuth 2) are not read yet; redirects are followed (up to
//! 10), as Prometheus's default `follow_redirects: true` does. Passwords and credentials are
//! [`Secret`]s.

use serde::Deserialize;

use crate::secrets::Secret;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HttpClientConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// The older spelling of `authorization: {credentials: ...}`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BasicAuth {
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Authorization {
    /// The scheme; `Bearer` when left out.
    #[serde(default = "default_scheme", rename = "type")]
    pub scheme: String,
    #[serde(default)]
    pub credentials: Option<Secret>,
}

fn default_scheme() -> String {
    "Bearer".to_owned()
}

impl HttpClientConfig {
    /// The `Authorization` header value this config asks for, if any.
    pub fn authorization_header(&self) -> Option<String> {
        use base64::Engine as _;
        if let Some(basic) = &self.basic_auth {
            let password = basic.password.as_ref().map_or("", Secret::expose);
            let pair = format!("{}:{password}", basic.username);
            return Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ));
        }
        if let Some(auth) = &self.authorization {
            let credentials = auth.credentials.as_ref().map_or("", Secret::expose);
            return Some(format!("{} {credentials}", auth.scheme));
        }
        self.bearer_token
            .as_ref()
            .map(|token| format!("Bearer {}", token.expose()))
    }
}

/// Reads a Prometheus duration (`10s`, `1m30s`) as milliseconds.
pub(crate) fn deserialize_duration_ms<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.map(|t| agentmon_model::duration::parse_millis(&t).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers() {
        let basic: HttpClientConfig =
            serde_yaml::from_str("basic_auth: {username: u, password: p}").unwrap();
        assert_eq!(basic.authorization_header().unwrap(), "Basic dTpw");
        let bearer: HttpClientConfig =
            serde_yaml::from_str("authorization: {credentials: tok}").unwrap();
        assert_eq!(bearer.authorization_header().unwrap(), "Bearer tok");
        let old: HttpClientConfig = serde_yaml::from_str("bearer_token: t2").unwrap();
        assert_eq!(old.authorization_header().unwrap(), "Bearer t2");
        assert!(format!("{basic:?}").contains("<secret>"));
        assert!(!format!("{basic:?}").contains("\"p\""));
    }
}
