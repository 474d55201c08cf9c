//! A [`Storage`] that reads each selector once for a batch of queries that
//! run together, such as the rules of one group evaluated at one timestamp,
//! many of which select the same series over the same or nested windows.
//!
//! A selection is remembered by its matchers with the time range read; a
//! later selection with the same matchers over a range inside it is answered
//! from memory, each series' samples cut to the narrower range (and series
//! left with none dropped), which is exactly what reading that range would
//! give. A selection over a range the entry does not cover reads the union
//! of both ranges and replaces the entry. Only selections naming one metric
//! (`__name__="…"`) that is not in the excluded names are shared: the
//! caller excludes the series it writes itself between the queries (a rule
//! group's recording rules and `ALERTS`/`ALERTS_FOR_STATE`), so its own
//! writes are always seen. Appends made by others while the batch runs are
//! seen by the queries that read first and not by those answered from
//! memory, as if they had arrived after the batch's first read.
//!
//! The store's generation is not passed on, so the engine never keeps
//! results computed from remembered data beyond the batch.
//!
//! A batch that repeats (a group's next evaluation) passes the same
//! [`ReadPlan`], which learns from the previous batch how far back each
//! selection reached and how many queries used it: the first read then
//! covers every later query's window at once, and an entry is dropped
//! (its series handed over without a copy) at its last expected use, so
//! memory holds only the selections still to be used. A wrong plan costs
//! a read again, never a different answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use agentmon_model::{Labels, MatchType, Matcher, Sample, METRIC_NAME_LABEL};
use agentmon_tsdb::Series;

use crate::storage::{SelectError, Selected, Storage};

/// Samples remembered at most across all entries (16 bytes each, so
/// 16 MB). The benchmark's groups of 100 rules need about this much to
/// share their largest selections (two of 240 k and 360 k samples); at
/// half of it their rule CPU rose by 60 % (docs/benchmarks.md). A
/// selection past this is read again by each query that asks (streamed
/// where the query can).
const MAX_SHARED_SAMPLES: usize = 1_000_000;

/// What a batch learnt about one selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Planned {
    /// How far before its end the union of the queries' ranges began (ms).
    reach_ms: i64,
    /// How many queries used it.
    uses: u32,
}

/// What one batch of queries learnt about its selections, for the next
/// batch of the same queries (a rule group's next evaluation).
#[derive(Debug, Default)]
pub struct ReadPlan {
    selections: Mutex<HashMap<String, Planned>>,
}

impl ReadPlan {
    fn get(&self, key: &str) -> Option<Planned> {
        self.selections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .copied()
    }

    fn replace(&self, learnt: HashMap<String, Planned>) {
        *self
            .selections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = learnt;
    }
}

/// A remembered selection's series, and whether they span more than was
/// asked for (so samples must be cut).
type Found = (Arc<Vec<Series>>, bool);

/// One remembered selection: the series over `[mint, maxt]`.
struct Entry {
    mint: i64,
    maxt: i64,
    series: Arc<Vec<Series>>,
    samples: usize,
    /// After how many uses in this batch the plan expects no more.
    last_use: Option<u32>,
}

#[derive(Default)]
struct Remembered {
    entries: HashMap<String, Entry>,
    samples: usize,
    /// This batch's selections so far, for the plan of the next one.
    learnt: HashMap<String, Planned>,
}

/// A [`Storage`] over `inner` that shares selections between the queries
/// made through it. Meant to live for one batch of queries at one time and
/// then be dropped.
pub struct SharedReads<S> {
    inner: Arc<S>,
    excluded: HashSet<String>,
    plan: Arc<ReadPlan>,
    remembered: Mutex<Remembered>,
}

impl<S> Drop for SharedReads<S> {
    fn drop(&mut self) {
        let learnt = std::mem::take(&mut self.remembered().learnt);
        self.plan.replace(learnt);
    }
}

