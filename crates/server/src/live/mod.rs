//! The live stream: accepted agent events, as they arrive, to WebSocket
//! (`GET /ws`) and Server-Sent Events (`GET /api/v1/stream`) clients.
//!
//! - [`hub`]: [`LiveHub`], the broadcast hub that `POST /api/v1/events`
//!   publishes each accepted batch to, in order; publishing never waits for
//!   a reader, and a reader that falls behind is told how much it lost.
//! - [`message`]: the server's messages (`log`, `status`, `metrics`, and
//!   the control messages `subscribed`, `unsubscribed`, `lagged`, `error`)
//!   and the per-session totals behind `metrics`.
//! - [`subscription`]: the client's `subscribe`/`unsubscribe` requests,
//!   validated, and the filter they build.
//! - [`ws`] and [`sse`]: the two transports.
//!
//! The protocol is documented in `docs/live-stream.md`.

pub mod hub;
pub mod message;
pub mod sse;
pub mod subscription;
pub mod ws;

pub use hub::{LiveHub, LiveSettings};

#[cfg(test)]
mod tests;
