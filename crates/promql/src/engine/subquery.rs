//! Subqueries: `expr[range:step]`, with `offset` and `@`, evaluated into a
//! range vector.
//!
//! Semantics follow Prometheus 3.x (`promql/engine.go`): at step time `t`
//! the subquery's reference time `r` is `t` moved by its `@` and `offset`
//! as for a selector; the inner expression is evaluated at every multiple of
//! the step (counted in milliseconds since the epoch) in the left-open
//! window `(r - range, r]`, and each series' values at those times become
//! its points. Without a step the engine's
//! [`EngineOptions::default_subquery_step`](crate::EngineOptions) applies.
//! `@ start()` and `@ end()` anywhere inside name the whole query's bounds.
//! Names the inner expression marked for removal stay marked: the
//! subquery's series keep them until the query finishes, and a function
//! over the subquery drops them even if it would keep its input's name
//! (`last_over_time(abs(x)[5m:])`), as in Prometheus.
//!
//! Because inner times are aligned to absolute multiples of the step, the
//! windows of consecutive outer steps share most of their inner times. Each
//! subquery node keeps a [`StepCache`] of the inner results of its latest
//! window: an outer step evaluates only the inner times its predecessor did
//! not, and drops the times that fell out of the window (outer steps move
//! forward, so no later window needs them). A range query such as
//! `max_over_time(rate(x[5m])[1h:1m])` therefore evaluates `rate` once per
//! inner minute rather than once per inner minute per outer step, and holds
//! at most one window of inner results.
//!
//! Inner selectors are evaluated at times reaching `range + offset` before
//! the query's start. While the inner expression is evaluated, the
//! evaluator's evaluation span widens to the inner times of every outer
//! step, so each selector loads, once, all the samples any of them needs.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use agentmon_model::{Labels, Sample};
use promql_parser::parser::SubqueryExpr;

use super::eval::{type_name, Element, EvalValue, Evaluator, MatrixSeries};
use super::selector;
use crate::error::PromqlError;

/// A subquery's range vector at one step time and the window it covers.
pub(crate) struct SubqueryWindow {
    pub series: Vec<MatrixSeries>,
    /// The window's exclusive start, in milliseconds.
    pub range_start: i64,
    /// The window's inclusive end (the subquery's reference time).
    pub range_end: i64,
}

impl Evaluator<'_> {
    /// Evaluates subquery `sq` at step time `t`.
    pub(crate) fn eval_subquery(
        &mut self,
        sq: &SubqueryExpr,
        t: i64,
    ) -> Result<SubqueryWindow, PromqlError> {
        let step = match sq.step {
            Some(step) => duration_ms(step),
            None => self.default_subquery_step_ms,
        };
        if step <= 0 {
            return Err(PromqlError::InvalidRange {
                reason: "subquery step must be at least 1ms",
            });
        }
        let range = duration_ms(sq.range);
        let (start, end) = (self.start, self.end);
        let range_end = selector::modified_time(&sq.at, &sq.offset, t, start, end);
        let range_start = range_end.saturating_sub(range);

        // Every inner time of every outer step of the query.
        let span_low = selector::modified_time(&sq.at, &sq.offset, self.span.0, start, end);
        let span_high = selector::modified_time(&sq.at, &sq.offset, self.span.1, start, end);
        let inner_span = (
            first_step_after(span_low.saturating_sub(range), step),
            span_high,
        );
        let outer_span = std::mem::replace(&mut self.span, inner_span);

        let key = sq as *const SubqueryExpr as usize;
        let mut cache = self.subqueries.remove(&key).unwrap_or_default();
        let first = first_step_after(range_start, step);
        let series = cache.window(first, range_end, step, |inner_t| {
            self.check_interrupted("expression evaluation")?;
            match self.eval(&sq.expr, inner_t)? {
                EvalValue::Vector(elems) => {
                    self.hold_samples(elems.len(), "query execution")?;
                    Ok(elems)
                }
                other => Err(PromqlError::UnexpectedType {
                    expected: "instant vector",
                    context: "subquery",
                    got: type_name(&other),
                }),
            }
        });
        self.span = outer_span;
        let series = series?;
        self.subqueries.insert(key, cache);
        Ok(SubqueryWindow {
            series,
            range_start,
            range_end,
        })
    }
}

/// Milliseconds of a duration from the query text, saturating rather than
/// wrapping for absurdly long ones.
fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The first multiple of `step` strictly after `t` (`step` > 0).
fn first_step_after(t: i64, step: i64) -> i64 {
    t.div_euclid(step).saturating_mul(step).saturating_add(step)
}

/// The inner results of one subquery node: each inner series' points at the
/// inner times `[from, next)` (multiples of the step), for the latest window.
#[derive(Debug, Default)]
pub(super) struct StepCache {
    held: Option<HeldTimes>,
    /// Keyed by labels and whether the name is still to be dropped, as
    /// during evaluation; never holds an empty list.
    series: BTreeMap<(Labels, bool), VecDeque<Sample>>,
}

/// The inner times a [`StepCache`] has evaluated: `[from, next)`.
#[derive(Debug, Clone, Copy)]
struct HeldTimes {
    from: i64,
    next: i64,
}

impl StepCache {
    /// The range vector of inner times `first..=last` (multiples of
    /// `step`), calling `eval_step` only for times not held already, then
    /// forgetting the times before `first`.
    pub(super) fn window(
        &mut self,
        first: i64,
        last: i64,
        step: i64,
        mut eval_step: impl FnMut(i64) -> Result<Vec<Element>, PromqlError>,
    ) -> Result<Vec<MatrixSeries>, PromqlError> {
        let mut next = match self.held {
            // The window starts inside (or right after) what is held: keep
            // the overlap.
            Some(held) if held.from <= first && first <= held.next => {
                self.series.retain(|_, points| {
                    while points.front().is_some_and(|p| p.t < first) {
                        points.pop_front();
                    }
                    !points.is_empty()
                });
                held.next
            }
            // A window before or beyond what is held (only when step times
            // go backwards or jump): start over.
            _ => {
                self.series.clear();
                first
            }
        };
        self.held = Some(HeldTimes { from: first, next });
        while next <= last {
            for elem in eval_step(next)? {
                let points = self
                    .series
                    .entry((elem.labels, elem.drop_name))
                    .or_default();
                if points.back().is_some_and(|p| p.t == next) {
                    return Err(PromqlError::DuplicateLabelset);
                }
                points.push_back(Sample::new(next, elem.v));
            }
            next = match next.checked_add(step) {
                Some(n) => n,
                None => break,
            };
            self.held = Some(HeldTimes { from: first, next });
        }
        Ok(self.matrix(last))
    }

    /// The held points up to `last`, sorted by labels.
    fn matrix(&self, last: i64) -> Vec<MatrixSeries> {
        let mut out = Vec::with_capacity(self.series.len());
        for ((labels, drop_name), points) in &self.series {
            let points: Vec<Sample> = points.iter().take_while(|p| p.t <= last).copied().collect();
            if !points.is_empty() {
                out.push(MatrixSeries {
                    labels: labels.clone(),
                    points,
                    drop_name: *drop_name,
                });
            }
        }
        out
    }

    /// Points held, for tests of the cache's bound.
    #[cfg(test)]
    pub(super) fn points_held(&self) -> usize {
        self.series.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod tests;
