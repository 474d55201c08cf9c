//! The error type of event webhooks.

use thiserror::Error;

use crate::secrets::SecretError;

/// What went wrong with a webhook or its store.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// The webhook given is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("a webhook named {0:?} already exists")]
    Duplicate(String),
    #[error("no webhook named {0:?}")]
    NotFound(String),
    #[error("the webhook store cannot {doing}: {source}")]
    Store {
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("the webhook store: {0}")]
    Open(#[from] agentmon_sqlite::OpenError),
    #[error("webhook {name:?}: {source}")]
    Secret { name: String, source: SecretError },
}

/// Adds what was being done to a store error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, WebhookError>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, WebhookError> {
        self.map_err(|source| WebhookError::Store { doing, source })
    }
}
