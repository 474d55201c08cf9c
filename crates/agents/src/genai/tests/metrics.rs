//! The semconv histograms: buckets, labels, rendering, samples, overflow.

use agentmon_ingest::events::EventLimits;

use super::*;
use crate::semconv::Instrument;
use crate::{AgentMetrics, AgentMetricsOptions};

#[test]
fn histograms_have_the_semconv_buckets_and_labels() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    metrics.apply_genai(&map_spans(&agent_run(), &EventLimits::default()));
    let text = metrics.render();

    let op = "gen_ai_client_operation_duration_seconds";
    let chat = "agent=\"planner\",instance=\"pod-7\",gen_ai_operation_name=\"chat\",\
                gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\",\
                gen_ai_response_model=\"gpt-4o-2024-08-06\"";
    assert!(
        text.contains(&format!("# HELP {op} GenAI operation duration")),
        "{text}"
    );
    assert!(text.contains(&format!("# TYPE {op} histogram")));
    // 1.2 s and 3.2 s.
    for (le, count) in [
        ("0.64", 0),
        ("1.28", 1),
        ("2.56", 1),
        ("5.12", 2),
        ("81.92", 2),
        ("+Inf", 2),
    ] {
        assert_eq!(
            value(&text, &format!("{op}_bucket{{{chat},le=\"{le}\"}}")),
            count as f64,
            "le={le}"
        );
    }
    assert_eq!(value(&text, &format!("{op}_sum{{{chat}}}")), 4.4);
    assert_eq!(value(&text, &format!("{op}_count{{{chat}}}")), 2.0);
    // Every boundary of the spec is there, and no other.
    let les: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{op}_bucket{{")))
        .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        les,
        [
            "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12",
            "10.24", "20.48", "40.96", "81.92", "+Inf"
        ]
    );

    let tokens = "gen_ai_client_token_usage";
    let input = format!("{chat},gen_ai_token_type=\"input\"");
    let output = format!("{chat},gen_ai_token_type=\"output\"");
    // Input 1200 and 1500; output 80 and 300.
    for (le, count) in [("256", 0), ("1024", 0), ("4096", 2), ("16384", 2)] {
        assert_eq!(
            value(&text, &format!("{tokens}_bucket{{{input},le=\"{le}\"}}")),
            count as f64
        );
    }
    for (le, count) in [("64", 0), ("256", 1), ("1024", 2), ("67108864", 2)] {
        assert_eq!(
            value(&text, &format!("{tokens}_bucket{{{output},le=\"{le}\"}}")),
            count as f64
        );
    }
    assert_eq!(value(&text, &format!("{tokens}_sum{{{input}}}")), 2700.0);
    assert_eq!(value(&text, &format!("{tokens}_sum{{{output}}}")), 380.0);

    let tool = "gen_ai_execute_tool_duration_seconds";
    let tool_labels = "agent=\"planner\",instance=\"pod-7\",gen_ai_tool_name=\"get_weather\"";
    assert_eq!(
        value(
            &text,
            &format!("{tool}_bucket{{{tool_labels},le=\"0.16\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{tool}_bucket{{{tool_labels},le=\"0.32\"}}")
        ),
        1.0
    );
    assert_eq!(value(&text, &format!("{tool}_sum{{{tool_labels}}}")), 0.25);

    let agent = "gen_ai_invoke_agent_duration_seconds";
    let agent_labels = "agent=\"planner\",instance=\"pod-7\",gen_ai_agent_name=\"planner\",gen_ai_provider_name=\"openai\"";
    assert_eq!(
        value(
            &text,
            &format!("{agent}_bucket{{{agent_labels},le=\"2.56\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{agent}_bucket{{{agent_labels},le=\"5.12\"}}")
        ),
        1.0
    );

    // The events fed the Hermes families too, and closed the session.
    assert_eq!(
        value(&text, "hermes_tool_call_total{agent=\"planner\",instance=\"pod-7\",tool_name=\"get_weather\",status=\"success\"}"),
        1.0
    );
    assert_eq!(metrics.open_sessions(), 0);
    // The semconv families come after the namespaced ones.
    assert!(
        text.find("# TYPE hermes_llm_errors_total").unwrap_or(0)
            < text.find(&format!("# TYPE {op}")).unwrap()
    );

    // The TSDB samples hold the same series, names without the namespace.
    let samples = metrics.samples();
    let bucket = samples
        .iter()
        .find(|(labels, _)| {
            labels.get("__name__") == Some(format!("{tool}_bucket").as_str())
                && labels.get("le") == Some("0.32")
        })
        .expect("tool bucket sample");
    assert_eq!(bucket.1, 1.0);
    assert_eq!(bucket.0.get("error_type"), None);
    assert_eq!(bucket.0.get("gen_ai_tool_name"), Some("get_weather"));
}

#[test]
fn a_full_family_folds_new_label_sets_into_one_overflow_series() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    let observations: Vec<Observation> = (0..crate::semconv::MAX_SERIES_PER_FAMILY + 5)
        .map(|n| Observation {
            agent: "a".into(),
            instance: "i".into(),
            instrument: Instrument::ExecuteToolDuration {
                tool_name: format!("tool-{n}"),
                error_type: None,
            },
            value: 0.5,
        })
        .collect();
    metrics.observe(&observations);
    // Old label sets still count where they are; NaN and negatives are
    // ignored.
    let mut again = observations[0].clone();
    metrics.observe(&[again.clone()]);
    again.value = f64::NAN;
    metrics.observe(&[again.clone()]);
    again.value = -1.0;
    metrics.observe(&[again]);
    let text = metrics.render();
    let counts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("gen_ai_execute_tool_duration_seconds_count{"))
        .collect();
    assert_eq!(counts.len(), crate::semconv::MAX_SERIES_PER_FAMILY + 1);
    assert_eq!(
        value(
            &text,
            "gen_ai_execute_tool_duration_seconds_count{agent=\"_OTHER\",instance=\"_OTHER\",\
             gen_ai_tool_name=\"_OTHER\",error_type=\"_OTHER\"}"
        ),
        5.0
    );
    assert_eq!(
        value(&text, "gen_ai_execute_tool_duration_seconds_count{agent=\"a\",instance=\"i\",gen_ai_tool_name=\"tool-0\"}"),
        2.0
    );
}
