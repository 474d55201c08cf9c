//! The PromQL evaluator: [`Engine`] parses a query with the `promql-parser`
//! crate and evaluates it against a [`Storage`] at one instant or at every
//! step of a range, with Prometheus 3.x semantics.
//!
//! Evaluation is step by step: a range query evaluates the expression at each
//! step time and gathers the per-step vectors into series. Each selector reads
//! its series from storage once per query ([`selector`]); operators live in
//! [`binary`] and [`aggregate`]. Like Prometheus with delayed name removal, operators that drop
//! `__name__` only mark their output, and the names are removed when the
//! query finishes; two series left with the same labels then fail the query.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod selector;

use std::collections::BTreeMap;
use std::time::Duration;

use agentmon_model::{Label, Labels, Sample, METRIC_NAME_LABEL};

use crate::error::PromqlError;
use crate::storage::Storage;
use crate::value::{InstantSample, RangeSeries, Value};
use eval::{EvalValue, Evaluator};

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a series' latest sample
    /// (Prometheus's `--query.lookback-delta`, default 5m).
    pub lookback_delta: Duration,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
        }
    }
}

/// Evaluates PromQL queries.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(options: EngineOptions) -> Engine {
        Engine { options }
    }

    /// Evaluates `query` at `time_ms` (an instant query).
    pub fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        time_ms: i64,
    ) -> Result<Value, PromqlError> {
        let expr = parse(query)?;
        let mut evaluator = Evaluator::new(storage, self.lookback_ms(), time_ms, time_ms);
        match evaluator.eval(&expr, time_ms)? {
            EvalValue::Scalar(v) => Ok(Value::Scalar { t: time_ms, v }),
            EvalValue::String(v) => Ok(Value::String { t: time_ms, v }),
            EvalValue::Vector(elems) => {
                let mut out = Vec::with_capacity(elems.len());
                for elem in elems {
                    let labels = finish_labels(elem.labels, elem.drop_name);
                    out.push(InstantSample {
                        labels,
                        t: time_ms,
                        v: elem.v,
                    });
                }
                check_unique(out.iter().map(|s| &s.labels))?;
                Ok(Value::Vector(out))
            }
            EvalValue::Matrix(series) => Ok(Value::Matrix(
                series
                    .into_iter()
                    .map(|s| RangeSeries {
                        labels: s.labels,
                        points: s.points,
                    })
                    .collect(),
            )),
        }
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` inclusive
    /// (a range query). The result is always a matrix sorted by labels.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, PromqlError> {
        if step_ms <= 0 {
            return Err(PromqlError::InvalidRange {
                reason: "step must be positive",
            });
        }
        if end_ms < start_ms {
            return Err(PromqlError::InvalidRange {
                reason: "end is before start",
            });
        }
        let expr = parse(query)?;
        let mut evaluator = Evaluator::new(storage, self.lookback_ms(), start_ms, end_ms);
        // Keyed by the labels still carrying their name and by whether the
        // name is to be dropped, so series differing only in name stay apart
        // until the end, as in Prometheus.
        let mut series: BTreeMap<(Labels, bool), Vec<Sample>> = BTreeMap::new();
        let mut t = start_ms;
        while t <= end_ms {
            match evaluator.eval(&expr, t)? {
                EvalValue::Scalar(v) => series
                    .entry((Labels::default(), false))
                    .or_default()
                    .push(Sample::new(t, v)),
                EvalValue::Vector(elems) => {
                    for elem in elems {
                        series
                            .entry((elem.labels, elem.drop_name))
                            .or_default()
                            .push(Sample::new(t, elem.v));
                    }
                }
                EvalValue::String(_) => {
                    return Err(PromqlError::InvalidRangeQueryType {
                        value_type: "string",
                    })
                }
                EvalValue::Matrix(_) => {
                    return Err(PromqlError::InvalidRangeQueryType {
                        value_type: "range vector",
                    })
                }
            }
            t += step_ms;
        }
        let mut out: Vec<RangeSeries> = series
            .into_iter()
            .map(|((labels, drop_name), points)| RangeSeries {
                labels: finish_labels(labels, drop_name),
                points,
            })
            .collect();
        check_unique(out.iter().map(|s| &s.labels))?;
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(Value::Matrix(out))
    }

    fn lookback_ms(&self) -> i64 {
        self.options.lookback_delta.as_millis() as i64
    }
}

fn parse(query: &str) -> Result<promql_parser::parser::Expr, PromqlError> {
    promql_parser::parser::parse(query).map_err(|message| {
        // Functions newer than the parser (experimental ones of Prometheus
        // 3.x) are unknown to it; like every function they are not
        // evaluated yet, so say that rather than call the query invalid.
        const UNKNOWN: &str = "unknown function with name '";
        match message.find(UNKNOWN) {
            Some(at) => {
                let rest = &message[at + UNKNOWN.len()..];
                let name = rest.split('\'').next().unwrap_or(rest);
                PromqlError::NotImplemented {
                    feature: format!("function {name} (unknown to the parser)"),
                }
            }
            None => match experimental_aggregation(query) {
                Some(name) => PromqlError::NotImplemented {
                    feature: format!("aggregation {name} (unknown to the parser)"),
                },
                None => PromqlError::Parse { message },
            },
        }
    })
}

/// The experimental aggregations of Prometheus 3.x that `promql-parser`
/// cannot parse, if the query names one.
fn experimental_aggregation(query: &str) -> Option<&'static str> {
    ["limitk", "limit_ratio"].into_iter().find(|name| {
        query.match_indices(name).any(|(at, _)| {
            let before = query[..at].chars().next_back();
            let after = query[at + name.len()..].chars().next();
            let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !is_word(before) && !is_word(after)
        })
    })
}

/// Applies a pending name drop.
fn finish_labels(labels: Labels, drop_name: bool) -> Labels {
    if drop_name {
        without_name(&labels)
    } else {
        labels
    }
}

/// The labels without `__name__`.
pub(crate) fn without_name(labels: &Labels) -> Labels {
    let kept: Vec<Label> = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME_LABEL)
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(kept)
}

fn check_unique<'a>(labels: impl Iterator<Item = &'a Labels>) -> Result<(), PromqlError> {
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return Err(PromqlError::DuplicateLabelset);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
