//! The SQLite store of webhooks, `webhooks.sqlite` in the data directory.
//!
//! One table, `webhooks`: the name, the event filter (a JSON array of the
//! names as given), `enabled`, `created_at_ms`, and the sealed columns:
//! the URL (it may hold a token), the extra headers (a JSON object) and the
//! signing secret, each sealed with the data directory's `secret.key`
//! ([`SecretKey::seal`]). The schema is versioned by `PRAGMA user_version`
//! (version 1). Synchronous, one connection behind a mutex: call it from
//! the blocking pool.

use std::collections::BTreeMap;
use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection};

use super::error::{Doing, WebhookError};
use super::event::EventFilter;
use super::webhook::Webhook;
use crate::secrets::{Secret, SecretKey};

/// The store's file name in the data directory.
pub const FILE_NAME: &str = "webhooks.sqlite";

/// The schema's migrations: version 1 is the only one so far.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE webhooks (
    name           TEXT PRIMARY KEY NOT NULL,
    url_sealed     BLOB NOT NULL,
    events         TEXT NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    headers_sealed BLOB,
    secret_sealed  BLOB
);
";

/// The webhooks made through the API.
pub struct WebhookStore {
    connection: Mutex<Connection>,
    key: SecretKey,
}

impl WebhookStore {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path, key: SecretKey) -> Result<WebhookStore, WebhookError> {
        let connection = agentmon_sqlite::open(path, &[], MIGRATIONS)?;
        Ok(WebhookStore {
            connection: Mutex::new(connection),
            key,
        })
    }

    /// Every webhook, by name.
    pub fn load(&self) -> Result<Vec<Webhook>, WebhookError> {
        type Row = (
            String,
            Vec<u8>,
            String,
            bool,
            i64,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let rows: Vec<Row> = {
            let connection = self.connection.lock();
            let mut statement = connection
                .prepare(
                    "SELECT name, url_sealed, events, enabled, created_at_ms, headers_sealed, \
                     secret_sealed FROM webhooks ORDER BY name",
                )
                .doing("prepare the webhook query")?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                })
                .doing("read the webhooks")?;
            rows.collect::<Result<_, _>>().doing("read a webhook")?
        };
        rows.into_iter()
            .map(
                |(name, url, events, enabled, created_at_ms, headers, secret)| {
                    let corrupt = |what: &str| {
                        WebhookError::Invalid(format!(
                            "stored webhook {name:?} has a malformed {what}"
                        ))
                    };
                    let names: Vec<String> =
                        serde_json::from_str(&events).map_err(|_| corrupt("event filter"))?;
                    let filter = EventFilter::parse(&names)?;
                    let url = self.open_text(&name, &url)?;
                    let headers = match headers {
                        None => Vec::new(),
                        Some(sealed) => {
                            let text = self.open_text(&name, &sealed)?;
                            let map: BTreeMap<String, String> = serde_json::from_str(text.expose())
                                .map_err(|_| corrupt("header set"))?;
                            map.into_iter().map(|(n, v)| (n, Secret::new(v))).collect()
                        }
                    };
                    let secret = secret
                        .map(|sealed| self.open_text(&name, &sealed))
                        .transpose()?;
                    Ok(Webhook {
                        name,
                        url,
                        filter,
                        enabled,
                        created_at_ms,
                        headers,
                        secret,
                    })
                },
            )
            .collect()
    }

    /// Stores a new webhook; [`WebhookError::Duplicate`] if the name is
    /// taken.
    pub fn insert(&self, webhook: &Webhook) -> Result<(), WebhookError> {
        let seal = |text: &str| {
            self.key
                .seal(text.as_bytes())
                .map_err(|source| WebhookError::Secret {
                    name: webhook.name.clone(),
                    source,
                })
        };
        let url = seal(webhook.url.expose())?;
        let headers = if webhook.headers.is_empty() {
            None
        } else {
            let map: BTreeMap<&str, &str> = webhook
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.expose()))
                .collect();
            let text = serde_json::to_string(&map)
                .map_err(|e| WebhookError::Invalid(format!("headers: {e}")))?;
            Some(seal(&text)?)
        };
        let secret = webhook
            .secret
            .as_ref()
            .map(|s| seal(s.expose()))
            .transpose()?;
        let events = serde_json::to_string(webhook.filter.names())
            .map_err(|e| WebhookError::Invalid(format!("events: {e}")))?;
        let inserted = self.connection.lock().execute(
            "INSERT INTO webhooks (name, url_sealed, events, enabled, created_at_ms, \
             headers_sealed, secret_sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                webhook.name,
                url,
                events,
                webhook.enabled,
                webhook.created_at_ms,
                headers,
                secret
            ],
        );
        if !agentmon_sqlite::inserted(inserted).doing("insert a webhook")? {
            return Err(WebhookError::Duplicate(webhook.name.clone()));
        }
        Ok(())
    }

    /// Deletes a webhook; [`WebhookError::NotFound`] if there is none.
    pub fn delete(&self, name: &str) -> Result<(), WebhookError> {
        let deleted = self
            .connection
            .lock()
            .execute("DELETE FROM webhooks WHERE name = ?1", [name])
            .doing("delete a webhook")?;
        if deleted == 0 {
            return Err(WebhookError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    fn open_text(&self, name: &str, sealed: &[u8]) -> Result<Secret, WebhookError> {
        let secret_error = |source| WebhookError::Secret {
            name: name.to_owned(),
            source,
        };
        let plain = self.key.open(sealed).map_err(secret_error)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| secret_error(crate::secrets::SecretError::Malformed("not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::webhook::WebhookSpec;

    fn webhook(body: serde_json::Value) -> Webhook {
        serde_json::from_value::<WebhookSpec>(body)
            .expect("parses")
            .validate(1_000)
            .expect("valid")
    }

    #[test]
    fn webhooks_round_trip_sealed_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let key = SecretKey::generate().expect("key");
        let full = webhook(serde_json::json!({
            "name": "full",
            "url": "https://hooks.example.com/services/token-xyz",
            "events": ["job_completed", "health_changed"],
            "enabled": false,
            "headers": {"Authorization": "Bearer header-abc"},
            "secret": "signing-key-123",
        }));
        let plain = webhook(serde_json::json!({"name": "plain", "url": "http://127.0.0.1:1/"}));
        {
            let store = WebhookStore::open(&path, key.clone()).expect("open");
            store.insert(&plain).expect("insert");
            store.insert(&full).expect("insert");
            assert!(matches!(
                store.insert(&plain),
                Err(WebhookError::Duplicate(name)) if name == "plain"
            ));
        }
        let bytes = std::fs::read(&path).expect("read");
        for secret in ["token-xyz", "header-abc", "signing-key-123"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in the file in the clear"
            );
        }
        let store = WebhookStore::open(&path, key).expect("reopen");
        assert_eq!(store.load().expect("load"), vec![full, plain.clone()]);
        store.delete("full").expect("delete");
        assert!(matches!(
            store.delete("full"),
            Err(WebhookError::NotFound(_))
        ));
        assert_eq!(store.load().expect("load"), vec![plain]);
        // Another key cannot open the rows.
        drop(store);
        let other = WebhookStore::open(&path, SecretKey::generate().expect("key")).expect("open");
        assert!(matches!(other.load(), Err(WebhookError::Secret { .. })));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        Connection::open(&path)
            .expect("open")
            .pragma_update(None, "user_version", 9)
            .expect("set");
        let key = SecretKey::generate().expect("key");
        assert!(matches!(
            WebhookStore::open(&path, key),
            Err(WebhookError::Open(
                agentmon_sqlite::OpenError::SchemaTooNew { found: 9, known: 1 }
            ))
        ));
    }
}
