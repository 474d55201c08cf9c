//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `count_values`, and
//! in [`limit`] `limitk` and `limit_ratio`) over one step's instant vector,
//! grouped `by` or `without` labels. A `quantile` φ outside [0, 1] and a
//! `limit_ratio` ratio outside [-1, 1] raise Prometheus's warnings.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/operators/#aggregation-operators>.
//! The arithmetic of `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`
//! and `stdvar` lives in [`fold`], shared with the streaming path.

use std::hash::Hasher;

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};
use promql_parser::parser::token::{
    T_BOTTOMK, T_COUNT_VALUES, T_LIMITK, T_LIMIT_RATIO, T_QUANTILE, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use rustc_hash::{FxHashMap, FxHasher};

use super::eval::{type_name, Element, EvalValue};
use crate::annotations::{self, Annotations};
use crate::error::PromqlError;

mod fold;
mod limit;

pub(crate) use fold::{fold, Fold, FoldKind};

/// Evaluates `agg` on its already evaluated operand and parameter, adding
/// any warning it raises to `annotations`.
pub(crate) fn evaluate(
    agg: &AggregateExpr,
    input: EvalValue,
    param: Option<EvalValue>,
    annotations: &mut Annotations,
) -> Result<EvalValue, PromqlError> {
    let EvalValue::Vector(input) = input else {
        return Err(unexpected_type("instant vector", &input));
    };
    let grouping = Grouping::of(agg.modifier.as_ref());
    let op = agg.op.id();
    if let Some(kind) = FoldKind::of(op) {
        let out = reduce(input, &grouping, |values| fold(kind, values));
        return Ok(EvalValue::Vector(out));
    }
    let out = match op {
        T_TOPK | T_BOTTOMK => {
            let k = scalar_param(param)?;
            select_k(input, &grouping, k, op == T_TOPK)?
        }
        T_COUNT_VALUES => {
            let label = match param {
                Some(EvalValue::String(label)) => label,
                Some(other) => return Err(unexpected_type("string", &other)),
                None => return Err(missing_param()),
            };
            count_values(input, &grouping, &label)?
        }
        T_QUANTILE => {
            let q = scalar_param(param)?;
            if !(0.0..=1.0).contains(&q) {
                annotations.warn(annotations::invalid_quantile(q));
            }
            reduce(input, &grouping, |values| quantile(q, values))
        }
        T_LIMITK => limit::limitk(input, &grouping, scalar_param(param)?)?,
        T_LIMIT_RATIO => limit::limit_ratio(input, &grouping, scalar_param(param)?, annotations)?,
        _ => {
            return Err(PromqlError::NotImplemented {
                feature: format!("aggregation {}", agg.op),
            })
        }
    };
    Ok(EvalValue::Vector(out))
}

/// Which labels identify a group: those listed (`by`) or all but those
/// listed and the metric name (`without`).
pub(crate) struct Grouping<'a> {
    names: &'a [String],
    without: bool,
}

