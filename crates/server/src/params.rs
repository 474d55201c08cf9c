//! Request parameters of the query API, from the URL query string and, for
//! `POST` with `application/x-www-form-urlencoded`, the body too (as
//! Prometheus allows for long `match[]` lists).

use agentmon_model::Matcher;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{header, Method, Uri};
use axum::{Form, RequestExt};

use crate::error::ApiError;
use crate::selector::parse_selector;
use crate::timestamp::parse_timestamp_ms;

/// All parameters of a request, in order, repeated keys kept.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Params, ApiError> {
        let mut pairs = query_pairs(request.uri())?;
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if request.method() == Method::POST && is_form {
            let Form(body): Form<Vec<(String, String)>> =
                request
                    .extract()
                    .await
                    .map_err(|e: axum::extract::rejection::FormRejection| {
                        ApiError::BadData(format!("cannot read form body: {}", e.body_text()))
                    })?;
            pairs.extend(body);
        }
        Ok(Params { pairs })
    }
}

fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::BadData(format!("cannot parse query string: {}", e.body_text())))?;
    Ok(pairs)
}

impl Params {
    /// Parameters from explicit pairs.
    #[cfg(test)]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// Parameters from the URL query string alone.
    pub fn from_uri(uri: &Uri) -> Result<Params, ApiError> {
        Ok(Params {
            pairs: query_pairs(uri)?,
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A timestamp parameter in milliseconds, or `default` when absent.
    pub fn timestamp_ms(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(value) => parse_timestamp_ms(value).ok_or_else(|| {
                ApiError::BadData(format!(
                    "invalid parameter {name:?}: cannot parse {value:?} to a valid timestamp"
                ))
            }),
        }
    }

    /// The `start`/`end` range, unbounded by default.
    pub fn time_range(&self) -> Result<(i64, i64), ApiError> {
        let start = self.timestamp_ms("start", i64::MIN)?;
        let end = self.timestamp_ms("end", i64::MAX)?;
        if end < start {
            return Err(ApiError::BadData(
                "invalid parameter \"end\": end timestamp must not be before start time".into(),
            ));
        }
        Ok((start, end))
    }

    /// The parsed `match[]` selectors, one matcher list each.
    pub fn match_sets(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(|selector| {
                parse_selector(selector)
                    .map_err(|e| ApiError::BadData(format!("invalid parameter \"match[]\": {e}")))
            })
            .collect()
    }

    /// An integer parameter, or `default` when absent.
    pub fn integer(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(value) => value.trim().parse().map_err(|_| {
                ApiError::BadData(format!(
                    "invalid parameter {name:?}: {value:?} is not an integer"
                ))
            }),
        }
    }

    /// A `limit` parameter as Prometheus reads it: absent or 0 means no
    /// limit, negative is an error.
    pub fn result_limit(&self) -> Result<Option<usize>, ApiError> {
        let limit = self.integer("limit", 0)?;
        if limit < 0 {
            return Err(ApiError::BadData(
                "invalid parameter \"limit\": must not be negative".into(),
            ));
        }
        Ok((limit > 0).then_some(limit as usize))
    }

    /// A required timestamp, as Prometheus's `query_range` reads `start` and
    /// `end`: absent or empty is an error too.
    pub fn required_timestamp_ms(&self, name: &str) -> Result<i64, ApiError> {
        let value = self.get(name).unwrap_or("");
        parse_timestamp_ms(value).ok_or_else(|| {
            ApiError::BadData(format!(
                "invalid parameter {name:?}: cannot parse {value:?} to a valid timestamp"
            ))
        })
    }

    /// An optional timestamp as Prometheus's `parseTimeParam` reads it
    /// (the `time` of an instant query): `default` when absent or empty.
    pub fn optional_timestamp_ms(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(value) => parse_timestamp_ms(value).ok_or_else(|| {
                ApiError::BadData(format!(
                    "invalid parameter {name:?}: invalid time value for '{name}': \
                     cannot parse {value:?} to a valid timestamp"
                ))
            }),
        }
    }

