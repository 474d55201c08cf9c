//! Health probes: HTTP GET checks of services, one task per target.
//!
//! A [`HealthTarget`] (`service_name`, `endpoint`, `interval`, `timeout`,
//! `expected_status`) is validated from a [`TargetSpec`], which comes from
//! `agentmon.yml`'s `health_checks:` or from the HTTP API. The
//! [`HealthMonitor`] runs one tokio task per target; each probe
//! ([`probe::probe`]) is a GET with the target's timeout that succeeds when
//! the answer has the expected status. Every result is kept as the target's
//! latest [`ServiceState`] and handed to a [`ProbeWriter`] (the server writes
//! `probe_success`, `probe_duration_seconds` and `probe_http_status_code`
//! into the TSDB); a change between up and down is also told to a
//! [`HealthChangeListener`] (the server's event webhooks). Targets made through the API are kept in SQLite by
//! [`TargetStore`] so that they come back after a restart; targets from the
//! config file are not stored and cannot be deleted through the API.

mod error;
mod monitor;
pub mod probe;
mod store;
mod target;

pub use error::ProbeError;
pub use monitor::{
    overall, HealthChange, HealthChangeListener, HealthMonitor, ProbeWriter, ServiceState,
    ServiceStatus,
};
pub use probe::ProbeOutcome;
pub use store::{TargetStore, FILE_NAME};
pub use target::{validate_service_name, DurationSpec, HealthTarget, TargetOrigin, TargetSpec};
