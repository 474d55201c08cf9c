//! Prometheus duration strings: one or more `<number><unit>` parts with units
//! `y w d h m s ms`, largest first (`1h30m`, `15d`, `500ms`). A year is 365
//! days and a week 7 days, as in Prometheus.

use std::time::Duration;

use crate::ModelError;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration into milliseconds.
pub fn parse_millis(input: &str) -> Result<u64, ModelError> {
    let err = |reason| ModelError::InvalidDuration {
        input: input.to_owned(),
        reason,
    };
    if input.is_empty() {
        return Err(err("empty duration"));
    }
    if input == "0" {
        return Ok(0);
    }
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut last_unit = usize::MAX;
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if start == pos {
            return Err(err("expected a number"));
        }
        let number: u64 = input[start..pos]
            .parse()
            .map_err(|_| err("number too large"))?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &input[unit_start..pos];
        let index = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| err("unknown unit: use y, w, d, h, m, s or ms"))?;
        if last_unit != usize::MAX && index <= last_unit {
            return Err(err("units must be given largest first, each once"));
        }
        last_unit = index;
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| err("duration too large"))?;
    }
    Ok(total)
}

/// Parses a Prometheus duration.
pub fn parse(input: &str) -> Result<Duration, ModelError> {
    parse_millis(input).map(Duration::from_millis)
}

/// Formats milliseconds the way Prometheus prints durations (`1h30m`, `15d`).
pub fn format_millis(mut ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, unit) in UNITS {
        // Prometheus prints weeks and years only when they divide exactly.
        if (name == "y" || name == "w") && !ms.is_multiple_of(unit) {
            continue;
        }
        if ms >= unit {
            out.push_str(&format!("{}{}", ms / unit, name));
            ms %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_millis("15d").unwrap(), 15 * 86_400_000);
        assert_eq!(parse_millis("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_millis("500ms").unwrap(), 500);
        assert_eq!(parse_millis("0").unwrap(), 0);
        assert!(parse_millis("30m1h").is_err());
        assert!(parse_millis("1x").is_err());
        assert!(parse_millis("h").is_err());
        assert!(parse_millis("").is_err());
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_millis(15 * 86_400_000), "15d");
        assert_eq!(format_millis(14 * 86_400_000), "2w");
        assert_eq!(format_millis(5_400_000), "1h30m");
        assert_eq!(format_millis(0), "0s");
    }
}
