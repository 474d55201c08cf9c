//! A small strict JSON reader for one line of the import format: just
//! enough of RFC 8259 to read objects of strings and arrays of numbers, and
//! to skip any other value. Errors name the 1-based column (in bytes).

use std::borrow::Cow;

/// Deepest nesting that skipping unknown values follows.
const MAX_DEPTH: u32 = 64;

/// A cursor over one line of JSON text.
pub(crate) struct Json<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Json<'a> {
    pub(crate) fn new(s: &'a str) -> Json<'a> {
        Json { s, pos: 0 }
    }

    /// An error message at the current column.
    pub(crate) fn err(&self, what: impl std::fmt::Display) -> String {
        format!("column {}: {what}", self.pos + 1)
    }

    fn skip_ws(&mut self) {
        let bytes = self.s.as_bytes();
        while self.pos < bytes.len() && matches!(bytes[self.pos], b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, without consuming it.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.as_bytes().get(self.pos).copied()
    }

    /// Whether only blanks are left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `want` (after blanks) or fails.
    pub(crate) fn expect(&mut self, want: u8) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(self.err(format!(
                "expected '{}', found '{}'",
                want as char, b as char
            ))),
            None => Err(self.err(format!(
                "expected '{}', found the end of the line",
                want as char
            ))),
        }
    }

    /// After an element of an object or array: consumes `,` (true) or `close` (false).
    pub(crate) fn comma_or(&mut self, close: u8) -> Result<bool, String> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.err(format!("expected ',' or '{}'", close as char))),
        }
    }

    /// Consumes `close` if it comes next (an empty object or array).
    pub(crate) fn eat(&mut self, close: u8) -> bool {
        if self.peek() == Some(close) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the literal `word` (`null`, `true`, `false`) if it comes next.
    pub(crate) fn literal(&mut self, word: &str) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Reads a string, resolving escapes; borrowed when it has none.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.expect(b'"')?;
        let start = self.pos;
        let bytes = self.s.as_bytes();
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(self.err("string is not closed with '\"'"));
            };
            match b {
                b'"' => {
                    let tail = &self.s[run..self.pos];
                    self.pos += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut o) => {
                            o.push_str(tail);
                            Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    let mut o = owned.take().unwrap_or_default();
                    o.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    o.push(self.escape()?);
                    owned = Some(o);
                    run = self.pos;
                }
                0..=0x1f => return Err(self.err("control character inside a string: escape it")),
                _ => self.pos += 1,
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self) -> Result<char, String> {
        let Some(&b) = self.s.as_bytes().get(self.pos) else {
            return Err(self.err("string ends inside an escape"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xd800..0xdc00).contains(&high) {
                    if !self.s[self.pos..].starts_with("\\u") {
                        return Err(self.err("unpaired UTF-16 surrogate in \\u escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(self.err("unpaired UTF-16 surrogate in \\u escape"));
                    }
                    let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                    char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))?
                } else {
                    char::from_u32(high)
                        .ok_or_else(|| self.err("unpaired UTF-16 surrogate in \\u escape"))?
                }
            }
            other => return Err(self.err(format!("invalid escape \\{}", other as char))),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.err("\\u must be followed by 4 hex digits"));
        };
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.err("invalid \\u escape"))
    }

    /// Reads a number in JSON's grammar; returns its text and whether it is
    /// an integer (no fraction, no exponent).
    pub(crate) fn number(&mut self) -> Result<(&'a str, bool), String> {
        self.skip_ws();
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let digits = |pos: &mut usize| {
            let from = *pos;
            while *pos < bytes.len() && bytes[*pos].is_ascii_digit() {
                *pos += 1;
            }
            *pos - from
        };
        let mut p = self.pos;
        if bytes.get(p) == Some(&b'-') {
            p += 1;
        }
        let int_start = p;
        let n = digits(&mut p);
        if n == 0 || (n > 1 && bytes[int_start] == b'0') {
            return Err(self.err("invalid number"));
        }
        let mut integer = true;
        if bytes.get(p) == Some(&b'.') {
            p += 1;
            integer = false;
            if digits(&mut p) == 0 {
                self.pos = p;
                return Err(self.err("invalid number: digits must follow '.'"));
            }
        }
        if matches!(bytes.get(p), Some(b'e' | b'E')) {
            p += 1;
            integer = false;
            if matches!(bytes.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            if digits(&mut p) == 0 {
                self.pos = p;
                return Err(self.err("invalid number: digits must follow the exponent"));
            }
        }
        self.pos = p;
        Ok((&self.s[start..p], integer))
    }

    /// Skips one value of any type.
    pub(crate) fn skip_value(&mut self, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(self.err("values nested too deeply"));
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.pos += 1;
                if self.eat(close) {
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    if !self.comma_or(close)? {
                        return Ok(());
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ if self.literal("null") || self.literal("true") || self.literal("false") => Ok(()),
            Some(_) => Err(self.err("expected a JSON value")),
            None => Err(self.err("expected a JSON value, found the end of the line")),
        }
    }
}
