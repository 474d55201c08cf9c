//! The SQLite schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Version 1: `sessions` (one row per session id, with running totals so a
//! list needs no aggregation) and `events` (one row per event, the event's
//! fields as JSON in `body`, ordered by `timestamp_ms` then insertion `id`).

use rusqlite::Connection;

use crate::error::{Context, SessionError};

/// The schema version this code writes.
pub const VERSION: i64 = 1;

const V1: &str = "
CREATE TABLE sessions (
    session_id        TEXT PRIMARY KEY NOT NULL,
    agent             TEXT NOT NULL,
    instance          TEXT NOT NULL,
    started_ms        INTEGER NOT NULL,
    last_seen_ms      INTEGER NOT NULL,
    ended_ms          INTEGER,
    status            TEXT NOT NULL,
    steps             INTEGER NOT NULL DEFAULT 0,
    tool_calls        INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    unpriced_tokens   INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_start ON sessions (started_ms DESC, session_id DESC);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_ms);
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    type         TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, timestamp_ms, id);
";

/// Creates the schema or migrates it to [`VERSION`], in one transaction.
pub fn migrate(connection: &mut Connection) -> Result<(), SessionError> {
    let found: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .doing("read the schema version")?;
    if found > VERSION {
        return Err(SessionError::SchemaTooNew {
            found,
            known: VERSION,
        });
    }
    if found == VERSION {
        return Ok(());
    }
    let transaction = connection
        .transaction()
        .doing("begin the schema migration")?;
    if found < 1 {
        transaction.execute_batch(V1).doing("create the schema")?;
    }
    transaction
        .pragma_update(None, "user_version", VERSION)
        .doing("write the schema version")?;
    transaction.commit().doing("commit the schema migration")
}
