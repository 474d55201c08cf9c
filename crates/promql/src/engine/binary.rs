//! Binary operators: arithmetic, comparison (filtering or `bool`), and the
//! set operators, between scalars and instant vectors, with Prometheus's
//! vector matching (`on`, `ignoring`, `group_left`, `group_right`).
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/operators/>.

use std::collections::{HashMap, HashSet};

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};
use promql_parser::parser::ast::{LabelModifier, VectorMatchCardinality};
use promql_parser::parser::BinaryExpr;

use super::eval::{type_name, Element, EvalValue};
use crate::error::PromqlError;

/// Evaluates `b` on already evaluated operands.
pub(crate) fn evaluate(
    b: &BinaryExpr,
    lhs: EvalValue,
    rhs: EvalValue,
) -> Result<EvalValue, PromqlError> {
    let op = b.op.to_string();
    let return_bool = b.return_bool();
    match (lhs, rhs) {
        (EvalValue::Scalar(l), EvalValue::Scalar(r)) => {
            let (v, keep) = apply(&op, l, r)?;
            // Scalar comparisons always carry `bool` (the parser insists).
            if is_comparison(&op) {
                return Ok(EvalValue::Scalar(if keep { 1.0 } else { 0.0 }));
            }
            Ok(EvalValue::Scalar(v))
        }
        (EvalValue::Vector(l), EvalValue::Scalar(r)) => {
            vector_scalar(&op, l, r, false, return_bool).map(EvalValue::Vector)
        }
        (EvalValue::Scalar(l), EvalValue::Vector(r)) => {
            vector_scalar(&op, r, l, true, return_bool).map(EvalValue::Vector)
        }
        (EvalValue::Vector(l), EvalValue::Vector(r)) => {
            let matching = Matching::of(b);
            match op.as_str() {
                "and" => Ok(EvalValue::Vector(and(l, r, &matching))),
                "or" => Ok(EvalValue::Vector(or(l, r, &matching))),
                "unless" => Ok(EvalValue::Vector(unless(l, r, &matching))),
                _ => vector_vector(&op, l, r, &matching, return_bool).map(EvalValue::Vector),
            }
        }
        (l, r) => Err(PromqlError::NotImplemented {
            feature: format!(
                "binary operator {op} between {} and {}",
                type_name(&l),
                type_name(&r)
            ),
        }),
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | "<" | ">" | "<=" | ">=")
}

/// Applies an arithmetic or comparison operator to two floats: the result
/// value and, for comparisons, whether the comparison holds (always true for
/// arithmetic). A comparison's value is its left operand.
fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool), PromqlError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        // Go's math.Mod and Rust's `%` both truncate, keeping the dividend's sign.
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        "<" => (l, l < r),
        ">" => (l, l > r),
        "<=" => (l, l <= r),
        ">=" => (l, l >= r),
        other => {
            return Err(PromqlError::NotImplemented {
                feature: format!("binary operator {other}"),
            })
        }
    })
}

/// Whether an operator's result no longer is the metric it came from.
fn drops_name(op: &str, return_bool: bool) -> bool {
    return_bool || !is_comparison(op)
}

