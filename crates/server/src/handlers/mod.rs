//! One file per endpoint family. Handlers parse parameters, call the
//! storage or ingest seam ([`crate::storage`], [`crate::decode`]) and answer
//! in the Prometheus envelope (`{"status":"success","data":...}`).

pub mod admin;
pub mod alertmanager;
pub mod events;
pub mod export;
pub mod expression;
pub mod health;
pub mod health_checks;
pub mod import;
pub mod labels;
pub mod metadata;
pub mod monitor_alerts;
pub mod otlp;
pub mod pricing;
pub mod query;
pub mod rules;
pub mod self_metrics;
pub mod series;
pub mod server_status;
pub mod sessions;
pub mod status;
pub mod targets;
pub mod webhooks;
pub mod write;

use std::collections::BTreeMap;

use agentmon_model::Labels;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::ApiError;

#[derive(Serialize)]
struct Success<T: Serialize> {
    status: &'static str,
    data: T,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// A 200 answer in the Prometheus envelope.
pub fn success<T: Serialize>(data: T) -> Response {
    success_with_warnings(data, Vec::new())
}

/// A 200 answer in the Prometheus envelope, with `warnings` (e.g. that a
/// `limit` truncated the result).
pub fn success_with_warnings<T: Serialize>(data: T, warnings: Vec<String>) -> Response {
    Json(Success {
        status: "success",
        data,
        warnings,
    })
    .into_response()
}

/// Serializes a label set as a JSON object, as the Prometheus API does.
pub struct LabelsJson<'a>(pub &'a Labels);

impl Serialize for LabelsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for label in self.0 {
            map.serialize_entry(&label.name, &label.value)?;
        }
        map.end()
    }
}

/// Cuts `items` to `limit`, returning the Prometheus warning when it did.
pub fn apply_limit<T>(items: &mut Vec<T>, limit: Option<usize>) -> Vec<String> {
    match limit {
        Some(limit) if items.len() > limit => {
            items.truncate(limit);
            vec!["results truncated due to limit".to_owned()]
        }
        _ => Vec::new(),
    }
}

/// Unions sorted string lists from several `match[]` sets.
pub fn union_sorted(lists: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Unions series from several `match[]` sets, sorted by labels.
pub fn union_labels(lists: Vec<Vec<Labels>>) -> Vec<Labels> {
    let set: BTreeMap<Labels, ()> = lists.into_iter().flatten().map(|l| (l, ())).collect();
    set.into_keys().collect()
}

/// The answer for paths no route serves.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no endpoint at {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "method {} is not allowed for {}",
        request.method(),
        request.uri().path()
    ))
}
