use std::collections::BTreeMap;

use agentmon_model::{AgentEvent, EventKind, LlmErrorType, SessionStatus, ToolStatus};

use crate::{AgentMetrics, AgentMetricsOptions};

fn event(session: &str, timestamp_ms: i64, kind: EventKind) -> AgentEvent {
    AgentEvent {
        session_id: session.into(),
        agent: "hermes".into(),
        instance: "a1".into(),
        timestamp_ms,
        kind,
    }
}

fn start(session: &str, at: i64) -> AgentEvent {
    event(
        session,
        at,
        EventKind::SessionStart {
            attributes: BTreeMap::new(),
        },
    )
}

fn step(session: &str, at: i64, seconds: f64) -> AgentEvent {
    event(
        session,
        at,
        EventKind::Step {
            model: "m".into(),
            provider: "nous".into(),
            step_type: "plan".into(),
            duration_seconds: seconds,
            prompt_tokens: 100,
            completion_tokens: 7,
            cost_usd: Some(0.25),
        },
    )
}

fn end(session: &str, at: i64, status: SessionStatus) -> AgentEvent {
    event(
        session,
        at,
        EventKind::SessionEnd {
            status,
            output: None,
        },
    )
}

fn tool(status: ToolStatus, seconds: f64) -> AgentEvent {
    event(
        "s1",
        1_000,
        EventKind::ToolCall {
            tool_name: "search".into(),
            status,
            duration_seconds: seconds,
            error: None,
        },
    )
}

/// The value of one exposition line, found by its full series text.
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

const L: &str = "agent=\"hermes\",instance=\"a1\"";

#[test]
fn a_known_sequence_gives_exact_values() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    metrics.apply(&[
        start("s1", 0),
        step("s1", 1_000, 0.1),
        step("s1", 2_000, 0.7),
        tool(ToolStatus::Success, 0.05),
        tool(ToolStatus::Timeout, 31.0),
        event(
            "s1",
            2_500,
            EventKind::LlmError {
                model: "m".into(),
                error: "Rate limit".into(),
                error_type: LlmErrorType::RateLimit,
            },
        ),
        start("s2", 2_600),
    ]);
    let text = metrics.render();
    assert_eq!(value(&text, &format!("hermes_active_sessions{{{L}}}")), 2.0);
    metrics.apply(&[end("s1", 4_500, SessionStatus::Completed)]);
    let text = metrics.render();

    assert!(text.contains(
        "# HELP hermes_step_duration_seconds Duration of a single reasoning step\n\
         # TYPE hermes_step_duration_seconds histogram\n"
    ));
    let step = format!("{L},model=\"m\",step_type=\"plan\"");
    // 0.1 falls in le="0.1" (upper-inclusive), 0.7 in le="1".
    assert_eq!(
        value(
            &text,
            &format!("hermes_step_duration_seconds_bucket{{{step},le=\"0.1\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_step_duration_seconds_bucket{{{step},le=\"0.5\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_step_duration_seconds_bucket{{{step},le=\"1\"}}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_step_duration_seconds_bucket{{{step},le=\"+Inf\"}}")
        ),
        2.0
    );
    assert!(
        (value(
            &text,
            &format!("hermes_step_duration_seconds_sum{{{step}}}")
        ) - 0.8)
            .abs()
            < 1e-12
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_step_duration_seconds_count{{{step}}}")
        ),
        2.0
    );

    assert_eq!(
        value(
            &text,
            &format!("hermes_tokens_total{{{L},model=\"m\",token_type=\"prompt\"}}")
        ),
        200.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_tokens_total{{{L},model=\"m\",token_type=\"completion\"}}")
        ),
        14.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_cost_usd_total{{{L},model=\"m\",provider=\"nous\"}}")
        ),
        0.5
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_tool_call_total{{{L},tool_name=\"search\",status=\"success\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_tool_call_total{{{L},tool_name=\"search\",status=\"timeout\"}}")
        ),
        1.0
    );
    let tool = format!("{L},tool_name=\"search\"");
    assert_eq!(
        value(
            &text,
            &format!("hermes_tool_duration_seconds_bucket{{{tool},le=\"0.05\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_tool_duration_seconds_bucket{{{tool},le=\"30\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_tool_duration_seconds_bucket{{{tool},le=\"+Inf\"}}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_llm_errors_total{{{L},model=\"m\",error_type=\"rate_limit\"}}")
        ),
        1.0
    );

    // s1 ended after 2 steps and 4.5 s; s2 is still open.
    assert_eq!(value(&text, &format!("hermes_active_sessions{{{L}}}")), 1.0);
    assert_eq!(
        value(
            &text,
            &format!("hermes_session_steps_total_bucket{{{L},le=\"1\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_session_steps_total_bucket{{{L},le=\"2\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&text, &format!("hermes_session_steps_total_count{{{L}}}")),
        1.0
    );
    let request = format!("{L},method=\"POST\",endpoint=\"/run\",status=\"success\"");
    assert_eq!(
        value(
            &text,
            &format!("hermes_request_duration_seconds_bucket{{{request},le=\"2\"}}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_request_duration_seconds_bucket{{{request},le=\"5\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_request_duration_seconds_sum{{{request}}}")
        ),
        4.5
    );

    // A second end of s1, or an end of a session never started, changes nothing.
    metrics.apply(&[
        end("s1", 5_000, SessionStatus::Failed),
        end("zz", 5_000, SessionStatus::Failed),
    ]);
    assert_eq!(metrics.render(), text);

    // The samples are the exposition's series, with sorted labels.
    let samples = metrics.samples();
    let series_lines = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples.len(), series_lines);
    let (labels, v) = samples
        .iter()
        .find(|(l, _)| l.metric_name() == Some("hermes_active_sessions"))
        .unwrap();
    assert_eq!(*v, 1.0);
    let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["__name__", "agent", "instance"]);
}

