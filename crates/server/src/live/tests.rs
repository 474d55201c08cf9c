use std::collections::BTreeMap;
use std::time::Duration;

use agentmon_model::{AgentEvent, EventKind, LogLevel, SessionStatus, ToolStatus};
use serde_json::Value;
use tokio::sync::broadcast::error::TryRecvError;

use super::hub::{LiveHub, LiveSettings};
use super::subscription::{parse_client_message, ClientRequest, Subscription, Subscriptions};

fn event(session: &str, agent: &str, timestamp_ms: i64, kind: EventKind) -> AgentEvent {
    AgentEvent {
        session_id: session.to_owned(),
        agent: agent.to_owned(),
        instance: "i1".to_owned(),
        timestamp_ms,
        kind,
    }
}

fn log(session: &str, agent: &str, timestamp_ms: i64, text: &str) -> AgentEvent {
    event(
        session,
        agent,
        timestamp_ms,
        EventKind::Log {
            level: LogLevel::Info,
            message: text.to_owned(),
        },
    )
}

fn step(session: &str, timestamp_ms: i64, prompt: u64, completion: u64, cost: f64) -> AgentEvent {
    event(
        session,
        "hermes",
        timestamp_ms,
        EventKind::Step {
            model: "m".into(),
            provider: "p".into(),
            step_type: "plan".into(),
            duration_seconds: 0.5,
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost_usd: Some(cost),
        },
    )
}

/// Prices a step at what it reported, as the registry does for a step that
/// carries `cost_usd`.
fn reported(kind: &EventKind) -> Option<f64> {
    match kind {
        EventKind::Step { cost_usd, .. } => *cost_usd,
        _ => None,
    }
}

