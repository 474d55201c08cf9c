//! Attribute values and floats as Prometheus label values: how
//! Prometheus's OTLP receiver writes them (pdata's `Value.AsString`, Go's
//! `strconv.FormatFloat(x, 'f', -1, 64)`).

use super::model::AnyValue;

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it, which
/// is how Prometheus renders `le` and `quantile`: shortest round-trip
/// digits, no exponent, `+Inf`/`-Inf`/`NaN`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// An attribute value as a label value, like pdata's `Value.AsString`:
/// strings as they are, numbers and booleans in decimal, bytes in base64,
/// arrays and maps as JSON.
pub fn value_as_string(value: &AnyValue) -> String {
    match value {
        AnyValue::Empty => String::new(),
        AnyValue::String(s) => s.clone(),
        AnyValue::Bool(b) => b.to_string(),
        AnyValue::Int(i) => i.to_string(),
        AnyValue::Double(d) => format_float(*d),
        AnyValue::Bytes(b) => base64_encode(b),
        AnyValue::Array(_) | AnyValue::KvList(_) => to_json(value).to_string(),
    }
}

fn to_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AnyValue::Empty => Value::Null,
        AnyValue::String(s) => Value::String(s.clone()),
        AnyValue::Bool(b) => Value::Bool(*b),
        AnyValue::Int(i) => Value::from(*i),
        AnyValue::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        AnyValue::Bytes(b) => Value::String(base64_encode(b)),
        AnyValue::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        AnyValue::KvList(kvs) => Value::Object(
            kvs.iter()
                .map(|kv| (kv.key.clone(), to_json(&kv.value)))
                .collect(),
        ),
    }
}

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
