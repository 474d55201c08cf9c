//! The store: writes of event batches, session lists, timelines, retention.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::Path;

use agentmon_model::{AgentEvent, EventKind, SessionStatus};
use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use crate::chunk::{self, Totals};
use crate::error::{Context, SessionError};
use crate::schema;

/// The most sessions one page may hold.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The status filter of a session list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatusFilter {
    Running,
    Completed,
    Failed,
    Abandoned,
}

impl SessionStatusFilter {
    /// Parses `running`, `completed`, `failed` or `abandoned`.
    pub fn parse(text: &str) -> Option<SessionStatusFilter> {
        match text {
            "running" => Some(SessionStatusFilter::Running),
            "completed" => Some(SessionStatusFilter::Completed),
            "failed" => Some(SessionStatusFilter::Failed),
            "abandoned" => Some(SessionStatusFilter::Abandoned),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SessionStatusFilter::Running => "running",
            SessionStatusFilter::Completed => "completed",
            SessionStatusFilter::Failed => "failed",
            SessionStatusFilter::Abandoned => "abandoned",
        }
    }
}

/// Which sessions to list. Times are milliseconds since the epoch; a
/// session matches a time range if it was active in it (started by `end`,
/// last event at or after `start`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    pub agent: Option<String>,
    pub status: Option<SessionStatusFilter>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// At most [`MAX_PAGE_SIZE`]; larger values are clamped.
    pub limit: usize,
    pub offset: usize,
}

/// One session as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub session_id: String,
    pub agent: String,
    pub instance: String,
    /// `running`, `completed`, `failed` or `abandoned`.
    pub status: String,
    pub started_ms: i64,
    pub last_seen_ms: i64,
    pub ended_ms: Option<i64>,
    pub steps: u64,
    pub tool_calls: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Tokens of steps with neither `cost_usd` nor a known price.
    pub unpriced_tokens: u64,
    pub cost_usd: f64,
}

/// A page of sessions, newest start first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub sessions: Vec<SessionSummary>,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<usize>,
}

/// One event of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub timestamp_ms: i64,
    /// The event's `type` on the wire.
    pub event_type: String,
    /// The type-specific fields, as JSON (a step also has its `cost_usd`:
    /// the client's, or computed, or null when unpriced).
    pub body: Value,
}

/// One session with its events in time order (ties in arrival order).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub session: SessionSummary,
    pub events: Vec<TimelineEntry>,
}

/// The SQLite session store. Every method blocks; share it in an `Arc`.
#[derive(Debug)]
pub struct SessionStore {
    inner: Mutex<Inner>,
    session_timeout_ms: i64,
}

/// Most sessions whose state a store remembers; past it, it forgets all
/// and reads rows again as batches need them.
const MAX_REMEMBERED: usize = 100_000;

#[derive(Debug)]
struct Inner {
    connection: Connection,
    /// The status and last event time of sessions written since the store
    /// opened, as their rows hold them after the last commit, so a batch
    /// need not read the rows back (this store is the file's only writer).
    known: HashMap<String, Remembered>,
}

#[derive(Debug, Clone, Copy)]
struct Remembered {
    status: &'static str,
    last_seen_ms: i64,
    started_ms: i64,
    /// The id of the session's newest chunk.
    last_chunk: Option<i64>,
}

const SUMMARY_COLUMNS: &str = "session_id, agent, instance, \
    CASE WHEN status = 'running' AND last_seen_ms < ?1 THEN 'abandoned' ELSE status END, \
    started_ms, last_seen_ms, ended_ms, steps, tool_calls, errors, prompt_tokens, \
    completion_tokens, unpriced_tokens, cost_usd";

