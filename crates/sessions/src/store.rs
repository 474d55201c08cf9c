//! The store: writes of event batches, session lists, timelines, retention.
//!
//! A request's events are durable once its chunks commit. The sessions'
//! rows (status, times, totals) are a view of the chunks kept in memory and
//! written many requests at once: with a request when the last flush is
//! [`FLUSH_INTERVAL`] old or [`MAX_UNFLUSHED`] sessions wait, before a list
//! or a retention run (which read the rows), and on drop. A summary or a
//! timeline of a remembered session is served from memory. After a crash,
//! [`SessionStore::open`] replays the chunks newer than the flush mark.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agentmon_model::{AgentEvent, EventKind, FastHashMap, SessionStatus};
use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;

use crate::chunk::{self, Totals};
use crate::error::{Context, SessionError};
use crate::schema;
use crate::seen::SeenIds;

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

/// One session with its events in time order; at the same millisecond
/// `session_start` comes first and `session_end` last, other ties in
/// arrival order.
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
    checkpointer: Option<Checkpointer>,
}

/// Most sessions whose state a store remembers; past it, it writes the
/// rows that lag, forgets all and reads rows again as batches need them.
const MAX_REMEMBERED: usize = 100_000;

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// The WAL size (in pages) at which a commit checkpoints by itself.
const WAL_PAGES_BEFORE_COMMIT_CHECKPOINT: i64 = 16_384;

/// How long the row of a changed session may lag its chunks.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Most sessions whose rows may lag their chunks at once.
const MAX_UNFLUSHED: usize = 20_000;

#[derive(Debug)]
struct Inner {
    connection: Connection,
    /// Sessions written or read since the store opened, as their rows hold
    /// them after the next flush (this store is the file's only writer).
    known: FastHashMap<String, Known>,
    /// How many of `known` are ahead of their rows.
    unflushed: usize,
    /// When the rows were last brought up to date.
    flushed_at: Instant,
    flush_interval: Duration,
    /// Which ids may have a row, so new sessions skip the row read.
    seen: SeenIds,
    /// The file, for building a new [`SeenIds`].
    path: PathBuf,
}

/// A session as the store remembers it.
#[derive(Debug, Clone)]
struct Known {
    agent: String,
    instance: String,
    state: State,
    /// The row's `started_ms`, or `None` if there is no row yet.
    row_started_ms: Option<i64>,
    /// Whether the row lags `state`.
    unflushed: bool,
}

/// A session's summary: status, times, totals, newest chunk.
#[derive(Debug, Clone, Copy)]
struct State {
    status: &'static str,
    started_ms: i64,
    last_seen_ms: i64,
    ended_ms: Option<i64>,
    totals: Totals,
    last_chunk: Option<i64>,
}

impl State {
    /// A session opened by an event at `at`.
    fn new(at: i64) -> State {
        State {
            status: "running",
            started_ms: at,
            last_seen_ms: at,
            ended_ms: None,
            totals: Totals::default(),
            last_chunk: None,
        }
    }

    /// One event (at `at`; `end` is the status a `session_end` asks for)
    /// changes the session, with the store's rules: a running session
    /// silent for longer than the timeout is abandoned before the next
    /// event counts; only a running session ends.
    fn replay(&mut self, at: i64, end: Option<&'static str>, totals: &Totals, timeout_ms: i64) {
        if self.status == "running" && at.saturating_sub(self.last_seen_ms) > timeout_ms {
            self.status = "abandoned";
        }
        self.started_ms = self.started_ms.min(at);
        self.last_seen_ms = self.last_seen_ms.max(at);
        self.totals.add(totals);
        if let Some(end) = end {
            if self.status == "running" {
                self.status = end;
                self.ended_ms = Some(at);
            }
        }
    }

