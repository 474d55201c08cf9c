//! Acknowledgements: someone said "I am on it" about a firing alert.
//!
//! An acknowledged alert is still notified when it starts firing (that
//! happened before the acknowledgement) and when it resolves, but its group
//! is not notified again every `repeat_interval` while every firing alert
//! in it is acknowledged ([`crate::dispatch::Muter::acknowledged`]). The
//! acknowledgement ends when the alert resolves. Unlike a silence it hides
//! nothing: the alert stays active in every API.

use thiserror::Error;

/// Who acknowledged an alert, when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub by: String,
    pub at_ms: i64,
    pub comment: String,
}

/// Why an alert could not be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AckError {
    #[error("no alert with id {0:016x}")]
    NotFound(u64),
    #[error("alert {0:016x} is not firing: only a firing alert can be acknowledged")]
    NotFiring(u64),
}
