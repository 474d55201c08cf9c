//! `GET /metrics`: agentmon's own metrics in Prometheus text format 0.0.4:
//! storage (`agentmon_tsdb_*`, once the database is open), HTTP
//! (`agentmon_http_*`), OTLP ingest (`agentmon_otlp_*`, with the traces
//! whose GenAI session is remembered), notifications
//! (`agentmon_notifications_*`, `agentmon_notification_latency_seconds`,
//! `agentmon_alerts`, `agentmon_silences`, with an `alertmanager:`
//! section or event webhooks), event webhooks (`agentmon_webhook_*`), live stream (`agentmon_ws_connections`,
//! `agentmon_sse_connections`), rules (`agentmon_rule_*`, once rules run),
//! scraping (`agentmon_sd_file_read_errors_total`)
//! and process (`process_*`).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use crate::process::write_process_metrics;
use crate::state::AppState;

/// How many traces have their GenAI session remembered across OTLP
/// requests (`docs/genai.md`, "Sessions across requests").
fn write_trace_sessions(out: &mut String, traces: usize) {
    out.push_str("# HELP agentmon_otlp_trace_sessions Traces whose GenAI session is remembered across OTLP trace requests.\n");
    out.push_str("# TYPE agentmon_otlp_trace_sessions gauge\n");
    out.push_str(&format!("agentmon_otlp_trace_sessions {traces}\n"));
}

/// Renders every self-metric family.
#[instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    if let Some(db) = state.ready_db() {
        db.write_metrics(&mut out);
    }
    state.http_metrics().write_text(&mut out);
    state.otlp_metrics().write_text(&mut out);
    write_trace_sessions(&mut out, state.trace_sessions().len());
    state.live().write_metrics(&mut out);
    if let Some(rules) = state.rules() {
        rules.manager.write_metrics(&mut out);
    }
    if let Some(alerting) = state.alerting() {
        alerting.write_metrics(&mut out);
    }
    if let Some(scraping) = state.scraping() {
        scraping.write_metrics(&mut out);
    }
    if let Some(webhooks) = state.webhooks() {
        webhooks.queue().metrics().write_text(&mut out);
        webhooks.write_metrics(&mut out);
    }
    write_process_metrics(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        out,
    )
        .into_response()
}
