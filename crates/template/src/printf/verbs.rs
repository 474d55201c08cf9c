//! Formatting of one operand for one verb, per type, as Go's `fmt` does:
//! integers, floats (including `%x` hexadecimal floats and the `#` flag),
//! strings, and the composite values printed element by element.

use super::{bad_verb, go_quote, pad, quote_rune, quote_with, Flags};
use crate::float::format_float;
use crate::value::Value;

pub(super) fn format_arg(out: &mut String, arg: &Value, verb: char, flags: Flags) {
    if verb == 'v' && flags.sharp {
        return pad(
            out,
            &go_syntax(arg),
            Flags {
                sharp: false,
                ..flags
            },
        );
    }
    match arg {
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, flags),
            _ => bad_verb(out, arg, verb),
        },
        Value::Int(n) => format_int(out, arg, *n, verb, flags),
        Value::Float(f) => format_float_verb(out, arg, *f, verb, flags),
        Value::String(s) => format_string(out, arg, s, verb, flags),
        Value::Nil | Value::Missing => match verb {
            'v' => pad(out, "<nil>", flags),
            _ => bad_verb(out, arg, verb),
        },
        Value::Duration(d) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => format_string(out, arg, &d.to_go_string(), verb, flags),
            _ => format_int(out, arg, d.nanos, verb, flags),
        },
        Value::Time(t) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => format_string(out, arg, &t.to_go_string(), verb, flags),
            _ => bad_verb(out, arg, verb),
        },
        Value::List(items) => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                format_arg(out, item, verb, flags);
            }
            out.push(']');
        }
        Value::Struct(st) => {
            if st.is_pointer() {
                out.push('&');
            }
            out.push('{');
            for (k, field) in st.fields.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                if verb == 'v' && flags.plus {
                    out.push_str(&field.name);
                    out.push(':');
                }
                format_arg(out, &field.value, verb, flags);
            }
            out.push('}');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (k, (key, value)) in map.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                format_string(out, &Value::String(key.clone()), key, verb, flags);
                out.push(':');
                format_arg(out, value, verb, flags);
            }
            out.push(']');
        }
    }
}

/// `%#v`: the value in Go syntax (`map[string]string{"a":"b"}`,
/// `[]interface {}{1, "x"}`, `template.Pair{Name:"a", Value:"b"}`).
fn go_syntax(value: &Value) -> String {
    match value {
        Value::Nil | Value::Missing => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f, 'g', None),
        Value::String(s) => go_quote(s),
        Value::Duration(d) => d.nanos.to_string(),
        Value::Time(t) => t.to_go_string(),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(go_syntax).collect();
            format!("{}{{{}}}", value.type_name(), inner.join(", "))
        }
        Value::Map(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_syntax(v)))
                .collect();
            format!("{}{{{}}}", value.type_name(), inner.join(", "))
        }
        Value::Struct(st) => {
            let inner: Vec<String> = st
                .fields
                .iter()
                .map(|f| format!("{}:{}", f.name, go_syntax(&f.value)))
                .collect();
            let body = format!(
                "{}{{{}}}",
                st.type_name.trim_start_matches('*'),
                inner.join(", ")
            );
            // Go prints a nested pointer as its address; the fields are
            // more use than an address, so they are printed at any depth.
            if st.is_pointer() {
                format!("&{body}")
            } else {
                body
            }
        }
    }
}

