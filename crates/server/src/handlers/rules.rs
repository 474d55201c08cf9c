//! `GET /api/v1/rules` and `GET /api/v1/alerts`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/#rules>):
//! the rule groups of `rule_files` with their rules' health and alerts, and
//! the active alerts, in Prometheus's shapes (from `agentmon_rules::api`).
//!
//! `/api/v1/rules` takes `type` (`alert` or `record`), `rule_name[]`,
//! `rule_group[]`, `file[]` and `exclude_alerts` (a Go boolean). Without
//! rule files, or before the database is open, both answer empty lists.

use agentmon_rules::api::{AlertDiscovery, RuleDiscovery, RuleFilter, RuleType};
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use tracing::instrument;

use crate::error::ApiError;
use crate::handlers::success;
use crate::params::Params;
use crate::state::AppState;

/// Go's `strconv.ParseBool`, which Prometheus reads `exclude_alerts` with
/// (absent or empty is false).
fn parse_go_bool(name: &str, text: Option<&str>) -> Result<bool, ApiError> {
    match text.unwrap_or("") {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        other => Err(ApiError::BadData(format!(
            "invalid parameter {name}: strconv.ParseBool: parsing {other:?}: invalid syntax"
        ))),
    }
}

/// The rule filter of a `/api/v1/rules` request.
fn rule_filter(params: &Params) -> Result<RuleFilter, ApiError> {
    let kind = RuleType::parse(params.get("type").unwrap_or(""))
        .map_err(|e| ApiError::BadData(format!("invalid query parameter type: {e}")))?;
    let owned =
        |name: &str| -> Vec<String> { params.all(name).into_iter().map(str::to_owned).collect() };
    Ok(RuleFilter {
        kind,
        rule_names: owned("rule_name[]"),
        group_names: owned("rule_group[]"),
        files: owned("file[]"),
        exclude_alerts: parse_go_bool("exclude_alerts", params.get("exclude_alerts"))?,
    })
}

#[instrument(skip_all)]
pub async fn rules(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::from_uri(&uri)?;
    let filter = rule_filter(&params)?;
    let data = match state.rules() {
        Some(rules) => rules.manager.rule_discovery(&filter),
        None => RuleDiscovery { groups: Vec::new() },
    };
    Ok(success(data))
}

#[instrument(skip_all)]
pub async fn alerts(State(state): State<AppState>) -> Result<Response, ApiError> {
    let data = match state.rules() {
        Some(rules) => rules.manager.alert_discovery(),
        None => AlertDiscovery { alerts: Vec::new() },
    };
    Ok(success(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_prometheus_parameters() {
        let params = Params::from_pairs(vec![
            ("type".into(), "alert".into()),
            ("rule_name[]".into(), "A".into()),
            ("rule_name[]".into(), "B".into()),
            ("rule_group[]".into(), "g".into()),
            ("file[]".into(), "r.yml".into()),
            ("exclude_alerts".into(), "true".into()),
        ]);
        let filter = rule_filter(&params).unwrap();
        assert_eq!(filter.kind, Some(RuleType::Alert));
        assert_eq!(filter.rule_names, ["A", "B"]);
        assert_eq!(filter.group_names, ["g"]);
        assert_eq!(filter.files, ["r.yml"]);
        assert!(filter.exclude_alerts);

        let none = rule_filter(&Params::from_pairs(Vec::new())).unwrap();
        assert_eq!(none.kind, None);
        assert!(!none.exclude_alerts);

        let bad = Params::from_pairs(vec![("type".into(), "both".into())]);
        assert!(matches!(rule_filter(&bad), Err(ApiError::BadData(_))));
        let bad = Params::from_pairs(vec![("exclude_alerts".into(), "yes".into())]);
        let err = rule_filter(&bad).unwrap_err().to_string();
        assert!(err.contains("invalid parameter exclude_alerts"), "{err}");
    }
}
