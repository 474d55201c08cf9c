//! `time()` and the calendar functions (`minute`, `hour`, `day_of_week`,
//! `days_in_month`, …), which read each value as Unix seconds in UTC, or
//! the evaluation time when called without an argument.
//!
//! See <https://prometheus.io/docs/prometheus/latest/querying/functions/#day_of_month>.

use agentmon_model::calendar::{civil_from_days, days_from_civil, days_in_month};
use promql_parser::parser::Call;

use super::{map_values, single, CallContext};
use crate::engine::eval::EvalValue;
use crate::error::PromqlError;

/// Evaluates `name` if it belongs to this family.
pub(super) fn call(
    ctx: &mut CallContext<'_, '_>,
    call: &Call,
    name: &str,
) -> Result<Option<EvalValue>, PromqlError> {
    let field: fn(&CivilTime) -> f64 = match name {
        "time" => return Ok(Some(EvalValue::Scalar(ctx.t as f64 / 1000.0))),
        "minute" => |c| c.minute as f64,
        "hour" => |c| c.hour as f64,
        "day_of_month" => |c| c.day as f64,
        "day_of_week" => |c| c.weekday as f64,
        "day_of_year" => |c| c.day_of_year as f64,
        "days_in_month" => |c| days_in_month(c.year, c.month) as f64,
        "month" => |c| c.month as f64,
        "year" => |c| c.year as f64,
        _ => return Ok(None),
    };
    let apply = move |v: f64| field(&CivilTime::from_unix_seconds(v as i64));
    if call.args.args.is_empty() {
        return Ok(Some(single(apply(ctx.t.div_euclid(1000) as f64))));
    }
    let elems = ctx.vector_arg(call, 0)?;
    Ok(Some(map_values(elems, apply)))
}

/// A UTC date and time broken into calendar fields.
#[derive(Debug, PartialEq)]
struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    /// Sunday is 0.
    weekday: u32,
    /// January 1st is 1.
    day_of_year: u32,
}

impl CivilTime {
    fn from_unix_seconds(seconds: i64) -> CivilTime {
        let days = seconds.div_euclid(86_400);
        let of_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let day_of_year = (days - days_from_civil(year, 1, 1)) as u32 + 1;
        CivilTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: (of_day % 3600 / 60) as u32,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
            day_of_year,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_a_thursday_in_january() {
        let c = CivilTime::from_unix_seconds(0);
        assert_eq!(
            (c.year, c.month, c.day, c.weekday, c.day_of_year),
            (1970, 1, 1, 4, 1)
        );
    }

    #[test]
    fn leap_day_and_time_of_day() {
        // 2024-02-29T13:45:00Z
        let c = CivilTime::from_unix_seconds(1_709_214_300);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (2024, 2, 29, 13, 45)
        );
        assert_eq!(c.day_of_year, 60);
        assert_eq!(days_in_month(c.year, c.month), 29);
        assert_eq!(days_from_civil(2024, 2, 29), 1_709_214_300 / 86_400);
    }

    #[test]
    fn before_the_epoch() {
        let c = CivilTime::from_unix_seconds(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute),
            (1969, 12, 31, 23, 59)
        );
    }
}
