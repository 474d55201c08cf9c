//! [`State`]: everything the notification core holds — configuration,
//! alert store, silences, dispatcher and clock — behind one value the
//! server keeps under one lock. Received alerts go in with
//! [`State::receive`]; [`State::flush`] hands due notifications out; the
//! API functions in [`crate::api`] read it.

use std::collections::BTreeMap;
use std::sync::Arc;

use agentmon_model::{Alert, Labels};

use crate::ack::{AckError, Acknowledgement};
use crate::clock::Clock;
use crate::config::AlertmanagerConfig;
use crate::dispatch::{Dispatcher, Muter};
use crate::inhibit::Inhibitor;
use crate::notification::Notification;
use crate::silence::Silences;
use crate::store::{AlertStore, StoredAlert};

/// How long notification-log entries are kept (Alertmanager's default
/// data retention).
const LOG_RETENTION_MS: i64 = 120 * 3600 * 1000;

/// The notification core's state.
#[derive(Debug)]
pub struct State {
    config: Arc<AlertmanagerConfig>,
    pub alerts: AlertStore,
    pub silences: Silences,
    pub dispatcher: Dispatcher,
    clock: Arc<dyn Clock>,
    started_at_ms: i64,
    /// Acknowledged alerts by fingerprint.
    acknowledgements: BTreeMap<u64, Acknowledgement>,
    /// Acknowledgements ended since [`State::take_cleared_acknowledgements`]
    /// was last called (for the caller's store).
    cleared: Vec<u64>,
}

/// Mutes what inhibition rules or active silences mute.
struct StateMuter<'a> {
    inhibitor: Inhibitor<'a>,
    silences: &'a Silences,
    acknowledgements: &'a BTreeMap<u64, Acknowledgement>,
}

impl Muter for StateMuter<'_> {
    fn mutes(&self, labels: &Labels, now_ms: i64) -> bool {
        self.inhibitor.inhibited_by(labels).is_some()
            || !self.silences.silenced_by(labels, now_ms).is_empty()
    }

    fn acknowledged(&self, fingerprint: u64) -> bool {
        self.acknowledgements.contains_key(&fingerprint)
    }
}

impl State {
    /// A state with no alerts; `external_url` is this server's URL as
    /// links in notifications should show it.
    pub fn new(
        config: AlertmanagerConfig,
        silences: Silences,
        clock: Arc<dyn Clock>,
        external_url: impl Into<String>,
    ) -> State {
        let config = Arc::new(config);
        State {
            dispatcher: Dispatcher::new(Arc::clone(&config), external_url),
            config,
            alerts: AlertStore::new(),
            silences,
            started_at_ms: clock.now_ms(),
            clock,
            acknowledgements: BTreeMap::new(),
            cleared: Vec::new(),
        }
    }

    pub fn config(&self) -> &Arc<AlertmanagerConfig> {
        &self.config
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn started_at_ms(&self) -> i64 {
        self.started_at_ms
    }

    /// Takes alerts as a rule evaluator or `POST /api/v2/alerts` sends
    /// them (already validated), filling missing times as Alertmanager
    /// does.
    pub fn receive(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        let now = self.now_ms();
        let timeout = self.config.global.resolve_timeout.0.as_millis() as i64;
        for alert in alerts {
            let stored = self
                .alerts
                .put(StoredAlert::received(alert, now, timeout), now);
            self.dispatcher.insert(&stored, now);
        }
        self.clear_resolved_acknowledgements(now);
    }

    /// Acknowledges the firing alert with this fingerprint (again: the
    /// newer acknowledgement replaces the older).
    pub fn acknowledge(
        &mut self,
        fingerprint: u64,
        by: String,
        comment: String,
    ) -> Result<Acknowledgement, AckError> {
        let now = self.now_ms();
        let alert = self
            .alerts
            .get(fingerprint)
            .ok_or(AckError::NotFound(fingerprint))?;
        if alert.resolved_at(now) {
            return Err(AckError::NotFiring(fingerprint));
        }
        let ack = Acknowledgement {
            by,
            at_ms: now,
            comment,
        };
        self.acknowledgements.insert(fingerprint, ack.clone());
        Ok(ack)
    }

    /// The acknowledgement of the alert with this fingerprint.
    pub fn acknowledgement(&self, fingerprint: u64) -> Option<&Acknowledgement> {
        self.acknowledgements.get(&fingerprint)
    }

    /// Puts back acknowledgements kept across a restart.
    pub fn restore_acknowledgements(
        &mut self,
        acknowledgements: impl IntoIterator<Item = (u64, Acknowledgement)>,
    ) {
        self.acknowledgements.extend(acknowledgements);
    }

    /// The fingerprints whose acknowledgement ended since the last call.
    pub fn take_cleared_acknowledgements(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.cleared)
    }

