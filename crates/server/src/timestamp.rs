//! Timestamps in API parameters, as Prometheus takes them: Unix seconds
//! with an optional fraction (`1700000000.123`) or RFC 3339
//! (`2023-11-14T22:13:20.123Z`, `...+02:00`). Results are milliseconds,
//! rounded to the nearest millisecond like Prometheus.

use agentmon_model::calendar::parse_rfc3339_ms;

/// Prometheus's `minTime` and `maxTime` as formatted by its Go client, which
/// some clients send for "unbounded"; they map to the ends of our range.
const GO_MIN_TIME_PREFIX: &str = "-292273086-05-16T16:47:06";
const GO_MAX_TIME_PREFIX: &str = "292277025-08-18T07:12:54";

/// Parses a timestamp parameter into milliseconds since the epoch.
pub fn parse_timestamp_ms(input: &str) -> Option<i64> {
    let input = input.trim();
    if let Ok(seconds) = input.parse::<f64>() {
        if !seconds.is_finite() {
            return None;
        }
        // Saturates beyond the i64 range, which is what "unbounded" wants.
        return Some((seconds * 1000.0).round() as i64);
    }
    if input.starts_with(GO_MIN_TIME_PREFIX) {
        return Some(i64::MIN);
    }
    if input.starts_with(GO_MAX_TIME_PREFIX) {
        return Some(i64::MAX);
    }
    parse_rfc3339_ms(input)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Any string gets an answer, never a panic (`start`/`end`/`time`
        /// come straight from the query string).
        #[test]
        fn never_panics(input in "[0-9TZz:+.\\-]{0,40}|.{0,40}") {
            let _ = super::parse_timestamp_ms(&input);
        }
    }

    use super::*;

    #[test]
    fn unix_seconds_with_fraction() {
        assert_eq!(parse_timestamp_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_timestamp_ms("1700000000.1234"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_timestamp_ms("-1.5"), Some(-1500));
        assert_eq!(parse_timestamp_ms("NaN"), None);
        assert_eq!(parse_timestamp_ms("abc"), None);
    }

    #[test]
    fn rfc3339_with_zones_and_fractions() {
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp_ms("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_timestamp_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            parse_timestamp_ms("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_timestamp_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_timestamp_ms("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_timestamp_ms("2023-11-14T22:13:20"), None);
        assert_eq!(parse_timestamp_ms("2023-11-14 22:13"), None);
    }

    #[test]
    fn go_min_and_max_time_are_unbounded() {
        assert_eq!(
            parse_timestamp_ms("-292273086-05-16T16:47:06Z"),
            Some(i64::MIN)
        );
        assert_eq!(
            parse_timestamp_ms("292277025-08-18T07:12:54.999999999Z"),
            Some(i64::MAX)
        );
    }
}
