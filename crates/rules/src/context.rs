//! What evaluating rules needs from outside: the seams and the global
//! settings, shared by every group.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agentmon_promql::Storage;

use crate::query::{AlertSender, Appender, QueryFunc};
use crate::template::Expander;
use crate::template_expander::GoTemplateExpander;

/// Reads raw series, for restoring alerts' `for` state from
/// `ALERTS_FOR_STATE` (stale markers included, which queries hide).
pub type SeriesReader = dyn Storage + Send + Sync;

/// The seams and settings every group evaluates with.
#[derive(Clone)]
pub struct RuleContext {
    /// Runs the rules' queries.
    pub query: Arc<dyn QueryFunc>,
    /// Writes recording rules' output, `ALERTS`, `ALERTS_FOR_STATE` and
    /// stale markers.
    pub appender: Arc<dyn Appender>,
    /// Sends alerts on.
    pub sender: Arc<dyn AlertSender>,
    /// Expands alert labels and annotations.
    pub expander: Arc<dyn Expander>,
    /// Where `for` state is restored from after a restart; `None` disables
    /// restoring.
    pub series: Option<Arc<SeriesReader>>,
    /// `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL`, and the prefix of alerts' generator URLs.
    pub external_url: String,
    /// The interval of groups that set none (`global.evaluation_interval`,
    /// 1m by default).
    pub evaluation_interval: Duration,
    /// The query offset of groups that set none (`global.rule_query_offset`,
    /// 0 by default).
    pub query_offset: Duration,
    /// How often a firing alert is sent again (`--rules.alert.resend-delay`,
    /// 1m).
    pub resend_delay: Duration,
    /// How long an outage may last for `for` state to be restored after it
    /// (`--rules.alert.for-outage-tolerance`, 1h).
    pub outage_tolerance: Duration,
    /// The least time an alert restored as pending waits before firing
    /// (`--rules.alert.for-grace-period`, 10m).
    pub for_grace_period: Duration,
}

impl RuleContext {
    /// A context with Prometheus's default settings and the Go-template
    /// expander.
    pub fn new(
        query: Arc<dyn QueryFunc>,
        appender: Arc<dyn Appender>,
        sender: Arc<dyn AlertSender>,
    ) -> RuleContext {
        RuleContext {
            query,
            appender,
            sender,
            expander: Arc::new(GoTemplateExpander),
            series: None,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            evaluation_interval: Duration::from_secs(60),
            query_offset: Duration::ZERO,
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
        }
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
