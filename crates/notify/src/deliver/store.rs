//! The SQLite file behind the queue (`notifications.sqlite`), one row per
//! delivery (one notification through one integration). The format is
//! described in `crates/notify/docs/delivery-queue.md`. Synchronous, one
//! connection behind a mutex: the worker calls it from the blocking pool.
//!
//! Rows move `pending` → `sending` (claimed by a worker) → `sent`,
//! `failed`, `expired`, or back to `pending` with a later
//! `next_attempt_at_ms`. A newer delivery for the same receiver,
//! integration and group replaces a `pending` one (`superseded`): only the
//! latest state of a group matters, as in Alertmanager. A group with a row
//! in `sending` gets no second claim, so one group's notifications reach a
//! receiver in order. Rows left in `sending` by a crash are pending again
//! at the next open (so a crash mid-request may send that request twice:
//! delivery is at least once).

use std::path::Path;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::error::{DeliverError, Doing};
use crate::receivers::{DeliveryRequest, IntegrationKind, PreparedDelivery};
use crate::secrets::SecretKey;

/// The queue's file name in the data directory.
pub const FILE_NAME: &str = "notifications.sqlite";

/// The schema's migrations: version 1 is the only one so far.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver           TEXT NOT NULL,
    integration        TEXT NOT NULL,
    integration_index  INTEGER NOT NULL,
    group_key          TEXT NOT NULL,
    target             TEXT NOT NULL,
    firing             INTEGER NOT NULL,
    resolved           INTEGER NOT NULL,
    payload            BLOB NOT NULL,
    status             TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    created_at_ms      INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    last_attempt_at_ms INTEGER,
    finished_at_ms     INTEGER,
    response_code      INTEGER,
    last_error         TEXT
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at_ms);
CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX deliveries_group ON deliveries (receiver, integration, integration_index, group_key, status);
";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a worker, request under way.
    Sending,
    Sent,
    /// Refused by the receiver in a way retrying cannot fix (a 4xx).
    Failed,
    /// Not sent within the maximum age.
    Expired,
    /// Replaced by a newer notification of the same group before it went out.
    Superseded,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Expired,
        DeliveryStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A claimed delivery, ready to send.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub integration: IntegrationKind,
    pub receiver: String,
    pub group_key: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at_ms: i64,
    pub request: DeliveryRequest,
}

/// A stored delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    pub integration: IntegrationKind,
    /// How many pending deliveries of the same group it replaced.
    pub superseded: usize,
}

/// How an attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub status: DeliveryStatus,
    /// For `pending`: when to try again.
    pub next_attempt_at_ms: Option<i64>,
    pub response_code: Option<u16>,
    pub error: Option<String>,
}

/// The queue's database.
pub struct DeliveryStore {
    connection: Mutex<Connection>,
    key: SecretKey,
}

/// How a write's commit reaches the disk (SQLite's `synchronous`, WAL mode).
#[derive(Clone, Copy)]
enum Durability {
    /// `FULL`: synced before the commit returns. Enqueueing uses it: a
    /// queued delivery must survive the machine going down, since the
    /// notification log that follows will not notify the group again.
    Synced,
    /// `NORMAL`: in the WAL, synced by the next `FULL` commit or
    /// checkpoint. Claims and attempt records use it: if the machine (not
    /// just the process) loses one, the delivery is pending again after
    /// the restart and is sent again; at least once, never lost. This keeps
    /// one disk sync instead of three on the way from a group's flush to
    /// its webhook, which matters on a busy disk.
    Relaxed,
}

