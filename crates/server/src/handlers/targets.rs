//! `GET /api/v1/targets`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#targets>):
//! the scrape targets and their last scrape, in Prometheus's shape.
//!
//! `state` is `active`, `dropped` or `any` (the default); another value is
//! refused. `scrapePool` keeps one job's targets. A target not scraped yet
//! has health `unknown` and `lastScrape` `0001-01-01T00:00:00Z`, as in
//! Prometheus. Without `scrape_configs` both lists are empty. Targets of
//! `file_sd_configs` come and go as their files change, without a reload;
//! `droppedTargetCounts` counts every dropped target even when
//! `keep_dropped_targets` lists fewer.

use std::collections::BTreeMap;

use agentmon_ingest::scrape::TargetsSnapshot;
use agentmon_model::duration;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::server_status::rfc3339;
use crate::handlers::{success, LabelsJson};
use crate::params::Params;
use crate::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActiveTargetJson<'a> {
    discovered_labels: &'a BTreeMap<String, String>,
    labels: LabelsJson<'a>,
    scrape_pool: &'a str,
    scrape_url: &'a str,
    global_url: &'a str,
    last_error: &'a str,
    last_scrape: String,
    last_scrape_duration: f64,
    health: &'static str,
    scrape_interval: String,
    scrape_timeout: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DroppedTargetJson<'a> {
    discovered_labels: &'a BTreeMap<String, String>,
    scrape_pool: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetsJson<'a> {
    active_targets: Vec<ActiveTargetJson<'a>>,
    dropped_targets: Vec<DroppedTargetJson<'a>>,
    dropped_target_counts: BTreeMap<&'a str, usize>,
}

/// Answers the active and dropped scrape targets.
#[instrument(skip_all)]
pub async fn targets(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::from_uri(&uri)?;
    let (show_active, show_dropped) = match params.get("state").unwrap_or("any") {
        "" | "any" => (true, true),
        "active" => (true, false),
        "dropped" => (false, true),
        other => {
            return Err(ApiError::BadData(format!(
                "invalid state {other:?}: use active, dropped or any"
            )))
        }
    };
    let pool = params.get("scrapePool").filter(|p| !p.is_empty());
    let snapshot = state
        .scraping()
        .map(|s| s.manager.targets())
        .unwrap_or_default();
    Ok(success(render(&snapshot, show_active, show_dropped, pool)))
}

/// `POST /-/reload` (admin): reads the config file again and applies its
/// scrape jobs, `alertmanager` section and rule files; an invalid file is
/// refused and changes nothing, a broken rule file keeps the last good
/// rules (see [`AppState::reload`]).
#[instrument(skip_all)]
pub async fn reload(State(state): State<AppState>) -> Result<Response, ApiError> {
    let report = state
        .reload()
        .await
        .map_err(|e| ApiError::BadData(format!("failed to reload config: {e}")))?;
    Ok(success(report))
}

fn render<'a>(
    snapshot: &'a TargetsSnapshot,
    show_active: bool,
    show_dropped: bool,
    pool: Option<&str>,
) -> TargetsJson<'a> {
    let in_pool = |name: &str| pool.is_none_or(|p| p == name);
    let active_targets = snapshot
        .active
        .iter()
        .filter(|t| show_active && in_pool(&t.scrape_pool))
        .map(|t| ActiveTargetJson {
            discovered_labels: &t.target.discovered_labels,
            labels: LabelsJson(&t.target.labels),
            scrape_pool: &t.scrape_pool,
            scrape_url: &t.target.scrape_url,
            global_url: &t.target.scrape_url,
            last_error: &t.status.last_error,
            last_scrape: t
                .status
                .last_scrape
                .map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339),
            last_scrape_duration: t.status.last_scrape_duration.as_secs_f64(),
            health: t.status.health.as_str(),
            scrape_interval: duration::format_millis(t.scrape_interval.as_millis() as u64),
            scrape_timeout: duration::format_millis(t.scrape_timeout.as_millis() as u64),
        })
        .collect();
    let dropped_target_counts = snapshot
        .dropped_counts
        .iter()
        .filter(|(pool, _)| in_pool(pool))
        .map(|(pool, count)| (pool.as_str(), *count))
        .collect();
    let mut dropped_targets = Vec::new();
    for (scrape_pool, dropped) in &snapshot.dropped {
        if !in_pool(scrape_pool) {
            continue;
        }
        if show_dropped {
            dropped_targets.push(DroppedTargetJson {
                discovered_labels: &dropped.discovered_labels,
                scrape_pool,
            });
        }
    }
    TargetsJson {
        active_targets,
        dropped_targets,
        dropped_target_counts,
    }
}
