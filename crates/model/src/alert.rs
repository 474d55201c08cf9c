//! Alerts as rules send them and Alertmanager's API v2 carries them: the
//! one shape shared by the rule evaluator, the notification pipeline and
//! `POST /api/v2/alerts`.

use crate::Labels;

/// One alert: an identity (its labels) and what is said about it.
///
/// Times are milliseconds since the epoch. An alert whose `ends_at` is in
/// the past is resolved; a firing alert sent by a rule carries an `ends_at`
/// a few evaluation intervals ahead, so that it resolves by itself if its
/// sender goes quiet (as Prometheus does).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The identity of the alert; includes `alertname`.
    pub labels: Labels,
    /// Free-form text (`summary`, `description`, `runbook_url`, ...).
    pub annotations: Labels,
    /// When the alert started firing.
    pub starts_at_ms: i64,
    /// When the alert ends or ended; `None` if not known.
    pub ends_at_ms: Option<i64>,
    /// Link back to the expression that produced the alert.
    pub generator_url: String,
}

impl Alert {
    /// The `alertname` label, or `""`.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").unwrap_or("")
    }

    /// Whether the alert is resolved at `now_ms`.
    pub fn is_resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_some_and(|end| end <= now_ms)
    }
}