impl SessionStore {
    /// Opens (creating if needed) the store at `path` and migrates its
    /// schema. `session_timeout_ms` is `agents.session_timeout`.
    pub fn open(path: &Path, session_timeout_ms: i64) -> Result<SessionStore, SessionError> {
        let mut connection = Connection::open(path).doing("open the database file")?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .doing("switch to WAL journaling")?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .doing("set the sync mode")?;
        schema::migrate(&mut connection)?;
        Ok(SessionStore {
            inner: Mutex::new(Inner {
                connection,
                known: HashMap::new(),
            }),
            session_timeout_ms,
        })
    }

    /// Writes a validated batch in one transaction. `cost_of` gives a
    /// step's cost (the client's `cost_usd`, else computed from a price);
    /// `None` counts the step's tokens as unpriced.
    pub fn append(
        &self,
        events: &[AgentEvent],
        cost_of: &dyn Fn(&EventKind) -> Option<f64>,
    ) -> Result<(), SessionError> {
        let mut inner = self.inner.lock();
        let Inner { connection, known } = &mut *inner;
        let transaction = connection.transaction().doing("begin a write")?;
        // Each session's row is read once (or not at all when its status
        // and last event time are remembered) and written once per batch;
        // the events replay on the copy in memory, in the batch's order,
        // and go into one chunk per session.
        let mut sessions: HashMap<&str, SessionRow> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        {
            let mut read = transaction
                .prepare_cached(
                    "SELECT status, last_seen_ms, started_ms, last_chunk FROM sessions \
                     WHERE session_id = ?1",
                )
                .doing("prepare a session read")?;
            for event in events {
                let id = event.session_id.as_str();
                let row = match sessions.entry(id) {
                    Entry::Occupied(slot) => slot.into_mut(),
                    Entry::Vacant(slot) => {
                        let before = match known.get(id) {
                            Some(remembered) => Some(*remembered),
                            None => read
                                .query_row([id], |row| {
                                    let status: String = row.get(0)?;
                                    Ok(Remembered {
                                        status: stored_status(&status),
                                        last_seen_ms: row.get(1)?,
                                        started_ms: row.get(2)?,
                                        last_chunk: row.get(3)?,
                                    })
                                })
                                .optional()
                                .doing("read a session")?,
                        };
                        order.push(id);
                        slot.insert(SessionRow::new(event, before))
                    }
                };
                let totals = chunk::push_event(&mut row.chunk, event, cost_of(&event.kind));
                row.replay(event, &totals, self.session_timeout_ms);
            }
        }
        {
            let mut insert_chunk = transaction
                .prepare_cached(
                    "INSERT INTO event_chunks (session_id, prev, events) VALUES (?1, ?2, ?3)",
                )
                .doing("prepare a chunk insert")?;
            for id in &order {
                if let Some(row) = sessions.get_mut(id) {
                    row.chunk.push(b']');
                    insert_chunk
                        .execute(params![
                            id,
                            row.last_chunk,
                            ToSqlOutput::Borrowed(ValueRef::Text(&row.chunk))
                        ])
                        .doing("insert an event chunk")?;
                    row.last_chunk = Some(transaction.last_insert_rowid());
                    row.write(&transaction, id)?;
                }
            }
        }
        transaction.commit().doing("commit the events")?;
        if known.len().saturating_add(order.len()) > MAX_REMEMBERED {
            known.clear();
        }
        for id in order {
            if let Some(row) = sessions.get(id) {
                let now = Remembered {
                    status: row.status,
                    last_seen_ms: row.last_seen_ms,
                    started_ms: row.started_ms(),
                    last_chunk: row.last_chunk,
                };
                match known.get_mut(id) {
                    Some(slot) => *slot = now,
                    None => {
                        known.insert(id.to_owned(), now);
                    }
                }
            }
        }
        Ok(())
    }