impl<S> SharedReads<S> {
    /// The remembered selections; a panic elsewhere while they were held
    /// left them whole (entries are replaced in one step), so poisoning is
    /// ignored.
    fn remembered(&self) -> MutexGuard<'_, Remembered> {
        self.remembered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: Storage> SharedReads<S> {
    /// Shares selections of `inner`, except of the metrics named in
    /// `excluded` (and of selections not naming one metric), reading as
    /// `plan` learnt from the previous batch and teaching it this one's
    /// selections when dropped.
    pub fn new(inner: Arc<S>, excluded: HashSet<String>, plan: Arc<ReadPlan>) -> SharedReads<S> {
        SharedReads {
            inner,
            excluded,
            plan,
            remembered: Mutex::new(Remembered::default()),
        }
    }

    /// The key of a shareable selection, or `None`.
    fn key(&self, matchers: &[Matcher]) -> Option<String> {
        let named = matchers.iter().find(|m| {
            m.name == METRIC_NAME_LABEL && m.match_type == MatchType::Equal && !m.value.is_empty()
        })?;
        if self.excluded.contains(&named.value) {
            return None;
        }
        let mut key = String::new();
        for m in matchers {
            let op = match m.match_type {
                MatchType::Equal => "=",
                MatchType::NotEqual => "!=",
                MatchType::RegexMatch => "=~",
                MatchType::RegexNoMatch => "!~",
            };
            // Names cannot hold NUL; values may, so lengths delimit them.
            key.push_str(&m.name);
            key.push_str(op);
            key.push_str(&m.value.len().to_string());
            key.push(':');
            key.push_str(&m.value);
            key.push('\0');
        }
        Some(key)
    }

    /// The remembered series of an entry covering `[mint, maxt]`, and
    /// whether the entry's range is wider (so samples must be cut). Counts
    /// the use, and drops the entry at its last use as planned.
    fn lookup(&self, key: &str, mint: i64, maxt: i64) -> Option<Found> {
        let mut guard = self.remembered();
        let remembered = &mut *guard;
        let entry = remembered.entries.get(key)?;
        if entry.mint > mint || entry.maxt < maxt {
            return None;
        }
        let wider = entry.mint != mint || entry.maxt != maxt;
        let learnt = remembered.learnt.entry(key.to_owned()).or_default();
        learnt.uses += 1;
        learnt.reach_ms = learnt.reach_ms.max(maxt.saturating_sub(mint));
        let last = entry.last_use.is_some_and(|n| learnt.uses >= n);
        if last {
            let entry = remembered.entries.remove(key)?;
            remembered.samples -= entry.samples;
            return Some((entry.series, wider));
        }
        Some((entry.series.clone(), wider))
    }

    /// Reads `[mint, maxt]`, widened to an existing entry's range and to
    /// the plan's reach, and remembers it if it fits; `Ok(false)` when it
    /// is too large to keep.
    fn read(
        &self,
        key: String,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<bool, SelectError> {
        let planned = self.plan.get(&key);
        let (mint, maxt, room, last_use) = {
            let remembered = self.remembered();
            let (lo, hi, old) = match remembered.entries.get(&key) {
                Some(e) => (e.mint.min(mint), e.maxt.max(maxt), e.samples),
                None => (mint, maxt, 0),
            };
            let lo = match planned {
                Some(p) => lo.min(hi.saturating_sub(p.reach_ms)),
                None => lo,
            };
            let room = (MAX_SHARED_SAMPLES + old).saturating_sub(remembered.samples);
            (lo, hi, room, planned.map(|p| p.uses))
        };
        let series = match self.inner.select_limited(matchers, mint, maxt, room) {
            Ok(series) => series,
            Err(SelectError::TooManySamples) => return Ok(false),
            Err(other) => return Err(other),
        };
        let samples = series.iter().map(|s| s.samples.len()).sum();
        let mut remembered = self.remembered();
        let entry = Entry {
            mint,
            maxt,
            series: Arc::new(series),
            samples,
            last_use,
        };
        if let Some(old) = remembered.entries.insert(key, entry) {
            remembered.samples -= old.samples;
        }
        remembered.samples += samples;
        Ok(true)
    }

    /// The selection from memory, reading it first if needed, with whether
    /// it must be cut to `[mint, maxt]`; `None` when it is not shareable or
    /// too large.
    fn shared(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<Found>, SelectError> {
        let Some(key) = self.key(matchers) else {
            return Ok(None);
        };
        if let Some(found) = self.lookup(&key, mint, maxt) {
            return Ok(Some(found));
        }
        if !self.read(key.clone(), matchers, mint, maxt)? {
            return Ok(None);
        }
        Ok(self.lookup(&key, mint, maxt))
    }

    /// The selection from memory, borrowed and cut to `[mint, maxt]`;
    /// `None` as for [`SharedReads::shared`].
    fn shared_selected(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<Selected>, SelectError> {
        let Some((series, wider)) = self.shared(matchers, mint, maxt)? else {
            return Ok(None);
        };
        Ok(Some(if wider {
            Selected::cut(series, mint, maxt)
        } else {
            Selected::whole(series)
        }))
    }
}

impl<S: Storage> Storage for SharedReads<S> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        match self.shared_selected(matchers, mint, maxt) {
            Ok(Some(found)) => Ok(found.into_owned()),
            Ok(None) => self.inner.select(matchers, mint, maxt),
            Err(SelectError::Failed(message)) => Err(message),
            Err(SelectError::TooManySamples) => self.inner.select(matchers, mint, maxt),
        }
    }

    fn select_limited(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, SelectError> {
        self.select_shared(matchers, mint, maxt, max_samples)
            .map(Selected::into_owned)
    }

    fn select_shared(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Selected, SelectError> {
        match self.shared_selected(matchers, mint, maxt)? {
            Some(found) => found.within_limit(max_samples),
            None => self.inner.select_shared(matchers, mint, maxt, max_samples),
        }
    }

    fn select_each(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        f: &mut dyn FnMut(&Labels, &[Sample]) -> bool,
    ) -> Result<(), String> {
        let found = match self.shared_selected(matchers, mint, maxt) {
            Ok(Some(found)) => found,
            Ok(None) | Err(SelectError::TooManySamples) => {
                return self.inner.select_each(matchers, mint, maxt, f)
            }
            Err(SelectError::Failed(message)) => return Err(message),
        };
        // Borrowed: each series' samples in range are a slice of the
        // remembered ones.
        for (labels, samples) in found.iter() {
            if !samples.is_empty() && !f(labels, samples) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "shared_reads_tests.rs"]
mod tests;
