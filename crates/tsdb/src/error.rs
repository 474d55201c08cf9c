use std::path::PathBuf;

use thiserror::Error;

/// Everything the storage engine can fail at, with what it was doing.
#[derive(Debug, Error)]
pub enum TsdbError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt {what} in {path}: {reason}")]
    Corrupt {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("the database is closed")]
    Closed,
    /// A limited select would have loaded more samples than allowed.
    #[error("selecting would load more than {limit} samples")]
    TooManySamples { limit: usize },
}

impl TsdbError {
    /// Wraps an I/O error with the operation and file it happened on.
    pub fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> TsdbError {
        let path = path.into();
        move |source| TsdbError::Io { op, path, source }
    }
}

pub type Result<T, E = TsdbError> = std::result::Result<T, E>;
