//! Tests of decompression and decoding, using a tiny protobuf writer that
//! exists only here (the real encoder lives in `encode.rs`).

use agentmon_model::{LabelRef, MetricType, ModelError, Sample, STALE_NAN};
use proptest::prelude::*;

use super::{decode, decompress};
use crate::{IngestError, Limits, SeriesProblem};

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn len_field(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn label(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    len_field(&mut m, 1, name);
    len_field(&mut m, 2, value);
    m
}

fn sample(v: f64, t: i64) -> Vec<u8> {
    let mut m = vec![0x09];
    m.extend_from_slice(&v.to_bits().to_le_bytes());
    m.push(0x10);
    varint(&mut m, t as u64);
    m
}

fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> Vec<u8> {
    let mut m = Vec::new();
    for (n, v) in labels {
        len_field(&mut m, 1, &label(n.as_bytes(), v.as_bytes()));
    }
    for &(v, t) in samples {
        len_field(&mut m, 2, &sample(v, t));
    }
    m
}

fn request(series_list: &[Vec<u8>]) -> Vec<u8> {
    let mut m = Vec::new();
    for s in series_list {
        len_field(&mut m, 1, s);
    }
    m
}

fn decode_err(buf: &[u8]) -> IngestError {
    decode(buf, &Limits::default()).expect_err("decode should fail")
}

fn series_problem(buf: &[u8]) -> SeriesProblem {
    match decode_err(buf) {
        IngestError::Series { problem, .. } => problem,
        other => panic!("expected a series error, got {other}"),
    }
}

#[test]
fn decodes_series_samples_and_specials_bit_exact() {
    let specials = [
        (f64::NAN, 1),
        (STALE_NAN, 2),
        (f64::INFINITY, -3),
        (f64::NEG_INFINITY, 4),
    ];
    let buf = request(&[
        series(
            &[("__name__", "up"), ("job", "a")],
            &[(1.5, 1_700_000_000_000)],
        ),
        series(&[("__name__", "x"), ("zone", "é")], &specials),
        series(&[("__name__", "no_samples")], &[]),
    ]);
    let req = decode(&buf, &Limits::default()).unwrap();
    assert_eq!(req.batch.series_count(), 2);
    assert_eq!(req.batch.sample_count(), 5);
    let first = req.batch.get(0);
    assert_eq!(
        first.labels,
        &[LabelRef::new("__name__", "up"), LabelRef::new("job", "a")]
    );
    assert_eq!(first.samples, &[Sample::new(1_700_000_000_000, 1.5)]);
    let second = req.batch.get(1);
    let want: Vec<Sample> = specials.iter().map(|&(v, t)| Sample::new(t, v)).collect();
    assert_eq!(second.samples, want.as_slice());
    assert_eq!(second.samples[1].v.to_bits(), STALE_NAN.to_bits());
    assert_eq!(req.exemplars_ignored, 0);
}

#[test]
fn decodes_non_canonical_layouts() {
    // Label with value before name and an unknown field; long value (2-byte length).
    let long = "v".repeat(300);
    let mut odd_label = Vec::new();
    len_field(&mut odd_label, 2, long.as_bytes());
    odd_label.extend_from_slice(&[0x18, 0x05]);
    len_field(&mut odd_label, 1, b"job");
    // Sample with timestamp first and a non-minimal key for the value.
    let mut odd_sample = vec![0x10];
    varint(&mut odd_sample, (-7i64) as u64);
    odd_sample.extend_from_slice(&[0x89, 0x00]);
    odd_sample.extend_from_slice(&2.5f64.to_bits().to_le_bytes());
    let mut s = Vec::new();
    len_field(&mut s, 1, &label(b"__name__", b"m"));
    // labels field key written as a two-byte varint
    s.extend_from_slice(&[0x8a, 0x00]);
    varint(&mut s, odd_label.len() as u64);
    s.extend_from_slice(&odd_label);
    len_field(&mut s, 2, &odd_sample);
    len_field(&mut s, 2, &[]); // empty sample: value 0 at time 0
    let buf = request(&[s]);
    let req = decode(&buf, &Limits::default()).unwrap();
    let got = req.batch.get(0);
    assert_eq!(
        got.labels,
        &[LabelRef::new("__name__", "m"), LabelRef::new("job", &long)]
    );
    assert_eq!(got.samples, &[Sample::new(-7, 2.5), Sample::new(0, 0.0)]);
}

#[test]
fn round_trips_through_snappy() {
    let buf = request(&[series(&[("__name__", "up")], &[(1.0, 5)])]);
    let body = snap::raw::Encoder::new().compress_vec(&buf).unwrap();
    let plain = decompress(&body, &Limits::default()).unwrap();
    assert_eq!(plain, buf);
    assert_eq!(
        decode(&plain, &Limits::default())
            .unwrap()
            .batch
            .sample_count(),
        1
    );
}

#[test]
fn skips_exemplars_and_unknown_fields_of_every_wire_type() {
    let mut s = series(&[("__name__", "up")], &[(1.0, 5)]);
    len_field(&mut s, 3, &label(b"trace_id", b"abc"));
    len_field(&mut s, 3, &label(b"trace_id", b"def"));
    s.extend_from_slice(&[0x28, 0x07]); // field 5 varint
    s.extend_from_slice(&[0x35, 1, 2, 3, 4]); // field 6 fixed32
    s.extend_from_slice(&[0x3b, 0x08, 0x01, 0x3c]); // field 7 group
    let mut buf = request(&[s]);
    buf.extend_from_slice(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0]); // field 2 fixed64
    len_field(&mut buf, 9, b"future");
    let req = decode(&buf, &Limits::default()).unwrap();
    assert_eq!(req.exemplars_ignored, 2);
    assert_eq!(req.batch.series_count(), 1);
}

