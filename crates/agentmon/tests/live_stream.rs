//! End to end: the live stream of the real binary. A WebSocket client and
//! a Server-Sent Events client subscribe to one session, agent events are
//! posted over HTTP, and both receive the same messages in order.

mod common;

use std::time::Duration;

use common::server::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

const READ_TOKEN: &str = "reader secret/+&";
const READ_TOKEN_IN_QUERY: &str = "reader%20secret%2F%2B%26";
const WRITE_TOKEN: &str = "agent-secret";
/// How long any single expected message may take to arrive.
const MESSAGE_DEADLINE: Duration = Duration::from_secs(15);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn start_server(dir: &std::path::Path) -> Server {
    let config = dir.join("agentmon.yml");
    std::fs::write(
        &config,
        format!(
            "auth:\n  tokens:\n    - {{name: dashboard, token: \"{READ_TOKEN}\", role: read}}\n    \
             - {{name: agents, token: \"{WRITE_TOKEN}\", role: write}}\n"
        ),
    )
    .unwrap();
    Server::start_with(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

/// The next text message on the socket, as JSON (pings are skipped).
async fn next_json(socket: &mut Socket) -> Value {
    let read = tokio::time::timeout(MESSAGE_DEADLINE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str::<Value>(&text).unwrap()
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    })
    .await;
    read.expect("a message within the deadline")
}

async fn send_json(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.unwrap();
}

/// Reads Server-Sent Events until `count` data messages arrived.
async fn read_sse(response: &mut reqwest::Response, count: usize) -> Vec<Value> {
    let mut buffer = String::new();
    let mut messages = Vec::new();
    let read = tokio::time::timeout(MESSAGE_DEADLINE, async {
        while messages.len() < count {
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                for line in block.lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        messages.push(serde_json::from_str::<Value>(data).unwrap());
                    }
                }
            }
        }
    })
    .await;
    read.expect("SSE messages within the deadline");
    messages
}

