//! Rule output into agentmon's own store: an [`Appender`] over
//! [`agentmon_tsdb::Db`].
//!
//! Each call is one atomic append, so a rule's output is stored whole or
//! not at all; a refused batch (for example a sample older than the
//! series' newest) fails the rule with the store's reason, as Prometheus
//! marks a rule unhealthy when its samples are refused.

use std::sync::Arc;

use agentmon_model::SeriesBatch;
use agentmon_tsdb::Db;

use crate::query::{Appender, RuleSample};

/// Writes rule output into a [`Db`].
#[derive(Clone)]
pub struct TsdbAppender(pub Arc<Db>);

impl Appender for TsdbAppender {
    fn append(&self, samples: &[RuleSample]) -> Result<(), String> {
        let labels: Vec<_> = samples.iter().map(|s| s.labels.refs()).collect();
        let mut batch = SeriesBatch::with_capacity(samples.len(), labels.len() * 4, samples.len());
        for (refs, sample) in labels.iter().zip(samples) {
            batch.push_series(refs, std::slice::from_ref(&sample.sample));
        }
        self.0
            .append(&batch, &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
