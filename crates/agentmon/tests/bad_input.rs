//! Refusal of bad input, end to end.
//!
//! Proves that each kind of malformed write — broken protobuf or snappy,
//! each label rule of the data model, an oversized body, wrong headers, a
//! bad text-format or JSON-lines import — gets the right 4xx with a message
//! saying what was wrong, and that nothing of the request is stored, not
//! even a valid series sent alongside the bad one. Also proves the opposite
//! for values that look odd but are valid Prometheus samples: NaN, ±Inf and
//! the stale marker are accepted and read back bit for bit. Finally, that
//! samples conflicting with stored ones (same time, other value; older than
//! the newest) are refused whole, also once the series lives in a block and
//! the server restarted, while exact retries are accepted.

mod common;

use agentmon_model::STALE_NAN;
use common::http::{
    client, encode, export, post, remote_write, remote_write_body, series, snappy, TestSeries,
    REMOTE_WRITE_HEADERS,
};
use common::server::Server;
use common::writer::now_ms;

/// One request that must be refused.
struct BadRequest {
    /// Also the value of the `case` label every series in it carries.
    case: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    /// The message must contain one of these (lowercased).
    hints: &'static [&'static str],
}

fn remote_write_case(
    case: &'static str,
    body: Vec<u8>,
    status: u16,
    hints: &'static [&'static str],
) -> BadRequest {
    BadRequest {
        case,
        path: "/api/v1/write",
        headers: REMOTE_WRITE_HEADERS.to_vec(),
        body,
        status,
        hints,
    }
}

/// A valid series of `case`, sent next to the bad part of each request.
fn valid_series(case: &str, t: i64) -> TestSeries {
    TestSeries::new(
        &[("__name__", &format!("bad_ok_{case}")), ("case", case)],
        &[(t, 1.0)],
    )
}

/// `[valid series, series with these labels]` as a remote-write body.
fn with_bad_labels(case: &str, t: i64, labels: &[(&str, &str)]) -> Vec<u8> {
    remote_write_body(&[valid_series(case, t), TestSeries::new(labels, &[(t, 2.0)])])
}

