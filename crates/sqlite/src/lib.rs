//! Opening the SQLite files that hold operator state (health targets, API
//! alert rules, event webhooks, the notification delivery queue): one
//! schema version per file in `PRAGMA user_version`, the missing
//! migrations applied in one transaction, a file written by a newer
//! agentmon refused, and errors that say what was being done.

use std::path::Path;

use rusqlite::{Connection, ErrorCode};

/// Why a store file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot {doing}: {source}")]
    Sqlite {
        doing: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the file has schema version {found}, newer than this agentmon knows ({known}); \
         upgrade agentmon or move the file away"
    )]
    SchemaTooNew { found: i64, known: i64 },
}

/// Adds what was being done to a rusqlite error.
trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, OpenError>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, OpenError> {
        self.map_err(|source| OpenError::Sqlite { doing, source })
    }
}

/// Opens (creating if needed) the database at `path`, sets `pragmas`
/// (name, value) in order, then brings the schema to version
/// `migrations.len()`: `migrations[i]` is the SQL that takes version `i`
/// to `i + 1`, and those the file lacks run in one transaction with the
/// new version, so a failed migration leaves the file as it was.
pub fn open(
    path: &Path,
    pragmas: &[(&str, &str)],
    migrations: &[&str],
) -> Result<Connection, OpenError> {
    let mut connection = Connection::open(path).doing("open the database file")?;
    for (name, value) in pragmas {
        connection
            .pragma_update(None, name, value)
            .doing("set the connection's pragmas")?;
    }
    let known = migrations.len() as i64;
    let found: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .doing("read the schema version")?;
    if found > known {
        return Err(OpenError::SchemaTooNew { found, known });
    }
    if found < known {
        let transaction = connection.transaction().doing("begin the migration")?;
        for sql in &migrations[found.max(0) as usize..] {
            transaction.execute_batch(sql).doing("migrate the schema")?;
        }
        transaction
            .pragma_update(None, "user_version", known)
            .doing("set the schema version")?;
        transaction.commit().doing("commit the migration")?;
    }
    Ok(connection)
}

/// The outcome of an insert keyed by a unique name: `Ok(true)` if the row
/// went in, `Ok(false)` if a constraint refused it (the name is taken),
/// any other failure as it came.
pub fn inserted(outcome: rusqlite::Result<usize>) -> rusqlite::Result<bool> {
    match outcome {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            Ok(false)
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE t (name TEXT PRIMARY KEY NOT NULL);";
    const V2: &str = "ALTER TABLE t ADD COLUMN note TEXT;";

    fn version(connection: &Connection) -> i64 {
        connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn migrates_step_by_step_and_keeps_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let connection = open(&path, &[], &[V1]).unwrap();
        assert_eq!(version(&connection), 1);
        connection
            .execute("INSERT INTO t VALUES ('a')", [])
            .unwrap();
        let duplicate = connection.execute("INSERT INTO t VALUES ('a')", []);
        assert!(!inserted(duplicate).unwrap());
        assert!(inserted(connection.execute("INSERT INTO t VALUES ('b')", [])).unwrap());
        assert!(inserted(connection.execute("INSERT INTO missing VALUES ('c')", [])).is_err());
        drop(connection);

        let connection = open(&path, &[("journal_mode", "WAL")], &[V1, V2]).unwrap();
        assert_eq!(version(&connection), 2);
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        connection
            .execute("UPDATE t SET note = 'kept' WHERE name = 'a'", [])
            .unwrap();
        let note: String = connection
            .query_row("SELECT note FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(note, "kept");
    }

    #[test]
    fn a_failed_migration_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(open(&path, &[], &[V1]).unwrap());
        let broken = open(&path, &[], &[V1, V2, "ALTER TABLE missing ADD COLUMN x;"]);
        assert!(matches!(
            broken,
            Err(OpenError::Sqlite {
                doing: "migrate the schema",
                ..
            })
        ));
        let connection = open(&path, &[], &[V1]).unwrap();
        assert_eq!(version(&connection), 1);
        // V2 was rolled back with the rest.
        assert!(connection.execute("SELECT note FROM t", []).is_err());
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();
        let error = open(&path, &[], &[V1]).unwrap_err();
        assert!(matches!(
            error,
            OpenError::SchemaTooNew { found: 7, known: 1 }
        ));
        assert!(error.to_string().contains("newer than this agentmon knows"));
    }
}
