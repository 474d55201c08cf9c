//! `GET /ws`: the live stream over WebSocket.
//!
//! A connection starts with no subscriptions. Each text frame from the
//! client is one request (`subscribe`/`unsubscribe`), answered with
//! `subscribed`/`unsubscribed` or, when invalid, with an `error` message;
//! the connection stays open either way. Binary frames get an `error` too.
//! The server pings every `ping_interval` and closes (code 1001) a
//! connection from which no frame at all, pongs included, arrived for
//! `idle_timeout`. A send that does not complete within `idle_timeout`
//! also ends the connection.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{sleep_until, timeout, Instant};
use tracing::instrument;

use super::hub::{ConnectionKind, LiveHub};
use super::message::{control_message, LiveMessage};
use super::subscription::{parse_client_message, ClientRequest, Subscriptions};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest frame or message a client may send, in bytes; requests are tiny.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;

/// Read buffer of a connection, in bytes (see [`upgrade_to_live_stream`]).
const READ_BUFFER_BYTES: usize = 4096;

/// Most stream messages one connection writes before it flushes (and
/// before it looks at the client's frames and its timers again).
pub const MAX_MESSAGES_PER_FLUSH: usize = 256;

/// Upgrades the request to a WebSocket fed by the state's hub.
#[instrument(skip_all)]
pub async fn websocket(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => upgrade_to_live_stream(upgrade, state.live().clone()),
        Err(rejection) => ApiError::BadData(format!(
            "GET /ws is a WebSocket endpoint: {}",
            rejection.body_text()
        ))
        .into_response(),
    }
}

/// Finishes the handshake and serves the connection from `hub`.
pub fn upgrade_to_live_stream(upgrade: WebSocketUpgrade, hub: LiveHub) -> Response {
    // The connection loop polls the socket for a client frame once per
    // message it sends, and every poll prepares the whole read buffer
    // (tungstenite zero-fills it); at the default 128 KiB that was a third
    // of the server's CPU when fanning out (`bench/live.sh`). Client frames
    // are small requests, so a small buffer loses nothing.
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_connection(socket, hub))
}

/// Why a connection loop stopped.
enum Stop {
    ClientGone,
    Idle,
    StreamClosed,
}

/// Serves one WebSocket until the client leaves or goes silent.
///
/// Stream messages are written in bursts: when the connection wakes up for
/// a message, every message already waiting behind it in the hub's ring
/// (up to [`MAX_MESSAGES_PER_FLUSH`]) is written too, and the socket is
/// flushed once. Each message is still its own text frame, in order; the
/// burst only saves the wake-ups, socket polls and `write` calls that one
/// flush per message cost (see `docs/benchmarks.md`).
pub async fn serve_connection(mut socket: WebSocket, hub: LiveHub) {
    let _counted = hub.connection(ConnectionKind::WebSocket);
    let settings = hub.settings();
    let mut receiver = hub.receiver();
    let mut subscriptions = Subscriptions::default();
    let mut burst = Vec::new();
    // Timers made once and reset, not made again on every wake-up.
    let ping = sleep_until(Instant::now() + settings.ping_interval);
    let idle = sleep_until(Instant::now() + settings.idle_timeout);
    let closed = hub.closed();
    tokio::pin!(ping, idle, closed);
    let stop = loop {
        tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { break Stop::ClientGone };
                idle.as_mut().reset(Instant::now() + settings.idle_timeout);
                let answer = match frame {
                    Message::Text(text) => answer_request(&mut subscriptions, text.as_str()),
                    Message::Binary(_) => {
                        error_message("binary frames are not accepted: send JSON text frames")
                    }
                    Message::Close(_) => break Stop::ClientGone,
                    // axum answers pings itself; a pong only proves life.
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                if send(&mut socket, Message::Text(answer.into()), &hub).await.is_err() {
                    break Stop::ClientGone;
                }
            }
            received = receiver.recv() => {
                let open = collect_burst(received, &mut receiver, &subscriptions, &mut burst);
                if write_burst(&mut socket, &mut burst, &hub).await.is_err() {
                    break Stop::ClientGone;
                }
                if !open {
                    break Stop::StreamClosed;
                }
            }
            () = &mut ping => {
                ping.as_mut().reset(Instant::now() + settings.ping_interval);
                if send(&mut socket, Message::Ping(Default::default()), &hub).await.is_err() {
                    break Stop::ClientGone;
                }
            }
            () = &mut idle => break Stop::Idle,
            () = &mut closed => break Stop::StreamClosed,
        }
    };
    let (code, reason) = match stop {
        Stop::ClientGone => return,
        Stop::Idle => (1001, "no frame from the client within the idle timeout"),
        Stop::StreamClosed => (1001, "server shutting down"),
    };
    tracing::debug!(reason, "closing live WebSocket");
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = send(&mut socket, close, &hub).await;
}

