//! The small lexical pieces of a promqltest script: numbers, quoted strings,
//! timestamps and whitespace-separated words.
//!
//! Numbers follow Prometheus's `parseNumber`, which first tries Go's
//! `strconv.ParseInt(s, 0, 64)` (so `0x1f`, `0o17`, `0b101` and the C-style
//! octal `017` are integers) and only then a float parse (`1e3`, `.5`, `Inf`,
//! `NaN`, case-insensitive). Strings follow PromQL's quoting: `"…"` and `'…'`
//! with Go escapes, and raw `` `…` `` strings.

/// Parses a number the way Prometheus's `parseNumber` does.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    parse_go_integer(text).or_else(|| parse_go_float(text))
}

/// Go's `strconv.ParseInt(text, 0, 64)`, without underscore support.
fn parse_go_integer(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    // Out-of-range integers make Go fall back to the float parse.
    i64::try_from(value).ok().map(|v| v as f64)
}

/// Go's `strconv.ParseFloat` for the decimal forms and the special values.
fn parse_go_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => {
            return Some(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        // Go accepts NaN only without a sign.
        "nan" if body.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let decimal = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !decimal || !body.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Parses a Prometheus duration (`5m`, `1m30s`, `0`) into milliseconds, as
/// used for load intervals and evaluation times.
pub(crate) fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let millis = agentmon_model::duration::parse_millis(text).map_err(|e| e.to_string())?;
    i64::try_from(millis).map_err(|_| format!("duration {text:?} is too large"))
}

/// Splits off the first word (up to a space or tab) and returns it with the
/// rest of the text, leading whitespace removed.
pub(crate) fn split_word(text: &str) -> (&str, &str) {
    match text.find([' ', '\t']) {
        Some(end) => (&text[..end], text[end..].trim_start_matches([' ', '\t'])),
        None => (text, ""),
    }
}

/// Reads one quoted string at the start of `text`, returning its value and the
/// number of bytes consumed.
pub(crate) fn parse_quoted(text: &str) -> Result<(String, usize), String> {
    let quote = match text.chars().next() {
        Some(q @ ('"' | '\'' | '`')) => q,
        _ => return Err("expected a quoted string".to_owned()),
    };
    if quote == '`' {
        let end = text[1..]
            .find('`')
            .ok_or_else(|| "unterminated raw string".to_owned())?;
        return Ok((text[1..1 + end].to_owned(), end + 2));
    }
    let mut bytes = Vec::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            c if c == quote => {
                let value = String::from_utf8(bytes)
                    .map_err(|_| "string is not valid UTF-8 after unescaping".to_owned())?;
                return Ok((value, index + 1));
            }
            '\n' => return Err("newline in string".to_owned()),
            '\\' => {
                let (_, escaped) = chars.next().ok_or("unterminated string")?;
                let mut take = |count: usize| -> Result<String, String> {
                    (0..count)
                        .map(|_| chars.next().map(|(_, c)| c))
                        .collect::<Option<String>>()
                        .ok_or_else(|| "unterminated escape sequence".to_owned())
                };
                match escaped {
                    'a' => bytes.push(0x07),
                    'b' => bytes.push(0x08),
                    'f' => bytes.push(0x0c),
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'v' => bytes.push(0x0b),
                    '\\' => bytes.push(b'\\'),
                    e if e == quote => bytes.push(e as u8),
                    'x' => bytes.push(parse_escape_number(&take(2)?, 16)? as u8),
                    '0'..='7' => {
                        let digits = format!("{escaped}{}", take(2)?);
                        let value = parse_escape_number(&digits, 8)?;
                        let byte = u8::try_from(value)
                            .map_err(|_| format!("octal escape \\{digits} is above 255"))?;
                        bytes.push(byte);
                    }
                    'u' | 'U' => {
                        let digits = take(if escaped == 'u' { 4 } else { 8 })?;
                        let c =
                            char::from_u32(parse_escape_number(&digits, 16)?).ok_or_else(|| {
                                format!("escape \\{escaped}{digits} is not a character")
                            })?;
                        bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    other => return Err(format!("unknown escape sequence \\{other}")),
                }
            }
            c => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Err("unterminated string".to_owned())
}

fn parse_escape_number(digits: &str, radix: u32) -> Result<u32, String> {
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("invalid escape digits {digits:?}"));
    }
    u32::from_str_radix(digits, radix).map_err(|_| format!("invalid escape digits {digits:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_prometheus() {
        assert_eq!(parse_number("12340000"), Some(12_340_000.0));
        assert_eq!(parse_number("12.34e-6"), Some(12.34e-6));
        assert_eq!(parse_number(".2"), Some(0.2));
        assert_eq!(parse_number("2."), Some(2.0));
        assert_eq!(parse_number("-0.2e-6"), Some(-0.2e-6));
        assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_number("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert!(parse_number("nan").unwrap().is_nan());
        assert_eq!(parse_number("-NaN"), None);
        assert_eq!(parse_number("0x1f"), Some(31.0));
        assert_eq!(parse_number("010"), Some(8.0));
        assert_eq!(parse_number("08"), Some(8.0));
        assert_eq!(parse_number("0b101"), Some(5.0));
        assert_eq!(parse_number("1e400"), Some(f64::INFINITY));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("1 2"), None);
        assert_eq!(parse_number("e"), None);
    }

    #[test]
    fn strings_unescape_like_promql() {
        assert_eq!(parse_quoted(r#""a\"b" rest"#), Ok(("a\"b".to_owned(), 6)));
        assert_eq!(parse_quoted(r"'it\'s'"), Ok(("it's".to_owned(), 7)));
        assert_eq!(parse_quoted(r"`a\n`"), Ok((r"a\n".to_owned(), 5)));
        assert_eq!(parse_quoted(r#""\x41\101\u00e9\n""#).unwrap().0, "AAé\n");
        assert!(parse_quoted(r#""\xff""#).is_err());
        assert!(parse_quoted(r#""\q""#).is_err());
        assert!(parse_quoted(r#""\'""#).is_err());
        assert!(parse_quoted(r#""open"#).is_err());
        assert!(parse_quoted("x").is_err());
    }

    #[test]
    fn durations_and_words() {
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert!(parse_duration_ms("10").is_err());
        assert_eq!(
            split_word("at 5m\t rate(x[1m])"),
            ("at", "5m\t rate(x[1m])")
        );
        assert_eq!(split_word("clear"), ("clear", ""));
    }
}