#[test]
fn decodes_metadata() {
    let mut meta = vec![0x08, 0x01];
    len_field(&mut meta, 2, b"http_requests_total");
    len_field(&mut meta, 4, b"Requests served.");
    len_field(&mut meta, 5, b"requests");
    let mut buf = Vec::new();
    len_field(&mut buf, 3, &meta);
    let req = decode(&buf, &Limits::default()).unwrap();
    assert_eq!(req.metadata.len(), 1);
    let entry = &req.metadata[0];
    assert_eq!(entry.metric_family, "http_requests_total");
    assert_eq!(entry.metadata.metric_type, MetricType::Counter);
    assert_eq!(entry.metadata.help, "Requests served.");
    assert_eq!(entry.metadata.unit, "requests");

    let mut bad = Vec::new();
    len_field(&mut bad, 2, b"bad-name");
    let mut buf = Vec::new();
    len_field(&mut buf, 3, &bad);
    assert!(matches!(
        decode_err(&buf),
        IngestError::Metadata { index: 0, .. }
    ));
}

#[test]
fn rejects_invalid_protobuf() {
    let good = request(&[series(&[("__name__", "up")], &[(1.0, 5)])]);
    for cut in 1..good.len() {
        let err = decode_err(&good[..cut]);
        assert!(
            matches!(err, IngestError::Protobuf { .. }),
            "cut {cut}: {err}"
        );
    }
    let err = decode_err(&[0x0a, 0x7f]);
    assert!(err.to_string().contains("runs past the end"), "{err}");
    let err = decode_err(&[0x08; 12]);
    assert!(matches!(err, IngestError::Protobuf { .. }), "{err}");
    let overlong = [
        0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ];
    assert!(decode_err(&overlong)
        .to_string()
        .contains("longer than 10 bytes"));
    // labels given as a varint instead of a message
    let err = decode_err(&request(&[vec![0x08, 0x01]]));
    assert!(err.to_string().contains("TimeSeries.labels"), "{err}");
}

#[test]
fn rejects_bad_labels_with_series_index_and_labels() {
    let ok = series(&[("__name__", "up")], &[(1.0, 1)]);
    let buf = request(&[
        ok.clone(),
        series(&[("job", "x"), ("__name__", "up")], &[(1.0, 1)]),
    ]);
    let err = decode_err(&buf);
    assert!(err
        .to_string()
        .starts_with("series 1 ({job=\"x\", __name__=\"up\"}): labels are not sorted"));

    let dup = request(&[series(
        &[("__name__", "up"), ("a", "1"), ("a", "2")],
        &[(1.0, 1)],
    )]);
    assert!(matches!(
        series_problem(&dup),
        SeriesProblem::Model(ModelError::DuplicateLabel { .. })
    ));

    let bad_name = request(&[series(&[("2xx", "1"), ("__name__", "up")], &[(1.0, 1)])]);
    assert!(matches!(
        series_problem(&bad_name),
        SeriesProblem::Model(ModelError::InvalidLabelName { .. })
    ));

    let empty = request(&[series(&[("__name__", "up"), ("job", "")], &[(1.0, 1)])]);
    assert!(matches!(
        series_problem(&empty),
        SeriesProblem::Model(ModelError::EmptyLabelValue { .. })
    ));

    let nameless = request(&[series(&[("job", "x")], &[(1.0, 1)])]);
    assert!(matches!(
        series_problem(&nameless),
        SeriesProblem::Model(ModelError::MissingMetricName)
    ));

    let no_labels = request(&[series(&[], &[(1.0, 1)])]);
    assert!(matches!(
        series_problem(&no_labels),
        SeriesProblem::Model(ModelError::NoLabels)
    ));

    // a zero-sample series is still validated
    let bad_empty = request(&[series(&[("job", "x")], &[])]);
    assert!(matches!(
        series_problem(&bad_empty),
        SeriesProblem::Model(ModelError::MissingMetricName)
    ));
}

