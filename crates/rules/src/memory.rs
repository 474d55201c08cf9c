//! Series held in memory: a [`Storage`] the engine reads and an
//! [`Appender`] rules write to, for unit tests of rules (`agentmon rules
//! test`) and this crate's tests.

use std::collections::BTreeMap;

use agentmon_model::{Labels, Matcher, Sample};
use agentmon_promql::Storage;
use agentmon_tsdb::Series;
use parking_lot::RwLock;

use crate::query::{Appender, RuleSample};

/// Series in memory, in label order, samples in time order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    series: RwLock<BTreeMap<Labels, Vec<Sample>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Adds one sample. A sample older than the series' newest is refused;
    /// one at the same time replaces it.
    pub fn add(&self, labels: Labels, sample: Sample) -> Result<(), String> {
        let mut series = self.series.write();
        let samples = series.entry(labels.clone()).or_default();
        match samples.last_mut() {
            Some(last) if last.t > sample.t => Err(format!(
                "out of order sample for {labels} at {} (newest is {})",
                sample.t, last.t
            )),
            Some(last) if last.t == sample.t => {
                *last = sample;
                Ok(())
            }
            _ => {
                samples.push(sample);
                Ok(())
            }
        }
    }

    /// Every sample of the series with exactly `labels`.
    pub fn samples(&self, labels: &Labels) -> Vec<Sample> {
        self.series.read().get(labels).cloned().unwrap_or_default()
    }

    /// Every series whose metric name is `name`, with its samples.
    pub fn series_named(&self, name: &str) -> Vec<Series> {
        self.series
            .read()
            .iter()
            .filter(|(labels, _)| labels.metric_name() == Some(name))
            .map(|(labels, samples)| Series {
                labels: labels.clone(),
                samples: samples.clone(),
            })
            .collect()
    }
}

impl Storage for MemoryStore {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, String> {
        Ok(self
            .series
            .read()
            .iter()
            .filter(|(labels, _)| {
                matchers
                    .iter()
                    .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            })
            .map(|(labels, samples)| Series {
                labels: labels.clone(),
                samples: samples
                    .iter()
                    .filter(|p| p.t >= mint && p.t <= maxt)
                    .copied()
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect())
    }
}

impl Appender for MemoryStore {
    fn append(&self, samples: &[RuleSample]) -> Result<(), String> {
        for sample in samples {
            self.add(sample.labels.clone(), sample.sample)?;
        }
        Ok(())
    }
}
