//! Test helpers: a scripted HTTP receiver on loopback (one request per
//! connection, so closing it really refuses connections), notifications,
//! and waiting for the delivery log to reach a state.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentmon_model::{Alert, Labels};
use agentmon_notify::deliver::{DeliveryFilter, DeliveryQueue, DeliveryRecord, Page};
use agentmon_notify::notification::{AlertStatus, Notification};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the receiver does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this status, extra headers.
    Status(u16, Vec<(String, String)>),
    /// Read the request and never answer (the client times out).
    Hang,
}

/// One request the receiver read.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status answered, `None` if it hung.
    pub answered: Option<u16>,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    /// Once the script is used up.
    otherwise: Option<Reply>,
    received: Vec<Received>,
}

/// A scripted HTTP server on 127.0.0.1 that can be stopped and started
/// again on the same port.
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    pub async fn start(replies: Vec<Reply>, otherwise: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            otherwise: Some(otherwise),
            received: Vec::new(),
        }));
        let task = Some(tokio::spawn(serve(listener, script.clone())));
        Receiver { addr, script, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Closes the listening socket: connections are refused until
    /// [`Receiver::restart`].
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port with a new script.
    pub async fn restart(&mut self, replies: Vec<Reply>, otherwise: Reply) {
        self.stop().await;
        {
            let mut script = self.script.lock();
            script.replies = replies.into();
            script.otherwise = Some(otherwise);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.addr),
            }
        };
        self.task = Some(tokio::spawn(serve(listener, self.script.clone())));
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().received.clone()
    }

    /// Requests answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered.is_some_and(|c| (200..300).contains(&c)))
            .collect()
    }
}

async fn serve(listener: TcpListener, script: Arc<Mutex<Script>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(handle(stream, script.clone()));
    }
}

async fn handle(mut stream: TcpStream, script: Arc<Mutex<Script>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[header_end..header_end + length]).to_string();
    let reply = {
        let mut script = script.lock();
        let reply = script
            .replies
            .pop_front()
            .or_else(|| script.otherwise.clone())
            .unwrap_or(Reply::Status(200, vec![]));
        script.received.push(Received {
            at: Instant::now(),
            path,
            headers,
            body,
            answered: match &reply {
                Reply::Status(code, _) => Some(*code),
                Reply::Hang => None,
            },
        });
        reply
    };
    match reply {
        Reply::Hang => {
            // Hold the connection open without answering.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Reply::Status(code, extra) => {
            let mut response =
                format!("HTTP/1.1 {code} Scripted\r\nContent-Length: 2\r\nConnection: close\r\n");
            for (name, value) in extra {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\nok");
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

pub fn ok() -> Reply {
    Reply::Status(200, vec![])
}

/// A notification of group `group` with one firing alert.
pub fn notification(receiver: &str, group: &str) -> Notification {
    let labels = Labels::new([("alertname", group), ("severity", "page")]).unwrap();
    Notification {
        receiver: receiver.to_owned(),
        group_key: format!("{{}}:{{alertname=\"{group}\"}}"),
        group_labels: Labels::new([("alertname", group)]).unwrap(),
        alerts: vec![AlertStatus {
            alert: Alert {
                labels,
                annotations: Labels::new([("summary", format!("{group} is broken"))]).unwrap(),
                starts_at_ms: 1_700_000_000_000,
                ends_at_ms: None,
                generator_url: "http://prometheus:9090/graph".to_owned(),
            },
            fingerprint: 42,
            resolved: false,
        }],
        external_url: "http://agentmon:9093".to_owned(),
    }
}

/// Waits (bounded) until `done` holds for the whole delivery log.
pub async fn wait_for_log(
    queue: &DeliveryQueue,
    timeout: Duration,
    done: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = queue
            .list_deliveries(
                DeliveryFilter::default(),
                Page {
                    limit: 1000,
                    before_id: None,
                },
            )
            .await
            .unwrap();
        if done(&records) {
            return records;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting; the log is {records:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The group key of a received webhook body.
pub fn group_key_of(received: &Received) -> String {
    let value: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    value["groupKey"].as_str().unwrap().to_owned()
}
