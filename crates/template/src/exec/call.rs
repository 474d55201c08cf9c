//! Calls: built-in and user functions with Go's arity and argument type
//! checks, and the short-circuit `and`/`or`.

use super::{arg_error, error_at, CallArgs, Executor, Result, Scope};
use crate::builtins;
use crate::funcs::{Arity, Param};
use crate::parse::{Arg, Command};
use crate::printf::go_quote;
use crate::value::Value;

fn param_type_name(param: Param) -> &'static str {
    match param {
        Param::Any => "interface {}",
        Param::String => "string",
        Param::Float => "float64",
        Param::Int => "int",
        Param::Bool => "bool",
        Param::Other { go_type, .. } => go_type,
    }
}

/// Go's `validateType` for a value passed to a parameter.
fn check_value(value: Value, param: Param) -> std::result::Result<Value, String> {
    let invalid = matches!(value, Value::Missing | Value::Nil);
    let accepted = match param {
        Param::Any => return Ok(value),
        Param::String => matches!(value, Value::String(_)),
        Param::Float => matches!(value, Value::Float(_)),
        Param::Int => matches!(value, Value::Int(_)),
        Param::Bool => matches!(value, Value::Bool(_)),
        Param::Other {
            accepts, nilable, ..
        } => {
            if invalid && nilable {
                return Ok(Value::Nil);
            }
            accepts(&value)
        }
    };
    if accepted {
        return Ok(value);
    }
    let go_type = param_type_name(param);
    if invalid {
        Err(format!("invalid value; expected {go_type}"))
    } else {
        Err(format!(
            "wrong type for value; expected {go_type}; got {}",
            value.type_name()
        ))
    }
}

/// The approximate size in bytes of a value (16 per element plus string
/// bytes) if it exceeds `limit`; counting stops as soon as it does.
fn weight_over(value: &Value, limit: usize) -> Option<usize> {
    let mut weight = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        weight += 16;
        match v {
            Value::String(s) => weight += s.len(),
            Value::List(items) => stack.extend(items.iter()),
            Value::Map(map) => {
                for (k, item) in map {
                    weight += k.len();
                    stack.push(item);
                }
            }
            Value::Struct(st) => stack.extend(st.fields.iter().map(|f| &f.value)),
            _ => {}
        }
        if weight > limit {
            return Some(weight);
        }
    }
    None
}

impl Executor<'_> {
    pub(super) fn eval_function(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        ident: &Arg,
        name: &str,
        cmd: Option<&Command>,
        call: CallArgs,
    ) -> Result<Value> {
        let user = self.funcs.get(name).cloned();
        let builtin = user.is_none() && builtins::is_builtin(name);
        if user.is_none() && !builtin {
            return Err(arg_error(
                scope,
                ident,
                format!("{} is not a defined function", go_quote(name)),
            ));
        }
        let arity = user
            .as_ref()
            .map_or_else(|| builtins::arity(name), |e| e.arity);
        let count = call.nodes.len() + usize::from(call.piped.is_some());
        let arity_error = match arity {
            Arity::Exactly(n) if count != n => Some(format!(
                "wrong number of args for {name}: want {n} got {count}"
            )),
            Arity::AtLeast(n) if count < n => Some(format!(
                "wrong number of args for {name}: want at least {n} got {}",
                call.nodes.len()
            )),
            _ => None,
        };
        if let Some(message) = arity_error {
            return Err(arg_error(scope, ident, message));
        }
        if builtin && (name == "and" || name == "or") {
            let stop_on = name == "or";
            let mut last = Value::Missing;
            for node in call.nodes {
                last = self.eval_arg(scope, dot, node)?;
                if last.is_true() == stop_on {
                    return Ok(last);
                }
            }
            if let Some(piped) = call.piped {
                last = piped;
            }
            return Ok(last);
        }
        let params = match &user {
            Some(entry) => entry.params.clone(),
            None => builtins::params(name),
        };
        let param_at = |i: usize| params.as_ref().map_or(Param::Any, |p| p.at(i));
        let mut args = Vec::with_capacity(call.nodes.len() + 1);
        let mut last_node = ident;
        for (i, node) in call.nodes.iter().enumerate() {
            args.push(self.eval_typed_arg(scope, dot, node, param_at(i))?);
            last_node = node;
        }
        if let Some(piped) = call.piped {
            let value = check_value(piped, param_at(args.len()))
                .map_err(|m| arg_error(scope, last_node, m))?;
            args.push(value);
        }
        let result = if builtin {
            builtins::call(name, &args)
        } else {
            for arg in &mut args {
                if let Value::Missing = arg {
                    *arg = Value::Nil;
                }
            }
            match &user {
                Some(entry) => (entry.function)(&args),
                None => Err(format!("{name:?} is not a defined function")),
            }
        };
        if let Ok(value) = &result {
            // Go shares values; here they are copied, so `{{ $x = args $x $x }}`
            // in a loop would double memory each time without this bound.
            if let Some(weight) = weight_over(value, self.max_output) {
                self.check_size(scope, weight)?;
            }
        }
        result.map_err(|message| {
            let (pos, context) = match cmd {
                Some(c) => (c.pos, c.to_string()),
                None => (ident.pos(), ident.to_string()),
            };
            if message.starts_with("wrong type for value") || message.starts_with("invalid value") {
                error_at(scope, pos, context, message)
            } else {
                error_at(
                    scope,
                    pos,
                    context,
                    format!("error calling {name}: {message}"),
                )
            }
        })
    }

    /// Evaluates an argument for a parameter of a Go type, refusing
    /// literals and values of the wrong kind as Go does.
    fn eval_typed_arg(
        &mut self,
        scope: &mut Scope,
        dot: &Value,
        node: &Arg,
        param: Param,
    ) -> Result<Value> {
        let literal = matches!(
            node,
            Arg::Nil(_) | Arg::Bool(..) | Arg::Number { .. } | Arg::Str { .. }
        );
        if matches!(param, Param::Any) || !literal {
            let value = self.eval_arg(scope, dot, node)?;
            return check_value(value, param).map_err(|m| arg_error(scope, node, m));
        }
        let go_type = param_type_name(param);
        let refuse = |message: String| Err(arg_error(scope, node, message));
        match (node, param) {
            (Arg::Nil(_), Param::Other { nilable: true, .. }) => Ok(Value::Nil),
            (Arg::Nil(_), _) => refuse(format!("cannot assign nil to {go_type}")),
            (Arg::Str { value, .. }, Param::String) => Ok(Value::String(value.clone())),
            (Arg::Bool(_, b), Param::Bool) => Ok(Value::Bool(*b)),
            (
                Arg::Number {
                    value: Ok(Value::Int(i)),
                    ..
                },
                Param::Float,
            ) => Ok(Value::Float(*i as f64)),
            (
                Arg::Number {
                    value: Ok(Value::Float(f)),
                    ..
                },
                Param::Float,
            ) => Ok(Value::Float(*f)),
            (
                Arg::Number {
                    value: Ok(Value::Int(i)),
                    ..
                },
                Param::Int,
            ) => Ok(Value::Int(*i)),
            (_, Param::String) => refuse(format!("expected string; found {node}")),
            (_, Param::Float) => refuse(format!("expected float; found {node}")),
            (_, Param::Int) => refuse(format!("expected integer; found {node}")),
            (_, Param::Bool) => refuse(format!("expected bool; found {node}")),
            _ => refuse(format!("can't handle {node} for arg of type {go_type}")),
        }
    }
}
