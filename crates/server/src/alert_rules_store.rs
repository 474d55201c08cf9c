//! The SQLite store of API-made alert rules and of acknowledgements:
//! `alert_rules.sqlite` in the data directory.
//!
//! Two tables, versioned by `PRAGMA user_version` (version 1):
//! `alert_rules` (one row per rule: its name, preset type or free
//! condition, threshold, `for` in milliseconds, severity, the webhook URL
//! sealed with the data directory's `secret.key`, the receiver name, extra
//! labels as JSON, creation time, enabled) and `acknowledgements` (alert
//! fingerprint as 16 hex digits, who, when in milliseconds, comment).
//! A preset's expression is not stored: it is compiled again at start, so
//! a change of `agents.namespace` applies to it.
//!
//! Synchronous, one connection behind a mutex: call it from the blocking
//! pool.

use std::collections::BTreeMap;
use std::path::Path;

use agentmon_notify::secrets::{Secret, SecretKey};
use parking_lot::Mutex;
use rusqlite::{params, Connection};

/// The store's file name in the data directory.
pub const FILE_NAME: &str = "alert_rules.sqlite";

/// The schema's migrations: version 1 is the only one so far.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE alert_rules (
    name          TEXT PRIMARY KEY NOT NULL,
    preset_type   TEXT,
    condition     TEXT,
    threshold     REAL,
    hold_ms       INTEGER NOT NULL,
    severity      TEXT NOT NULL,
    webhook       TEXT,
    notification  TEXT,
    labels        TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    enabled       INTEGER NOT NULL
);
CREATE TABLE acknowledgements (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    by          TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    comment     TEXT NOT NULL
);
";

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("alert rule store: cannot {doing}: {source}")]
    Sqlite {
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("alert rule store: {0}")]
    Open(#[from] agentmon_sqlite::OpenError),
    #[error("alert rule store: {0}")]
    Corrupt(String),
    #[error("an alert rule named {0:?} exists already")]
    Duplicate(String),
}

trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { doing, source })
    }
}

/// One rule as stored (the webhook URL opened).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    pub name: String,
    /// The preset type's name; `None` for a free condition.
    pub preset_type: Option<String>,
    /// The free PromQL condition; `None` for a preset.
    pub condition: Option<String>,
    pub threshold: Option<f64>,
    pub hold_ms: u64,
    pub severity: String,
    pub webhook: Option<Secret>,
    pub notification: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub enabled: bool,
}

/// One stored acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAck {
    pub fingerprint: u64,
    pub by: String,
    pub at_ms: i64,
    pub comment: String,
}

/// The rules and acknowledgements made through the API.
pub struct AlertRuleStore {
    connection: Mutex<Connection>,
    key: SecretKey,
}

impl AlertRuleStore {
    /// Opens (creating if needed) the store at `path`; webhook URLs are
    /// sealed with `key`.
    pub fn open(path: &Path, key: SecretKey) -> Result<AlertRuleStore, StoreError> {
        let connection = agentmon_sqlite::open(path, &[], MIGRATIONS)?;
        Ok(AlertRuleStore {
            connection: Mutex::new(connection),
            key,
        })
    }

