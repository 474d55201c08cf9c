//! Alert rules made through the API (`/api/v1/monitor/alerts*`): presets
//! and free PromQL conditions, kept in `alert_rules.sqlite`, evaluated by
//! the rule manager as the `agentmon-api` group, and routed by the
//! notification pipeline to their own webhook or receiver.
//!
//! [`AlertRules`] applies every change in one order, under one lock: the
//! new set of rules is compiled and validated (group and routes) first, so
//! nothing after the SQLite write can fail; then the row is written; then
//! the rule manager and the pipeline take the new set. A refused change
//! touches neither the database nor the running rules.
//!
//! A rule's alerts carry `agentmon_alert="<name>"`; a rule with a `webhook`
//! gets a receiver `agentmon-alert-<name>` with that URL (webhook payload
//! v4, resolved notifications sent) on a sidecar route matching the label,
//! and a rule with `notification` a sidecar route to that receiver. Sidecar
//! routes deliver in addition to the configured routing tree.
//!
//! Acknowledgements are kept here too: restored into the pipeline at
//! start, written when made, deleted when the pipeline reports them ended.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentmon_notify::config::SidecarRoute;
use agentmon_notify::secrets::{Secret, SecretKey};
use agentmon_notify::{AckError, Acknowledgement};
use agentmon_rules::presets::{self, ApiRule, PresetType, Severity, ALERT_NAME_LABEL};
use agentmon_rules::{GroupDefinition, RuleManager};

use crate::alert_rules_store::{AlertRuleStore, StoreError, StoredAck, StoredRule};
use crate::alerting::Alerting;

pub use crate::alert_rules_store::FILE_NAME;

