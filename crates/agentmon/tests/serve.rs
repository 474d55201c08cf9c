//! End-to-end tests of `agentmon serve`: the real binary on a loopback port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_agentmon");

/// A running server, killed and reaped if a test fails before stopping it.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `agentmon serve` with JSON logs and returns it with the address
/// it logged as listening on.
fn start(data_dir: &std::path::Path, extra: &[&str]) -> (Server, String, mpsc::Receiver<String>) {
    let child = Command::new(BINARY)
        .args([
            "serve",
            "--log.format",
            "json",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env("AGENTMON_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server { child };
    let stderr = server.child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("agentmon exited before listening");
        let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if log["fields"]["message"] == "listening" {
            let address = log["fields"]["address"].as_str().unwrap().to_owned();
            return (server, address, lines_rx);
        }
    }
    panic!("agentmon did not log its listening address");
}

/// A minimal HTTP/1.1 GET; returns the status code and body.
fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let child = &mut server.child;
    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "agentmon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_health_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, address, logs) = start(dir.path(), &[]);
    assert_eq!(http_get(&address, "/health/live").0, 200);

    // Ready once the WAL replay finished: await the log line, then check.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = logs
            .recv_timeout(Duration::from_secs(30))
            .expect("no readiness log line");
        if line.contains("database ready") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let (status, body) = http_get(&address, "/health/ready");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(&address, "/api/v1/nope");
    assert_eq!(status, 404);
    assert!(body.contains("not_found"), "{body}");

    let exit = terminate(&mut server);
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn refuses_an_open_non_loopback_listener_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("AGENTMON_LOG", "info")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
}

#[test]
fn unknown_config_keys_stop_startup_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agentmon.yml");
    std::fs::write(&config, "listen: 127.0.0.1:0\nstorage:\n  retention: 1d\n").unwrap();
    let output = Command::new(BINARY)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `retention`"), "{stderr}");
    assert!(stderr.contains("agentmon.yml"), "{stderr}");
}
