//! Go's `strconv.FormatFloat` for the `e`, `f` and `g` formats.
//!
//! Rust's formatter already produces correctly rounded decimal digits (the
//! shortest round-trip digits for `{:e}`, exact rounding with a precision);
//! this module only lays those digits out the way Go does: `1e+06` rather
//! than `1e6`, `%g` switching to exponent form when the exponent is below -4
//! or at least the precision (6 for the shortest form), and so on.

/// Decimal digits of a finite, non-negative float: `0.d1d2d3... × 10^point`.
struct Digits {
    /// ASCII digits without trailing zeros; empty for zero.
    digits: Vec<u8>,
    /// Position of the decimal point relative to the first digit.
    point: i32,
}

impl Digits {
    /// From Rust's `{:e}` rendering `d.ddde±x`.
    fn from_exponent_form(text: &str) -> Digits {
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            return Digits { digits, point: 0 };
        }
        Digits {
            digits,
            point: exponent + 1,
        }
    }

    /// The shortest digits that read back as `value`.
    fn shortest(value: f64) -> Digits {
        Digits::from_exponent_form(&format!("{value:e}"))
    }

    /// `value` rounded to `significant` digits (at least 1).
    fn rounded(value: f64, significant: usize) -> Digits {
        let significant = significant.max(1);
        Digits::from_exponent_form(&format!("{:.*e}", significant - 1, value))
    }

    fn digit(&self, index: i32) -> u8 {
        if index < 0 {
            return b'0';
        }
        self.digits.get(index as usize).copied().unwrap_or(b'0')
    }

    /// `d.ddde±dd` with `precision` digits after the point.
    fn write_exponent(&self, out: &mut String, precision: usize, upper: bool) {
        out.push(self.digit(0) as char);
        if precision > 0 {
            out.push('.');
            for i in 1..=precision {
                out.push(self.digit(i as i32) as char);
            }
        }
        out.push(if upper { 'E' } else { 'e' });
        let exponent = if self.digits.is_empty() {
            0
        } else {
            self.point - 1
        };
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    }

    /// `ddd.ddd` with `precision` digits after the point.
    fn write_fixed(&self, out: &mut String, precision: usize) {
        if self.point > 0 {
            for i in 0..self.point {
                out.push(self.digit(i) as char);
            }
        } else {
            out.push('0');
        }
        if precision > 0 {
            out.push('.');
            for i in 0..precision as i32 {
                out.push(self.digit(self.point + i) as char);
            }
        }
    }
}

/// Formats `value` as Go's `strconv.FormatFloat(value, verb, prec, 64)` for
/// the verbs `e`, `E`, `f`, `g`, `G` (`None` precision: the shortest form).
/// Infinities are `+Inf` and `-Inf`, as Go writes them.
pub(crate) fn format_float(value: f64, verb: char, precision: Option<usize>) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    let magnitude = value.abs();
    match verb {
        'e' | 'E' => {
            let (digits, precision) = match precision {
                Some(p) => (Digits::rounded(magnitude, p + 1), p),
                None => {
                    let d = Digits::shortest(magnitude);
                    let p = d.digits.len().saturating_sub(1);
                    (d, p)
                }
            };
            digits.write_exponent(&mut out, precision, verb == 'E');
        }
        'f' | 'F' => match precision {
            Some(p) => out.push_str(&format!("{magnitude:.p$}")),
            None => {
                let d = Digits::shortest(magnitude);
                let p = (d.digits.len() as i32 - d.point).max(0) as usize;
                d.write_fixed(&mut out, p);
            }
        },
        _ => {
            let upper = verb == 'G';
            let (digits, mut precision, exponent_limit) = match precision {
                None => {
                    let d = Digits::shortest(magnitude);
                    let p = d.digits.len() as i32;
                    (d, p, 6)
                }
                Some(p) => {
                    let p = p.max(1);
                    let d = Digits::rounded(magnitude, p);
                    let p = p as i32;
                    let count = d.digits.len() as i32;
                    let limit = if p > count && count >= d.point {
                        count
                    } else {
                        p
                    };
                    (d, p, limit)
                }
            };
            let count = digits.digits.len() as i32;
            let exponent = digits.point - 1;
            if exponent < -4 || exponent >= exponent_limit {
                if precision > count {
                    precision = count;
                }
                digits.write_exponent(&mut out, (precision - 1).max(0) as usize, upper);
            } else {
                if precision > digits.point {
                    precision = count;
                }
                digits.write_fixed(&mut out, (precision - digits.point).max(0) as usize);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn shortest_g_switches_to_exponent_like_go() {
        assert_eq!(format_float(1e21, 'g', None), "1e+21");
        assert_eq!(format_float(100000.0, 'g', None), "100000");
        assert_eq!(format_float(1234567.0, 'g', None), "1.234567e+06");
        assert_eq!(format_float(0.1, 'g', None), "0.1");
        assert_eq!(format_float(-2.5e-7, 'g', None), "-2.5e-07");
        assert_eq!(format_float(0.0, 'g', None), "0");
        assert_eq!(format_float(-0.0, 'g', None), "-0");
    }

    #[test]
    fn precision_g_like_go() {
        assert_eq!(format_float(1234.5678, 'g', Some(4)), "1235");
        assert_eq!(format_float(12345.678, 'g', Some(4)), "1.235e+04");
        assert_eq!(format_float(1.0, 'g', Some(4)), "1");
        assert_eq!(format_float(1e10, 'g', Some(4)), "1e+10");
        assert_eq!(format_float(0.0, 'g', Some(4)), "0");
        assert_eq!(format_float(0.000012345, 'g', Some(3)), "1.23e-05");
        assert_eq!(format_float(100.0, 'g', Some(2)), "1e+02");
        assert_eq!(format_float(123.0, 'g', Some(0)), "1e+02");
    }

    #[test]
    fn e_and_f_like_go() {
        assert_eq!(format_float(1234.5678, 'e', Some(2)), "1.23e+03");
        assert_eq!(format_float(0.0, 'e', Some(6)), "0.000000e+00");
        assert_eq!(format_float(1e-100, 'E', Some(1)), "1.0E-100");
        assert_eq!(format_float(2.5, 'f', Some(0)), "2");
        assert_eq!(format_float(4.14159, 'f', Some(2)), "4.14");
        assert_eq!(format_float(1e21, 'f', None), "1000000000000000000000");
        assert_eq!(format_float(0.125, 'f', None), "0.125");
    }
}