/// The receiver name of a rule's own webhook.
pub fn webhook_receiver_name(rule: &str) -> String {
    format!("agentmon-alert-{rule}")
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertRulesError {
    /// The rule is invalid (400).
    #[error("{0}")]
    Invalid(String),
    /// The name is taken, or the alert is not firing (409).
    #[error("{0}")]
    Conflict(String),
    /// No such rule or alert (404).
    #[error("{0}")]
    NotFound(String),
    /// The store failed (500).
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for AlertRulesError {
    fn from(error: StoreError) -> AlertRulesError {
        match error {
            StoreError::Duplicate(_) => AlertRulesError::Conflict(error.to_string()),
            other => AlertRulesError::Store(other.to_string()),
        }
    }
}

/// A rule as the API shows it.
#[derive(Debug, Clone)]
pub struct AlertRule {
    pub stored: StoredRule,
    /// The expression the rule evaluates.
    pub expr: String,
}

/// The API-made rules at run time.
pub struct AlertRules {
    store: Arc<AlertRuleStore>,
    namespace: String,
    manager: Arc<RuleManager>,
    alerting: Option<Arc<Alerting>>,
    /// The rules in effect, by name; the lock serializes changes.
    rules: tokio::sync::Mutex<BTreeMap<String, AlertRule>>,
}

impl AlertRules {
    /// Opens `alert_rules.sqlite` in `data_dir` (sealing URLs with the
    /// directory's `secret.key`), compiles the stored rules for the agent
    /// `namespace`, hands them to `manager` and `alerting`, and restores
    /// the acknowledgements. A stored rule that no longer compiles fails
    /// the start with its name.
    pub async fn open(
        data_dir: &Path,
        namespace: &str,
        manager: Arc<RuleManager>,
        alerting: Option<Arc<Alerting>>,
    ) -> Result<AlertRules, AlertRulesError> {
        let data_dir = data_dir.to_owned();
        let (store, stored, acks) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&data_dir)
                .map_err(|e| AlertRulesError::Store(format!("data directory: {e}")))?;
            let key = SecretKey::load_or_create(&data_dir)
                .map_err(|e| AlertRulesError::Store(format!("secret key: {e}")))?;
            let store = AlertRuleStore::open(&data_dir.join(FILE_NAME), key)?;
            let stored = store.rules()?;
            let acks = store.acknowledgements()?;
            Ok::<_, AlertRulesError>((store, stored, acks))
        })
        .await
        .map_err(|e| AlertRulesError::Store(e.to_string()))??;
        let store = Arc::new(store);
        let mut rules = BTreeMap::new();
        for rule in stored {
            let expr = compile_stored(&rule, namespace).map_err(|e| {
                AlertRulesError::Invalid(format!("stored rule {:?}: {e}", rule.name))
            })?;
            rules.insert(rule.name.clone(), AlertRule { stored: rule, expr });
        }
        let this = AlertRules {
            store: store.clone(),
            namespace: namespace.to_owned(),
            manager,
            alerting,
            rules: tokio::sync::Mutex::new(BTreeMap::new()),
        };
        if let Some(alerting) = &this.alerting {
            alerting
                .state()
                .lock()
                .restore_acknowledgements(acks.into_iter().map(|a| {
                    (
                        a.fingerprint,
                        Acknowledgement {
                            by: a.by,
                            at_ms: a.at_ms,
                            comment: a.comment,
                        },
                    )
                }));
            let forget = store.clone();
            alerting.set_cleared_acks_hook(Arc::new(move |fingerprints: Vec<u64>| {
                if let Err(error) = forget.delete_acknowledgements(&fingerprints) {
                    tracing::error!(%error, "ended acknowledgements not deleted");
                }
            }));
        }
        // Acknowledgements are back before the rules send their alerts.
        let (group, routes) = this.prepare(&rules)?;
        this.apply(group, routes).await?;
        *this.rules.lock().await = rules;
        Ok(this)
    }

    /// The agent families' namespace presets are compiled for.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Every rule, by name.
    pub async fn list(&self) -> Vec<AlertRule> {
        self.rules.lock().await.values().cloned().collect()
    }

    /// One rule.
    pub async fn get(&self, name: &str) -> Option<AlertRule> {
        self.rules.lock().await.get(name).cloned()
    }

    /// Adds a rule (already checked by the handler for shape); see the
    /// module documentation for the order of the steps.
    pub async fn create(&self, rule: StoredRule) -> Result<AlertRule, AlertRulesError> {
        let mut rules = self.rules.lock().await;
        if rules.contains_key(&rule.name) {
            return Err(AlertRulesError::Conflict(format!(
                "an alert rule named {:?} exists already",
                rule.name
            )));
        }
        if (rule.webhook.is_some() || rule.notification.is_some()) && self.alerting.is_none() {
            return Err(AlertRulesError::Invalid(
                "webhook and notification need the notification pipeline: add an alertmanager: section to agentmon.yml".to_owned(),
            ));
        }
        let expr = compile_stored(&rule, &self.namespace)
            .map_err(|e| AlertRulesError::Invalid(e.to_string()))?;
        let created = AlertRule { stored: rule, expr };
        let mut next = rules.clone();
        next.insert(created.stored.name.clone(), created.clone());
        let (group, routes) = self.prepare(&next)?;
        let store = self.store.clone();
        let row = created.stored.clone();
        tokio::task::spawn_blocking(move || store.insert(&row))
            .await
            .map_err(|e| AlertRulesError::Store(e.to_string()))??;
        if let Err(error) = self.apply(group, routes).await {
            // Neither half: the row goes again.
            let store = self.store.clone();
            let name = created.stored.name.clone();
            let _ = tokio::task::spawn_blocking(move || store.delete(&name)).await;
            return Err(error);
        }
        *rules = next;
        Ok(created)
    }

    /// Removes a rule; [`AlertRulesError::NotFound`] if there is none.
    pub async fn delete(&self, name: &str) -> Result<(), AlertRulesError> {
        let mut rules = self.rules.lock().await;
        if !rules.contains_key(name) {
            return Err(AlertRulesError::NotFound(format!(
                "no alert rule named {name:?}"
            )));
        }
        let mut next = rules.clone();
        next.remove(name);
        let (group, routes) = self.prepare(&next)?;
        let store = self.store.clone();
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || store.delete(&owned))
            .await
            .map_err(|e| AlertRulesError::Store(e.to_string()))??;
        self.apply(group, routes).await?;
        *rules = next;
        Ok(())
    }

    /// Acknowledges the firing alert with this fingerprint and stores who
    /// and when.
    pub async fn acknowledge(
        &self,
        fingerprint: u64,
        by: String,
        comment: String,
    ) -> Result<Acknowledgement, AlertRulesError> {
        let Some(alerting) = &self.alerting else {
            return Err(AlertRulesError::NotFound(format!(
                "no alert with id {fingerprint:016x}: the notification pipeline is not configured"
            )));
        };
        let ack = alerting
            .state()
            .lock()
            .acknowledge(fingerprint, by, comment)
            .map_err(|e| match e {
                AckError::NotFound(_) => AlertRulesError::NotFound(e.to_string()),
                AckError::NotFiring(_) => AlertRulesError::Conflict(e.to_string()),
            })?;
        let store = self.store.clone();
        let row = StoredAck {
            fingerprint,
            by: ack.by.clone(),
            at_ms: ack.at_ms,
            comment: ack.comment.clone(),
        };
        tokio::task::spawn_blocking(move || store.put_acknowledgement(&row))
            .await
            .map_err(|e| AlertRulesError::Store(e.to_string()))??;
        Ok(ack)
    }

    /// The group and the sidecar routes of `rules`, validated.
    fn prepare(
        &self,
        rules: &BTreeMap<String, AlertRule>,
    ) -> Result<(Option<GroupDefinition>, Vec<SidecarRoute>), AlertRulesError> {
        let enabled: Vec<&AlertRule> = rules.values().filter(|r| r.stored.enabled).collect();
        let api_rules: Vec<ApiRule> = enabled
            .iter()
            .map(|rule| api_rule(rule))
            .collect::<Result<_, _>>()?;
        let group = presets::api_group(&api_rules, self.manager.context().expander.as_ref())
            .map_err(|e| AlertRulesError::Invalid(e.to_string()))?;
        let routes = sidecar_routes(&enabled);
        if let Some(alerting) = &self.alerting {
            alerting
                .check_sidecars(&routes)
                .map_err(AlertRulesError::Invalid)?;
        }
        Ok((group, routes))
    }

    async fn apply(
        &self,
        group: Option<GroupDefinition>,
        routes: Vec<SidecarRoute>,
    ) -> Result<(), AlertRulesError> {
        if let Some(alerting) = &self.alerting {
            // Checked in `prepare` under the same lock; a reload in between
            // could only remove a receiver, which is reported here.
            alerting
                .set_sidecars(routes)
                .map_err(AlertRulesError::Store)?;
        }
        self.manager.set_api_group(group).await;
        Ok(())
    }
}

