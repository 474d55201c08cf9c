//! Judging agentmon's answer against Prometheus's.
//!
//! Two answers agree when they have the same type and: label sets are
//! equal as sets (no duplicates on either side), timestamps are equal,
//! and values are equal within a relative tolerance of 1e-9, with NaN
//! equal to NaN and each infinity equal only to itself. Order is compared
//! only where Prometheus defines it (`sort`, `sort_desc` at the top of an
//! instant query): there the sequence of values must match, which leaves
//! ties free to come in either order. Both sides failing agree (the
//! messages differ between the engines); agentmon failing with "not
//! implemented yet" is a skip, counted by the feature it names.

use std::collections::BTreeMap;

use super::answer::{Answer, InstantPoint, LabelSet, RangeSeries};

/// Relative tolerance of value comparisons.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;
/// Differences listed per evaluation at most.
const MAX_LISTED: usize = 4;

/// The outcome of comparing one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Agree,
    /// Human-readable differences, the first few only.
    Differ(Vec<String>),
    /// agentmon does not evaluate this yet; the feature it named.
    Skipped(String),
}

/// Whether two floats count as equal.
pub fn same_value(expected: f64, got: f64) -> bool {
    if expected.is_nan() || got.is_nan() {
        return expected.is_nan() && got.is_nan();
    }
    if expected == got {
        return true;
    }
    if expected.is_infinite() || got.is_infinite() {
        return false;
    }
    (expected - got).abs() <= RELATIVE_TOLERANCE * expected.abs().max(got.abs())
}

/// Compares `got` (agentmon) with `expected` (Prometheus). `ordered`
/// says the query's result order is defined.
pub fn compare(expected: &Answer, got: &Answer, ordered: bool) -> Verdict {
    match (expected, got) {
        (Answer::Error { .. }, Answer::Error { .. }) => Verdict::Agree,
        (_, Answer::Error { message, .. }) if message.contains("not implemented yet") => {
            Verdict::Skipped(skip_reason(message))
        }
        (Answer::Error { kind, message }, _) => Verdict::Differ(vec![format!(
            "Prometheus failed ({kind}: {message}) but agentmon answered a {}",
            got.type_name()
        )]),
        (_, Answer::Error { kind, message }) => Verdict::Differ(vec![format!(
            "agentmon failed ({kind}: {message}) where Prometheus answered a {}",
            expected.type_name()
        )]),
        (Answer::Scalar(te, ve), Answer::Scalar(tg, vg)) => {
            if te == tg && same_value(*ve, *vg) {
                Verdict::Agree
            } else {
                Verdict::Differ(vec![format!("scalar: expected {ve} @{te}, got {vg} @{tg}")])
            }
        }
        (Answer::String(te, se), Answer::String(tg, sg)) => {
            if te == tg && se == sg {
                Verdict::Agree
            } else {
                Verdict::Differ(vec![format!(
                    "string: expected {se:?} @{te}, got {sg:?} @{tg}"
                )])
            }
        }
        (Answer::Vector(e), Answer::Vector(g)) => verdict(compare_vectors(e, g, ordered)),
        (Answer::Matrix(e), Answer::Matrix(g)) => verdict(compare_matrices(e, g)),
        _ => Verdict::Differ(vec![format!(
            "result type: expected {}, got {}",
            expected.type_name(),
            got.type_name()
        )]),
    }
}

fn verdict(differences: Vec<String>) -> Verdict {
    if differences.is_empty() {
        Verdict::Agree
    } else {
        Verdict::Differ(differences)
    }
}

/// The feature named after "not implemented yet: ", cut at the first
/// argument list or quote so that one function counts once.
fn skip_reason(message: &str) -> String {
    let after = message
        .split("not implemented yet")
        .nth(1)
        .unwrap_or("")
        .trim_start_matches([':', ' ']);
    let reason = after.split(['(', '"', '\n']).next().unwrap_or("").trim();
    if reason.is_empty() {
        "unnamed feature".to_owned()
    } else {
        reason.to_owned()
    }
}

/// Collects differences, keeping count beyond the first few.
struct Differences {
    listed: Vec<String>,
    more: usize,
}

impl Differences {
    fn new() -> Differences {
        Differences {
            listed: Vec::new(),
            more: 0,
        }
    }

    fn push(&mut self, difference: String) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(difference);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.listed.push(format!("… and {} more", self.more));
        }
        self.listed
    }
}

/// Renders a label set the PromQL way: `{a="1", b="2"}`.
pub fn show_labels(labels: &LabelSet) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Indexes elements by label set, noting duplicates.
fn by_labels<'a, T>(
    items: &'a [T],
    labels: impl Fn(&T) -> &LabelSet,
    side: &str,
    differences: &mut Differences,
) -> BTreeMap<&'a LabelSet, &'a T> {
    let mut map = BTreeMap::new();
    for item in items {
        if map.insert(labels(item), item).is_some() {
            differences.push(format!(
                "{side} has the series {} twice",
                show_labels(labels(item))
            ));
        }
    }
    map
}