    fn clear_resolved_acknowledgements(&mut self, now_ms: i64) {
        let alerts = &self.alerts;
        let cleared = &mut self.cleared;
        self.acknowledgements.retain(|fp, _| {
            let resolved = alerts.get(*fp).is_some_and(|a| a.resolved_at(now_ms));
            if resolved {
                cleared.push(*fp);
            }
            !resolved
        });
    }

    /// When [`State::flush`] next has something to do.
    pub fn next_flush_ms(&self) -> Option<i64> {
        self.dispatcher.next_flush_ms()
    }

    /// Flushes the groups that are due now.
    pub fn flush(&mut self, notify: &mut dyn FnMut(Notification)) {
        let now = self.now_ms();
        self.clear_resolved_acknowledgements(now);
        let muter = StateMuter {
            inhibitor: Inhibitor::new(&self.config.inhibit_rules, self.alerts.iter(), now),
            silences: &self.silences,
            acknowledgements: &self.acknowledgements,
        };
        self.dispatcher.flush_due(now, &muter, notify);
    }

    /// Applies a new configuration: groups are rebuilt from the stored
    /// alerts (what was notified is remembered).
    pub fn reload(&mut self, config: AlertmanagerConfig) {
        let now = self.now_ms();
        self.config = Arc::new(config);
        self.dispatcher.reload(Arc::clone(&self.config));
        // Resolved alerts too: one resolved since the last flush must still
        // be notified as resolved (Alertmanager's new dispatcher is handed
        // every stored alert).
        for alert in self.alerts.iter() {
            self.dispatcher.insert(alert, now);
        }
    }

    /// Drops resolved alerts, old silences and old notification-log
    /// entries (Alertmanager does this every 30 minutes and 15 minutes).
    pub fn gc(&mut self) -> Result<(), crate::NotifyError> {
        let now = self.now_ms();
        self.clear_resolved_acknowledgements(now);
        self.alerts.gc(now);
        // An acknowledged alert that is gone altogether (it resolved while
        // agentmon was down, say) has nothing left to acknowledge.
        let alerts = &self.alerts;
        let cleared = &mut self.cleared;
        self.acknowledgements.retain(|fp, _| {
            let present = alerts.get(*fp).is_some();
            if !present {
                cleared.push(*fp);
            }
            present
        });
        self.silences.gc(now)?;
        self.dispatcher.gc_log(now, LOG_RETENTION_MS);
        Ok(())
    }

    /// The ids of the active silences muting these labels.
    pub fn silenced_by(&self, labels: &Labels) -> Vec<String> {
        self.silences.silenced_by(labels, self.now_ms())
    }

    /// The fingerprint of an alert inhibiting these labels.
    pub fn inhibited_by(&self, labels: &Labels) -> Option<u64> {
        self.inhibitor().inhibited_by(labels)
    }

