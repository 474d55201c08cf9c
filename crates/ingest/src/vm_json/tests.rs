//! Tests of the VictoriaMetrics JSON-lines reader and writer.

use agentmon_model::{is_stale_nan, Labels, ModelError, Sample, STALE_NAN};
use proptest::prelude::*;

use super::{parse, write_line};
use crate::{IngestError, Limits, SeriesProblem};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn reason(body: &str) -> (usize, String) {
    match parse(body.as_bytes(), &Limits::default()).expect_err(body) {
        IngestError::JsonSyntax { line, reason } => (line, reason),
        other => panic!("{body:?}: expected a syntax error, got {other}"),
    }
}

#[test]
fn parses_the_documented_example() {
    let body = br#"{"metric":{"__name__":"m","job":"x"},"values":[1,2.5],"timestamps":[1700000000000,1700000015000]}"#;
    let out = parse(body, &Limits::default()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, labels(&[("__name__", "m"), ("job", "x")]));
    assert_eq!(
        out[0].1,
        vec![
            Sample::new(1_700_000_000_000, 1.0),
            Sample::new(1_700_000_015_000, 2.5)
        ]
    );
}

#[test]
fn accepts_victoriametrics_special_values_and_extra_keys() {
    let body =
        "\n{ \"timestamps\" : [1,2,3,4,5,6,7] , \"extra\": {\"a\":[true,null,-1.5e3,\"x\"]},\
        \"values\":[null,\"Infinity\",\"-Infinity\",\"NaN\",\"-inf\",\"StaleNaN\",-0.0],\
        \"metric\":{\"__name__\":\"m\",\"path\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"}}\r\n\n";
    let out = parse(body.as_bytes(), &Limits::default()).unwrap();
    let v: Vec<f64> = out[0].1.iter().map(|s| s.v).collect();
    assert!(v[0].is_nan() && v[3].is_nan() && !is_stale_nan(v[0]));
    assert_eq!(&v[1..3], &[f64::INFINITY, f64::NEG_INFINITY]);
    assert_eq!(v[4], f64::NEG_INFINITY);
    assert!(is_stale_nan(v[5]));
    assert_eq!(v[6].to_bits(), (-0.0f64).to_bits());
    assert_eq!(out[0].0.get("path"), Some("a\"b\\cé😀"));
}

#[test]
fn writes_victoriametrics_shaped_lines() {
    let l = labels(&[("Zone", "eu"), ("__name__", "m"), ("job", "a\"b\n")]);
    let samples = [
        Sample::new(1, 1.0),
        Sample::new(2, 0.1),
        Sample::new(3, f64::NAN),
        Sample::new(4, f64::INFINITY),
        Sample::new(5, f64::NEG_INFINITY),
        Sample::new(-6, STALE_NAN),
        Sample::new(7, 1e300),
    ];
    let mut out = Vec::new();
    write_line(&mut out, &l, &samples);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        "{\"metric\":{\"__name__\":\"m\",\"Zone\":\"eu\",\"job\":\"a\\\"b\\n\"},\
         \"values\":[1,0.1,null,\"Infinity\",\"-Infinity\",\"StaleNaN\",1e300],\
         \"timestamps\":[1,2,3,4,5,-6,7]}\n"
    );
    let back = parse(&out, &Limits::default()).unwrap();
    assert_eq!(back, vec![(l.clone(), samples.to_vec())]);
    let mut none = Vec::new();
    write_line(&mut none, &l, &[]);
    assert!(none.is_empty());
}

