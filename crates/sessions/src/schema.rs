//! The SQLite schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Version 1: `sessions` (one row per session id, with running totals so a
//! list needs no aggregation) and `events` (one row per event, the event's
//! fields as JSON in `body`, ordered by `timestamp_ms` then insertion `id`).
//!
//! Version 2: `events` gives way to `event_chunks`, one row per session per
//! accepted request: `events` holds that session's events of the request,
//! in arrival order, as one JSON array of `[timestamp_ms, type, body]`
//! (`body` as version 1 stored it), and `prev` is the id of the session's
//! previous chunk; `sessions.last_chunk` is its newest. A timeline walks the
//! links back, puts the chunks in arrival order and sorts their events by
//! time, ties in arrival order as version 1 did, except that
//! `session_start` comes first and `session_end` last in their millisecond.
//! The chunk table has no index but its rowid, so a request appends its
//! chunks at the end of one b-tree instead of scattering an index entry per event over the file; a
//! batch of 1,000 events spread over a few hundred sessions writes a few
//! hundred rows. Retention follows the links of the sessions it deletes.
//! The migration moves every version 1 event into a chunk of its own,
//! keeping its `id`, linked in `id` order.
//!
//! Version 3: the chunks are the durable log and the `sessions` rows a view
//! of them that may lag. A request commits its chunks; the rows of the
//! sessions it changed are written later, many requests at once (see
//! `store.rs`). `summaries_flushed.through_chunk` is the newest chunk every
//! row reflects; a session's first chunk (`prev` null) carries the
//! session's `agent` and `instance`, so a row that was never written can be
//! rebuilt from its chunks. On open, the chunks after `through_chunk` are
//! replayed onto their rows. The migration marks every existing chunk as
//! reflected.

use std::collections::HashMap;

use rusqlite::{params, Connection, Transaction};

use crate::error::{Context, SessionError};

/// The schema version this code writes.
pub const VERSION: i64 = 3;

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

const V2: &str = "
CREATE TABLE event_chunks (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    prev       INTEGER,
    events     TEXT NOT NULL
);
ALTER TABLE sessions ADD COLUMN last_chunk INTEGER;
";

const V3: &str = "
ALTER TABLE event_chunks ADD COLUMN agent TEXT;
ALTER TABLE event_chunks ADD COLUMN instance TEXT;
CREATE TABLE summaries_flushed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    through_chunk INTEGER NOT NULL
);
INSERT INTO summaries_flushed (id, through_chunk)
    SELECT 1, COALESCE(MAX(id), 0) FROM event_chunks;
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
    if found < 2 {
        transaction
            .execute_batch(V2)
            .doing("create the event chunk table")?;
        move_events_into_chunks(&transaction)?;
    }
    if found < 3 {
        transaction
            .execute_batch(V3)
            .doing("add the session summary log")?;
    }
    transaction
        .pragma_update(None, "user_version", VERSION)
        .doing("write the schema version")?;
    transaction.commit().doing("commit the schema migration")
}

/// Version 1 → 2: each row of `events` becomes a chunk of one event with
/// the same `id`, then `events` goes.
fn move_events_into_chunks(transaction: &Transaction<'_>) -> Result<(), SessionError> {
    {
        let mut read = transaction
            .prepare("SELECT id, session_id, timestamp_ms, type, body FROM events ORDER BY id")
            .doing("prepare the event migration")?;
        let mut write = transaction
            .prepare(
                "INSERT INTO event_chunks (id, session_id, prev, events) VALUES (?1, ?2, ?3, ?4)",
            )
            .doing("prepare the chunk migration")?;
        let mut link = transaction
            .prepare("UPDATE sessions SET last_chunk = ?2 WHERE session_id = ?1")
            .doing("prepare the chunk links")?;
        let mut newest: HashMap<String, i64> = HashMap::new();
        let mut rows = read.query([]).doing("read the version 1 events")?;
        let mut chunk = Vec::new();
        while let Some(row) = rows.next().doing("read a version 1 event")? {
            let id: i64 = row.get(0).doing("read a version 1 event id")?;
            let session_id: String = row.get(1).doing("read a version 1 session id")?;
            let timestamp_ms: i64 = row.get(2).doing("read a version 1 event time")?;
            let type_name: String = row.get(3).doing("read a version 1 event type")?;
            let body: String = row.get(4).doing("read a version 1 event body")?;
            chunk.clear();
            chunk.push(b'[');
            crate::chunk::push_raw_entry(&mut chunk, timestamp_ms, &type_name, &body);
            chunk.push(b']');
            let prev = newest.insert(session_id.clone(), id);
            write
                .execute(params![
                    id,
                    session_id,
                    prev,
                    String::from_utf8_lossy(&chunk)
                ])
                .doing("write a migrated chunk")?;
        }
        for (session_id, id) in &newest {
            link.execute(params![session_id, id])
                .doing("link a session to its chunks")?;
        }
    }
    transaction
        .execute_batch("DROP TABLE events;")
        .doing("drop the version 1 event table")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SessionStore;

    use super::*;

    /// A version 1 file (as the previous agentmon wrote it) opens with
    /// every event in its timeline, in the same order, and takes new
    /// events after them.
    #[test]
    fn version_1_events_move_into_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::FILE_NAME);
        {
            let connection = Connection::open(&path).unwrap();
            connection.execute_batch(V1).unwrap();
            connection
                .execute_batch(
                    "INSERT INTO sessions (session_id, agent, instance, started_ms, last_seen_ms, \
                     status) VALUES ('s', 'a', 'i', 1000, 3000, 'running');
                     INSERT INTO events (session_id, timestamp_ms, type, body) VALUES
                       ('s', 3000, 'log', '{\"level\":\"info\",\"message\":\"third\"}'),
                       ('s', 1000, 'session_start', '{\"attributes\":{}}'),
                       ('other', 1, 'log', '{\"level\":\"info\",\"message\":\"x\"}'),
                       ('s', 3000, 'log', '{\"level\":\"warn\",\"message\":\"fourth\"}');
                     PRAGMA user_version = 1;",
                )
                .unwrap();
        }
        let store = SessionStore::open(&path, 60_000).unwrap();
        let found: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(found, VERSION);
        let log = |at: i64, message: &str| agentmon_model::AgentEvent {
            session_id: "s".into(),
            agent: "a".into(),
            instance: "i".into(),
            timestamp_ms: at,
            kind: agentmon_model::EventKind::Log {
                level: agentmon_model::LogLevel::Info,
                message: message.into(),
            },
        };
        store
            .append(&[log(3000, "fifth"), log(2000, "second")], &|_| None)
            .unwrap();
        let timeline = store.timeline("s", 3000).unwrap().unwrap();
        let bodies: Vec<_> = timeline
            .events
            .iter()
            .map(|e| (e.timestamp_ms, e.body.get("message").cloned()))
            .collect();
        assert_eq!(
            bodies,
            vec![
                (1000, None),
                (2000, Some(json!("second"))),
                (3000, Some(json!("third"))),
                (3000, Some(json!("fourth"))),
                (3000, Some(json!("fifth"))),
            ]
        );
        assert_eq!(timeline.events[0].body, json!({"attributes": {}}));
        assert_eq!(timeline.events[0].event_type, "session_start");
        let tables: i64 = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }
}
