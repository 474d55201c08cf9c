//! Functions that reshape a whole vector: `vector`, `scalar`, `absent`,
//! `absent_over_time`.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#absent>.

use agentmon_model::{Label, Labels, METRIC_NAME_LABEL};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};

use super::{call_arg, single, CallContext};
use crate::engine::eval::{Element, EvalValue};
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    Ok(Some(match name {
        "vector" => single(ctx.scalar_arg(call, 0)?),
        "scalar" => {
            let elems = ctx.vector_arg(call, 0)?;
            EvalValue::Scalar(match elems.as_slice() {
                [only] => only.v,
                _ => f64::NAN,
            })
        }
        "absent" => {
            let present = !ctx.vector_arg(call, 0)?.is_empty();
            absent_result(present, call_arg(call, 0)?)
        }
        "absent_over_time" => {
            let present = !ctx.range_arg(call, 0)?.series.is_empty();
            absent_result(present, call_arg(call, 0)?)
        }
        _ => return Ok(None),
    }))
}

/// Nothing if the argument had series; otherwise one series valued 1 whose
/// labels are the selector's equality matchers.
fn absent_result(present: bool, arg: &Expr) -> EvalValue {
    if present {
        return EvalValue::Vector(Vec::new());
    }
    EvalValue::Vector(vec![Element {
        labels: absent_labels(arg),
        v: 1.0,
        drop_name: false,
    }])
}

/// The labels `absent` reports: each `name="value"` matcher of a selector
/// argument, except that a label matched more than once (or by another
/// matcher type) is left out, as in Prometheus.
fn absent_labels(arg: &Expr) -> Labels {
    let vs = match arg {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let mut set: Vec<Label> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME_LABEL {
            continue;
        }
        let first_equality = matches!(m.op, MatchOp::Equal) && !seen.contains(&m.name.as_str());
        set.retain(|l| l.name != m.name);
        if first_equality && !m.value.is_empty() {
            set.push(Label {
                name: m.name.clone(),
                value: m.value.clone(),
            });
        }
        if first_equality {
            seen.push(&m.name);
        }
    }
    set.sort_by(|a, b| a.name.cmp(&b.name));
    Labels::from_sorted_unchecked(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels_of(query: &str) -> Labels {
        let expr = promql_parser::parser::parse(query).unwrap();
        absent_labels(&expr)
    }

    #[test]
    fn absent_keeps_single_equality_matchers() {
        assert_eq!(
            labels_of(r#"foo{job="a",instance=~"x"}"#),
            Labels::new([("job", "a")]).unwrap()
        );
        assert_eq!(
            labels_of(r#"foo{job="a",job="b",env="p"}"#),
            Labels::new([("env", "p")]).unwrap()
        );
        assert_eq!(labels_of("foo + 1"), Labels::default());
    }
}
