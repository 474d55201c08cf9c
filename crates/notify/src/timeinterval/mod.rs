//! Named time intervals (`time_intervals`, and the older
//! `mute_time_intervals`) that mute routes or make them active, with
//! Alertmanager's syntax and meaning
//! (<https://prometheus.io/docs/alerting/0.25/configuration/#time_interval>):
//! `times` (`HH:MM` to `HH:MM`, end exclusive, `24:00` allowed),
//! `weekdays` (`monday:friday`), `days_of_month` (`1:5`, `-1` is the last
//! day, clamped to the month), `months` (`january:march` or `1:3`),
//! `years` (`2024:2026`), `location`. An instant is in an interval when
//! every given field contains it; a named interval is a list, any of which
//! may contain it.
//!
//! `location` names a zone of the system's time-zone database (see
//! [`Location`]); the default is UTC.

mod location;

use std::sync::Arc;

use agentmon_model::calendar;

pub use location::Location;
use serde::{Deserialize, Deserializer};

/// A named list of intervals.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeInterval {
    pub name: String,
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

impl NamedTimeInterval {
    /// Whether any interval of the list contains the instant.
    pub fn contains_ms(&self, at_ms: i64) -> bool {
        self.time_intervals.iter().any(|ti| ti.contains_ms(at_ms))
    }
}

/// An inclusive range of integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    pub begin: i32,
    pub end: i32,
}

/// Minutes of the day, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// One interval; a field left out contains every instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeInterval {
    pub times: Option<Vec<TimeRange>>,
    /// Sunday is 0.
    pub weekdays: Option<Vec<InclusiveRange>>,
    pub days_of_month: Option<Vec<InclusiveRange>>,
    pub months: Option<Vec<InclusiveRange>>,
    pub years: Option<Vec<InclusiveRange>>,
    /// The zone the fields are read in; `None` is UTC.
    pub location: Option<Arc<Location>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimes {
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    times: Option<Vec<RawTimes>>,
    weekdays: Option<Vec<String>>,
    days_of_month: Option<Vec<String>>,
    months: Option<Vec<String>>,
    years: Option<Vec<String>>,
    location: Option<String>,
}

impl<'de> Deserialize<'de> for TimeInterval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeInterval, D::Error> {
        let raw = RawInterval::deserialize(d)?;
        TimeInterval::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {text}, invalid format");
    if text == "24:00" {
        return Ok(24 * 60);
    }
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Splits `a:b` (or `a`) and maps both ends through `value`.
fn parse_range(
    text: &str,
    value: impl Fn(&str) -> Result<i32, String>,
) -> Result<InclusiveRange, String> {
    match text.split_once(':') {
        Some((a, b)) => Ok(InclusiveRange {
            begin: value(a)?,
            end: value(b)?,
        }),
        None => {
            let v = value(text)?;
            Ok(InclusiveRange { begin: v, end: v })
        }
    }
}

fn name_or_number(text: &str, names: &[&str], what: &str) -> Result<i32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(i as i32);
    }
    Err(format!("{text} is not a valid {what}"))
}