    fn summary(&self, id: &str, agent: &str, instance: &str, cutoff_ms: i64) -> SessionSummary {
        let count = |n: i64| n.max(0) as u64;
        let totals = &self.totals;
        SessionSummary {
            session_id: id.to_owned(),
            agent: agent.to_owned(),
            instance: instance.to_owned(),
            status: if self.status == "running" && self.last_seen_ms < cutoff_ms {
                "abandoned".to_owned()
            } else {
                self.status.to_owned()
            },
            started_ms: self.started_ms,
            last_seen_ms: self.last_seen_ms,
            ended_ms: self.ended_ms,
            steps: count(totals.steps),
            tool_calls: count(totals.tool_calls),
            errors: count(totals.errors),
            // As a row holds them: SQLite integers are signed.
            prompt_tokens: count(clamp(totals.prompt_tokens)),
            completion_tokens: count(clamp(totals.completion_tokens)),
            unpriced_tokens: count(clamp(totals.unpriced_tokens)),
            cost_usd: totals.cost_usd,
        }
    }
}

/// The status a `session_end` asks for.
fn end_status(kind: &EventKind) -> Option<&'static str> {
    match kind {
        EventKind::SessionEnd { status, .. } => Some(match status {
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
        }),
        _ => None,
    }
}

/// One session's part of a batch being written.
struct Pending<'a> {
    /// The session's first event of the batch.
    first: &'a AgentEvent,
    /// Whether the session's row already lagged before the batch.
    waiting: bool,
    state: State,
    row_started_ms: Option<i64>,
    /// The batch's events of this session, as the chunk's JSON array.
    chunk: Vec<u8>,
}

const SUMMARY_COLUMNS: &str = "session_id, agent, instance, \
    CASE WHEN status = 'running' AND last_seen_ms < ?1 THEN 'abandoned' ELSE status END, \
    started_ms, last_seen_ms, ended_ms, steps, tool_calls, errors, prompt_tokens, \
    completion_tokens, unpriced_tokens, cost_usd";

impl SessionStore {
    /// Opens (creating if needed) the store at `path`, migrates its schema
    /// and brings the session rows up to their chunks (after a crash, the
    /// rows lag by the requests since the last flush).
    /// `session_timeout_ms` is `agents.session_timeout`.
    pub fn open(path: &Path, session_timeout_ms: i64) -> Result<SessionStore, SessionError> {
        let mut connection = Connection::open(path).doing("open the database file")?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .doing("switch to WAL journaling")?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .doing("set the sync mode")?;
        schema::migrate(&mut connection)?;
        replay_lagging_chunks(&mut connection, session_timeout_ms)?;
        // The WAL is copied into the file by the checkpointer's thread, off
        // the requests' path; a commit only does it if the WAL has grown
        // past this many pages (the checkpointer fell behind or failed).
        connection
            .pragma_update(
                None,
                "wal_autocheckpoint",
                WAL_PAGES_BEFORE_COMMIT_CHECKPOINT,
            )
            .doing("set the WAL size limit")?;
        let checkpointer = Checkpointer::start(path)?;
        // The rows are current (replayed above): the filter starts from them.
        let seen = SeenIds::start(path);
        Ok(SessionStore {
            checkpointer: Some(checkpointer),
            inner: Mutex::new(Inner {
                connection,
                known: FastHashMap::default(),
                unflushed: 0,
                flushed_at: Instant::now(),
                flush_interval: FLUSH_INTERVAL,
                seen,
                path: path.to_owned(),
            }),
            session_timeout_ms,
        })
    }

