//! Silences and alert validation through API v2, compared with a running
//! Alertmanager 0.25: the same silences created and expired on both sides
//! list the same (ids and times apart), and the same faulty alerts get the
//! same error text. Skipped when Alertmanager is absent, unless
//! `AGENTMON_REQUIRE_PEERS=1`.

mod peer;

use std::sync::Arc;

use agentmon_notify::api::{
    list_silences, post_silence, prepare_alerts, PostableAlert, PostableSilence,
};
use agentmon_notify::silence::{MemorySilenceStore, Silences};
use agentmon_notify::{AlertmanagerConfig, Clock, State, SystemClock};
use peer::{http_full, without_times};
use serde_json::{json, Value};

const CONFIG: &str = "route: {receiver: r}\nreceivers: [{name: r}]\n";

fn without_ids(mut v: Value) -> Value {
    if let Value::Array(list) = &mut v {
        for item in list {
            if let Value::Object(map) = item {
                map.remove("id");
            }
        }
    }
    v
}

#[test]
fn silences_and_alert_errors_match_alertmanager() {
    if !peer::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_peer, port) = peer::start(dir.path(), CONFIG);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let silences = Silences::open(Box::new(MemorySilenceStore::default())).expect("silences");
    let config = AlertmanagerConfig::from_yaml(CONFIG).expect("valid");
    let mut state = State::new(config, silences, clock.clone(), "");

    let now = clock.now_ms();
    let time = agentmon_notify::api::format_time;
    let silence = |matchers: Value, starts: i64, ends: i64| {
        json!({"matchers": matchers, "startsAt": time(starts), "endsAt": time(ends),
               "createdBy": "tester", "comment": "differential"})
    };
    let bodies = [
        silence(
            json!([{"name": "job", "value": "api|web", "isRegex": true},
                   {"name": "env", "value": "prod", "isRegex": false, "isEqual": false}]),
            now - 60_000,
            now + 3_600_000,
        ),
        silence(
            json!([{"name": "team", "value": "db", "isRegex": false}]),
            now + 600_000,
            now + 7_200_000,
        ),
        silence(
            json!([{"name": "a", "value": "b", "isRegex": false}]),
            now - 60_000,
            now + 1_800_000,
        ),
    ];
    let mut their_ids = Vec::new();
    let mut our_ids = Vec::new();
    for body in &bodies {
        let (status, answer) =
            http_full(port, "POST", "/api/v2/silences", &body.to_string()).expect("post");
        assert_eq!(status, 200, "{answer}");
        let answer: Value = serde_json::from_str(&answer).expect("json");
        their_ids.push(answer["silenceID"].as_str().expect("id").to_owned());
        let posted: PostableSilence = serde_json::from_value(body.clone()).expect("postable");
        our_ids.push(post_silence(&mut state, posted).expect("created"));
    }
    // Expire the third on both sides.
    let (status, _) = http_full(
        port,
        "DELETE",
        &format!("/api/v2/silence/{}", their_ids[2]),
        "",
    )
    .expect("delete");
    assert_eq!(status, 200);
    state
        .silences
        .expire(&our_ids[2], clock.now_ms())
        .expect("expire");

    let list = |query: &str| {
        let (status, body) =
            http_full(port, "GET", &format!("/api/v2/silences{query}"), "").expect("list");
        assert_eq!(status, 200, "{body}");
        without_ids(without_times(serde_json::from_str(&body).expect("json")))
    };
    let ours = |filter: &str| {
        let matchers = if filter.is_empty() {
            Vec::new()
        } else {
            agentmon_notify::matcher::parse_matchers(filter).expect("filter")
        };
        without_ids(without_times(
            serde_json::to_value(list_silences(&state, &matchers)).expect("json"),
        ))
    };
    let theirs_all = list("");
    assert_eq!(theirs_all.as_array().map(Vec::len), Some(3), "{theirs_all}");
    assert_eq!(ours(""), theirs_all);
    assert_eq!(ours("team=db"), list("?filter=team%3Ddb"));

    // The same faulty alerts get the same answer.
    let faulty = json!([
        {"labels": {"alertname": "X", "bad-name": "v"}},
        {"labels": {}},
        {"labels": {"a": "b"}, "startsAt": "2024-01-01T00:00:00Z", "endsAt": "2023-01-01T00:00:00Z"},
        {"labels": {"a": "b"}, "annotations": {"1x": "y"}},
    ]);
    let (status, body) =
        http_full(port, "POST", "/api/v2/alerts", &faulty.to_string()).expect("post");
    assert_eq!(status, 400);
    let their_text: String = serde_json::from_str(&body).expect("a JSON string");
    let posted: Vec<PostableAlert> = serde_json::from_value(faulty).expect("postable");
    let (valid, errors) = prepare_alerts(posted, clock.now_ms(), 300_000);
    assert!(valid.is_empty());
    assert_eq!(errors.as_deref(), Some(their_text.as_str()));
}
