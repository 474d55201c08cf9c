//! agentmon's HTTP API: one axum [`Router`] speaking the Prometheus HTTP API
//! v1 and the VictoriaMetrics import/export formats, behind one auth layer.
//!
//! - [`router`] builds the app from an [`AppState`]; it needs no socket, so
//!   tests drive it with `tower::ServiceExt::oneshot`.
//! - [`AppState`] holds the database behind a once-set cell: the listener
//!   starts before the WAL replay ends, and data endpoints answer 503
//!   (`errorType: unavailable`) until [`AppState::set_db`] is called.
//! - [`config`] reads `agentmon.yml` and combines it with flags; the
//!   resolved settings are shown back (secrets hidden) by
//!   `/api/v1/status/config`.
//! - `engine` is the seam to the PromQL engine: admission control
//!   (`max_concurrency`), the blocking pool, cancellation when a client
//!   goes away, and the mapping of query errors to Prometheus's error types.
//! - `json` writes answers byte for byte as Prometheus writes them.
//! - [`run_agent_metrics_writer`] writes the metrics derived from agent
//!   events (`agentmon_agents`) into the database every
//!   `agents.metrics_interval`, like a scrape of `/metrics/agents`.
//! - [`auth`] checks bearer tokens and roles (`read < write < admin`).
//! - [`selector`] parses the series selectors of `match[]`.
//! - `handlers` has one file per endpoint family; `storage` and `decode`
//!   are the only modules that call the storage engine and the decoders,
//!   and [`error`] is the one place where errors become HTTP statuses.
//!
//! Endpoints: `POST /api/v1/write` (remote write 1.0), `POST /v1/metrics`
//! and `POST /v1/traces` (OTLP/HTTP, protobuf or JSON, see `docs/otlp.md`),
//! `POST /api/v1/import/prometheus`, `POST /api/v1/import`,
//! `GET|POST /api/v1/export`, `GET|POST /api/v1/query`,
//! `GET|POST /api/v1/query_range`, `GET|POST /api/v1/format_query`,
//! `GET|POST /api/v1/parse_query`, `GET|POST /api/v1/query_exemplars`,
//! `GET|POST /api/v1/series`,
//! `GET|POST /api/v1/labels`, `GET|POST /api/v1/label/{name}/values`,
//! `GET|POST /api/v1/metadata`, `GET /api/v1/status/tsdb`,
//! `GET /api/v1/status/buildinfo`, `GET /api/v1/status/runtimeinfo`,
//! `GET /api/v1/status/config`, `GET /api/v1/status/flags`,
//! `POST|PUT /api/v1/admin/tsdb/flush`, `POST /api/v1/events` (agent
//! events, which update the derived metrics of `agentmon_agents`),
//! `GET /api/v1/pricing` (effective price table, unpriced models),
//! `GET /api/v1/sessions`, `GET /api/v1/sessions/{id}` (the session
//! timeline store of `agentmon_sessions`, in SQLite), the health checks of
//! `agentmon_probes` (`/api/v1/monitor/health`,
//! `/api/v1/monitor/health/{service}`, `/api/v1/monitor/health/targets`
//! and `/api/v1/monitor/health/targets/{name}`; probe results are written
//! by [`DbProbeWriter`]),
//! `GET /api/v1/rules`, `GET /api/v1/alerts` (the rule manager of
//! `agentmon_rules`, see [`Rules`]; `POST /-/reload` reloads its files),
//! the notification pipeline of `agentmon_notify` ([`alerting`]): the
//! Alertmanager API v2 (`/api/v2/alerts`, `/api/v2/alerts/groups`,
//! `/api/v2/silences`, `/api/v2/silence/{id}`, `/api/v2/status`,
//! `/api/v2/receivers`) and the delivery log
//! (`GET /api/v1/monitor/notifications`), the API-made alert rules of
//! [`alert_rules`] (`/api/v1/monitor/alerts`, `/api/v1/monitor/alerts/rules`,
//! `/api/v1/monitor/alerts/{name}`, `/api/v1/monitor/alerts/active`,
//! `/api/v1/monitor/alerts/{id}/acknowledge`,
//! `/api/v1/monitor/alerts/{name}/test`; see `docs/alert-presets.md`),
//! (`GET /api/v1/monitor/notifications`), the event webhooks ([`webhooks`]:
//! `GET|POST /api/v1/monitor/webhooks`,
//! `GET|DELETE /api/v1/monitor/webhooks/{name}`,
//! `POST /api/v1/monitor/webhooks/{name}/test`),
//! `GET /metrics`, `GET /metrics/agents`, `GET /health/live`,
//! `GET /health/ready`, and the live stream of accepted agent events
//! ([`live`]): `GET /ws` (WebSocket) and `GET /api/v1/stream` (Server-Sent
//! Events).

mod agent_writer;
pub mod alert_rules;
mod alert_rules_store;
pub mod alerting;
pub mod auth;
pub mod config;
mod config_yaml;
mod decode;
mod engine;
pub mod error;
mod handlers;
mod json;
pub mod live;
mod metrics;
mod otlp_metrics;
mod params;
mod probe_writer;
mod process;
mod rules;
mod scrape;
pub mod selector;
mod session_retention;
mod state;
mod storage;
mod timestamp;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

