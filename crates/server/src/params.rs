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
    fn urlencoded_queries_decode_brackets_and_repeats() {
        let uri: Uri = "/x?match%5B%5D=up&match[]=%7Bjob%3D%22a%22%7D&limit=3"
            .parse()
            .unwrap();
        let pairs = query_pairs(&uri).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[1].1, "{job=\"a\"}");
    }
}