#[test]
fn rejects_malformed_lines_naming_the_line() {
    let good = r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":[1]}"#;
    let cases: Vec<(String, usize, &str)> = vec![
        (format!("{good}\n{{"), 2, "expected '\"'"),
        (format!("{good}\n{good} x"), 2, "unexpected text after"),
        (
            r#"{"metric":{"__name__":"m"},"values":[1,2],"timestamps":[1]}"#.into(),
            1,
            "must pair up",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":[1.5]}"#.into(),
            1,
            "timestamps[0]",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":[1e3]}"#.into(),
            1,
            "timestamps[0]",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":["1"]}"#.into(),
            1,
            "timestamps[0]",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":[99999999999999999999]}"#
                .into(),
            1,
            "timestamps[0]",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":["high"],"timestamps":[1]}"#.into(),
            1,
            "unsupported string",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[true],"timestamps":[1]}"#.into(),
            1,
            "values[0]",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[01],"timestamps":[1]}"#.into(),
            1,
            "invalid number",
        ),
        (
            r#"{"metric":{"__name__":"m"},"values":[],"timestamps":[]}"#.into(),
            1,
            "is empty",
        ),
        (
            r#"{"metric":{"__name__":"m"},"timestamps":[1]}"#.into(),
            1,
            "missing \"values\"",
        ),
        (
            r#"{"values":[1],"timestamps":[1]}"#.into(),
            1,
            "missing \"metric\"",
        ),
        (
            r#"{"metric":{"__name__":1},"values":[1],"timestamps":[1]}"#.into(),
            1,
            "must be a JSON string",
        ),
        (
            r#"{"metric":{},"metric":{},"values":[1],"timestamps":[1]}"#.into(),
            1,
            "appears twice",
        ),
        (
            r#"{"metric":{"a":"\x"},"values":[1],"timestamps":[1]}"#.into(),
            1,
            "invalid escape",
        ),
        (
            r#"{"metric":{"a":"\ud800"},"values":[1],"timestamps":[1]}"#.into(),
            1,
            "surrogate",
        ),
        ("{\"metric\":{\"a\":\"\t\"}}".into(), 1, "control character"),
    ];
    for (body, line, needle) in cases {
        let (got, why) = reason(&body);
        assert_eq!(got, line, "{body}: {why}");
        assert!(why.contains(needle), "{body}: {why:?} lacks {needle:?}");
    }
    let (line, why) = match parse(b"\n\xff", &Limits::default()).unwrap_err() {
        IngestError::JsonSyntax { line, reason } => (line, reason),
        other => panic!("{other}"),
    };
    assert_eq!((line, why.as_str()), (2, "not valid UTF-8 (at byte 0)"));
}

#[test]
fn label_problems_are_line_series_errors() {
    let body = br#"{"metric":{"job":"x"},"values":[1],"timestamps":[1]}"#;
    let e = parse(body, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::LineSeries {
                line: 1,
                problem: SeriesProblem::Model(ModelError::MissingMetricName),
                ..
            }
        ),
        "{e}"
    );
    let body = br#"{"metric":{"__name__":"m","a":"1","a":"2"},"values":[1],"timestamps":[1]}"#;
    let e = parse(body, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            IngestError::LineSeries {
                problem: SeriesProblem::Model(ModelError::DuplicateLabel { .. }),
                ..
            }
        ),
        "{e}"
    );
    let body = br#"{"metric":{"__name__":"m","2xx":"1"},"values":[1],"timestamps":[1]}"#;
    let e = parse(body, &Limits::default()).unwrap_err();
    assert!(
        e.to_string().contains("label name \"2xx\" is invalid"),
        "{e}"
    );
}

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(STALE_NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        any::<u64>().prop_map(f64::from_bits),
    ]
}

proptest! {
    #[test]
    fn export_then_import_is_bit_exact(
        values in proptest::collection::vec((any::<i64>(), arb_value()), 1..8),
        job in "[ -~é\n\t]{1,12}",
    ) {
        let l = labels(&[("__name__", "agent_tokens_total"), ("job", &job)]);
        let samples: Vec<Sample> = values.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        let mut out = Vec::new();
        write_line(&mut out, &l, &samples);
        let back = parse(&out, &Limits::default()).unwrap();
        prop_assert_eq!(&back[0].0, &l);
        for (got, want) in back[0].1.iter().zip(&samples) {
            prop_assert_eq!(got.t, want.t);
            if want.v.is_nan() && !is_stale_nan(want.v) {
                // Payloads of ordinary NaNs are not kept (see the module docs).
                prop_assert!(got.v.is_nan() && !is_stale_nan(got.v));
            } else {
                prop_assert_eq!(got.v.to_bits(), want.v.to_bits());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes, &Limits::default());
    }

    #[test]
    fn json_like_text_never_panics(text in "[{}\\[\\]\":,a-z_0-9.eE+\\- \\\\un\n]{0,80}") {
        let _ = parse(text.as_bytes(), &Limits::default());
    }
}