fn format_int(out: &mut String, arg: &Value, n: i64, verb: char, flags: Flags) {
    let negative = n < 0;
    let magnitude = n.unsigned_abs();
    let (digits, prefix) = match verb {
        'd' | 'v' => (magnitude.to_string(), ""),
        'b' => (format!("{magnitude:b}"), "0b"),
        'o' => (format!("{magnitude:o}"), "0"),
        'O' => (format!("{magnitude:o}"), "0o"),
        'x' => (format!("{magnitude:x}"), "0x"),
        'X' => (format!("{magnitude:X}"), "0X"),
        'c' => {
            let ch = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return pad(out, &ch.to_string(), flags);
        }
        'q' => {
            let ch = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return pad(out, &quote_rune(ch, flags.plus), flags);
        }
        'U' => {
            let mut text = format!("U+{magnitude:04X}");
            if flags.sharp {
                if let Some(ch) = u32::try_from(n).ok().and_then(char::from_u32) {
                    text.push_str(&format!(" '{ch}'"));
                }
            }
            return pad(out, &text, flags);
        }
        _ => return bad_verb(out, arg, verb),
    };
    let mut body = digits;
    if let Some(p) = flags.precision {
        if p == 0 && n == 0 {
            body.clear();
        }
        while body.len() < p {
            body.insert(0, '0');
        }
    }
    let prefix = match verb {
        'O' => prefix,
        'o' if flags.sharp && !body.starts_with('0') => prefix,
        'b' | 'x' | 'X' if flags.sharp => prefix,
        _ => "",
    };
    let sign = if negative {
        "-"
    } else if flags.plus {
        "+"
    } else if flags.space {
        " "
    } else {
        ""
    };
    // Zero padding goes between the sign and the digits, and only without
    // a precision.
    if flags.zero && !flags.minus && flags.precision.is_none() {
        if let Some(width) = flags.width {
            let target = width.saturating_sub(sign.len());
            while body.len() < target {
                body.insert(0, '0');
            }
        }
    }
    let text = format!("{sign}{prefix}{body}");
    let flags = Flags {
        zero: false,
        ..flags
    };
    pad(out, &text, flags)
}

fn format_float_verb(out: &mut String, arg: &Value, f: f64, verb: char, flags: Flags) {
    if verb == 'x' || verb == 'X' {
        let text = hex_float(f, flags.precision, verb == 'X');
        let mut num = text;
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if num[1..].starts_with(['I', 'N']) {
            if num[1..].starts_with('N') || (!flags.plus && num.starts_with('+')) {
                num.remove(0);
            }
            return pad(
                out,
                &num,
                Flags {
                    zero: false,
                    ..flags
                },
            );
        }
        if flags.plus || num.starts_with('-') {
            return pad(out, &num, flags);
        }
        if flags.space {
            num.replace_range(0..1, " ");
            return pad(out, &num, flags);
        }
        return pad(out, &num[1..], flags);
    }
    let (go_verb, precision) = match verb {
        'v' => ('g', flags.precision),
        'e' | 'E' | 'g' | 'G' => (verb, flags.precision),
        'f' | 'F' => ('f', Some(flags.precision.unwrap_or(6))),
        _ => return bad_verb(out, arg, verb),
    };
    let precision = match go_verb {
        'e' | 'E' => Some(precision.unwrap_or(6)),
        _ => precision,
    };
    let mut num = format_float(f, go_verb, precision);
    if !num.starts_with(['-', '+']) {
        num.insert(0, '+');
    }
    if flags.space && num.starts_with('+') && !flags.plus {
        num.replace_range(0..1, " ");
    }
    if num[1..].starts_with(['I', 'N']) {
        if num[1..].starts_with('N') && !flags.space && !flags.plus {
            num.remove(0);
        }
        return pad(
            out,
            &num,
            Flags {
                zero: false,
                ..flags
            },
        );
    }
    if flags.sharp {
        num = sharp_float(&num, go_verb, precision);
    }
    if flags.plus || !num.starts_with('+') {
        if flags.zero && !flags.minus {
            if let Some(width) = flags.width {
                if width > num.chars().count() {
                    out.push_str(&num[..1]);
                    out.push_str(&"0".repeat(width - num.chars().count()));
                    out.push_str(&num[1..]);
                    return;
                }
            }
        }
        return pad(out, &num, flags);
    }
    pad(out, &num[1..], flags)
}

