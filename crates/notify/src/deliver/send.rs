//! Making one attempt: an HTTP `POST` (webhook, Slack, Discord, PagerDuty)
//! or an SMTP transaction (in `smtp.rs`), and classifying how it ended.
//! 2xx is sent; 429, 5xx, timeouts and connection errors are worth
//! retrying (a `Retry-After` in seconds or as an HTTP date is kept); any
//! other status is a refusal that retrying will not change.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;

use super::error::DeliverError;
use crate::receivers::{DeliveryRequest, HttpRequest};

/// How long a refusal's body may be in the log.
const MAX_ERROR_BODY: usize = 256;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        code: Option<u16>,
    },
    /// Refused for good.
    Failed {
        code: Option<u16>,
        error: String,
    },
    /// Worth another attempt.
    Retry {
        code: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

/// Sends requests; one HTTP client (connection pool) for all of them.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    default_timeout: Duration,
}

impl Sender {
    pub fn new(default_timeout: Duration) -> Result<Sender, DeliverError> {
        let http = reqwest::Client::builder()
            .connect_timeout(default_timeout)
            .build()
            .map_err(|e| DeliverError::HttpClient(e.to_string()))?;
        Ok(Sender {
            http,
            default_timeout,
        })
    }

    pub async fn send(&self, request: &DeliveryRequest) -> Outcome {
        match request {
            DeliveryRequest::Http(http) => self.send_http(http).await,
            DeliveryRequest::Email(email) => {
                super::smtp::send_email(email, self.default_timeout).await
            }
        }
    }

    async fn send_http(&self, request: &HttpRequest) -> Outcome {
        let timeout = request
            .timeout_ms
            .filter(|ms| *ms > 0)
            .map_or(self.default_timeout, Duration::from_millis);
        let mut builder = self
            .http
            .post(&request.url)
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("agentmon/", env!("CARGO_PKG_VERSION")))
            .body(request.body.clone());
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Outcome::Failed {
                    code: None,
                    error: format!("header {name:?} cannot be sent"),
                };
            };
            builder = builder.header(name, value);
        }
        match builder.send().await {
            Ok(response) => classify_response(response).await,
            Err(error) => Outcome::Retry {
                code: None,
                error: describe_error(&error, timeout),
                retry_after: None,
            },
        }
    }
}

async fn classify_response(response: reqwest::Response) -> Outcome {
    let status = response.status();
    let code = Some(status.as_u16());
    if status.is_success() {
        return Outcome::Sent { code };
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.text().await.unwrap_or_default();
    let error = refusal_text(status, &body);
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Outcome::Retry {
            code,
            error,
            retry_after,
        }
    } else {
        Outcome::Failed { code, error }
    }
}

fn refusal_text(status: StatusCode, body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return format!("HTTP {status}");
    }
    let mut cut: String = body.chars().take(MAX_ERROR_BODY).collect();
    if cut.len() < body.len() {
        cut.push('…');
    }
    format!("HTTP {status}: {cut}")
}

/// A transport error without its URL (which may carry a token).
fn describe_error(error: &reqwest::Error, timeout: Duration) -> String {
    let kind = if error.is_timeout() {
        format!("timed out after {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind
    } else {
        format!("{kind}: {detail}")
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(100));
        let parsed = parse_retry_after(&later).unwrap();
        assert!(parsed > Duration::from_secs(90) && parsed <= Duration::from_secs(100));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