/// Sets the connection's `synchronous` for the writes that follow; each
/// write path sets the level it needs.
fn set_synchronous(connection: &Connection, durability: Durability) -> Result<(), DeliverError> {
    let level = match durability {
        Durability::Synced => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    connection
        .pragma_update(None, "synchronous", level)
        .doing("set the synchronous level")
}

/// The columns that name a group's deliveries to one integration.
const SAME_GROUP: &str = "o.receiver = d.receiver AND o.integration = d.integration \
     AND o.integration_index = d.integration_index AND o.group_key = d.group_key";

impl DeliveryStore {
    /// Opens (creating if needed) the database at `path`; payloads are
    /// sealed with `key`. Rows a crash left in `sending` become pending.
    pub fn open(path: &Path, key: SecretKey) -> Result<DeliveryStore, DeliverError> {
        let mut connection = agentmon_sqlite::open(
            path,
            &[("journal_mode", "WAL"), ("synchronous", "FULL")],
            MIGRATIONS,
        )?;
        let transaction = connection.transaction().doing("begin opening")?;
        check_key(&transaction, &key)?;
        transaction
            .execute(
                "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'",
                [],
            )
            .doing("release deliveries claimed before a restart")?;
        // A released row may now share its group with a newer pending one.
        let sql = format!(
            "UPDATE deliveries AS d SET status = 'superseded', finished_at_ms = next_attempt_at_ms
             WHERE d.status = 'pending' AND EXISTS (
                 SELECT 1 FROM deliveries o WHERE o.status = 'pending' AND {SAME_GROUP} AND o.id > d.id)"
        );
        transaction
            .execute(&sql, [])
            .doing("supersede released deliveries")?;
        transaction.commit().doing("commit opening")?;
        Ok(DeliveryStore {
            connection: Mutex::new(connection),
            key,
        })
    }

    /// Stores deliveries as pending, due at once, superseding pending
    /// deliveries of the same groups.
    pub fn enqueue(
        &self,
        deliveries: &[PreparedDelivery],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, DeliverError> {
        let mut sealed = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let json =
                serde_json::to_vec(&delivery.request).map_err(|e| DeliverError::Payload {
                    id: 0,
                    reason: e.to_string(),
                })?;
            sealed.push(self.key.seal(&json).map_err(DeliverError::Seal)?);
        }
        let mut connection = self.connection.lock();
        set_synchronous(&connection, Durability::Synced)?;
        let transaction = connection.transaction().doing("begin enqueueing")?;
        let mut ids = Vec::with_capacity(deliveries.len());
        for (delivery, payload) in deliveries.iter().zip(sealed) {
            transaction
                .execute(
                    "INSERT INTO deliveries (receiver, integration, integration_index, group_key,
                         target, firing, resolved, payload, status, created_at_ms, next_attempt_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9)",
                    params![
                        delivery.receiver,
                        delivery.integration.as_str(),
                        delivery.integration_index,
                        delivery.group_key,
                        delivery.target,
                        delivery.firing,
                        delivery.resolved,
                        payload,
                        now_ms
                    ],
                )
                .doing("insert a delivery")?;
            let id = transaction.last_insert_rowid();
            let superseded = transaction
                .execute(
                    "UPDATE deliveries SET status = 'superseded', finished_at_ms = ?2,
                         last_error = 'superseded by delivery ' || ?1
                     WHERE status = 'pending' AND id < ?1 AND receiver = ?3 AND integration = ?4
                       AND integration_index = ?5 AND group_key = ?6",
                    params![
                        id,
                        now_ms,
                        delivery.receiver,
                        delivery.integration.as_str(),
                        delivery.integration_index,
                        delivery.group_key
                    ],
                )
                .doing("supersede older deliveries")?;
            ids.push(Enqueued {
                id,
                integration: delivery.integration,
                superseded,
            });
        }
        transaction.commit().doing("commit the deliveries")?;
        Ok(ids)
    }

    /// Claims up to `limit` due deliveries (oldest due first), at most one
    /// per group and none of a group that has one under way.
    pub fn claim_due(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, DeliverError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.lock();
        set_synchronous(&connection, Durability::Relaxed)?;
        let transaction = connection.transaction().doing("begin claiming")?;
        let rows = select_due(&transaction, now_ms, limit)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for (id, integration, receiver, group_key, attempts, created_at_ms, payload) in rows {
            let (integration, request) = match self.decode(id, &integration, &payload) {
                Ok(pair) => pair,
                Err(error) => {
                    // A damaged row cannot be sent; it must not stop the
                    // others either.
                    tracing::error!(%error, delivery = id, "dropping an unreadable delivery");
                    transaction
                        .execute(
                            "UPDATE deliveries SET status = 'failed', finished_at_ms = ?2,
                                 last_error = ?3 WHERE id = ?1",
                            params![id, now_ms, error.to_string()],
                        )
                        .doing("fail an unreadable delivery")?;
                    continue;
                }
            };
            transaction
                .execute(
                    "UPDATE deliveries SET status = 'sending' WHERE id = ?1",
                    [id],
                )
                .doing("claim a delivery")?;
            claimed.push(ClaimedDelivery {
                id,
                integration,
                receiver,
                group_key,
                attempts,
                created_at_ms,
                request,
            });
        }
        transaction.commit().doing("commit the claims")?;
        Ok(claimed)
    }

    fn decode(
        &self,
        id: i64,
        integration: &str,
        payload: &[u8],
    ) -> Result<(IntegrationKind, DeliveryRequest), DeliverError> {
        let integration = IntegrationKind::parse(integration).ok_or(DeliverError::Unknown {
            what: "integration",
            value: integration.to_owned(),
        })?;
        let json = self
            .key
            .open(payload)
            .map_err(|source| DeliverError::Sealed { id, source })?;
        let request = serde_json::from_slice(&json).map_err(|e| DeliverError::Payload {
            id,
            reason: e.to_string(),
        })?;
        Ok((integration, request))
    }

    /// Records how an attempt (or a decision without one, like expiry)
    /// ended. `attempted`: whether a request was made.
    pub fn record(
        &self,
        id: i64,
        attempted: bool,
        record: &AttemptRecord,
        now_ms: i64,
    ) -> Result<(), DeliverError> {
        let finished = match record.status {
            DeliveryStatus::Pending | DeliveryStatus::Sending => None,
            _ => Some(now_ms),
        };
        let connection = self.connection.lock();
        set_synchronous(&connection, Durability::Relaxed)?;
        connection
            .execute(
                "UPDATE deliveries SET status = ?2,
                     attempts = attempts + ?3,
                     last_attempt_at_ms = CASE WHEN ?3 = 1 THEN ?4 ELSE last_attempt_at_ms END,
                     next_attempt_at_ms = COALESCE(?5, next_attempt_at_ms),
                     finished_at_ms = ?6,
                     response_code = CASE WHEN ?3 = 1 THEN ?7 ELSE response_code END,
                     last_error = ?8
                 WHERE id = ?1",
                params![
                    id,
                    record.status.as_str(),
                    i64::from(attempted),
                    now_ms,
                    record.next_attempt_at_ms,
                    finished,
                    record.response_code,
                    record.error
                ],
            )
            .doing("record an attempt")?;
        Ok(())
    }

    /// When the earliest pending delivery is due, if any is pending.
    pub fn next_due_at(&self) -> Result<Option<i64>, DeliverError> {
        let connection = self.connection.lock();
        connection
            .query_row(
                "SELECT MIN(next_attempt_at_ms) FROM deliveries WHERE status = 'pending'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map(Option::flatten)
            .doing("find the next due delivery")
    }

    /// Deletes finished deliveries that finished before `before_ms`.
    pub fn delete_finished_before(&self, before_ms: i64) -> Result<usize, DeliverError> {
        let connection = self.connection.lock();
        connection
            .execute(
                "DELETE FROM deliveries WHERE finished_at_ms IS NOT NULL AND finished_at_ms < ?1",
                [before_ms],
            )
            .doing("delete old deliveries")
    }

    pub(crate) fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DeliverError>,
    ) -> Result<T, DeliverError> {
        f(&self.connection.lock())
    }
}

