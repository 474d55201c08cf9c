//! Asking a Prometheus-compatible query API (`/api/v1/query`,
//! `/api/v1/query_range`) and reading its JSON answer into an [`Answer`]
//! that the comparison can work on, whoever gave it.

use std::collections::BTreeMap;

use reqwest::blocking::Client;
use serde_json::Value;

use crate::common::prometheus::{labels_of, prometheus_sample};

pub type LabelSet = BTreeMap<String, String>;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantPoint {
    pub labels: LabelSet,
    pub t: i64,
    pub v: f64,
}

/// One series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: LabelSet,
    pub points: Vec<(i64, f64)>,
}

/// What a query API answered, times in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Scalar(i64, f64),
    String(i64, String),
    /// Elements in the order the API listed them.
    Vector(Vec<InstantPoint>),
    Matrix(Vec<RangeSeries>),
    /// `status: "error"`, or a reply that is not the API's JSON at all.
    Error {
        kind: String,
        message: String,
    },
}

impl Answer {
    pub fn type_name(&self) -> &'static str {
        match self {
            Answer::Scalar(..) => "scalar",
            Answer::String(..) => "string",
            Answer::Vector(_) => "vector",
            Answer::Matrix(_) => "matrix",
            Answer::Error { .. } => "error",
        }
    }
}

/// Where a query is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    Instant { t: i64 },
    Range { start: i64, end: i64, step: i64 },
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Evaluation::Instant { t } => write!(f, "instant at {}", seconds(*t)),
            Evaluation::Range { start, end, step } => write!(
                f,
                "range {}..{} step {}",
                seconds(*start),
                seconds(*end),
                seconds(*step)
            ),
        }
    }
}

/// Milliseconds as the API's seconds with a fraction.
pub fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Runs `query` at `evaluation` against the API under `base_url`.
pub fn ask(http: &Client, base_url: &str, query: &str, evaluation: Evaluation) -> Answer {
    let (path, params) = match evaluation {
        Evaluation::Instant { t } => ("/api/v1/query", vec![("time", seconds(t))]),
        Evaluation::Range { start, end, step } => (
            "/api/v1/query_range",
            vec![
                ("start", seconds(start)),
                ("end", seconds(end)),
                ("step", seconds(step)),
            ],
        ),
    };
    let mut form = vec![("query", query.to_owned())];
    form.extend(params);
    let url = format!("{base_url}{path}");
    let response = match http.get(&url).query(&form).send() {
        Ok(response) => response,
        Err(e) => {
            return Answer::Error {
                kind: "transport".into(),
                message: e.to_string(),
            }
        }
    };
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    parse_reply(status, &text)
}

/// Reads one reply of the query API.
pub fn parse_reply(status: u16, text: &str) -> Answer {
    let not_api = |why: &str| Answer::Error {
        kind: format!("HTTP {status}"),
        message: format!("{why}: {}", text.chars().take(300).collect::<String>()),
    };
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return not_api("not JSON");
    };
    if json["status"] == "error" {
        return Answer::Error {
            kind: json["errorType"].as_str().unwrap_or("").to_owned(),
            message: json["error"].as_str().unwrap_or("").to_owned(),
        };
    }
    if json["status"] != "success" {
        return not_api("no status");
    }
    let data = &json["data"];
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("scalar") => {
            let (t, v) = prometheus_sample(result);
            Answer::Scalar(t, v)
        }
        Some("string") => {
            let t = (result[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64;
            Answer::String(t, result[1].as_str().unwrap_or("").to_owned())
        }
        Some("vector") => Answer::Vector(
            result
                .as_array()
                .map(|elements| {
                    elements
                        .iter()
                        .map(|e| {
                            let (t, v) = prometheus_sample(&e["value"]);
                            InstantPoint {
                                labels: labels_of(&e["metric"]),
                                t,
                                v,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some("matrix") => Answer::Matrix(
            result
                .as_array()
                .map(|series| {
                    series
                        .iter()
                        .map(|s| RangeSeries {
                            labels: labels_of(&s["metric"]),
                            points: s["values"]
                                .as_array()
                                .map(|v| v.iter().map(prometheus_sample).collect())
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => not_api("unknown resultType"),
    }
}
