//! The narrow seam between the engine and the data it reads: anything that
//! can select series by matchers over a time range.

use std::ops::Range;
use std::sync::Arc;

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

/// The positions of a time-sorted list's samples in `[mint, maxt]`.
pub(crate) fn sample_range(samples: &[Sample], mint: i64, maxt: i64) -> Range<usize> {
    let lo = samples.partition_point(|p| p.t < mint);
    let hi = samples.partition_point(|p| p.t <= maxt);
    lo..hi.max(lo)
}

/// The series of one select, as [`Storage::select_shared`] hands them out:
/// either owned, or borrowed from a selection shared with other queries
/// (each series' samples a range of the shared ones), so cutting a shared
/// selection to a query's window copies no samples.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    series: Arc<Vec<Series>>,
    /// The series handed out, by index into `series`, each with the range
    /// of its samples; `None` when all of them are handed out whole.
    cuts: Option<Vec<(usize, Range<usize>)>>,
}

impl Selected {
    /// Series of one's own, handed out whole.
    pub fn owned(series: Vec<Series>) -> Selected {
        Selected::whole(Arc::new(series))
    }

    /// Shared series, handed out whole.
    pub fn whole(series: Arc<Vec<Series>>) -> Selected {
        Selected { series, cuts: None }
    }

    /// Shared series, each cut to the samples in `[mint, maxt]`; series
    /// left with none are not handed out.
    pub fn cut(series: Arc<Vec<Series>>, mint: i64, maxt: i64) -> Selected {
        let cuts = series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let range = sample_range(&s.samples, mint, maxt);
                (!range.is_empty()).then_some((i, range))
            })
            .collect();
        Selected {
            series,
            cuts: Some(cuts),
        }
    }

    /// How many series are handed out.
    pub fn len(&self) -> usize {
        match &self.cuts {
            Some(cuts) => cuts.len(),
            None => self.series.len(),
        }
    }

    /// Whether no series is handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each series' labels and samples, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Labels, &[Sample])> {
        (0..self.len()).map(move |k| match &self.cuts {
            Some(cuts) => {
                let (i, range) = &cuts[k];
                let s = &self.series[*i];
                (&s.labels, &s.samples[range.clone()])
            }
            None => {
                let s = &self.series[k];
                (&s.labels, s.samples.as_slice())
            }
        })
    }

    /// The samples of all series handed out.
    pub fn samples(&self) -> usize {
        self.iter().map(|(_, samples)| samples.len()).sum()
    }

    /// Itself, unless it hands out more than `max_samples` samples.
    pub fn within_limit(self, max_samples: usize) -> Result<Selected, SelectError> {
        if self.samples() > max_samples {
            return Err(SelectError::TooManySamples);
        }
        Ok(self)
    }

    /// The series as owned ones (without a copy when they are not shared).
    pub fn into_owned(self) -> Vec<Series> {
        if self.cuts.is_none() {
            return Arc::try_unwrap(self.series).unwrap_or_else(|s| s.as_ref().clone());
        }
        self.iter()
            .map(|(labels, samples)| Series {
                labels: labels.clone(),
                samples: samples.to_vec(),
            })
            .collect()
    }
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
        Selected::owned(found)
            .within_limit(max_samples)
            .map(Selected::into_owned)
    }

    /// Like [`Storage::select_limited`], but the series may be borrowed
    /// from a selection the store shares between queries (see
    /// [`Selected`]). The default owns what `select_limited` gives.
    fn select_shared(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Selected, SelectError> {
        self.select_limited(matchers, mint, maxt, max_samples)
            .map(Selected::owned)
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