    /// The inhibition sources as of now, to ask about many alerts.
    pub fn inhibitor(&self) -> Inhibitor<'_> {
        Inhibitor::new(
            &self.config.inhibit_rules,
            self.alerts.iter(),
            self.now_ms(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::fingerprint::fingerprint;
    use crate::matcher::{parse_matchers, Matchers};
    use crate::silence::{MemorySilenceStore, Silence};

    /// The server keeps the state under a mutex shared across tasks.
    #[test]
    fn state_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<State>();
    }

    #[test]
    fn gc_drops_resolved_alerts_and_old_silences() {
        let t0 = 1_710_504_000_000;
        let clock = Arc::new(ManualClock::new(t0));
        let config = AlertmanagerConfig::from_yaml("route: {receiver: r}\nreceivers: [{name: r}]")
            .expect("valid");
        let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("opens");
        let mut state = State::new(config, silences, clock.clone(), "");
        let labels = Labels::new([("alertname", "A")]).expect("valid");
        state.receive([Alert {
            labels: labels.clone(),
            annotations: Labels::default(),
            starts_at_ms: t0,
            ends_at_ms: Some(t0 + 1000),
            generator_url: String::new(),
        }]);
        let id = state
            .silences
            .set(
                Silence {
                    id: String::new(),
                    matchers: Matchers(parse_matchers("alertname=A").expect("parses")),
                    starts_at_ms: t0,
                    ends_at_ms: t0 + 1000,
                    updated_at_ms: 0,
                    created_by: String::new(),
                    comment: String::new(),
                },
                t0,
            )
            .expect("set");
        assert_eq!(state.silenced_by(&labels), std::slice::from_ref(&id));
        clock.advance(2000);
        state.gc().expect("gc");
        assert!(state.alerts.is_empty());
        assert!(
            state.silences.get(&id).is_some(),
            "kept for the retention time"
        );
        clock.advance(crate::silence::DEFAULT_RETENTION_MS);
        state.gc().expect("gc");
        assert!(state.silences.get(&id).is_none());
    }

    fn firing(name: &str, t0: i64, ends_at_ms: Option<i64>) -> Alert {
        Alert {
            labels: Labels::new([("alertname", name)]).expect("valid"),
            annotations: Labels::default(),
            starts_at_ms: t0,
            ends_at_ms,
            generator_url: String::new(),
        }
    }

    /// An acknowledged alert is not repeated, a non-acknowledged one is;
    /// the resolved notification still goes out and ends the
    /// acknowledgement.
    #[test]
    fn acknowledged_alerts_are_not_repeated_until_they_resolve() {
        let t0 = 1_710_504_000_000;
        let clock = Arc::new(ManualClock::new(t0));
        let config = AlertmanagerConfig::from_yaml(
            "route: {receiver: r, group_by: [alertname], group_wait: 0s, group_interval: 10s, repeat_interval: 30s}\nreceivers: [{name: r, webhook_configs: [{url: 'http://127.0.0.1:1/'}]}]",
        )
        .expect("valid");
        let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("opens");
        let mut state = State::new(config, silences, clock.clone(), "");
        let far = Some(t0 + 3_600_000);
        state.receive([firing("Acked", t0, far), firing("Other", t0, far)]);
        let flushed = |state: &mut State| {
            let mut sent = Vec::new();
            state.flush(&mut |n: Notification| {
                sent.push(
                    n.alerts
                        .iter()
                        .map(|a| {
                            format!(
                                "{}:{}",
                                a.alert.labels.get("alertname").unwrap_or(""),
                                if a.resolved { "resolved" } else { "firing" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                )
            });
            sent.sort();
            sent
        };
        assert_eq!(flushed(&mut state), ["Acked:firing", "Other:firing"]);
        let acked = fingerprint(&Labels::new([("alertname", "Acked")]).expect("valid"));
        assert_eq!(
            state.acknowledge(42, "x".into(), String::new()),
            Err(AckError::NotFound(42))
        );
        let ack = state
            .acknowledge(acked, "alice".into(), "on it".into())
            .expect("firing");
        assert_eq!(ack.at_ms, t0);
        clock.advance(40_000);
        assert_eq!(
            flushed(&mut state),
            ["Other:firing"],
            "only the other repeats"
        );
        clock.advance(40_000);
        assert_eq!(flushed(&mut state), ["Other:firing"]);
        // It resolves: the resolved notification goes out, the ack ends.
        state.receive([firing("Acked", t0, Some(clock.now_ms()))]);
        assert!(state.acknowledgement(acked).is_none());
        assert_eq!(state.take_cleared_acknowledgements(), vec![acked]);
        clock.advance(10_000);
        assert_eq!(flushed(&mut state), ["Acked:resolved"]);
        assert_eq!(
            state.acknowledge(acked, "bob".into(), String::new()),
            Err(AckError::NotFiring(acked))
        );
    }
}
