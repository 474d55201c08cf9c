//! The dispatcher: routes alerts into aggregation groups and decides when
//! each group is notified, with Alertmanager 0.25's timing
//! (`dispatch/dispatch.go` and the dedup stage of `notify/notify.go`).
//!
//! An alert goes to every route it matches; on each, to the group of its
//! group labels. A new group is first flushed `group_wait` after it was
//! created (at once if its alert started more than `group_wait` ago), then
//! every `group_interval`. A flush notifies the route's receiver only when
//! something changed since the last notification of that group — a firing
//! alert not notified before, all alerts now resolved, or (when the
//! receiver sends resolved notifications) a newly resolved alert — or when
//! `repeat_interval` has passed since it. Inhibited and silenced alerts
//! are left out first; a group whose firing alerts are all acknowledged
//! is not repeated (a new or resolved alert is still notified); during a route's mute time interval (or outside its
//! active time intervals) nothing is sent. Resolved alerts leave the group
//! once a flush has handled them, and an empty group is removed.
//!
//! Time comes from the caller: [`Dispatcher::flush_due`] is called at (or
//! after) [`Dispatcher::next_flush_ms`], with the time to use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use agentmon_model::Labels;

use crate::config::AlertmanagerConfig;
use crate::fingerprint::fingerprint;
use crate::notification::{AlertStatus, Notification};
use crate::order::compare_alert_labels;
use crate::route::{group_key, Route};
use crate::store::StoredAlert;

/// Decides whether an alert is muted (inhibited or silenced) at a time,
/// and whether it was acknowledged.
pub trait Muter {
    fn mutes(&self, labels: &Labels, now_ms: i64) -> bool;

    /// Whether the alert with this fingerprint was acknowledged: it is
    /// still notified when it starts firing and when it resolves, but not
    /// repeated every `repeat_interval`.
    fn acknowledged(&self, _fingerprint: u64) -> bool {
        false
    }
}

/// Mutes nothing.
pub struct NoMuter;

impl Muter for NoMuter {
    fn mutes(&self, _: &Labels, _: i64) -> bool {
        false
    }
}

/// One aggregation group: the alerts of one route with the same group
/// labels.
#[derive(Debug, Clone)]
pub struct AggregationGroup {
    /// Position of the route in [`Route::walk`] order.
    pub route_index: usize,
    pub key: String,
    pub labels: Labels,
    pub receiver: String,
    pub alerts: BTreeMap<u64, StoredAlert>,
    pub next_flush_ms: i64,
    pub has_flushed: bool,
}

/// One notification-log entry as saved and restored: the fingerprints
/// of the firing and resolved alerts last notified to a receiver for a
/// group, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationLogEntry {
    pub receiver: String,
    pub group_key: String,
    pub firing: Vec<u64>,
    pub resolved: Vec<u64>,
    pub at_ms: i64,
}

/// What was last notified for a receiver and group (Alertmanager's
/// notification log entry).
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogEntry {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    at_ms: i64,
}

/// The routing, grouping and notification timing of all alerts.
#[derive(Debug)]
pub struct Dispatcher {
    config: Arc<AlertmanagerConfig>,
    external_url: String,
    groups: BTreeMap<(usize, u64), AggregationGroup>,
    log: HashMap<(String, String), LogEntry>,
}

impl Dispatcher {
    pub fn new(config: Arc<AlertmanagerConfig>, external_url: impl Into<String>) -> Dispatcher {
        Dispatcher {
            config,
            external_url: external_url.into(),
            groups: BTreeMap::new(),
            log: HashMap::new(),
        }
    }

    /// Starts over with a new configuration: groups are dropped (the
    /// caller re-inserts the stored alerts, which form new groups that
    /// wait `group_wait` again); what was notified is remembered, so
    /// nothing is sent twice because of a reload.
    pub fn reload(&mut self, config: Arc<AlertmanagerConfig>) {
        self.config = config;
        self.groups.clear();
    }

    pub fn config(&self) -> &Arc<AlertmanagerConfig> {
        &self.config
    }

