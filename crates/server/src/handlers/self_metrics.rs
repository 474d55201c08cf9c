//! `GET /metrics`: agentmon's own metrics in Prometheus text format 0.0.4:
//! storage (`agentmon_tsdb_*`, once the database is open), HTTP
//! (`agentmon_http_*`), OTLP ingest (`agentmon_otlp_*`), notifications
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

/// Renders every self-metric family.
#[instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    if let Some(db) = state.ready_db() {
        db.write_metrics(&mut out);
    }
    state.http_metrics().write_text(&mut out);
    state.otlp_metrics().write_text(&mut out);
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
