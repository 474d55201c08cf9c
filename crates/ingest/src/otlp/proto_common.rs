//! Protobuf readers shared by the OTLP metrics and trace decoders: typed
//! field accessors that check the wire type, and the `common/v1` and
//! `resource/v1` messages.
//!
//! ```text
//! AnyValue             { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
//!                        double double_value = 4; ArrayValue array_value = 5;
//!                        KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
//! ArrayValue           { repeated AnyValue values = 1; }
//! KeyValueList         { repeated KeyValue values = 1; }
//! KeyValue             { string key = 1; AnyValue value = 2; }
//! InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
//! Resource             { repeated KeyValue attributes = 1; }
//! ```

use crate::wire::{Reader, WireError, FIXED32, FIXED64, LEN, VARINT};
use crate::IngestError;

use super::model::{AnyValue, InstrumentationScope, KeyValue, Resource};

pub(crate) type Result<T> = std::result::Result<T, IngestError>;

/// Deepest nesting of array and key-value-list values accepted.
pub(crate) const MAX_VALUE_DEPTH: u32 = 32;

/// A reader over one message, named for error messages.
pub(crate) struct Message<'a> {
    pub r: Reader<'a>,
    pub name: &'static str,
}

impl<'a> Message<'a> {
    pub(crate) fn top(buf: &'a [u8], name: &'static str) -> Message<'a> {
        Message {
            r: Reader::new(buf),
            name,
        }
    }

    /// Reads the next field key, or `None` at the end of the message.
    pub(crate) fn next(&mut self) -> Result<Option<(u32, u8)>> {
        if self.r.is_empty() {
            return Ok(None);
        }
        self.r.key().map(Some).map_err(self.wire())
    }

    fn wire(&self) -> impl Fn(WireError) -> IngestError {
        let message = self.name;
        move |e| IngestError::Protobuf {
            message,
            offset: e.offset,
            reason: e.reason,
        }
    }

    fn error(&self, reason: &'static str) -> IngestError {
        IngestError::Protobuf {
            message: self.name,
            offset: self.r.offset(),
            reason,
        }
    }

    fn expect(&self, got: u8, want: u8) -> Result<()> {
        if got == want {
            return Ok(());
        }
        Err(self.error(match want {
            LEN => "field has the wrong wire type: expected length-delimited (2)",
            FIXED64 => "field has the wrong wire type: expected 64-bit (1)",
            FIXED32 => "field has the wrong wire type: expected 32-bit (5)",
            _ => "field has the wrong wire type: expected varint (0)",
        }))
    }

    /// Skips a field this decoder does not read.
    pub(crate) fn skip(&mut self, field: u32, wire_type: u8) -> Result<()> {
        self.r.skip(field, wire_type).map_err(self.wire())
    }

    /// A nested message field, as a reader named `name`.
    pub(crate) fn message(&mut self, wire_type: u8, name: &'static str) -> Result<Message<'a>> {
        self.expect(wire_type, LEN)?;
        let (bytes, base) = self.r.bytes().map_err(self.wire())?;
        Ok(Message {
            r: Reader::nested(bytes, base),
            name,
        })
    }

    pub(crate) fn bytes(&mut self, wire_type: u8) -> Result<Vec<u8>> {
        self.expect(wire_type, LEN)?;
        let (bytes, _) = self.r.bytes().map_err(self.wire())?;
        Ok(bytes.to_vec())
    }

    pub(crate) fn string(&mut self, wire_type: u8) -> Result<String> {
        self.expect(wire_type, LEN)?;
        let at = self.r.offset();
        let (bytes, _) = self.r.bytes().map_err(self.wire())?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(IngestError::Protobuf {
                message: self.name,
                offset: at,
                reason: "string field is not valid UTF-8",
            }),
        }
    }

    pub(crate) fn varint(&mut self, wire_type: u8) -> Result<u64> {
        self.expect(wire_type, VARINT)?;
        self.r.varint().map_err(self.wire())
    }

    /// A `sint32` (zigzag) field; values outside 32 bits are an error.
    pub(crate) fn sint32(&mut self, wire_type: u8) -> Result<i32> {
        let raw = self.varint(wire_type)?;
        let value = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        i32::try_from(value).map_err(|_| self.error("sint32 value out of range"))
    }

    /// A `uint32` field; values over 32 bits are an error.
    pub(crate) fn uint32(&mut self, wire_type: u8) -> Result<u32> {
        let raw = self.varint(wire_type)?;
        u32::try_from(raw).map_err(|_| self.error("uint32 value out of range"))
    }

    pub(crate) fn fixed64(&mut self, wire_type: u8) -> Result<u64> {
        self.expect(wire_type, FIXED64)?;
        self.r.fixed64().map_err(self.wire())
    }

    pub(crate) fn fixed32(&mut self, wire_type: u8) -> Result<u32> {
        self.expect(wire_type, FIXED32)?;
        self.r.fixed32().map_err(self.wire())
    }

    pub(crate) fn double(&mut self, wire_type: u8) -> Result<f64> {
        self.fixed64(wire_type).map(f64::from_bits)
    }

    /// A repeated 64-bit field, packed (the proto3 default) or not.
    pub(crate) fn repeated_fixed64(&mut self, wire_type: u8, out: &mut Vec<u64>) -> Result<()> {
        if wire_type == FIXED64 {
            out.push(self.fixed64(wire_type)?);
            return Ok(());
        }
        self.expect(wire_type, LEN)?;
        let (bytes, base) = self.r.bytes().map_err(self.wire())?;
        if bytes.len() % 8 != 0 {
            return Err(IngestError::Protobuf {
                message: self.name,
                offset: base,
                reason: "packed 64-bit field's length is not a multiple of 8",
            });
        }
        let mut packed = Reader::nested(bytes, base);
        while !packed.is_empty() {
            out.push(packed.fixed64().map_err(self.wire())?);
        }
        Ok(())
    }

    /// A repeated varint field, packed or not.
    pub(crate) fn repeated_varint(&mut self, wire_type: u8, out: &mut Vec<u64>) -> Result<()> {
        if wire_type == VARINT {
            out.push(self.varint(wire_type)?);
            return Ok(());
        }
        self.expect(wire_type, LEN)?;
        let (bytes, base) = self.r.bytes().map_err(self.wire())?;
        let mut packed = Reader::nested(bytes, base);
        while !packed.is_empty() {
            out.push(packed.varint().map_err(self.wire())?);
        }
        Ok(())
    }

    /// An error at the current position, for checks after a field was read.
    pub(crate) fn invalid(&self, reason: &'static str) -> IngestError {
        self.error(reason)
    }
}

