//! Field readers for OTLP/JSON (the protobuf JSON mapping with OTLP's
//! amendments, <https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding>):
//! keys in lowerCamelCase or as the proto field name, 64-bit integers as
//! strings or numbers, enums as integers or names, trace and span ids as
//! hex, `bytes` as base64. Each reader names the JSON path of what it
//! rejects; unknown keys are ignored, as the spec requires.

use serde_json::{Map, Value};

use crate::IngestError;

use super::model::{AnyValue, InstrumentationScope, KeyValue, Resource};
use super::proto_common::MAX_VALUE_DEPTH;

pub(crate) type Result<T> = std::result::Result<T, IngestError>;

/// A JSON path, built as a linked list on the stack and rendered only when
/// an error needs it.
#[derive(Clone, Copy)]
pub(crate) enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl<'p> Path<'p> {
    pub(crate) fn key(&'p self, key: &'p str) -> Path<'p> {
        Path::Key(self, key)
    }

    pub(crate) fn index(&'p self, index: usize) -> Path<'p> {
        Path::Index(self, index)
    }

    fn render(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Index(parent, index) => {
                parent.render(out);
                out.push_str(&format!("[{index}]"));
            }
        }
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> IngestError {
        let mut path = String::new();
        self.render(&mut path);
        if path.is_empty() {
            path.push('$');
        }
        IngestError::OtlpJson {
            path,
            reason: reason.into(),
        }
    }
}

/// Parses the body as one JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Path::Root.error("the body must be a JSON object")),
        Err(e) => Err(Path::Root.error(format!("invalid JSON: {e}"))),
    }
}

/// The value under `camel` or, failing that, under the proto name `snake`;
/// `null` counts as absent.
pub(crate) fn get<'v>(obj: &'v Map<String, Value>, camel: &str, snake: &str) -> Option<&'v Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

pub(crate) fn object<'v>(v: &'v Value, path: &Path<'_>) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| path.error(format!("expected an object, found {}", kind(v))))
}

pub(crate) fn array<'v>(v: &'v Value, path: &Path<'_>) -> Result<&'v [Value]> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| path.error(format!("expected an array, found {}", kind(v))))
}

/// Calls `each` for every element of the array under `camel`/`snake`, if any.
pub(crate) fn each<'v>(
    obj: &'v Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    path: &Path<'_>,
    mut each: impl FnMut(&'v Value, &Path<'_>) -> Result<()>,
) -> Result<()> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(());
    };
    let here = path.key(camel);
    for (i, item) in array(v, &here)?.iter().enumerate() {
        each(item, &here.index(i))?;
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn string(v: &Value, path: &Path<'_>) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| path.error(format!("expected a string, found {}", kind(v))))
}

/// An optional string field; absent is empty.
pub(crate) fn string_field(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &'static str,
    path: &Path<'_>,
) -> Result<String> {
    get(obj, camel, snake).map_or(Ok(String::new()), |v| string(v, &path.key(camel)))
}

pub(crate) fn boolean(v: &Value, path: &Path<'_>) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| path.error(format!("expected a boolean, found {}", kind(v))))
}

/// An unsigned 64-bit integer, as a decimal string or a JSON number.
pub(crate) fn uint64(v: &Value, path: &Path<'_>) -> Result<u64> {
    let parsed = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| path.error(format!("expected an unsigned 64-bit integer, found {v}")))
}

/// A signed 64-bit integer, as a decimal string or a JSON number.
pub(crate) fn int64(v: &Value, path: &Path<'_>) -> Result<i64> {
    let parsed = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| path.error(format!("expected a signed 64-bit integer, found {v}")))
}

/// A 32-bit unsigned integer (flags).
pub(crate) fn uint32(v: &Value, path: &Path<'_>) -> Result<u32> {
    let wide = uint64(v, path)?;
    u32::try_from(wide).map_err(|_| path.error(format!("{wide} does not fit in 32 bits")))
}

/// A 32-bit signed integer (scale, offset).
pub(crate) fn int32(v: &Value, path: &Path<'_>) -> Result<i32> {
    let wide = int64(v, path)?;
    i32::try_from(wide).map_err(|_| path.error(format!("{wide} does not fit in 32 bits")))
}

/// A double: a JSON number, or a string holding a number, `NaN`,
/// `Infinity` or `-Infinity` (the protobuf JSON mapping).
pub(crate) fn double(v: &Value, path: &Path<'_>) -> Result<f64> {
    let parsed = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        },
        _ => None,
    };
    parsed.ok_or_else(|| path.error(format!("expected a number, found {v}")))
}

