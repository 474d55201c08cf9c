//! Alerts in API v2: `gettableAlert`, `alertGroup`, `postableAlert`, and
//! the filters of `GET /api/v2/alerts` and `/api/v2/alerts/groups`.

use std::collections::BTreeMap;

use agentmon_model::{Alert, Label, Labels};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{format_time, parse_time};
use crate::config::is_label_name;
use crate::fingerprint::fingerprint_hex;
use crate::inhibit::Inhibitor;
use crate::matcher::{parse_matchers, Matcher};
use crate::order::{compare_alert_labels, label_set_before};
use crate::store::StoredAlert;
use crate::{NotifyError, State};

/// `{"name": ...}` of a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverName {
    pub name: String,
}

/// `alertStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlertStatus {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
}

/// `gettableAlert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub annotations: BTreeMap<String, String>,
    pub ends_at: String,
    pub fingerprint: String,
    pub receivers: Vec<ReceiverName>,
    pub starts_at: String,
    pub status: GettableAlertStatus,
    pub updated_at: String,
    #[serde(
        rename = "generatorURL",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub generator_url: String,
    pub labels: BTreeMap<String, String>,
}

/// `alertGroup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertGroup {
    pub alerts: Vec<GettableAlert>,
    pub labels: BTreeMap<String, String>,
    pub receiver: ReceiverName,
}

/// The query parameters of `GET /api/v2/alerts` and `/alerts/groups`.
#[derive(Debug, Clone)]
pub struct AlertFilter {
    /// `filter`: every matcher must match the alert's labels.
    pub matchers: Vec<Matcher>,
    pub active: bool,
    pub silenced: bool,
    pub inhibited: bool,
    pub unprocessed: bool,
    /// `receiver`: an anchored regex that one of the alert's receivers
    /// must match.
    pub receiver: Option<Regex>,
}

impl Default for AlertFilter {
    fn default() -> AlertFilter {
        AlertFilter {
            matchers: Vec::new(),
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            receiver: None,
        }
    }
}

impl AlertFilter {
    /// Builds a filter from the `filter` values and `receiver` parameter
    /// (the flags default to true; set them on the result).
    pub fn parse(filter: &[String], receiver: Option<&str>) -> Result<AlertFilter, NotifyError> {
        let mut matchers = Vec::new();
        for text in filter {
            matchers.extend(parse_matchers(text)?);
        }
        let receiver = receiver
            .filter(|r| !r.is_empty())
            .map(|r| {
                Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                    NotifyError::Matcher(format!("failed to parse receiver param: {e}"))
                })
            })
            .transpose()?;
        Ok(AlertFilter {
            matchers,
            receiver,
            ..AlertFilter::default()
        })
    }

    fn receivers_match(&self, receivers: &[ReceiverName]) -> bool {
        self.receiver
            .as_ref()
            .is_none_or(|re| receivers.iter().any(|r| re.is_match(&r.name)))
    }

    /// Whether an alert with this status passes the flags and matchers.
    fn admits(&self, alert: &StoredAlert, status: &GettableAlertStatus, now_ms: i64) -> bool {
        if alert.resolved_at(now_ms)
            || !self.matchers.iter().all(|m| m.matches(&alert.alert.labels))
        {
            return false;
        }
        match status.state.as_str() {
            "active" if !self.active => return false,
            "unprocessed" if !self.unprocessed => return false,
            _ => {}
        }
        (self.silenced || status.silenced_by.is_empty())
            && (self.inhibited || status.inhibited_by.is_empty())
    }
}

fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn alert_status(state: &State, inhibitor: &Inhibitor<'_>, labels: &Labels) -> GettableAlertStatus {
    let silenced_by = state.silenced_by(labels);
    let inhibited_by: Vec<String> = inhibitor
        .inhibited_by(labels)
        .map(fingerprint_hex)
        .into_iter()
        .collect();
    let suppressed = !silenced_by.is_empty() || !inhibited_by.is_empty();
    GettableAlertStatus {
        state: if suppressed { "suppressed" } else { "active" }.to_owned(),
        silenced_by,
        inhibited_by,
    }
}

fn gettable(
    alert: &StoredAlert,
    status: GettableAlertStatus,
    receivers: Vec<ReceiverName>,
) -> GettableAlert {
    GettableAlert {
        annotations: label_map(&alert.alert.annotations),
        ends_at: format_time(alert.alert.ends_at_ms.unwrap_or(0)),
        fingerprint: fingerprint_hex(alert.fingerprint),
        receivers,
        starts_at: format_time(alert.alert.starts_at_ms),
        status,
        updated_at: format_time(alert.updated_at_ms),
        generator_url: alert.alert.generator_url.clone(),
        labels: label_map(&alert.alert.labels),
    }
}

fn routed_receivers(state: &State, labels: &Labels) -> Vec<ReceiverName> {
    state
        .config()
        .route
        .match_labels(labels)
        .into_iter()
        .map(|r| ReceiverName {
            name: r.opts.receiver.clone(),
        })
        .collect()
}