/// What the key check value seals.
const KEY_CHECK_PLAINTEXT: &[u8] = b"agentmon notification queue";

/// Refuses a key other than the one the file was written with, before
/// any delivery is touched; records the key's check value in a new file.
fn check_key(transaction: &Transaction<'_>, key: &SecretKey) -> Result<(), DeliverError> {
    let stored: Option<Vec<u8>> = transaction
        .query_row(
            "SELECT value FROM meta WHERE name = 'key_check'",
            [],
            |row| row.get(0),
        )
        .optional()
        .doing("read the key check value")?;
    match stored {
        Some(sealed) => match key.open(&sealed) {
            Ok(plain) if plain == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(DeliverError::WrongKey),
        },
        None => {
            let sealed = key.seal(KEY_CHECK_PLAINTEXT).map_err(DeliverError::Seal)?;
            transaction
                .execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
                    [sealed],
                )
                .doing("store the key check value")?;
            Ok(())
        }
    }
}

type DueRow = (i64, String, String, String, u32, i64, Vec<u8>);

fn select_due(
    transaction: &Transaction<'_>,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<DueRow>, DeliverError> {
    let sql = format!(
        "SELECT d.id, d.integration, d.receiver, d.group_key, d.attempts, d.created_at_ms, d.payload
         FROM deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at_ms <= ?1
           AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.status = 'sending' AND {SAME_GROUP})
         ORDER BY d.next_attempt_at_ms, d.id
         LIMIT ?2"
    );
    let mut statement = transaction.prepare(&sql).doing("prepare the due query")?;
    let rows = statement
        .query_map(params![now_ms, limit as i64], |row| {
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
        .doing("query due deliveries")?
        .collect::<Result<Vec<DueRow>, _>>()
        .doing("read due deliveries")?;
    Ok(rows)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
