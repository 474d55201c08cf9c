//! Errors of target validation, the target store and the monitor.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProbeError {
    /// A target specification is invalid; the message says which field.
    #[error("invalid health check target: {0}")]
    InvalidTarget(String),
    /// A target with this service name exists already.
    #[error("health check target {0:?} exists already")]
    Duplicate(String),
    /// No target has this service name.
    #[error("health check target {0:?} not found")]
    NotFound(String),
    /// The target comes from the configuration file.
    #[error("health check target {0:?} comes from the configuration file: remove it there")]
    FromConfig(String),
    /// The SQLite store failed.
    #[error("health target store: cannot {doing}: {source}")]
    Store {
        doing: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The blocking task that runs a store call failed.
    #[error("health target store task failed: {0}")]
    TaskFailed(String),
    /// The store's file cannot be opened, or was written by a newer
    /// agentmon.
    #[error("health target store: {0}")]
    Open(#[from] agentmon_sqlite::OpenError),
}

pub(crate) trait Context<T> {
    fn doing(self, doing: &'static str) -> Result<T, ProbeError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, ProbeError> {
        self.map_err(|source| ProbeError::Store { doing, source })
    }
}
