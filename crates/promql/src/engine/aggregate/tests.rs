//! Aggregation tests on small hand-made vectors.

use agentmon_model::Labels;

use super::*;
use crate::annotations::Annotations;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

/// Six series of `http`: two jobs, three instances each, values 1..=6.
fn input() -> Vec<Element> {
    let mut out = Vec::new();
    for (i, (job, instance)) in [
        ("api", "a"),
        ("api", "b"),
        ("api", "c"),
        ("web", "a"),
        ("web", "b"),
        ("web", "c"),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(Element {
            labels: labels(&[("__name__", "http"), ("job", job), ("instance", instance)]),
            v: (i + 1) as f64,
            drop_name: false,
        });
    }
    out
}

fn run(query: &str, input: Vec<Element>) -> Result<Vec<(Labels, f64)>, PromqlError> {
    run_annotated(query, input).0
}

/// Like [`run`], also returning the annotations raised.
fn run_annotated(
    query: &str,
    input: Vec<Element>,
) -> (Result<Vec<(Labels, f64)>, PromqlError>, Annotations) {
    let expr = promql_parser::parser::parse(query).unwrap();
    let promql_parser::parser::Expr::Aggregate(agg) = expr else {
        panic!("{query} is not an aggregation");
    };
    let param = agg.param.as_deref().map(|p| match p {
        promql_parser::parser::Expr::NumberLiteral(n) => EvalValue::Scalar(n.val),
        promql_parser::parser::Expr::StringLiteral(s) => EvalValue::String(s.val.clone()),
        promql_parser::parser::Expr::Unary(u) => match &*u.expr {
            promql_parser::parser::Expr::NumberLiteral(n) => EvalValue::Scalar(-n.val),
            _ => panic!("unsupported parameter"),
        },
        _ => panic!("unsupported parameter"),
    });
    let mut annotations = Annotations::default();
    let result =
        evaluate(&agg, EvalValue::Vector(input), param, &mut annotations).map(
            |value| match value {
                EvalValue::Vector(elems) => elems.into_iter().map(|e| (e.labels, e.v)).collect(),
                other => panic!("not a vector: {other:?}"),
            },
        );
    (result, annotations)
}

