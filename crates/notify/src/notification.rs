//! The hand-off between the Alertmanager core (routing, grouping,
//! inhibition, silences) and delivery: one group's state, due to be sent to
//! one receiver.

use agentmon_model::{Alert, Labels};

/// One group's alerts, due to be sent to one receiver.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Receiver name from the config.
    pub receiver: String,
    /// As Alertmanager computes it, e.g.
    /// `{}/{severity="page"}:{alertname="X"}`.
    pub group_key: String,
    /// The labels the group was formed by.
    pub group_labels: Labels,
    /// Firing and resolved alerts of the group.
    pub alerts: Vec<AlertStatus>,
    /// Where the Alertmanager UI/API is reachable, for links.
    pub external_url: String,
}

/// One alert of a group, with the state it is notified in.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    pub alert: Alert,
    /// The hash of the alert's labels (Alertmanager's fingerprint).
    pub fingerprint: u64,
    /// Whether the alert is resolved at the time of the notification.
    pub resolved: bool,
}
