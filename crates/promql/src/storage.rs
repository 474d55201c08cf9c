//! The narrow seam between the engine and the data it reads: anything that
//! can select series by matchers over a time range.

use agentmon_model::{Labels, Matcher, Sample};
use agentmon_tsdb::{Db, Series, TsdbError};

/// Why a [`Storage`] could not answer a select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The select would load more samples than the caller allowed.
    TooManySamples,
    /// Reading failed; the message says why.
    Failed(String),
}

/// `found`, unless it holds more than `max_samples` samples.
pub(crate) fn within_limit(
    found: Vec<Series>,
    max_samples: usize,
) -> Result<Vec<Series>, SelectError> {
    let total: usize = found.iter().map(|s| s.samples.len()).sum();
    if total > max_samples {
        return Err(SelectError::TooManySamples);
    }
    Ok(found)
}

/// A source of series for the engine. `mint` and `maxt` are inclusive
/// milliseconds; the engine narrows the samples further itself.
pub trait Storage {
    /// The series selected by all `matchers`, with their samples in range,
    /// sorted by labels (the order aggregations see them in).
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String>;

    /// Like [`Storage::select`], but fails with
    /// [`SelectError::TooManySamples`] rather than return more than
    /// `max_samples` samples. Stores that can stop reading early should
    /// override the default, which only checks after reading everything.
    fn select_limited(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, SelectError> {
        let found = self
            .select(matchers, mint, maxt)
            .map_err(SelectError::Failed)?;
        within_limit(found, max_samples)
    }

    /// A token for the store's contents now, taken before reading, for
    /// [`Storage::changed_since`]; `None` (the default) if the store cannot
    /// tell what changed, which keeps the engine from reusing results.
    fn generation(&self) -> Option<u64> {
        None
    }

    /// The oldest sample time changed (appended or deleted) after
    /// `generation`, or `None` if nothing changed. The default answers
    /// "everything".
    fn changed_since(&self, generation: u64) -> Option<i64> {
        let _ = generation;
        Some(i64::MIN)
    }

    /// Calls `f` with the labels and samples of each series
    /// [`Storage::select`] would return, in the same order, until it returns
    /// `false`. Borrowed, so a store holding the samples already (such as
    /// [`crate::SharedReads`]) hands them over without a copy. Stores that
    /// can read one series at a time should override the default (which
    /// selects everything first), so that a query folding series as they
    /// come holds only one.
    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&Labels, &[Sample]) -> bool,
    ) -> Result<(), String> {
        for series in self.select(matchers, mint, maxt)? {
            if !f(&series.labels, &series.samples) {
                break;
            }
        }
        Ok(())
    }
}

impl Storage for Db {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        self.querier(mint, maxt)
            .select(matchers)
            .map_err(|e| e.to_string())
    }

    fn select_limited(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, SelectError> {
        self.querier(mint, maxt)
            .select_limited(matchers, max_samples)
            .map_err(|e| match e {
                TsdbError::TooManySamples { .. } => SelectError::TooManySamples,
                other => SelectError::Failed(other.to_string()),
            })
    }

    fn generation(&self) -> Option<u64> {
        Some(Db::generation(self))
    }

    fn changed_since(&self, generation: u64) -> Option<i64> {
        Db::changed_since(self, generation)
    }

    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&Labels, &[Sample]) -> bool,
    ) -> Result<(), String> {
        self.querier(mint, maxt)
            .select_each(matchers, &mut |series| f(&series.labels, &series.samples))
            .map_err(|e| e.to_string())
    }
}
