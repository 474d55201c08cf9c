//! Go's `time.Time` and `time.Duration` as template values: their `String`
//! forms, `Time.Format` with Go's reference-time layouts, and the methods
//! templates call on them (`.StartsAt.Format "15:04"`, `.Unix`, ...).

use agentmon_model::calendar::{civil_from_days, days_from_civil};

use crate::value::Value;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// An instant with the zone it is shown in (Go's `time.Time`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Offset east of UTC in seconds.
    pub offset_seconds: i32,
    /// Zone abbreviation (`UTC`, `CET`); empty means Go's numeric form.
    pub zone: String,
}

/// Broken-down local time fields.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
    year_day: i64,
}

impl GoTime {
    /// The instant `ms` milliseconds after the epoch, in UTC.
    pub fn from_unix_millis(ms: i64) -> GoTime {
        GoTime::from_unix_nanos(i128::from(ms) * 1_000_000)
    }

    /// The instant `ns` nanoseconds after the epoch, in UTC.
    pub fn from_unix_nanos(ns: i128) -> GoTime {
        GoTime {
            unix_seconds: ns.div_euclid(1_000_000_000) as i64,
            nanos: ns.rem_euclid(1_000_000_000) as u32,
            offset_seconds: 0,
            zone: "UTC".to_string(),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.unix_seconds) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// The same instant shown in another zone.
    pub fn in_zone(&self, offset_seconds: i32, zone: &str) -> GoTime {
        GoTime {
            offset_seconds,
            zone: zone.to_string(),
            ..self.clone()
        }
    }

    fn civil(&self) -> Civil {
        let local = self.unix_seconds + i64::from(self.offset_seconds);
        let days = local.div_euclid(86_400);
        let seconds = local.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: seconds / 3600,
            minute: seconds / 60 % 60,
            second: seconds % 60,
            weekday: (days + 4).rem_euclid(7) as usize,
            year_day: days - days_from_civil(year, 1, 1) + 1,
        }
    }

    /// Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn to_go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Go's `Time.Format` with a reference-time layout
    /// (`Mon Jan 2 15:04:05 MST 2006`).
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (token, len) = next_layout_token(rest);
            match token {
                Token::Literal => {
                    let ch = rest.chars().next().unwrap_or(' ');
                    out.push(ch);
                    rest = &rest[ch.len_utf8()..];
                    continue;
                }
                Token::LongYear => out.push_str(&format!("{:04}", c.year)),
                Token::Year => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
                Token::LongMonth => out.push_str(MONTHS[c.month as usize - 1]),
                Token::Month => out.push_str(&MONTHS[c.month as usize - 1][..3]),
                Token::NumMonth => out.push_str(&c.month.to_string()),
                Token::ZeroMonth => out.push_str(&format!("{:02}", c.month)),
                Token::LongWeekDay => out.push_str(WEEKDAYS[c.weekday]),
                Token::WeekDay => out.push_str(&WEEKDAYS[c.weekday][..3]),
                Token::Day => out.push_str(&c.day.to_string()),
                Token::UnderDay => out.push_str(&format!("{:>2}", c.day)),
                Token::ZeroDay => out.push_str(&format!("{:02}", c.day)),
                Token::UnderYearDay => out.push_str(&format!("{:>3}", c.year_day)),
                Token::ZeroYearDay => out.push_str(&format!("{:03}", c.year_day)),
                Token::Hour => out.push_str(&format!("{:02}", c.hour)),
                Token::Hour12 => out.push_str(&hour12(c.hour).to_string()),
                Token::ZeroHour12 => out.push_str(&format!("{:02}", hour12(c.hour))),
                Token::Minute => out.push_str(&c.minute.to_string()),
                Token::ZeroMinute => out.push_str(&format!("{:02}", c.minute)),
                Token::Second => out.push_str(&c.second.to_string()),
                Token::ZeroSecond => out.push_str(&format!("{:02}", c.second)),
                Token::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Token::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Token::ZoneName => {
                    if self.zone.is_empty() {
                        out.push_str(&offset_text(self.offset_seconds, false, false));
                    } else {
                        out.push_str(&self.zone);
                    }
                }
                Token::Offset { colon, seconds, z } => {
                    if z && self.offset_seconds == 0 {
                        out.push('Z');
                    } else {
                        let full = offset_text(self.offset_seconds, colon, seconds);
                        out.push_str(&full);
                    }
                }
                Token::ShortOffset { z } => {
                    if z && self.offset_seconds == 0 {
                        out.push('Z');
                    } else {
                        let sign = if self.offset_seconds < 0 { '-' } else { '+' };
                        let hours = self.offset_seconds.unsigned_abs() / 3600;
                        out.push_str(&format!("{sign}{hours:02}"));
                    }
                }
                Token::Fraction {
                    separator,
                    digits,
                    trim,
                } => {
                    let text = format!("{:09}", self.nanos);
                    let mut frac = &text[..digits.min(9)];
                    if trim {
                        frac = frac.trim_end_matches('0');
                    }
                    if !frac.is_empty() {
                        out.push(separator);
                        out.push_str(frac);
                    }
                }
            }
            rest = &rest[len..];
        }
        out
    }

    /// A method of Go's `time.Time` called from a template.
    pub(crate) fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let c = self.civil();
        let no_args = |v: Value| {
            if args.is_empty() {
                Ok(v)
            } else {
                Err(format!(
                    "wrong number of args for {name}: want 0 got {}",
                    args.len()
                ))
            }
        };
        Some(match name {
            "Unix" => no_args(Value::Int(self.unix_seconds)),
            "UnixMilli" => no_args(Value::Int((self.unix_nanos() / 1_000_000) as i64)),
            "UnixNano" => no_args(Value::Int(self.unix_nanos() as i64)),
            "UTC" => no_args(Value::Time(self.in_zone(0, "UTC"))),
            "Local" => no_args(Value::Time(self.clone())),
            "String" => no_args(Value::String(self.to_go_string())),
            "Year" => no_args(Value::Int(c.year)),
            "Month" => no_args(Value::String(MONTHS[c.month as usize - 1].to_string())),
            "Day" => no_args(Value::Int(i64::from(c.day))),
            "Hour" => no_args(Value::Int(i64::from(c.hour))),
            "Minute" => no_args(Value::Int(i64::from(c.minute))),
            "Second" => no_args(Value::Int(i64::from(c.second))),
            "Nanosecond" => no_args(Value::Int(i64::from(self.nanos))),
            "YearDay" => no_args(Value::Int(c.year_day)),
            "Weekday" => no_args(Value::String(WEEKDAYS[c.weekday].to_string())),
            "IsZero" => no_args(Value::Bool(
                self.unix_seconds == -62_135_596_800 && self.nanos == 0,
            )),
            "Format" => match args {
                [Value::String(layout)] => Ok(Value::String(self.format(layout))),
                [other] => Err(format!(
                    "wrong type for value; expected string; got {}",
                    other.type_name()
                )),
                _ => Err(format!(
                    "wrong number of args for Format: want 1 got {}",
                    args.len()
                )),
            },
            _ => return None,
        })
    }
}