/// Go's `strconv.FormatFloat(f, 'x', prec, 64)`: `-0x1.8p+01`.
fn hex_float(f: f64, precision: Option<usize>, upper: bool) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let bits = f.to_bits();
    let negative = bits >> 63 == 1;
    let mut exponent = ((bits >> 52) & 0x7ff) as i32;
    let mut mantissa = bits & ((1u64 << 52) - 1);
    if exponent == 0 {
        exponent += 1;
    } else {
        mantissa |= 1u64 << 52;
    }
    exponent -= 1023;
    if mantissa == 0 {
        exponent = 0;
    }
    // Leading 1 (if any) at bit 60.
    mantissa <<= 60 - 52;
    while mantissa != 0 && mantissa & (1u64 << 60) == 0 {
        mantissa <<= 1;
        exponent -= 1;
    }
    if let Some(p) = precision.filter(|p| *p < 15) {
        let shift = (p * 4) as u32;
        let extra = (mantissa << shift) & ((1u64 << 60) - 1);
        mantissa >>= 60 - shift;
        if extra | (mantissa & 1) > 1u64 << 59 {
            mantissa += 1;
        }
        mantissa <<= 60 - shift;
        if mantissa & (1u64 << 61) != 0 {
            mantissa >>= 1;
            exponent += 1;
        }
    }
    let digits: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if (mantissa >> 60) & 1 == 1 { '1' } else { '0' });
    mantissa <<= 4;
    let fraction_digits = match precision {
        None if mantissa != 0 => usize::MAX,
        None => 0,
        Some(p) => p,
    };
    if fraction_digits > 0 {
        out.push('.');
        let mut written = 0;
        while written < fraction_digits && (precision.is_some() || mantissa != 0) {
            out.push(digits[((mantissa >> 60) & 15) as usize] as char);
            mantissa <<= 4;
            written += 1;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// The `#` flag on floats: always a decimal point, and `%g` keeps its
/// trailing zeros up to the precision.
fn sharp_float(num: &str, verb: char, precision: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'g' | 'G' => precision.map_or(6, |p| p as i64),
        _ => 0,
    };
    let (sign, body) = num.split_at(1);
    let (mantissa, tail) = match body.find(['e', 'E']) {
        Some(pos) => body.split_at(pos),
        None => (body, ""),
    };
    let mut has_point = false;
    let mut saw_nonzero = false;
    for b in mantissa.bytes() {
        if b == b'.' {
            has_point = true;
            continue;
        }
        if b != b'0' {
            saw_nonzero = true;
        }
        if saw_nonzero {
            digits -= 1;
        }
    }
    let mut mantissa = mantissa.to_string();
    if !has_point {
        if mantissa == "0" {
            digits -= 1;
        }
        mantissa.push('.');
    }
    while digits > 0 {
        mantissa.push('0');
        digits -= 1;
    }
    format!("{sign}{mantissa}{tail}")
}

fn format_string(out: &mut String, arg: &Value, s: &str, verb: char, flags: Flags) {
    let truncated: String = match flags.precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' if flags.sharp => pad(out, &go_quote(&truncated), flags),
        'v' | 's' => pad(out, &truncated, flags),
        'q' if flags.plus => pad(out, &quote_with(&truncated, true), flags),
        'q' => {
            let quoted = if flags.sharp
                && !s.contains('`')
                && !s.chars().any(|c| c.is_control() && c != '\t')
            {
                format!("`{truncated}`")
            } else {
                go_quote(&truncated)
            };
            pad(out, &quoted, flags)
        }
        'x' | 'X' => {
            let mut text = String::new();
            for (k, b) in truncated.bytes().enumerate() {
                if k > 0 && flags.space {
                    text.push(' ');
                }
                if flags.sharp && (k == 0 || flags.space) {
                    text.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    text.push_str(&format!("{b:02x}"));
                } else {
                    text.push_str(&format!("{b:02X}"));
                }
            }
            pad(out, &text, flags)
        }
        _ => bad_verb(out, arg, verb),
    }
}
