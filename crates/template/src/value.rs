//! The values templates see: Go's dynamic `interface{}` reduced to the kinds
//! Prometheus and Alertmanager templates meet, with Go's truth rules, type
//! names and `%v` printing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::float::format_float;
use crate::time::{GoDuration, GoTime};

/// A value in template data, a function argument or a function result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Go's untyped `nil`; prints as `<nil>`.
    Nil,
    Bool(bool),
    /// Go's `int`.
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    String(String),
    /// A slice; prints as `[a b]`.
    List(Vec<Value>),
    /// A map with string keys; prints as `map[k:v]` and ranges in key order.
    Map(BTreeMap<String, Value>),
    /// Go's `time.Time`, with the methods `Format`, `Unix`, `UTC`, ...
    Time(GoTime),
    /// Go's `time.Duration`, with the methods `Seconds`, `String`, ...
    Duration(GoDuration),
    /// A Go struct (or pointer to one): a missing field is an error, and
    /// it prints as `{v1 v2}` (`&{...}` for a pointer).
    Struct(GoStruct),
    /// Go's invalid value: what a missing map key yields. Prints as
    /// `<no value>`; becomes `nil` when passed to a function.
    Missing,
}

impl Value {
    /// A string value.
    pub fn str(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// A map of strings (label sets, annotations): Go's `map[string]string`.
    pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// Go's truth: false for `false`, 0, `""`, nil, empty lists and maps.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil | Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) | Value::Struct(_) => true,
            Value::Duration(d) => d.nanos != 0,
        }
    }

    /// The Go type name used in error messages and `%!verb(type=value)`.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Nil | Value::Missing => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) => match map_zero_value(m) {
                Value::String(_) => "map[string]string",
                Value::Int(_) => "map[string]int",
                Value::Float(_) => "map[string]float64",
                Value::Bool(_) => "map[string]bool",
                _ => "map[string]interface {}",
            },
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
            Value::Struct(s) => &s.type_name,
        }
    }

    /// The value as a string slice if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The text Go's `fmt.Sprint` gives for this value (`%v`).
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self);
        out
    }
}

/// One field of a [`GoStruct`].
#[derive(Debug, Clone, PartialEq)]
pub struct StructField {
    /// The Go field name templates use (`.Labels`).
    pub name: String,
    /// The name `encoding/json` writes (the `json` tag), for `toJson`.
    pub json_name: String,
    pub value: Value,
}

/// A Go struct value with its type name and fields in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct GoStruct {
    /// Go's name of the type as error messages print it (`template.Alert`,
    /// `*template.sample`); a leading `*` marks a pointer.
    pub type_name: String,
    pub fields: Vec<StructField>,
}

impl GoStruct {
    /// A struct whose JSON names are its field names.
    pub fn new(type_name: &str, fields: Vec<(&str, Value)>) -> GoStruct {
        GoStruct {
            type_name: type_name.to_string(),
            fields: fields
                .into_iter()
                .map(|(name, value)| StructField {
                    name: name.to_string(),
                    json_name: name.to_string(),
                    value,
                })
                .collect(),
        }
    }

    /// A struct with JSON names given per field: `(name, json_name, value)`.
    pub fn with_json_names(type_name: &str, fields: Vec<(&str, &str, Value)>) -> GoStruct {
        GoStruct {
            type_name: type_name.to_string(),
            fields: fields
                .into_iter()
                .map(|(name, json_name, value)| StructField {
                    name: name.to_string(),
                    json_name: json_name.to_string(),
                    value,
                })
                .collect(),
        }
    }

    /// The value of a field.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// Whether Go would print it as a pointer (`&{...}`).
    pub fn is_pointer(&self) -> bool {
        self.type_name.starts_with('*')
    }
}

/// The zero value of the map's element type, inferred from its values as
/// Go would know it statically: `""`, 0, 0.0 or false when every value has
/// that type (an empty map counts as a map of strings), else nil.
pub(crate) fn map_zero_value(map: &BTreeMap<String, Value>) -> Value {
    let mut values = map.values();
    let zero = match values.next() {
        None | Some(Value::String(_)) => Value::String(String::new()),
        Some(Value::Int(_)) => Value::Int(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::Bool(_)) => Value::Bool(false),
        Some(_) => return Value::Nil,
    };
    let same = values.all(|v| std::mem::discriminant(v) == std::mem::discriminant(&zero));
    if same {
        zero
    } else {
        Value::Nil
    }
}

/// Whether every value of the map is a string (an empty map counts): the
/// template sees it as Go's `map[string]string`, whose missing keys read as
/// `""` under `missingkey=zero`.
pub(crate) fn is_string_map(map: &BTreeMap<String, Value>) -> bool {
    map.values().all(|v| matches!(v, Value::String(_)))
}

/// Writes `%v` of a value as Go's fmt does.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("<nil>"),
        Value::Missing => out.push_str("<no value>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float(*f, 'g', None)),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Time(t) => out.push_str(&t.to_go_string()),
        Value::Duration(d) => out.push_str(&d.to_go_string()),
        Value::Struct(s) => {
            if s.is_pointer() {
                out.push('&');
            }
            out.push('{');
            for (i, field) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, &field.value);
            }
            out.push('}');
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&BTreeMap<String, String>> for Value {
    /// A label set or annotations: Go's `map[string]string`.
    fn from(m: &BTreeMap<String, String>) -> Value {
        Value::string_map(m.iter())
    }
}

impl From<Vec<String>> for Value {
    /// Go's `[]string`.
    fn from(items: Vec<String>) -> Value {
        Value::List(items.into_iter().map(Value::String).collect())
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::List(l)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Value {
        Value::Map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go_fmt() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::Int(2));
        m.insert(
            "a".to_string(),
            Value::List(vec![Value::str("x"), Value::Float(1.5)]),
        );
        assert_eq!(Value::Map(m).to_go_string(), "map[a:[x 1.5] b:2]");
        assert_eq!(Value::Float(1e6).to_go_string(), "1e+06");
        assert_eq!(Value::Float(123456.0).to_go_string(), "123456");
        assert_eq!(Value::Float(0.0001).to_go_string(), "0.0001");
        assert_eq!(Value::Float(0.00001).to_go_string(), "1e-05");
        assert_eq!(Value::Float(f64::INFINITY).to_go_string(), "+Inf");
        assert_eq!(Value::Float(f64::NAN).to_go_string(), "NaN");
        assert_eq!(Value::Nil.to_go_string(), "<nil>");
        assert_eq!(Value::Missing.to_go_string(), "<no value>");
    }

    #[test]
    fn conversions_from_rust_collections() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        assert_eq!(Value::from(&labels).to_go_string(), "map[a:b]");
        assert_eq!(Value::from(&labels).type_name(), "map[string]string");
        assert_eq!(
            Value::from(vec!["x".to_string(), "y".to_string()]).to_go_string(),
            "[x y]"
        );
    }

    #[test]
    fn truth_follows_go() {
        assert!(!Value::str("").is_true());
        assert!(Value::str("0").is_true());
        assert!(!Value::Float(0.0).is_true());
        assert!(!Value::List(vec![]).is_true());
        assert!(Value::List(vec![Value::Nil]).is_true());
        assert!(!Value::Missing.is_true());
    }
}