fn hour12(hour: u32) -> u32 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

fn offset_text(offset: i32, colon: bool, seconds: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let sep = if colon { ":" } else { "" };
    let mut text = format!("{sign}{h:02}{sep}{m:02}");
    if seconds {
        text.push_str(&format!("{sep}{s:02}"));
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Literal,
    LongYear,
    Year,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    ZoneName,
    Offset {
        colon: bool,
        seconds: bool,
        z: bool,
    },
    ShortOffset {
        z: bool,
    },
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

/// The layout element at the start of `layout` and its length in bytes.
fn next_layout_token(layout: &str) -> (Token, usize) {
    const TABLE: &[(&str, Token)] = &[
        ("January", Token::LongMonth),
        ("Jan", Token::Month),
        ("Monday", Token::LongWeekDay),
        ("Mon", Token::WeekDay),
        ("MST", Token::ZoneName),
        ("2006", Token::LongYear),
        ("002", Token::ZeroYearDay),
        ("01", Token::ZeroMonth),
        ("02", Token::ZeroDay),
        ("03", Token::ZeroHour12),
        ("04", Token::ZeroMinute),
        ("05", Token::ZeroSecond),
        ("06", Token::Year),
        ("15", Token::Hour),
        ("1", Token::NumMonth),
        ("2", Token::Day),
        ("__2", Token::UnderYearDay),
        ("_2", Token::UnderDay),
        ("3", Token::Hour12),
        ("4", Token::Minute),
        ("5", Token::Second),
        ("PM", Token::PM),
        ("pm", Token::Pm),
        (
            "-07:00:00",
            Token::Offset {
                colon: true,
                seconds: true,
                z: false,
            },
        ),
        (
            "-070000",
            Token::Offset {
                colon: false,
                seconds: true,
                z: false,
            },
        ),
        (
            "-07:00",
            Token::Offset {
                colon: true,
                seconds: false,
                z: false,
            },
        ),
        (
            "-0700",
            Token::Offset {
                colon: false,
                seconds: false,
                z: false,
            },
        ),
        ("-07", Token::ShortOffset { z: false }),
        (
            "Z07:00:00",
            Token::Offset {
                colon: true,
                seconds: true,
                z: true,
            },
        ),
        (
            "Z070000",
            Token::Offset {
                colon: false,
                seconds: true,
                z: true,
            },
        ),
        (
            "Z07:00",
            Token::Offset {
                colon: true,
                seconds: false,
                z: true,
            },
        ),
        (
            "Z0700",
            Token::Offset {
                colon: false,
                seconds: false,
                z: true,
            },
        ),
        ("Z07", Token::ShortOffset { z: true }),
    ];
    let bytes = layout.as_bytes();
    if (bytes[0] == b'.' || bytes[0] == b',')
        && bytes.len() > 1
        && (bytes[1] == b'0' || bytes[1] == b'9')
    {
        let digit = bytes[1];
        let run = bytes[1..].iter().take_while(|b| **b == digit).count();
        let next_is_digit = bytes.get(1 + run).is_some_and(u8::is_ascii_digit);
        if !next_is_digit {
            return (
                Token::Fraction {
                    separator: bytes[0] as char,
                    digits: run,
                    trim: digit == b'9',
                },
                1 + run,
            );
        }
    }
    for (text, token) in TABLE {
        if let Some(after) = layout.strip_prefix(text) {
            // Go reads "Mon" inside "Month"-like words only when not followed
            // by a lower-case letter; likewise "Jan".
            if matches!(token, Token::WeekDay | Token::Month)
                && after.starts_with(|c: char| c.is_ascii_lowercase())
            {
                continue;
            }
            return (*token, text.len());
        }
    }
    (Token::Literal, 1)
}

/// Go's `time.Duration`: a signed count of nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration {
    pub nanos: i64,
}

impl GoDuration {
    /// A duration of `seconds`, rounded toward zero to nanoseconds.
    pub fn from_seconds(seconds: f64) -> GoDuration {
        GoDuration {
            nanos: (seconds * 1e9) as i64,
        }
    }

    /// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
    pub fn to_go_string(&self) -> String {
        let negative = self.nanos < 0;
        let mut u = self.nanos.unsigned_abs();
        let mut out = String::new();
        if u < 1_000_000_000 {
            if u == 0 {
                return "0s".to_string();
            }
            let (text, unit) = if u < 1_000 {
                (u.to_string(), "ns")
            } else if u < 1_000_000 {
                (fraction(u, 3), "µs")
            } else {
                (fraction(u, 6), "ms")
            };
            out.push_str(&text);
            out.push_str(unit);
        } else {
            let seconds = fraction(u % 60_000_000_000, 9);
            u /= 1_000_000_000;
            u /= 60;
            if u > 0 {
                let minutes = u % 60;
                u /= 60;
                if u > 0 {
                    out.push_str(&format!("{u}h"));
                }
                out.push_str(&format!("{minutes}m"));
            }
            out.push_str(&seconds);
            out.push('s');
        }
        if negative {
            out.insert(0, '-');
        }
        out
    }

    /// A method of Go's `time.Duration` called from a template.
    pub(crate) fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !args.is_empty() {
            return Some(Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            )));
        }
        let n = self.nanos;
        Some(Ok(match name {
            "Seconds" => Value::Float(n as f64 / 1e9),
            "Minutes" => Value::Float(n as f64 / 6e10),
            "Hours" => Value::Float(n as f64 / 3.6e12),
            "Milliseconds" => Value::Int(n / 1_000_000),
            "Microseconds" => Value::Int(n / 1_000),
            "Nanoseconds" => Value::Int(n),
            "String" => Value::String(self.to_go_string()),
            _ => return None,
        }))
    }
}

