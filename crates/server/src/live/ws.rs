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

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::instrument;

use super::hub::{ConnectionKind, LiveHub};
use super::message::control_message;
use super::subscription::{parse_client_message, ClientRequest, Subscriptions};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest frame or message a client may send, in bytes; requests are tiny.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;

/// Read buffer of a connection, in bytes (see [`upgrade_to_live_stream`]).
const READ_BUFFER_BYTES: usize = 4096;

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
pub async fn serve_connection(mut socket: WebSocket, hub: LiveHub) {
    let _counted = hub.connection(ConnectionKind::WebSocket);
    let settings = hub.settings();
    let mut receiver = hub.receiver();
    let mut subscriptions = Subscriptions::default();
    let mut last_heard = Instant::now();
    let mut next_ping = Instant::now() + settings.ping_interval;
    let closed = hub.closed();
    tokio::pin!(closed);
    let stop = loop {
        let outgoing = tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { break Stop::ClientGone };
                last_heard = Instant::now();
                match frame {
                    Message::Text(text) => Some(answer_request(&mut subscriptions, text.as_str()).into()),
                    Message::Binary(_) => Some(
                        error_message("binary frames are not accepted: send JSON text frames").into(),
                    ),
                    Message::Close(_) => break Stop::ClientGone,
                    // axum answers pings itself; a pong only proves life.
                    Message::Ping(_) | Message::Pong(_) => None,
                }
            }
            received = receiver.recv() => match received {
                Ok(message) => subscriptions.matches(&message).then(|| message.json.clone()),
                Err(RecvError::Lagged(dropped)) => Some(
                    control_message("lagged", None, json!({ "dropped": dropped }), now_ms()).into(),
                ),
                Err(RecvError::Closed) => break Stop::StreamClosed,
            },
            _ = sleep_until(next_ping) => {
                next_ping = Instant::now() + settings.ping_interval;
                if send(&mut socket, Message::Ping(Default::default()), &hub).await.is_err() {
                    break Stop::ClientGone;
                }
                None
            }
            _ = sleep_until(last_heard + settings.idle_timeout) => break Stop::Idle,
            () = &mut closed => break Stop::StreamClosed,
        };
        if let Some(text) = outgoing {
            if send(&mut socket, Message::Text(text), &hub).await.is_err() {
                break Stop::ClientGone;
            }
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