#[test]
fn silent_sessions_time_out_without_counting_as_completed() {
    let metrics = AgentMetrics::new(AgentMetricsOptions {
        namespace: "fleet".into(),
        session_timeout_ms: 60_000,
        ..AgentMetricsOptions::default()
    });
    metrics.apply(&[start("s1", 0), start("s2", 50_000)]);
    assert_eq!(metrics.open_sessions(), 2);
    let expired = metrics.expire_sessions(100_000);
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].session_id, "s1");
    assert_eq!((expired[0].started_ms, expired[0].last_seen_ms), (0, 0));
    assert_eq!(metrics.open_sessions(), 1);
    let text = metrics.render();
    assert_eq!(value(&text, &format!("fleet_active_sessions{{{L}}}")), 1.0);
    assert!(!text.contains("fleet_session_steps_total"), "{text}");
    // An event of a session moves its deadline.
    metrics.apply(&[step("s2", 105_000, 1.0)]);
    assert!(metrics.expire_sessions(160_000).is_empty());
    assert_eq!(metrics.open_sessions(), 1);
    // A batch whose event time is past the deadline closes it too.
    let closed = metrics.apply_with_observations(&[start("s3", 200_000)], &[]);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(
        (closed[0].session_id.as_str(), closed[0].last_seen_ms),
        ("s2", 105_000)
    );
    assert_eq!(closed[0].steps, 1);
}

#[test]
fn label_values_are_escaped() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    let mut e = tool(ToolStatus::Error, 1.0);
    if let EventKind::ToolCall { tool_name, .. } = &mut e.kind {
        *tool_name = "a\"b\\c\nd".into();
    }
    metrics.apply(&[e]);
    assert!(metrics
        .render()
        .contains("tool_name=\"a\\\"b\\\\c\\nd\",status=\"error\"} 1\n"));
}

fn priced_step(model: &str, prompt: u64, completion: u64, cost_usd: Option<f64>) -> AgentEvent {
    event(
        "s1",
        1_000,
        EventKind::Step {
            model: model.into(),
            provider: "p".into(),
            step_type: "plan".into(),
            duration_seconds: 1.0,
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost_usd,
        },
    )
}