impl TimeInterval {
    fn from_raw(raw: RawInterval) -> Result<TimeInterval, String> {
        let location = raw
            .location
            .as_deref()
            .map(Location::load)
            .transpose()?
            .map(Arc::new);
        let times =
            raw.times
                .map(|list| {
                    list.iter()
                        .map(|t| {
                            if t.start_time.is_empty() || t.end_time.is_empty() {
                                return Err("both start and end times must be provided".to_owned());
                            }
                            let start_minute = parse_minutes(&t.start_time)?;
                            let end_minute = parse_minutes(&t.end_time)?;
                            if start_minute >= end_minute {
                                return Err("start time cannot be equal or greater than end time"
                                    .to_owned());
                            }
                            Ok(TimeRange {
                                start_minute,
                                end_minute,
                            })
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
                .transpose()?;
        let weekdays = raw
            .weekdays
            .map(|list| {
                list.iter()
                    .map(|w| {
                        let r = parse_range(w, |s| name_or_number(s, &WEEKDAYS, "weekday"))?;
                        if r.begin > r.end {
                            return Err("start day cannot be before end day".to_owned());
                        }
                        Ok(r)
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?;
        let days_of_month = raw
            .days_of_month
            .map(|list| {
                list.iter()
                    .map(|d| {
                        let r = parse_range(d, |s| {
                            s.trim()
                                .parse::<i32>()
                                .map_err(|_| format!("{s} is not a valid day of the month"))
                        })?;
                        for v in [r.begin, r.end] {
                            if v == 0 || !(-31..=31).contains(&v) {
                                return Err(format!(
                                    "{v} is not a valid day of the month: out of range"
                                ));
                            }
                        }
                        let true_begin = if r.begin < 0 { 30 + r.begin } else { r.begin };
                        let true_end = if r.end < 0 { 30 + r.end } else { r.end };
                        if true_begin > true_end {
                            return Err("start day cannot be before end day".to_owned());
                        }
                        Ok(r)
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?;
        let months = raw
            .months
            .map(|list| {
                list.iter()
                    .map(|m| {
                        let r = parse_range(m, |s| match s.parse::<i32>() {
                            Ok(n) if (1..=12).contains(&n) => Ok(n),
                            Ok(_) => Err(format!("{s} is not a valid month")),
                            Err(_) => name_or_number(s, &MONTHS, "month").map(|i| i + 1),
                        })?;
                        if r.begin > r.end {
                            return Err(format!(
                                "end month {} is before start month {}",
                                r.end, r.begin
                            ));
                        }
                        Ok(r)
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?;
        let years = raw
            .years
            .map(|list| {
                list.iter()
                    .map(|y| {
                        let r = parse_range(y, |s| {
                            s.parse::<i32>()
                                .map_err(|_| format!("{s} is not a valid year"))
                        })?;
                        if r.begin > r.end {
                            return Err("start year cannot be greater than end year".to_owned());
                        }
                        Ok(r)
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()?;
        Ok(TimeInterval {
            times,
            weekdays,
            days_of_month,
            months,
            years,
            location,
        })
    }

    /// Whether the instant (milliseconds since the epoch, UTC) is inside.
    pub fn contains_ms(&self, at_ms: i64) -> bool {
        let at_ms =
            at_ms.saturating_add(self.location.as_ref().map_or(0, |l| l.offset_ms_at(at_ms)));
        let days = at_ms.div_euclid(86_400_000);
        let minute = (at_ms.rem_euclid(86_400_000) / 60_000) as u32;
        let (year, month, day) = calendar::civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7) as i32;
        if let Some(times) = &self.times {
            if !times
                .iter()
                .any(|t| minute >= t.start_minute && minute < t.end_minute)
            {
                return false;
            }
        }
        if let Some(ranges) = &self.days_of_month {
            let in_month = calendar::days_in_month(year, month) as i32;
            let day = day as i32;
            let matched = ranges.iter().any(|r| {
                let begin = if r.begin < 0 {
                    in_month + r.begin + 1
                } else {
                    r.begin
                };
                let end = if r.end < 0 {
                    in_month + r.end + 1
                } else {
                    r.end
                };
                if begin > in_month {
                    return false;
                }
                let begin = begin.clamp(-in_month, in_month);
                let end = end.clamp(-in_month, in_month);
                day >= begin && day <= end
            });
            if !matched {
                return false;
            }
        }
        let within = |ranges: &Option<Vec<InclusiveRange>>, v: i32| {
            ranges
                .as_ref()
                .is_none_or(|rs| rs.iter().any(|r| v >= r.begin && v <= r.end))
        };
        within(&self.months, month as i32)
            && within(&self.weekdays, weekday)
            && within(&self.years, year as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        (calendar::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60) * 1000
    }

    fn interval(yaml: &str) -> Result<TimeInterval, String> {
        serde_yaml::from_str::<TimeInterval>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn business_hours() {
        let ti = interval(
            "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']",
        )
        .expect("valid");
        // 2024-03-15 is a Friday, 2024-03-16 a Saturday.
        assert!(ti.contains_ms(ms(2024, 3, 15, 9, 0)));
        assert!(ti.contains_ms(ms(2024, 3, 15, 16, 59)));
        assert!(!ti.contains_ms(ms(2024, 3, 15, 17, 0)));
        assert!(!ti.contains_ms(ms(2024, 3, 15, 8, 59)));
        assert!(!ti.contains_ms(ms(2024, 3, 16, 12, 0)));
        let late = interval("times: [{start_time: '22:00', end_time: '24:00'}]").expect("valid");
        assert!(late.contains_ms(ms(2024, 1, 1, 23, 59)));
        assert!(!late.contains_ms(ms(2024, 1, 2, 0, 0)));
    }

    #[test]
    fn days_months_years() {
        let last_days = interval("days_of_month: ['-3:-1']").expect("valid");
        // February 2024 has 29 days: 27, 28, 29 are the last three.
        assert!(!last_days.contains_ms(ms(2024, 2, 26, 12, 0)));
        assert!(last_days.contains_ms(ms(2024, 2, 27, 0, 0)));
        assert!(last_days.contains_ms(ms(2024, 2, 29, 23, 0)));
        assert!(last_days.contains_ms(ms(2024, 1, 31, 0, 0)));
        assert!(!last_days.contains_ms(ms(2024, 1, 28, 0, 0)));
        let d31 = interval("days_of_month: ['31']").expect("valid");
        assert!(!d31.contains_ms(ms(2024, 4, 30, 0, 0)));
        let q1 = interval("months: ['january:march', '12']\nyears: ['2024']").expect("valid");
        assert!(q1.contains_ms(ms(2024, 2, 10, 0, 0)));
        assert!(q1.contains_ms(ms(2024, 12, 10, 0, 0)));
        assert!(!q1.contains_ms(ms(2024, 4, 1, 0, 0)));
        assert!(!q1.contains_ms(ms(2025, 2, 10, 0, 0)));
        let sunday = interval("weekdays: [Sunday]").expect("valid");
        assert!(sunday.contains_ms(ms(2024, 3, 17, 1, 0)));
        assert!(!sunday.contains_ms(ms(2024, 3, 18, 1, 0)));
    }

    #[test]
    fn location_shifts_the_fields() {
        let Ok(ti) =
            interval("times: [{start_time: '09:00', end_time: '17:00'}]\nlocation: Europe/Berlin")
        else {
            if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("the time-zone database (Debian package tzdata) is required");
            }
            eprintln!("SKIP: no time-zone database (Debian package tzdata)");
            return;
        };
        // 07:30Z in July is 09:30 in Berlin; 15:30Z is 17:30.
        assert!(ti.contains_ms(ms(2024, 7, 1, 7, 30)));
        assert!(!ti.contains_ms(ms(2024, 7, 1, 15, 30)));
        // In January (+1h) 07:30Z is 08:30: outside.
        assert!(!ti.contains_ms(ms(2024, 1, 15, 7, 30)));
        assert!(ti.contains_ms(ms(2024, 1, 15, 15, 30)));
    }

    #[test]
    fn refuses_bad_intervals() {
        let cases = [
            (
                "times: [{start_time: '9:00', end_time: '10:00'}]",
                "couldn't parse timestamp 9:00, invalid format",
            ),
            (
                "times: [{start_time: '10:00', end_time: '10:00'}]",
                "start time cannot be equal or greater than end time",
            ),
            (
                "times: [{start_time: '10:00'}]",
                "both start and end times must be provided",
            ),
            (
                "weekdays: ['friday:monday']",
                "start day cannot be before end day",
            ),
            ("weekdays: ['funday']", "funday is not a valid weekday"),
            (
                "days_of_month: ['0']",
                "0 is not a valid day of the month: out of range",
            ),
            (
                "days_of_month: ['-1:5']",
                "start day cannot be before end day",
            ),
            (
                "months: ['march:january']",
                "end month 1 is before start month 3",
            ),
            ("months: ['13']", "13 is not a valid month"),
            (
                "years: ['2025:2024']",
                "start year cannot be greater than end year",
            ),
            ("location: Mars/Olympus", "unknown time zone Mars/Olympus"),
        ];
        for (yaml, want) in cases {
            let err = interval(yaml).expect_err(yaml);
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any instant, any month length, any negative day: no panic, and
        /// `-1` is exactly the last day of the month.
        #[test]
        fn last_day_of_month(at_ms in -4_000_000_000_000i64..40_000_000_000_000i64) {
            let last: TimeInterval = serde_yaml::from_str("days_of_month: ['-1']").expect("valid");
            let days = at_ms.div_euclid(86_400_000);
            let (year, month, day) = calendar::civil_from_days(days);
            prop_assert_eq!(last.contains_ms(at_ms), day == calendar::days_in_month(year, month));
            let wide: TimeInterval =
                serde_yaml::from_str("days_of_month: ['-31:31', '29:-1']\nweekdays: ['sunday:saturday']")
                    .expect("valid");
            prop_assert!(wide.contains_ms(at_ms));
        }

        /// The extremes of the clock do not panic.
        #[test]
        fn any_instant(at_ms in any::<i64>()) {
            let ti: TimeInterval = serde_yaml::from_str(
                "times: [{start_time: '00:00', end_time: '24:00'}]\nyears: ['1:9999']",
            )
            .expect("valid");
            let _ = ti.contains_ms(at_ms);
        }
    }
}
