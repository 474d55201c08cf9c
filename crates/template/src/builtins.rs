//! Go's predefined template functions: `not len index slice print printf
//! println eq ne lt le gt ge html js urlquery` (`and` and `or` short-circuit
//! and live in the executor).

use std::cmp::Ordering;

use crate::funcs::{Arity, Param, Params};
use crate::printf::{sprint, sprintf, sprintln};
use crate::value::{map_zero_value, Value};

/// Names of the built-ins, `and` and `or` included.
const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Parameter types of the built-ins that have typed parameters.
pub(crate) fn params(name: &str) -> Option<Params> {
    (name == "printf").then(|| Params {
        fixed: vec![Param::String],
        variadic: Some(Param::Any),
    })
}

pub(crate) fn arity(name: &str) -> Arity {
    match name {
        "not" | "len" => Arity::Exactly(1),
        "and" | "or" | "index" | "slice" | "printf" | "eq" => Arity::AtLeast(1),
        "ne" | "lt" | "le" | "gt" | "ge" => Arity::Exactly(2),
        _ => Arity::Any,
    }
}

/// Calls a built-in other than `and`/`or`.
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "not" => Ok(Value::Bool(!args[0].is_true())),
        "len" => length(&args[0]),
        "index" => index(&args[0], &args[1..]),
        "slice" => slice(&args[0], &args[1..]),
        "print" => Ok(Value::String(sprint(&printable(args)))),
        "println" => Ok(Value::String(sprintln(&printable(args)))),
        "printf" => match &args[0] {
            Value::String(format) => Ok(Value::String(sprintf(format, &printable(&args[1..])))),
            other => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
        },
        "eq" => eq(&args[0], &args[1..]).map(Value::Bool),
        "ne" => eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b)),
        "lt" => less(&args[0], &args[1]).map(Value::Bool),
        "le" => less_or_equal(&args[0], &args[1]).map(Value::Bool),
        "gt" => less_or_equal(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "ge" => less(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "html" => Ok(Value::String(html_escape(&eval_args(args)))),
        "js" => Ok(Value::String(js_escape(&eval_args(args)))),
        "urlquery" => Ok(Value::String(query_escape(&eval_args(args)))),
        _ => Err(format!("{name:?} is not a defined function")),
    }
}

/// Missing values reach fmt as nil.
fn printable(args: &[Value]) -> Vec<Value> {
    args.iter()
        .map(|v| match v {
            Value::Missing => Value::Nil,
            other => other.clone(),
        })
        .collect()
}

/// Go's `evalArgs`: a lone string as is, otherwise `fmt.Sprint`.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.clone();
    }
    sprint(&printable(args))
}