#[test]
fn rejects_bad_utf8() {
    let mut s = Vec::new();
    len_field(&mut s, 1, &label(b"__name__", b"up"));
    len_field(&mut s, 1, &label(b"job", b"\xff\xfe"));
    let err = decode_err(&request(&[s]));
    assert!(matches!(
        &err,
        IngestError::Series {
            problem: SeriesProblem::InvalidUtf8 { field: "value" },
            ..
        }
    ));
    assert!(
        err.to_string().contains("series 0 ({__name__=\"up\"})"),
        "{err}"
    );
    let mut s = Vec::new();
    len_field(&mut s, 1, &label(b"\xc3", b"up"));
    assert!(matches!(
        series_problem(&request(&[s])),
        SeriesProblem::InvalidUtf8 { field: "name" }
    ));
}

#[test]
fn enforces_limits() {
    let limits = Limits {
        max_labels_per_series: 2,
        max_label_name_bytes: 8,
        max_label_value_bytes: 4,
        ..Limits::default()
    };
    let three = request(&[series(
        &[("__name__", "up"), ("a", "1"), ("b", "2")],
        &[(1.0, 1)],
    )]);
    let err = decode(&three, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::Series {
                problem: SeriesProblem::TooManyLabels { count: 3, limit: 2 },
                ..
            }
        ),
        "{err}"
    );
    let long_name = request(&[series(
        &[("__name__", "up"), ("abcdefghij", "1")],
        &[(1.0, 1)],
    )]);
    assert!(matches!(
        decode(&long_name, &limits).unwrap_err(),
        IngestError::Series {
            problem: SeriesProblem::LabelNameTooLong { .. },
            ..
        }
    ));
    let long_value = request(&[series(&[("__name__", "uptime")], &[(1.0, 1)])]);
    assert!(matches!(
        decode(&long_value, &limits).unwrap_err(),
        IngestError::Series {
            problem: SeriesProblem::LabelValueTooLong { .. },
            ..
        }
    ));
    let small = Limits {
        max_decompressed_bytes: 4,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&three, &small),
        Err(IngestError::DecompressedTooLarge { .. })
    ));
}

#[test]
fn rejects_native_histograms() {
    let mut s = series(&[("__name__", "latency")], &[]);
    len_field(&mut s, 4, &[0x08, 0x01]);
    let err = decode_err(&request(&[s]));
    assert!(matches!(
        &err,
        IngestError::Series {
            problem: SeriesProblem::NativeHistograms,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("native histograms are not supported yet"),
        "{err}"
    );
}

#[test]
fn decompress_rejects_bad_snappy_and_oversized_declarations() {
    let limits = Limits::default();
    assert!(matches!(
        decompress(&[], &limits),
        Err(IngestError::Snappy { .. })
    ));
    assert!(matches!(
        decompress(b"\x05garbage!", &limits),
        Err(IngestError::Snappy { .. })
    ));
    // framed (stream) format instead of block format
    let framed = b"\xff\x06\x00\x00sNaPpY";
    assert!(matches!(
        decompress(framed, &limits),
        Err(IngestError::Snappy { .. })
    ));
    // declares 1 GiB in a few bytes: refused before allocating
    let mut huge = Vec::new();
    varint(&mut huge, 1 << 30);
    huge.extend_from_slice(&[0; 8]);
    let err = decompress(&huge, &limits).unwrap_err();
    assert_eq!(
        err,
        IngestError::DecompressedTooLarge {
            declared: 1 << 30,
            limit: 256 << 20
        }
    );
    let tiny = Limits {
        max_body_bytes: 4,
        ..Limits::default()
    };
    assert!(matches!(
        decompress(&huge, &tiny),
        Err(IngestError::BodyTooLarge { size: 13, limit: 4 })
    ));
}

proptest! {
    #[test]
    fn inline_label_check_agrees_with_the_model(
        pairs in proptest::collection::vec(("(__name__|[a_:2Z]{0,3})", "[a:_1-]{0,2}"), 0..5),
    ) {
        let labels: Vec<LabelRef<'_>> =
            pairs.iter().map(|(n, v)| LabelRef::new(n.as_str(), v.as_str())).collect();
        let fast = super::decode::labels_are_valid(&labels);
        prop_assert_eq!(fast, agentmon_model::validate_wire_labels(&labels).is_ok(), "{:?}", labels);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits::default();
        let _ = decompress(&bytes, &limits);
        let _ = decode(&bytes, &limits);
    }

    #[test]
    fn mutated_requests_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut buf = request(&[
            series(&[("__name__", "up"), ("job", "a")], &[(1.0, 1)]),
            series(&[("__name__", "x")], &[(2.0, 2), (3.0, 3)]),
        ]);
        for (at, byte) in flips {
            let i = at % buf.len();
            buf[i] = byte;
        }
        let _ = decode(&buf, &Limits::default());
    }

    #[test]
    fn encoded_values_decode_bit_exact(bits in any::<u64>(), t in any::<i64>()) {
        let v = f64::from_bits(bits);
        let buf = request(&[series(&[("__name__", "m")], &[(v, t)])]);
        let req = decode(&buf, &Limits::default()).unwrap();
        prop_assert_eq!(req.batch.get(0).samples, &[Sample::new(t, v)]);
    }
}
