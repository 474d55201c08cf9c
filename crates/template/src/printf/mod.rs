//! Go's `fmt.Sprintf`, `fmt.Sprint` and `fmt.Sprintln` over template values.
//!
//! Verbs `%v %s %d %f %F %e %E %g %G %x %X %o %O %b %q %t %c %U %T %%`
//! (`%x` on floats is Go's hexadecimal float; `%b` on floats is not done), the
//! flags `+ - # 0 space`, width and precision (also `*`), explicit argument
//! indexes `%[n]d`, and Go's in-band error texts: `%!d(string=foo)` for a
//! wrong type, `%!d(MISSING)`, `%!(EXTRA int=1)`, `%!(NOVERB)`,
//! `%!(BADWIDTH)`, `%!(BADPREC)`, `%!(BADINDEX)`.

mod verbs;

use crate::value::{write_value, Value};
use verbs::format_arg;

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(text: &str) -> String {
    quote_with(text, false)
}

/// `strconv.Quote`, or with `ascii_only` `strconv.QuoteToASCII` (`%+q`).
fn quote_with(text: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        push_escaped(&mut out, ch, '"', ascii_only);
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, ch: char, quote: char, ascii_only: bool) {
    match ch {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() || c == '\u{feff}' || (ascii_only && !c.is_ascii()) => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

/// Go's `strconv.QuoteRune`.
fn quote_rune(ch: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, ch, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `fmt.Sprint`: operands joined, with a space between two operands
/// when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out
}

/// Go's `fmt.Sprintln`: operands joined by spaces, then a newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out.push('\n');
    out
}

#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let bytes = format.as_bytes();
    let mut i = 0;
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut good_arg_num = true;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= bytes.len() {
            break;
        }
        i += 1; // past '%'
        let mut flags = Flags::default();
        while i < bytes.len() {
            match bytes[i] {
                b'#' => flags.sharp = true,
                b'0' => flags.zero = !flags.minus,
                b'+' => flags.plus = true,
                b'-' => {
                    flags.minus = true;
                    flags.zero = false;
                }
                b' ' => flags.space = true,
                _ => break,
            }
            i += 1;
        }
        // Width: an argument index, '*', or digits.
        let (n, ni, ok) = arg_index(bytes, i, arg_num, args.len());
        (arg_num, i) = (n, ni);
        if !ok {
            good_arg_num = false;
        }
        reordered |= ok && bytes.get(i.wrapping_sub(1)) == Some(&b']');
        if i < bytes.len() && bytes[i] == b'*' {
            i += 1;
            match args.get(arg_num) {
                Some(Value::Int(w)) => {
                    let w = *w;
                    if w < 0 {
                        flags.minus = true;
                        flags.zero = false;
                    }
                    if w.unsigned_abs() > 1_000_000 {
                        out.push_str("%!(BADWIDTH)");
                    } else {
                        flags.width = Some(w.unsigned_abs() as usize);
                    }
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            arg_num += 1;
        } else {
            let (w, ni) = parse_number(bytes, i);
            flags.width = w;
            i = ni;
        }
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let (n, ni, ok) = arg_index(bytes, i, arg_num, args.len());
            (arg_num, i) = (n, ni);
            if !ok {
                good_arg_num = false;
            }
            if i < bytes.len() && bytes[i] == b'*' {
                i += 1;
                match args.get(arg_num) {
                    Some(Value::Int(p)) if *p >= 0 && *p <= 1_000_000 => {
                        flags.precision = Some(*p as usize)
                    }
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg_num += 1;
            } else {
                let (p, ni) = parse_number(bytes, i);
                flags.precision = Some(p.unwrap_or(0));
                i = ni;
            }
        }
        let (n, ni, ok) = arg_index(bytes, i, arg_num, args.len());
        (arg_num, i) = (n, ni);
        if !ok {
            good_arg_num = false;
        }
        if i >= bytes.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if verb == 'T' && good_arg_num {
            match args.get(arg_num) {
                Some(arg) => {
                    pad(&mut out, arg.type_name(), flags);
                    arg_num += 1;
                }
                None => out.push_str("%!T(MISSING)"),
            }
            continue;
        }
        if !good_arg_num {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            good_arg_num = true;
            continue;
        }
        match args.get(arg_num) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(arg) => {
                format_arg(&mut out, arg, verb, flags);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            match arg {
                Value::Nil | Value::Missing => out.push_str("<nil>"),
                _ => {
                    out.push_str(arg.type_name());
                    out.push('=');
                    format_arg(&mut out, arg, 'v', Flags::default());
                }
            }
        }
        out.push(')');
    }
    out
}

/// Parses an optional `[n]` argument index at `i`.
fn arg_index(bytes: &[u8], i: usize, arg_num: usize, count: usize) -> (usize, usize, bool) {
    if i >= bytes.len() || bytes[i] != b'[' {
        return (arg_num, i, true);
    }
    let Some(close) = bytes[i..].iter().position(|b| *b == b']') else {
        return (arg_num, bytes.len(), false);
    };
    let digits = &bytes[i + 1..i + close];
    let parsed = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    match parsed {
        Some(n) if n >= 1 && n <= count => (n - 1, i + close + 1, true),
        _ => (arg_num, i + close + 1, false),
    }
}

fn parse_number(bytes: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(usize::from(bytes[i] - b'0'));
        i += 1;
    }
    if i == start {
        (None, i)
    } else {
        (Some(n), i)
    }
}