#[test]
fn cost_is_the_clients_else_computed_else_unpriced_tokens() {
    let prices = crate::PriceTable::builtin()
        .with_overrides(&[("local".to_owned(), 1.0, 3.0)])
        .unwrap();
    let metrics = AgentMetrics::new(AgentMetricsOptions {
        namespace: "fleet".into(),
        prices,
        ..AgentMetricsOptions::default()
    });
    metrics.apply(&[
        // Client's cost wins over the price and over a missing price.
        priced_step("local", 1_000_000, 0, Some(0.5)),
        priced_step("unknown", 10, 5, Some(0.25)),
        // Computed: 2M prompt at $1 + 1M completion at $3.
        priced_step("local", 2_000_000, 1_000_000, None),
        // No price, no cost: tokens are unpriced, twice.
        priced_step("mystery", 100, 20, None),
        priced_step("mystery", 1, 2, None),
    ]);
    let text = metrics.render();
    let cost = |model: &str| {
        value(
            &text,
            &format!("fleet_cost_usd_total{{{L},model=\"{model}\",provider=\"p\"}}"),
        )
    };
    assert!((cost("local") - 5.5).abs() < 1e-9, "{text}");
    assert_eq!(cost("unknown"), 0.25);
    assert!(
        !text.contains("fleet_cost_usd_total{agent=\"hermes\",instance=\"a1\",model=\"mystery\"")
    );
    assert_eq!(
        value(
            &text,
            &format!("fleet_cost_unpriced_tokens_total{{{L},model=\"mystery\"}}")
        ),
        123.0
    );
    assert!(text.contains("# TYPE fleet_cost_unpriced_tokens_total counter"));
    assert_eq!(metrics.unpriced_models(), vec![("mystery".to_owned(), 123)]);
    assert_eq!(
        metrics.step_cost(&priced_step("local", 0, 1_000_000, None).kind),
        Some(3.0)
    );
    assert_eq!(
        metrics.step_cost(&priced_step("mystery", 5, 5, None).kind),
        None
    );
}

fn tool_in(session: &str, at: i64, name: &str) -> AgentEvent {
    event(
        session,
        at,
        EventKind::ToolCall {
            tool_name: name.into(),
            status: ToolStatus::Success,
            duration_seconds: 0.1,
            error: None,
        },
    )
}

#[test]
fn per_session_maxima_follow_the_open_sessions() {
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    // s1: search three times, two steps ($0.50); s2: search once, fetch
    // twice, one step ($0.25).
    metrics.apply(&[
        start("s1", 1_000),
        start("s2", 1_000),
        tool_in("s1", 1_100, "search"),
        tool_in("s1", 1_200, "search"),
        tool_in("s1", 1_300, "search"),
        tool_in("s2", 1_100, "search"),
        tool_in("s2", 1_200, "fetch"),
        tool_in("s2", 1_300, "fetch"),
        step("s1", 1_400, 1.0),
        step("s1", 1_500, 1.0),
        step("s2", 1_400, 1.0),
        // A session never started counts in the families only.
        tool_in("s9", 1_500, "search"),
        tool_in("s9", 1_500, "search"),
        tool_in("s9", 1_500, "search"),
        tool_in("s9", 1_500, "search"),
    ]);
    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            &format!("hermes_session_max_tool_calls{{{L},tool_name=\"search\"}}")
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &format!("hermes_session_max_tool_calls{{{L},tool_name=\"fetch\"}}")
        ),
        2.0
    );
    assert_eq!(
        value(&text, &format!("hermes_session_max_cost_usd{{{L}}}")),
        0.5
    );
    assert!(
        text.contains("# TYPE hermes_session_max_cost_usd gauge"),
        "{text}"
    );
    // s1 ends: the maxima are s2's; both end: the series are gone.
    metrics.apply(&[end("s1", 2_000, SessionStatus::Completed)]);
    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            &format!("hermes_session_max_tool_calls{{{L},tool_name=\"search\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&text, &format!("hermes_session_max_cost_usd{{{L}}}")),
        0.25
    );
    metrics.apply(&[end("s2", 2_000, SessionStatus::Failed)]);
    let text = metrics.render();
    assert!(!text.contains("session_max_"), "{text}");
    // The samples written into the TSDB carry the same series.
    metrics.apply(&[start("s3", 3_000), tool_in("s3", 3_100, "search")]);
    let names: Vec<String> = metrics
        .samples()
        .iter()
        .filter_map(|(labels, _)| labels.get("__name__").map(str::to_owned))
        .collect();
    assert!(
        names.iter().any(|n| n == "hermes_session_max_tool_calls"),
        "{names:?}"
    );
}

/// Everything a reader can see of a registry.
fn seen(metrics: &AgentMetrics) -> (String, usize, Vec<(String, u64)>) {
    (
        metrics.render(),
        metrics.open_sessions(),
        metrics.unpriced_models(),
    )
}

