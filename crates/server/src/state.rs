//! Shared state of the HTTP app.
//!
//! The listener starts before the WAL replay ends, so the database is set
//! once, later, through [`AppState::set_db`]; until then data endpoints
//! answer 503 and `/health/ready` says why.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::auth::Tokens;
use crate::decode::Limits;
use crate::error::ApiError;
use crate::metrics::HttpMetrics;
use crate::storage::Db;

/// Why data endpoints answer 503 before the database is set.
pub const NOT_READY_REASON: &str = "WAL replay in progress";

/// What the router shares between requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: OnceLock<Arc<Db>>,
    tokens: Tokens,
    limits: Limits,
    http_metrics: HttpMetrics,
    started_at: SystemTime,
}

impl AppState {
    /// A state without a database yet.
    pub fn new(tokens: Tokens, limits: Limits) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                db: OnceLock::new(),
                tokens,
                limits,
                http_metrics: HttpMetrics::default(),
                started_at: SystemTime::now(),
            }),
        }
    }

    /// Makes the database available to handlers; the server is ready from
    /// now on. Fails (returning the argument) if one was already set.
    pub fn set_db(&self, db: Arc<Db>) -> Result<(), Arc<Db>> {
        self.inner.db.set(db)
    }

    /// The database, or 503 while it is still opening.
    pub fn db(&self) -> Result<Arc<Db>, ApiError> {
        self.ready_db()
            .ok_or_else(|| ApiError::Unavailable(NOT_READY_REASON.to_owned()))
    }

    /// The database if it is set.
    pub fn ready_db(&self) -> Option<Arc<Db>> {
        self.inner.db.get().cloned()
    }

    /// The configured API tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Ingest limits (body sizes, series counts).
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http_metrics
    }

    /// When this state (and so the server) was created.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}