    /// A page of sessions matching `query`, newest start first; `now_ms`
    /// decides which running sessions are abandoned.
    pub fn list(&self, query: &SessionQuery, now_ms: i64) -> Result<SessionPage, SessionError> {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM sessions \
             WHERE (?2 IS NULL OR agent = ?2) \
             AND (?3 IS NULL OR (CASE WHEN status = 'running' AND last_seen_ms < ?1 \
                  THEN 'abandoned' ELSE status END) = ?3) \
             AND (?4 IS NULL OR last_seen_ms >= ?4) \
             AND (?5 IS NULL OR started_ms <= ?5) \
             ORDER BY started_ms DESC, session_id DESC LIMIT ?6 OFFSET ?7"
        );
        let inner = self.inner.lock();
        let mut statement = inner
            .connection
            .prepare_cached(&sql)
            .doing("prepare a list")?;
        let rows = statement
            .query_map(
                params![
                    self.abandon_cutoff(now_ms),
                    query.agent,
                    query.status.map(SessionStatusFilter::as_str),
                    query.start_ms,
                    query.end_ms,
                    (limit + 1) as i64,
                    i64::try_from(query.offset).unwrap_or(i64::MAX),
                ],
                summary_of_row,
            )
            .doing("list sessions")?;
        let mut sessions = rows
            .collect::<Result<Vec<_>, _>>()
            .doing("read a session row")?;
        let next_offset = (sessions.len() > limit).then(|| query.offset + limit);
        sessions.truncate(limit);
        Ok(SessionPage {
            sessions,
            next_offset,
        })
    }

    /// One session's summary (status and totals) without its events, or
    /// `None` if the id is unknown.
    pub fn summary(
        &self,
        session_id: &str,
        now_ms: i64,
    ) -> Result<Option<SessionSummary>, SessionError> {
        self.inner
            .lock()
            .connection
            .query_row(
                &format!("SELECT {SUMMARY_COLUMNS} FROM sessions WHERE session_id = ?2"),
                params![self.abandon_cutoff(now_ms), session_id],
                summary_of_row,
            )
            .optional()
            .doing("read a session")
    }

    /// One session's timeline, or `None` if the id is unknown.
    pub fn timeline(
        &self,
        session_id: &str,
        now_ms: i64,
    ) -> Result<Option<Timeline>, SessionError> {
        let inner = self.inner.lock();
        let connection = &inner.connection;
        let session = connection
            .query_row(
                &format!("SELECT {SUMMARY_COLUMNS} FROM sessions WHERE session_id = ?2"),
                params![self.abandon_cutoff(now_ms), session_id],
                summary_of_row,
            )
            .optional()
            .doing("read a session")?;
        let Some(session) = session else {
            return Ok(None);
        };
        let last_chunk: Option<i64> = connection
            .query_row(
                "SELECT last_chunk FROM sessions WHERE session_id = ?1",
                [session_id],
                |row| row.get(0),
            )
            .doing("read a session's newest chunk")?;
        // The chunks, newest first, by their links to the previous one.
        let mut statement = connection
            .prepare_cached("SELECT prev, events FROM event_chunks WHERE id = ?1")
            .doing("prepare a timeline")?;
        let bad = |reason: String| SessionError::BadChunk {
            session_id: session_id.to_owned(),
            reason,
        };
        let mut chunks: Vec<Vec<TimelineEntry>> = Vec::new();
        let mut next = last_chunk;
        while let Some(id) = next {
            let (prev, text): (Option<i64>, String) = statement
                .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .doing("read an event chunk")?
                .ok_or_else(|| bad(format!("chunk {id} is missing")))?;
            // Links point to older chunks only, so the walk ends.
            if prev.is_some_and(|prev| prev >= id) {
                return Err(bad(format!("chunk {id} links forward")));
            }
            chunks.push(chunk::read(&text).map_err(|e| bad(format!("chunk {id}: {e}")))?);
            next = prev;
        }
        let mut events: Vec<TimelineEntry> = chunks.into_iter().rev().flatten().collect();
        // Chunks come in arrival order; a stable sort keeps it for ties.
        events.sort_by_key(|entry| entry.timestamp_ms);
        Ok(Some(Timeline { session, events }))
    }

    /// Deletes sessions whose last event is before `cutoff_ms`, with their
    /// events, in one transaction; returns how many sessions went.
    pub fn delete_before(&self, cutoff_ms: i64) -> Result<usize, SessionError> {
        let mut inner = self.inner.lock();
        let Inner { connection, known } = &mut *inner;
        let transaction = connection.transaction().doing("begin a retention run")?;
        transaction
            .execute(
                "WITH RECURSIVE chain(id) AS ( \
                   SELECT last_chunk FROM sessions \
                   WHERE last_seen_ms < ?1 AND last_chunk IS NOT NULL \
                   UNION ALL \
                   SELECT c.prev FROM event_chunks AS c JOIN chain ON c.id = chain.id \
                   WHERE c.prev IS NOT NULL) \
                 DELETE FROM event_chunks WHERE id IN (SELECT id FROM chain)",
                [cutoff_ms],
            )
            .doing("delete old events")?;
        let deleted = transaction
            .execute("DELETE FROM sessions WHERE last_seen_ms < ?1", [cutoff_ms])
            .doing("delete old sessions")?;
        transaction.commit().doing("commit a retention run")?;
        if deleted > 0 {
            known.clear();
        }
        Ok(deleted)
    }

    fn abandon_cutoff(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.session_timeout_ms)
    }
}

