//! Element-wise functions of an instant vector: rounding, exponentials,
//! clamping, trigonometry. All of them drop `__name__`.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#trigonometric-functions>.

use promql_parser::parser::Call;

use super::{go_max, go_min, map_values, CallContext};
use crate::engine::eval::EvalValue;
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    let f: fn(f64) -> f64 = match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => sign,
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        // Go's order of operations, not Rust's `to_degrees`, which
        // multiplies by a pre-divided constant and can differ in the
        // last bit.
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "pi" => return Ok(Some(EvalValue::Scalar(std::f64::consts::PI))),
        "round" => {
            let elems = ctx.vector_arg(call, 0)?;
            let to_nearest = if call.args.args.len() > 1 {
                ctx.scalar_arg(call, 1)?
            } else {
                1.0
            };
            return Ok(Some(map_values(elems, |v| round(v, to_nearest))));
        }
        "clamp" => {
            let elems = ctx.vector_arg(call, 0)?;
            let (min, max) = (ctx.scalar_arg(call, 1)?, ctx.scalar_arg(call, 2)?);
            if max < min {
                return Ok(Some(EvalValue::Vector(Vec::new())));
            }
            return Ok(Some(map_values(elems, |v| go_max(min, go_min(max, v)))));
        }
        "clamp_min" => {
            let elems = ctx.vector_arg(call, 0)?;
            let min = ctx.scalar_arg(call, 1)?;
            return Ok(Some(map_values(elems, |v| go_max(v, min))));
        }
        "clamp_max" => {
            let elems = ctx.vector_arg(call, 0)?;
            let max = ctx.scalar_arg(call, 1)?;
            return Ok(Some(map_values(elems, |v| go_min(v, max))));
        }
        _ => return Ok(None),
    };
    let elems = ctx.vector_arg(call, 0)?;
    Ok(Some(map_values(elems, f)))
}

/// -1, 0 or 1 by sign; NaN stays NaN.
fn sign(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Rounds to the nearest multiple of `to_nearest`, halves rounding up
/// (towards +Inf), as Prometheus does.
fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_halves_go_up() {
        assert_eq!(round(2.5, 1.0), 3.0);
        assert_eq!(round(-2.5, 1.0), -2.0);
        assert_eq!(round(7.0, 5.0), 5.0);
        assert_eq!(round(0.26, 0.1), 0.3);
    }

    #[test]
    fn sign_keeps_nan_and_zero() {
        assert_eq!(sign(-3.0), -1.0);
        assert_eq!(sign(0.0), 0.0);
        assert!(sign(f64::NAN).is_nan());
    }

    #[test]
    fn clamping_propagates_nan() {
        assert!(go_max(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(0.0, go_min(10.0, 12.0)), 10.0);
    }
}
