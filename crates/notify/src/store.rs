//! The alert store: every alert received, by fingerprint, merged with
//! Alertmanager's rules when an alert is sent again
//! (`types.Alert.Merge` and `provider/mem` of Alertmanager 0.25).
//!
//! An alert posted without `endsAt` gets one `resolve_timeout` after it is
//! received and is marked as a timeout: a later explicit end time wins over
//! it. When the new and the stored alert overlap in time they are merged:
//! the earliest start is kept, and the newest update decides the end
//! unless an older explicit end is later. A resolved alert stays until
//! [`AlertStore::gc`] drops it (Alertmanager does so every 30 minutes).

use std::collections::BTreeMap;

use agentmon_model::Alert;

use crate::fingerprint::fingerprint;

/// An alert as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub alert: Alert,
    pub fingerprint: u64,
    /// When this version was received.
    pub updated_at_ms: i64,
    /// `ends_at` was set from `resolve_timeout`, not by the sender.
    pub timeout: bool,
}

impl StoredAlert {
    /// Prepares a received alert as Alertmanager's API does: a missing
    /// start becomes the end or now, a missing end becomes now +
    /// `resolve_timeout` (and marks the alert as a timeout).
    pub fn received(mut alert: Alert, now_ms: i64, resolve_timeout_ms: i64) -> StoredAlert {
        if alert.starts_at_ms == 0 {
            alert.starts_at_ms = alert.ends_at_ms.unwrap_or(now_ms);
        }
        let timeout = alert.ends_at_ms.is_none();
        if timeout {
            alert.ends_at_ms = Some(now_ms + resolve_timeout_ms);
        }
        StoredAlert {
            fingerprint: fingerprint(&alert.labels),
            alert,
            updated_at_ms: now_ms,
            timeout,
        }
    }

    /// Whether the alert is resolved at `now_ms`.
    pub fn resolved_at(&self, now_ms: i64) -> bool {
        self.alert.is_resolved_at(now_ms)
    }

    fn ends(&self) -> i64 {
        self.alert.ends_at_ms.unwrap_or(i64::MAX)
    }

    /// `types.Alert.Merge`: `self` and `other` are versions of the same
    /// alert; the younger one (by update time) is the base.
    pub fn merge(&self, other: &StoredAlert, now_ms: i64) -> StoredAlert {
        if other.updated_at_ms < self.updated_at_ms {
            return other.merge(self, now_ms);
        }
        let mut merged = other.clone();
        if self.alert.starts_at_ms < other.alert.starts_at_ms {
            merged.alert.starts_at_ms = self.alert.starts_at_ms;
        }
        if other.resolved_at(now_ms) {
            if self.resolved_at(now_ms) && self.ends() > other.ends() {
                merged.alert.ends_at_ms = self.alert.ends_at_ms;
            }
        } else if self.ends() > other.ends() && !self.timeout {
            merged.alert.ends_at_ms = self.alert.ends_at_ms;
            merged.timeout = false;
        }
        merged
    }
}

/// Every alert received, by fingerprint.
#[derive(Debug, Default, Clone)]
pub struct AlertStore {
    alerts: BTreeMap<u64, StoredAlert>,
}

impl AlertStore {
    pub fn new() -> AlertStore {
        AlertStore::default()
    }

    /// Stores a received alert, merging it with the stored version when
    /// their activity overlaps, and returns what is now stored (which the
    /// dispatcher is then given).
    pub fn put(&mut self, incoming: StoredAlert, now_ms: i64) -> StoredAlert {
        let fp = incoming.fingerprint;
        let stored = match self.alerts.get(&fp) {
            Some(old) => {
                let (start, end) = (incoming.alert.starts_at_ms, incoming.ends());
                let (old_start, old_end) = (old.alert.starts_at_ms, old.ends());
                if (end > old_start && end < old_end) || (start > old_start && start < old_end) {
                    old.merge(&incoming, now_ms)
                } else {
                    incoming
                }
            }
            None => incoming,
        };
        self.alerts.insert(fp, stored.clone());
        stored
    }

    pub fn get(&self, fingerprint: u64) -> Option<&StoredAlert> {
        self.alerts.get(&fingerprint)
    }

    /// All alerts, by fingerprint.
    pub fn iter(&self) -> impl Iterator<Item = &StoredAlert> + Clone {
        self.alerts.values()
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Drops alerts resolved at `now_ms`; returns their fingerprints.
    pub fn gc(&mut self, now_ms: i64) -> Vec<u64> {
        let gone: Vec<u64> = self
            .alerts
            .values()
            .filter(|a| a.resolved_at(now_ms))
            .map(|a| a.fingerprint)
            .collect();
        for fp in &gone {
            self.alerts.remove(fp);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_model::Labels;

    fn alert(starts: i64, ends: Option<i64>) -> Alert {
        Alert {
            labels: Labels::new([("alertname", "A")]).expect("valid"),
            annotations: Labels::default(),
            starts_at_ms: starts,
            ends_at_ms: ends,
            generator_url: String::new(),
        }
    }

    const RT: i64 = 300_000;

    #[test]
    fn missing_times_are_filled() {
        let a = StoredAlert::received(alert(0, None), 1_000, RT);
        assert_eq!(a.alert.starts_at_ms, 1_000);
        assert_eq!(a.alert.ends_at_ms, Some(301_000));
        assert!(a.timeout);
        let b = StoredAlert::received(alert(0, Some(500)), 1_000, RT);
        assert_eq!(b.alert.starts_at_ms, 500);
        assert!(!b.timeout);
    }

    #[test]
    fn resend_keeps_earliest_start_and_extends_timeout() {
        let mut store = AlertStore::new();
        store.put(StoredAlert::received(alert(1_000, None), 1_000, RT), 1_000);
        let merged = store.put(
            StoredAlert::received(alert(61_000, None), 61_000, RT),
            61_000,
        );
        assert_eq!(merged.alert.starts_at_ms, 1_000);
        assert_eq!(merged.alert.ends_at_ms, Some(361_000));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn explicit_resolve_wins_over_timeout_and_gc_drops_it() {
        let mut store = AlertStore::new();
        store.put(StoredAlert::received(alert(1_000, None), 1_000, RT), 1_000);
        let resolved = store.put(
            StoredAlert::received(alert(1_000, Some(50_000)), 60_000, RT),
            60_000,
        );
        assert_eq!(resolved.alert.ends_at_ms, Some(50_000));
        assert!(resolved.resolved_at(60_000));
        assert_eq!(store.gc(60_000).len(), 1);
        assert!(store.is_empty());
    }

    #[test]
    fn explicit_later_end_survives_a_timeout_resend() {
        let mut store = AlertStore::new();
        store.put(
            StoredAlert::received(alert(1_000, Some(900_000)), 1_000, RT),
            1_000,
        );
        let merged = store.put(StoredAlert::received(alert(2_000, None), 2_000, RT), 2_000);
        assert_eq!(merged.alert.ends_at_ms, Some(900_000));
        assert!(!merged.timeout);
        // A new firing after the old one ended is not merged.
        let mut store = AlertStore::new();
        store.put(
            StoredAlert::received(alert(1_000, Some(5_000)), 6_000, RT),
            6_000,
        );
        let fresh = store.put(
            StoredAlert::received(alert(10_000, None), 10_000, RT),
            10_000,
        );
        assert_eq!(fresh.alert.starts_at_ms, 10_000);
    }
}
