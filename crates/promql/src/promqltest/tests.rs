//! Unit tests of the script parser: each notation and command form, with the
//! exact structure it must produce.

use agentmon_model::Labels;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn only_command(script: &str) -> Command {
    let mut parsed = parse(script).unwrap();
    assert_eq!(parsed.commands.len(), 1, "{parsed:?}");
    parsed.commands.remove(0)
}

fn only_eval(script: &str) -> EvalCommand {
    match only_command(script) {
        Command::Eval(eval) => eval,
        other => panic!("expected eval, got {other:?}"),
    }
}

fn load_points(values: &str) -> Vec<LoadPoint> {
    match only_command(&format!("load 1m\n  m {values}\n")) {
        Command::Load { mut series, .. } => series.remove(0).points,
        other => panic!("expected load, got {other:?}"),
    }
}

fn float_values(points: &[LoadPoint]) -> Vec<(i64, f64)> {
    points
        .iter()
        .map(|p| match p {
            LoadPoint::Value { t_ms, v } => (*t_ms, *v),
            other => panic!("expected a float, got {other:?}"),
        })
        .collect()
}

const M: i64 = 60_000;

#[test]
fn load_expands_the_format_md_example() {
    let script = "load 1m\n    my_metric{env=\"prod\"} 5 2+3x2 _ stale {{schema:1 sum:3 count:22 buckets:[5 10 7]}}\n";
    let expected = Command::Load {
        line: 1,
        interval_ms: M,
        with_nhcb: false,
        series: vec![LoadSeries {
            line: 2,
            labels: labels(&[("__name__", "my_metric"), ("env", "prod")]),
            points: vec![
                LoadPoint::Value { t_ms: 0, v: 5.0 },
                LoadPoint::Value { t_ms: M, v: 2.0 },
                LoadPoint::Value {
                    t_ms: 2 * M,
                    v: 5.0,
                },
                LoadPoint::Value {
                    t_ms: 3 * M,
                    v: 8.0,
                },
                LoadPoint::Stale { t_ms: 5 * M },
                LoadPoint::Histogram {
                    t_ms: 6 * M,
                    literal: HistogramLiteral {
                        text: "{{schema:1 sum:3 count:22 buckets:[5 10 7]}}".to_owned(),
                        position: 0,
                    },
                },
            ],
        }],
    };
    assert_eq!(only_command(script), expected);
}

#[test]
fn series_notation_expands_like_prometheus() {
    assert_eq!(
        float_values(&load_points("0+10x3")),
        [(0, 0.0), (M, 10.0), (2 * M, 20.0), (3 * M, 30.0)]
    );
    assert_eq!(
        float_values(&load_points("10-2x2")),
        [(0, 10.0), (M, 8.0), (2 * M, 6.0)]
    );
    assert_eq!(float_values(&load_points("-1-1x1")), [(0, -1.0), (M, -2.0)]);
    assert_eq!(
        float_values(&load_points("7x2")),
        [(0, 7.0), (M, 7.0), (2 * M, 7.0)]
    );
    // `_xN` is N missing values (not N+1); `0x2` is 0 repeated, not hex.
    assert_eq!(
        float_values(&load_points("1 _x3 0x2")),
        [(0, 1.0), (4 * M, 0.0), (5 * M, 0.0), (6 * M, 0.0)]
    );
    assert_eq!(
        float_values(&load_points("1e3 .5 2. -Inf +inf 010")),
        [
            (0, 1000.0),
            (M, 0.5),
            (2 * M, 2.0),
            (3 * M, f64::NEG_INFINITY),
            (4 * M, f64::INFINITY),
            (5 * M, 8.0)
        ]
    );
    // Increments accumulate by repeated addition, as in Prometheus.
    let mut expected = 0.0;
    for (_, v) in float_values(&load_points("0+0.1x10")) {
        assert_eq!(v.to_bits(), f64::to_bits(expected));
        expected += 0.1;
    }
    let nan = load_points("NaN");
    assert!(matches!(nan[0], LoadPoint::Value { v, .. } if v.is_nan()));
}

#[test]
fn stale_and_histogram_items() {
    assert_eq!(
        load_points("stale _ stale"),
        [
            LoadPoint::Stale { t_ms: 0 },
            LoadPoint::Stale { t_ms: 2 * M }
        ]
    );
    let histograms =
        load_points("{{sum:2 count:2}}+{{sum:3 count:3}}x2 {{schema:0 sum:1 count:1}}x1");
    let seen: Vec<(i64, &str, u64)> = histograms
        .iter()
        .map(|p| match p {
            LoadPoint::Histogram { t_ms, literal } => {
                (*t_ms, literal.text.as_str(), literal.position)
            }
            other => panic!("expected a histogram, got {other:?}"),
        })
        .collect();
    let ramp = "{{sum:2 count:2}}+{{sum:3 count:3}}x2";
    let flat = "{{schema:0 sum:1 count:1}}x1";
    assert_eq!(
        seen,
        [
            (0, ramp, 0),
            (M, ramp, 1),
            (2 * M, ramp, 2),
            (3 * M, flat, 0),
            (4 * M, flat, 1)
        ]
    );
}

