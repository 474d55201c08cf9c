use super::*;

const NOW: i64 = 1_700_000_000_000;

fn parse_array(body: &str) -> Result<Vec<AgentEvent>, IngestError> {
    parse(
        body.as_bytes(),
        BodyFormat::JsonArray,
        NOW,
        &EventLimits::default(),
    )
}

/// The single problem of a one-bad-event request.
fn only_problem(body: &str) -> String {
    match parse_array(body) {
        Err(IngestError::Events {
            faulty: 1,
            problems,
        }) => {
            assert_eq!(problems.len(), 1);
            problems[0].reason.clone()
        }
        other => panic!("expected one faulty event, got {other:?}"),
    }
}

const HEAD: &str = r#""session_id":"s1","agent":"hermes","instance":"a1""#;

fn step(extra: &str) -> String {
    format!(
        r#"[{{"type":"step",{HEAD},"model":"m","provider":"p","step_type":"plan",
            "duration_seconds":1.5,"prompt_tokens":10,"completion_tokens":5{extra}}}]"#
    )
}

#[test]
fn every_type_parses() {
    let body = format!(
        r#"[
        {{"type":"session_start",{HEAD},"timestamp":1000,"attributes":{{"task":"x","n":3,"ok":true}}}},
        {{"type":"step",{HEAD},"model":"m","provider":"p","step_type":"plan","duration_seconds":0.5,
          "prompt_tokens":100,"completion_tokens":20,"cost_usd":0.01}},
        {{"type":"tool_call",{HEAD},"tool_name":"search","status":"timeout","duration_seconds":30,"error":"slow"}},
        {{"type":"llm_error",{HEAD},"model":"m","error":"Rate limit reached"}},
        {{"type":"log",{HEAD},"level":"warn","message":"hm"}},
        {{"type":"session_end",{HEAD},"timestamp":"2023-11-14T22:13:20.5Z","status":"completed"}}
    ]"#
    );
    let events = parse_array(&body).unwrap();
    assert_eq!(events.len(), 6);
    assert_eq!(events[0].timestamp_ms, 1000);
    assert_eq!(events[1].timestamp_ms, NOW, "default timestamp is now");
    assert_eq!(events[5].timestamp_ms, 1_700_000_000_500);
    assert_eq!(events[0].agent, "hermes");
    match &events[0].kind {
        EventKind::SessionStart { attributes } => {
            assert_eq!(attributes["n"], "3");
            assert_eq!(attributes["ok"], "true");
            assert_eq!(attributes["task"], "x");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events[1].kind,
        EventKind::Step {
            model: "m".into(),
            provider: "p".into(),
            step_type: "plan".into(),
            duration_seconds: 0.5,
            prompt_tokens: 100,
            completion_tokens: 20,
            cost_usd: Some(0.01),
        }
    );
    assert!(matches!(
        events[2].kind,
        EventKind::ToolCall {
            status: ToolStatus::Timeout,
            ..
        }
    ));
    assert!(matches!(
        events[3].kind,
        EventKind::LlmError {
            error_type: LlmErrorType::RateLimit,
            ..
        }
    ));
    assert!(matches!(
        events[4].kind,
        EventKind::Log {
            level: LogLevel::Warn,
            ..
        }
    ));
    assert!(matches!(
        events[5].kind,
        EventKind::SessionEnd {
            status: SessionStatus::Completed,
            output: None
        }
    ));
}

