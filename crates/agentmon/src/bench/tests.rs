//! End-to-end test of the load generator against a minimal in-process HTTP
//! receiver that decodes every request with its own small protobuf reader.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{run_remote_write, RemoteWriteArgs};

/// What the receiver saw, in acknowledgement order.
#[derive(Default)]
struct Received {
    bodies: Vec<Vec<u8>>,
    connections: usize,
    headers_ok: bool,
}

/// Serves HTTP/1.1 keep-alive connections; answers 503 to every `fail_every`-th
/// request (to exercise retries) and 204 otherwise.
fn start_receiver(fail_every: usize) -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Received {
        headers_ok: true,
        ..Received::default()
    }));
    let counter = Arc::new(AtomicUsize::new(0));
    let state = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (state, counter) = (state.clone(), counter.clone());
            state.lock().unwrap().connections += 1;
            std::thread::spawn(move || serve(stream.unwrap(), &state, &counter, fail_every));
        }
    });
    (url, received)
}

fn serve(stream: TcpStream, state: &Mutex<Received>, counter: &AtomicUsize, fail_every: usize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut length = 0;
        let mut snappy = false;
        let mut version = false;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            snappy |= header == "content-encoding: snappy";
            version |= header == "x-prometheus-remote-write-version: 0.1.0";
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n.checked_rem(fail_every) == Some(0) {
            writer
                .write_all(b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy")
                .unwrap();
            continue;
        }
        {
            let mut state = state.lock().unwrap();
            state.headers_ok &= snappy && version;
            state.bodies.push(body);
        }
        writer
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .unwrap();
    }
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = buf[*pos];
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

/// Splits a message into (field number, payload) for length-delimited fields
/// and (field number, raw value) for the others, as byte ranges.
fn fields(buf: &[u8]) -> Vec<(u64, &[u8], u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos);
        match key & 7 {
            0 => out.push((key >> 3, &buf[..0], varint(buf, &mut pos))),
            1 => {
                let raw = u64::from_le_bytes(buf[pos..pos + 8].try_into().unwrap());
                out.push((key >> 3, &buf[..0], raw));
                pos += 8;
            }
            2 => {
                let len = varint(buf, &mut pos) as usize;
                out.push((key >> 3, &buf[pos..pos + len], 0));
                pos += len;
            }
            other => panic!("unexpected wire type {other}"),
        }
    }
    out
}

/// Decodes the snappy block format: a varint length, then literals and
/// back-references (1-, 2- or 4-byte offsets) into the output so far.
fn unsnappy(input: &[u8]) -> Vec<u8> {
    let mut pos = 0;
    let total = varint(input, &mut pos) as usize;
    let mut out = Vec::with_capacity(total);
    let le = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0usize, |acc, b| acc << 8 | *b as usize)
    };
    while pos < input.len() {
        let tag = input[pos] as usize;
        pos += 1;
        let (len, offset) = match tag & 3 {
            0 => {
                let mut len = tag >> 2;
                if len >= 60 {
                    let extra = len - 59;
                    len = le(&input[pos..pos + extra]);
                    pos += extra;
                }
                out.extend_from_slice(&input[pos..pos + len + 1]);
                pos += len + 1;
                continue;
            }
            1 => {
                pos += 1;
                (
                    4 + ((tag >> 2) & 7),
                    (tag >> 5) << 8 | input[pos - 1] as usize,
                )
            }
            kind => {
                let width = if kind == 2 { 2 } else { 4 };
                pos += width;
                (1 + (tag >> 2), le(&input[pos - width..pos]))
            }
        };
        for _ in 0..len {
            out.push(out[out.len() - offset]);
        }
    }
    assert_eq!(out.len(), total);
    out
}

#[test]
fn sends_every_sample_in_step_order_with_retries() {
    let (url, received) = start_receiver(7);
    let args = RemoteWriteArgs {
        url,
        instances: 23,
        steps: 6,
        senders: 3,
        batch_instances: 5,
        start_ms: Some(1_700_000_000_000),
        token: Some("secret".into()),
        seed: 3,
        max_attempts: 5,
        max_failures: 5,
        json_out: None,
    };
    let report = run_remote_write(&args).unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.samples_sent, 23 * 180 * 6);
    assert_eq!(report.requests, 5 * 6);
    assert!(report.retries > 0);
    assert!(report.to_json().contains("\"samples_sent\": 24840"));

    let received = received.lock().unwrap();
    assert!(received.headers_ok);
    assert!(
        received.connections <= 3,
        "{} connections",
        received.connections
    );
    let mut last_t: HashMap<Vec<u8>, i64> = HashMap::new();
    let (mut samples, mut metadata) = (0, 0);
    for body in &received.bodies {
        let proto = unsnappy(body);
        for (field, payload, _) in fields(&proto) {
            if field == 3 {
                metadata += 1;
                continue;
            }
            assert_eq!(field, 1);
            let mut labels = Vec::new();
            for (field, payload, _) in fields(payload) {
                if field == 1 {
                    labels.extend_from_slice(payload);
                } else {
                    let sample = fields(payload);
                    let t = sample.iter().find(|f| f.0 == 2).unwrap().2 as i64;
                    let previous = last_t.insert(labels.clone(), t).unwrap_or(i64::MIN);
                    assert!(t > previous, "timestamps must increase per series");
                    samples += 1;
                }
            }
        }
    }
    assert_eq!(metadata, 8);
    assert_eq!(samples, 23 * 180 * 6);
    assert_eq!(last_t.len(), 23 * 180);
}

#[test]
fn permanent_failures_are_counted_and_abort_the_run() {
    let (url, _received) = start_receiver(1);
    let args = RemoteWriteArgs {
        url,
        instances: 4,
        steps: 5,
        senders: 2,
        batch_instances: 1,
        start_ms: Some(0),
        token: None,
        seed: 1,
        max_attempts: 2,
        max_failures: 3,
        json_out: None,
    };
    let report = run_remote_write(&args).unwrap();
    assert!(!report.is_success());
    assert!(report.aborted);
    assert_eq!(report.samples_sent, 0);
    assert_eq!(report.samples_failed, 4 * 180 * 5);
    assert!(report.failed_requests >= 3);
    assert!(report.errors[0].contains("503"), "{:?}", report.errors);
}
