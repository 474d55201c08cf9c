//! Recording rules: the expression's result, renamed and relabelled, written
//! back as new series (Prometheus's `rules/recording.go`).

use std::collections::{BTreeMap, HashSet};

use agentmon_model::{Labels, Sample, METRIC_NAME_LABEL};

use crate::context::RuleContext;
use crate::error::EvalError;
use crate::query::RuleSample;

/// `expr` formatted by the parser, as Prometheus shows a rule's query
/// (`sum by (job) (x)` for `sum by(job)(x)`); the text itself if it does not
/// parse.
pub(crate) fn display_expr(expr: &str) -> String {
    agentmon_promql::parse_expr(expr).map_or_else(|_| expr.to_owned(), |e| e.to_string())
}

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub(crate) name: String,
    pub(crate) expr: String,
    /// The expression as Prometheus prints it (API `query`).
    pub(crate) display: String,
    pub(crate) labels: BTreeMap<String, String>,
}

impl RecordingRule {
    pub(crate) fn new(
        name: String,
        expr: String,
        labels: BTreeMap<String, String>,
    ) -> RecordingRule {
        let display = display_expr(&expr);
        RecordingRule {
            name,
            expr,
            display,
            labels,
        }
    }

    /// Evaluates the rule at `ts_ms - offset_ms`: each result sample with
    /// `__name__` set to the rule's name and the rule's labels applied (an
    /// empty rule label removes the label), at the query time.
    pub(crate) fn eval(
        &self,
        ctx: &RuleContext,
        ts_ms: i64,
        offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<RuleSample>, EvalError> {
        let query_ts = ts_ms - offset_ms;
        let result = ctx
            .query
            .query(&self.expr, query_ts)
            .map_err(EvalError::Query)?;
        let mut output = Vec::with_capacity(result.len());
        let mut seen = HashSet::with_capacity(result.len());
        for sample in result {
            let mut labels: BTreeMap<String, String> = sample
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            labels.insert(METRIC_NAME_LABEL.to_owned(), self.name.clone());
            for (name, value) in &self.labels {
                labels.insert(name.clone(), value.clone());
            }
            let labels = Labels::new(labels).map_err(|e| EvalError::Query(e.to_string()))?;
            if !seen.insert(labels.clone()) {
                return Err(EvalError::DuplicateRecordingOutput);
            }
            output.push(RuleSample {
                labels,
                sample: Sample::new(query_ts, sample.v),
            });
        }
        if limit > 0 && output.len() > limit {
            return Err(EvalError::SeriesLimit {
                limit,
                count: output.len(),
            });
        }
        Ok(output)
    }
}
