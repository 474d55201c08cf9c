//! The SQLite store of targets made through the API.
//!
//! One table, `health_targets` (service name, endpoint, interval and
//! timeout in milliseconds, expected status), in its own file in the data
//! directory; the schema is versioned by `PRAGMA user_version` (version 1).
//! Synchronous, one connection behind a mutex: call it from the blocking
//! pool.

use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{params, Connection};

use crate::error::{Context, ProbeError};
use crate::target::{HealthTarget, TargetOrigin, TargetSpec};

/// The store's file name in the data directory.
pub const FILE_NAME: &str = "health_targets.sqlite";

/// The schema's migrations: version 1 is the only one so far.
const MIGRATIONS: &[&str] = &[V1];

const V1: &str = "
CREATE TABLE health_targets (
    service_name    TEXT PRIMARY KEY NOT NULL,
    endpoint        TEXT NOT NULL,
    interval_ms     INTEGER NOT NULL,
    timeout_ms      INTEGER NOT NULL,
    expected_status INTEGER NOT NULL
);
";

/// Targets made through the API.
pub struct TargetStore {
    connection: Mutex<Connection>,
}

impl TargetStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<TargetStore, ProbeError> {
        let connection = agentmon_sqlite::open(path, &[], MIGRATIONS)?;
        Ok(TargetStore {
            connection: Mutex::new(connection),
        })
    }

    /// Every stored target, by service name. A row that no longer
    /// validates is an error: the file was edited by hand.
    pub fn load(&self) -> Result<Vec<HealthTarget>, ProbeError> {
        let connection = self.connection.lock();
        let mut statement = connection
            .prepare(
                "SELECT service_name, endpoint, interval_ms, timeout_ms, expected_status \
                 FROM health_targets ORDER BY service_name",
            )
            .doing("prepare the target query")?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .doing("read the targets")?;
        let mut targets = Vec::new();
        for row in rows {
            let (service_name, endpoint, interval_ms, timeout_ms, status) =
                row.doing("read a target")?;
            let millis = |ms: i64| crate::target::DurationSpec::Text(format!("{}ms", ms.max(0)));
            let spec = TargetSpec {
                service_name,
                endpoint,
                interval: Some(millis(interval_ms)),
                timeout: Some(millis(timeout_ms)),
                expected_status: Some(u16::try_from(status).unwrap_or(0)),
            };
            targets.push(spec.validate(TargetOrigin::Api)?);
        }
        Ok(targets)
    }

    /// Stores a new target; [`ProbeError::Duplicate`] if the name is taken.
    pub fn insert(&self, target: &HealthTarget) -> Result<(), ProbeError> {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let inserted = self.connection.lock().execute(
            "INSERT INTO health_targets \
             (service_name, endpoint, interval_ms, timeout_ms, expected_status) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                target.service_name,
                target.endpoint.as_str(),
                millis(target.interval),
                millis(target.timeout),
                target.expected_status,
            ],
        );
        if !agentmon_sqlite::inserted(inserted).doing("insert a target")? {
            return Err(ProbeError::Duplicate(target.service_name.clone()));
        }
        Ok(())
    }

    /// Deletes a target; whether it existed.
    pub fn delete(&self, service_name: &str) -> Result<bool, ProbeError> {
        let deleted = self
            .connection
            .lock()
            .execute(
                "DELETE FROM health_targets WHERE service_name = ?1",
                params![service_name],
            )
            .doing("delete a target")?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> HealthTarget {
        TargetSpec {
            service_name: name.to_owned(),
            endpoint: "http://127.0.0.1:9/health".to_owned(),
            interval: Some(crate::target::DurationSpec::Text("1m".to_owned())),
            timeout: Some(crate::target::DurationSpec::Text("1500ms".to_owned())),
            expected_status: Some(204),
        }
        .validate(TargetOrigin::Api)
        .unwrap()
    }

    #[test]
    fn targets_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = TargetStore::open(&path).unwrap();
        store.insert(&target("b")).unwrap();
        store.insert(&target("a")).unwrap();
        assert!(matches!(
            store.insert(&target("a")),
            Err(ProbeError::Duplicate(name)) if name == "a"
        ));
        assert!(store.delete("b").unwrap());
        assert!(!store.delete("b").unwrap());
        drop(store);
        let store = TargetStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), vec![target("a")]);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();
        assert!(matches!(
            TargetStore::open(&path),
            Err(ProbeError::Open(agentmon_sqlite::OpenError::SchemaTooNew {
                found: 7,
                ..
            }))
        ));
    }
}
