//! What the dispatcher hands to the delivery side: one group of alerts for
//! one receiver, ready to be turned into a webhook, Slack, Discord,
//! PagerDuty or email payload.
//!
//! Deduplication is decided per receiver (see `docs/alerting.md`), so a
//! notification may carry resolved alerts that some integrations must not
//! send: an integration with `send_resolved: false` drops the resolved
//! alerts and sends nothing when no firing alert is left, as Alertmanager
//! does. Inhibited and silenced alerts are already left out; firing
//! alerts carry no `ends_at`. `max_alerts` is applied by the delivery
//! side (webhook `truncatedAlerts`).

use agentmon_model::Labels;

/// One notification: the alerts of one aggregation group, due for one
/// receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The receiver name from the configuration.
    pub receiver: String,
    /// The group key as Alertmanager computes it: the route's path of
    /// matchers, then the group labels, e.g.
    /// `{}/{severity="page"}:{alertname="X"}`.
    pub group_key: String,
    /// The labels the group was formed by (`group_by`).
    pub group_labels: Labels,
    /// The firing and resolved alerts of the group, ordered as Alertmanager
    /// orders them.
    pub alerts: Vec<AlertStatus>,
    /// The URL under which this Alertmanager is reached, for links back.
    pub external_url: String,
}

/// One alert of a notification, with its fingerprint and whether it was
/// resolved when the notification was made.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStatus {
    pub alert: agentmon_model::Alert,
    pub fingerprint: u64,
    pub resolved: bool,
}
