//! The data a notification's messages are made from: Alertmanager's
//! `template.Data` (receiver, status, alerts, group/common labels and
//! annotations, external URL), built from a [`Notification`] for one
//! integration after its `send_resolved` filter and `max_alerts` cut.

use std::collections::BTreeMap;

use agentmon_model::Labels;

use crate::notification::{AlertStatus, Notification};

/// `firing` or `resolved`, for a group or one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert as templates and payloads see it.
#[derive(Debug, Clone)]
pub struct TemplateAlert {
    pub status: Status,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    /// `None` while the alert fires: Alertmanager hides an end time that
    /// has not been reached yet.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
    pub fingerprint: u64,
}

impl TemplateAlert {
    /// Alertmanager's fingerprint text: 16 hex digits.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }
}

/// Alertmanager's `template.Data` plus the group key.
#[derive(Debug, Clone)]
pub struct TemplateData {
    pub receiver: String,
    pub status: Status,
    pub alerts: Vec<TemplateAlert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
    pub group_key: String,
}

impl TemplateData {
    /// The data for `alerts` of `notification` (already filtered and cut).
    pub fn new(notification: &Notification, alerts: &[AlertStatus]) -> TemplateData {
        let alerts: Vec<TemplateAlert> = alerts.iter().map(template_alert).collect();
        let status = if alerts.iter().any(|a| a.status == Status::Firing) {
            Status::Firing
        } else {
            Status::Resolved
        };
        TemplateData {
            receiver: notification.receiver.clone(),
            status,
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            alerts,
            group_labels: to_map(&notification.group_labels),
            external_url: notification.external_url.clone(),
            group_key: notification.group_key.clone(),
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &TemplateAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &TemplateAlert> {
        self.alerts.iter().filter(|a| a.status == Status::Resolved)
    }
}

fn template_alert(status: &AlertStatus) -> TemplateAlert {
    TemplateAlert {
        status: if status.resolved {
            Status::Resolved
        } else {
            Status::Firing
        },
        labels: to_map(&status.alert.labels),
        annotations: to_map(&status.alert.annotations),
        starts_at_ms: status.alert.starts_at_ms,
        ends_at_ms: if status.resolved {
            status.alert.ends_at_ms
        } else {
            None
        },
        generator_url: status.alert.generator_url.clone(),
        fingerprint: status.fingerprint,
    }
}

fn to_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// The pairs every map has with the same value (empty for no maps).
fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut shared = first.clone();
    for map in maps {
        shared.retain(|name, value| map.get(name) == Some(value));
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_model::Alert;

    fn status(pairs: &[(&str, &str)], resolved: bool) -> AlertStatus {
        AlertStatus {
            alert: Alert {
                labels: Labels::new(pairs.iter().copied()).unwrap(),
                annotations: Labels::default(),
                starts_at_ms: 1_000,
                ends_at_ms: Some(5_000),
                generator_url: String::new(),
            },
            fingerprint: 0xab,
            resolved,
        }
    }

    #[test]
    fn common_labels_and_status() {
        let alerts = vec![
            status(&[("alertname", "A"), ("job", "x"), ("instance", "1")], true),
            status(
                &[("alertname", "A"), ("job", "x"), ("instance", "2")],
                false,
            ),
        ];
        let notification = Notification {
            receiver: "r".into(),
            group_key: "{}:{alertname=\"A\"}".into(),
            group_labels: Labels::new([("alertname", "A")]).unwrap(),
            alerts: alerts.clone(),
            external_url: "http://am".into(),
        };
        let data = TemplateData::new(&notification, &alerts);
        assert_eq!(data.status, Status::Firing);
        assert_eq!(data.common_labels.len(), 2);
        assert_eq!(data.common_labels["job"], "x");
        assert_eq!(data.alerts[0].ends_at_ms, Some(5_000));
        // A firing alert's future end is hidden.
        assert_eq!(data.alerts[1].ends_at_ms, None);
        assert_eq!(data.alerts[0].fingerprint_hex(), "00000000000000ab");
        let data = TemplateData::new(&notification, &alerts[..1]);
        assert_eq!(data.status, Status::Resolved);
        assert_eq!(data.common_labels["instance"], "1");
    }
}
