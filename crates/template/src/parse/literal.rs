//! Literals as Go's parser reads them: quoted strings (`strconv.Unquote`)
//! and numbers with Go's integer syntax, turned into Go's ideal constants.

use crate::printf::go_quote;
use crate::value::Value;

/// Go's `strconv.Unquote` for "...", `...` and '...'.
pub(crate) fn unquote(text: &str) -> Option<String> {
    let quote = text.chars().next()?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let body = &text[1..text.len() - 1];
    if quote == '`' {
        return (!body.contains('`')).then(|| body.replace('\r', ""));
    }
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' | '"' if e == quote => out.push(e),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                if hex.len() != n {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // A byte; only valid UTF-8 results are kept here.
                    out.push(char::from_u32(code)?);
                } else {
                    out.push(char::from_u32(code)?);
                }
            }
            '0'..='7' => {
                let mut code = e.to_digit(8)?;
                for _ in 0..2 {
                    code = code * 8 + chars.next()?.to_digit(8)?;
                }
                if code > 255 {
                    return None;
                }
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    if quote == '\'' && out.chars().count() != 1 {
        return None;
    }
    Some(out)
}

/// Parses a number or character constant as Go's parser does, then picks
/// the value Go's executor uses for it: a float when the text has `.`, `e`
/// or `p` (and is not hex or a character), an int otherwise.
pub(crate) fn parse_number(text: &str, is_char: bool) -> Result<Result<Value, String>, String> {
    if is_char {
        let Some(s) = unquote(text) else {
            return Err(format!("malformed character constant: {text}"));
        };
        let c = s.chars().next().unwrap_or('\0');
        return Ok(Ok(Value::Int(i64::from(c as u32))));
    }
    let int = parse_go_int(text);
    let float = match int {
        Some(i) => Some(i as f64),
        None => {
            let cleaned = text.to_string();
            match parse_hex_float(&cleaned).map_or_else(|| cleaned.parse::<f64>(), Ok) {
                Ok(f) if !cleaned.contains(['.', 'e', 'E', 'p', 'P']) => {
                    let _ = f;
                    if parse_go_uint(text).is_some() {
                        return Ok(Err(format!("{text} overflows int")));
                    }
                    return Err(format!("integer overflow: {}", go_quote(text)));
                }
                Ok(f)
                    if !cleaned.to_ascii_lowercase().contains("inf")
                        && !cleaned.to_ascii_lowercase().contains("nan") =>
                {
                    Some(f)
                }
                _ => None,
            }
        }
    };
    let is_hex = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("0x");
    match (int, float) {
        (_, Some(f)) if !is_hex && text.contains(['.', 'e', 'E', 'p', 'P']) => {
            Ok(Ok(Value::Float(f)))
        }
        (Some(i), _) => Ok(Ok(Value::Int(i))),
        (None, Some(f)) => Ok(Ok(Value::Float(f))),
        (None, None) => Err(format!("illegal number syntax: {}", go_quote(text))),
    }
}

/// Go's hexadecimal floats: `0x1.8p1` is 3 (`_` allowed after the prefix).
fn parse_hex_float(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let body = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))?;
    let (mantissa, exponent) = body.split_once(['p', 'P'])?;
    let exponent: i32 = exponent.replace('_', "").parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let (whole, fraction) = (whole.replace('_', ""), fraction.replace('_', ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars().chain(fraction.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exponent - 4 * fraction.len() as i32;
    let value = value * 2f64.powi(scale);
    Some(if negative { -value } else { value })
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let (radix, digits) = split_radix(text.strip_prefix('+').unwrap_or(text))?;
    u64::from_str_radix(&digits, radix).ok()
}

/// Go's `strconv.ParseInt(text, 0, 64)`.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = split_radix(body)?;
    let magnitude = i128::from(u64::from_str_radix(&digits, radix).ok()?);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn split_radix(body: &str) -> Option<(u32, String)> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], false)
    } else {
        (10, lower.as_str(), false)
    };
    let bad_underscore =
        digits.ends_with('_') || digits.contains("__") || (!prefixed && digits.starts_with('_'));
    if digits.is_empty() || bad_underscore || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    Some((radix, digits.replace('_', "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_go_ideal_constants() {
        let n = |t: &str| parse_number(t, false);
        assert_eq!(n("42"), Ok(Ok(Value::Int(42))));
        assert_eq!(n("0x1F"), Ok(Ok(Value::Int(31))));
        assert_eq!(n("0o17"), Ok(Ok(Value::Int(15))));
        assert_eq!(n("017"), Ok(Ok(Value::Int(15))));
        assert_eq!(n("0b101"), Ok(Ok(Value::Int(5))));
        assert_eq!(n("1_000"), Ok(Ok(Value::Int(1000))));
        assert_eq!(
            n("1__0"),
            Err("illegal number syntax: \"1__0\"".to_string())
        );
        assert_eq!(n("1.0"), Ok(Ok(Value::Float(1.0))));
        assert_eq!(n("0x1.8p1"), Ok(Ok(Value::Float(3.0))));
        assert_eq!(n("0x1p-2"), Ok(Ok(Value::Float(0.25))));
        assert_eq!(n("1e3"), Ok(Ok(Value::Float(1000.0))));
        assert_eq!(n("-2.5"), Ok(Ok(Value::Float(-2.5))));
        assert_eq!(n(".5"), Ok(Ok(Value::Float(0.5))));
        assert_eq!(parse_number("'a'", true), Ok(Ok(Value::Int(97))));
        assert_eq!(
            n("18446744073709551615"),
            Ok(Err("18446744073709551615 overflows int".to_string()))
        );
    }

    #[test]
    fn unquotes_like_strconv() {
        assert_eq!(
            unquote(r#""a\tb\u00e9\x41\101""#).as_deref(),
            Some("a\tbéAA")
        );
        assert_eq!(unquote("`a\\n`").as_deref(), Some("a\\n"));
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote(r"'\''").as_deref(), Some("'"));
    }
}