fn vector_scalar(
    op: &str,
    vector: Vec<Element>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Result<Vec<Element>, PromqlError> {
    let mut out = Vec::with_capacity(vector.len());
    for elem in vector {
        let (l, r) = if scalar_on_left {
            (scalar, elem.v)
        } else {
            (elem.v, scalar)
        };
        let (mut v, keep) = apply(op, l, r)?;
        if is_comparison(op) {
            // A comparison keeps the vector's value whichever side it is on.
            v = elem.v;
        }
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        out.push(Element {
            labels: elem.labels,
            v,
            drop_name: elem.drop_name || drops_name(op, return_bool),
        });
    }
    Ok(out)
}

/// How two vectors are matched: by a subset of labels (`on`) or by all but
/// some (`ignoring`, and always ignoring `__name__`), plus the grouping side
/// and the labels `group_x(…)` copies from the "one" side.
struct Matching {
    on: bool,
    labels: Vec<String>,
    card: Card,
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
}

impl Matching {
    fn of(b: &BinaryExpr) -> Matching {
        let Some(modifier) = &b.modifier else {
            return Matching {
                on: false,
                labels: Vec::new(),
                card: Card::OneToOne,
                include: Vec::new(),
            };
        };
        let (on, labels) = match &modifier.matching {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let (card, include) = match &modifier.card {
            VectorMatchCardinality::OneToOne => (Card::OneToOne, Vec::new()),
            VectorMatchCardinality::ManyToOne(l) => (Card::ManyToOne, l.labels.clone()),
            VectorMatchCardinality::OneToMany(l) => (Card::OneToMany, l.labels.clone()),
            VectorMatchCardinality::ManyToMany => (Card::OneToOne, Vec::new()),
        };
        Matching {
            on,
            labels,
            card,
            include,
        }
    }

    /// The match-group key of a series.
    fn signature(&self, labels: &Labels) -> Vec<(String, String)> {
        labels
            .iter()
            .filter(|l| {
                if self.on {
                    self.labels.contains(&l.name)
                } else {
                    l.name != METRIC_NAME_LABEL && !self.labels.contains(&l.name)
                }
            })
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }
}

fn format_signature(sig: &[(String, String)]) -> String {
    let parts: Vec<String> = sig.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn vector_vector(
    op: &str,
    lhs: Vec<Element>,
    rhs: Vec<Element>,
    matching: &Matching,
    return_bool: bool,
) -> Result<Vec<Element>, PromqlError> {
    // With group_right the left side is the "one" side: swap so that the
    // right operand is always the one side, and swap values back to compute.
    let swapped = matching.card == Card::OneToMany;
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_side: HashMap<Vec<(String, String)>, &Element> = HashMap::new();
    for elem in &one {
        let sig = matching.signature(&elem.labels);
        if let Some(previous) = one_side.insert(sig.clone(), elem) {
            return Err(PromqlError::DuplicateMatchGroup {
                group: format_signature(&sig),
                side: if swapped { "left" } else { "right" },
                first: previous.labels.to_string(),
                second: elem.labels.to_string(),
            });
        }
    }
    let mut matched_one_to_one: HashSet<Vec<(String, String)>> = HashSet::new();
    let mut matched_groups: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for elem in &many {
        let sig = matching.signature(&elem.labels);
        let Some(other) = one_side.get(&sig) else {
            continue;
        };
        let (l, r) = if swapped {
            (other.v, elem.v)
        } else {
            (elem.v, other.v)
        };
        let (mut v, keep) = apply(op, l, r)?;
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let labels = result_labels(&elem.labels, &other.labels, matching);
        if matching.card == Card::OneToOne {
            if !matched_one_to_one.insert(sig) {
                return Err(PromqlError::ManyToOneNotExplicit);
            }
        } else if !matched_groups.insert(labels.clone()) {
            return Err(PromqlError::GroupingNotUnique);
        }
        // A filtering comparison passes the left operand through.
        let keeps_left = is_comparison(op) && !return_bool;
        let left_drop = if swapped {
            other.drop_name
        } else {
            elem.drop_name
        };
        out.push(Element {
            labels,
            v,
            drop_name: drops_name(op, return_bool) || (keeps_left && left_drop),
        });
    }
    Ok(out)
}

/// The labels of a matched pair's result: the "many" (or left) side's,
/// narrowed to the match labels for one-to-one matching, plus any
/// `group_x(…)` labels copied from the "one" side.
fn result_labels(many: &Labels, one: &Labels, matching: &Matching) -> Labels {
    let mut labels: Vec<Label> = many
        .iter()
        .filter(|l| {
            if matching.card != Card::OneToOne {
                return true;
            }
            if matching.on {
                matching.labels.contains(&l.name)
            } else {
                !matching.labels.contains(&l.name)
            }
        })
        .cloned()
        .collect();
    for name in &matching.include {
        labels.retain(|l| &l.name != name);
        if let Some(value) = one.get(name) {
            labels.push(Label {
                name: name.clone(),
                value: value.to_owned(),
            });
        }
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    Labels::from_sorted_unchecked(labels)
}

fn and(lhs: Vec<Element>, rhs: Vec<Element>, matching: &Matching) -> Vec<Element> {
    let right: HashSet<_> = rhs.iter().map(|e| matching.signature(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| right.contains(&matching.signature(&e.labels)))
        .collect()
}

fn or(lhs: Vec<Element>, rhs: Vec<Element>, matching: &Matching) -> Vec<Element> {
    let left: HashSet<_> = lhs.iter().map(|e| matching.signature(&e.labels)).collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|e| !left.contains(&matching.signature(&e.labels))),
    );
    out
}

fn unless(lhs: Vec<Element>, rhs: Vec<Element>, matching: &Matching) -> Vec<Element> {
    let right: HashSet<_> = rhs.iter().map(|e| matching.signature(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| !right.contains(&matching.signature(&e.labels)))
        .collect()
}
