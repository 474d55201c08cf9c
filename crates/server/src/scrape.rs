//! The server's side of scraping: [`DbAppender`] writes what the scrape
//! manager ([`agentmon_ingest::scrape::ScrapeManager`]) pulls into the
//! database, one atomic [`Db::append`] per scrape. Until the WAL replay has
//! finished there is no database, and scrapes are refused (the target's
//! `lastError` says so).

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
        db.append(batch, metadata)
            .map(|summary| summary.series_created)
            .map_err(|e| e.to_string())
    }
}
