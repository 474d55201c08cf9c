//! Loopback peers of the webhook and notification tests: a [`Receiver`]
//! that records the requests it accepts on any path (and can fail the first
//! ones, or answer any status), and a [`Service`] with `/health` and
//! `/metrics` that the test can stop, closing every connection.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::poll_until;

/// How long [`Receiver::wait_for`] waits.
const DEADLINE: Duration = Duration::from_secs(30);

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path without its leading `/` (e.g. `hook`, `am/pager`).
    pub path: String,
    /// When it arrived.
    pub at: Instant,
    pub headers: BTreeMap<String, String>,
    pub raw: String,
    pub body: Value,
}

/// A webhook receiver on its own runtime thread: answers `status` after
/// failing the first `fail_first` requests with 500, keeping the requests
/// it accepted, on any path.
pub struct Receiver {
    /// `<base>/hook?token=<token>`.
    pub url: String,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    token: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// Requests answered with a failure so far.
    pub refused: Arc<AtomicUsize>,
}

impl Receiver {
    pub fn start(status: u16, fail_first: usize, token: &str) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (kept, failures) = (received.clone(), refused.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/{*path}",
                    axum::routing::post(
                        move |axum::extract::Path(path): axum::extract::Path<String>,
                              headers: axum::http::HeaderMap,
                              raw: String| {
                            let (kept, failures) = (kept.clone(), failures.clone());
                            async move {
                                if failures.load(Ordering::SeqCst) < fail_first {
                                    failures.fetch_add(1, Ordering::SeqCst);
                                    return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down");
                                }
                                let headers = headers
                                    .iter()
                                    .map(|(n, v)| {
                                        (n.to_string(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect();
                                let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
                                kept.lock().expect("lock").push(Received {
                                    path,
                                    at: Instant::now(),
                                    headers,
                                    raw,
                                    body,
                                });
                                (
                                    axum::http::StatusCode::from_u16(status).expect("status"),
                                    "ok",
                                )
                            }
                        },
                    ),
                );
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app).await;
            });
        });
        Receiver {
            url: format!("http://{address}/hook?token={token}"),
            base: format!("http://{address}"),
            token: token.to_owned(),
            received,
            refused,
        }
    }

    /// `<base>/<path>?token=<token>`: the URL of one more endpoint.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}/{path}?token={}", self.base, self.token)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// The event types received, in order.
    pub fn events(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.body["event"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// Waits until `count` requests arrived; panics with what came if not.
    pub fn wait_for(&self, count: usize) -> Vec<Received> {
        poll_until(DEADLINE, || {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .unwrap_or_else(|| panic!("expected {count} events, got {:?}", self.events()))
    }

    /// The one event of `kind`; panics if there is not exactly one.
    pub fn only(&self, kind: &str) -> Received {
        let matching: Vec<Received> = self
            .received()
            .into_iter()
            .filter(|r| r.body["event"] == kind)
            .collect();
        assert_eq!(matching.len(), 1, "{kind} in {:?}", self.events());
        matching.into_iter().next().expect("one")
    }
}

/// A service the test can stop: `/health` answers 200 and `/metrics` a
/// gauge, until [`Service::stop`] drops its runtime and every connection.
pub struct Service {
    pub address: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    pub fn start() -> Service {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address").to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let app = axum::Router::new()
                    .route("/health", axum::routing::get(|| async { "ok" }))
                    .route(
                        "/metrics",
                        axum::routing::get(|| async { "miner_hashrate 42\n" }),
                    );
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
                let _ = stopped.await;
            });
            // Dropping the runtime cancels the server and closes its sockets.
        });
        Service {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("service thread");
        }
    }
}
