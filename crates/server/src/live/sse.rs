//! `GET /api/v1/stream`: the live stream as Server-Sent Events, for clients
//! without WebSocket.
//!
//! The subscription is fixed by the query: `executionId` (a session id or
//! `*`, the default) and optionally `agent`. Each message is one unnamed
//! event whose `data` is the same JSON as on the WebSocket, so a browser's
//! `EventSource.onmessage` sees every type. A slow reader gets a `lagged`
//! message like a WebSocket client; a comment line is sent every
//! `ping_interval` to keep proxies from closing an idle stream. The stream
//! ends when the server shuts down ([`super::LiveHub::close`]).

use std::convert::Infallible;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::instrument;

use super::hub::{ConnectionGuard, ConnectionKind};
use super::subscription::{Subscription, ALL_SESSIONS};
use super::ws::lagged_message;
use crate::error::ApiError;
use crate::state::AppState;

/// The query of `GET /api/v1/stream`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    #[serde(rename = "executionId")]
    execution_id: Option<String>,
    agent: Option<String>,
    /// Read by the auth layer; accepted here so it is not "unknown".
    #[allow(dead_code)]
    token: Option<String>,
}

/// Streams the messages the query subscribes to until the client leaves.
#[instrument(skip_all)]
pub async fn stream(
    State(state): State<AppState>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => {
            return ApiError::BadData(format!(
                "invalid query: {} (parameters: executionId, agent, token)",
                rejection.body_text()
            ))
            .into_response()
        }
    };
    let execution_id = query.execution_id.as_deref().unwrap_or(ALL_SESSIONS);
    let subscription = match Subscription::new(execution_id, query.agent.as_deref()) {
        Ok(subscription) => subscription,
        Err(error) => return ApiError::BadData(error).into_response(),
    };
    let hub = state.live().clone();
    let ping_interval = hub.settings().ping_interval;
    let reader = Reader {
        receiver: hub.receiver(),
        closed: Box::pin(hub.closed()),
        subscription,
        _counted: hub.connection(ConnectionKind::ServerSentEvents),
    };
    let events = stream::unfold(reader, |mut reader| async move {
        let event = reader.next_event().await?;
        Some((Ok::<Event, Infallible>(event), reader))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(ping_interval))
        .into_response()
}

struct Reader {
    receiver: tokio::sync::broadcast::Receiver<std::sync::Arc<super::message::LiveMessage>>,
    subscription: Subscription,
    closed: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    _counted: ConnectionGuard,
}

impl Reader {
    /// The next message to send, or `None` once the hub is closed. The
    /// shared JSON is copied once, straight into the event's buffer.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                () = &mut self.closed => return None,
            };
            match received {
                Ok(message) if self.subscription.matches(&message) => {
                    return Some(Event::default().data(message.json.as_str()))
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(dropped)) => {
                    return Some(Event::default().data(lagged_message(dropped)))
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