fn compare_vectors(expected: &[InstantPoint], got: &[InstantPoint], ordered: bool) -> Vec<String> {
    let mut differences = Differences::new();
    let e = by_labels(expected, |p| &p.labels, "Prometheus", &mut differences);
    let g = by_labels(got, |p| &p.labels, "agentmon", &mut differences);
    for (labels, point) in &e {
        match g.get(labels) {
            None => differences.push(format!(
                "missing {} = {} @{}",
                show_labels(labels),
                point.v,
                point.t
            )),
            Some(ours) if ours.t != point.t || !same_value(point.v, ours.v) => {
                differences.push(format!(
                    "{}: expected {} @{}, got {} @{}",
                    show_labels(labels),
                    point.v,
                    point.t,
                    ours.v,
                    ours.t
                ))
            }
            Some(_) => {}
        }
    }
    for (labels, point) in &g {
        if !e.contains_key(labels) {
            differences.push(format!(
                "unexpected {} = {} @{}",
                show_labels(labels),
                point.v,
                point.t
            ));
        }
    }
    if ordered && expected.len() == got.len() {
        let position = expected
            .iter()
            .zip(got)
            .position(|(a, b)| !same_value(a.v, b.v));
        if let Some(i) = position {
            differences.push(format!(
                "order: element {i} is expected to have value {} ({}), got {} ({})",
                expected[i].v,
                show_labels(&expected[i].labels),
                got[i].v,
                show_labels(&got[i].labels)
            ));
        }
    }
    differences.finish()
}

fn compare_matrices(expected: &[RangeSeries], got: &[RangeSeries]) -> Vec<String> {
    let mut differences = Differences::new();
    let e = by_labels(expected, |s| &s.labels, "Prometheus", &mut differences);
    let g = by_labels(got, |s| &s.labels, "agentmon", &mut differences);
    for (labels, series) in &e {
        let Some(ours) = g.get(labels) else {
            differences.push(format!(
                "missing series {} ({} points)",
                show_labels(labels),
                series.points.len()
            ));
            continue;
        };
        if let Some(problem) = first_point_difference(&series.points, &ours.points) {
            differences.push(format!("{}: {problem}", show_labels(labels)));
        }
    }
    for (labels, series) in &g {
        if !e.contains_key(labels) {
            differences.push(format!(
                "unexpected series {} ({} points, first {:?})",
                show_labels(labels),
                series.points.len(),
                series.points.first()
            ));
        }
    }
    differences.finish()
}

