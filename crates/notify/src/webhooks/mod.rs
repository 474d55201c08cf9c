//! Event webhooks: named HTTP endpoints that receive agentmon's own events
//! (sessions that end, instances that go offline, health checks that
//! change, alert notifications) as `{"event", "timestamp", "data"}` JSON,
//! delivered through the same durable [`DeliveryQueue`](crate::deliver::DeliveryQueue)
//! as notifications (integration `event_webhook`). See `docs/webhooks.md`.
//!
//! - [`event`]: the event types, the filter a webhook subscribes with
//!   ([`EventFilter`], with `all` and the seed's aliases) and the payload
//!   ([`WebhookEvent`]).
//! - [`webhook`]: the API's [`WebhookSpec`], the validated [`Webhook`], its
//!   redacted view and the request for one event, signed with
//!   HMAC-SHA256 ([`hmac`]) when the webhook has a secret.
//! - [`store`]: `webhooks.sqlite`, the URL, headers and secret sealed with
//!   the data directory's key.

pub mod error;
pub mod event;
pub mod hmac;
pub mod store;
pub mod webhook;

pub use error::WebhookError;
pub use event::{valid_names, EventFilter, EventType, WebhookEvent};
pub use store::WebhookStore;
pub use webhook::{Webhook, WebhookSpec, EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