fn duration_observation(model: &str, seconds: f64) -> crate::Observation {
    crate::Observation {
        agent: "hermes".into(),
        instance: "a1".into(),
        instrument: crate::Instrument::OperationDuration {
            operation_name: "chat".into(),
            provider_name: Some("nous".into()),
            request_model: Some(model.into()),
            response_model: None,
            error_type: None,
        },
        value: seconds,
    }
}

#[test]
fn a_batch_taken_back_leaves_the_registry_exactly_as_before() {
    let earlier = vec![
        start("s1", 1_000),
        step("s1", 1_100, 0.3),
        tool_in("s1", 1_200, "search"),
        start("s2", 1_300),
        priced_step("unpriced-model", 10, 5, None),
    ];
    let earlier_observations = vec![duration_observation("m", 0.2)];
    let metrics = AgentMetrics::new(AgentMetricsOptions::default());
    let _ = metrics.apply_with_observations(&earlier, &earlier_observations);
    let before = seen(&metrics);

    // Touches every kind of state: open sessions' counts and tools (known
    // and new), a session opened, one closed, new series (a new model, a
    // new tool, a new semconv label set), the unpriced totals (a known and
    // a new model), histograms and counters.
    let mut batch = vec![
        step("s1", 2_000, 1.5),
        tool_in("s1", 2_100, "search"),
        tool_in("s1", 2_200, "fetch"),
        start("s3", 2_300),
        step("s3", 2_400, 0.1),
        end("s2", 2_500, SessionStatus::Completed),
        priced_step("unpriced-model", 3, 4, None),
        priced_step("other-unpriced", 1, 1, None),
        priced_step("claude-sonnet-4", 1_000, 100, None),
        event(
            "s1",
            2_600,
            EventKind::LlmError {
                model: "m".into(),
                error: "rate limit".into(),
                error_type: LlmErrorType::RateLimit,
            },
        ),
    ];
    let observations = vec![
        duration_observation("m", 0.4),
        duration_observation("new-model", 2.0),
    ];
    metrics.apply_pending(&batch, &observations).take_back();
    assert_eq!(seen(&metrics), before);

    // What follows counts as if the batch had never come: the same later
    // events on a registry that never saw it give the same view.
    let later = vec![
        step("s2", 3_000, 0.2),
        tool_in("s2", 3_100, "search"),
        end("s1", 3_200, SessionStatus::Failed),
    ];
    let _ = metrics.apply_with_observations(&later, &[]);
    let never = AgentMetrics::new(AgentMetricsOptions::default());
    let _ = never.apply_with_observations(&earlier, &earlier_observations);
    let _ = never.apply_with_observations(&later, &[]);
    assert_eq!(seen(&metrics), seen(&never));

    // Kept, a pending batch counts exactly as one applied at once, and
    // closes the same silent sessions.
    batch.push(step("s9", 10_000_000, 0.1));
    let kept = metrics.apply_pending(&batch, &observations).keep();
    let _ = never.apply_with_observations(&batch, &observations);
    assert_eq!(seen(&metrics), seen(&never));
    assert!(!kept.is_empty(), "the late step silences the old sessions");
}

#[test]
fn expiry_skips_the_walk_only_while_no_session_can_be_silent() {
    let minute = 60_000;
    let metrics = AgentMetrics::new(AgentMetricsOptions {
        session_timeout_ms: 30 * minute,
        ..AgentMetricsOptions::default()
    });
    metrics.apply(&[start("a", 0), start("b", 10 * minute)]);
    let closed = metrics.expire_sessions(35 * minute);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].session_id, "a");
    // "b" is seen again: the oldest sight left moves from 10 to 40 minutes.
    metrics.apply(&[step("b", 40 * minute, 1.0)]);
    assert!(metrics.expire_sessions(60 * minute).is_empty());
    assert_eq!(metrics.open_sessions(), 1);
    // A session opened with an older time than every open one lowers the
    // bound: it is closed at the first cutoff past it.
    metrics.apply(&[start("c", 5 * minute)]);
    let closed = metrics.expire_sessions(60 * minute);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].session_id, "c");
    let closed = metrics.expire_sessions(71 * minute);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].session_id, "b");
    assert_eq!(metrics.open_sessions(), 0);
    metrics.apply(&[start("d", 80 * minute)]);
    assert_eq!(metrics.expire_sessions(111 * minute).len(), 1);
}
