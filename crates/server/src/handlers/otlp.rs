//! `POST /v1/metrics` and `POST /v1/traces`: OTLP/HTTP
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).
//!
//! Bodies are protobuf (`Content-Type: application/x-protobuf`) or OTLP/JSON
//! (`application/json`), optionally `Content-Encoding: gzip`; anything else
//! is 415. Answers are encoded like the request: 200 with an
//! `Export*ServiceResponse` (carrying `partial_success` when data points or
//! spans were refused), 400 with a `google.rpc.Status` for a malformed
//! request (nothing of it is stored), 413 when the body or its inflated
//! form is over the limits. Metrics are translated to Prometheus series
//! (see `agentmon_ingest::otlp::translate_metrics` and `docs/otlp.md`) and
//! appended in one call, like remote write. Spans following the GenAI
//! semantic conventions become agent events ([`accept_traces`]).

use agentmon_ingest::events::EventLimits;
use agentmon_ingest::otlp::{self, TracesRequest};
use agentmon_ingest::IngestError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::decode;
use crate::error::ApiError;
use crate::handlers::events::accept_events_blocking;
use crate::handlers::write::body_error;
use crate::otlp_metrics::Signal;
use crate::state::AppState;
use crate::storage::with_db;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// What a successful export answers: items refused and why.
struct Accepted {
    rejected: u64,
    message: String,
}

/// Takes one OTLP metrics export.
#[instrument(skip_all)]
pub async fn post_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    export(state, &headers, body, "rejectedDataPoints", metrics).await
}

/// Takes one OTLP trace export.
#[instrument(skip_all)]
pub async fn post_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    export(state, &headers, body, "rejectedSpans", traces).await
}

/// What both endpoints share: the media type, the answer in the request's
/// encoding (`rejected_field` names the partial success's count), and the
/// body checks; `handle` decodes and keeps the export.
async fn export<F, Fut>(
    state: AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    rejected_field: &str,
    handle: F,
) -> Response
where
    F: FnOnce(AppState, Vec<u8>, Encoding) -> Fut,
    Fut: std::future::Future<Output = Result<Accepted, ApiError>>,
{
    let encoding = match media_type(headers) {
        Ok(encoding) => encoding,
        Err(error) => return failure(Encoding::Protobuf, &error),
    };
    let outcome = match inflated_body(&state, headers, body).await {
        Ok(raw) => handle(state, raw, encoding).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(accepted) => success(encoding, rejected_field, &accepted),
        Err(error) => failure(encoding, &error),
    }
}

/// The body, gunzipped if it says so, within the size limits.
async fn inflated_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let gzip = content_encoding(headers)?;
    let body = body.map_err(|rejection| body_error(rejection, state.limits().max_body_bytes))?;
    let limits = *state.limits();
    blocking(move || inflate(&body, gzip, &limits)).await
}

/// Runs CPU-bound work (decoding, mapping) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("OTLP task failed: {e}")))?
}

async fn metrics(state: AppState, raw: Vec<u8>, encoding: Encoding) -> Result<Accepted, ApiError> {
    let limits = *state.limits();
    let translation = blocking(move || {
        let request = match encoding {
            Encoding::Protobuf => otlp::decode_metrics(&raw),
            Encoding::Json => otlp::decode_metrics_json(&raw),
        }
        .map_err(ingest_error)?;
        Ok(otlp::translate_metrics(&request, &limits))
    })
    .await?;
    let metrics = state.otlp_metrics();
    metrics.received(Signal::Metrics, translation.data_points);
    for (reason, count) in &translation.rejected {
        metrics.rejected(Signal::Metrics, reason.as_str(), *count);
    }
    let rejected = translation.rejected_total() as u64;
    let message = translation.messages.join("; ");
    let report = with_db(&state, move |db| decode::otlp_translation(db, &translation)).await?;
    tracing::debug!(
        series = report.series,
        samples = report.samples_appended,
        duplicates = report.samples_duplicate,
        rejected,
        "OTLP metrics appended"
    );
    Ok(Accepted { rejected, message })
}

