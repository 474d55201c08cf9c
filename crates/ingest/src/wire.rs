//! A minimal protobuf wire-format reader over a borrowed byte slice: varints,
//! fixed-width scalars, length-delimited fields, and skipping of unknown
//! fields of every wire type (groups included). Positions are reported as
//! absolute offsets into the outermost buffer.

/// Wire type of a varint field (int32, int64, uint64, bool, enum).
pub(crate) const VARINT: u8 = 0;
/// Wire type of a fixed 64-bit field (double, fixed64, sfixed64).
pub(crate) const FIXED64: u8 = 1;
/// Wire type of a length-delimited field (string, bytes, message, packed).
pub(crate) const LEN: u8 = 2;
/// Wire type opening a (deprecated) group.
const START_GROUP: u8 = 3;
/// Wire type closing a (deprecated) group.
const END_GROUP: u8 = 4;
/// Wire type of a fixed 32-bit field (float, fixed32, sfixed32).
pub(crate) const FIXED32: u8 = 5;

/// Deepest group nesting that unknown-field skipping follows.
const MAX_GROUP_DEPTH: u32 = 32;

/// A wire-format violation: absolute byte offset and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireError {
    pub offset: usize,
    pub reason: &'static str,
}

/// A cursor over one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Absolute offset of `buf[0]` in the outermost buffer.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole top-level buffer.
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader over a nested message that starts at absolute offset `base`.
    #[inline]
    pub(crate) fn nested(buf: &'a [u8], base: usize) -> Reader<'a> {
        Reader { buf, pos: 0, base }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next byte, not consumed.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Consumes `n` bytes that [`Reader::peek`] has shown to be there.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(self.pos + n <= self.buf.len());
        self.pos += n;
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    fn err(&self, reason: &'static str) -> WireError {
        WireError {
            offset: self.offset(),
            reason,
        }
    }

    /// Reads a base-128 varint of at most 10 bytes that fits in 64 bits.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        // Fast paths: one byte (tags, short lengths) and two bytes (lengths
        // of typical series messages).
        match self.buf.get(self.pos..) {
            Some([b0, ..]) if *b0 < 0x80 => {
                self.pos += 1;
                Ok(u64::from(*b0))
            }
            Some([b0, b1, ..]) if *b1 < 0x80 => {
                self.pos += 2;
                Ok(u64::from(b0 & 0x7f) | u64::from(*b1) << 7)
            }
            _ => self.varint_slow(),
        }
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                self.pos = start;
                return Err(self.err("truncated varint: the buffer ends inside it"));
            };
            self.pos += 1;
            if i == 9 && b >= 0x80 {
                break;
            }
            if i == 9 && b > 1 {
                self.pos = start;
                return Err(self.err("varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        self.pos = start;
        Err(self.err("varint is longer than 10 bytes"))
    }

    /// Reads a field key and splits it into (field number, wire type).
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u32, u8), WireError> {
        let at = self.pos;
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            self.pos = at;
            return Err(self.err("invalid field number (0 or above 2^29-1)"));
        }
        Ok((field as u32, (key & 7) as u8))
    }

    /// Reads a little-endian 64-bit value.
    #[inline]
    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        match self.buf.get(self.pos..self.pos + 8) {
            Some(bytes) => {
                self.pos += 8;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                Ok(u64::from_le_bytes(raw))
            }
            None => Err(self.err("truncated 64-bit field: fewer than 8 bytes left")),
        }
    }

    /// Reads a little-endian 32-bit value.
    #[inline]
    pub(crate) fn fixed32(&mut self) -> Result<u32, WireError> {
        match self.buf.get(self.pos..self.pos + 4) {
            Some(bytes) => {
                self.pos += 4;
                let mut raw = [0u8; 4];
                raw.copy_from_slice(bytes);
                Ok(u32::from_le_bytes(raw))
            }
            None => Err(self.err("truncated 32-bit field: fewer than 4 bytes left")),
        }
    }

    /// Reads a length-delimited payload; returns it with its absolute offset.
    #[inline]
    pub(crate) fn bytes(&mut self) -> Result<(&'a [u8], usize), WireError> {
        let at = self.pos;
        let len = self.varint()?;
        let start = self.pos;
        let remaining = (self.buf.len() - start) as u64;
        if len > remaining {
            self.pos = at;
            return Err(self.err("length-delimited field runs past the end of its message"));
        }
        let end = start + len as usize;
        self.pos = end;
        Ok((&self.buf[start..end], self.base + start))
    }

    /// Skips the value of a field whose key was just read.
    pub(crate) fn skip(&mut self, field: u32, wire_type: u8) -> Result<(), WireError> {
        self.skip_depth(field, wire_type, 0)
    }

    fn skip_depth(&mut self, field: u32, wire_type: u8, depth: u32) -> Result<(), WireError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => {
                if self.buf.len() - self.pos < 4 {
                    return Err(self.err("truncated 32-bit field: fewer than 4 bytes left"));
                }
                self.pos += 4;
                Ok(())
            }
            START_GROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(self.err("groups nested too deeply"));
                }
                loop {
                    if self.is_empty() {
                        return Err(self.err("group is not closed before the end of its message"));
                    }
                    let (inner, inner_type) = self.key()?;
                    if inner_type == END_GROUP {
                        if inner != field {
                            return Err(self.err("group closed with a different field number"));
                        }
                        return Ok(());
                    }
                    self.skip_depth(inner, inner_type, depth + 1)?;
                }
            }
            END_GROUP => Err(self.err("end-group marker without a matching start")),
            _ => Err(self.err("invalid wire type (6 or 7)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_and_reject_overlong_or_truncated_forms() {
        assert_eq!(Reader::new(&[0x96, 0x01]).varint(), Ok(150));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint(), Ok(u64::MAX));
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&overflow).varint().unwrap_err().reason,
            "varint overflows 64 bits"
        );
        let long = [0x80; 11];
        assert!(Reader::new(&long)
            .varint()
            .unwrap_err()
            .reason
            .contains("longer than 10"));
        assert!(Reader::new(&[0x80])
            .varint()
            .unwrap_err()
            .reason
            .contains("truncated"));
    }

    #[test]
    fn skips_every_wire_type_including_nested_groups() {
        // field 1 varint, field 2 fixed64, field 3 len, field 5 fixed32,
        // field 6 group containing field 7 varint and a nested group 8.
        let mut buf = vec![
            0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 2, b'h', b'i',
        ];
        buf.extend_from_slice(&[0x2d, 1, 2, 3, 4]);
        buf.extend_from_slice(&[0x33, 0x38, 0x01, 0x43, 0x44, 0x34]);
        buf.push(0x48); // field 9 varint 0 after everything
        buf.push(0x00);
        let mut r = Reader::new(&buf);
        let mut fields = Vec::new();
        while !r.is_empty() {
            let (f, t) = r.key().unwrap();
            fields.push(f);
            r.skip(f, t).unwrap();
        }
        assert_eq!(fields, [1, 2, 3, 5, 6, 9]);
    }

    #[test]
    fn lengths_past_the_end_and_bad_groups_are_errors() {
        let mut r = Reader::new(&[0x0a, 0x05, b'a']);
        let (f, t) = r.key().unwrap();
        assert!(r.skip(f, t).unwrap_err().reason.contains("past the end"));
        let mut r = Reader::new(&[0x0b, 0x14]);
        let (f, t) = r.key().unwrap();
        assert!(r.skip(f, t).unwrap_err().reason.contains("different field"));
        let mut r = Reader::new(&[0x0b]);
        let (f, t) = r.key().unwrap();
        assert!(r.skip(f, t).unwrap_err().reason.contains("not closed"));
        let mut r = Reader::new(&[0x0e]);
        let (f, t) = r.key().unwrap();
        assert!(r.skip(f, t).unwrap_err().reason.contains("wire type"));
        assert!(Reader::new(&[0x00]).key().is_err());
    }
}
