//! The Alertmanager-compatible core of agentmon's notification pipeline:
//! what happens to an alert between the rule that fires it (or a
//! Prometheus posting to `/api/v2/alerts`) and the delivery of a
//! notification. Semantics follow Alertmanager 0.25; `docs/alerting.md`
//! lists what is supported and where agentmon differs.
//!
//! - [`config`]: the alertmanager.yml schema (the `alertmanager:` key of
//!   agentmon.yml) parsed into typed, validated structs —
//!   [`AlertmanagerConfig`] with `global`, the compiled [`route::Route`]
//!   tree, receivers with every integration's defaults, inhibit rules,
//!   time intervals and template globs.
//! - [`matcher`]: label matchers in Alertmanager's syntax;
//!   [`fingerprint`]: alert identity (FNV-1a 64 as Alertmanager computes
//!   it).
//! - [`route`]: which routes (receivers and grouping options) a label set
//!   goes to, and the group keys of aggregation groups.
//! - [`store`]: every received alert, merged with Alertmanager's rules for
//!   re-sent alerts and `resolve_timeout`.
//! - [`dispatch`]: aggregation groups and their timing (`group_wait`,
//!   `group_interval`, `repeat_interval`), deduplication against what was
//!   already notified, muting by [`inhibit`]ion, [`silence`]s and
//!   [`timeinterval`]s. Its output is a [`Notification`] per receiver and
//!   group, handed to a callback.
//! - Delivery: [`receivers::prepare`] turns a [`Notification`] into one
//!   [`PreparedDelivery`](receivers::PreparedDelivery) per integration of
//!   the receiver (webhook payload v4, Slack, Discord, PagerDuty Events v2,
//!   e-mail), with texts rendered through the
//!   [`Renderer`](receivers::Renderer) seam. The
//!   [`DeliveryQueue`](deliver::DeliveryQueue) stores each one in SQLite,
//!   sealed with the data directory's key ([`secrets`]), before sending it,
//!   retries it with backoff until it is sent, refused or too old, and keeps
//!   the delivery log and metrics.
//! - [`ack`]nowledgements stop an alert's repeated notifications until
//!   it resolves.
//! - [`webhooks`]: event webhooks (agentmon's own events, not alerts,
//!   sent as JSON through the same queue), their store and payloads.
//! - [`State`] holds all of it behind one value with an injectable
//!   [`Clock`]; [`api`] computes Alertmanager API v2 answers from it.
//!
//! The core does no I/O except the SQLite silence store
//! ([`silence::SqliteSilenceStore`]); time is always passed in or read
//! from the clock, so tests drive it with a [`ManualClock`].

pub mod ack;
pub mod api;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod dispatch;
mod error;
pub mod fingerprint;
pub mod inhibit;
pub mod matcher;
pub mod notification;
mod order;
pub mod receivers;
pub mod route;
pub mod secrets;
pub mod silence;
mod state;
pub mod store;
pub mod timeinterval;
pub mod webhooks;

pub use ack::{AckError, Acknowledgement};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::AlertmanagerConfig;
pub use dispatch::{Dispatcher, NotificationLogEntry};
pub use error::NotifyError;
pub use notification::{AlertStatus, Notification};
pub use state::State;
