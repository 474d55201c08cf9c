//! `GET|POST /api/v1/query` and `GET|POST /api/v1/query_range`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#expression-queries>):
//! PromQL evaluated at one instant or over a range, answered byte for byte
//! as Prometheus 3.x answers.
//!
//! Parameters are checked in Prometheus's order and with its messages
//! (`limit`, then the times, `step` and its 11,000-points cap, `timeout`,
//! then the query text), so a bad request fails with `bad_data` before it
//! waits for a query slot. The result is written straight into one buffer
//! by [`encode_success`]; `warnings` and `infos` appear only when non-empty,
//! at most 10 of each plus a count of the omitted ones, as in Prometheus.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentmon_promql::{parse_expr, QueryKind, QueryOutput, Value};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::engine::{run_query, to_api_error};
use crate::error::ApiError;
use crate::json::JsonWriter;
use crate::params::Params;
use crate::state::AppState;

/// Prometheus's cap on points per series of a range query.
const MAX_POINTS_PER_SERIES: i128 = 11_000;
/// Prometheus's cap on warnings and on infos in one answer.
const MAX_ANNOTATIONS: usize = 10;
/// The warning Prometheus adds when `limit` cut the result.
const TRUNCATED_WARNING: &str = "results truncated due to limit";

/// Evaluates `query` at `time` (default: now).
#[instrument(skip_all)]
pub async fn instant_query(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = params.query_limit()?;
    let time_ms = params.optional_timestamp_ms("time", now_ms())?;
    let timeout = timeout_param(&params)?;
    let text = query_text(&params)?;
    let output = run_query(&state, text, QueryKind::Instant { time_ms }, timeout).await?;
    Ok(encode_success(output, limit))
}

/// Evaluates `query` at every `step` from `start` to `end`.
#[instrument(skip_all)]
pub async fn range_query(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = params.query_limit()?;
    let start_ms = params.required_timestamp_ms("start")?;
    let end_ms = params.required_timestamp_ms("end")?;
    if end_ms < start_ms {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    let step_ns = match params.duration_ns("step")? {
        Some(step) => step,
        None => {
            return Err(ApiError::BadData(
                "invalid parameter \"step\": cannot parse \"\" to a valid duration".into(),
            ))
        }
    };
    if step_ns <= 0 {
        return Err(ApiError::BadData(
            "invalid parameter \"step\": zero or negative query resolution step widths are not \
             accepted. Try a positive integer"
                .into(),
        ));
    }
    let span_ns = (i128::from(end_ms) - i128::from(start_ms)) * 1_000_000;
    if span_ns / i128::from(step_ns) > MAX_POINTS_PER_SERIES {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the \
             query resolution (?step=XX)"
                .into(),
        ));
    }
    let timeout = timeout_param(&params)?;
    let text = query_text(&params)?;
    // The engine steps in whole milliseconds; a positive step below one
    // still means "every millisecond" rather than an error.
    let step_ms = (step_ns / 1_000_000).max(1);
    let kind = QueryKind::Range {
        start_ms,
        end_ms,
        step_ms,
    };
    let output = run_query(&state, text, kind, timeout).await?;
    Ok(encode_success(output, limit))
}

/// The `timeout` parameter; a negative one expires at once, as a Go
/// context with a negative timeout does.
fn timeout_param(params: &Params) -> Result<Option<Duration>, ApiError> {
    Ok(params
        .duration_ns("timeout")?
        .map(|ns| Duration::from_nanos(u64::try_from(ns).unwrap_or(0))))
}

/// The query text, checked for syntax before the query takes a slot.
fn query_text(params: &Params) -> Result<String, ApiError> {
    let text = params.get("query").unwrap_or("");
    parse_expr(text).map_err(to_api_error)?;
    Ok(text.to_owned())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The 200 answer: the envelope with `resultType` and `result`, then the
/// annotations. `limit` keeps the first series of a vector or matrix.
pub fn encode_success(output: QueryOutput, limit: Option<usize>) -> Response {
    let QueryOutput {
        mut value,
        annotations,
        ..
    } = output;
    let mut warnings: Vec<&str> = annotations.warnings().iter().map(String::as_str).collect();
    if let Some(limit) = limit {
        if truncate(&mut value, limit) {
            warnings.push(TRUNCATED_WARNING);
        }
    }
    let infos: Vec<&str> = annotations.infos().iter().map(String::as_str).collect();

    let mut out = JsonWriter::with_capacity(estimate_size(&value));
    out.raw("{\"status\":\"success\",\"data\":{\"resultType\":");
    out.string(value.type_name());
    out.raw(",\"result\":");
    write_value(&mut out, &value);
    out.raw("}");
    write_annotations(&mut out, "warnings", &warnings, "warning");
    write_annotations(&mut out, "infos", &infos, "info");
    out.raw("}");
    json_response(out)
}

/// A 200 response with a JSON body.
pub fn json_response(out: JsonWriter) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out.into_bytes(),
    )
        .into_response()
}

