//! The narrow seam between the engine and the data it reads: anything that
//! can select series by matchers over a time range.

use agentmon_model::Matcher;
use agentmon_tsdb::{Db, Series};

/// A source of series for the engine. `mint` and `maxt` are inclusive
/// milliseconds; the engine narrows the samples further itself.
pub trait Storage {
    /// The series selected by all `matchers`, with their samples in range.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String>;
}

impl Storage for Db {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        self.querier(mint, maxt)
            .select(matchers)
            .map_err(|e| e.to_string())
    }
}
