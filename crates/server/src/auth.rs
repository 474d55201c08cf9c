//! Bearer-token authentication and role checks: one layer for every route
//! except `/health/*`.
//!
//! Roles are ordered `read < write < admin` and each includes the ones below
//! it: a write token can also query (agents that push usually also read
//! back their own data), and an admin token can do everything. What a route
//! needs is decided from its path (and, for health check targets, its
//! method), in [`required_role`]: `/api/v1/admin/*` needs admin, ingest
//! (`/api/v1/write`, `/api/v1/import*`, `/api/v1/events`, OTLP's
//! `/v1/metrics` and `/v1/traces`), changing health check targets
//! (`POST`/`DELETE /api/v1/monitor/health/targets*`), alert rules
//! (`POST`/`DELETE /api/v1/monitor/alerts*`, acknowledgements and test
//! notifications included) and event webhooks
//! (`POST`/`DELETE /api/v1/monitor/webhooks*`, tests included) need write,
//! everything else needs read.
//!
//! The token travels in `Authorization: Bearer <token>`; only the live
//! stream (`/ws`, `/api/v1/stream`) also accepts it as the `token` query
//! parameter, since browsers cannot set headers on those connections.
//!
//! With no tokens configured the server runs without authentication; the
//! binary allows that only on a loopback address.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;

/// What a token may do. Higher roles include lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    /// The configuration spelling of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// One configured API token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Who holds the token; appears in logs, never the token itself.
    pub name: String,
    /// The secret the client sends as `Authorization: Bearer <token>`.
    pub token: String,
    pub role: Role,
}

/// The configured tokens, checked in constant time.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// Who made a request; inserted into request extensions by the auth layer.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name, or `anonymous` when auth is off.
    pub name: String,
    pub role: Role,
}

impl Tokens {
    /// Wraps the configured tokens.
    pub fn new(tokens: Vec<Token>) -> Tokens {
        Tokens { tokens }
    }

