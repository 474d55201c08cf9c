//! The Alertmanager-compatible core of agentmon's notification pipeline.

pub mod notification;

pub use notification::{AlertStatus, Notification};