pub use crate::agent_writer::{run_agent_metrics_writer, write_agent_metrics};
pub use crate::alert_rules::{AlertRules, AlertRulesError};
pub use crate::alerting::{AlertSink, Alerting, AlertingTasks};
pub use crate::decode::Limits;
pub use crate::probe_writer::DbProbeWriter;
pub use crate::rules::{RuleSettings, Rules, DEFAULT_EVALUATION_INTERVAL};
pub use crate::scrape::{DbAppender, Scraping};
pub use crate::session_retention::run_session_retention;
pub use crate::state::{AppState, ServerInfo, NOT_READY_REASON};
pub use crate::storage::Db;
pub use crate::webhooks::{EventWebhooks, HealthChangesToWebhooks};

/// Builds the HTTP app. Every route except `/health/*` goes through the auth
/// layer; every route is counted in `agentmon_http_*` metrics.
pub fn router(state: AppState) -> Router {
    use handlers::*;

    let api = Router::new()
        .route("/api/v1/write", post(write::remote_write))
        .route("/v1/metrics", post(otlp::post_metrics))
        .route("/v1/traces", post(otlp::post_traces))
        .route("/api/v1/import/prometheus", post(import::import_prometheus))
        .route("/api/v1/import", post(import::import_json))
        .route("/api/v1/export", get(export::export).post(export::export))
        .route(
            "/api/v1/query",
            get(query::instant_query).post(query::instant_query),
        )
        .route(
            "/api/v1/query_range",
            get(query::range_query).post(query::range_query),
        )
        .route(
            "/api/v1/format_query",
            get(expression::format_query).post(expression::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(expression::parse_query).post(expression::parse_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(expression::query_exemplars).post(expression::query_exemplars),
        )
        .route("/api/v1/series", get(series::series).post(series::series))
        .route(
            "/api/v1/labels",
            get(labels::label_names).post(labels::label_names),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(labels::label_values).post(labels::label_values),
        )
        .route(
            "/api/v1/metadata",
            get(metadata::metadata).post(metadata::metadata),
        )
        .route("/api/v1/status/tsdb", get(status::tsdb_status))
        .route("/api/v1/status/buildinfo", get(server_status::build_info))
        .route(
            "/api/v1/status/runtimeinfo",
            get(server_status::runtime_info),
        )
        .route("/api/v1/status/config", get(server_status::config))
        .route("/api/v1/status/flags", get(server_status::flags))
        .route(
            "/api/v1/admin/tsdb/flush",
            post(admin::flush).put(admin::flush),
        )
        .route("/api/v1/targets", get(targets::targets))
        .route("/-/reload", post(targets::reload))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/events", post(events::post_events))
        .route("/api/v1/pricing", get(pricing::pricing))
        .route("/api/v1/sessions", get(sessions::list_sessions))
        .route("/api/v1/sessions/{id}", get(sessions::get_session))
        .route("/api/v1/monitor/health", get(health_checks::fleet_health))
        .route(
            "/api/v1/monitor/health/targets",
            get(health_checks::list_targets).post(health_checks::add_target),
        )
        .route(
            "/api/v1/monitor/health/targets/{name}",
            axum::routing::delete(health_checks::delete_target),
        )
        .route(
            "/api/v1/monitor/health/{service}",
            get(health_checks::service_health),
        )
        .route(
            "/api/v2/alerts",
            get(alertmanager::get_alerts).post(alertmanager::post_alerts),
        )
        .route("/api/v2/alerts/groups", get(alertmanager::get_alert_groups))
        .route(
            "/api/v2/silences",
            get(alertmanager::get_silences).post(alertmanager::post_silences),
        )
        .route(
            "/api/v2/silence/{id}",
            get(alertmanager::get_silence).delete(alertmanager::delete_silence),
        )
        .route("/api/v2/status", get(alertmanager::status))
        .route("/api/v2/receivers", get(alertmanager::receivers))
        .route(
            "/api/v1/monitor/notifications",
            get(alertmanager::notifications),
        )
        // API-made alert rules (presets and PromQL conditions).
        .route(
            "/api/v1/monitor/alerts",
            get(monitor_alerts::list_rules).post(monitor_alerts::create_preset),
        )
        .route(
            "/api/v1/monitor/alerts/rules",
            get(monitor_alerts::list_rules).post(monitor_alerts::create_rule),
        )
        .route(
            "/api/v1/monitor/alerts/active",
            get(monitor_alerts::active_alerts),
        )
        .route(
            "/api/v1/monitor/alerts/{name}",
            axum::routing::delete(monitor_alerts::delete_rule),
        )
        .route(
            "/api/v1/monitor/alerts/{name}/acknowledge",
            post(monitor_alerts::acknowledge),
        )
        .route(
            "/api/v1/monitor/alerts/{name}/test",
            post(monitor_alerts::test_rule),
        )
        // Event webhooks.
        .route(
            "/api/v1/monitor/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/monitor/webhooks/{name}",
            get(webhooks::get_one).delete(webhooks::delete),
        )
        .route("/api/v1/monitor/webhooks/{name}/test", post(webhooks::test))
        .route("/ws", get(crate::live::ws::websocket))
        .route("/api/v1/stream", get(crate::live::sse::stream))
        .route("/metrics", get(self_metrics::metrics))
        .route("/metrics/agents", get(events::agent_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), auth::require_role));

    let health = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .method_not_allowed_fallback(method_not_allowed);

    let max_body_bytes = state.limits().max_body_bytes;
    Router::new()
        .merge(health)
        .merge(api)
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}
