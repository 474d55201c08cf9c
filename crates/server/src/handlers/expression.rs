//! Endpoints that look at a PromQL expression without evaluating it:
//!
//! - `GET|POST /api/v1/format_query`: the expression pretty-printed, as a
//!   JSON string in `data` (Prometheus's `expr.Pretty(0)`; here the
//!   `promql-parser` crate's `prettify`, which follows the same layout
//!   rules but may differ in corner cases).
//! - `GET|POST /api/v1/parse_query`: the expression's syntax tree as JSON,
//!   in the shape of Prometheus 3.x's `translateAST` (`type` tags such as
//!   `vectorSelector`, `binaryExpr`, `aggregation`), as produced by the
//!   parser crate's serializer. Fields it does not know are missing.
//! - `GET|POST /api/v1/query_exemplars`: parameters are checked as
//!   Prometheus checks them, but agentmon stores no exemplars yet, so the
//!   answer is always `"data":[]`, or 204 when the query selects nothing,
//!   as Prometheus answers.

use agentmon_promql::parse_expr;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promql_parser::parser::Expr;
use promql_parser::util::{walk_expr, ExprVisitor};
use tracing::instrument;

use crate::engine::to_api_error;
use crate::error::ApiError;
use crate::handlers::query::json_response;
use crate::handlers::success;
use crate::json::JsonWriter;
use crate::params::Params;
use crate::state::AppState;

/// Answers the pretty-printed expression.
#[instrument(skip_all)]
pub async fn format_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse_expr(params.get("query").unwrap_or("")).map_err(to_api_error)?;
    let mut out = JsonWriter::with_capacity(256);
    out.raw("{\"status\":\"success\",\"data\":");
    out.string(&expr.prettify());
    out.raw("}");
    Ok(json_response(out))
}

/// Answers the expression's syntax tree.
#[instrument(skip_all)]
pub async fn parse_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse_expr(params.get("query").unwrap_or("")).map_err(to_api_error)?;
    let tree = serde_json::to_value(&expr)
        .map_err(|e| ApiError::Internal(format!("cannot encode the syntax tree: {e}")))?;
    Ok(success(tree))
}

/// Checks the parameters and answers that there are no exemplars.
#[instrument(skip_all)]
pub async fn query_exemplars(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let start = params.optional_timestamp_ms("start", i64::MIN)?;
    let end = params.optional_timestamp_ms("end", i64::MAX)?;
    if end < start {
        return Err(ApiError::BadData(
            "end timestamp must not be before start timestamp".into(),
        ));
    }
    let expr = parse_expr(params.get("query").unwrap_or(""))
        .map_err(|e| ApiError::BadData(e.to_string()))?;
    if !selects_series(&expr) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Not ready yet is still 503 here, as for every data endpoint.
    state.db()?;
    Ok(success(Vec::<()>::new()))
}

/// Whether the expression has at least one series selector.
fn selects_series(expr: &Expr) -> bool {
    struct FindSelector(bool);
    impl ExprVisitor for FindSelector {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            if matches!(expr, Expr::VectorSelector(_) | Expr::MatrixSelector(_)) {
                self.0 = true;
                return Ok(false);
            }
            Ok(true)
        }
    }
    let mut finder = FindSelector(false);
    let _ = walk_expr(&mut finder, expr);
    finder.0
}
