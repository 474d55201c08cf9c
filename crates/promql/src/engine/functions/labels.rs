//! `label_replace` and `label_join`, which rewrite one label of every
//! series. They keep `__name__` unless they overwrite it.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#label_replace>.

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};
use promql_parser::parser::Call;
use regex::Regex;

use super::CallContext;
use crate::engine::eval::{Element, EvalValue};
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    match name {
        "label_replace" => label_replace(ctx, call).map(Some),
        "label_join" => label_join(ctx, call).map(Some),
        _ => Ok(None),
    }
}

fn label_replace(ctx: &mut CallContext<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let elems = ctx.vector_arg(call, 0)?;
    let destination = ctx.string_arg(call, 1)?;
    let replacement = ctx.string_arg(call, 2)?;
    let source = ctx.string_arg(call, 3)?;
    let pattern = ctx.string_arg(call, 4)?;
    // Prometheus anchors the regex at both ends.
    let regex =
        Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| PromqlError::FunctionArgument {
            function: "label_replace".to_owned(),
            message: format!("invalid regular expression: {e}"),
        })?;
    check_label_name("label_replace", &destination)?;
    let mut out = Vec::with_capacity(elems.len());
    for mut elem in elems {
        let value = elem.labels.get(&source).unwrap_or("");
        if let Some(captures) = regex.captures(value) {
            let mut result = String::new();
            captures.expand(&replacement, &mut result);
            elem = with_label(elem, &destination, &result);
        }
        out.push(elem);
    }
    unique(out)
}

fn label_join(ctx: &mut CallContext<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let elems = ctx.vector_arg(call, 0)?;
    let destination = ctx.string_arg(call, 1)?;
    let separator = ctx.string_arg(call, 2)?;
    let mut sources = Vec::new();
    for index in 3..call.args.args.len() {
        sources.push(ctx.string_arg(call, index)?);
    }
    for source in &sources {
        if source.is_empty() || source.contains(char::REPLACEMENT_CHARACTER) {
            return Err(PromqlError::FunctionArgument {
                function: "label_join".to_owned(),
                message: format!("invalid source label name {source:?}"),
            });
        }
    }
    check_label_name("label_join", &destination)?;
    unique(
        elems
            .into_iter()
            .map(|elem| {
                let joined = sources
                    .iter()
                    .map(|s| elem.labels.get(s).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(&separator);
                with_label(elem, &destination, &joined)
            })
            .collect(),
    )
}

/// The rewritten vector, unless two series now have the same labels, which
/// Prometheus rejects right away rather than when the query finishes.
fn unique(elems: Vec<Element>) -> Result<EvalValue, PromqlError> {
    let mut seen = std::collections::HashSet::new();
    if !elems.iter().all(|e| seen.insert(&e.labels)) {
        return Err(PromqlError::DuplicateLabelset);
    }
    Ok(EvalValue::Vector(elems))
}

fn check_label_name(function: &str, name: &str) -> Result<(), PromqlError> {
    // Prometheus 3 accepts any non-empty UTF-8 label name.
    if name.is_empty() || name.contains(char::REPLACEMENT_CHARACTER) {
        return Err(PromqlError::FunctionArgument {
            function: function.to_owned(),
            message: format!("invalid destination label name {name:?}"),
        });
    }
    Ok(())
}

/// The element with label `name` set to `value` (removed if empty). Setting
/// `__name__` cancels a pending name drop.
fn with_label(elem: Element, name: &str, value: &str) -> Element {
    let mut kept: Vec<Label> = elem
        .labels
        .iter()
        .filter(|l| l.name != name)
        .cloned()
        .collect();
    if !value.is_empty() {
        let at = kept.partition_point(|l| l.name.as_str() < name);
        kept.insert(
            at,
            Label {
                name: name.to_owned(),
                value: value.to_owned(),
            },
        );
    }
    Element {
        labels: Labels::from_sorted_unchecked(kept),
        v: elem.v,
        drop_name: elem.drop_name && name != METRIC_NAME_LABEL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(pairs: &[(&str, &str)]) -> Element {
        Element {
            labels: Labels::new(pairs.iter().copied()).unwrap(),
            v: 1.0,
            drop_name: true,
        }
    }

    #[test]
    fn with_label_sets_and_removes() {
        let e = with_label(element(&[("a", "1"), ("c", "3")]), "b", "2");
        assert_eq!(
            e.labels,
            Labels::new([("a", "1"), ("b", "2"), ("c", "3")]).unwrap()
        );
        let e = with_label(e, "a", "");
        assert_eq!(e.labels, Labels::new([("b", "2"), ("c", "3")]).unwrap());
        assert!(e.drop_name);
        assert!(!with_label(e, METRIC_NAME_LABEL, "x").drop_name);
    }
}
