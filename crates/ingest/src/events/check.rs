//! Field checks of one event object. Each check returns `None` after
//! recording why, so one pass collects every reason of an event.

use std::collections::BTreeMap;

use agentmon_model::calendar::parse_rfc3339_ms;
use serde_json::{Map, Value};

use super::{kind_of, EventLimits, COMMON_FIELDS};
use crate::error::truncated;

pub(super) struct Check<'a> {
    object: &'a Map<String, Value>,
    limits: &'a EventLimits,
    reasons: Vec<String>,
}

impl<'a> Check<'a> {
    pub(super) fn new(object: &'a Map<String, Value>, limits: &'a EventLimits) -> Check<'a> {
        Check {
            object,
            limits,
            reasons: Vec::new(),
        }
    }

    pub(super) fn fail(&mut self, reason: String) {
        self.reasons.push(reason);
    }

    pub(super) fn finish(self) -> Result<(), String> {
        if self.reasons.is_empty() {
            Ok(())
        } else {
            Err(self.reasons.join("; "))
        }
    }

    /// Refuses fields that are neither common nor of this type.
    pub(super) fn only_fields(&mut self, type_name: &str, fields: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !COMMON_FIELDS.contains(&k.as_str()) && !fields.contains(&k.as_str()))
            .map(|k| format!("{:?}", truncated(k, 64)))
            .collect();
        if !unknown.is_empty() {
            let mut allowed: Vec<&str> = COMMON_FIELDS.to_vec();
            allowed.extend_from_slice(fields);
            self.fail(format!(
                "unknown field{} {} for type {type_name:?}: allowed fields are {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", "),
                allowed.join(", ")
            ));
        }
    }

    /// A required, non-empty string of at most `max_name_bytes`.
    pub(super) fn name(&mut self, field: &str) -> Option<String> {
        let limit = self.limits.max_name_bytes;
        self.string(field, limit, true)
    }

    /// A required, non-empty string of at most `max_text_bytes`.
    pub(super) fn text(&mut self, field: &str) -> Option<String> {
        let limit = self.limits.max_text_bytes;
        self.string(field, limit, true)
    }

    /// An optional string of at most `max_text_bytes`; `Some(None)` if absent.
    pub(super) fn optional_text(&mut self, field: &str) -> Option<Option<String>> {
        if self.absent(field) {
            return Some(None);
        }
        let limit = self.limits.max_text_bytes;
        self.string(field, limit, false).map(Some)
    }

    fn string(&mut self, field: &str, limit: usize, non_empty: bool) -> Option<String> {
        match self.object.get(field) {
            None => self.missing(field),
            Some(Value::String(s)) if non_empty && s.is_empty() => {
                self.fail(format!("field {field:?} must not be empty"));
                None
            }
            Some(Value::String(s)) if s.len() > limit => {
                self.fail(format!(
                    "field {field:?} is {} bytes, over the limit of {limit} bytes",
                    s.len()
                ));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => self.wrong_type(field, "a string", other),
        }
    }

    /// A required finite number ≥ 0.
    pub(super) fn non_negative(&mut self, field: &str) -> Option<f64> {
        match self.object.get(field) {
            None => self.missing(field),
            Some(value) => self.non_negative_value(field, value),
        }
    }

    /// An optional finite number ≥ 0; `Some(None)` if absent.
    pub(super) fn optional_non_negative(&mut self, field: &str) -> Option<Option<f64>> {
        if self.absent(field) {
            return Some(None);
        }
        let value = self.object.get(field)?;
        self.non_negative_value(field, value).map(Some)
    }

    fn non_negative_value(&mut self, field: &str, value: &Value) -> Option<f64> {
        // serde_json has no NaN or infinity, so every number is finite.
        match value.as_f64() {
            Some(n) if n >= 0.0 => Some(n),
            Some(_) => {
                self.fail(format!("field {field:?} must not be negative, got {value}"));
                None
            }
            None => self.wrong_type(field, "a number", value),
        }
    }

    /// A required integer ≥ 0 (token counts).
    pub(super) fn count(&mut self, field: &str) -> Option<u64> {
        let value = match self.object.get(field) {
            None => return self.missing(field),
            Some(value) => value,
        };
        if let Some(n) = value.as_u64() {
            return Some(n);
        }
        match value {
            Value::Number(n)
                if n.as_i64().is_some_and(|n| n < 0) || n.as_f64().is_some_and(|f| f < 0.0) =>
            {
                self.fail(format!("field {field:?} must not be negative, got {value}"));
                None
            }
            other => self.wrong_type(field, "a whole number", other),
        }
    }

    /// One of the wire values of an enum.
    pub(super) fn choice<T: Copy>(
        &mut self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Option<T> {
        let text = match self.object.get(field) {
            None => return self.missing(field),
            Some(Value::String(text)) => text,
            Some(other) => return self.wrong_type(field, "a string", other),
        };
        let parsed = parse(text);
        if parsed.is_none() {
            let allowed: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            self.fail(format!(
                "field {field:?} is {:?}: expected one of {}",
                truncated(text, 64),
                allowed.join(", ")
            ));
        }
        parsed
    }

    /// The event time: absent or `null` is `now_ms`; otherwise whole
    /// milliseconds since the epoch, or an RFC 3339 string.
    pub(super) fn timestamp(&mut self, field: &str, now_ms: i64) -> Option<i64> {
        match self.object.get(field) {
            None | Some(Value::Null) => Some(now_ms),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(ms) if ms >= 0 => Some(ms),
                _ => {
                    self.fail(format!(
                        "field {field:?} must be a whole, non-negative number of milliseconds \
                         since the epoch, got {n}"
                    ));
                    None
                }
            },
            Some(Value::String(text)) => match parse_rfc3339_ms(text) {
                Some(ms) if ms >= 0 => Some(ms),
                _ => {
                    self.fail(format!(
                        "field {field:?} is {:?}, not an RFC 3339 time after 1970 \
                         (e.g. \"2026-01-02T03:04:05.678Z\")",
                        truncated(text, 64)
                    ));
                    None
                }
            },
            Some(other) => self.wrong_type(
                field,
                "milliseconds since the epoch or an RFC 3339 string",
                other,
            ),
        }
    }

    /// `attributes`: an optional object whose values are strings, numbers or
    /// booleans (kept as their text).
    pub(super) fn attributes(&mut self, field: &str) -> Option<BTreeMap<String, String>> {
        let object = match self.object.get(field) {
            None => return Some(BTreeMap::new()),
            Some(Value::Object(object)) => object,
            Some(other) => return self.wrong_type(field, "an object", other),
        };
        if object.len() > self.limits.max_attributes {
            self.fail(format!(
                "field {field:?} has {} entries, over the limit of {}",
                object.len(),
                self.limits.max_attributes
            ));
            return None;
        }
        let mut attributes = BTreeMap::new();
        let mut ok = true;
        for (key, value) in object {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    self.fail(format!(
                        "attribute {:?} must be a string, number or boolean, got {}",
                        truncated(key, 64),
                        kind_of(other)
                    ));
                    ok = false;
                    continue;
                }
            };
            if key.is_empty() || key.len() > self.limits.max_name_bytes {
                self.fail(format!(
                    "attribute name {:?} must be 1 to {} bytes",
                    truncated(key, 64),
                    self.limits.max_name_bytes
                ));
                ok = false;
            } else if text.len() > self.limits.max_text_bytes {
                self.fail(format!(
                    "attribute {:?} is {} bytes, over the limit of {} bytes",
                    truncated(key, 64),
                    text.len(),
                    self.limits.max_text_bytes
                ));
                ok = false;
            } else {
                attributes.insert(key.clone(), text);
            }
        }
        ok.then_some(attributes)
    }

    fn absent(&self, field: &str) -> bool {
        matches!(self.object.get(field), None | Some(Value::Null))
    }

    fn missing<T>(&mut self, field: &str) -> Option<T> {
        self.fail(format!("missing field {field:?}"));
        None
    }

    fn wrong_type<T>(&mut self, field: &str, expected: &str, got: &Value) -> Option<T> {
        self.fail(format!(
            "field {field:?} must be {expected}, got {}",
            kind_of(got)
        ));
        None
    }
}
