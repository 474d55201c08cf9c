//! Series kept in memory for the engine's tests, selected as the TSDB
//! selects them: matched by all matchers, samples cut to the range, in
//! label order.

use agentmon_model::Matcher;
use agentmon_tsdb::Series;

use crate::storage::Storage;

/// A fixed set of series.
pub(crate) struct MemoryStorage(Vec<Series>);

impl MemoryStorage {
    /// Holds `series`, sorted by labels as the [`Storage`] contract asks.
    pub(crate) fn new(mut series: Vec<Series>) -> MemoryStorage {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        MemoryStorage(series)
    }
}

impl Storage for MemoryStorage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        Ok(self
            .0
            .iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
            })
            .map(|s| Series {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .filter(|p| p.t >= mint && p.t <= maxt)
                    .copied()
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect())
    }
}