fn bad_verb(out: &mut String, arg: &Value, verb: char) {
    out.push_str(&format!("%!{verb}("));
    match arg {
        Value::Nil | Value::Missing => out.push_str("<nil>"),
        _ => {
            out.push_str(arg.type_name());
            out.push('=');
            format_arg(out, arg, 'v', Flags::default());
        }
    }
    out.push(')');
}

/// Pads `text` to the width, with zeros when asked and allowed.
fn pad(out: &mut String, text: &str, flags: Flags) {
    let len = text.chars().count();
    let width = flags.width.unwrap_or(0);
    if len >= width {
        out.push_str(text);
        return;
    }
    let fill = width - len;
    if flags.minus {
        out.push_str(text);
        out.push_str(&" ".repeat(fill));
    } else {
        let ch = if flags.zero { '0' } else { ' ' };
        out.push_str(&ch.to_string().repeat(fill));
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args)
    }

    #[test]
    fn integers() {
        assert_eq!(
            f(
                "%d|%5d|%-5d|%05d",
                &[1.into(), 42.into(), 42.into(), Value::Int(-42)]
            ),
            "1|   42|42   |-0042"
        );
        assert_eq!(
            f(
                "%x %X %#x %o %#o %O %b",
                &[
                    255.into(),
                    255.into(),
                    255.into(),
                    8.into(),
                    8.into(),
                    8.into(),
                    5.into()
                ]
            ),
            "ff FF 0xff 10 010 0o10 101"
        );
        assert_eq!(
            f(
                "%+d % d %.3d %c %q %U",
                &[
                    5.into(),
                    5.into(),
                    7.into(),
                    65.into(),
                    65.into(),
                    0x1F600.into()
                ]
            ),
            "+5  5 007 A 'A' U+1F600"
        );
    }

    #[test]
    fn floats() {
        assert_eq!(
            f(
                "%f %.2f %e %g %G",
                &[
                    1.5.into(),
                    4.14159.into(),
                    1234.5678.into(),
                    1e-7.into(),
                    1e21.into()
                ]
            ),
            "1.500000 4.14 1.234568e+03 1e-07 1E+21"
        );
        assert_eq!(
            f(
                "%8.3f|%-8.3f|%08.3f|%+.1f",
                &[
                    4.14159.into(),
                    4.14159.into(),
                    Value::Float(-4.14159),
                    2.0.into()
                ]
            ),
            "   4.142|4.142   |-004.142|+2.0"
        );
        assert_eq!(
            f(
                "%v %.4g %#g %#.0f",
                &[
                    Value::Float(f64::INFINITY),
                    123456.0.into(),
                    1.0.into(),
                    3.0.into()
                ]
            ),
            "+Inf 1.235e+05 1.00000 3."
        );
        assert_eq!(
            f(
                "%05.1f %f",
                &[Value::Float(f64::NAN), Value::Float(f64::NEG_INFINITY)]
            ),
            "  NaN -Inf"
        );
    }

    #[test]
    fn strings_and_errors() {
        assert_eq!(
            f(
                "%s|%10s|%-10s|%.2s|%q|%x|% X",
                &[
                    "abc".into(),
                    "abc".into(),
                    "abc".into(),
                    "abc".into(),
                    "a\"b\n".into(),
                    "hi".into(),
                    "hi".into()
                ]
            ),
            "abc|       abc|abc       |ab|\"a\\\"b\\n\"|6869|68 69"
        );
        assert_eq!(f("%d", &["foo".into()]), "%!d(string=foo)");
        assert_eq!(f("%d %d", &[1.into()]), "1 %!d(MISSING)");
        assert_eq!(
            f("%d", &[1.into(), "x".into(), 2.5.into()]),
            "1%!(EXTRA string=x, float64=2.5)"
        );
        assert_eq!(f("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(f("%t %v", &[true.into(), Value::Nil]), "true <nil>");
        assert_eq!(f("%z", &[1.into()]), "%!z(int=1)");
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("abc%", &[]), "abc%!(NOVERB)");
        assert_eq!(
            f(
                "%*d|%-*d|%.*f",
                &[
                    5.into(),
                    1.into(),
                    3.into(),
                    2.into(),
                    2.into(),
                    4.14159.into()
                ]
            ),
            "    1|2  |4.14"
        );
        assert_eq!(f("%[2]d %[1]d", &[1.into(), 2.into()]), "2 1");
        assert_eq!(f("%d", &[Value::List(vec![1.into(), 2.into()])]), "[1 2]");
        assert_eq!(
            f("%T %T %#v", &[1.into(), "s".into(), "s".into()]),
            "int string \"s\""
        );
        assert_eq!(
            f(
                "%x %X %.1x %x",
                &[1.0.into(), 255.5.into(), 1.96875.into(), Value::Float(-0.0)]
            ),
            "0x1p+00 0X1.FFP+07 0x1.0p+01 -0x0p+00"
        );
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(
            sprint(&["a".into(), 1.into(), 2.into(), "b".into()]),
            "a1 2b"
        );
        assert_eq!(sprintln(&["a".into(), 1.into()]), "a 1\n");
    }
}
