//! The notification pipeline's delivery side (this file declares only the
//! delivery modules; the Alertmanager core — config, routing, grouping,
//! inhibition, silences — joins them here).
//!
//! A [`Notification`](notification::Notification) (one group's alerts for
//! one receiver) is turned by [`receivers::prepare`] into one
//! [`PreparedDelivery`](receivers::PreparedDelivery) per integration of the
//! receiver (webhook payload v4, Slack, Discord, PagerDuty Events v2,
//! e-mail), with texts rendered through the [`Renderer`](receivers::Renderer)
//! seam. The [`DeliveryQueue`](deliver::DeliveryQueue) stores each one in
//! SQLite, sealed with the data directory's key ([`secrets`]), before
//! sending it, retries it with backoff until it is sent, refused or too
//! old, and keeps the delivery log and metrics.

pub mod deliver;
pub mod notification;
pub mod receivers;
pub mod secrets;