/// One session's row as a batch changes it: read once, replayed event by
/// event in memory (with the rules the store keeps: a running session
/// silent for longer than the timeout is abandoned before the next event
/// counts; only a running session ends), written once.
struct SessionRow {
    /// The row's `started_ms` before the batch, if it existed.
    stored_start_ms: Option<i64>,
    agent: String,
    instance: String,
    status: &'static str,
    /// Whether `status` changed in this batch.
    status_changed: bool,
    ended_ms: Option<i64>,
    first_ms: i64,
    last_seen_ms: i64,
    added: Totals,
    /// The batch's events of this session, as the chunk's JSON array.
    chunk: Vec<u8>,
    /// The session's newest chunk: before the batch's is written, then it.
    last_chunk: Option<i64>,
}

impl SessionRow {
    fn new(event: &AgentEvent, stored: Option<Remembered>) -> SessionRow {
        let (status, last_seen_ms) = match stored {
            Some(stored) => (stored.status, stored.last_seen_ms),
            None => ("running", event.timestamp_ms),
        };
        SessionRow {
            stored_start_ms: stored.map(|stored| stored.started_ms),
            last_chunk: stored.and_then(|stored| stored.last_chunk),
            agent: event.agent.clone(),
            instance: event.instance.clone(),
            status,
            status_changed: false,
            ended_ms: None,
            first_ms: event.timestamp_ms,
            last_seen_ms,
            added: Totals::default(),
            chunk: vec![b'['],
        }
    }

    fn replay(&mut self, event: &AgentEvent, totals: &Totals, timeout_ms: i64) {
        let at = event.timestamp_ms;
        if self.status == "running" && at.saturating_sub(self.last_seen_ms) > timeout_ms {
            self.set_status("abandoned");
        }
        self.first_ms = self.first_ms.min(at);
        self.last_seen_ms = self.last_seen_ms.max(at);
        self.added.add(totals);
        if let EventKind::SessionEnd { status, .. } = &event.kind {
            if self.status == "running" {
                self.set_status(match status {
                    SessionStatus::Completed => "completed",
                    SessionStatus::Failed => "failed",
                });
                self.ended_ms = Some(at);
            }
        }
    }

    /// `started_ms` as the row holds it after the batch.
    fn started_ms(&self) -> i64 {
        self.stored_start_ms
            .map_or(self.first_ms, |stored| stored.min(self.first_ms))
    }

    fn set_status(&mut self, status: &'static str) {
        self.status = status;
        self.status_changed = true;
    }