/// Decodes `KeyValue` into `out`.
pub(crate) fn key_value(mut m: Message<'_>, depth: u32) -> Result<KeyValue> {
    let mut kv = KeyValue::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => kv.key = m.string(wt)?,
            2 => kv.value = any_value(m.message(wt, "AnyValue")?, depth + 1)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(kv)
}

/// Decodes `AnyValue`; the last value field set wins, as protobuf's oneof
/// rules say.
pub(crate) fn any_value(mut m: Message<'_>, depth: u32) -> Result<AnyValue> {
    if depth > MAX_VALUE_DEPTH {
        return Err(m.invalid("attribute values nested too deeply (over 32 levels)"));
    }
    let mut value = AnyValue::Empty;
    while let Some((field, wt)) = m.next()? {
        value = match field {
            1 => AnyValue::String(m.string(wt)?),
            2 => AnyValue::Bool(m.varint(wt)? != 0),
            3 => AnyValue::Int(m.varint(wt)? as i64),
            4 => AnyValue::Double(m.double(wt)?),
            5 => {
                let mut list = m.message(wt, "ArrayValue")?;
                let mut values = Vec::new();
                while let Some((f, t)) = list.next()? {
                    match f {
                        1 => values.push(any_value(list.message(t, "AnyValue")?, depth + 1)?),
                        _ => list.skip(f, t)?,
                    }
                }
                AnyValue::Array(values)
            }
            6 => {
                let mut list = m.message(wt, "KeyValueList")?;
                let mut values = Vec::new();
                while let Some((f, t)) = list.next()? {
                    match f {
                        1 => values.push(key_value(list.message(t, "KeyValue")?, depth + 1)?),
                        _ => list.skip(f, t)?,
                    }
                }
                AnyValue::KvList(values)
            }
            7 => AnyValue::Bytes(m.bytes(wt)?),
            _ => {
                m.skip(field, wt)?;
                continue;
            }
        };
    }
    Ok(value)
}

/// Appends one repeated `KeyValue` field's entry to `attributes`.
pub(crate) fn push_attribute(
    m: &mut Message<'_>,
    wire_type: u8,
    attributes: &mut Vec<KeyValue>,
) -> Result<()> {
    attributes.push(key_value(m.message(wire_type, "KeyValue")?, 0)?);
    Ok(())
}

pub(crate) fn resource(mut m: Message<'_>) -> Result<Resource> {
    let mut resource = Resource::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => push_attribute(&mut m, wt, &mut resource.attributes)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(resource)
}

pub(crate) fn scope(mut m: Message<'_>) -> Result<InstrumentationScope> {
    let mut scope = InstrumentationScope::default();
    while let Some((field, wt)) = m.next()? {
        match field {
            1 => scope.name = m.string(wt)?,
            2 => scope.version = m.string(wt)?,
            3 => push_attribute(&mut m, wt, &mut scope.attributes)?,
            _ => m.skip(field, wt)?,
        }
    }
    Ok(scope)
}
