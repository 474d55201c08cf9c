//! The Alertmanager-compatible core of agentmon's notification pipeline.

pub mod api;
pub mod clock;
pub mod config;
pub mod dispatch;
mod error;
pub mod fingerprint;
pub mod inhibit;
pub mod matcher;
pub mod notification;
mod order;
pub mod route;
pub mod silence;
mod state;
pub mod store;
pub mod timeinterval;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::AlertmanagerConfig;
pub use dispatch::Dispatcher;
pub use error::NotifyError;
pub use notification::{AlertStatus, Notification};
pub use state::State;
