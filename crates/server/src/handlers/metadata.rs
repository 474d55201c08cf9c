//! `GET /api/v1/metadata`: type, help and unit per metric family
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#querying-metric-metadata>).
//! `data` maps each family to a list of metadata objects; agentmon keeps one
//! per family, so `limit_per_metric` never cuts anything.

use std::collections::BTreeMap;

use agentmon_model::MetricMetadata;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::params::Params;
use crate::state::AppState;
use crate::storage::with_db;

#[derive(Serialize)]
struct MetadataJson {
    #[serde(rename = "type")]
    metric_type: &'static str,
    help: String,
    unit: String,
}

/// Lists metadata, optionally for one `metric`, at most `limit` families.
#[instrument(skip_all)]
pub async fn metadata(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    // As in Prometheus, a negative limit (the default) means no limit.
    let limit = params.integer("limit", -1)?;
    let per_metric = params.integer("limit_per_metric", -1)?;
    let metric = params
        .get("metric")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let entries: Vec<(String, MetricMetadata)> = with_db(&state, |db| Ok(db.metadata())).await?;
    let mut data: BTreeMap<String, Vec<MetadataJson>> = BTreeMap::new();
    for (family, metadata) in entries {
        if metric.as_deref().is_some_and(|m| m != family) {
            continue;
        }
        if limit >= 0 && data.len() as i64 >= limit {
            break;
        }
        if per_metric == 0 {
            continue;
        }
        let json = MetadataJson {
            metric_type: metadata.metric_type.as_str(),
            help: metadata.help,
            unit: metadata.unit,
        };
        data.entry(family).or_default().push(json);
    }
    Ok(success(data))
}
