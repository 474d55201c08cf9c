//! `GET /api/v2/status` and `GET /api/v2/receivers`.

use serde::{Deserialize, Serialize};

use super::alerts::ReceiverName;
use super::format_time;
use crate::State;

/// `clusterStatus`: agentmon runs no gossip cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub peers: Vec<serde_json::Value>,
    pub status: String,
}

/// `alertmanagerConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigStatus {
    /// The configuration as YAML, secrets replaced by `<secret>`.
    pub original: String,
}

/// `versionInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub branch: String,
    pub build_date: String,
    pub build_user: String,
    pub go_version: String,
    pub revision: String,
    pub version: String,
}

/// `alertmanagerStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub cluster: ClusterStatus,
    pub config: ConfigStatus,
    /// When the server started (Alertmanager's field is a time, not a
    /// duration).
    pub uptime: String,
    pub version_info: VersionInfo,
}

/// `GET /api/v2/status`.
pub fn status(state: &State, version_info: VersionInfo) -> Status {
    Status {
        cluster: ClusterStatus {
            peers: Vec::new(),
            status: "disabled".to_owned(),
        },
        config: ConfigStatus {
            original: state.config().original.clone(),
        },
        uptime: format_time(state.started_at_ms()),
        version_info,
    }
}

/// `GET /api/v2/receivers`: every configured receiver, in file order.
pub fn receivers(state: &State) -> Vec<ReceiverName> {
    state
        .config()
        .receivers
        .iter()
        .map(|r| ReceiverName {
            name: r.name.clone(),
        })
        .collect()
}
