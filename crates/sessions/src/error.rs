//! Errors of the session store.

/// What went wrong in the session store, and while doing what.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store: cannot {action}: {source}")]
    Sqlite {
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("session store: schema version {found} is newer than this agentmon knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("session store: an event chunk of session {session_id:?} is not valid: {reason}")]
    BadChunk { session_id: String, reason: String },
    #[error(
        "session store: the row of session {session_id:?} is not as this store last wrote it \
         (has another program written to the file?)"
    )]
    RowChanged { session_id: String },
    #[error("session store: cannot start the checkpointer thread: {source}")]
    Thread {
        #[source]
        source: std::io::Error,
    },
}

/// Adds the action to a SQLite error.
pub(crate) trait Context<T> {
    fn doing(self, action: &'static str) -> Result<T, SessionError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn doing(self, action: &'static str) -> Result<T, SessionError> {
        self.map_err(|source| SessionError::Sqlite { action, source })
    }
}