/// Sends every case, then checks status, message and that no series of
/// the case exists; reports all failures together.
fn check_refused(server: &Server, cases: Vec<BadRequest>) {
    let http = client();
    let mut failures = Vec::new();
    for case in cases {
        let reply = post(&http, &server.url(case.path), &case.headers, case.body);
        let message = reply.text.to_lowercase();
        if reply.status != case.status {
            failures.push(format!(
                "{}: status {} (want {}): {}",
                case.case, reply.status, case.status, reply.text
            ));
        } else if reply.text.trim().is_empty() {
            failures.push(format!("{}: empty error message", case.case));
        } else if !case.hints.iter().any(|h| message.contains(h)) {
            failures.push(format!(
                "{}: message {:?} mentions none of {:?}",
                case.case, reply.text, case.hints
            ));
        }
        let stored = series(&http, server, &format!("{{case=\"{}\"}}", case.case));
        if !stored.is_empty() {
            failures.push(format!(
                "{}: refused request still stored {stored:?}",
                case.case
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_remote_writes_are_refused_whole() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let http = client();
    let t = now_ms();

    // Control: the same shape of request, valid, is stored and visible.
    let reply = remote_write(&http, &server, &[valid_series("control", t)]);
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(series(&http, &server, "{case=\"control\"}").len(), 1);

    let mut broken_protobuf = encode(&[valid_series("protobuf", t)]);
    // A time series field announcing 127 bytes, of which one follows.
    broken_protobuf.extend_from_slice(&[0x0a, 0x7f, 0x0a]);
    let mut cut_snappy = remote_write_body(&[valid_series("snappy_cut", t)]);
    cut_snappy.truncate(cut_snappy.len() / 2);

    check_refused(
        &server,
        vec![
            remote_write_case("protobuf", snappy(&broken_protobuf), 400, &["protobuf"]),
            remote_write_case(
                "snappy_garbage",
                b"\xff\xff\xff\xff\xff\x01 not snappy".to_vec(),
                400,
                &["snappy"],
            ),
            remote_write_case("snappy_cut", cut_snappy, 400, &["snappy"]),
            // Field 1 with wire type 7, which does not exist.
            remote_write_case(
                "snappy_of_garbage",
                snappy(b"\x0f\xfe\xfd not a protobuf"),
                400,
                &["protobuf"],
            ),
            remote_write_case(
                "unsorted",
                with_bad_labels(
                    "unsorted",
                    t,
                    &[
                        ("job", "x"),
                        ("__name__", "bad_bad_unsorted"),
                        ("case", "unsorted"),
                    ],
                ),
                400,
                &["sorted"],
            ),
            remote_write_case(
                "duplicate",
                with_bad_labels(
                    "duplicate",
                    t,
                    &[
                        ("__name__", "bad_bad_duplicate"),
                        ("case", "duplicate"),
                        ("job", "a"),
                        ("job", "b"),
                    ],
                ),
                400,
                &["more than once", "duplicate"],
            ),
            remote_write_case(
                "bad_name",
                with_bad_labels(
                    "bad_name",
                    t,
                    &[
                        ("2xx", "v"),
                        ("__name__", "bad_bad_name"),
                        ("case", "bad_name"),
                    ],
                ),
                400,
                &["2xx"],
            ),
            remote_write_case(
                "empty_value",
                with_bad_labels(
                    "empty_value",
                    t,
                    &[
                        ("__name__", "bad_bad_empty"),
                        ("case", "empty_value"),
                        ("job", ""),
                    ],
                ),
                400,
                &["empty"],
            ),
            remote_write_case(
                "no_name",
                with_bad_labels("no_name", t, &[("case", "no_name"), ("job", "x")]),
                400,
                &["__name__", "metric name"],
            ),
        ],
    );
}

#[test]
fn wrong_headers_and_oversized_bodies_are_refused() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let t = now_ms();
    let body = |case| remote_write_body(&[valid_series(case, t)]);

    // 70 MiB of incompressible bytes in an unknown field (field 15), which
    // a decoder would skip: only the size makes this request bad.
    let mut huge = encode(&[valid_series("too_large", t)]);
    let filler_len: usize = 70 << 20;
    huge.push(0x7a);
    let mut len = filler_len as u64;
    while len >= 0x80 {
        huge.push(len as u8 | 0x80);
        len >>= 7;
    }
    huge.push(len as u8);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    huge.extend((0..filler_len / 8).flat_map(|_| {
        // xorshift64: cheap bytes that snappy cannot shrink.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()
    }));
    let huge = snappy(&huge);
    assert!(
        huge.len() > 64 << 20,
        "test body is only {} bytes",
        huge.len()
    );

    check_refused(
        &server,
        vec![
            remote_write_case("too_large", huge, 413, &["limit", "large"]),
            BadRequest {
                case: "gzip",
                path: "/api/v1/write",
                headers: vec![
                    ("Content-Encoding", "gzip"),
                    ("Content-Type", "application/x-protobuf"),
                ],
                body: body("gzip"),
                status: 415,
                hints: &["content-encoding"],
            },
            BadRequest {
                case: "no_encoding",
                path: "/api/v1/write",
                headers: vec![("Content-Type", "application/x-protobuf")],
                body: body("no_encoding"),
                status: 415,
                hints: &["content-encoding"],
            },
            BadRequest {
                case: "json_type",
                path: "/api/v1/write",
                headers: vec![
                    ("Content-Encoding", "snappy"),
                    ("Content-Type", "application/json"),
                ],
                body: body("json_type"),
                status: 415,
                hints: &["content-type"],
            },
        ],
    );
}

#[test]
fn malformed_imports_are_refused_whole() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let t = now_ms();
    let text = |body: String| BadRequest {
        case: "",
        path: "/api/v1/import/prometheus",
        headers: vec![("Content-Type", "text/plain")],
        body: body.into_bytes(),
        status: 400,
        hints: &["line 2"],
    };
    let json_line = |name: &str, case: &str, values: &str, timestamps: &str| {
        format!(
            r#"{{"metric":{{"__name__":"{name}","case":"{case}"}},"values":{values},"timestamps":{timestamps}}}"#
        )
    };
    check_refused(
        &server,
        vec![
            BadRequest {
                case: "text_syntax",
                ..text(format!(
                    "bad_ok_text{{case=\"text_syntax\"}} 1 {t}\nbad_bad_text{{case=\"text_syntax\" 2 {t}\n"
                ))
            },
            BadRequest {
                case: "text_value",
                ..text(format!("bad_ok_text{{case=\"text_value\"}} 1 {t}\nbad_bad_text{{case=\"text_value\"}} one {t}\n"))
            },
            BadRequest {
                case: "json_pairs",
                path: "/api/v1/import",
                headers: vec![("Content-Type", "application/json")],
                body: format!(
                    "{}\n{}\n",
                    json_line("bad_ok_json", "json_pairs", "[1]", &format!("[{t}]")),
                    json_line("bad_bad_json", "json_pairs", "[1,2]", &format!("[{t}]"))
                )
                .into_bytes(),
                status: 400,
                hints: &["line 2"],
            },
        ],
    );
}

#[test]
fn nan_infinities_and_stale_markers_are_stored_bit_for_bit() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let http = client();
    let t = now_ms();
    let values = [
        ("nan", f64::NAN),
        ("pos_inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
        ("stale", STALE_NAN),
        ("neg_zero", -0.0),
        ("subnormal", f64::from_bits(1)),
        ("max", f64::MAX),
    ];
    let batch: Vec<TestSeries> = values
        .iter()
        .map(|(kind, v)| {
            TestSeries::new(
                &[("__name__", "special_values"), ("kind", kind)],
                &[(t, *v)],
            )
        })
        .collect();
    let reply = remote_write(&http, &server, &batch);
    assert_eq!(reply.status, 204, "special values refused: {}", reply.text);

    let exported = export(&http, &server, "special_values");
    assert_eq!(exported.len(), values.len(), "{exported:?}");
    for (kind, want) in values {
        let line = exported
            .iter()
            .find(|e| e.labels.get("kind").map(String::as_str) == Some(kind))
            .unwrap_or_else(|| panic!("{kind} not exported"));
        assert_eq!(line.samples.len(), 1, "{kind}: {:?}", line.samples);
        let (got_t, got) = line.samples[0];
        assert_eq!(got_t, t, "{kind}");
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{kind}: wrote {want:?} ({:#x}), read {got:?} ({:#x})",
            want.to_bits(),
            got.to_bits()
        );
    }
}

#[test]
fn conflicting_samples_are_refused_whole_and_exact_retries_accepted() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let http = client();
    let t = now_ms();
    let existing = |samples: &[(i64, f64)]| {
        TestSeries::new(
            &[("__name__", "conflict_existing"), ("case", "existing")],
            samples,
        )
    };
    let first = [existing(&[(t - 2000, 1.0), (t, 2.0)])];
    let reply = remote_write(&http, &server, &first);
    assert_eq!(reply.status, 204, "{}", reply.text);

    // An exact retry of an acknowledged request succeeds and changes nothing.
    let reply = remote_write(&http, &server, &first);
    assert_eq!(
        reply.status, 204,
        "retry of an acknowledged write: {}",
        reply.text
    );

    // Same timestamp with another value, and a sample older than the
    // series' newest, are refused; a new series beside them is not stored.
    for (case, conflicting) in [
        ("changed_value", (t, 3.0)),
        ("out_of_order", (t - 1000, 4.0)),
    ] {
        let fresh = TestSeries::new(
            &[("__name__", "conflict_fresh"), ("case", case)],
            &[(t, 5.0)],
        );
        let reply = remote_write(&http, &server, &[fresh, existing(&[conflicting])]);
        assert_eq!(reply.status, 400, "{case}: {}", reply.text);
        assert!(!reply.text.trim().is_empty(), "{case}: empty message");
        assert!(
            series(&http, &server, &format!("{{case=\"{case}\"}}")).is_empty(),
            "{case}: the valid series of a refused request was stored"
        );
    }

    let stored = export(&http, &server, "conflict_existing");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].samples, vec![(t - 2000, 1.0), (t, 2.0)]);
}