/// Puts the frames for `first` and for every message already waiting
/// behind it (at most [`MAX_MESSAGES_PER_FLUSH`] in all) into `burst`, in
/// order: the messages the subscriptions match, and a `lagged` message
/// where the reader fell behind. Returns false once the hub is gone.
pub(crate) fn collect_burst(
    first: Result<Arc<LiveMessage>, RecvError>,
    receiver: &mut broadcast::Receiver<Arc<LiveMessage>>,
    subscriptions: &Subscriptions,
    burst: &mut Vec<Message>,
) -> bool {
    let mut next = match first {
        Ok(message) => Ok(message),
        Err(RecvError::Lagged(dropped)) => Err(TryRecvError::Lagged(dropped)),
        Err(RecvError::Closed) => Err(TryRecvError::Closed),
    };
    let mut taken = 0;
    loop {
        match next {
            Ok(message) => {
                if subscriptions.matches(&message) {
                    burst.push(Message::Text(message.json.clone()));
                }
            }
            Err(TryRecvError::Lagged(dropped)) => {
                burst.push(Message::Text(lagged_message(dropped).into()))
            }
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Closed) => return false,
        }
        taken += 1;
        // Stop before taking a message off the ring that this burst
        // would not send.
        if taken == MAX_MESSAGES_PER_FLUSH {
            return true;
        }
        next = receiver.try_recv();
    }
}

/// The `lagged` message telling a reader how many messages it lost.
pub(crate) fn lagged_message(dropped: u64) -> String {
    control_message("lagged", None, json!({ "dropped": dropped }), now_ms())
}

/// Writes the frames of `burst` (emptying it) and flushes once, giving up
/// after the idle timeout.
async fn write_burst(
    socket: &mut WebSocket,
    burst: &mut Vec<Message>,
    hub: &LiveHub,
) -> Result<(), ()> {
    if burst.is_empty() {
        return Ok(());
    }
    let write = async {
        for message in burst.drain(..) {
            socket.feed(message).await?;
        }
        socket.flush().await
    };
    match timeout(hub.settings().idle_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends one frame, giving up after the idle timeout.
async fn send(socket: &mut WebSocket, message: Message, hub: &LiveHub) -> Result<(), ()> {
    match timeout(hub.settings().idle_timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn answer_request(subscriptions: &mut Subscriptions, text: &str) -> String {
    match parse_client_message(text) {
        Ok(ClientRequest::Subscribe(subscription)) => {
            let id = subscription.execution_id.clone();
            let agent = subscription.agent.clone();
            match subscriptions.add(subscription) {
                Ok(()) => control_message(
                    "subscribed",
                    Some(&id),
                    json!({ "agent": agent, "subscriptions": subscriptions.len() }),
                    now_ms(),
                ),
                Err(error) => error_message(&error),
            }
        }
        Ok(ClientRequest::Unsubscribe(subscription)) => {
            let removed = subscriptions.remove(&subscription);
            control_message(
                "unsubscribed",
                Some(&subscription.execution_id),
                json!({
                    "agent": subscription.agent,
                    "removed": removed,
                    "subscriptions": subscriptions.len(),
                }),
                now_ms(),
            )
        }
        Err(error) => error_message(&error),
    }
}

fn error_message(error: &str) -> String {
    control_message("error", None, json!({ "error": error }), now_ms())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
