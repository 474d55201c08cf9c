//! The server's errors and their one mapping to HTTP.
//!
//! Every handler fails with an [`ApiError`]; [`ApiError::status`] and
//! [`ApiError::error_type`] are the only place where an error kind becomes a
//! status code. API errors are answered in the Prometheus envelope
//! (`{"status":"error","errorType":...,"error":...}`, see
//! <https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview>);
//! ingest endpoints answer plain text through [`PlainText`], because
//! remote-write clients log the body verbatim.
//!
//! [`ConfigError`] covers loading `agentmon.yml`.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::json::JsonWriter;

/// Why a request failed, with a message precise enough to act on.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The request is malformed or its data was refused (400).
    #[error("{0}")]
    BadData(String),
    /// No credentials or unknown credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Known credentials without the needed role (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such route or resource (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state, e.g. a name taken
    /// already (409).
    #[error("{0}")]
    Conflict(String),
    /// The route exists but not for this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body exceeds the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body's encoding or media type is not one we speak (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A query failed while it was evaluated (422, Prometheus's
    /// `execution`), e.g. too many samples or a function's bad argument.
    #[error("{0}")]
    Execution(String),
    /// A query ran past its timeout (503, Prometheus's `timeout`).
    #[error("{0}")]
    Timeout(String),
    /// A query was canceled, e.g. its client went away (499, the
    /// non-standard "client closed request" status Prometheus uses for
    /// `canceled`).
    #[error("{0}")]
    Canceled(String),
    /// The server is not ready yet, e.g. replaying the WAL (503).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on our side, e.g. storage I/O (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error kind.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadData(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Canceled(_) => CLIENT_CLOSED_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `errorType` of the Prometheus envelope. Prometheus's own types are
    /// used where one fits; auth and routing errors get descriptive names.
    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::BadData(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_) => "bad_data",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Execution(_) => "execution",
            ApiError::Timeout(_) => "timeout",
            ApiError::Canceled(_) => "canceled",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The message that goes to the client.
    pub fn message(&self) -> &str {
        match self {
            ApiError::BadData(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Execution(m)
            | ApiError::Timeout(m)
            | ApiError::Canceled(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m,
        }
    }

    /// Logs server-side failures; client mistakes are only logged at debug.
    fn log(&self) {
        let expected = matches!(self, ApiError::Unavailable(_) | ApiError::Timeout(_));
        if self.status().is_server_error() && !expected {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, status = self.status().as_u16(), "request refused");
        }
    }

    fn add_headers(&self, response: &mut Response) {
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"agentmon\""),
            );
        }
    }
}

/// The status Prometheus answers `canceled` with: nginx's 499 "client
/// closed request" (the client rarely sees it, but logs and proxies do).
const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
};

impl IntoResponse for ApiError {
    /// `{"status":"error","errorType":…,"error":…}`, escaped the way
    /// Prometheus escapes it (see [`crate::json`]).
    fn into_response(self) -> Response {
        self.log();
        let mut body = JsonWriter::with_capacity(64 + self.message().len());
        body.raw("{\"status\":\"error\",\"errorType\":");
        body.string(self.error_type());
        body.raw(",\"error\":");
        body.string(self.message());
        body.raw("}");
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.into_bytes(),
        )
            .into_response();
        self.add_headers(&mut response);
        response
    }
}

/// An [`ApiError`] answered as `text/plain`, for ingest endpoints whose
/// clients (Prometheus remote write, vmagent) log the body as is.
#[derive(Debug)]
pub struct PlainText(pub ApiError);

impl From<ApiError> for PlainText {
    fn from(error: ApiError) -> PlainText {
        PlainText(error)
    }
}

impl IntoResponse for PlainText {
    fn into_response(self) -> Response {
        let error = self.0;
        error.log();
        let mut body = error.message().to_owned();
        body.push('\n');
        let mut response = (
            error.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            body,
        )
            .into_response();
        error.add_headers(&mut response);
        response
    }
}

/// Why `agentmon.yml` (or a flag) could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("config file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_one_status() {
        assert_eq!(
            ApiError::BadData("x".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::Unavailable("x".into()).error_type(),
            "unavailable"
        );
        let response = ApiError::Unauthorized("no token".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