    /// Whether authentication is switched off (no tokens configured).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Finds the token equal to `presented`. Every configured token is
    /// compared, each in time independent of where the bytes differ, so the
    /// answer time does not reveal how much of a token was right.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let mut found = None;
        for token in &self.tokens {
            if constant_time_eq(token.token.as_bytes(), presented.as_bytes()) {
                found = Some(token);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimizer from turning the fold into an early exit.
    std::hint::black_box(difference) == 0
}

/// Where health check targets are changed (POST, DELETE: write role).
const HEALTH_TARGETS_PATH: &str = "/api/v1/monitor/health/targets";
/// Where API-made alert rules are changed and alerts acknowledged (POST,
/// DELETE: write role).
const MONITOR_ALERTS_PATH: &str = "/api/v1/monitor/alerts";

/// Where event webhooks are made, deleted and tested (all but GET: write
/// role).
const WEBHOOKS_PATH: &str = "/api/v1/monitor/webhooks";

/// The role a request with `method` to `path` needs.
pub fn required_role(method: &Method, path: &str) -> Role {
    let reads = method == Method::GET || method == Method::HEAD;
    let changes_health_targets = path.starts_with(HEALTH_TARGETS_PATH) && !reads;
    let changes_alert_rules = path.starts_with(MONITOR_ALERTS_PATH) && !reads;
    let changes_webhooks =
        (path == WEBHOOKS_PATH || path.starts_with("/api/v1/monitor/webhooks/")) && !reads;
    if path.starts_with("/api/v1/admin/") || path == "/-/reload" {
        Role::Admin
    } else if changes_health_targets
        || changes_alert_rules
        || changes_webhooks
        || path == "/api/v1/write"
        || path == "/api/v1/events"
        || path == "/v1/metrics"
        || path == "/v1/traces"
        || (path.starts_with("/api/v2/") && method != Method::GET && method != Method::HEAD)
        || path == "/api/v1/import"
        || path.starts_with("/api/v1/import/")
    {
        Role::Write
    } else {
        Role::Read
    }
}

/// Whether a request to `path` may carry its token as the `token` query
/// parameter: only the live stream, because browsers cannot set headers on
/// a WebSocket or an `EventSource`. Elsewhere a token in the URL would end
/// up in logs and histories for no reason, so it is not looked at.
pub fn accepts_query_token(path: &str) -> bool {
    path == "/ws" || path == "/api/v1/stream"
}

/// The `token` query parameter, percent-decoded.
fn query_token(uri: &axum::http::Uri) -> Result<String, ApiError> {
    let missing = || {
        ApiError::Unauthorized(
            "missing token: send \"Authorization: Bearer <token>\" or the query parameter \"token\""
                .into(),
        )
    };
    let query = uri.query().ok_or_else(missing)?;
    let mut found = None;
    for (name, value) in form_urlencoded_pairs(query)? {
        if name == "token" {
            if found.is_some() {
                return Err(ApiError::Unauthorized(
                    "the query parameter \"token\" is given more than once".into(),
                ));
            }
            found = Some(value);
        }
    }
    found.ok_or_else(missing)
}

/// Splits `a=b&c=d` and percent-decodes names and values (`+` is a space).
fn form_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadData(format!("invalid percent-encoding in query: {text:?}"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The auth layer: 401 without a known token, 403 with too weak a role.
pub async fn require_role(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match authorize(&state, &request) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

fn authorize(state: &AppState, request: &Request) -> Result<Caller, ApiError> {
    let tokens = state.tokens();
    if tokens.is_empty() {
        return Ok(Caller {
            name: "anonymous".to_owned(),
            role: Role::Admin,
        });
    }
    let presented = match request.headers().get(header::AUTHORIZATION) {
        Some(header) => header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, rest) = value.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_owned())
            })
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization header must be \"Bearer <token>\"".into())
            })?,
        None if accepts_query_token(request.uri().path()) => query_token(request.uri())?,
        None => {
            return Err(ApiError::Unauthorized(
                "missing Authorization header: send \"Authorization: Bearer <token>\"".into(),
            ))
        }
    };
    let token = tokens
        .find(&presented)
        .ok_or_else(|| ApiError::Unauthorized("unknown bearer token".into()))?;
    let needed = required_role(request.method(), request.uri().path());
    if token.role < needed {
        return Err(ApiError::Forbidden(format!(
            "token {:?} has role {} but {} {} needs role {}",
            token.name,
            token.role.as_str(),
            request.method(),
            request.uri().path(),
            needed.as_str()
        )));
    }
    Ok(Caller {
        name: token.name.clone(),
        role: token.role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_path() {
        assert_eq!(
            required_role(&Method::POST, "/api/v1/admin/tsdb/flush"),
            Role::Admin
        );
        assert_eq!(required_role(&Method::POST, "/-/reload"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/v1/write"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/api/v1/events"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/v1/metrics"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/v1/traces"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/metrics/agents"), Role::Read);
        assert_eq!(
            required_role(&Method::POST, "/api/v1/import/prometheus"),
            Role::Write
        );
        assert_eq!(required_role(&Method::POST, "/api/v1/importer"), Role::Read);
        assert_eq!(required_role(&Method::POST, "/api/v1/series"), Role::Read);
        let targets = "/api/v1/monitor/health/targets";
        assert_eq!(required_role(&Method::GET, targets), Role::Read);
        assert_eq!(required_role(&Method::POST, targets), Role::Write);
        assert_eq!(
            required_role(&Method::DELETE, "/api/v1/monitor/health/targets/api"),
            Role::Write
        );
        assert_eq!(
            required_role(&Method::POST, "/api/v1/monitor/health"),
            Role::Read
        );
        for (method, path) in [
            (Method::POST, "/api/v1/monitor/alerts"),
            (Method::POST, "/api/v1/monitor/alerts/rules"),
            (Method::DELETE, "/api/v1/monitor/alerts/low-balance"),
            (
                Method::POST,
                "/api/v1/monitor/alerts/0123456789abcdef/acknowledge",
            ),
            (Method::POST, "/api/v1/monitor/alerts/low-balance/test"),
        ] {
            assert_eq!(required_role(&method, path), Role::Write, "{method} {path}");
        }
        assert_eq!(
            required_role(&Method::GET, "/api/v1/monitor/alerts/active"),
            Role::Read
        );
        let webhooks = "/api/v1/monitor/webhooks";
        assert_eq!(required_role(&Method::GET, webhooks), Role::Read);
        assert_eq!(required_role(&Method::POST, webhooks), Role::Write);
        let one = "/api/v1/monitor/webhooks/slack";
        assert_eq!(required_role(&Method::GET, one), Role::Read);
        assert_eq!(required_role(&Method::DELETE, one), Role::Write);
        assert_eq!(
            required_role(&Method::POST, "/api/v1/monitor/webhooks/slack/test"),
            Role::Write
        );
        assert_eq!(
            required_role(&Method::POST, "/api/v1/monitor/webhooksx"),
            Role::Read
        );
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
    }

    #[test]
    fn query_tokens_only_on_the_live_stream() {
        assert!(accepts_query_token("/ws"));
        assert!(accepts_query_token("/api/v1/stream"));
        assert!(!accepts_query_token("/api/v1/query"));
        let uri: axum::http::Uri = "/ws?x=1&token=a%2Bb+c%21".parse().unwrap();
        assert_eq!(query_token(&uri).unwrap(), "a+b c!");
        let uri: axum::http::Uri = "/ws?token=a&token=b".parse().unwrap();
        assert!(query_token(&uri).is_err());
        let uri: axum::http::Uri = "/ws?token=%zz".parse().unwrap();
        assert!(query_token(&uri).is_err());
        let uri: axum::http::Uri = "/ws?token=%e2%28".parse().unwrap();
        assert!(query_token(&uri).is_err());
        let uri: axum::http::Uri = "/ws?agent=x".parse().unwrap();
        assert!(query_token(&uri).is_err());
    }

    #[test]
    fn tokens_match_exactly() {
        let tokens = Tokens::new(vec![Token {
            name: "a".into(),
            token: "secret".into(),
            role: Role::Read,
        }]);
        assert_eq!(tokens.find("secret").map(|t| t.name.as_str()), Some("a"));
        assert!(tokens.find("secreT").is_none());
        assert!(tokens.find("secret2").is_none());
        assert!(tokens.find("").is_none());
    }
}