#[test]
fn ndjson_skips_blank_lines_and_reports_lines() {
    let body = format!(
        "{{\"type\":\"log\",{HEAD},\"level\":\"info\",\"message\":\"a\"}}\n\n  \n\
         {{\"type\":\"log\",{HEAD},\"level\":\"loud\",\"message\":\"b\"}}\n\
         {{not json\n"
    );
    let error = parse(
        body.as_bytes(),
        BodyFormat::Ndjson,
        NOW,
        &EventLimits::default(),
    )
    .unwrap_err();
    let IngestError::Events { faulty, problems } = error else {
        panic!("{error:?}")
    };
    assert_eq!(faulty, 2);
    assert_eq!((problems[0].index, problems[0].line), (1, Some(4)));
    assert_eq!(
        problems[0].reason,
        "field \"level\" is \"loud\": expected one of debug, info, warn, error"
    );
    assert_eq!((problems[1].index, problems[1].line), (2, Some(5)));
    assert!(
        problems[1].reason.starts_with("not valid JSON"),
        "{}",
        problems[1].reason
    );

    let good = format!("{{\"type\":\"log\",{HEAD},\"level\":\"info\",\"message\":\"a\"}}\r\n");
    let events = parse(
        good.as_bytes(),
        BodyFormat::Ndjson,
        NOW,
        &EventLimits::default(),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn each_kind_of_fault_is_named() {
    assert_eq!(
        only_problem(&format!(r#"[{{"type":"dance",{HEAD}}}]"#)),
        "unknown type \"dance\": expected one of session_start, step, tool_call, llm_error, log, session_end"
    );
    assert_eq!(
        only_problem(r#"[{"session_id":"s","agent":"a","instance":"i"}]"#),
        "missing field \"type\""
    );
    assert_eq!(
        only_problem(&step("").replace(r#","model":"m""#, "")),
        "missing field \"model\""
    );
    assert_eq!(
        only_problem(&step("").replace(r#""prompt_tokens":10"#, r#""prompt_tokens":"10""#)),
        "field \"prompt_tokens\" must be a whole number, got a string"
    );
    assert_eq!(
        only_problem(&step("").replace(r#""prompt_tokens":10"#, r#""prompt_tokens":-3"#)),
        "field \"prompt_tokens\" must not be negative, got -3"
    );
    assert_eq!(
        only_problem(&step("").replace(r#""prompt_tokens":10"#, r#""prompt_tokens":1.5"#)),
        "field \"prompt_tokens\" must be a whole number, got a number (1.5)"
    );
    assert_eq!(
        only_problem(&step("").replace("1.5", "-0.1")),
        "field \"duration_seconds\" must not be negative, got -0.1"
    );
    assert_eq!(
        only_problem(&step(r#","cost_usd":-1"#)),
        "field \"cost_usd\" must not be negative, got -1"
    );
    assert_eq!(
        only_problem(&step(r#","colour":"red""#)),
        "unknown field \"colour\" for type \"step\": allowed fields are type, session_id, agent, \
         instance, timestamp, model, provider, step_type, duration_seconds, prompt_tokens, \
         completion_tokens, cost_usd"
    );
    assert_eq!(
        only_problem(&step("").replace(r#""agent":"hermes""#, r#""agent":"""#)),
        "field \"agent\" must not be empty"
    );
    assert_eq!(
        only_problem(&step(r#","timestamp":"yesterday""#)),
        "field \"timestamp\" is \"yesterday\", not an RFC 3339 time after 1970 (e.g. \"2026-01-02T03:04:05.678Z\")"
    );
    assert_eq!(
        only_problem(&step(r#","timestamp":1.5"#)),
        "field \"timestamp\" must be a whole, non-negative number of milliseconds since the epoch, got 1.5"
    );
    assert_eq!(
        only_problem("[3]"),
        "event must be a JSON object, got a number (3)"
    );
}

#[test]
fn all_reasons_of_one_event_are_listed() {
    let reason = only_problem(r#"[{"type":"tool_call","agent":7,"instance":"i","status":"ok"}]"#);
    assert_eq!(
        reason,
        "missing field \"session_id\"; field \"agent\" must be a string, got a number (7); \
         missing field \"tool_name\"; field \"status\" is \"ok\": expected one of success, error, \
         timeout; missing field \"duration_seconds\""
    );
}

#[test]
fn string_limits_apply() {
    let limits = EventLimits::default();
    let long_name = "x".repeat(limits.max_name_bytes + 1);
    assert_eq!(
        only_problem(&format!(
            r#"[{{"type":"session_end","session_id":"{long_name}","agent":"a","instance":"i","status":"failed"}}]"#
        )),
        format!("field \"session_id\" is 257 bytes, over the limit of 256 bytes")
    );
    let long_text = "y".repeat(limits.max_text_bytes + 1);
    assert_eq!(
        only_problem(&format!(
            r#"[{{"type":"log",{HEAD},"level":"info","message":"{long_text}"}}]"#
        )),
        "field \"message\" is 16385 bytes, over the limit of 16384 bytes"
    );
}

#[test]
fn one_bad_event_refuses_the_whole_batch_and_lists_indexes() {
    let good = format!(r#"{{"type":"log",{HEAD},"level":"info","message":"ok"}}"#);
    let bad = format!(r#"{{"type":"log",{HEAD},"level":"info"}}"#);
    let body = format!("[{good},{bad},{good},{bad}]");
    let error = parse_array(&body).unwrap_err();
    assert_eq!(
        error.to_string(),
        "2 invalid events: event 1: missing field \"message\"; event 3: missing field \"message\""
    );
}

#[test]
fn body_level_faults() {
    let limits = EventLimits {
        max_events: 2,
        max_problems_listed: 1,
        ..EventLimits::default()
    };
    let event = format!(r#"{{"type":"log",{HEAD},"level":"info","message":"ok"}}"#);
    let three = format!("[{event},{event},{event}]");
    let error = parse(three.as_bytes(), BodyFormat::JsonArray, NOW, &limits).unwrap_err();
    assert_eq!(
        error.to_string(),
        "3 events, over the limit of 2 events per request: send smaller batches"
    );
    let three_lines = format!("{event}\n{event}\n{event}\n");
    assert!(parse(three_lines.as_bytes(), BodyFormat::Ndjson, NOW, &limits).is_err());

    let not_array = parse_array(r#"{"type":"log"}"#).unwrap_err().to_string();
    assert!(
        not_array.starts_with("body must be a JSON array of events, got an object"),
        "{not_array}"
    );
    assert!(parse_array("[1,")
        .unwrap_err()
        .to_string()
        .starts_with("body is not valid JSON"));
    assert_eq!(
        parse_array("[]").unwrap_err().to_string(),
        "no events in the body"
    );
    let invalid_utf8 = parse(b"[\xff]", BodyFormat::JsonArray, NOW, &limits).unwrap_err();
    assert_eq!(
        invalid_utf8.to_string(),
        "body is not valid UTF-8 (at byte 1)"
    );

    // Only `max_problems_listed` are listed, but all are counted.
    let error = parse(b"[1,2]", BodyFormat::JsonArray, NOW, &limits).unwrap_err();
    assert!(
        matches!(error, IngestError::Events { faulty: 2, ref problems } if problems.len() == 1)
    );
}

/// `docs/events.schema.json` names the same types and fields as the parser.
#[test]
fn the_published_schema_matches_the_parser() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../../docs/events.schema.json")).unwrap();
    let variants = schema["$defs"]["event"]["oneOf"].as_array().unwrap();
    let mut types = Vec::new();
    for variant in variants {
        let type_name = variant["properties"]["type"]["const"].as_str().unwrap();
        types.push(type_name);
        let mut fields: Vec<&str> = variant["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut expected: Vec<&str> = COMMON_FIELDS.to_vec();
        expected.extend_from_slice(type_fields(type_name));
        expected.sort_unstable();
        assert_eq!(fields, expected, "{type_name}");
        assert_eq!(variant["additionalProperties"], Value::Bool(false));
    }
    assert_eq!(types, EVENT_TYPES);
    assert_eq!(
        schema["maxItems"].as_u64(),
        Some(EventLimits::default().max_events as u64)
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn event_like() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\n".to_owned()),
            Just("\"type\":\"step\"".to_owned()),
            Just("\"timestamp\":".to_owned()),
            Just("\"attributes\":{".to_owned()),
            Just("\"duration_seconds\":-1e308".to_owned()),
            Just("\"prompt_tokens\":18446744073709551616".to_owned()),
            Just("\"2023-02-29T00:00:00Z\"".to_owned()),
            Just("null".to_owned()),
            "\"[a-z_]{0,12}\"",
            "-?[0-9]{1,20}(\\.[0-9]{1,3})?",
            ".{0,3}",
        ];
        prop::collection::vec(pieces, 0..32).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]
        #[test]
        fn any_body_gets_events_or_an_error(input in event_like()) {
            for format in [BodyFormat::JsonArray, BodyFormat::Ndjson] {
                let _ = parse(input.as_bytes(), format, NOW, &EventLimits::default());
            }
        }
    }
}

/// A body long enough to be decoded in two halves gives the events, in
/// order, that decoding its lines one by one gives; a bad line in either
/// half still refuses the whole body with its index and line; and the
/// event limit counts both halves.
#[test]
fn long_ndjson_bodies_decode_in_halves_to_the_same_events() {
    let line = |i: usize| {
        format!(
            "{{\"type\":\"log\",\"session_id\":\"s{}\",\"agent\":\"a\",\"instance\":\"i\",\
             \"timestamp\":{},\"level\":\"info\",\"message\":\"line {i} {}\"}}",
            i % 7,
            1_000 + i,
            "x".repeat(100)
        )
    };
    let lines: Vec<String> = (0..3_000).map(line).collect();
    let body = lines.join("\n") + "\n";
    assert!(body.len() >= 2 * super::fast::SPLIT_BYTES_FOR_TESTS);
    let limits = EventLimits::default();
    let events = parse(body.as_bytes(), BodyFormat::Ndjson, NOW, &limits).unwrap();
    let one_by_one: Vec<AgentEvent> = lines
        .iter()
        .flat_map(|l| parse(l.as_bytes(), BodyFormat::Ndjson, NOW, &limits).unwrap())
        .collect();
    assert_eq!(events, one_by_one);

    for bad in [10, 2_990] {
        let mut broken = lines.clone();
        broken[bad] = broken[bad].replace("\"info\"", "\"loud\"");
        let error = parse(
            (broken.join("\n") + "\n").as_bytes(),
            BodyFormat::Ndjson,
            NOW,
            &limits,
        )
        .unwrap_err();
        let IngestError::Events { faulty, problems } = error else {
            panic!("{error:?}")
        };
        assert_eq!(faulty, 1);
        assert_eq!((problems[0].index, problems[0].line), (bad, Some(bad + 1)));
    }

    let small = EventLimits {
        max_events: 2_000,
        ..EventLimits::default()
    };
    assert!(parse(body.as_bytes(), BodyFormat::Ndjson, NOW, &small).is_err());
}
