//! `POST /api/v1/write`: Prometheus remote write 1.0
//! (<https://prometheus.io/docs/specs/prw/remote_write_spec/>): a
//! snappy-block-compressed protobuf `WriteRequest`. Answers 204 once every
//! sample is in the WAL; errors are plain text because remote-write clients
//! log the body. 4xx tells the client not to retry, 5xx to retry.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::decode;
use crate::error::{ApiError, PlainText};
use crate::state::AppState;
use crate::storage::with_db;

/// Takes one remote-write request.
#[instrument(skip_all)]
pub async fn remote_write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(state, headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => PlainText(error).into_response(),
    }
}

async fn handle(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    check_headers(&headers)?;
    let body = body.map_err(|rejection| body_error(rejection, state.limits().max_body_bytes))?;
    let limits = *state.limits();
    let report = with_db(&state, move |db| {
        decode::remote_write_body(db, &body, &limits)
    })
    .await?;
    tracing::debug!(
        series = report.series,
        samples = report.samples_appended,
        duplicates = report.samples_duplicate,
        "remote write appended"
    );
    Ok(())
}

/// Remote write 1.0 requires `Content-Encoding: snappy` and
/// `Content-Type: application/x-protobuf`; a missing Content-Type is
/// accepted, as older senders leave it out. Remote write 2.0 bodies
/// (`proto=io.prometheus.write.v2.Request`) are refused with 415, which the
/// spec tells senders to treat as "fall back to 1.0".
fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    match encoding {
        Some(e) if e.trim().eq_ignore_ascii_case("snappy") => {}
        Some(e) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding {e:?}: remote write bodies must be snappy-compressed (Content-Encoding: snappy)"
            )))
        }
        None => {
            return Err(ApiError::UnsupportedMediaType(
                "missing Content-Encoding: remote write bodies must be snappy-compressed (Content-Encoding: snappy)".into(),
            ))
        }
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let text = content_type.to_str().unwrap_or("");
        let mut parts = text.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or("");
        let proto = parts.find_map(|p| p.strip_prefix("proto="));
        let is_v1 = media_type.eq_ignore_ascii_case("application/x-protobuf")
            && matches!(proto, None | Some("prometheus.WriteRequest"));
        if !is_v1 {
            return Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Type {text:?}: only remote write 1.0 (application/x-protobuf) is accepted"
            )));
        }
    }
    Ok(())
}

/// Maps a failure to read the body: over the limit is 413.
pub(crate) fn body_error(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
    } else {
        ApiError::BadData(format!(
            "cannot read request body: {}",
            rejection.body_text()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn accepts_remote_write_1_0_headers() {
        assert!(check_headers(&headers(&[(header::CONTENT_ENCODING, "snappy")])).is_ok());
        assert!(check_headers(&headers(&[
            (header::CONTENT_ENCODING, "snappy"),
            (header::CONTENT_TYPE, "application/x-protobuf")
        ]))
        .is_ok());
        assert!(check_headers(&headers(&[
            (header::CONTENT_ENCODING, "snappy"),
            (
                header::CONTENT_TYPE,
                "application/x-protobuf;proto=prometheus.WriteRequest"
            )
        ]))
        .is_ok());
    }

    #[test]
    fn refuses_other_encodings_and_types_with_415() {
        for case in [
            headers(&[]),
            headers(&[(header::CONTENT_ENCODING, "gzip")]),
            headers(&[
                (header::CONTENT_ENCODING, "snappy"),
                (header::CONTENT_TYPE, "application/json"),
            ]),
            headers(&[
                (header::CONTENT_ENCODING, "snappy"),
                (
                    header::CONTENT_TYPE,
                    "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                ),
            ]),
        ] {
            let error = check_headers(&case).unwrap_err();
            assert_eq!(
                error.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{error}"
            );
        }
    }
}
