//! Tests of the text exposition parser.

use agentmon_model::{is_stale_nan, Labels, MetricType, ModelError, Sample};
use proptest::prelude::*;

use super::parse;
use crate::{IngestError, Limits, SeriesProblem};

const NOW: i64 = 1_700_000_000_000;

fn ok(input: &str) -> super::Exposition {
    parse(input, NOW, &Limits::default()).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn err(input: &str) -> IngestError {
    parse(input, NOW, &Limits::default()).expect_err(input)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

#[test]
fn parses_a_typical_exposition() {
    let input = "# HELP http_requests_total The total number of HTTP requests.\n\
                 # TYPE http_requests_total counter\n\
                 http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                 http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
                 \n\
                 # A plain comment\n\
                 # UNIT agent_tokens tokens\n\
                 agent_tokens 12.5\n\
                 msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
                 metric_without_timestamp_and_labels 12.47\n\
                 empty_braces{} -3982045\n";
    let e = ok(input);
    assert_eq!(e.samples.len(), 6);
    assert_eq!(
        e.samples[0],
        (
            labels(&[
                ("__name__", "http_requests_total"),
                ("code", "200"),
                ("method", "post")
            ]),
            Sample::new(1395066363000, 1027.0)
        )
    );
    assert_eq!(e.samples[2].1, Sample::new(NOW, 12.5));
    let path = e.samples[3].0.get("path").unwrap();
    assert_eq!(path, "C:\\DIR\\FILE.TXT");
    assert_eq!(
        e.samples[3].0.get("error").unwrap(),
        "Cannot find file:\n\"FILE.TXT\""
    );
    assert_eq!(e.samples[5].0, labels(&[("__name__", "empty_braces")]));
    assert_eq!(e.metadata.len(), 2);
    assert_eq!(e.metadata[0].0, "http_requests_total");
    assert_eq!(e.metadata[0].1.metric_type, MetricType::Counter);
    assert_eq!(e.metadata[0].1.help, "The total number of HTTP requests.");
    assert_eq!(e.metadata[1].1.unit, "tokens");
}

#[test]
fn parses_special_values_and_timestamps() {
    let e = ok("a NaN\nb +Inf\nc -Inf\nd Inf\ne inf\nf nan\ng -infinity 5\nh 1 -5\ni 1e3\nj -0\n");
    let v: Vec<f64> = e.samples.iter().map(|(_, s)| s.v).collect();
    assert!(v[0].is_nan() && !is_stale_nan(v[0]) && v[5].is_nan());
    assert_eq!(
        &v[1..5],
        &[
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::INFINITY
        ]
    );
    assert_eq!(v[6], f64::NEG_INFINITY);
    assert_eq!(e.samples[6].1.t, 5);
    assert_eq!(e.samples[7].1.t, -5);
    assert_eq!(v[8], 1000.0);
    assert_eq!(v[9].to_bits(), (-0.0f64).to_bits());
}

#[test]
fn accepts_loose_whitespace_trailing_commas_and_crlf() {
    let e = ok("  up { job = \"a\" , instance=\"b\", } 1 \r\n\tdown 0\t\r\n");
    assert_eq!(
        e.samples[0].0,
        labels(&[("__name__", "up"), ("instance", "b"), ("job", "a")])
    );
    assert_eq!(e.samples[1].1.v, 0.0);
    // an empty label value means "no label"
    assert_eq!(
        ok("up{job=\"\"} 1").samples[0].0,
        labels(&[("__name__", "up")])
    );
}

#[test]
fn help_unescapes_backslash_and_newline() {
    let e = ok("# HELP m line one\\nline two \\\\ done\nm 1\n");
    assert_eq!(e.metadata[0].1.help, "line one\nline two \\ done");
    assert_eq!(ok("# HELP m\n").metadata[0].1.help, "");
    assert_eq!(ok("# HELP m   spaced  \n").metadata[0].1.help, "spaced  ");
    let small = Limits {
        max_body_bytes: 3,
        ..Limits::default()
    };
    assert!(matches!(
        parse("up 1", 0, &small),
        Err(IngestError::BodyTooLarge { size: 4, limit: 3 })
    ));
}

fn line_and_reason(e: IngestError) -> (usize, String) {
    match e {
        IngestError::TextSyntax { line, reason } => (line, reason),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn syntax_errors_name_their_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("ok 1\nbad{ 1\n", 2, "label"),
        ("up 1 2 3", 1, "unexpected text after the timestamp"),
        ("up 1 1.5", 1, "invalid timestamp"),
        ("up one", 1, "invalid value"),
        ("up +NaN", 1, "invalid value"),
        ("up 0x10", 1, "invalid value"),
        ("up", 1, "has no value"),
        ("up{a=\"b\"}1", 1, "blank before the value"),
        ("up{a=\"b} 1", 1, "not closed"),
        ("up{a=b} 1", 1, "expected '\"'"),
        ("up{a=\"\\t\"} 1", 1, "invalid escape"),
        ("up{a=\"b\" c=\"d\"} 1", 1, "expected ',' or '}'"),
        ("{a=\"b\"} 1", 1, "expected a metric name"),
        ("\n\n9up 1", 3, "expected a metric name"),
        ("# TYPE up gauge\n# TYPE up counter\n", 2, "second # TYPE"),
        ("# HELP up a\n# HELP up b\n", 2, "second # HELP"),
        ("# TYPE up nonsense\n", 1, "unknown type"),
        (
            "# TYPE up gauge extra\n",
            1,
            "unexpected text after the type",
        ),
        ("# TYPE\n", 1, "needs a metric name"),
        ("# HELP bad-name x\n", 1, "metric name"),
        ("# HELP m \\q\n", 1, "invalid escape"),
    ];
    for &(input, line, needle) in cases {
        let (got_line, reason) = line_and_reason(err(input));
        assert_eq!(got_line, line, "{input:?}: {reason}");
        assert!(
            reason.contains(needle),
            "{input:?}: {reason:?} lacks {needle:?}"
        );
    }
}

#[test]
fn label_errors_name_line_and_labels() {
    let e = err("up 1\nup{job=\"a\",job=\"b\"} 1\n");
    assert_eq!(
        e.to_string(),
        "line 2 ({__name__=\"up\", job=\"a\", job=\"b\"}): label \"job\" appears more than once"
    );
    let e = err("up{__name__=\"x\"} 1");
    assert!(matches!(
        e,
        IngestError::LineSeries {
            problem: SeriesProblem::Model(ModelError::DuplicateLabel { .. }),
            ..
        }
    ));
    let e = err("up{job=\"\",job=\"b\"} 1");
    assert!(matches!(
        e,
        IngestError::LineSeries {
            problem: SeriesProblem::Model(ModelError::DuplicateLabel { .. }),
            ..
        }
    ));
    let limits = Limits {
        max_labels_per_series: 2,
        ..Limits::default()
    };
    let e = parse("up{a=\"1\",b=\"2\"} 1", 0, &limits).unwrap_err();
    assert!(matches!(
        e,
        IngestError::LineSeries {
            line: 1,
            problem: SeriesProblem::TooManyLabels { .. },
            ..
        }
    ));
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text, 0, &Limits::default());
    }

    #[test]
    fn format_like_text_never_panics(text in "[a-z_{}=\",# \\\\.\n0-9+\\-eEINaf]{0,80}") {
        let _ = parse(&text, 0, &Limits::default());
        let _ = super::parse_openmetrics(&text, 0, &Limits::default());
    }

    #[test]
    fn openmetrics_like_text_never_panics(text in "[a-z_{}=\",# \\\\.\n0-9+\\-eEINafO]{0,80}") {
        let with_eof = format!("{text}\n# EOF\n");
        let _ = super::parse_openmetrics(&with_eof, 0, &Limits::default());
    }
}