fn events_body() -> String {
    let s1 = r#""session_id":"exec_123","agent":"hermes","instance":"a1""#;
    let s2 = r#""session_id":"other","agent":"hermes","instance":"a1""#;
    [
        format!(r#"{{"type":"session_start",{s1},"timestamp":1000}}"#),
        format!(r#"{{"type":"log",{s2},"timestamp":1001,"level":"info","message":"not for us"}}"#),
        format!(r#"{{"type":"log",{s1},"timestamp":1100,"level":"info","message":"Container started"}}"#),
        format!(
            r#"{{"type":"step",{s1},"timestamp":1500,"model":"m","provider":"p","step_type":"plan","duration_seconds":0.3,"prompt_tokens":120,"completion_tokens":30,"cost_usd":0.5}}"#
        ),
        format!(
            r#"{{"type":"tool_call",{s1},"timestamp":2000,"tool_name":"search","status":"success","duration_seconds":0.2}}"#
        ),
        format!(r#"{{"type":"session_end",{s1},"timestamp":6230,"status":"completed","output":"done"}}"#),
    ]
    .join("\n")
}

fn check_session_messages(messages: &[Value]) {
    let types: Vec<&str> = messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["status", "log", "metrics", "metrics", "status"],
        "{messages:?}"
    );
    for message in messages {
        assert_eq!(message["executionId"], "exec_123", "{message}");
    }
    assert_eq!(messages[0]["data"], json!({"status": "RUNNING"}));
    assert_eq!(messages[0]["timestamp"], 1000);
    assert_eq!(messages[1]["data"]["log"], "Container started");
    assert_eq!(messages[2]["data"]["totalTokens"], 150);
    assert_eq!(messages[2]["data"]["costUsd"], 0.5);
    assert_eq!(messages[2]["data"]["duration"], 500);
    assert_eq!(messages[3]["data"]["toolCalls"], 1);
    assert_eq!(messages[3]["timestamp"], 2000);
    assert_eq!(messages[4]["data"]["status"], "COMPLETED");
    assert_eq!(messages[4]["data"]["output"], "done");
    assert_eq!(messages[4]["data"]["duration"], 5230);
}

#[test]
fn websocket_and_sse_clients_receive_accepted_events_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_server(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut socket, mut sse) = runtime.block_on(async {
        let ws_url = format!("ws://127.0.0.1:{}/ws", server.port());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap();

        // Without a token the handshake is refused.
        match tokio_tungstenite::connect_async(ws_url.as_str()).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected 401, got {other:?}"),
        }

        // Browsers cannot set headers: the token rides in the query.
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("{ws_url}?token={READ_TOKEN_IN_QUERY}"))
                .await
                .expect("WebSocket handshake with the query token");

        // Invalid messages get an error and the connection lives on.
        send_json(&mut socket, r#"{"type":"watch","executionId":"exec_123"}"#).await;
        let error = next_json(&mut socket).await;
        assert_eq!(error["type"], "error", "{error}");
        assert!(
            error["data"]["error"].as_str().unwrap().contains("unknown message type"),
            "{error}"
        );
        send_json(&mut socket, "{not json").await;
        assert_eq!(next_json(&mut socket).await["type"], "error");
        socket.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
        assert_eq!(next_json(&mut socket).await["type"], "error");

        send_json(&mut socket, r#"{"type":"subscribe","executionId":"exec_123"}"#).await;
        let subscribed = next_json(&mut socket).await;
        assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
        assert_eq!(subscribed["executionId"], "exec_123");

        // The SSE stream, with the token as a header; its reader exists
        // once the response head has arrived.
        let mut sse = http
            .get(format!(
                "http://127.0.0.1:{}/api/v1/stream?executionId=exec_123&agent=hermes",
                server.port()
            ))
            .header("Authorization", format!("Bearer {READ_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        assert!(sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));

        let metrics = http
            .get(format!("http://127.0.0.1:{}/metrics", server.port()))
            .header("Authorization", format!("Bearer {READ_TOKEN}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("\nagentmon_ws_connections 1\n"), "{metrics}");
        assert!(metrics.contains("\nagentmon_sse_connections 1\n"), "{metrics}");

        let posted = http
            .post(format!("http://127.0.0.1:{}/api/v1/events", server.port()))
            .header("Authorization", format!("Bearer {WRITE_TOKEN}"))
            .header("Content-Type", "application/x-ndjson")
            .body(events_body())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);

        let mut over_websocket = Vec::new();
        for _ in 0..5 {
            over_websocket.push(next_json(&mut socket).await);
        }
        check_session_messages(&over_websocket);

        let over_sse = read_sse(&mut sse, 5).await;
        assert_eq!(over_sse, over_websocket, "SSE and WebSocket carry the same messages");

        // After unsubscribing, nothing more arrives for the session: with
        // a subscription to another session only, a batch of a late log of
        // exec_123 and a marker of "other" delivers the marker alone.
        send_json(&mut socket, r#"{"type":"unsubscribe","executionId":"exec_123"}"#).await;
        let unsubscribed = next_json(&mut socket).await;
        assert_eq!(unsubscribed["type"], "unsubscribed", "{unsubscribed}");
        assert_eq!(unsubscribed["data"]["removed"], 1);
        send_json(&mut socket, r#"{"type":"subscribe","executionId":"other"}"#).await;
        assert_eq!(next_json(&mut socket).await["type"], "subscribed");
        let head = r#""agent":"hermes","instance":"a1","level":"info""#;
        let batch = format!(
            r#"[{{"type":"log","session_id":"exec_123",{head},"message":"late"}},{{"type":"log","session_id":"other",{head},"message":"marker"}}]"#
        );
        let posted = http
            .post(format!("http://127.0.0.1:{}/api/v1/events", server.port()))
            .header("Authorization", format!("Bearer {WRITE_TOKEN}"))
            .body(batch)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);
        let marker = next_json(&mut socket).await;
        assert_eq!(marker["data"]["log"], "marker", "{marker}");
        assert_eq!(marker["executionId"], "other");
        let late = read_sse(&mut sse, 1).await;
        assert_eq!(late[0]["data"]["log"], "late");

        // A bad SSE query is a precise 400.
        let bad = http
            .get(format!(
                "http://127.0.0.1:{}/api/v1/stream?execution=x",
                server.port()
            ))
            .header("Authorization", format!("Bearer {READ_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await.unwrap().contains("execution"));
        // A plain GET of /ws (no upgrade) is a precise 400 too.
        let plain = http
            .get(format!("http://127.0.0.1:{}/ws", server.port()))
            .header("Authorization", format!("Bearer {READ_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 400);
        assert!(plain.text().await.unwrap().contains("WebSocket endpoint"));

        (socket, sse)
    });

    // Open live connections do not hold up a graceful shutdown: the
    // WebSocket is closed with 1001 and the SSE stream ends.
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", server.log());
    runtime.block_on(async {
        let closing = tokio::time::timeout(MESSAGE_DEADLINE, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        })
        .await
        .expect("a close frame within the deadline");
        assert_eq!(closing, Some(1001));
        let end = tokio::time::timeout(MESSAGE_DEADLINE, async {
            loop {
                match sse.chunk().await {
                    Ok(Some(chunk)) if chunk.starts_with(b":") => continue,
                    other => return other.map(|c| c.is_none()),
                }
            }
        })
        .await
        .expect("the SSE stream ends within the deadline");
        assert!(matches!(end, Ok(true)), "{end:?}");
    });
}