impl<'a> Grouping<'a> {
    pub(crate) fn of(modifier: Option<&'a LabelModifier>) -> Grouping<'a> {
        match modifier {
            None => Grouping {
                names: &[],
                without: false,
            },
            Some(m) => Grouping {
                names: &m.labels().labels,
                without: !m.is_include(),
            },
        }
    }

    /// Whether label `name` identifies the group.
    fn keeps(&self, name: &str) -> bool {
        let listed = self.names.iter().any(|n| n == name);
        if self.without {
            name != METRIC_NAME_LABEL && !listed
        } else {
            listed
        }
    }

    /// The labels of the group `labels` belongs to.
    pub(crate) fn group_labels(&self, labels: &Labels) -> Labels {
        let kept: Vec<Label> = labels
            .iter()
            .filter(|l| self.keeps(&l.name))
            .cloned()
            .collect();
        Labels::from_sorted_unchecked(kept)
    }

    /// A hash of the group's labels, computed without building them. Only
    /// picks candidates (which [`Grouping::in_group`] then compares), so a
    /// fast hash with more collisions than a cryptographic one is fine.
    pub(crate) fn group_hash(&self, labels: &Labels) -> u64 {
        let mut hasher = FxHasher::default();
        for l in labels.iter().filter(|l| self.keeps(&l.name)) {
            hasher.write(l.name.as_bytes());
            hasher.write_u8(0xff);
            hasher.write(l.value.as_bytes());
            hasher.write_u8(0xff);
        }
        hasher.finish()
    }

    /// Whether `labels` belongs to the group labelled `group`.
    pub(crate) fn in_group(&self, group: &Labels, labels: &Labels) -> bool {
        labels
            .iter()
            .filter(|l| self.keeps(&l.name))
            .eq(group.iter())
    }

    /// Splits `input` into groups, in order of first appearance. Group
    /// labels are built once per group, not once per element: elements are
    /// matched to groups by a hash of their grouping labels, then compared.
    fn split(&self, input: Vec<Element>) -> Vec<(Labels, Vec<Element>)> {
        let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
        let mut groups: Vec<(Labels, Vec<Element>)> = Vec::new();
        for elem in input {
            let candidates = index.entry(self.group_hash(&elem.labels)).or_default();
            let found = candidates
                .iter()
                .copied()
                .find(|&g| self.in_group(&groups[g].0, &elem.labels));
            let at = match found {
                Some(at) => at,
                None => {
                    groups.push((self.group_labels(&elem.labels), Vec::new()));
                    candidates.push(groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[at].1.push(elem);
        }
        groups
    }
}

/// Aggregations with one output series per group, labelled by the group.
fn reduce(
    input: Vec<Element>,
    grouping: &Grouping<'_>,
    combine: impl Fn(&[f64]) -> f64,
) -> Vec<Element> {
    grouping
        .split(input)
        .into_iter()
        .map(|(labels, members)| {
            let values: Vec<f64> = members.iter().map(|e| e.v).collect();
            Element {
                labels,
                v: combine(&values),
                // As in Prometheus, a pending name drop survives grouping
                // (it matters only for `by (__name__)`).
                drop_name: members.iter().any(|e| e.drop_name),
            }
        })
        .collect()
}

/// The φ-quantile of `values` by linear interpolation between closest
/// ranks; -Inf below 0, +Inf above 1, NaN for a NaN φ.
pub(crate) fn quantile(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = values.to_vec();
    // NaNs sort first, as in Prometheus.
    sorted.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.total_cmp(b),
    });
    let n = sorted.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    sorted[lower as usize] * (1.0 - weight) + sorted[upper as usize] * weight
}

/// `topk` (`largest`) or `bottomk`: per group, the k series with the
/// largest or smallest values, keeping their labels, best first and NaN
/// last.
fn select_k(
    input: Vec<Element>,
    grouping: &Grouping<'_>,
    k: f64,
    largest: bool,
) -> Result<Vec<Element>, PromqlError> {
    let k = k_of(k)?;
    let k = k.min(input.len() as i64);
    if k < 1 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (_, mut members) in grouping.split(input) {
        // Stable, so among equal values the first seen wins, as with
        // Prometheus's heap.
        members.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if largest => b.v.total_cmp(&a.v),
            (false, false) => a.v.total_cmp(&b.v),
        });
        members.truncate(k as usize);
        out.extend(members);
    }
    Ok(out)
}

/// The integer a k parameter stands for; Prometheus rejects values (NaN
/// among them) that do not fit an int64.
fn k_of(k: f64) -> Result<i64, PromqlError> {
    // Prometheus compares against the int64 bounds as floats, ±2^63; a
    // NaN fails the comparison.
    let bound = 2f64.powi(63);
    if !(-bound..=bound).contains(&k) {
        return Err(PromqlError::ScalarOverflowsInt64 { value: go_value(k) });
    }
    Ok(k as i64)
}

/// `count_values`: per group and distinct value, how many series have it;
/// the value becomes label `label`, formatted as Prometheus formats floats.
fn count_values(
    input: Vec<Element>,
    grouping: &Grouping<'_>,
    label: &str,
) -> Result<Vec<Element>, PromqlError> {
    if label.is_empty() {
        return Err(PromqlError::InvalidLabelName {
            name: label.to_owned(),
        });
    }
    let mut names: Vec<String> = grouping.names.to_vec();
    if !grouping.without {
        names.push(label.to_owned());
    }
    let grouping = Grouping {
        names: &names,
        without: grouping.without,
    };
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut out: Vec<Element> = Vec::new();
    for elem in input {
        let mut labels: Vec<Label> = elem
            .labels
            .iter()
            .filter(|l| l.name != label)
            .cloned()
            .collect();
        labels.push(Label {
            name: label.to_owned(),
            value: go_float(elem.v),
        });
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let key = grouping.group_labels(&Labels::from_sorted_unchecked(labels));
        match index.get(&key) {
            Some(&at) => out[at].v += 1.0,
            None => {
                index.insert(key.clone(), out.len());
                out.push(Element {
                    labels: key,
                    v: 1.0,
                    drop_name: false,
                });
            }
        }
    }
    Ok(out)
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: the
/// shortest digits that read back exactly, never an exponent.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// A float as Go's `%v` writes it: like [`go_float`], but with an exponent
/// (`1e+21`, `1e-05`) below 1e-4 or from 1e21 on.
fn go_value(v: f64) -> String {
    let magnitude = v.abs();
    if !v.is_finite() || v == 0.0 || (1e-4..1e21).contains(&magnitude) {
        return go_float(v);
    }
    let scientific = format!("{v:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn scalar_param(param: Option<EvalValue>) -> Result<f64, PromqlError> {
    match param {
        Some(EvalValue::Scalar(v)) => Ok(v),
        Some(other) => Err(unexpected_type("scalar", &other)),
        None => Err(missing_param()),
    }
}

fn unexpected_type(expected: &'static str, got: &EvalValue) -> PromqlError {
    PromqlError::UnexpectedType {
        expected,
        context: "aggregation expression",
        got: type_name(got),
    }
}

fn missing_param() -> PromqlError {
    PromqlError::Parse {
        message: "aggregation operator needs a parameter".to_owned(),
    }
}

#[cfg(test)]
mod tests;
