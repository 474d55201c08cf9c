//! Times as Go's `time.Time` marshals them to JSON (RFC 3339 with as many
//! fractional digits as needed, trailing zeros dropped, `Z` for UTC), which
//! is what Alertmanager's payloads carry. The zero time is
//! `0001-01-01T00:00:00Z`, Alertmanager's "not set".

use agentmon_model::calendar::civil_from_days;

/// Go's zero `time.Time` in RFC 3339.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats milliseconds since the epoch in UTC as Go's `RFC3339Nano`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    if millis != 0 {
        let fraction = format!("{millis:03}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// [`format_rfc3339_ms`], or [`ZERO_TIME`] for an unset time.
pub fn format_optional_ms(ms: Option<i64>) -> String {
    ms.map_or_else(|| ZERO_TIME.to_owned(), format_rfc3339_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            format_rfc3339_ms(1_700_000_000_120),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            format_rfc3339_ms(1_700_000_000_001),
            "2023-11-14T22:13:20.001Z"
        );
        assert_eq!(format_rfc3339_ms(951_782_400_500), "2000-02-29T00:00:00.5Z");
        assert_eq!(format_optional_ms(None), ZERO_TIME);
    }
}