/// Decodes, maps and keeps a trace export on one blocking thread, with no
/// hop back to the async runtime between the steps (as the events API).
async fn traces(state: AppState, raw: Vec<u8>, encoding: Encoding) -> Result<Accepted, ApiError> {
    blocking(move || {
        let request = match encoding {
            Encoding::Protobuf => otlp::decode_traces(&raw),
            Encoding::Json => otlp::decode_traces_json(&raw),
        }
        .map_err(ingest_error)?;
        otlp::validate_traces(&request).map_err(ingest_error)?;
        let spans = otlp::span_count(&request);
        state.otlp_metrics().received(Signal::Traces, spans);
        accept_traces(&state, &request)
    })
    .await
}

/// Spans named in the partial-success message at most.
const SKIPPED_SPANS_LISTED: usize = 5;

/// Where a decoded, validated trace export goes: spans that follow the
/// GenAI conventions become agent events (`TraceSessions::map`, which
/// keeps a trace's spans in one session across requests; `docs/genai.md`),
/// kept like a batch of the events API (session store, derived metrics
/// with the semconv histograms, live stream); other spans are accepted
/// and not kept. GenAI spans that cannot be mapped are refused, counted
/// and named in the partial success. Blocks.
fn accept_traces(state: &AppState, request: &TracesRequest) -> Result<Accepted, ApiError> {
    let batch = state.trace_sessions().map(request, &EventLimits::default());
    if !batch.skipped.is_empty() {
        state
            .otlp_metrics()
            .rejected(Signal::Traces, "invalid_genai_span", batch.skipped.len());
    }
    let message = batch
        .skipped_summary(SKIPPED_SPANS_LISTED)
        .unwrap_or_default();
    let rejected = batch.skipped.len() as u64;
    let events = batch.events.len();
    accept_events_blocking(state, batch.events, batch.observations)?;
    tracing::debug!(
        events,
        rejected,
        non_genai = batch.non_genai,
        "OTLP traces accepted"
    );
    Ok(Accepted { rejected, message })
}

/// The body's encoding from `Content-Type` (parameters ignored).
fn media_type(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = text.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/x-protobuf") {
        Ok(Encoding::Protobuf)
    } else if media.eq_ignore_ascii_case("application/json") {
        Ok(Encoding::Json)
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {text:?}: OTLP/HTTP takes application/x-protobuf or application/json"
        )))
    }
}

/// Whether the body is gzip-compressed; other encodings are 415.
fn content_encoding(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(e) if e.is_empty() || e == "identity" => Ok(false),
        Some(e) if e == "gzip" => Ok(true),
        Some(e) => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {e:?}: send the body uncompressed or gzip-compressed"
        ))),
    }
}

fn inflate(body: &Bytes, gzip: bool, limits: &decode::Limits) -> Result<Vec<u8>, ApiError> {
    if gzip {
        otlp::gunzip(body, limits).map_err(ingest_error)
    } else {
        Ok(body.to_vec())
    }
}

/// Size errors are 413, every other decoding error 400.
fn ingest_error(error: IngestError) -> ApiError {
    match error {
        IngestError::BodyTooLarge { .. } | IngestError::DecompressedTooLarge { .. } => {
            ApiError::PayloadTooLarge(error.to_string())
        }
        other => ApiError::BadData(other.to_string()),
    }
}

fn success(encoding: Encoding, rejected_key: &str, accepted: &Accepted) -> Response {
    let body = match encoding {
        Encoding::Protobuf => {
            otlp::encode::encode_export_response(accepted.rejected, &accepted.message)
        }
        Encoding::Json => {
            otlp::export_response_json(rejected_key, accepted.rejected, &accepted.message)
                .into_bytes()
        }
    };
    respond(StatusCode::OK, encoding, body)
}

/// A `google.rpc.Status` with the code that matches the HTTP status.
fn failure(encoding: Encoding, error: &ApiError) -> Response {
    let status = error.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => 8,      // RESOURCE_EXHAUSTED
        StatusCode::SERVICE_UNAVAILABLE => 14,   // UNAVAILABLE
        StatusCode::INTERNAL_SERVER_ERROR => 13, // INTERNAL
        StatusCode::UNAUTHORIZED => 16,          // UNAUTHENTICATED
        StatusCode::FORBIDDEN => 7,              // PERMISSION_DENIED
        _ => 3,                                  // INVALID_ARGUMENT
    };
    let message = error.to_string();
    let body = match encoding {
        Encoding::Protobuf => otlp::encode::encode_status(code, &message),
        Encoding::Json => otlp::status_json(code, &message).into_bytes(),
    };
    respond(status, encoding, body)
}

fn respond(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        )],
        body,
    )
        .into_response()
}