/// Cuts a vector or matrix to its first `limit` elements; reports whether
/// anything was cut.
fn truncate(value: &mut Value, limit: usize) -> bool {
    match value {
        Value::Vector(samples) if samples.len() > limit => {
            samples.truncate(limit);
            true
        }
        Value::Matrix(series) if series.len() > limit => {
            series.truncate(limit);
            true
        }
        _ => false,
    }
}

fn write_value(out: &mut JsonWriter, value: &Value) {
    match value {
        Value::Scalar { t, v } => out.point(*t, *v),
        Value::String { t, v } => {
            out.raw("[");
            out.timestamp(*t);
            out.raw(",");
            out.string(v);
            out.raw("]");
        }
        Value::Vector(samples) => {
            out.raw("[");
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw("{\"metric\":");
                out.labels(&sample.labels);
                out.raw(",\"value\":");
                out.point(sample.t, sample.v);
                out.raw("}");
            }
            out.raw("]");
        }
        Value::Matrix(series) => {
            out.raw("[");
            for (i, one) in series.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw("{\"metric\":");
                out.labels(&one.labels);
                // Prometheus leaves `values` out of a series without floats.
                for (j, point) in one.points.iter().enumerate() {
                    out.raw(if j == 0 { ",\"values\":[" } else { "," });
                    out.point(point.t, point.v);
                }
                if !one.points.is_empty() {
                    out.raw("]");
                }
                out.raw("}");
            }
            out.raw("]");
        }
    }
}

/// Writes `,"<field>":[…]` if there is anything to write, capped like
/// Prometheus's `AsStrings(query, 10, 10)`.
fn write_annotations(out: &mut JsonWriter, field: &str, messages: &[&str], kind: &str) {
    if messages.is_empty() {
        return;
    }
    out.raw(",");
    out.key(field);
    let shown = messages.len().min(MAX_ANNOTATIONS);
    let omitted = messages.len() - shown;
    let note = format!("{omitted} more {kind} annotations omitted");
    let extra = (omitted > 0).then_some(note.as_str());
    out.strings(messages[..shown].iter().copied().chain(extra));
}

/// A rough size of the encoded value, so the buffer rarely regrows.
fn estimate_size(value: &Value) -> usize {
    const PER_POINT: usize = 32;
    const PER_SERIES: usize = 128;
    match value {
        Value::Scalar { .. } | Value::String { .. } => 256,
        Value::Vector(samples) => 128 + samples.len() * (PER_SERIES + PER_POINT),
        Value::Matrix(series) => {
            128 + series
                .iter()
                .map(|s| PER_SERIES + s.points.len() * PER_POINT)
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use agentmon_model::{Labels, Sample};
    use agentmon_promql::{Annotations, InstantSample, RangeSeries};

    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn output(value: Value) -> QueryOutput {
        QueryOutput {
            value,
            annotations: Annotations::default(),
            samples: 0,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied()).unwrap()
    }

    #[tokio::test]
    async fn vectors_scalars_and_strings_are_written_like_prometheus() {
        let vector = Value::Vector(vec![InstantSample {
            labels: labels(&[("__name__", "up"), ("job", "api")]),
            t: 1_435_781_451_781,
            v: 1.0,
        }]);
        assert_eq!(
            body(encode_success(output(vector), None)).await,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"api"},"value":[1435781451.781,"1"]}]}}"#
        );
        let scalar = Value::Scalar {
            t: 1500,
            v: f64::NEG_INFINITY,
        };
        assert_eq!(
            body(encode_success(output(scalar), None)).await,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.500,"-Inf"]}}"#
        );
        let string = Value::String {
            t: 2000,
            v: "a\"b".into(),
        };
        assert_eq!(
            body(encode_success(output(string), None)).await,
            r#"{"status":"success","data":{"resultType":"string","result":[2,"a\"b"]}}"#
        );
        assert_eq!(
            body(encode_success(output(Value::Vector(Vec::new())), None)).await,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        );
    }

    #[tokio::test]
    async fn matrices_carry_values_and_limit_truncates_with_a_warning() {
        let series = |job: &str| RangeSeries {
            labels: labels(&[("job", job)]),
            points: vec![Sample::new(0, 0.5), Sample::new(15_000, f64::NAN)],
        };
        let matrix = Value::Matrix(vec![series("a"), series("b")]);
        assert_eq!(
            body(encode_success(output(matrix), Some(1))).await,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[0,"0.5"],[15,"NaN"]]}]},"warnings":["results truncated due to limit"]}"#
        );
    }

    #[tokio::test]
    async fn annotations_are_capped_at_ten_each() {
        let mut annotations = Annotations::default();
        for i in 0..12 {
            annotations.warn(format!("w{i}"));
        }
        annotations.info("only one");
        let out = QueryOutput {
            value: Value::Scalar { t: 0, v: 1.0 },
            annotations,
            samples: 0,
        };
        let json: serde_json::Value =
            serde_json::from_str(&body(encode_success(out, None)).await).unwrap();
        let warnings = json["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 11);
        assert_eq!(warnings[10], "2 more warning annotations omitted");
        assert_eq!(json["infos"], serde_json::json!(["PromQL info: only one"]));
    }
}