fn publish(hub: &LiveHub, events: &[AgentEvent]) {
    hub.publish(events, &reported);
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn drain(
    receiver: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<super::message::LiveMessage>>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match receiver.try_recv() {
            Ok(message) => out.push(json(&message.json)),
            Err(TryRecvError::Empty) => break,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[test]
fn cost_of_a_step_comes_from_the_pricing_function() {
    let hub = LiveHub::default();
    let mut receiver = hub.receiver();
    let mut unpriced = step("s1", 1_000, 1_000, 500, 0.0);
    if let EventKind::Step { cost_usd, .. } = &mut unpriced.kind {
        *cost_usd = None;
    }
    // As the registry would price it: $2 per million tokens of either kind.
    let price = |kind: &EventKind| match kind {
        EventKind::Step {
            prompt_tokens,
            completion_tokens,
            cost_usd,
            ..
        } => cost_usd.or(Some((prompt_tokens + completion_tokens) as f64 * 2e-6)),
        _ => None,
    };
    hub.publish(&[unpriced, step("s1", 2_000, 10, 10, 0.5)], &price);
    let messages = drain(&mut receiver);
    let cost = |i: usize| messages[i]["data"]["costUsd"].as_f64().unwrap();
    assert!((cost(0) - 0.003).abs() < 1e-12, "{}", cost(0));
    assert!((cost(1) - 0.503).abs() < 1e-12, "{}", cost(1));
}

#[test]
fn a_session_becomes_status_log_metrics_status_in_order() {
    let hub = LiveHub::default();
    let mut receiver = hub.receiver();
    publish(
        &hub,
        &[
            event(
                "s1",
                "hermes",
                1_000,
                EventKind::SessionStart {
                    attributes: BTreeMap::new(),
                },
            ),
            log("s1", "hermes", 1_100, "container started"),
            step("s1", 1_500, 100, 20, 0.25),
            event(
                "s1",
                "hermes",
                2_000,
                EventKind::ToolCall {
                    tool_name: "search".into(),
                    status: ToolStatus::Success,
                    duration_seconds: 0.1,
                    error: None,
                },
            ),
            step("s1", 3_000, 10, 5, 0.5),
            event(
                "s1",
                "hermes",
                6_230,
                EventKind::SessionEnd {
                    status: SessionStatus::Failed,
                    output: Some("boom".into()),
                },
            ),
        ],
    );
    let messages = drain(&mut receiver);
    let types: Vec<&str> = messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["status", "log", "metrics", "metrics", "metrics", "status"]
    );
    assert_eq!(messages[0]["data"]["status"], "RUNNING");
    assert_eq!(messages[0]["executionId"], "s1");
    assert_eq!(messages[0]["timestamp"], 1_000);
    assert_eq!(messages[1]["data"]["log"], "container started");
    assert_eq!(messages[1]["data"]["level"], "info");
    let last_metrics = &messages[4]["data"];
    assert_eq!(last_metrics["promptTokens"], 110);
    assert_eq!(last_metrics["completionTokens"], 25);
    assert_eq!(last_metrics["totalTokens"], 135);
    assert_eq!(last_metrics["costUsd"], 0.75);
    assert_eq!(last_metrics["steps"], 2);
    assert_eq!(last_metrics["toolCalls"], 1);
    assert_eq!(last_metrics["duration"], 2_000);
    assert_eq!(messages[3]["data"]["toolCalls"], 1);
    assert_eq!(messages[5]["data"]["status"], "FAILED");
    assert_eq!(messages[5]["data"]["output"], "boom");
    assert_eq!(messages[5]["data"]["duration"], 5_230);
    assert_eq!(messages[5]["agent"], "hermes");
}

#[test]
fn totals_restart_after_a_session_ends() {
    let hub = LiveHub::default();
    let mut receiver = hub.receiver();
    let end = EventKind::SessionEnd {
        status: SessionStatus::Completed,
        output: None,
    };
    publish(
        &hub,
        &[step("s1", 10, 5, 5, 1.0), event("s1", "hermes", 20, end)],
    );
    publish(&hub, &[step("s1", 30, 1, 1, 1.0)]);
    let messages = drain(&mut receiver);
    assert_eq!(messages[1]["data"]["status"], "COMPLETED");
    assert!(messages[1]["data"]["output"].is_null());
    assert_eq!(messages[2]["data"]["totalTokens"], 2);
}

#[test]
fn subscriptions_filter_by_session_and_agent() {
    let hub = LiveHub::default();
    let mut receiver = hub.receiver();
    publish(
        &hub,
        &[
            log("s1", "a", 1, "one"),
            log("s2", "a", 2, "two"),
            log("s2", "b", 3, "three"),
        ],
    );
    let mut messages = Vec::new();
    while let Ok(message) = receiver.try_recv() {
        messages.push(message);
    }
    assert_eq!(messages.len(), 3);
    let seen = |subscriptions: &Subscriptions| -> Vec<i64> {
        messages
            .iter()
            .filter(|m| subscriptions.matches(m))
            .map(|m| json(&m.json)["timestamp"].as_i64().unwrap())
            .collect()
    };
    let mut subscriptions = Subscriptions::default();
    assert!(seen(&subscriptions).is_empty());
    subscriptions
        .add(Subscription::new("s2", None).unwrap())
        .unwrap();
    assert_eq!(seen(&subscriptions), [2, 3]);
    subscriptions
        .add(Subscription::new("s2", Some("b")).unwrap())
        .unwrap();
    assert_eq!(
        subscriptions.remove(&Subscription::new("s2", Some("a")).unwrap()),
        0
    );
    assert_eq!(
        subscriptions.remove(&Subscription::new("s2", None).unwrap()),
        2
    );
    subscriptions
        .add(Subscription::new("*", Some("a")).unwrap())
        .unwrap();
    assert_eq!(seen(&subscriptions), [1, 2]);
    subscriptions
        .add(Subscription::new("s2", Some("b")).unwrap())
        .unwrap();
    assert_eq!(seen(&subscriptions), [1, 2, 3]);
}

#[test]
fn a_slow_reader_lags_and_keeps_the_newest_without_blocking_the_publisher() {
    let hub = LiveHub::new(LiveSettings {
        queue_capacity: 4,
        ..LiveSettings::default()
    });
    let mut slow = hub.receiver();
    // The publisher never waits: ten batches go through with a reader that
    // reads nothing (a blocking send would hang this test).
    for i in 0..10 {
        publish(&hub, &[log("s1", "a", i, "x")]);
    }
    match slow.try_recv() {
        Err(TryRecvError::Lagged(dropped)) => assert_eq!(dropped, 6),
        other => panic!("expected a lag, got {other:?}"),
    }
    let rest = drain(&mut slow);
    let timestamps: Vec<i64> = rest
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(timestamps, [6, 7, 8, 9]);
}

#[test]
fn client_messages_are_validated() {
    assert_eq!(
        parse_client_message(r#"{"type":"subscribe","executionId":"exec_123"}"#),
        Ok(ClientRequest::Subscribe(
            Subscription::new("exec_123", None).unwrap()
        ))
    );
    assert_eq!(
        parse_client_message(r#"{"type":"unsubscribe","executionId":"*","agent":"a"}"#),
        Ok(ClientRequest::Unsubscribe(
            Subscription::new("*", Some("a")).unwrap()
        ))
    );
    let cases = [
        ("not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        (r#"{"executionId":"x"}"#, "missing field \"type\""),
        (r#"{"type":"subscribe"}"#, "missing field \"executionId\""),
        (
            r#"{"type":"subscribe","executionId":7}"#,
            "must be a string",
        ),
        (
            r#"{"type":"watch","executionId":"x"}"#,
            "unknown message type \"watch\"",
        ),
        (
            r#"{"type":"subscribe","executionId":""}"#,
            "must not be empty",
        ),
        (
            r#"{"type":"subscribe","executionId":"x","extra":1}"#,
            "unknown field \"extra\"",
        ),
        (
            r#"{"type":"subscribe","executionId":"a\nb"}"#,
            "control characters",
        ),
    ];
    for (text, expected) in cases {
        let error = parse_client_message(text).unwrap_err();
        assert!(error.contains(expected), "{text}: {error}");
    }
    let long = format!(
        r#"{{"type":"subscribe","executionId":"{}"}}"#,
        "x".repeat(300)
    );
    assert!(parse_client_message(&long)
        .unwrap_err()
        .contains("at most 256"));
}

#[test]
fn a_connection_holds_a_bounded_number_of_subscriptions() {
    let mut subscriptions = Subscriptions::default();
    for i in 0..super::subscription::MAX_SUBSCRIPTIONS {
        subscriptions
            .add(Subscription::new(&format!("s{i}"), None).unwrap())
            .unwrap();
    }
    // A repeat is not a new one; a new one is refused.
    subscriptions
        .add(Subscription::new("s0", None).unwrap())
        .unwrap();
    assert!(subscriptions
        .add(Subscription::new("new", None).unwrap())
        .is_err());
}

#[test]
fn gauges_count_open_connections() {
    use super::hub::ConnectionKind;
    let hub = LiveHub::default();
    let first = hub.connection(ConnectionKind::WebSocket);
    let _second = hub.connection(ConnectionKind::WebSocket);
    let _sse = hub.connection(ConnectionKind::ServerSentEvents);
    drop(first);
    let mut out = String::new();
    hub.write_metrics(&mut out);
    assert!(out.contains("\nagentmon_ws_connections 1\n"), "{out}");
    assert!(out.contains("\nagentmon_sse_connections 1\n"), "{out}");
}

/// A real socket, with short ping and idle times: the server pings, and
/// closes a connection whose client never answers.
#[tokio::test]
async fn a_silent_client_is_pinged_then_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let hub = LiveHub::new(LiveSettings {
        queue_capacity: 16,
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(400),
    });
    let (address, server) = serve_hub(hub).await;

    // A raw client: the handshake by hand, then only reading, so no pong
    // ever goes out (tungstenite would answer pings on its own).
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server did not close a silent client");
    let header_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer")
        + 4;
    assert!(
        received.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    // Server frames are unmasked and short here: [opcode byte, length, payload].
    let mut frames = Vec::new();
    let mut rest = &received[header_end..];
    while rest.len() >= 2 {
        let length = usize::from(rest[1] & 0x7f);
        assert!(
            length < 126 && rest.len() >= 2 + length,
            "unexpected frame {rest:?}"
        );
        frames.push((rest[0] & 0x0f, rest[2..2 + length].to_vec()));
        rest = &rest[2 + length..];
    }
    let pings = frames.iter().filter(|(opcode, _)| *opcode == 0x9).count();
    assert!(
        pings >= 2,
        "expected pings before the close, got {frames:?}"
    );
    let (opcode, payload) = frames.last().expect("frames");
    assert_eq!(*opcode, 0x8, "the last frame is a close: {frames:?}");
    assert_eq!(payload[..2], [0x03, 0xe9], "close code 1001");
    server.abort();
}

#[tokio::test]
async fn closing_the_hub_resolves_every_closed_future() {
    let hub = LiveHub::default();
    let before = hub.closed();
    hub.close();
    let after = hub.closed();
    tokio::time::timeout(Duration::from_secs(5), async {
        before.await;
        after.await;
    })
    .await
    .expect("closed() resolves after close()");
}

type ClientSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame as JSON; it must be a text frame within 10 s.
async fn read_text(socket: &mut ClientSocket) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => json(&text),
        other => panic!("unexpected {other:?}"),
    }
}

/// Serves `/ws` from `hub` on a loopback port; returns the address.
async fn serve_hub(hub: LiveHub) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use axum::extract::ws::WebSocketUpgrade;
    use axum::extract::State;
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/ws",
            get(
                |upgrade: WebSocketUpgrade, State(hub): State<LiveHub>| async move {
                    super::ws::upgrade_to_live_stream(upgrade, hub)
                },
            ),
        )
        .with_state(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, server)
}

/// Over a real socket: a connection that cannot keep up (the test's
/// single-threaded runtime runs the publisher to the end before the
/// connection task gets a turn) gets `lagged` with the count, then the
/// newest messages in order; the publisher finished without waiting.
#[tokio::test]
async fn a_websocket_that_falls_behind_is_told_how_much_it_lost() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let hub = LiveHub::new(LiveSettings {
        queue_capacity: 4,
        ..LiveSettings::default()
    });
    let (address, server) = serve_hub(hub.clone()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .unwrap();
    socket
        .send(Message::Text(
            r#"{"type":"subscribe","executionId":"s1"}"#.into(),
        ))
        .await
        .unwrap();
    assert_eq!(read_text(&mut socket).await["type"], "subscribed");
    let batch: Vec<AgentEvent> = (0..10).map(|i| log("s1", "a", i, "x")).collect();
    publish(&hub, &batch);
    let lagged = read_text(&mut socket).await;
    assert_eq!(lagged["type"], "lagged", "{lagged}");
    assert_eq!(lagged["data"]["dropped"], 6);
    for expected in 6..10 {
        let message = read_text(&mut socket).await;
        assert_eq!(message["type"], "log");
        assert_eq!(message["timestamp"], expected);
    }
    server.abort();
}

/// The text frames of a burst, as JSON.
fn burst_json(burst: &[axum::extract::ws::Message]) -> Vec<Value> {
    burst
        .iter()
        .map(|frame| match frame {
            axum::extract::ws::Message::Text(text) => json(text.as_str()),
            other => panic!("unexpected frame {other:?}"),
        })
        .collect()
}

/// A wake-up writes the message that woke the connection and those already
/// waiting behind it, in order, only the subscribed ones, and at most
/// `MAX_MESSAGES_PER_FLUSH` stream messages per burst; the rest wait for
/// the next burst.
#[tokio::test]
async fn a_burst_takes_the_waiting_messages_in_order_and_is_bounded() {
    use super::ws::{collect_burst, MAX_MESSAGES_PER_FLUSH};

    let hub = LiveHub::default();
    let mut receiver = hub.receiver();
    let mut subscriptions = Subscriptions::default();
    subscriptions
        .add(Subscription::new("s1", None).unwrap())
        .unwrap();
    // 300 stream messages, alternately of s1 (even timestamps) and s2.
    let batch: Vec<AgentEvent> = (0..300)
        .map(|i| log(if i % 2 == 0 { "s1" } else { "s2" }, "a", i, "x"))
        .collect();
    publish(&hub, &batch);

    let mut burst = Vec::new();
    let first = receiver.recv().await;
    assert!(collect_burst(
        first,
        &mut receiver,
        &subscriptions,
        &mut burst
    ));
    let timestamps: Vec<i64> = burst_json(&burst)
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (0..MAX_MESSAGES_PER_FLUSH as i64)
        .filter(|i| i % 2 == 0)
        .collect();
    assert_eq!(timestamps, expected);

    burst.clear();
    let first = receiver.recv().await;
    assert!(collect_burst(
        first,
        &mut receiver,
        &subscriptions,
        &mut burst
    ));
    let timestamps: Vec<i64> = burst_json(&burst)
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (MAX_MESSAGES_PER_FLUSH as i64..300)
        .filter(|i| i % 2 == 0)
        .collect();
    assert_eq!(timestamps, expected);
    assert!(matches!(receiver.try_recv(), Err(TryRecvError::Empty)));
}

/// A reader that fell behind gets `lagged` first in its burst, then the
/// newest messages; once the hub is gone the burst still carries what was
/// left and says the stream is closed.
#[tokio::test]
async fn a_burst_reports_lag_and_the_end_of_the_stream() {
    use super::ws::collect_burst;

    let hub = LiveHub::new(LiveSettings {
        queue_capacity: 4,
        ..LiveSettings::default()
    });
    let mut receiver = hub.receiver();
    let mut subscriptions = Subscriptions::default();
    subscriptions
        .add(Subscription::new("*", None).unwrap())
        .unwrap();
    let batch: Vec<AgentEvent> = (0..10).map(|i| log("s1", "a", i, "x")).collect();
    publish(&hub, &batch);
    drop(hub);

    let mut burst = Vec::new();
    let first = receiver.recv().await;
    let open = collect_burst(first, &mut receiver, &subscriptions, &mut burst);
    assert!(!open, "the hub was dropped: the stream is closed");
    let messages = burst_json(&burst);
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert_eq!(messages[0]["type"], "lagged");
    assert_eq!(messages[0]["data"]["dropped"], 6);
    let timestamps: Vec<i64> = messages[1..]
        .iter()
        .map(|m| m["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(timestamps, [6, 7, 8, 9]);
}

/// Over a real socket, with the connection task free to run while the
/// publisher works: thousands of messages written in bursts reach the
/// client as one text frame each, all of them, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_reach_a_websocket_client_whole_and_in_order() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let hub = LiveHub::default();
    let (address, server) = serve_hub(hub.clone()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .unwrap();
    socket
        .send(Message::Text(
            r#"{"type":"subscribe","executionId":"*"}"#.into(),
        ))
        .await
        .unwrap();
    assert_eq!(read_text(&mut socket).await["type"], "subscribed");
    let publisher = tokio::spawn(async move {
        for batch in 0..40 {
            let events: Vec<AgentEvent> = (0..100)
                .map(|i| log("s1", "a", batch * 100 + i, "x"))
                .collect();
            publish(&hub, &events);
            tokio::task::yield_now().await;
        }
    });
    for expected in 0..4000 {
        let message = read_text(&mut socket).await;
        assert_eq!(message["type"], "log", "{message}");
        assert_eq!(message["timestamp"], expected);
    }
    publisher.await.unwrap();
    server.abort();
}
