//! Helpers shared by the tests that run a real Alertmanager: starting it
//! on a free loopback port, plain HTTP/1.1 requests, and removing the
//! fields that depend on timing.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BINARY: &str = "prometheus-alertmanager";

/// Whether Alertmanager is installed; panics when it is required
/// (`AGENTMON_REQUIRE_PEERS=1`) and absent, else says the test is skipped.
pub fn available() -> bool {
    if Command::new(BINARY).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{BINARY} is required (AGENTMON_REQUIRE_PEERS=1) but was not found");
    }
    eprintln!("SKIP: {BINARY} not found (Debian package prometheus-alertmanager)");
    false
}

/// Starts Alertmanager with a configuration in `dir` and waits until it
/// is ready; returns the process (killed on drop) and its port.
pub fn start(dir: &Path, yaml: &str) -> (Peer, u16) {
    let config_path = dir.join("am.yml");
    std::fs::write(&config_path, yaml).expect("write config");
    let port = free_port();
    let peer = Peer(
        Command::new(BINARY)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(port, "GET", "/-/ready", "").ok() != Some(200) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (peer, port)
}

/// A child process killed when dropped.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One HTTP/1.1 request with a body; returns the status code.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
    http_full(port, method, path, body).map(|(status, _)| status)
}

/// One HTTP/1.1 request; returns the status code and the body.
pub fn http_full(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, mut body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut decoded = String::new();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // Chunked: size line, data, CRLF, until a zero-size chunk.
        while let Some((size, rest)) = body.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || rest.len() < size {
                break;
            }
            decoded.push_str(&rest[..size]);
            body = rest[size..].trim_start_matches("\r\n");
        }
    } else {
        decoded.push_str(body);
    }
    Ok((status, decoded))
}

/// Removes the fields that depend on when each side received the alerts.
pub fn without_times(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            for key in ["startsAt", "endsAt", "updatedAt"] {
                map.remove(key);
            }
            for inner in map.values_mut() {
                *inner = without_times(inner.take());
            }
        }
        Value::Array(list) => {
            for inner in list.iter_mut() {
                *inner = without_times(inner.take());
            }
        }
        _ => {}
    }
    v
}