/// `GET /api/v2/alerts`: the unresolved alerts passing the filter,
/// ordered by fingerprint.
pub fn list_alerts(state: &State, filter: &AlertFilter) -> Vec<GettableAlert> {
    let now = state.now_ms();
    let inhibitor = state.inhibitor();
    let mut out: Vec<GettableAlert> = state
        .alerts
        .iter()
        .filter_map(|alert| {
            let receivers = routed_receivers(state, &alert.alert.labels);
            if !filter.receivers_match(&receivers) {
                return None;
            }
            let status = alert_status(state, &inhibitor, &alert.alert.labels);
            filter
                .admits(alert, &status, now)
                .then(|| gettable(alert, status, receivers))
        })
        .collect();
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    out
}

/// `GET /api/v2/alerts/groups`: the dispatcher's aggregation groups with
/// the alerts passing the filter; groups left empty are omitted. Ordered
/// by group labels, then receiver; alerts in Alertmanager's alert order.
pub fn list_alert_groups(state: &State, filter: &AlertFilter) -> Vec<AlertGroup> {
    let now = state.now_ms();
    let inhibitor = state.inhibitor();
    let mut groups: Vec<(Labels, AlertGroup)> = Vec::new();
    for group in state.dispatcher.groups() {
        let receiver = ReceiverName {
            name: group.receiver.clone(),
        };
        if !filter.receivers_match(std::slice::from_ref(&receiver)) {
            continue;
        }
        let mut alerts: Vec<&StoredAlert> = group.alerts.values().collect();
        alerts.sort_by(|a, b| compare_alert_labels(&a.alert.labels, &b.alert.labels));
        let alerts: Vec<GettableAlert> = alerts
            .into_iter()
            .filter_map(|alert| {
                let status = alert_status(state, &inhibitor, &alert.alert.labels);
                filter
                    .admits(alert, &status, now)
                    .then(|| gettable(alert, status, routed_receivers(state, &alert.alert.labels)))
            })
            .collect();
        if alerts.is_empty() {
            continue;
        }
        groups.push((
            group.labels.clone(),
            AlertGroup {
                alerts,
                labels: label_map(&group.labels),
                receiver,
            },
        ));
    }
    groups.sort_by(|(la, a), (lb, b)| {
        if la == lb {
            a.receiver.name.cmp(&b.receiver.name)
        } else if label_set_before(la, lb) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        }
    });
    groups.into_iter().map(|(_, g)| g).collect()
}

/// `postableAlert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: Option<String>,
}

fn checked_labels(map: &BTreeMap<String, String>) -> Result<Labels, String> {
    let mut labels = Vec::with_capacity(map.len());
    for (name, value) in map {
        if value.is_empty() {
            continue;
        }
        if !is_label_name(name) {
            return Err(format!("invalid name {name:?}"));
        }
        labels.push(Label {
            name: name.clone(),
            value: value.clone(),
        });
    }
    Ok(Labels::from_sorted_unchecked(labels))
}

/// `POST /api/v2/alerts`: validates each alert as Alertmanager does and
/// returns the valid ones (to give to [`State::receive`]) and, if any
/// were refused, the errors joined by `"; "` (Alertmanager then answers
/// 400 with that text, after storing the valid ones).
pub fn prepare_alerts(
    posted: Vec<PostableAlert>,
    now_ms: i64,
    resolve_timeout_ms: i64,
) -> (Vec<Alert>, Option<String>) {
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    for p in posted {
        match prepare_one(p, now_ms, resolve_timeout_ms) {
            Ok(alert) => valid.push(alert),
            Err(e) => errors.push(e),
        }
    }
    let errors = (!errors.is_empty()).then(|| errors.join("; "));
    (valid, errors)
}

fn prepare_one(p: PostableAlert, now_ms: i64, resolve_timeout_ms: i64) -> Result<Alert, String> {
    let time = |field: &str, text: &Option<String>| -> Result<Option<i64>, String> {
        match text.as_deref() {
            // Go clients send the zero time for "not set".
            None | Some("") => Ok(None),
            Some(t) if t.starts_with("0001-01-01T00:00:00") => Ok(None),
            Some(t) => parse_time(t)
                .map(Some)
                .ok_or_else(|| format!("{field} {t:?} is not an RFC 3339 time")),
        }
    };
    let ends = time("endsAt", &p.ends_at)?;
    let starts = time("startsAt", &p.starts_at)?.unwrap_or(ends.unwrap_or(now_ms));
    let effective_end = ends.unwrap_or(now_ms + resolve_timeout_ms);
    if effective_end < starts {
        return Err("start time must be before end time".to_owned());
    }
    let labels = checked_labels(&p.labels).map_err(|e| format!("invalid label set: {e}"))?;
    if labels.is_empty() {
        return Err("at least one label pair required".to_owned());
    }
    let annotations =
        checked_labels(&p.annotations).map_err(|e| format!("invalid annotations: {e}"))?;
    Ok(Alert {
        labels,
        annotations,
        starts_at_ms: starts,
        ends_at_ms: ends,
        generator_url: p.generator_url.unwrap_or_default(),
    })
}