/// The expression of a stored rule: its condition, or its preset compiled.
fn compile_stored(rule: &StoredRule, namespace: &str) -> Result<String, presets::PresetError> {
    match (&rule.preset_type, &rule.condition) {
        (Some(kind), _) => presets::compile(PresetType::parse(kind)?, rule.threshold, namespace),
        (None, Some(condition)) => {
            presets::validate_condition(condition)?;
            Ok(condition.clone())
        }
        (None, None) => Err(presets::PresetError::InvalidCondition(
            "neither a type nor a condition".to_owned(),
        )),
    }
}

fn api_rule(rule: &AlertRule) -> Result<ApiRule, AlertRulesError> {
    let invalid = |e: presets::PresetError| AlertRulesError::Invalid(e.to_string());
    Ok(ApiRule {
        name: rule.stored.name.clone(),
        expr: rule.expr.clone(),
        hold: Duration::from_millis(rule.stored.hold_ms),
        severity: Severity::parse(&rule.stored.severity).map_err(invalid)?,
        preset: rule
            .stored
            .preset_type
            .as_deref()
            .map(PresetType::parse)
            .transpose()
            .map_err(invalid)?,
        labels: rule.stored.labels.clone(),
    })
}

fn sidecar_routes(rules: &[&AlertRule]) -> Vec<SidecarRoute> {
    let mut routes = Vec::new();
    for rule in rules {
        let name = &rule.stored.name;
        if let Some(url) = &rule.stored.webhook {
            routes.push(SidecarRoute {
                label: ALERT_NAME_LABEL.to_owned(),
                value: name.clone(),
                receiver: webhook_receiver_name(name),
                webhook_url: Some(url.expose().to_owned()),
            });
        }
        if let Some(receiver) = &rule.stored.notification {
            routes.push(SidecarRoute {
                label: ALERT_NAME_LABEL.to_owned(),
                value: name.clone(),
                receiver: receiver.clone(),
                webhook_url: None,
            });
        }
    }
    routes
}

/// A webhook URL as answers show it: scheme, host and path, the rest
/// redacted (see [`agentmon_notify::secrets::redact_url`]).
pub fn shown_webhook(url: &Option<Secret>) -> Option<String> {
    url.as_ref()
        .map(|u| agentmon_notify::secrets::redact_url(u.expose()))
}