fn length(item: &Value) -> Result<Value, String> {
    match item {
        Value::String(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m) => Ok(Value::Int(m.len() as i64)),
        Value::Nil | Value::Missing => Err("len of nil pointer".to_string()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_of(index: &Value, cap: usize) -> Result<usize, String> {
    match index {
        Value::Int(i) => {
            if *i < 0 || *i as usize >= cap {
                Err(format!("index out of range: {i}"))
            } else {
                Ok(*i as usize)
            }
        }
        Value::Duration(d) => index_of(&Value::Int(d.nanos), cap),
        Value::Nil | Value::Missing => Err("cannot index slice/array with nil".to_string()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn index(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    for i in indexes {
        item = match &item {
            Value::Nil | Value::Missing => return Err("index of untyped nil".to_string()),
            Value::List(l) => l[index_of(i, l.len())?].clone(),
            Value::String(s) => Value::Int(i64::from(s.as_bytes()[index_of(i, s.len())?])),
            Value::Map(m) => match i {
                Value::String(key) => match m.get(key) {
                    Some(v) => v.clone(),
                    None => map_zero_value(m),
                },
                Value::Nil | Value::Missing => {
                    return Err("value is nil; should be of type string".to_string())
                }
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ))
                }
            },
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> Result<Value, String> {
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::Nil | Value::Missing => return Err("slice of untyped nil".to_string()),
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_string());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut bounds = [0, len, len];
    for (k, i) in indexes.iter().enumerate() {
        bounds[k] = index_of(i, len + 1)?;
    }
    if indexes.len() < 3 {
        bounds[2] = len;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    if indexes.len() == 3 && bounds[1] > bounds[2] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        ));
    }
    Ok(match item {
        Value::String(s) => match s.get(bounds[0]..bounds[1]) {
            Some(part) => Value::String(part.to_string()),
            None => Value::String(
                String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned(),
            ),
        },
        Value::List(l) => Value::List(l[bounds[0]..bounds[1]].to_vec()),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Basic {
    Bool,
    Int,
    Float,
    String,
    Invalid,
    Other,
}

fn basic_kind(v: &Value) -> Basic {
    match v {
        Value::Bool(_) => Basic::Bool,
        Value::Int(_) | Value::Duration(_) => Basic::Int,
        Value::Float(_) => Basic::Float,
        Value::String(_) => Basic::String,
        Value::Nil | Value::Missing => Basic::Invalid,
        _ => Basic::Other,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Duration(d) => d.nanos,
        _ => 0,
    }
}

/// Go's `eq`: true if `first` equals any of `others`.
fn eq(first: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic_kind(first);
    for other in others {
        let k2 = basic_kind(other);
        let truth = if k1 != k2 {
            if k1 != Basic::Invalid && k2 != Basic::Invalid {
                return Err("incompatible types for comparison".to_string());
            }
            false
        } else {
            match (first, other) {
                (Value::Bool(a), Value::Bool(b)) => a == b,
                (Value::Float(a), Value::Float(b)) => a == b,
                (Value::String(a), Value::String(b)) => a == b,
                (Value::Time(a), Value::Time(b)) => a == b,
                _ if k1 == Basic::Int => int_of(first) == int_of(other),
                _ if k1 == Basic::Invalid => true,
                (Value::List(_) | Value::Map(_) | Value::Struct(_), _)
                | (_, Value::List(_) | Value::Map(_) | Value::Struct(_)) => {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        first.to_go_string(),
                        first.type_name(),
                        other.type_name(),
                        other.to_go_string()
                    ))
                }
                _ => return Err("incompatible types for comparison".to_string()),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
fn less(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if matches!(k1, Basic::Invalid | Basic::Other | Basic::Bool)
        || matches!(k2, Basic::Invalid | Basic::Other | Basic::Bool)
    {
        return Err("invalid type for comparison".to_string());
    }
    if k1 != k2 {
        return Err("incompatible types for comparison".to_string());
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
        (Value::String(x), Value::String(y)) => x < y,
        _ => int_of(a) < int_of(b),
    })
}

/// Go's `le`: `lt` or `eq`.
fn less_or_equal(a: &Value, b: &Value) -> Result<bool, String> {
    if less(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if !c.is_ascii() && c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_go() {
        assert_eq!(
            eq(&Value::Int(1), &[Value::Int(2), Value::Int(1)]),
            Ok(true)
        );
        assert_eq!(
            eq(&Value::Int(1), &[Value::Float(1.0)]),
            Err("incompatible types for comparison".to_string())
        );
        assert_eq!(eq(&Value::Missing, &[Value::str("x")]), Ok(false));
        assert_eq!(less(&Value::str("a"), &Value::str("b")), Ok(true));
        assert_eq!(
            less(&Value::Bool(true), &Value::Bool(false)),
            Err("invalid type for comparison".to_string())
        );
        assert_eq!(
            less_or_equal(&Value::Float(2.0), &Value::Float(2.0)),
            Ok(true)
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"
        );
        assert_eq!(
            js_escape("a'b\"<=>\n"),
            "a\\'b\\\"\\u003C\\u003D\\u003E\\u000A"
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn index_and_slice() {
        let list = Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        assert_eq!(index(&list, &[Value::Int(1)]), Ok(Value::Int(2)));
        assert_eq!(
            index(&list, &[Value::Int(5)]),
            Err("index out of range: 5".to_string())
        );
        assert_eq!(
            slice(&Value::str("hello"), &[Value::Int(1), Value::Int(3)]),
            Ok(Value::str("el"))
        );
        assert_eq!(
            slice(&list, &[Value::Int(2), Value::Int(1)]),
            Err("invalid slice index: 2 > 1".to_string())
        );
        assert_eq!(
            index(&Value::str("A"), &[Value::Int(0)]),
            Ok(Value::Int(65))
        );
    }
}
