//! Where silences persist: the [`SilenceStore`] seam, an in-memory store
//! for tests and embedding, and a SQLite store (one table, schema versioned
//! by `PRAGMA user_version`, as agentmon's other operator state).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::Silence;
use crate::matcher::{MatchType, Matcher, Matchers};
use crate::NotifyError;

/// Persistence of silences. `upsert` and `delete` must be durable when
/// they return.
pub trait SilenceStore: Send {
    /// Every stored silence.
    fn load_all(&mut self) -> Result<Vec<Silence>, NotifyError>;
    /// Writes a silence, replacing one with the same id.
    fn upsert(&mut self, silence: &Silence) -> Result<(), NotifyError>;
    /// Removes a silence; absent ids are not an error.
    fn delete(&mut self, id: &str) -> Result<(), NotifyError>;
}

/// Silences held in memory only.
#[derive(Debug, Default)]
pub struct MemorySilenceStore {
    silences: BTreeMap<String, Silence>,
}

impl SilenceStore for MemorySilenceStore {
    fn load_all(&mut self) -> Result<Vec<Silence>, NotifyError> {
        Ok(self.silences.values().cloned().collect())
    }

    fn upsert(&mut self, silence: &Silence) -> Result<(), NotifyError> {
        self.silences.insert(silence.id.clone(), silence.clone());
        Ok(())
    }

    fn delete(&mut self, id: &str) -> Result<(), NotifyError> {
        self.silences.remove(id);
        Ok(())
    }
}

const SCHEMA_VERSION: i64 = 1;

/// Silences in a SQLite database (e.g. `<data_dir>/agentmon.sqlite`).
pub struct SqliteSilenceStore {
    conn: Connection,
}

#[derive(Serialize, Deserialize)]
struct StoredMatcher {
    name: String,
    value: String,
    #[serde(rename = "type")]
    kind: String,
}

impl SqliteSilenceStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<SqliteSilenceStore, NotifyError> {
        SqliteSilenceStore::with_connection(Connection::open(path)?)
    }

    /// Uses an open connection, creating the table if needed.
    pub fn with_connection(conn: Connection) -> Result<SqliteSilenceStore, NotifyError> {
        let version: i64 =
            conn.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
                r.get(0)
            })?;
        // The table is created whatever the database's version, since the
        // file may be shared with other stores that set `user_version`.
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS silences (
                id TEXT PRIMARY KEY,
                matchers TEXT NOT NULL,
                starts_at_ms INTEGER NOT NULL,
                ends_at_ms INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                comment TEXT NOT NULL
            );",
        )?;
        if version == 0 {
            conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
        }
        Ok(SqliteSilenceStore { conn })
    }
}

fn encode_matchers(matchers: &Matchers) -> Result<String, NotifyError> {
    let list: Vec<StoredMatcher> = matchers
        .iter()
        .map(|m| StoredMatcher {
            name: m.name.clone(),
            value: m.value.clone(),
            kind: m.match_type.as_str().to_owned(),
        })
        .collect();
    serde_json::to_string(&list).map_err(|e| NotifyError::Store(e.to_string()))
}

fn decode_matchers(id: &str, text: &str) -> Result<Matchers, NotifyError> {
    let corrupt = |why: String| NotifyError::Store(format!("silence {id}: {why}"));
    let list: Vec<StoredMatcher> =
        serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let matchers = list
        .into_iter()
        .map(|m| {
            let match_type = match m.kind.as_str() {
                "=" => MatchType::Equal,
                "!=" => MatchType::NotEqual,
                "=~" => MatchType::Regexp,
                "!~" => MatchType::NotRegexp,
                other => return Err(corrupt(format!("unknown matcher type {other:?}"))),
            };
            Matcher::new(match_type, m.name, m.value)
        })
        .collect::<Result<Vec<_>, NotifyError>>()?;
    Ok(Matchers(matchers))
}

impl SilenceStore for SqliteSilenceStore {
    fn load_all(&mut self) -> Result<Vec<Silence>, NotifyError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment
             FROM silences ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, matchers, starts, ends, updated, created_by, comment) = row?;
            out.push(Silence {
                matchers: decode_matchers(&id, &matchers)?,
                id,
                starts_at_ms: starts,
                ends_at_ms: ends,
                updated_at_ms: updated,
                created_by,
                comment,
            });
        }
        Ok(out)
    }

    fn upsert(&mut self, s: &Silence) -> Result<(), NotifyError> {
        self.conn.execute(
            "INSERT INTO silences
                (id, matchers, starts_at_ms, ends_at_ms, updated_at_ms, created_by, comment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET matchers = excluded.matchers,
                starts_at_ms = excluded.starts_at_ms, ends_at_ms = excluded.ends_at_ms,
                updated_at_ms = excluded.updated_at_ms, created_by = excluded.created_by,
                comment = excluded.comment",
            params![
                s.id,
                encode_matchers(&s.matchers)?,
                s.starts_at_ms,
                s.ends_at_ms,
                s.updated_at_ms,
                s.created_by,
                s.comment
            ],
        )?;
        Ok(())
    }

    fn delete(&mut self, id: &str) -> Result<(), NotifyError> {
        self.conn
            .execute("DELETE FROM silences WHERE id = ?1", params![id])?;
        Ok(())
    }
}
