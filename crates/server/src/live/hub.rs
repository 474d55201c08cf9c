//! The broadcast hub between ingest and live-stream connections.
//!
//! `POST /api/v1/events` calls [`LiveHub::publish`] with each accepted
//! batch; the hub turns the events into messages (in batch order, under
//! one lock, so the session totals of `metrics` messages are consistent)
//! and sends them on a `tokio::sync::broadcast` channel.
//!
//! Why a broadcast channel: it is a single ring buffer of `queue_capacity`
//! shared messages (`Arc`s rendered once) that every connection reads at
//! its own pace. Sending never waits and never fails because of a reader,
//! so ingest is never slowed by a client. A reader more than
//! `queue_capacity` messages behind loses the oldest ones and learns how
//! many on its next read (`RecvError::Lagged`), which the connection turns
//! into a `lagged` message — exactly the bounded queue with drop-oldest
//! that a slow client must get. The alternative, a bounded queue per
//! connection filled by the publisher, costs the publisher one send per
//! connection and a choice to block or drop on each; the broadcast ring
//! costs one send in all. The price is that a subscription filters on the
//! reading side, so the `dropped` count of a `lagged` message counts
//! stream messages, some of which the client had not subscribed to.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentmon_model::{AgentEvent, EventKind};
use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use super::message::{LiveMessage, SessionLedger};

/// Timings and sizes of the live stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// Messages a connection may fall behind before it loses the oldest
    /// (rounded up to a power of two by the broadcast channel).
    pub queue_capacity: usize,
    /// How often the server pings a WebSocket client (and keeps SSE alive).
    pub ping_interval: Duration,
    /// A WebSocket client silent this long (no frame, not even a pong) is
    /// disconnected.
    pub idle_timeout: Duration,
}

impl Default for LiveSettings {
    fn default() -> LiveSettings {
        LiveSettings {
            queue_capacity: 4096,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The hub; cheap to clone, every clone is the same hub.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LiveSettings,
    sender: broadcast::Sender<Arc<LiveMessage>>,
    ledger: Mutex<SessionLedger>,
    websocket_connections: AtomicI64,
    sse_connections: AtomicI64,
    closed: watch::Sender<bool>,
}

/// Which kind of live connection a [`ConnectionGuard`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    WebSocket,
    ServerSentEvents,
}

/// Counts one open connection in the gauges until dropped.
pub struct ConnectionGuard {
    hub: LiveHub,
    kind: ConnectionKind,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.hub.gauge(self.kind).fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for LiveHub {
    fn default() -> LiveHub {
        LiveHub::new(LiveSettings::default())
    }
}

impl LiveHub {
    /// A hub with the given settings (a zero queue capacity is taken as 1).
    pub fn new(settings: LiveSettings) -> LiveHub {
        let (sender, _) = broadcast::channel(settings.queue_capacity.max(1));
        LiveHub {
            inner: Arc::new(Inner {
                settings,
                sender,
                ledger: Mutex::new(SessionLedger::default()),
                websocket_connections: AtomicI64::new(0),
                sse_connections: AtomicI64::new(0),
                closed: watch::Sender::new(false),
            }),
        }
    }

    /// The settings in effect.
    pub fn settings(&self) -> LiveSettings {
        self.inner.settings
    }

    /// Turns an accepted batch into messages and sends them, in order;
    /// `cost` prices steps for the running `costUsd`.
    /// Never blocks on readers. Batches posted concurrently go out whole,
    /// each in its order, in the order they reach the hub.
    pub fn publish(&self, events: &[AgentEvent], cost: &dyn Fn(&EventKind) -> Option<f64>) {
        let mut ledger = self.inner.ledger.lock();
        // With nobody subscribed the totals are still kept, but no message
        // is built (a reader that subscribes later gets what comes next).
        let build = self.inner.sender.receiver_count() > 0;
        for event in events {
            if let Some(message) = ledger.message_for(event, cost, build) {
                // An error only means nobody is listening right now.
                let _ = self.inner.sender.send(message);
            }
        }
    }

    /// A reader of every message published from now on.
    pub fn receiver(&self) -> broadcast::Receiver<Arc<LiveMessage>> {
        self.inner.sender.subscribe()
    }

    /// Ends every live connection (WebSockets get a close frame, SSE
    /// streams end), so a graceful shutdown does not wait for clients that
    /// would never leave on their own. Connections opened later end at once.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Resolves once [`LiveHub::close`] has been called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closed = self.inner.closed.subscribe();
        async move {
            // An error means the hub is gone, which also ends the stream.
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    /// Counts a connection until the guard is dropped.
    pub fn connection(&self, kind: ConnectionKind) -> ConnectionGuard {
        self.gauge(kind).fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            hub: self.clone(),
            kind,
        }
    }

    /// Open connections of that kind.
    pub fn connections(&self, kind: ConnectionKind) -> i64 {
        self.gauge(kind).load(Ordering::Relaxed)
    }

    fn gauge(&self, kind: ConnectionKind) -> &AtomicI64 {
        match kind {
            ConnectionKind::WebSocket => &self.inner.websocket_connections,
            ConnectionKind::ServerSentEvents => &self.inner.sse_connections,
        }
    }

    /// Appends the live-stream gauges in Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "# HELP agentmon_ws_connections Open WebSocket connections of the live stream.\n\
             # TYPE agentmon_ws_connections gauge\n\
             agentmon_ws_connections {}\n\
             # HELP agentmon_sse_connections Open Server-Sent Events connections of the live stream.\n\
             # TYPE agentmon_sse_connections gauge\n\
             agentmon_sse_connections {}\n\
             # HELP agentmon_live_sessions_tracked Sessions whose running totals the live stream keeps.\n\
             # TYPE agentmon_live_sessions_tracked gauge\n\
             agentmon_live_sessions_tracked {}\n",
            self.connections(ConnectionKind::WebSocket),
            self.connections(ConnectionKind::ServerSentEvents),
            self.inner.ledger.lock().len(),
        );
    }
}
