//! `GET /api/v1/status/buildinfo`, `/runtimeinfo`, `/config` and `/flags`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#status>):
//! what Grafana and other Prometheus clients read about the server.
//!
//! Build information carries Prometheus's six fields. `version` is the
//! Prometheus version whose HTTP API agentmon speaks ([`PROMETHEUS_API_VERSION`]),
//! not agentmon's own: Grafana reads it as a Prometheus version to decide
//! which API features it may use (for example `match[]` on label values),
//! and an agentmon version such as `0.1.0` would make it fall back to the
//! oldest behaviour. agentmon's own version is in `revision`
//! (`agentmon-<version>`), and `goVersion` says there is no Go.

use std::time::SystemTime;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::state::AppState;

/// The Prometheus release whose HTTP API agentmon follows.
pub const PROMETHEUS_API_VERSION: &str = "3.5.0";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    version: &'static str,
    revision: String,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: &'static str,
}

/// Answers Prometheus-shaped build information.
#[instrument(skip_all)]
pub async fn build_info() -> Response {
    success(BuildInfo {
        version: PROMETHEUS_API_VERSION,
        revision: format!("agentmon-{}", env!("CARGO_PKG_VERSION")),
        branch: "",
        build_user: "agentmon",
        build_date: "",
        go_version: "none (agentmon is written in Rust)",
    })
}

#[derive(Serialize)]
struct RuntimeInfo {
    #[serde(rename = "startTime")]
    start_time: String,
    #[serde(rename = "CWD")]
    cwd: String,
    #[serde(rename = "reloadConfigSuccess")]
    reload_config_success: bool,
    #[serde(rename = "lastConfigTime")]
    last_config_time: String,
    #[serde(rename = "corruptionCount")]
    corruption_count: u64,
    #[serde(rename = "goroutineCount")]
    goroutine_count: usize,
    #[serde(rename = "GOMAXPROCS")]
    gomaxprocs: usize,
    #[serde(rename = "GOMEMLIMIT")]
    gomemlimit: i64,
    #[serde(rename = "GOGC")]
    gogc: &'static str,
    #[serde(rename = "GODEBUG")]
    godebug: &'static str,
    #[serde(rename = "storageRetention")]
    storage_retention: String,
}

/// Answers Prometheus-shaped runtime information. The Go-runtime fields
/// get their nearest meaning: `goroutineCount` is the number of live async
/// tasks, `GOMAXPROCS` the number of async worker threads, `GOMEMLIMIT`
/// `i64::MAX` (no limit), `GOGC`/`GODEBUG` empty. The configuration is
/// read once at startup, so `lastConfigTime` is the start time.
#[instrument(skip_all)]
pub async fn runtime_info(State(state): State<AppState>) -> Result<Response, ApiError> {
    let started = rfc3339(state.started_at());
    let metrics = tokio::runtime::Handle::current().metrics();
    Ok(success(RuntimeInfo {
        start_time: started.clone(),
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        reload_config_success: true,
        last_config_time: started,
        corruption_count: 0,
        goroutine_count: metrics.num_alive_tasks(),
        gomaxprocs: metrics.num_workers(),
        gomemlimit: i64::MAX,
        gogc: "",
        godebug: "",
        storage_retention: state.server_info().storage_retention.clone(),
    }))
}

#[derive(Serialize)]
struct ConfigYaml {
    yaml: String,
}

/// Answers the configuration in effect as YAML: agentmon's sections, then
/// `global`, `rule_files` and `scrape_configs` as Prometheus renders them
/// (defaults filled in, secrets as `<secret>`), as of the last load or
/// reload.
#[instrument(skip_all)]
pub async fn config(State(state): State<AppState>) -> Response {
    let mut yaml = state.server_info().config_yaml.clone();
    if let Some(scraping) = state.scraping() {
        let prometheus = scraping
            .status_yaml
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !yaml.is_empty() && !yaml.ends_with('\n') {
            yaml.push('\n');
        }
        yaml.push_str(&prometheus);
    }
    success(ConfigYaml { yaml })
}

/// Answers every flag of `serve` with its value.
#[instrument(skip_all)]
pub async fn flags(State(state): State<AppState>) -> Response {
    success(&state.server_info().flags)
}

/// `time` as RFC 3339 UTC with millisecond precision, as Go writes a
/// `time.Time` in JSON (trailing zeros of the fraction dropped).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs() as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = agentmon_model::calendar::civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    let millis = since_epoch.subsec_millis();
    if millis != 0 {
        let fraction = format!("{millis:03}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_drops_trailing_zeros() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.5Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(rfc3339(t), "1970-01-02T00:00:00Z");
    }
}