    /// A duration as Prometheus's API reads `step` and `timeout`: float
    /// seconds (`15`, `0.5`) or a duration string (`1m30s`), in nanoseconds.
    /// `None` when absent or empty.
    pub fn duration_ns(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(value) => parse_duration_ns(value).map(Some).map_err(|reason| {
                ApiError::BadData(format!("invalid parameter {name:?}: {reason}"))
            }),
        }
    }

    /// The `limit` of a query, as Prometheus's `parseLimitParam` reads it:
    /// absent or 0 means no limit.
    pub fn query_limit(&self) -> Result<Option<usize>, ApiError> {
        let value = match self.get("limit") {
            None | Some("") => return Ok(None),
            Some(value) => value,
        };
        let invalid =
            |reason: String| ApiError::BadData(format!("invalid parameter \"limit\": {reason}"));
        let limit: i64 = go_atoi(value)
            .ok_or_else(|| invalid(format!("strconv.Atoi: parsing {value:?}: invalid syntax")))?;
        if limit < 0 {
            return Err(invalid("limit must be non-negative".into()));
        }
        Ok((limit > 0).then_some(usize::try_from(limit).unwrap_or(usize::MAX)))
    }
}

/// Go's `strconv.Atoi` for the inputs it accepts: an optional sign and
/// decimal digits, nothing else (no spaces). Out-of-range values fail too.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a duration parameter into nanoseconds the way Prometheus's
/// `parseDuration` does: a float is seconds (and may be negative, which
/// callers reject with their own message), anything else a Prometheus
/// duration string.
pub fn parse_duration_ns(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let ns = seconds * 1e9;
        // i64's range as f64: [-2^63, 2^63).
        const LIMIT: f64 = 9.223_372_036_854_776e18;
        if !(-LIMIT..LIMIT).contains(&ns) {
            return Err(format!(
                "cannot parse {text:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns as i64);
    }
    agentmon_model::duration::parse_millis(text)
        .ok()
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(|ms| ms.checked_mul(1_000_000))
        .ok_or_else(|| format!("cannot parse {text:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn time_range_defaults_to_everything_and_checks_order() {
        assert_eq!(params(&[]).time_range().unwrap(), (i64::MIN, i64::MAX));
        assert_eq!(
            params(&[("start", "1"), ("end", "2.5")])
                .time_range()
                .unwrap(),
            (1000, 2500)
        );
        let err = params(&[("start", "2"), ("end", "1")])
            .time_range()
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("end timestamp must not be before start time"));
        let err = params(&[("start", "yesterday")]).time_range().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"start\": cannot parse \"yesterday\" to a valid timestamp"
        );
    }

    #[test]
    fn match_sets_keep_every_selector() {
        let p = params(&[("match[]", "up"), ("match[]", "{job=\"a\"}")]);
        assert_eq!(p.match_sets().unwrap().len(), 2);
        let err = params(&[("match[]", "{job=\"\"}")])
            .match_sets()
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid parameter \"match[]\": 1:1: parse error:"));
    }

    #[test]
    fn query_parameters_read_like_prometheus() {
        let p = params(&[("step", "15"), ("timeout", "1m30s"), ("limit", "3")]);
        assert_eq!(p.duration_ns("step").unwrap(), Some(15_000_000_000));
        assert_eq!(p.duration_ns("timeout").unwrap(), Some(90_000_000_000));
        assert_eq!(p.duration_ns("absent").unwrap(), None);
        assert_eq!(p.query_limit().unwrap(), Some(3));
        assert_eq!(params(&[("limit", "0")]).query_limit().unwrap(), None);
        assert_eq!(
            params(&[("step", "0.5")]).duration_ns("step").unwrap(),
            Some(500_000_000)
        );
        let err = params(&[("step", "soon")]).duration_ns("step").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"step\": cannot parse \"soon\" to a valid duration"
        );
        let err = params(&[("step", "1e300")])
            .duration_ns("step")
            .unwrap_err();
        assert!(err.to_string().ends_with("It overflows int64"));
        let err = params(&[("limit", "-1")]).query_limit().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"limit\": limit must be non-negative"
        );
        let err = params(&[("limit", " 2")]).query_limit().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"limit\": strconv.Atoi: parsing \" 2\": invalid syntax"
        );
        let err = params(&[]).required_timestamp_ms("start").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp"
        );
        assert_eq!(params(&[]).optional_timestamp_ms("time", 7).unwrap(), 7);
        let err = params(&[("time", "x")])
            .optional_timestamp_ms("time", 7)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"x\" to a valid timestamp"
        );
    }

    #[test]
    fn urlencoded_queries_decode_brackets_and_repeats() {
        let uri: Uri = "/x?match%5B%5D=up&match[]=%7Bjob%3D%22a%22%7D&limit=3"
            .parse()
            .unwrap();
        let pairs = query_pairs(&uri).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[1].1, "{job=\"a\"}");
    }
}