/// The first point where two series disagree, if any.
fn first_point_difference(expected: &[(i64, f64)], got: &[(i64, f64)]) -> Option<String> {
    for (i, (a, b)) in expected.iter().zip(got).enumerate() {
        if a.0 != b.0 {
            return Some(format!(
                "point {i}: expected a point @{}, got one @{}",
                a.0, b.0
            ));
        }
        if !same_value(a.1, b.1) {
            return Some(format!("point {i} @{}: expected {}, got {}", a.0, a.1, b.1));
        }
    }
    if expected.len() != got.len() {
        let i = expected.len().min(got.len());
        let (longer, side) = if expected.len() > got.len() {
            (expected, "missing")
        } else {
            (got, "unexpected")
        };
        return Some(format!(
            "{} points expected, {} got; first {side} point {:?}",
            expected.len(),
            got.len(),
            longer[i]
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn vector() -> Answer {
        Answer::Vector(vec![
            InstantPoint {
                labels: labels(&[("instance", "a")]),
                t: 1000,
                v: 1.5,
            },
            InstantPoint {
                labels: labels(&[("instance", "b")]),
                t: 1000,
                v: f64::NAN,
            },
            InstantPoint {
                labels: labels(&[("instance", "c")]),
                t: 1000,
                v: f64::INFINITY,
            },
        ])
    }

    fn matrix() -> Answer {
        Answer::Matrix(vec![
            RangeSeries {
                labels: labels(&[("instance", "a")]),
                points: vec![(1000, 1.0), (2000, 2.0), (3000, f64::NAN)],
            },
            RangeSeries {
                labels: labels(&[("instance", "b")]),
                points: vec![(2000, -4.0)],
            },
        ])
    }

    fn edit_vector(answer: &Answer, edit: impl FnOnce(&mut Vec<InstantPoint>)) -> Answer {
        let Answer::Vector(mut points) = answer.clone() else {
            unreachable!()
        };
        edit(&mut points);
        Answer::Vector(points)
    }

    fn edit_matrix(answer: &Answer, edit: impl FnOnce(&mut Vec<RangeSeries>)) -> Answer {
        let Answer::Matrix(mut series) = answer.clone() else {
            unreachable!()
        };
        edit(&mut series);
        Answer::Matrix(series)
    }

    fn differs(verdict: Verdict) -> bool {
        matches!(verdict, Verdict::Differ(ref d) if !d.is_empty())
    }

    #[test]
    fn identical_answers_agree_with_nan_and_infinity() {
        assert_eq!(compare(&vector(), &vector(), true), Verdict::Agree);
        assert_eq!(compare(&matrix(), &matrix(), false), Verdict::Agree);
    }

    #[test]
    fn values_within_the_tolerance_agree_and_beyond_it_differ() {
        let close = edit_vector(&vector(), |p| p[0].v *= 1.0 + 1e-12);
        assert_eq!(compare(&vector(), &close, false), Verdict::Agree);
        let far = edit_vector(&vector(), |p| p[0].v *= 1.0 + 1e-7);
        assert!(differs(compare(&vector(), &far, false)));
        let far = edit_matrix(&matrix(), |s| s[1].points[0].1 = -4.0001);
        assert!(differs(compare(&matrix(), &far, false)));
        assert!(!same_value(0.0, 1e-300));
    }

    #[test]
    fn nan_and_infinities_only_equal_themselves() {
        let nan_to_zero = edit_vector(&vector(), |p| p[1].v = 0.0);
        assert!(differs(compare(&vector(), &nan_to_zero, false)));
        let inf_sign = edit_vector(&vector(), |p| p[2].v = f64::NEG_INFINITY);
        assert!(differs(compare(&vector(), &inf_sign, false)));
        let inf_to_max = edit_vector(&vector(), |p| p[2].v = f64::MAX);
        assert!(differs(compare(&vector(), &inf_to_max, false)));
        let zero_to_nan = edit_vector(&vector(), |p| p[0].v = f64::NAN);
        assert!(differs(compare(&vector(), &zero_to_nan, false)));
    }

    #[test]
    fn label_sets_must_match_exactly() {
        let extra_label = edit_vector(&vector(), |p| {
            p[0].labels.insert("__name__".into(), "x".into());
        });
        assert!(differs(compare(&vector(), &extra_label, false)));
        let missing = edit_vector(&vector(), |p| {
            p.pop();
        });
        assert!(differs(compare(&vector(), &missing, false)));
        let duplicate = edit_vector(&vector(), |p| p.push(p[0].clone()));
        assert!(differs(compare(&vector(), &duplicate, false)));
        let renamed = edit_matrix(&matrix(), |s| {
            s[1].labels = labels(&[("instance", "B")]);
        });
        assert!(differs(compare(&matrix(), &renamed, false)));
    }

    #[test]
    fn timestamps_and_point_counts_must_match() {
        let moved = edit_vector(&vector(), |p| p[0].t += 1);
        assert!(differs(compare(&vector(), &moved, false)));
        let shifted = edit_matrix(&matrix(), |s| s[0].points[1].0 = 2500);
        assert!(differs(compare(&matrix(), &shifted, false)));
        let longer = edit_matrix(&matrix(), |s| s[1].points.push((3000, 1.0)));
        assert!(differs(compare(&matrix(), &longer, false)));
        let shorter = edit_matrix(&matrix(), |s| {
            s[0].points.pop();
        });
        assert!(differs(compare(&matrix(), &shorter, false)));
    }

    #[test]
    fn order_counts_only_where_defined_and_ties_may_swap() {
        let swapped = edit_vector(&vector(), |p| p.swap(0, 2));
        assert_eq!(compare(&vector(), &swapped, false), Verdict::Agree);
        assert!(differs(compare(&vector(), &swapped, true)));
        let tie = edit_vector(&vector(), |p| p[1].v = 1.5);
        let tie_swapped = edit_vector(&tie, |p| p.swap(0, 1));
        assert_eq!(compare(&tie, &tie_swapped, true), Verdict::Agree);
    }

    #[test]
    fn types_errors_and_skips() {
        let scalar = Answer::Scalar(1000, 2.0);
        assert!(differs(compare(&scalar, &Answer::Scalar(1000, 3.0), false)));
        assert!(differs(compare(&scalar, &Answer::Scalar(2000, 2.0), false)));
        assert!(differs(compare(&scalar, &vector(), false)));
        assert!(differs(compare(
            &Answer::Vector(vec![]),
            &Answer::Matrix(vec![]),
            false
        )));
        let error = |message: &str| Answer::Error {
            kind: "execution".into(),
            message: message.into(),
        };
        assert_eq!(compare(&error("a"), &error("b"), false), Verdict::Agree);
        assert!(differs(compare(&scalar, &error("bad things"), false)));
        assert!(differs(compare(&error("bad"), &scalar, false)));
        assert_eq!(
            compare(
                &scalar,
                &error("not implemented yet: function histogram_quantile"),
                false
            ),
            Verdict::Skipped("function histogram_quantile".into())
        );
        assert_eq!(
            compare(
                &scalar,
                &error("not implemented yet: subqueries (a[5m:1m])"),
                false
            ),
            Verdict::Skipped("subqueries".into())
        );
    }
}