fn by_job(query: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = run(query, input())
        .unwrap()
        .into_iter()
        .map(|(l, v)| (l.to_string(), v))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn sum_avg_count_group_by_job() {
    let api = r#"{job="api"}"#.to_owned();
    let web = r#"{job="web"}"#.to_owned();
    assert_eq!(
        by_job("sum by (job) (http)"),
        vec![(api.clone(), 6.0), (web.clone(), 15.0)]
    );
    assert_eq!(
        by_job("avg by (job) (http)"),
        vec![(api.clone(), 2.0), (web.clone(), 5.0)]
    );
    assert_eq!(
        by_job("count by (job) (http)"),
        vec![(api.clone(), 3.0), (web.clone(), 3.0)]
    );
    assert_eq!(
        by_job("group by (job) (http)"),
        vec![(api.clone(), 1.0), (web.clone(), 1.0)]
    );
    assert_eq!(
        by_job("min by (job) (http)"),
        vec![(api.clone(), 1.0), (web.clone(), 4.0)]
    );
    assert_eq!(by_job("max by (job) (http)"), vec![(api, 3.0), (web, 6.0)]);
}

#[test]
fn without_drops_the_listed_labels_and_the_name() {
    let out = by_job("sum without (job) (http)");
    assert_eq!(
        out,
        vec![
            (r#"{instance="a"}"#.to_owned(), 5.0),
            (r#"{instance="b"}"#.to_owned(), 7.0),
            (r#"{instance="c"}"#.to_owned(), 9.0),
        ]
    );
    assert_eq!(by_job("sum(http)"), vec![("{}".to_owned(), 21.0)]);
}

#[test]
fn stddev_and_stdvar_are_population_statistics() {
    let out = by_job("stdvar by (job) (http)");
    assert!((out[0].1 - 2.0 / 3.0).abs() < 1e-12);
    let out = by_job("stddev(http)");
    assert!((out[0].1 - (35.0f64 / 12.0).sqrt()).abs() < 1e-12);
}

#[test]
fn quantile_interpolates_and_saturates_outside_zero_to_one() {
    assert_eq!(by_job("quantile(0.5, http)")[0].1, 3.5);
    assert_eq!(by_job("quantile by (job) (0.25, http)")[0].1, 1.5);
    assert_eq!(by_job("quantile(-1, http)")[0].1, f64::NEG_INFINITY);
    assert_eq!(by_job("quantile(2, http)")[0].1, f64::INFINITY);
    assert!(quantile(f64::NAN, &[1.0]).is_nan());
}

#[test]
fn topk_and_bottomk_keep_labels_sorted_with_nan_last() {
    let mut data = input();
    data[5].v = f64::NAN;
    let top = run("topk by (job) (2, http)", data.clone()).unwrap();
    let values: Vec<f64> = top.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, vec![3.0, 2.0, 5.0, 4.0]);
    assert_eq!(top[0].0.get("__name__"), Some("http"));
    let bottom = run("bottomk(7, http)", data).unwrap();
    assert_eq!(bottom.len(), 6);
    assert_eq!(bottom[0].1, 1.0);
    assert!(bottom[5].1.is_nan());
    assert!(run("topk(0, http)", input()).unwrap().is_empty());
    assert_eq!(
        run("topk(-1, http)", input()).unwrap(),
        Vec::<(Labels, f64)>::new()
    );
}

#[test]
fn count_values_labels_each_value() {
    let mut data = input();
    data[1].v = 1.0;
    data[2].v = f64::INFINITY;
    let out = run(r#"count_values("value", http)"#, data).unwrap();
    let mut out: Vec<(String, f64)> = out.into_iter().map(|(l, v)| (l.to_string(), v)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out[0], (r#"{value="+Inf"}"#.to_owned(), 1.0));
    assert_eq!(out[1], (r#"{value="1"}"#.to_owned(), 2.0));
    assert_eq!(out.len(), 5);
    assert!(matches!(
        run(r#"count_values("", http)"#, input()),
        Err(PromqlError::InvalidLabelName { .. })
    ));
}

#[test]
fn avg_survives_overflow_and_infinities() {
    let big = |v: f64| Element {
        labels: Labels::default(),
        v,
        drop_name: false,
    };
    let huge = f64::MAX / 2.0 * 1.5;
    let mean = |values: &[f64]| fold(FoldKind::Mean, values);
    assert_eq!(mean(&[huge, huge, huge]), huge);
    assert_eq!(mean(&[1.0, f64::INFINITY]), f64::INFINITY);
    assert!(mean(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    assert_eq!(fold(FoldKind::Sum, &[1e100, 1.0, -1e100]), 1.0);
    assert_eq!(run("avg(x)", vec![big(1.0), big(2.0)]).unwrap()[0].1, 1.5);
}

#[test]
fn go_float_formats_like_strconv() {
    assert_eq!(go_float(1.0), "1");
    assert_eq!(go_float(0.1), "0.1");
    assert_eq!(go_float(1e21), "1000000000000000000000");
    assert_eq!(go_float(f64::NEG_INFINITY), "-Inf");
    assert_eq!(go_float(f64::NAN), "NaN");
}

#[test]
fn k_out_of_int64_range_is_an_error() {
    assert_eq!(
        run("topk(1e21, http)", input()).unwrap_err().to_string(),
        "Scalar value 1e+21 overflows int64"
    );
    assert_eq!(
        run("bottomk(NaN, http)", input()).unwrap_err().to_string(),
        "Scalar value NaN overflows int64"
    );
    assert_eq!(go_value(1e20), "100000000000000000000");
    assert_eq!(go_value(1.5e-7), "1.5e-07");
}

use crate::engine::memory_storage::MemoryStorage;

fn storage() -> MemoryStorage {
    let series = |instance: &str, values: [f64; 3]| agentmon_tsdb::Series {
        labels: labels(&[("__name__", "x"), ("instance", instance)]),
        samples: values
            .iter()
            .enumerate()
            .map(|(i, &v)| agentmon_model::Sample::new(i as i64 * 60_000, v))
            .collect(),
    };
    MemoryStorage::new(vec![
        series("a", [1.0, 5.0, 2.0]),
        series("b", [3.0, 4.0, 1.0]),
        series("c", [2.0, 6.0, 3.0]),
    ])
}

#[test]
fn range_queries_aggregate_at_every_step() {
    let engine = crate::Engine::default();
    let crate::Value::Matrix(series) = engine
        .range_query(&storage(), "topk(1, x)", 0, 120_000, 60_000)
        .unwrap()
    else {
        panic!("not a matrix");
    };
    let picked: Vec<(String, Vec<i64>)> = series
        .iter()
        .map(|s| {
            let instance = s.labels.get("instance").unwrap().to_owned();
            (instance, s.points.iter().map(|p| p.t).collect())
        })
        .collect();
    assert_eq!(
        picked,
        vec![
            ("b".to_owned(), vec![0]),
            ("c".to_owned(), vec![60_000, 120_000])
        ]
    );
}

#[test]
fn instant_topk_is_sorted_and_range_operands_are_type_errors() {
    let engine = crate::Engine::default();
    let crate::Value::Vector(samples) = engine
        .instant_query(&storage(), "bottomk(3, x)", 60_000)
        .unwrap()
    else {
        panic!("not a vector");
    };
    let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
    assert_eq!(values, vec![4.0, 5.0, 6.0]);
    let err = engine
        .instant_query(&storage(), "sum(x[5m])", 0)
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("expected type vector in aggregation expression"));
}

/// The instance labels of a result, in result order.
fn instances(out: &[(Labels, f64)]) -> Vec<String> {
    out.iter()
        .map(|(l, _)| format!("{}/{}", l.get("job").unwrap(), l.get("instance").unwrap()))
        .collect()
}

#[test]
fn limitk_keeps_the_first_k_series_of_each_group_unchanged() {
    let out = run("limitk by (job) (2, http)", input()).unwrap();
    assert_eq!(instances(&out), ["api/a", "api/b", "web/a", "web/b"]);
    // The series keep their name and values.
    assert_eq!(out[2].0.get("__name__"), Some("http"));
    assert_eq!(out[2].1, 4.0);
    let out = run("limitk without (instance) (1, http)", input()).unwrap();
    assert_eq!(instances(&out), ["api/a", "web/a"]);
    let out = run("limitk(100, http)", input()).unwrap();
    assert_eq!(out.len(), 6);
    // NaN values are kept like any other: limitk does not look at values.
    let mut data = input();
    data[0].v = f64::NAN;
    let out = run("limitk(1, http)", data).unwrap();
    assert!(out[0].1.is_nan());
}

#[test]
fn limitk_with_k_below_one_or_empty_input_is_empty() {
    assert!(run("limitk(0, http)", input()).unwrap().is_empty());
    assert!(run("limitk(-1, http)", input()).unwrap().is_empty());
    assert!(run("limitk(0.5, http)", input()).unwrap().is_empty());
    assert!(run("limitk(3, http)", Vec::new()).unwrap().is_empty());
    assert_eq!(
        run("limitk(NaN, http)", input()).unwrap_err().to_string(),
        "Scalar value NaN overflows int64"
    );
}

#[test]
fn label_hash_is_xxh64_over_names_and_values_with_0xff_separators() {
    let l = labels(&[("__name__", "up"), ("job", "a")]);
    let expected = xxhash_rust::xxh64::xxh64(b"__name__\xffup\xffjob\xffa\xff", 0);
    assert_eq!(limit::label_hash(&l, false), expected);
    // A pending name drop hashes the labels the series will end up with.
    let expected = xxhash_rust::xxh64::xxh64(b"job\xffa\xff", 0);
    assert_eq!(limit::label_hash(&l, true), expected);
    // The empty label set: the XXH64 test vector for no input.
    assert_eq!(
        limit::label_hash(&Labels::default(), false),
        0xef46_db37_51d8_e999
    );
}

/// Many series, so ratios select visibly different subsets.
fn many_series() -> Vec<Element> {
    (0..200)
        .map(|i| Element {
            labels: labels(&[("__name__", "m"), ("id", &i.to_string())]),
            v: i as f64,
            drop_name: false,
        })
        .collect()
}

fn ids(out: &[(Labels, f64)]) -> std::collections::BTreeSet<String> {
    out.iter()
        .map(|(l, _)| l.get("id").unwrap().to_owned())
        .collect()
}

#[test]
fn limit_ratio_and_its_complement_split_the_input() {
    for (r, complement) in [("0.2", "-0.8"), ("0.5", "-0.5"), ("0.8", "-0.2")] {
        let part = ids(&run(&format!("limit_ratio({r}, m)"), many_series()).unwrap());
        let rest = ids(&run(&format!("limit_ratio({complement}, m)"), many_series()).unwrap());
        assert!(part.is_disjoint(&rest), "{r}");
        assert_eq!(part.len() + rest.len(), 200, "{r}");
        // Roughly the asked share: the hash spreads series evenly.
        let share: f64 = r.parse().unwrap();
        let got = part.len() as f64 / 200.0;
        assert!((got - share).abs() < 0.15, "{r}: {got}");
    }
    // A larger ratio keeps a superset, the same series every time.
    let small = ids(&run("limit_ratio(0.3, m)", many_series()).unwrap());
    let large = ids(&run("limit_ratio(0.6, m)", many_series()).unwrap());
    assert!(small.is_subset(&large) && small.len() < large.len());
    // Grouping changes the order, not the selection.
    let grouped = ids(&run("limit_ratio by (id) (0.3, m)", many_series()).unwrap());
    assert_eq!(grouped, small);
}

#[test]
fn limit_ratio_edges_cap_warn_and_fail() {
    assert!(run("limit_ratio(0, m)", many_series()).unwrap().is_empty());
    assert_eq!(run("limit_ratio(1, m)", many_series()).unwrap().len(), 200);
    assert_eq!(run("limit_ratio(-1, m)", many_series()).unwrap().len(), 200);
    let (out, annotations) = run_annotated("limit_ratio(1.1, m)", many_series());
    assert_eq!(out.unwrap().len(), 200);
    assert_eq!(
        annotations.warnings(),
        ["PromQL warning: ratio value should be between -1 and 1, got 1.1, capping to 1"]
    );
    let (_, annotations) = run_annotated("limit_ratio(-1.1, m)", many_series());
    assert!(annotations.warnings()[0].ends_with("got -1.1, capping to -1"));
    let (_, annotations) = run_annotated("limit_ratio(0.5, m)", many_series());
    assert!(annotations.is_empty());
    assert_eq!(
        run("limit_ratio(NaN, m)", many_series()).unwrap_err(),
        PromqlError::RatioIsNaN
    );
}

#[test]
fn quantile_outside_zero_to_one_warns() {
    let (out, annotations) = run_annotated("quantile(1.5, http)", input());
    assert_eq!(out.unwrap()[0].1, f64::INFINITY);
    assert_eq!(
        annotations.warnings(),
        ["PromQL warning: quantile value should be between 0 and 1, got 1.5"]
    );
    let (_, annotations) = run_annotated("quantile(0.5, http)", input());
    assert!(annotations.is_empty());
}
