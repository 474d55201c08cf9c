//! Delivery: the durable queue between the notification pipeline and the
//! receivers. A [`PreparedDelivery`](crate::receivers::PreparedDelivery)
//! is stored (sealed) in SQLite before it is sent ([`store`]), claimed and
//! sent by a pool of workers ([`queue`], [`send`], [`smtp`]), retried as
//! the [`policy`] says, listed by the delivery log ([`log`]) and counted
//! in [`metrics`].

pub mod error;
pub mod log;
pub mod metrics;
pub mod policy;
pub mod queue;
pub mod send;
pub mod smtp;
pub mod store;

pub use error::DeliverError;
pub use log::{DeliveryFilter, DeliveryRecord, Page};
pub use metrics::DeliveryMetrics;
pub use policy::RetryPolicy;
pub use queue::{DeliveryQueue, Dispatcher, QueueOptions};
pub use send::{Outcome, Sender};
pub use store::{DeliveryStatus, DeliveryStore};
