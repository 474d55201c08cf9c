//! `sort`, `sort_desc`, `sort_by_label` and `sort_by_label_desc`. They keep
//! `__name__`; order matters only for instant queries.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#sort_by_label>.

use std::cmp::Ordering;

use promql_parser::parser::Call;

use super::CallContext;
use crate::engine::eval::{Element, EvalValue};
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    let mut elems = match name {
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => ctx.vector_arg(call, 0)?,
        _ => return Ok(None),
    };
    match name {
        "sort" => elems.sort_by(|a, b| by_value(a.v, b.v, false)),
        "sort_desc" => elems.sort_by(|a, b| by_value(a.v, b.v, true)),
        _ => {
            let mut names = Vec::new();
            for index in 1..call.args.args.len() {
                names.push(ctx.string_arg(call, index)?);
            }
            let ascending = |a: &Element, b: &Element| by_labels(a, b, &names);
            if name == "sort_by_label" {
                elems.sort_by(ascending);
            } else {
                elems.sort_by(|a, b| ascending(b, a));
            }
        }
    }
    Ok(Some(EvalValue::Vector(elems)))
}

/// By value in the given direction, NaNs last either way (Prometheus sorts
/// them to the bottom).
fn by_value(a: f64, b: f64, descending: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// By the named labels' values in natural order, then by the whole label
/// set so the order is total.
fn by_labels(a: &Element, b: &Element, names: &[String]) -> Ordering {
    names
        .iter()
        .map(|n| natural(a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or("")))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.labels.cmp(&b.labels))
}

/// Natural string order: runs of digits compare as numbers, the rest as
/// text, so `"9" < "10"`.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a_runs, mut b_runs) = (runs(a), runs(b));
    loop {
        match (a_runs.next(), b_runs.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
                let order = if digits(x) && digits(y) {
                    let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
}

/// Splits a string into alternating runs of ASCII digits and other text.
fn runs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let is_digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != is_digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_puts_nan_last() {
        let mut v = [2.0, f64::NAN, 1.0];
        v.sort_by(|a, b| by_value(*a, *b, false));
        assert!(v[0] == 1.0 && v[1] == 2.0 && v[2].is_nan());
        v.sort_by(|a, b| by_value(*a, *b, true));
        assert!(v[0] == 2.0 && v[1] == 1.0 && v[2].is_nan());
    }

    #[test]
    fn natural_order_compares_numbers() {
        assert_eq!(natural("9", "10"), Ordering::Less);
        assert_eq!(natural("a10b", "a9b"), Ordering::Greater);
        assert_eq!(natural("abc", "abd"), Ordering::Less);
        assert_eq!(natural("x", "x"), Ordering::Equal);
    }
}
