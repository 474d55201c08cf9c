//! The server's side of scraping: [`DbAppender`] writes what the scrape
//! manager ([`agentmon_ingest::scrape::ScrapeManager`]) pulls into the
//! database, one append per scrape in which samples the store refuses (out
//! of order, a different value at a stored time) are dropped and counted,
//! not the whole scrape. Until the WAL replay has
//! finished there is no database, and scrapes are refused (the target's
//! `lastError` says so). A target whose scrapes start failing is handed to
//! the event webhooks as `instance_offline`.

use agentmon_ingest::scrape::SampleAppender;
use agentmon_model::{MetricMetadata, SeriesBatch};

use crate::state::{AppState, NOT_READY_REASON};

/// Appends scraped samples to the state's database.
pub struct DbAppender {
    state: AppState,
}

impl DbAppender {
    pub fn new(state: AppState) -> DbAppender {
        DbAppender { state }
    }
}

impl SampleAppender for DbAppender {
    fn append(
        &self,
        batch: &SeriesBatch<'_>,
        metadata: &[(&str, MetricMetadata)],
    ) -> Result<usize, String> {
        let db = self
            .state
            .ready_db()
            .ok_or_else(|| format!("database not ready: {NOT_READY_REASON}"))?;
        // As Prometheus: samples that cannot be stored (out of order, or
        // another value at a stored time) are dropped and counted in the
        // tsdb's rejected-samples metric; the rest of the scrape lands.
        let summary = db
            .append_lenient(batch, metadata)
            .map_err(|e| e.to_string())?;
        if !summary.samples_rejected.is_empty() {
            tracing::debug!(rejected = ?summary.samples_rejected, "scraped samples dropped");
        }
        Ok(summary.series_created)
    }

    /// A target going down is the event webhooks' `instance_offline`.
    fn target_health_changed(
        &self,
        labels: &agentmon_model::Labels,
        _scrape_url: &str,
        health: agentmon_ingest::scrape::Health,
        error: &str,
    ) {
        if let Some(webhooks) = self.state.webhooks() {
            webhooks.emit_target_health(labels, health, error);
        }
    }
}

/// The running scrape manager and the file its jobs came from, so that
/// `POST /-/reload` and SIGHUP ([`crate::AppState::reload`]) can read the
/// jobs again.
pub struct Scraping {
    pub manager: std::sync::Arc<agentmon_ingest::scrape::ScrapeManager>,
    /// `None` when the server runs without a config file.
    pub config_path: Option<std::path::PathBuf>,
    /// `global`, `rule_files` and `scrape_configs` of the configuration in
    /// effect as Prometheus renders them, for `/api/v1/status/config`.
    pub status_yaml: std::sync::Mutex<String>,
}

impl Scraping {
    /// Scraping by `manager`, its jobs read from `config_path`.
    pub fn new(
        manager: std::sync::Arc<agentmon_ingest::scrape::ScrapeManager>,
        config_path: Option<std::path::PathBuf>,
    ) -> Scraping {
        Scraping {
            manager,
            config_path,
            status_yaml: std::sync::Mutex::default(),
        }
    }

    /// Applies the scrape jobs of `config` (already validated into `jobs`)
    /// and remembers its rendering for the status endpoint.
    pub async fn apply(
        &self,
        config: &crate::config::Config,
        jobs: Vec<agentmon_ingest::scrape::ScrapeJob>,
    ) {
        let yaml =
            agentmon_ingest::scrape::render::status_yaml(&config.global, &config.rule_files, &jobs);
        *self.status_yaml.lock().unwrap_or_else(|p| p.into_inner()) = yaml;
        self.manager.apply(jobs).await;
    }

    /// Appends the scrape families (`agentmon_sd_file_read_errors_total`).
    pub fn write_metrics(&self, out: &mut String) {
        out.push_str("# HELP agentmon_sd_file_read_errors_total The number of file_sd_configs files that could not be read or parsed (as prometheus_sd_file_read_errors_total).
");
        out.push_str(
            "# TYPE agentmon_sd_file_read_errors_total counter
",
        );
        out.push_str(&format!(
            "agentmon_sd_file_read_errors_total {}\n",
            self.manager.sd_file_read_errors()
        ));
    }
}
