//! The Alertmanager-compatible core of agentmon's notification pipeline.

pub mod config;
mod error;
pub mod fingerprint;
pub mod inhibit;
pub mod matcher;
pub mod notification;
pub mod route;
pub mod silence;
pub mod store;
pub mod timeinterval;

pub use error::NotifyError;
pub use notification::{AlertStatus, Notification};