#[test]
fn conflicts_with_flushed_samples_are_refused_after_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let http = client();
    let t = now_ms() - 60_000;
    let stored = |samples: &[(i64, f64)]| {
        TestSeries::new(
            &[("__name__", "conflict_flushed"), ("case", "flushed")],
            samples,
        )
    };
    let reply = remote_write(&http, &server, &[stored(&[(t, 1.0), (t + 20_000, 3.0)])]);
    assert_eq!(reply.status, 204, "{}", reply.text);
    common::http::flush(&http, &server);
    server.kill();
    // The series now lives only in a block; the head starts empty.
    let server = Server::start(data.path());

    for (case, conflicting) in [
        ("flushed_changed_value", (t + 20_000, 9.0)),
        ("flushed_out_of_order", (t + 15_000, 7.0)),
    ] {
        let fresh = TestSeries::new(
            &[("__name__", "conflict_fresh"), ("case", case)],
            &[(t, 5.0)],
        );
        let reply = remote_write(&http, &server, &[fresh, stored(&[conflicting])]);
        assert_eq!(
            reply.status,
            400,
            "{case}: writing {conflicting:?} to a series whose block holds {:?}: {}",
            [(t, 1.0), (t + 20_000, 3.0)],
            reply.text
        );
        assert!(
            series(&http, &server, &format!("{{case=\"{case}\"}}")).is_empty(),
            "{case}: the valid series of a refused request was stored"
        );
    }
    let exported = export(&http, &server, "conflict_flushed");
    assert_eq!(exported.len(), 1, "{exported:?}");
    assert_eq!(exported[0].samples, vec![(t, 1.0), (t + 20_000, 3.0)]);
}