    fn write(&self, transaction: &Transaction<'_>, id: &str) -> Result<(), SessionError> {
        let totals = &self.added;
        let Some(stored_start_ms) = self.stored_start_ms else {
            transaction
                .prepare_cached(
                    "INSERT INTO sessions (session_id, agent, instance, started_ms, \
                     last_seen_ms, status, ended_ms, steps, tool_calls, errors, \
                     prompt_tokens, completion_tokens, unpriced_tokens, cost_usd, last_chunk) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .doing("prepare a session insert")?
                .execute(params![
                    id,
                    self.agent,
                    self.instance,
                    self.first_ms,
                    self.last_seen_ms,
                    self.status,
                    self.ended_ms,
                    totals.steps,
                    totals.tool_calls,
                    totals.errors,
                    clamp(totals.prompt_tokens),
                    clamp(totals.completion_tokens),
                    clamp(totals.unpriced_tokens),
                    totals.cost_usd,
                    self.last_chunk,
                ])
                .doing("open a session")?;
            return Ok(());
        };
        // `started_ms` is indexed: it is only set when it moves, which an
        // event older than the session's first does.
        let sql = if self.first_ms < stored_start_ms {
            "UPDATE sessions SET started_ms = ?2, last_seen_ms = ?3, \
             status = CASE WHEN ?4 THEN ?5 ELSE status END, \
             ended_ms = COALESCE(?6, ended_ms), \
             steps = steps + ?7, tool_calls = tool_calls + ?8, errors = errors + ?9, \
             prompt_tokens = prompt_tokens + ?10, \
             completion_tokens = completion_tokens + ?11, \
             unpriced_tokens = unpriced_tokens + ?12, cost_usd = cost_usd + ?13, \
             last_chunk = ?14 WHERE session_id = ?1"
        } else {
            "UPDATE sessions SET last_seen_ms = ?3, \
             status = CASE WHEN ?4 THEN ?5 ELSE status END, \
             ended_ms = COALESCE(?6, ended_ms), \
             steps = steps + ?7, tool_calls = tool_calls + ?8, errors = errors + ?9, \
             prompt_tokens = prompt_tokens + ?10, \
             completion_tokens = completion_tokens + ?11, \
             unpriced_tokens = unpriced_tokens + ?12, cost_usd = cost_usd + ?13, \
             last_chunk = ?14 WHERE session_id = ?1 AND started_ms <= ?2"
        };
        let updated = transaction
            .prepare_cached(sql)
            .doing("prepare a session update")?
            .execute(params![
                id,
                self.first_ms,
                self.last_seen_ms,
                self.status_changed,
                self.status,
                self.ended_ms,
                totals.steps,
                totals.tool_calls,
                totals.errors,
                clamp(totals.prompt_tokens),
                clamp(totals.completion_tokens),
                clamp(totals.unpriced_tokens),
                totals.cost_usd,
                self.last_chunk,
            ])
            .doing("update a session")?;
        if updated != 1 {
            return Err(SessionError::RowChanged {
                session_id: id.to_owned(),
            });
        }
        Ok(())
    }
}
/// A stored status as the store's own constant.
fn stored_status(text: &str) -> &'static str {
    match text {
        "completed" => "completed",
        "failed" => "failed",
        "abandoned" => "abandoned",
        _ => "running",
    }
}

/// SQLite integers are signed 64-bit.
fn clamp(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn summary_of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionSummary> {
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
    Ok(SessionSummary {
        session_id: row.get(0)?,
        agent: row.get(1)?,
        instance: row.get(2)?,
        status: row.get(3)?,
        started_ms: row.get(4)?,
        last_seen_ms: row.get(5)?,
        ended_ms: row.get(6)?,
        steps: count(7)?,
        tool_calls: count(8)?,
        errors: count(9)?,
        prompt_tokens: count(10)?,
        completion_tokens: count(11)?,
        unpriced_tokens: count(12)?,
        cost_usd: row.get(13)?,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