#[test]
fn openmetrics_body_with_eof_exemplars_and_second_timestamps() {
    let body = "# TYPE requests counter\n# UNIT requests_seconds seconds\n\
                # HELP requests Requests served.\n\
                requests_total{path=\"/a#b\"} 3 # {trace_id=\"abc\"} 1.0 1700000000.5\n\
                requests_created{path=\"/a#b\"} 1700000000.25\n\
                temp 21.5 1700000001.123\n# EOF\n";
    let out = super::parse_openmetrics(body, 42, &Limits::default()).unwrap();
    assert_eq!(out.samples.len(), 3);
    assert_eq!(out.samples[0].0.get("path"), Some("/a#b"));
    assert_eq!(out.samples[0].0.metric_name(), Some("requests_total"));
    assert_eq!(out.samples[0].1.t, 42);
    assert_eq!(out.samples[0].1.v, 3.0);
    assert_eq!(out.samples[1].0.metric_name(), Some("requests_created"));
    assert_eq!(out.samples[2].1.t, 1_700_000_001_123);
    assert_eq!(out.metadata[0].0, "requests");
    assert_eq!(out.metadata[0].1.metric_type, MetricType::Counter);
}

#[test]
fn openmetrics_requires_eof_last() {
    let missing = super::parse_openmetrics("a 1\n", 0, &Limits::default()).unwrap_err();
    assert!(missing.to_string().contains("# EOF"), "{missing}");
    let after = super::parse_openmetrics("a 1\n# EOF\nb 2\n", 0, &Limits::default()).unwrap_err();
    assert!(after.to_string().starts_with("line 3:"), "{after}");
    assert!(super::parse_openmetrics("a 1\n# EOF", 0, &Limits::default()).is_ok());
    let bad_ts = super::parse_openmetrics("a 1 soon\n# EOF\n", 0, &Limits::default()).unwrap_err();
    assert!(bad_ts.to_string().contains("seconds"), "{bad_ts}");
    // In the 0.0.4 format "# EOF" is an ordinary comment and '#' after a value is an error.
    assert!(super::parse("a 1\n# EOF\nb 2\n", 0, &Limits::default()).is_ok());
    assert!(super::parse("a 1 # {x=\"y\"} 1\n", 0, &Limits::default()).is_err());
}