/// An enum given as its number or its name (`names` lists name → number).
pub(crate) fn enumeration(v: &Value, path: &Path<'_>, names: &[(&str, i64)]) -> Result<i64> {
    match v {
        Value::String(s) => names
            .iter()
            .find(|(name, _)| name == s)
            .map(|(_, n)| *n)
            .ok_or_else(|| {
                let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                path.error(format!(
                    "unknown enum name {s:?}; expected one of {known:?} or a number"
                ))
            }),
        _ => int64(v, path),
    }
}

/// Trace and span identifiers: hex strings, any case (OTLP's exception to
/// the base64 `bytes` rule).
pub(crate) fn hex_id(v: &Value, path: &Path<'_>) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| path.error(format!("expected a hex string, found {}", kind(v))))?;
    if s.len() % 2 != 0 {
        return Err(path.error(format!("hex id {s:?} has an odd number of digits")));
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            path.error(format!(
                "hex id {s:?} has a character that is not a hex digit"
            ))
        })
}

/// Standard or URL-safe base64, padded or not (protobuf JSON accepts both).
pub(crate) fn base64(v: &Value, path: &Path<'_>) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| path.error(format!("expected a base64 string, found {}", kind(v))))?;
    let trimmed = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, c) in trimmed.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => {
                return Err(path.error(format!(
                    "invalid base64: character {:?} at position {i}",
                    c as char
                )))
            }
        };
        acc = acc << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if trimmed.len() % 4 == 1 {
        return Err(path.error("invalid base64: truncated input"));
    }
    Ok(out)
}

/// `AnyValue` as an object with one of the `*Value` keys.
pub(crate) fn any_value(v: &Value, path: &Path<'_>, depth: u32) -> Result<AnyValue> {
    if depth > MAX_VALUE_DEPTH {
        return Err(path.error("attribute values nested too deeply (over 32 levels)"));
    }
    let obj = object(v, path)?;
    if let Some(v) = get(obj, "stringValue", "string_value") {
        return string(v, &path.key("stringValue")).map(AnyValue::String);
    }
    if let Some(v) = get(obj, "boolValue", "bool_value") {
        return boolean(v, &path.key("boolValue")).map(AnyValue::Bool);
    }
    if let Some(v) = get(obj, "intValue", "int_value") {
        return int64(v, &path.key("intValue")).map(AnyValue::Int);
    }
    if let Some(v) = get(obj, "doubleValue", "double_value") {
        return double(v, &path.key("doubleValue")).map(AnyValue::Double);
    }
    if let Some(v) = get(obj, "bytesValue", "bytes_value") {
        return base64(v, &path.key("bytesValue")).map(AnyValue::Bytes);
    }
    if let Some(v) = get(obj, "arrayValue", "array_value") {
        let here = path.key("arrayValue");
        let mut values = Vec::new();
        each(object(v, &here)?, "values", "values", &here, |item, p| {
            values.push(any_value(item, p, depth + 1)?);
            Ok(())
        })?;
        return Ok(AnyValue::Array(values));
    }
    if let Some(v) = get(obj, "kvlistValue", "kvlist_value") {
        let here = path.key("kvlistValue");
        let mut values = Vec::new();
        each(object(v, &here)?, "values", "values", &here, |item, p| {
            values.push(key_value(item, p, depth + 1)?);
            Ok(())
        })?;
        return Ok(AnyValue::KvList(values));
    }
    Ok(AnyValue::Empty)
}

pub(crate) fn key_value(v: &Value, path: &Path<'_>, depth: u32) -> Result<KeyValue> {
    let obj = object(v, path)?;
    let key = string_field(obj, "key", "key", path)?;
    let value = match get(obj, "value", "value") {
        Some(v) => any_value(v, &path.key("value"), depth + 1)?,
        None => AnyValue::Empty,
    };
    Ok(KeyValue { key, value })
}

/// The `attributes` array of `obj`.
pub(crate) fn attributes(obj: &Map<String, Value>, path: &Path<'_>) -> Result<Vec<KeyValue>> {
    let mut out = Vec::new();
    each(obj, "attributes", "attributes", path, |item, p| {
        out.push(key_value(item, p, 0)?);
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn resource(parent: &Map<String, Value>, path: &Path<'_>) -> Result<Resource> {
    let Some(v) = get(parent, "resource", "resource") else {
        return Ok(Resource::default());
    };
    let here = path.key("resource");
    Ok(Resource {
        attributes: attributes(object(v, &here)?, &here)?,
    })
}

pub(crate) fn scope(parent: &Map<String, Value>, path: &Path<'_>) -> Result<InstrumentationScope> {
    let Some(v) = get(parent, "scope", "scope") else {
        return Ok(InstrumentationScope::default());
    };
    let here = path.key("scope");
    let obj = object(v, &here)?;
    Ok(InstrumentationScope {
        name: string_field(obj, "name", "name", &here)?,
        version: string_field(obj, "version", "version", &here)?,
        attributes: attributes(obj, &here)?,
    })
}