/// `value / 10^digits` with the fraction's trailing zeros dropped.
fn fraction(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let text = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", text.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_string_like_go() {
        let t = GoTime::from_unix_millis(1_435_065_584_128);
        assert_eq!(t.to_go_string(), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(
            GoTime::from_unix_millis(0).to_go_string(),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn format_layouts() {
        let t = GoTime::from_unix_millis(1_435_065_584_128);
        assert_eq!(
            t.format("2006-01-02T15:04:05Z07:00"),
            "2015-06-23T13:19:44Z"
        );
        assert_eq!(t.format("Mon Jan _2 3:04PM .000"), "Tue Jun 23 1:19PM .128");
        assert_eq!(t.format("Monday, January 2 2006"), "Tuesday, June 23 2015");
        let cet = t.in_zone(3600, "CET");
        assert_eq!(cet.format("15:04 MST -07:00"), "14:19 CET +01:00");
        assert_eq!(t.format("002 06"), "174 15");
    }

    #[test]
    fn duration_string_like_go() {
        let d = |n| GoDuration { nanos: n }.to_go_string();
        assert_eq!(d(0), "0s");
        assert_eq!(d(1_500_000), "1.5ms");
        assert_eq!(d(2_000), "2µs");
        assert_eq!(d(999), "999ns");
        assert_eq!(d(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(d(120_000_000_000), "2m0s");
        assert_eq!(d(-90_000_000_000), "-1m30s");
    }
}
