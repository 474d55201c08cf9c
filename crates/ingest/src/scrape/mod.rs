//! Pulling samples from HTTP endpoints, configured as prometheus.yml's
//! `scrape_configs`.
//!
//! - [`config`]: the `global` and `scrape_configs` YAML and its validation
//!   into [`ScrapeJob`]s.
//! - [`relabel`]: `relabel_configs` / `metric_relabel_configs`, every action.
//! - [`file_sd`]: `file_sd_configs` target groups from JSON/YAML files.
//! - [`target`]: static and discovered targets through relabeling to labels
//!   and URL.
//! - [`tls`]: a job's HTTPS client from its `tls_config`.
//! - [`render`]: the resolved jobs as YAML for `/api/v1/status/config`.
//! - [`scrape_loop`]: one target's fetch, parse, label, limit and atomic
//!   append, with report series and stale markers.
//! - [`manager`]: one loop task per target, file discovery tasks, reloads,
//!   the targets snapshot.
//!
//! The manager writes through the narrow [`SampleAppender`] seam, so this
//! crate needs no storage: the server implements it on the database.

pub mod config;
pub mod file_sd;
pub mod manager;
mod md5;
pub mod relabel;
pub mod render;
pub mod scrape_loop;
pub mod target;
pub mod tls;

pub use config::{resolve_jobs, GlobalConfig, ScrapeConfig, ScrapeJob};
pub use manager::{ActiveTarget, ScrapeManager, TargetsSnapshot};
pub use scrape_loop::{Health, ScrapeStatus};

use agentmon_model::{MetricMetadata, SeriesBatch};

/// Where scraped samples go: one write per call.
pub trait SampleAppender: Send + Sync + 'static {
    /// Stores the samples of `batch` (a store may drop single samples it
    /// cannot keep, as Prometheus drops out-of-order ones, and count them);
    /// returns how many series the write created, or why the whole write
    /// was refused.
    fn append(
        &self,
        batch: &SeriesBatch<'_>,
        metadata: &[(&str, MetricMetadata)],
    ) -> Result<usize, String>;

    /// Told when a target's health changes between up and down (not on
    /// its first scrape): `labels` are the target's labels (`job`,
    /// `instance`, ...), `error` why the scrape failed (empty when it came
    /// back up). Called on the scrape loop; keep it short. Does nothing
    /// unless implemented.
    fn target_health_changed(
        &self,
        _labels: &agentmon_model::Labels,
        _scrape_url: &str,
        _health: Health,
        _error: &str,
    ) {
    }
}

#[cfg(test)]
mod tests;