#[test]
fn bad_series_notation_is_an_error_with_its_line() {
    for values in [
        "1+2",
        "abc",
        "1x",
        "1+x3",
        "Infx3",
        "{{sum:1",
        "1.2.3",
        "_x",
        "1xx",
        "0x99999999999",
    ] {
        let error = parse(&format!("\nload 1m\n  m {values}\n")).unwrap_err();
        assert_eq!(error.line, 3, "{values}: {error}");
    }
    let error = parse("load 1m\n  m{a=b} 1\n").unwrap_err();
    assert_eq!(error.line, 2);
    let error = parse("load 5x\n").unwrap_err();
    assert_eq!(error.line, 1);
}

#[test]
fn label_sets_use_promql_syntax_with_escapes() {
    let line = r#"load 30s
  {__name__="a:b", x="q\"u\\o\n", y='s', z=`raw\n`,} 1
  name{} 1
  {"quoted_name", e=""} 1
"#;
    match only_command(line) {
        Command::Load {
            interval_ms,
            series,
            ..
        } => {
            assert_eq!(interval_ms, 30_000);
            assert_eq!(
                series[0].labels,
                labels(&[
                    ("__name__", "a:b"),
                    ("x", "q\"u\\o\n"),
                    ("y", "s"),
                    ("z", r"raw\n")
                ])
            );
            assert_eq!(series[1].labels, labels(&[("__name__", "name")]));
            assert_eq!(series[2].labels.metric_name(), Some("quoted_name"));
            assert_eq!(series[2].labels.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // Quoted names parse, but agentmon's label model only has classic names.
    let error = parse("load 1m\n  {\"dotted.name\"} 1\n").unwrap_err();
    assert!(error.message.contains("dotted.name"), "{error}");
}

#[test]
fn commands_blocks_comments_and_lines() {
    let script = "# comment\nload_with_nhcb 5m\n\tm 1\n# ends the block\nclear\n\nCLEAR\n";
    let parsed = parse(script).unwrap();
    let lines: Vec<usize> = parsed.commands.iter().map(Command::line).collect();
    assert_eq!(lines, [2, 5, 7]);
    assert!(matches!(
        parsed.commands[0],
        Command::Load {
            with_nhcb: true,
            interval_ms: 300_000,
            ..
        }
    ));
    assert_eq!(parse("frobnicate\n").unwrap_err().line, 1);
    assert_eq!(parse("load_foo 1m\n").unwrap_err().line, 1);
}

#[test]
fn instant_eval_with_series_and_scalar_results() {
    let eval =
        only_eval("eval instant at 1m30s sum by (env) (my_metric)\n  {env=\"prod\"} 5\n  m _\n");
    assert_eq!(eval.line, 1);
    assert_eq!(eval.kind, EvalKind::Instant { at_ms: 90_000 });
    assert_eq!(eval.expr, "sum by (env) (my_metric)");
    assert!(eval.expectations.is_empty());
    assert!(!eval.ordered);
    assert_eq!(
        eval.result,
        ExpectedResult::Series(vec![
            ExpectedSeries {
                line: 2,
                labels: labels(&[("env", "prod")]),
                values: vec![SequenceValue::Float(5.0)],
            },
            ExpectedSeries {
                line: 3,
                labels: labels(&[("__name__", "m")]),
                values: vec![SequenceValue::Missing],
            },
        ])
    );
    let scalar = only_eval("eval instant at 50m 12.34e6\n\t12340000\n");
    assert_eq!(scalar.result, ExpectedResult::Scalar(12_340_000.0));
    let empty = only_eval("eval instant at 0 metric @ 100\n");
    assert_eq!(empty.expr, "metric @ 100");
    assert_eq!(empty.result, ExpectedResult::Series(vec![]));
    let error = parse("eval instant at 0 m\n  {} 1 2\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert_eq!(parse("eval instant at 0\n").unwrap_err().line, 1);
    assert_eq!(parse("eval instant 0 m\n").unwrap_err().line, 1);
}

#[test]
fn range_eval_keeps_gaps_in_position() {
    let eval = only_eval("eval range from 0 to 3m step 1m rate(x[5m])\n  {} 1 _ 3+1x1\n");
    assert_eq!(
        eval.kind,
        EvalKind::Range {
            start_ms: 0,
            end_ms: 3 * M,
            step_ms: M
        }
    );
    assert_eq!(eval.expr, "rate(x[5m])");
    let ExpectedResult::Series(series) = eval.result else {
        panic!("expected series");
    };
    assert_eq!(series[0].labels, Labels::default());
    assert_eq!(
        series[0].values,
        [
            SequenceValue::Float(1.0),
            SequenceValue::Missing,
            SequenceValue::Float(3.0),
            SequenceValue::Float(4.0)
        ]
    );
    assert!(parse("eval range from 2m to 1m step 1m x\n").is_err());
    assert!(parse("eval_ordered range from 0 to 1m step 1m x\n").is_err());
}

#[test]
fn expect_lines() {
    let eval = only_eval(
        "eval range from 0 to 3m step 1m x\n    expect warn msg: something went wrong\n    expect info regex: something went (wrong|boom)\n    expect ordered\n    expect fail\n",
    );
    assert_eq!(
        eval.expectations,
        [
            Expectation::Warn(MessageMatch::Exact("something went wrong".to_owned())),
            Expectation::Info(MessageMatch::Regex(
                "something went (wrong|boom)".to_owned()
            )),
            Expectation::Ordered,
            Expectation::Fail(MessageMatch::Any),
        ]
    );
    assert!(eval.ordered);
    assert!(eval.expects_failure());
    let eval = only_eval("eval instant at 0 x\nexpect no_warn\nexpect no_info\n");
    assert_eq!(
        eval.expectations,
        [Expectation::NoWarn, Expectation::NoInfo]
    );
    let quoted = only_eval("eval instant at 1m x\nexpect fail msg: \"quoted\"\n");
    assert_eq!(
        quoted.expectations,
        [Expectation::Fail(MessageMatch::Exact(
            "\"quoted\"".to_owned()
        ))]
    );
    for bad in [
        "expect warn\nexpect no_warn",
        "expect info\nexpect no_info",
        "expect fail\nexpect fail",
        "expect sometimes",
        "expect warn msg:",
        "expect fail regex: (",
        "expect ordered msg: x",
    ] {
        let error = parse(&format!("eval instant at 0 x\n{bad}\n")).unwrap_err();
        assert!(error.line >= 2, "{bad}: {error}");
    }
}

#[test]
fn deprecated_eval_forms_become_expectations() {
    let eval = only_eval("eval_fail instant at 0 count_values(\"a\\xc5z\", v)\n  expected_fail_message invalid label name \"a\\xc5z\"\n");
    assert_eq!(eval.deprecated_form, Some(DeprecatedEvalForm::Fail));
    assert_eq!(
        eval.expectations,
        [Expectation::Fail(MessageMatch::Exact(
            "invalid label name \"a\\xc5z\"".to_owned()
        ))]
    );
    let eval = only_eval("eval_fail instant at 0 x\n  expected_fail_regexp bad.*\n");
    assert_eq!(
        eval.expectations,
        [Expectation::Fail(MessageMatch::Regex("bad.*".to_owned()))]
    );
    let eval = only_eval("eval_fail instant at 0 x\n");
    assert_eq!(eval.expectations, [Expectation::Fail(MessageMatch::Any)]);
    let eval = only_eval("eval_warn instant at 0 x\n");
    assert_eq!(eval.expectations, [Expectation::Warn(MessageMatch::Any)]);
    let eval = only_eval("eval_info range from 0 to 1m step 1m x\n");
    assert_eq!(eval.expectations, [Expectation::Info(MessageMatch::Any)]);
    let eval = only_eval("eval_ordered instant at 0 x\n  a 1\n  b 2\n");
    assert!(eval.ordered);
    assert_eq!(eval.expectations, [Expectation::Ordered]);
    assert!(parse("eval_sometimes instant at 0 x\n").is_err());
}

#[test]
fn range_vector_and_string_expectations() {
    let eval = only_eval(
        "eval instant at 1m m[1m]\n  expect range vector from 10s to 1m step 10s\n  m 1 2 3\n",
    );
    assert_eq!(
        eval.range_vector,
        Some(RangeVectorWindow {
            start_ms: 10_000,
            end_ms: M,
            step_ms: 10_000
        })
    );
    let eval = only_eval("eval instant at 0 \"a b\"\n  expect string \"a b\"\n");
    assert_eq!(eval.result, ExpectedResult::String("a b".to_owned()));
    assert!(parse("eval instant at 0 x\n  expect string\n").is_err());
    assert!(parse("eval instant at 0 x\n  expect string \"a\" b\n").is_err());
}

#[test]
fn histogram_literals_in_expected_results_are_flagged() {
    let eval = only_eval("eval instant at 0 h\n  h {{schema:0 sum:1 count:1}}\n");
    assert!(eval.has_histogram_literals());
    let eval = only_eval("eval instant at 0 h\n  h 1\n");
    assert!(!eval.has_histogram_literals());
}