    /// Routes an alert (as stored, after merging) into its groups.
    pub fn insert(&mut self, alert: &StoredAlert, now_ms: i64) {
        let root = Arc::clone(&self.config.route);
        for route in root.match_labels(&alert.alert.labels) {
            let index = route.index();
            let labels = route.group_labels(&alert.alert.labels);
            let group = self
                .groups
                .entry((index, fingerprint(&labels)))
                .or_insert_with(|| AggregationGroup {
                    route_index: index,
                    key: group_key(route, &labels),
                    labels,
                    receiver: route.opts.receiver.clone(),
                    alerts: BTreeMap::new(),
                    next_flush_ms: now_ms + route.opts.group_wait.as_millis() as i64,
                    has_flushed: false,
                });
            group.alerts.insert(alert.fingerprint, alert.clone());
            let wait = route.opts.group_wait.as_millis() as i64;
            if !group.has_flushed && alert.alert.starts_at_ms + wait < now_ms {
                group.next_flush_ms = now_ms;
            }
        }
    }

    /// When the next group is due, if any.
    pub fn next_flush_ms(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    /// The current groups.
    pub fn groups(&self) -> impl Iterator<Item = &AggregationGroup> {
        self.groups.values()
    }

    /// Flushes every group due at `now_ms`, handing notifications to
    /// `notify`.
    pub fn flush_due(
        &mut self,
        now_ms: i64,
        muter: &dyn Muter,
        notify: &mut dyn FnMut(Notification),
    ) {
        let due: Vec<(usize, u64)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        let root = Arc::clone(&self.config.route);
        let all = root.walk();
        for key in due {
            let Some(route) = self.groups.get(&key).and_then(|g| all.get(g.route_index)) else {
                continue;
            };
            self.flush_group(key, route, now_ms, muter, notify);
        }
    }

    fn time_muted(&self, route: &Route, now_ms: i64) -> bool {
        let intervals = &self.config.time_intervals;
        let in_any = |names: &[String]| {
            names
                .iter()
                .any(|n| intervals.get(n).is_some_and(|ti| ti.contains_ms(now_ms)))
        };
        in_any(&route.opts.mute_time_intervals)
            || (!route.opts.active_time_intervals.is_empty()
                && !in_any(&route.opts.active_time_intervals))
    }

    fn flush_group(
        &mut self,
        key: (usize, u64),
        route: &Route,
        now_ms: i64,
        muter: &dyn Muter,
        notify: &mut dyn FnMut(Notification),
    ) {
        let time_muted = self.time_muted(route, now_ms);
        let Some(group) = self.groups.get_mut(&key) else {
            return;
        };
        group.next_flush_ms = now_ms + route.opts.group_interval.as_millis() as i64;
        group.has_flushed = true;
        let mut snapshot: Vec<AlertStatus> = group
            .alerts
            .values()
            .map(|stored| {
                let resolved = stored.resolved_at(now_ms);
                let mut alert = stored.alert.clone();
                if !resolved {
                    // A firing alert is sent without its (future) end.
                    alert.ends_at_ms = None;
                }
                AlertStatus {
                    alert,
                    fingerprint: stored.fingerprint,
                    resolved,
                }
            })
            .collect();
        snapshot.sort_by(|a, b| compare_alert_labels(&a.alert.labels, &b.alert.labels));
        let handled: Vec<(u64, i64, Option<i64>)> = group
            .alerts
            .values()
            .filter(|a| a.resolved_at(now_ms))
            .map(|a| (a.fingerprint, a.updated_at_ms, a.alert.ends_at_ms))
            .collect();
        let (receiver, group_key, group_labels) = (
            group.receiver.clone(),
            group.key.clone(),
            group.labels.clone(),
        );
        if !time_muted {
            let alerts: Vec<AlertStatus> = snapshot
                .into_iter()
                .filter(|a| !muter.mutes(&a.alert.labels, now_ms))
                .collect();
            let firing: BTreeSet<u64> = alerts
                .iter()
                .filter(|a| !a.resolved)
                .map(|a| a.fingerprint)
                .collect();
            let resolved: BTreeSet<u64> = alerts
                .iter()
                .filter(|a| a.resolved)
                .map(|a| a.fingerprint)
                .collect();
            let send_resolved = self
                .config
                .receiver(&receiver)
                .is_some_and(|r| r.any_send_resolved());
            let log_key = (receiver.clone(), group_key.clone());
            let repeat_ms = route.opts.repeat_interval.as_millis() as i64;
            let needed = match self.log.get(&log_key) {
                None => !firing.is_empty(),
                Some(entry) => {
                    if !firing.is_subset(&entry.firing) {
                        true
                    } else if firing.is_empty() {
                        !entry.firing.is_empty()
                    } else if send_resolved && !resolved.is_subset(&entry.resolved) {
                        true
                    } else {
                        // Only alerts nobody acknowledged are repeated.
                        entry.at_ms < now_ms - repeat_ms
                            && firing.iter().any(|fp| !muter.acknowledged(*fp))
                    }
                }
            };
            if needed {
                let deliverable = !firing.is_empty() || (send_resolved && !alerts.is_empty());
                if deliverable {
                    notify(Notification {
                        receiver,
                        group_key,
                        group_labels,
                        alerts,
                        external_url: self.external_url.clone(),
                    });
                }
                self.log.insert(
                    log_key,
                    LogEntry {
                        firing,
                        resolved,
                        at_ms: now_ms,
                    },
                );
            }
        }
        // Resolved alerts were handled (sent, deduplicated or muted): drop
        // them unless they changed in the meantime.
        if let Some(group) = self.groups.get_mut(&key) {
            for (fp, updated, ends) in handled {
                let unchanged = group
                    .alerts
                    .get(&fp)
                    .is_some_and(|a| a.updated_at_ms == updated && a.alert.ends_at_ms == ends);
                if unchanged {
                    group.alerts.remove(&fp);
                }
            }
            if group.alerts.is_empty() {
                self.groups.remove(&key);
            }
        }
    }

    /// Forgets notification-log entries older than `retention_ms`
    /// (Alertmanager keeps them 120h).
    pub fn gc_log(&mut self, now_ms: i64, retention_ms: i64) {
        self.log.retain(|_, e| e.at_ms + retention_ms > now_ms);
    }

    /// Forgets what was notified to `receiver` for `group_key`, so that the
    /// group's next flush notifies again: for a notification the caller
    /// could not hand on (its delivery could not be queued).
    pub fn forget_notified(&mut self, receiver: &str, group_key: &str) {
        self.log
            .remove(&(receiver.to_owned(), group_key.to_owned()));
    }

    /// What was last notified per receiver and group, for the caller to
    /// persist (Alertmanager snapshots its notification log to disk so a
    /// restart does not notify again).
    pub fn log_entries(&self) -> Vec<NotificationLogEntry> {
        let mut entries: Vec<NotificationLogEntry> = self
            .log
            .iter()
            .map(|((receiver, group_key), e)| NotificationLogEntry {
                receiver: receiver.clone(),
                group_key: group_key.clone(),
                firing: e.firing.iter().copied().collect(),
                resolved: e.resolved.iter().copied().collect(),
                at_ms: e.at_ms,
            })
            .collect();
        entries.sort_by(|a, b| (&a.receiver, &a.group_key).cmp(&(&b.receiver, &b.group_key)));
        entries
    }

    /// Restores entries saved from [`Dispatcher::log_entries`] (newer
    /// entries already present win).
    pub fn restore_log(&mut self, entries: impl IntoIterator<Item = NotificationLogEntry>) {
        for e in entries {
            let key = (e.receiver, e.group_key);
            let entry = LogEntry {
                firing: e.firing.into_iter().collect(),
                resolved: e.resolved.into_iter().collect(),
                at_ms: e.at_ms,
            };
            match self.log.get(&key) {
                Some(existing) if existing.at_ms >= entry.at_ms => {}
                _ => {
                    self.log.insert(key, entry);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
