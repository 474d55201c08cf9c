//! The store: writes of event batches, session lists, timelines, retention.

use std::path::Path;

use agentmon_model::{AgentEvent, EventKind, SessionStatus, ToolStatus};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Value};

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
    connection: Mutex<Connection>,
    session_timeout_ms: i64,
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
            connection: Mutex::new(connection),
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
        let mut connection = self.connection.lock();
        let transaction = connection.transaction().doing("begin a write")?;
        for event in events {
            self.append_one(&transaction, event, cost_of(&event.kind))?;
        }
        transaction.commit().doing("commit the events")
    }

    fn append_one(
        &self,
        transaction: &Transaction<'_>,
        event: &AgentEvent,
        cost: Option<f64>,
    ) -> Result<(), SessionError> {
        let at = event.timestamp_ms;
        let known: Option<(String, i64)> = transaction
            .query_row(
                "SELECT status, last_seen_ms FROM sessions WHERE session_id = ?1",
                [&event.session_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .doing("read a session")?;
        match known {
            None => {
                transaction
                    .execute(
                        "INSERT INTO sessions (session_id, agent, instance, started_ms, \
                         last_seen_ms, status) VALUES (?1, ?2, ?3, ?4, ?4, 'running')",
                        params![event.session_id, event.agent, event.instance, at],
                    )
                    .doing("open a session")?;
            }
            Some((status, last_seen)) => {
                let silent_too_long = at.saturating_sub(last_seen) > self.session_timeout_ms;
                if status == "running" && silent_too_long {
                    transaction
                        .execute(
                            "UPDATE sessions SET status = 'abandoned' WHERE session_id = ?1",
                            [&event.session_id],
                        )
                        .doing("abandon a session")?;
                }
                transaction
                    .execute(
                        "UPDATE sessions SET started_ms = MIN(started_ms, ?2), \
                         last_seen_ms = MAX(last_seen_ms, ?2) WHERE session_id = ?1",
                        params![event.session_id, at],
                    )
                    .doing("touch a session")?;
            }
        }
        let (body, totals) = describe(&event.kind, cost);
        transaction
            .execute(
                "UPDATE sessions SET steps = steps + ?2, tool_calls = tool_calls + ?3, \
                 errors = errors + ?4, prompt_tokens = prompt_tokens + ?5, \
                 completion_tokens = completion_tokens + ?6, \
                 unpriced_tokens = unpriced_tokens + ?7, cost_usd = cost_usd + ?8 \
                 WHERE session_id = ?1",
                params![
                    event.session_id,
                    totals.steps,
                    totals.tool_calls,
                    totals.errors,
                    clamp(totals.prompt_tokens),
                    clamp(totals.completion_tokens),
                    clamp(totals.unpriced_tokens),
                    totals.cost_usd,
                ],
            )
            .doing("add to a session's totals")?;
        if let EventKind::SessionEnd { status, .. } = &event.kind {
            let status = match status {
                SessionStatus::Completed => "completed",
                SessionStatus::Failed => "failed",
            };
            transaction
                .execute(
                    "UPDATE sessions SET status = ?2, ended_ms = ?3 \
                     WHERE session_id = ?1 AND status = 'running'",
                    params![event.session_id, status, at],
                )
                .doing("end a session")?;
        }
        transaction
            .execute(
                "INSERT INTO events (session_id, timestamp_ms, type, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    event.session_id,
                    at,
                    event.kind.type_name(),
                    body.to_string()
                ],
            )
            .doing("insert an event")?;
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
        let connection = self.connection.lock();
        let mut statement = connection.prepare_cached(&sql).doing("prepare a list")?;
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

    /// One session's timeline, or `None` if the id is unknown.
    pub fn timeline(
        &self,
        session_id: &str,
        now_ms: i64,
    ) -> Result<Option<Timeline>, SessionError> {
        let connection = self.connection.lock();
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
        let mut statement = connection
            .prepare_cached(
                "SELECT timestamp_ms, type, body FROM events WHERE session_id = ?1 \
                 ORDER BY timestamp_ms, id",
            )
            .doing("prepare a timeline")?;
        let rows = statement
            .query_map([session_id], |row| {
                let body: String = row.get(2)?;
                Ok(TimelineEntry {
                    timestamp_ms: row.get(0)?,
                    event_type: row.get(1)?,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                })
            })
            .doing("read a timeline")?;
        let events = rows
            .collect::<Result<Vec<_>, _>>()
            .doing("read an event row")?;
        Ok(Some(Timeline { session, events }))
    }

    /// Deletes sessions whose last event is before `cutoff_ms`, with their
    /// events, in one transaction; returns how many sessions went.
    pub fn delete_before(&self, cutoff_ms: i64) -> Result<usize, SessionError> {
        let mut connection = self.connection.lock();
        let transaction = connection.transaction().doing("begin a retention run")?;
        transaction
            .execute(
                "DELETE FROM events WHERE session_id IN \
                 (SELECT session_id FROM sessions WHERE last_seen_ms < ?1)",
                [cutoff_ms],
            )
            .doing("delete old events")?;
        let deleted = transaction
            .execute("DELETE FROM sessions WHERE last_seen_ms < ?1", [cutoff_ms])
            .doing("delete old sessions")?;
        transaction.commit().doing("commit a retention run")?;
        Ok(deleted)
    }

    fn abandon_cutoff(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.session_timeout_ms)
    }
}

/// What one event adds to its session's totals.
#[derive(Default)]
struct Totals {
    steps: i64,
    tool_calls: i64,
    errors: i64,
    prompt_tokens: u64,
    completion_tokens: u64,
    unpriced_tokens: u64,
    cost_usd: f64,
}

/// The event's fields as stored, and what it adds to the totals.
fn describe(kind: &EventKind, cost: Option<f64>) -> (Value, Totals) {
    let mut totals = Totals::default();
    let body = match kind {
        EventKind::SessionStart { attributes } => json!({ "attributes": attributes }),
        EventKind::Step {
            model,
            provider,
            step_type,
            duration_seconds,
            prompt_tokens,
            completion_tokens,
            cost_usd,
        } => {
            totals.steps = 1;
            totals.prompt_tokens = *prompt_tokens;
            totals.completion_tokens = *completion_tokens;
            match cost {
                Some(cost) => totals.cost_usd = cost,
                None => totals.unpriced_tokens = prompt_tokens.saturating_add(*completion_tokens),
            }
            json!({
                "model": model,
                "provider": provider,
                "step_type": step_type,
                "duration_seconds": duration_seconds,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost,
                "cost_source": match (cost_usd, cost) {
                    (Some(_), _) => "client",
                    (None, Some(_)) => "price_table",
                    (None, None) => "unpriced",
                },
            })
        }
        EventKind::ToolCall {
            tool_name,
            status,
            duration_seconds,
            error,
        } => {
            totals.tool_calls = 1;
            if *status != ToolStatus::Success {
                totals.errors = 1;
            }
            json!({
                "tool_name": tool_name,
                "status": status.as_str(),
                "duration_seconds": duration_seconds,
                "error": error,
            })
        }
        EventKind::LlmError {
            model,
            error,
            error_type,
        } => {
            totals.errors = 1;
            json!({ "model": model, "error": error, "error_type": error_type.as_str() })
        }
        EventKind::Log { level, message } => {
            json!({ "level": level.as_str(), "message": message })
        }
        EventKind::SessionEnd { status, output } => {
            json!({ "status": status.as_str(), "output": output })
        }
    };
    (body, totals)
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
