//! E-mail through a real SMTP server: Python's aiosmtpd on a loopback
//! port, which parses each message it receives (headers, both parts) and
//! reports it. Skipped when aiosmtpd is missing, unless
//! AGENTMON_REQUIRE_PEERS=1.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use agentmon_notify::deliver::{DeliveryQueue, DeliveryStatus, QueueOptions, RetryPolicy};
use agentmon_notify::receivers::{prepare, PlainRenderer, ReceiverConfig};
use agentmon_notify::secrets::SecretKey;
use serde_json::Value;
use support::{notification, wait_for_log};

struct SmtpSink {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// Starts the sink, or `None` (after saying why) if aiosmtpd is absent.
    fn start(mode: &str) -> Option<SmtpSink> {
        SmtpSink::start_with(mode, &[])
    }

    fn start_with(mode: &str, extra: &[&str]) -> Option<SmtpSink> {
        let has_aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("python3 with aiosmtpd is required (pip install aiosmtpd)");
            }
            eprintln!("SKIP: python3 with aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .args([script, &port.to_string(), mode])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let sink = SmtpSink { child, port, lines };
        let ready = sink
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the sink did not start");
        assert_eq!(ready, "READY");
        Some(sink)
    }

    fn next_message(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("no message reached the sink");
        serde_json::from_str(&line).unwrap()
    }
}

fn options() -> QueueOptions {
    QueueOptions {
        workers: 2,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_age: Duration::from_secs(60),
        },
        send_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(100),
        ..QueueOptions::default()
    }
}

fn email_receiver(port: u16, extra: &str) -> ReceiverConfig {
    ReceiverConfig::from_yaml(&format!(
        "name: mail
email_configs:
  - to: 'oncall@example.com, Backup <backup@example.com>'
    from: 'agentmon <alerts@example.com>'
    smarthost: '127.0.0.1:{port}'
    hello: agentmon.test
    require_tls: false
    headers:
      X-Team: infra
{extra}"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_arrives_with_headers_and_both_parts() {
    let Some(sink) = SmtpSink::start("auth") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let queue = DeliveryQueue::open(
        &dir.path().join("q.sqlite"),
        SecretKey::generate().unwrap(),
        options(),
    )
    .unwrap();
    let dispatcher = queue.start();
    let config = email_receiver(
        sink.port,
        "    auth_username: alert\n    auth_password: s3cret\n",
    );
    let deliveries = prepare(&notification("mail", "DiskFull"), &config, &PlainRenderer).unwrap();
    assert_eq!(
        deliveries[0].target,
        format!("smtp://127.0.0.1:{}", sink.port)
    );
    queue.enqueue(deliveries).await.unwrap();
    let message = sink.next_message();
    let records = wait_for_log(&queue, Duration::from_secs(20), |r| {
        r.len() == 1 && r[0].status == DeliveryStatus::Sent
    })
    .await;
    dispatcher.shutdown().await;

    assert_eq!(records[0].response_code, Some(250));
    assert_eq!(message["mail_from"], "alerts@example.com");
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "backup@example.com"])
    );
    assert_eq!(message["ehlo"], "agentmon.test");
    assert_eq!(message["auth"], "PLAIN:alert");
    assert_eq!(message["subject"], "[FIRING:1] DiskFull");
    assert_eq!(message["from"], "agentmon <alerts@example.com>");
    assert!(message["to"]
        .as_str()
        .unwrap()
        .contains("oncall@example.com"));
    assert_eq!(message["x_team"], "infra");
    let message_id = message["message_id"].as_str().unwrap();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@agentmon.test>"),
        "{message_id}"
    );
    assert!(!message["date"].as_str().unwrap().is_empty());
    assert_eq!(message["content_type"], "multipart/alternative");
    let text = message["text"].as_str().unwrap();
    assert!(text.contains("Firing (1):"), "{text}");
    assert!(text.contains("- DiskFull is broken"), "{text}");
    assert!(
        text.contains("labels: alertname=DiskFull severity=page"),
        "{text}"
    );
    let html = message["html"].as_str().unwrap();
    assert!(html.contains("<h3>[FIRING:1] DiskFull</h3>"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_fails_and_a_temporary_refusal_is_retried() {
    let Some(auth_sink) = SmtpSink::start("auth") else {
        return;
    };
    let Some(flaky_sink) = SmtpSink::start("tempfail") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let queue = DeliveryQueue::open(
        &dir.path().join("q.sqlite"),
        SecretKey::generate().unwrap(),
        options(),
    )
    .unwrap();
    let dispatcher = queue.start();
    let wrong = email_receiver(
        auth_sink.port,
        "    auth_username: alert\n    auth_password: nope\n",
    );
    queue
        .enqueue(prepare(&notification("mail", "A"), &wrong, &PlainRenderer).unwrap())
        .await
        .unwrap();
    let flaky = email_receiver(flaky_sink.port, "");
    queue
        .enqueue(prepare(&notification("mail", "B"), &flaky, &PlainRenderer).unwrap())
        .await
        .unwrap();
    let records = wait_for_log(&queue, Duration::from_secs(20), |r| {
        r.len() == 2
            && r.iter()
                .all(|d| matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Failed))
    })
    .await;
    dispatcher.shutdown().await;
    let (sent, failed) = if records[0].group_key.contains('B') {
        (&records[0], &records[1])
    } else {
        (&records[1], &records[0])
    };
    assert_eq!(failed.status, DeliveryStatus::Failed, "{failed:?}");
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.response_code, Some(535));
    assert!(!failed.last_error.as_deref().unwrap_or("").contains("nope"));
    assert_eq!(sent.status, DeliveryStatus::Sent, "{sent:?}");
    assert_eq!(sent.attempts, 2);
    assert_eq!(flaky_sink.next_message()["refused"], true);
    assert_eq!(flaky_sink.next_message()["subject"], "[FIRING:1] B");
}

