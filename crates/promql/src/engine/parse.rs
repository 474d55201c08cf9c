//! Parsing a query: the `promql-parser` crate, with one correction made to
//! the text first.
//!
//! In PromQL (as in Go) `\xHH` and octal `\OOO` escapes in a quoted string
//! stand for single *bytes*: `"\xc3\xa9"` is `é` and `"\xff"` is not valid
//! UTF-8 at all. The parser crate instead reads each such escape as the
//! code point of that number, so `"\xc3\xa9"` would become `Ã©`. Before
//! parsing, every run of byte escapes in a quoted string whose bytes are not
//! all ASCII is rewritten as the characters those bytes spell (as `\U`
//! escapes); bytes that do not form UTF-8 become U+FFFD, which label-name
//! checks reject as Prometheus rejects invalid UTF-8.

use std::borrow::Cow;

use promql_parser::parser::Expr;

use crate::error::PromqlError;

/// Parses `query` into an expression tree.
pub(crate) fn parse(query: &str) -> Result<Expr, PromqlError> {
    let text = normalize_byte_escapes(query);
    promql_parser::parser::parse(&text).map_err(|message| PromqlError::Parse { message })
}

/// The query with non-ASCII byte-escape runs in quoted strings rewritten as
/// described in the module documentation; borrowed when nothing changes.
pub(crate) fn normalize_byte_escapes(query: &str) -> Cow<'_, str> {
    if !query.contains('\\') {
        return Cow::Borrowed(query);
    }
    let bytes = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut copied = 0; // bytes of `query` already in `out` (or replaced)
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_until(bytes, i + 1, b'\n'),
            b'`' => i = skip_until(bytes, i + 1, b'`') + 1,
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    let (end, run) = byte_escape_run(bytes, i);
                    if run.is_empty() {
                        // Another escape: skip the backslash and what it escapes.
                        i += 2;
                        continue;
                    }
                    if run.iter().any(|b| !b.is_ascii()) {
                        out.push_str(&query[copied..i]);
                        for c in String::from_utf8_lossy(&run).chars() {
                            out.push_str(&format!("\\U{:08X}", c as u32));
                        }
                        copied = end;
                        changed = true;
                    }
                    i = end;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return Cow::Borrowed(query);
    }
    out.push_str(&query[copied.min(query.len())..]);
    Cow::Owned(out)
}

/// The index of the next `stop` byte at or after `from` (or the end).
fn skip_until(bytes: &[u8], from: usize, stop: u8) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == stop)
        .map_or(bytes.len(), |p| from + p)
}

/// The consecutive well-formed `\xHH` / `\OOO` escapes starting at `at`:
/// where they end and the bytes they stand for (empty if there are none).
fn byte_escape_run(bytes: &[u8], mut at: usize) -> (usize, Vec<u8>) {
    let mut run = Vec::new();
    while at + 1 < bytes.len() && bytes[at] == b'\\' {
        let rest = &bytes[at + 1..];
        let value = match rest.first() {
            Some(b'x') if rest.len() >= 3 => {
                let hex = std::str::from_utf8(&rest[1..3]).ok();
                hex.and_then(|h| u8::from_str_radix(h, 16).ok())
            }
            Some(b'0'..=b'7') if rest.len() >= 3 => {
                let oct = std::str::from_utf8(&rest[..3]).ok();
                oct.and_then(|o| u16::from_str_radix(o, 8).ok())
                    .and_then(|v| u8::try_from(v).ok())
            }
            _ => None,
        };
        match value {
            Some(b) => {
                run.push(b);
                at += 4;
            }
            None => break,
        }
    }
    (at, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_other_escapes_are_left_alone() {
        for q in [
            r#"foo{a="\x41\n"}"#,
            r#"label_replace(x, "a", "\\", "b", "")"#,
            "up",
        ] {
            assert!(matches!(normalize_byte_escapes(q), Cow::Borrowed(_)), "{q}");
        }
    }

    #[test]
    fn utf8_byte_runs_become_their_characters() {
        let q = normalize_byte_escapes(r#"foo{a="\xc3\xa9!"}"#);
        assert_eq!(q, r#"foo{a="\U000000E9!"}"#);
        let q = normalize_byte_escapes(r#"foo{a='\303\251'}"#);
        assert_eq!(q, r#"foo{a='\U000000E9'}"#);
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        let q = normalize_byte_escapes(r#"label_replace(m, "\xff", "", "src", "(.*)")"#);
        assert_eq!(q, r#"label_replace(m, "\U0000FFFD", "", "src", "(.*)")"#);
    }

    #[test]
    fn raw_strings_and_comments_are_not_touched() {
        for q in ["foo{a=`\\xff`}", "foo # \"\\xff\"\n"] {
            assert!(matches!(normalize_byte_escapes(q), Cow::Borrowed(_)), "{q}");
        }
    }

    #[test]
    fn an_escaped_quote_does_not_end_the_string() {
        let q = normalize_byte_escapes(r#"foo{a="\"\xff"}"#);
        assert_eq!(q, r#"foo{a="\"\U0000FFFD"}"#);
    }

    #[test]
    fn parsed_strings_carry_the_bytes_meaning() {
        let expr = parse(r#"label_replace(m, "d", "\xc3\xa9", "s", "")"#).unwrap();
        assert!(expr.to_string().contains('é'), "{expr}");
    }
}
