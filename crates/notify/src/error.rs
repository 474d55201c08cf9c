//! The one error type of the notification core.

use thiserror::Error;

/// What went wrong, with what was being done.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NotifyError {
    /// The alertmanager configuration is invalid; the message is
    /// Alertmanager's where it has one.
    #[error("invalid alertmanager configuration: {0}")]
    Config(String),
    /// A label matcher could not be parsed or compiled.
    #[error("{0}")]
    Matcher(String),
    /// A silence was refused.
    #[error("{0}")]
    Silence(String),
    /// No silence has that id.
    #[error("silence not found")]
    SilenceNotFound,
    /// An alert posted to the API was refused.
    #[error("{0}")]
    Alert(String),
    /// The silence store failed.
    #[error("silence store: {0}")]
    Store(String),
}

impl From<rusqlite::Error> for NotifyError {
    fn from(e: rusqlite::Error) -> NotifyError {
        NotifyError::Store(e.to_string())
    }
}
