//! A JSON writer that produces the bytes Prometheus's API produces.
//!
//! Prometheus encodes its API answers with json-iterator in its
//! standard-library-compatible mode and with hand-written encoders for
//! query results (`util/jsonutil` in the Prometheus tree). Clients compare
//! answers byte for byte (differential tests, caches keyed by body), so this
//! writer follows the same rules rather than serde_json's:
//!
//! - strings escape `"` and `\`, write `\n`, `\r`, `\t` short and every other
//!   control character as `\u00xx`, and escape `<`, `>`, `&`, U+2028 and
//!   U+2029 as `\u003c`-style sequences (Go's HTML-safe encoding);
//! - sample values are quoted strings formatted like Go's
//!   `strconv.FormatFloat(v, 'f', -1, 64)`, switching to the `'e'` format
//!   below 1e-6 and from 1e21 on (`"1e-07"`, `"1e+21"`), with `NaN`, `+Inf`
//!   and `-Inf` spelled as Go spells them;
//! - timestamps are unquoted seconds with exactly the millisecond digits
//!   that are not all zero: `1.5` s is written `1.500`, `2` s is `2`.
//!
//! Everything is appended to one growing buffer, so a large result costs one
//! allocation chain and no intermediate tree.

use std::fmt::Write as _;

use agentmon_model::Labels;

/// Appends JSON to one byte buffer.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
}

impl JsonWriter {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> JsonWriter {
        JsonWriter {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Appends text that is already JSON (punctuation, literals).
    pub fn raw(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// Appends an object key and its colon: `"key":`.
    pub fn key(&mut self, key: &str) {
        self.string(key);
        self.buf.push(b':');
    }

    /// Appends a quoted, escaped string.
    pub fn string(&mut self, text: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.buf.push(b'"');
        let bytes = text.as_bytes();
        let mut start = 0;
        for (i, c) in text.char_indices() {
            let escape: Option<&[u8]> = match c {
                '"' => Some(b"\\\""),
                '\\' => Some(b"\\\\"),
                '\n' => Some(b"\\n"),
                '\r' => Some(b"\\r"),
                '\t' => Some(b"\\t"),
                '\u{2028}' => Some(b"\\u2028"),
                '\u{2029}' => Some(b"\\u2029"),
                c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            match escape {
                Some(sequence) => self.buf.extend_from_slice(sequence),
                None => {
                    let b = c as u8;
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[usize::from(b >> 4)]);
                    self.buf.push(HEX[usize::from(b & 0xf)]);
                }
            }
            start = i + c.len_utf8();
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }

    /// Appends a sample value as a quoted string, formatted as Prometheus
    /// formats it (see the module documentation).
    pub fn sample_value(&mut self, v: f64) {
        self.buf.push(b'"');
        push_go_float(&mut self.buf, v);
        self.buf.push(b'"');
    }

    /// Appends a millisecond timestamp as unquoted seconds.
    pub fn timestamp(&mut self, t_ms: i64) {
        let mut text = String::with_capacity(24);
        let magnitude = t_ms.unsigned_abs();
        if t_ms < 0 {
            text.push('-');
        }
        let _ = write!(text, "{}", magnitude / 1000);
        let fraction = magnitude % 1000;
        if fraction != 0 {
            let _ = write!(text, ".{fraction:03}");
        }
        self.raw(&text);
    }

    /// Appends a `[<timestamp>,"<value>"]` pair.
    pub fn point(&mut self, t_ms: i64, v: f64) {
        self.buf.push(b'[');
        self.timestamp(t_ms);
        self.buf.push(b',');
        self.sample_value(v);
        self.buf.push(b']');
    }

    /// Appends a label set as an object, in label order.
    pub fn labels(&mut self, labels: &Labels) {
        self.buf.push(b'{');
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.key(&label.name);
            self.string(&label.value);
        }
        self.buf.push(b'}');
    }

    /// Appends an array of strings.
    pub fn strings<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) {
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.string(item);
        }
        self.buf.push(b']');
    }
}

/// Formats `v` as Prometheus writes sample values: Go's `FormatFloat` with
/// the shortest digits that read back to `v`, in `'f'` notation except for
/// magnitudes below 1e-6 or from 1e21 on, which use `'e'` notation with an
/// exponent of at least two digits.
#[cfg(test)]
fn format_sample_value(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    push_go_float(&mut out, v);
    // Only ASCII is ever pushed.
    String::from_utf8(out).unwrap_or_default()
}

fn push_go_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        // Rust writes the same shortest digits as `1.5e-7`; Go pads the
        // exponent to two digits and always signs it: `1.5e-07`.
        let text = format!("{v:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        out.extend_from_slice(mantissa.as_bytes());
        out.push(b'e');
        out.push(sign as u8);
        if digits.len() < 2 {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
        return;
    }
    // Rust's `Display` for f64 is the shortest round-tripping decimal in
    // plain notation, as Go's 'f' with precision -1 is.
    out.extend_from_slice(v.to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut JsonWriter)) -> String {
        let mut w = JsonWriter::default();
        f(&mut w);
        String::from_utf8(w.into_bytes()).unwrap()
    }

    #[test]
    fn values_are_formatted_like_go_format_float() {
        let cases = [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-07"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-1.2345e100, "-1.2345e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (123456789.123, "123456789.123"),
        ];
        for (v, expected) in cases {
            assert_eq!(format_sample_value(v), expected, "{v:?}");
        }
    }

    #[test]
    fn timestamps_keep_nonzero_millisecond_digits() {
        let cases = [
            (0, "0"),
            (1500, "1.500"),
            (1005, "1.005"),
            (1050, "1.050"),
            (1_700_000_000_000, "1700000000"),
            (-1500, "-1.500"),
            (-5, "-0.005"),
            (i64::MIN, "-9223372036854775.808"),
        ];
        for (t, expected) in cases {
            assert_eq!(written(|w| w.timestamp(t)), expected, "{t}");
        }
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(
            written(|w| w.string("a\"b\\c\nd\te\r\u{1}<>&\u{2028}é")),
            r#""a\"b\\c\nd\te\r\u0001\u003c\u003e\u0026\u2028é""#
        );
    }

    #[test]
    fn labels_and_points() {
        let labels = Labels::new([("__name__", "up"), ("job", "a\"b")]).unwrap();
        assert_eq!(
            written(|w| {
                w.labels(&labels);
                w.point(1001, 2.0)
            }),
            r#"{"__name__":"up","job":"a\"b"}[1.001,"2"]"#
        );
    }
}
