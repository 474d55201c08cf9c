//! Errors of the delivery queue.

use crate::receivers::PrepareError;
use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("delivery queue: cannot {doing}: {source}")]
    Sqlite {
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("delivery queue: {0}")]
    Open(#[from] agentmon_sqlite::OpenError),
    #[error(
        "delivery queue: secret.key is not the key this queue was written with; restore the \
         original secret.key, or move the queue file away to start empty"
    )]
    WrongKey,
    #[error("delivery queue: delivery {id}: {source}")]
    Sealed { id: i64, source: SecretError },
    #[error("delivery queue: cannot seal a payload: {0}")]
    Seal(SecretError),
    #[error("delivery queue: delivery {id} has a payload that does not decode: {reason}")]
    Payload { id: i64, reason: String },
    #[error("delivery queue: unknown {what} {value:?} in the database")]
    Unknown { what: &'static str, value: String },
    #[error("delivery queue: the blocking task failed: {0}")]
    Join(String),
    #[error(transparent)]
    Key(SecretError),
    #[error(transparent)]
    Prepare(PrepareError),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Adds what was being done to a rusqlite error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, DeliverError>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, DeliverError> {
        self.map_err(|source| DeliverError::Sqlite { doing, source })
    }
}