    /// Every stored rule, by name.
    pub fn rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        let connection = self.connection.lock();
        let mut statement = connection
            .prepare(
                "SELECT name, preset_type, condition, threshold, hold_ms, severity, webhook, \
                 notification, labels, created_at_ms, enabled FROM alert_rules ORDER BY name",
            )
            .doing("prepare the rule query")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<f64>>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, String>(8)?,
                    row.get::<_, i64>(9)?,
                    row.get::<_, bool>(10)?,
                ))
            })
            .doing("read the rules")?;
        let mut rules = Vec::new();
        for row in rows {
            let (
                name,
                preset_type,
                condition,
                threshold,
                hold_ms,
                severity,
                webhook,
                notification,
                labels,
                created_at_ms,
                enabled,
            ) = row.doing("read a rule")?;
            let webhook = match webhook {
                Some(sealed) => Some(self.key.open_text(&sealed).map_err(|e| {
                    StoreError::Corrupt(format!("rule {name:?}: cannot open its webhook URL: {e}"))
                })?),
                None => None,
            };
            let labels = serde_json::from_str(&labels)
                .map_err(|e| StoreError::Corrupt(format!("rule {name:?}: labels: {e}")))?;
            rules.push(StoredRule {
                name,
                preset_type,
                condition,
                threshold,
                hold_ms: u64::try_from(hold_ms).unwrap_or(0),
                severity,
                webhook,
                notification,
                labels,
                created_at_ms,
                enabled,
            });
        }
        Ok(rules)
    }

    /// Stores a new rule; [`StoreError::Duplicate`] if the name is taken.
    pub fn insert(&self, rule: &StoredRule) -> Result<(), StoreError> {
        let webhook =
            match &rule.webhook {
                Some(url) => Some(self.key.seal_text(url).map_err(|e| {
                    StoreError::Corrupt(format!("cannot seal the webhook URL: {e}"))
                })?),
                None => None,
            };
        let labels = serde_json::to_string(&rule.labels)
            .map_err(|e| StoreError::Corrupt(format!("labels: {e}")))?;
        let inserted = self.connection.lock().execute(
            "INSERT INTO alert_rules (name, preset_type, condition, threshold, hold_ms, severity, \
             webhook, notification, labels, created_at_ms, enabled) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                rule.name,
                rule.preset_type,
                rule.condition,
                rule.threshold,
                i64::try_from(rule.hold_ms).unwrap_or(i64::MAX),
                rule.severity,
                webhook,
                rule.notification,
                labels,
                rule.created_at_ms,
                rule.enabled,
            ],
        );
        if !agentmon_sqlite::inserted(inserted).doing("insert the rule")? {
            return Err(StoreError::Duplicate(rule.name.clone()));
        }
        Ok(())
    }

    /// Deletes a rule; whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self
            .connection
            .lock()
            .execute("DELETE FROM alert_rules WHERE name = ?1", params![name])
            .doing("delete the rule")?;
        Ok(deleted > 0)
    }

    /// Every stored acknowledgement.
    pub fn acknowledgements(&self) -> Result<Vec<StoredAck>, StoreError> {
        let connection = self.connection.lock();
        let mut statement = connection
            .prepare("SELECT fingerprint, by, at_ms, comment FROM acknowledgements")
            .doing("prepare the acknowledgement query")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .doing("read the acknowledgements")?;
        let mut acks = Vec::new();
        for row in rows {
            let (fingerprint, by, at_ms, comment) = row.doing("read an acknowledgement")?;
            let fingerprint = u64::from_str_radix(&fingerprint, 16).map_err(|_| {
                StoreError::Corrupt(format!(
                    "acknowledgement of {fingerprint:?}: not a fingerprint"
                ))
            })?;
            acks.push(StoredAck {
                fingerprint,
                by,
                at_ms,
                comment,
            });
        }
        Ok(acks)
    }

    /// Stores (or replaces) an acknowledgement.
    pub fn put_acknowledgement(&self, ack: &StoredAck) -> Result<(), StoreError> {
        self.connection
            .lock()
            .execute(
                "INSERT OR REPLACE INTO acknowledgements (fingerprint, by, at_ms, comment) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    format!("{:016x}", ack.fingerprint),
                    ack.by,
                    ack.at_ms,
                    ack.comment
                ],
            )
            .doing("store the acknowledgement")?;
        Ok(())
    }

    /// Deletes the acknowledgements of these fingerprints.
    pub fn delete_acknowledgements(&self, fingerprints: &[u64]) -> Result<(), StoreError> {
        let mut connection = self.connection.lock();
        let transaction = connection.transaction().doing("begin a transaction")?;
        for fp in fingerprints {
            transaction
                .execute(
                    "DELETE FROM acknowledgements WHERE fingerprint = ?1",
                    params![format!("{fp:016x}")],
                )
                .doing("delete an acknowledgement")?;
        }
        transaction.commit().doing("commit the deletions")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str) -> StoredRule {
        StoredRule {
            name: name.to_owned(),
            preset_type: Some("low_balance".to_owned()),
            condition: None,
            threshold: Some(100.0),
            hold_ms: 60_000,
            severity: "warning".to_owned(),
            webhook: Some(Secret::new("http://127.0.0.1:9/hook?token=s3cret")),
            notification: None,
            labels: BTreeMap::from([("team".to_owned(), "ops".to_owned())]),
            created_at_ms: 1_700_000_000_000,
            enabled: true,
        }
    }

    #[test]
    fn rules_and_acks_survive_reopening_and_urls_are_sealed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let key = SecretKey::from_bytes([7; 32]);
        {
            let store = AlertRuleStore::open(&path, key.clone()).expect("opens");
            store.insert(&rule("a")).expect("inserted");
            assert!(matches!(
                store.insert(&rule("a")),
                Err(StoreError::Duplicate(_))
            ));
            store
                .put_acknowledgement(&StoredAck {
                    fingerprint: 0xdead_beef,
                    by: "alice".to_owned(),
                    at_ms: 5,
                    comment: "on it".to_owned(),
                })
                .expect("stored");
        }
        let raw = std::fs::read(&path).expect("read");
        assert!(
            !raw.windows(6).any(|w| w == b"s3cret"),
            "the webhook URL is sealed at rest"
        );
        let store = AlertRuleStore::open(&path, key).expect("reopens");
        assert_eq!(store.rules().expect("rules"), vec![rule("a")]);
        let acks = store.acknowledgements().expect("acks");
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].fingerprint, 0xdead_beef);
        store
            .delete_acknowledgements(&[0xdead_beef])
            .expect("deleted");
        assert!(store.acknowledgements().expect("acks").is_empty());
        assert!(store.delete("a").expect("deleted"));
        assert!(!store.delete("a").expect("deleted"));
        assert!(store.rules().expect("rules").is_empty());
    }
}
