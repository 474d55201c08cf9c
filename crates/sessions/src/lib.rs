//! The session timeline store: every accepted agent event, kept per session
//! in SQLite (`<data_dir>/agentmon.sqlite`), for `GET /api/v1/sessions` and
//! `GET /api/v1/sessions/{id}`.
//!
//! - [`SessionStore::open`] opens or creates the file and brings the schema
//!   to the current version (`PRAGMA user_version`, see `schema.rs`).
//! - [`SessionStore::append`] writes one accepted request's events in one
//!   transaction: they land together or not at all, and are committed
//!   before it returns. A session is keyed by its `session_id` alone; its
//!   agent and instance are those of its first event. Any event opens a
//!   session, not only `session_start`. Each session's events of the
//!   request go into one row (a chunk, see `schema.rs`); the chunks are the
//!   durable log. The sessions' rows (status, times, totals) are a view of
//!   the chunks: the store keeps each session's summary in memory and
//!   writes the rows that changed about once a second, many requests at
//!   once, and [`SessionStore::flush`] (shutdown) and reads that need the
//!   rows write them first. On open, chunks newer than the last flush (a
//!   crash) are replayed onto their rows, so nothing acknowledged is lost.
//! - [`SessionStore::list`] pages through sessions, newest start first;
//!   [`SessionStore::timeline`] returns one session's events in time order
//!   with its totals of tokens and cost.
//! - [`SessionStore::delete_before`] is the retention: sessions whose last
//!   event is older than a cutoff go, with their events.
//!
//! Status: `running` until `session_end` (`completed` or `failed`). A
//! session with no event for longer than the session timeout is
//! `abandoned`, the same rule by which the derived metrics close it: this is
//! decided when reading (against the clock) and made permanent when a late
//! event arrives after the gap. Events of an abandoned or ended session are
//! still added to its timeline but do not change its status.
//!
//! The store is synchronous (one connection behind a mutex); async callers
//! use `spawn_blocking`.

mod chunk;
mod error;
mod schema;
mod seen;
mod store;

pub use error::SessionError;
pub use store::{
    SessionPage, SessionQuery, SessionStatusFilter, SessionStore, SessionSummary, Timeline,
    TimelineEntry, MAX_PAGE_SIZE,
};

/// The file name of the store in the data directory.
pub const FILE_NAME: &str = "agentmon.sqlite";
