//! String functions both function sets share: Go's `strings.Title`,
//! `regexp.ReplaceAllString` replacement syntax (`$1`, `${name}`),
//! `strings.TrimSpace`, `url.PathUnescape`/`QueryUnescape`, and a Go
//! `encoding/json` encoder for `toJson`.

use regex::Regex;

use crate::float::format_float;
use crate::value::Value;

/// Go's `strings.Title`: upper-cases the first letter of each word, leaves
/// the rest alone. Letters, digits, `_` and non-ASCII non-space characters
/// continue a word.
pub(crate) fn go_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous = ' ';
    for c in s.chars() {
        if is_separator(previous) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        previous = c;
    }
    out
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// Title case as `golang.org/x/text/cases.Title` gives it for English:
/// the first letter of each word upper-cased, the rest lower-cased.
pub(crate) fn cases_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if in_word && c == '_' {
            // `_` joins words (Unicode ExtendNumLet).
            out.push(c);
        } else if c.is_alphanumeric() || (in_word && (c == '\'' || c == '’')) {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// Compiles a Go (RE2) regular expression; Go's `regexp.MustCompile` would
/// panic on a bad one, which Prometheus reports as the template error.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| go_regex_error(pattern, &e))
}

/// Go's `regexp.Compile` error text (`error parsing regexp: missing
/// closing ]: `[``) for the syntax errors Go and Rust share.
fn go_regex_error(pattern: &str, error: &regex::Error) -> String {
    use regex_syntax::ast::ErrorKind;
    let Err(ast_error) = regex_syntax::ast::parse::Parser::new().parse(pattern) else {
        return format!(
            "error parsing regexp: {}",
            error.to_string().replace('\n', " ")
        );
    };
    let span = ast_error.span();
    let at = |start: usize, end: usize| pattern.get(start..end).unwrap_or(pattern).to_string();
    let (code, text) = match ast_error.kind() {
        ErrorKind::ClassUnclosed => ("missing closing ]", at(span.start.offset, pattern.len())),
        ErrorKind::GroupUnclosed => ("missing closing )", pattern.to_string()),
        ErrorKind::GroupUnopened => ("unexpected )", pattern.to_string()),
        ErrorKind::RepetitionMissing => (
            "missing argument to repetition operator",
            at(span.start.offset, span.end.offset),
        ),
        ErrorKind::EscapeUnrecognized | ErrorKind::EscapeUnexpectedEof => (
            "invalid escape sequence",
            at(span.start.offset, span.end.offset),
        ),
        ErrorKind::ClassRangeInvalid => (
            "invalid character class range",
            at(span.start.offset, span.end.offset),
        ),
        ErrorKind::RepetitionCountInvalid
        | ErrorKind::RepetitionCountDecimalEmpty
        | ErrorKind::RepetitionCountUnclosed => (
            "invalid repeat count",
            at(span.start.offset, span.end.offset),
        ),
        ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameDuplicate { .. } => (
            "invalid named capture",
            at(span.start.offset, span.end.offset),
        ),
        _ => return format!("error parsing regexp: {}", ast_error.kind()),
    };
    format!("error parsing regexp: {code}: `{text}`")
}

/// Go's `Regexp.ReplaceAllString`: `$1`, `${1}`, `$name`, `${name}`, `$$`.
/// Go reads `$1x` as the group named `1x` (empty); so does this.
pub(crate) fn replace_all(re: &Regex, text: &str, replacement: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        expand(&caps, re, replacement, &mut out);
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

fn expand(caps: &regex::Captures, re: &Regex, template: &str, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (name, after) = if let Some(r) = rest.strip_prefix('{') {
            match r.find('}') {
                Some(end)
                    if end > 0 && r[..end].chars().all(|c| c.is_alphanumeric() || c == '_') =>
                {
                    (&r[..end], &r[end + 1..])
                }
                _ => {
                    out.push('$');
                    continue;
                }
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                out.push('$');
                continue;
            }
            (&rest[..end], &rest[end..])
        };
        let group = match name.parse::<usize>() {
            Ok(n) => caps.get(n),
            Err(_) => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(g) = group {
            out.push_str(g.as_str());
        }
        rest = after;
    }
    out.push_str(rest);
}

/// Go's `url.QueryUnescape`-style decoding used by `urlUnescape`
/// (`url.QueryUnescape`: `+` is a space).
pub(crate) fn query_unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::printf::go_quote(&bad)
                    ));
                };
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `json.Marshal` of a template value (map keys sorted, `<>&`
/// escaped, floats as Go writes them).
pub(crate) fn to_json(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, value)?;
    Ok(out)
}

fn write_json(out: &mut String, value: &Value) -> Result<(), String> {
    match value {
        Value::Nil | Value::Missing => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Duration(d) => out.push_str(&d.nanos.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    format_float(*f, 'g', None).trim_start_matches('+')
                ));
            }
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                let text = format_float(*f, 'e', None);
                // Go writes 1e-07 as 1e-7 in JSON.
                let cleaned = match text.find("e-0") {
                    Some(p) if text.len() == p + 4 => format!("{}e-{}", &text[..p], &text[p + 3..]),
                    _ => text,
                };
                out.push_str(&cleaned);
            } else {
                out.push_str(&format_float(*f, 'f', None));
            }
        }
        Value::String(s) => write_json_string(out, s),
        Value::Time(t) => {
            let layout = "2006-01-02T15:04:05.999999999Z07:00";
            write_json_string(out, &t.format(layout));
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Struct(st) => {
            out.push('{');
            let mut first = true;
            for field in st.fields.iter().filter(|f| f.json_name != "-") {
                if !first {
                    out.push(',');
                }
                first = false;
                write_json_string(out, &field.json_name);
                out.push(':');
                write_json(out, &field.value)?;
            }
            out.push('}');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(go_title("aa bb CC"), "Aa Bb CC");
        assert_eq!(go_title("hello_world-foo.bar"), "Hello_world-Foo.Bar");
        assert_eq!(cases_title("aa bb CC"), "Aa Bb Cc");
        assert_eq!(cases_title("o'neil foo-bar x_y"), "O'neil Foo-Bar X_y");
    }

    #[test]
    fn replacement_syntax_follows_go() {
        let re = compile("localhost:(.*)").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            replace_all(&re, "localhost:3000", "my.domain:$1"),
            "my.domain:3000"
        );
        assert_eq!(replace_all(&re, "localhost:3000", "x$1y"), "x");
        assert_eq!(replace_all(&re, "localhost:3000", "x${1}y$$"), "x3000y$");
    }

    #[test]
    fn json_like_go() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("b".to_string(), Value::Float(1.0));
        m.insert("a".to_string(), Value::str("<x>"));
        m.insert("c".to_string(), Value::Float(1e-7));
        assert_eq!(
            to_json(&Value::Map(m)),
            Ok(r#"{"a":"\u003cx\u003e","b":1,"c":1e-7}"#.to_string())
        );
    }
}