/// A self-signed certificate for 127.0.0.1 made with the openssl tool.
fn self_signed(dir: &std::path::Path) -> Option<(String, String)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("the openssl tool is required to make a test certificate");
        }
        eprintln!("SKIP: the openssl tool is not installed");
        return None;
    }
    Some((cert.display().to_string(), key.display().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_used_when_required_and_refused_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path()) else {
        return;
    };
    let Some(tls_sink) = SmtpSink::start_with("starttls", &[&cert, &key]) else {
        return;
    };
    let Some(plain_sink) = SmtpSink::start("plain") else {
        return;
    };
    let queue = DeliveryQueue::open(
        &dir.path().join("q.sqlite"),
        SecretKey::generate().unwrap(),
        options(),
    )
    .unwrap();
    let dispatcher = queue.start();
    // The server's certificate is self-signed: the test trusts it the way
    // an operator would, with insecure_skip_verify.
    let tls_extra = "    tls_config: {insecure_skip_verify: true}\n    auth_username: alert\n    auth_password: s3cret\n";
    let mut tls_config = email_receiver(tls_sink.port, tls_extra);
    tls_config.email_configs[0].require_tls = Some(true);
    queue
        .enqueue(prepare(&notification("mail", "Tls"), &tls_config, &PlainRenderer).unwrap())
        .await
        .unwrap();
    let mut plain_config = email_receiver(plain_sink.port, "");
    plain_config.email_configs[0].require_tls = None; // the default: required
    queue
        .enqueue(
            prepare(
                &notification("mail", "NoTls"),
                &plain_config,
                &PlainRenderer,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let records = wait_for_log(&queue, Duration::from_secs(20), |r| {
        r.len() == 2
            && r.iter()
                .all(|d| matches!(d.status, DeliveryStatus::Sent | DeliveryStatus::Failed))
    })
    .await;
    dispatcher.shutdown().await;
    let message = tls_sink.next_message();
    assert_eq!(message["tls"], true);
    assert_eq!(message["auth"], "PLAIN:alert");
    assert_eq!(message["subject"], "[FIRING:1] Tls");
    let no_tls = records
        .iter()
        .find(|r| r.group_key.contains("NoTls"))
        .unwrap();
    assert_eq!(no_tls.status, DeliveryStatus::Failed, "{no_tls:?}");
    assert!(
        no_tls.last_error.as_deref().unwrap().contains("STARTTLS"),
        "{no_tls:?}"
    );
    let tls_record = records
        .iter()
        .find(|r| !r.group_key.contains("NoTls"))
        .unwrap();
    assert_eq!(tls_record.status, DeliveryStatus::Sent, "{tls_record:?}");
}