    /// Writes a validated batch: its events, one chunk per session, in one
    /// transaction, committed before this returns. `cost_of` gives a
    /// step's cost (the client's `cost_usd`, else computed from a price);
    /// `None` counts the step's tokens as unpriced. The sessions' rows are
    /// written with the batch when the last flush is a second old (or too
    /// many sessions wait), else they wait in memory; reads see them
    /// either way.
    pub fn append(
        &self,
        events: &[AgentEvent],
        cost_of: &dyn Fn(&EventKind) -> Option<f64>,
    ) -> Result<(), SessionError> {
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        if inner.seen.is_full() {
            // A bigger filter starts from rows that hold every session.
            inner.flush()?;
            inner.seen = SeenIds::start(&inner.path);
        }
        // Each session's state comes from memory, or its row read once; the
        // events replay on a copy, in the batch's order, and go into one
        // chunk per session. Memory changes only once the batch commits.
        let mut batch: Vec<Pending<'_>> = Vec::new();
        let mut slots: FastHashMap<&str, usize> = FastHashMap::default();
        for event in events {
            let id = event.session_id.as_str();
            let slot = match slots.get(id) {
                Some(slot) => *slot,
                None => {
                    let (before, waiting) = match inner.known.get(id) {
                        Some(known) => (Some((known.state, known.row_started_ms)), known.unflushed),
                        None => {
                            // Most ids not remembered are new: the filter
                            // spares them the row read.
                            let row = if inner.seen.may_hold(id) {
                                inner.load(id)?
                            } else {
                                None
                            };
                            if row.is_none() {
                                inner.seen.note(id);
                            }
                            (row, false)
                        }
                    };
                    let (state, row_started_ms) =
                        before.unwrap_or((State::new(event.timestamp_ms), None));
                    batch.push(Pending {
                        first: event,
                        waiting,
                        state,
                        row_started_ms,
                        chunk: vec![b'['],
                    });
                    slots.insert(id, batch.len() - 1);
                    batch.len() - 1
                }
            };
            let pending = &mut batch[slot];
            let totals = chunk::push_event(&mut pending.chunk, event, cost_of(&event.kind));
            pending.state.replay(
                event.timestamp_ms,
                end_status(&event.kind),
                &totals,
                self.session_timeout_ms,
            );
        }
        let newly_unflushed = batch.iter().filter(|p| !p.waiting).count();
        let too_many = inner.known.len().saturating_add(batch.len()) > MAX_REMEMBERED;
        let flush = too_many
            || inner.unflushed.saturating_add(newly_unflushed) >= MAX_UNFLUSHED
            || inner.flushed_at.elapsed() >= inner.flush_interval;
        let Inner {
            connection, known, ..
        } = &mut *inner;
        let transaction = connection.transaction().doing("begin a write")?;
        {
            let mut insert_chunk = transaction
                .prepare_cached(
                    "INSERT INTO event_chunks (session_id, prev, events, agent, instance) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .doing("prepare a chunk insert")?;
            for pending in &mut batch {
                pending.chunk.push(b']');
                // A session's first chunk names its agent and instance.
                let origin = pending.state.last_chunk.is_none();
                let first = pending.first;
                insert_chunk
                    .execute(params![
                        first.session_id,
                        pending.state.last_chunk,
                        ToSqlOutput::Borrowed(ValueRef::Text(&pending.chunk)),
                        origin.then_some(first.agent.as_str()),
                        origin.then_some(first.instance.as_str()),
                    ])
                    .doing("insert an event chunk")?;
                pending.state.last_chunk = Some(transaction.last_insert_rowid());
            }
        }
        if flush {
            for pending in &batch {
                let first = pending.first;
                let (agent, instance) = match known.get(first.session_id.as_str()) {
                    Some(known) => (known.agent.as_str(), known.instance.as_str()),
                    None => (first.agent.as_str(), first.instance.as_str()),
                };
                write_row(
                    &transaction,
                    &first.session_id,
                    agent,
                    instance,
                    &pending.state,
                    pending.row_started_ms,
                )?;
            }
            for (id, session) in known.iter() {
                if session.unflushed && !slots.contains_key(id.as_str()) {
                    session.write(&transaction, id)?;
                }
            }
            mark_flushed(&transaction)?;
        }
        transaction.commit().doing("commit the events")?;
        if flush {
            inner.flushed();
            if too_many {
                // Everything is written: the batch's sessions are read
                // back from their rows when next needed.
                inner.known.clear();
                return Ok(());
            }
        }
        let Inner {
            known, unflushed, ..
        } = &mut *inner;
        for pending in batch {
            let first = pending.first;
            let row_started_ms = if flush {
                Some(pending.state.started_ms)
            } else {
                pending.row_started_ms
            };
            match known.get_mut(first.session_id.as_str()) {
                Some(session) => {
                    if !flush && !session.unflushed {
                        *unflushed += 1;
                    }
                    session.state = pending.state;
                    session.row_started_ms = row_started_ms;
                    session.unflushed = !flush;
                }
                None => {
                    if !flush {
                        *unflushed += 1;
                    }
                    known.insert(
                        first.session_id.clone(),
                        Known {
                            agent: first.agent.clone(),
                            instance: first.instance.clone(),
                            state: pending.state,
                            row_started_ms,
                            unflushed: !flush,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Writes the rows of the sessions whose rows lag their chunks (the
    /// server calls it on shutdown; reads and retention call it first).
    pub fn flush(&self) -> Result<(), SessionError> {
        self.inner.lock().flush()
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
        let mut inner = self.inner.lock();
        // The rows are the list's index: they must hold every session.
        inner.flush()?;
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
        Ok(self
            .inner
            .lock()
            .summary(session_id, self.abandon_cutoff(now_ms))?
            .map(|(summary, _)| summary))
    }

    /// One session's timeline, or `None` if the id is unknown.
    pub fn timeline(
        &self,
        session_id: &str,
        now_ms: i64,
    ) -> Result<Option<Timeline>, SessionError> {
        let inner = self.inner.lock();
        let Some((session, last_chunk)) = inner.summary(session_id, self.abandon_cutoff(now_ms))?
        else {
            return Ok(None);
        };
        // The chunks, newest first, by their links to the previous one.
        let mut statement = inner
            .connection
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
        // Chunks come in arrival order; a stable sort keeps it for ties. A
        // session's start and end bracket what happened in the same
        // millisecond, whichever request brought them (spans of one run
        // are often exported before its root).
        events.sort_by_key(|entry| {
            let rank = match entry.event_type.as_str() {
                "session_start" => 0,
                "session_end" => 2,
                _ => 1,
            };
            (entry.timestamp_ms, rank)
        });
        Ok(Some(Timeline { session, events }))
    }

    /// Deletes sessions whose last event is before `cutoff_ms`, with their
    /// events, in one transaction; returns how many sessions went.
    pub fn delete_before(&self, cutoff_ms: i64) -> Result<usize, SessionError> {
        let mut inner = self.inner.lock();
        // Deletion picks sessions by their rows, which must be current.
        inner.flush()?;
        let Inner {
            connection, known, ..
        } = &mut *inner;
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
        // Chunk ids may now be reused below the mark; every row is current,
        // so the mark comes down to the newest chunk left.
        mark_flushed(&transaction)?;
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

impl Drop for SessionStore {
    /// Ends the id filter's build, writes the rows that lag (should that
    /// fail, the next open replays their chunks), then stops the
    /// checkpointer.
    fn drop(&mut self) {
        // The filter's build must not outlive this store's connection.
        self.inner.get_mut().seen.stop();
        let _ = self.inner.get_mut().flush();
        drop(self.checkpointer.take());
    }
}

/// A thread with its own connection that runs a passive WAL checkpoint
/// every [`CHECKPOINT_INTERVAL`]: it copies committed pages into the
/// database file while the writer goes on appending, so no request's
/// commit pays for the copy. It stops when dropped.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, SessionError> {
        let connection = Connection::open(path).doing("open the checkpointer's connection")?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("session-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    // A failed or partial checkpoint is retried next time;
                    // the writer's own limit bounds the WAL meanwhile.
                    let _ = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|source| SessionError::Thread { source })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Inner {
    /// Reads a session's row into memory: its state and `started_ms`, or
    /// `None` if there is no row.
    fn load(&mut self, id: &str) -> Result<Option<(State, Option<i64>)>, SessionError> {
        let Some((agent, instance, state)) = read_row(&self.connection, id)? else {
            return Ok(None);
        };
        self.known.insert(
            id.to_owned(),
            Known {
                agent,
                instance,
                state,
                row_started_ms: Some(state.started_ms),
                unflushed: false,
            },
        );
        Ok(Some((state, Some(state.started_ms))))
    }

    /// A session's summary (from memory if it is known, else its row) and
    /// its newest chunk.
    fn summary(
        &self,
        id: &str,
        cutoff_ms: i64,
    ) -> Result<Option<(SessionSummary, Option<i64>)>, SessionError> {
        if let Some(known) = self.known.get(id) {
            let summary = known
                .state
                .summary(id, &known.agent, &known.instance, cutoff_ms);
            return Ok(Some((summary, known.state.last_chunk)));
        }
        Ok(
            read_row(&self.connection, id)?.map(|(agent, instance, state)| {
                (
                    state.summary(id, &agent, &instance, cutoff_ms),
                    state.last_chunk,
                )
            }),
        )
    }

    /// Writes every row that lags its chunks, in one transaction.
    fn flush(&mut self) -> Result<(), SessionError> {
        if self.unflushed == 0 {
            self.flushed_at = Instant::now();
            return Ok(());
        }
        let transaction = self
            .connection
            .transaction()
            .doing("begin a session flush")?;
        for (id, known) in &self.known {
            if known.unflushed {
                known.write(&transaction, id)?;
            }
        }
        mark_flushed(&transaction)?;
        transaction.commit().doing("commit a session flush")?;
        self.flushed();
        Ok(())
    }

    /// After a commit that wrote every lagging row.
    fn flushed(&mut self) {
        if self.unflushed > 0 {
            for known in self.known.values_mut() {
                if known.unflushed {
                    known.unflushed = false;
                    known.row_started_ms = Some(known.state.started_ms);
                }
            }
        }
        self.unflushed = 0;
        self.flushed_at = Instant::now();
    }
}

impl Known {
    fn write(&self, transaction: &Transaction<'_>, id: &str) -> Result<(), SessionError> {
        write_row(
            transaction,
            id,
            &self.agent,
            &self.instance,
            &self.state,
            self.row_started_ms,
        )
    }
}

/// A session's row: agent, instance and state; `None` if there is none.
fn read_row(
    connection: &Connection,
    id: &str,
) -> Result<Option<(String, String, State)>, SessionError> {
    connection
        .prepare_cached(
            "SELECT agent, instance, status, started_ms, last_seen_ms, ended_ms, steps, \
             tool_calls, errors, prompt_tokens, completion_tokens, unpriced_tokens, cost_usd, \
             last_chunk FROM sessions WHERE session_id = ?1",
        )
        .doing("prepare a session read")?
        .query_row([id], |row| {
            let status: String = row.get(2)?;
            let tokens =
                |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
            Ok((
                row.get(0)?,
                row.get(1)?,
                State {
                    status: stored_status(&status),
                    started_ms: row.get(3)?,
                    last_seen_ms: row.get(4)?,
                    ended_ms: row.get(5)?,
                    totals: Totals {
                        steps: row.get(6)?,
                        tool_calls: row.get(7)?,
                        errors: row.get(8)?,
                        prompt_tokens: tokens(9)?,
                        completion_tokens: tokens(10)?,
                        unpriced_tokens: tokens(11)?,
                        cost_usd: row.get(12)?,
                    },
                    last_chunk: row.get(13)?,
                },
            ))
        })
        .optional()
        .doing("read a session")
}

/// Writes a session's row as `state` has it: inserted if there is none
/// (`row_started_ms` is `None`), else updated; `started_ms` is indexed, so
/// it is only set when it moved.
fn write_row(
    transaction: &Transaction<'_>,
    id: &str,
    agent: &str,
    instance: &str,
    state: &State,
    row_started_ms: Option<i64>,
) -> Result<(), SessionError> {
    let totals = &state.totals;
    // One parameter list, numbered as the insert's columns; an update
    // leaves ?2 (agent) and ?3 (instance) unused.
    let values = params![
        id,
        agent,
        instance,
        state.started_ms,
        state.last_seen_ms,
        state.status,
        state.ended_ms,
        totals.steps,
        totals.tool_calls,
        totals.errors,
        clamp(totals.prompt_tokens),
        clamp(totals.completion_tokens),
        clamp(totals.unpriced_tokens),
        totals.cost_usd,
        state.last_chunk,
    ];
    let Some(row_started_ms) = row_started_ms else {
        transaction
            .prepare_cached(
                "INSERT INTO sessions (session_id, agent, instance, started_ms, \
                 last_seen_ms, status, ended_ms, steps, tool_calls, errors, \
                 prompt_tokens, completion_tokens, unpriced_tokens, cost_usd, last_chunk) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .doing("prepare a session insert")?
            .execute(values)
            .doing("open a session")?;
        return Ok(());
    };
    let sql = if state.started_ms != row_started_ms {
        "UPDATE sessions SET started_ms = ?4, last_seen_ms = ?5, status = ?6, ended_ms = ?7, \
         steps = ?8, tool_calls = ?9, errors = ?10, prompt_tokens = ?11, \
         completion_tokens = ?12, unpriced_tokens = ?13, cost_usd = ?14, last_chunk = ?15 \
         WHERE session_id = ?1"
    } else {
        "UPDATE sessions SET last_seen_ms = ?5, status = ?6, ended_ms = ?7, \
         steps = ?8, tool_calls = ?9, errors = ?10, prompt_tokens = ?11, \
         completion_tokens = ?12, unpriced_tokens = ?13, cost_usd = ?14, last_chunk = ?15 \
         WHERE session_id = ?1 AND started_ms = ?4"
    };
    let updated = transaction
        .prepare_cached(sql)
        .doing("prepare a session update")?
        .execute(values)
        .doing("update a session")?;
    if updated != 1 {
        return Err(SessionError::RowChanged {
            session_id: id.to_owned(),
        });
    }
    Ok(())
}

/// Records that every row reflects every chunk written so far.
fn mark_flushed(transaction: &Transaction<'_>) -> Result<(), SessionError> {
    transaction
        .prepare_cached(
            "UPDATE summaries_flushed \
             SET through_chunk = (SELECT COALESCE(MAX(id), 0) FROM event_chunks)",
        )
        .doing("prepare the flush mark")?
        .execute([])
        .doing("mark the session rows flushed")?;
    Ok(())
}

/// Replays the chunks newer than the flush mark onto their sessions' rows
/// (the rows of a store that stopped without flushing lag them), in one
/// transaction. Returns how many sessions it brought up to date.
fn replay_lagging_chunks(
    connection: &mut Connection,
    timeout_ms: i64,
) -> Result<usize, SessionError> {
    let transaction = connection.transaction().doing("begin the session replay")?;
    let through: i64 = transaction
        .query_row("SELECT through_chunk FROM summaries_flushed", [], |row| {
            row.get(0)
        })
        .doing("read the flush mark")?;
    // Session id → agent, instance, state, the row's `started_ms`.
    let mut sessions: HashMap<String, (String, String, State, Option<i64>)> = HashMap::new();
    {
        let mut chunks = transaction
            .prepare(
                "SELECT id, session_id, agent, instance, events FROM event_chunks \
                 WHERE id > ?1 ORDER BY id",
            )
            .doing("prepare the session replay")?;
        let mut rows = chunks.query([through]).doing("read the lagging chunks")?;
        while let Some(row) = rows.next().doing("read a lagging chunk")? {
            let chunk_id: i64 = row.get(0).doing("read a chunk id")?;
            let session_id: String = row.get(1).doing("read a chunk's session")?;
            let text: String = row.get(4).doing("read a chunk's events")?;
            let bad = |reason: String| SessionError::BadChunk {
                session_id: session_id.clone(),
                reason: format!("chunk {chunk_id}: {reason}"),
            };
            let entries = chunk::read(&text).map_err(|e| bad(e.to_string()))?;
            let session = match sessions.entry(session_id.clone()) {
                Entry::Occupied(slot) => slot.into_mut(),
                Entry::Vacant(slot) => match read_row(&transaction, &session_id)? {
                    Some((agent, instance, state)) => {
                        slot.insert((agent, instance, state, Some(state.started_ms)))
                    }
                    None => {
                        let agent: Option<String> = row.get(2).doing("read a chunk's agent")?;
                        let instance: Option<String> =
                            row.get(3).doing("read a chunk's instance")?;
                        let (Some(agent), Some(instance), Some(first)) =
                            (agent, instance, entries.first())
                        else {
                            return Err(bad(
                                "the session has no row and this, its oldest chunk left, \
                                 names no agent and instance"
                                    .into(),
                            ));
                        };
                        slot.insert((agent, instance, State::new(first.timestamp_ms), None))
                    }
                },
            };
            let state = &mut session.2;
            if state.last_chunk.is_some_and(|last| last >= chunk_id) {
                continue;
            }
            for entry in &entries {
                let (end, totals) = chunk::effect(entry).map_err(bad)?;
                state.replay(entry.timestamp_ms, end, &totals, timeout_ms);
            }
            state.last_chunk = Some(chunk_id);
        }
    }
    for (id, (agent, instance, state, row_started_ms)) in &sessions {
        write_row(&transaction, id, agent, instance, state, *row_started_ms)?;
    }
    mark_flushed(&transaction)?;
    transaction.commit().doing("commit the session replay")?;
    Ok(sessions.len())
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
