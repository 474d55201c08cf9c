use std::collections::BTreeMap;

use agentmon_model::{AgentEvent, EventKind, LlmErrorType, LogLevel, SessionStatus, ToolStatus};

use super::*;

const MINUTE: i64 = 60_000;

fn event(session: &str, agent: &str, at: i64, kind: EventKind) -> AgentEvent {
    AgentEvent {
        session_id: session.into(),
        agent: agent.into(),
        instance: "i1".into(),
        timestamp_ms: at,
        kind,
    }
}

fn start(session: &str, agent: &str, at: i64) -> AgentEvent {
    event(
        session,
        agent,
        at,
        EventKind::SessionStart {
            attributes: BTreeMap::new(),
        },
    )
}

fn step(session: &str, at: i64, model: &str, cost_usd: Option<f64>) -> AgentEvent {
    event(
        session,
        "a",
        at,
        EventKind::Step {
            model: model.into(),
            provider: "p".into(),
            step_type: "plan".into(),
            duration_seconds: 1.0,
            prompt_tokens: 100,
            completion_tokens: 10,
            cost_usd,
        },
    )
}

fn end(session: &str, at: i64, status: SessionStatus) -> AgentEvent {
    event(
        session,
        "a",
        at,
        EventKind::SessionEnd {
            status,
            output: None,
        },
    )
}

/// Prices "priced" at $1 per step; the client's cost wins.
fn cost_of(kind: &EventKind) -> Option<f64> {
    match kind {
        EventKind::Step {
            cost_usd: Some(c), ..
        } => Some(*c),
        EventKind::Step { model, .. } if model == "priced" => Some(1.0),
        _ => None,
    }
}

fn open(dir: &tempfile::TempDir) -> SessionStore {
    SessionStore::open(&dir.path().join(crate::FILE_NAME), 30 * MINUTE).unwrap()
}

/// A store whose rows are only written when asked (or when too many wait).
fn open_lazy(dir: &tempfile::TempDir) -> SessionStore {
    let store = open(dir);
    store.inner.lock().flush_interval = std::time::Duration::MAX;
    store
}

/// Stops a store as a crash would: nothing it keeps in memory is written.
fn crash(store: SessionStore) {
    std::mem::forget(store);
}

/// The sessions table as a second connection reads it, every column.
fn rows(dir: &tempfile::TempDir) -> Vec<Vec<rusqlite::types::Value>> {
    let connection = rusqlite::Connection::open(dir.path().join(crate::FILE_NAME)).unwrap();
    let mut statement = connection
        .prepare("SELECT * FROM sessions ORDER BY session_id")
        .unwrap();
    let columns = statement.column_count();
    let found = statement
        .query_map([], |row| {
            (0..columns)
                .map(|i| row.get::<_, rusqlite::types::Value>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    found
}

/// A timeline's (time, type) pairs, in its order.
fn order(timeline: &Timeline) -> Vec<(i64, &str)> {
    timeline
        .events
        .iter()
        .map(|e| (e.timestamp_ms, e.event_type.as_str()))
        .collect()
}

/// Every session, one page of 100.
fn all() -> SessionQuery {
    SessionQuery {
        limit: 100,
        ..SessionQuery::default()
    }
}

/// A run's calls often arrive before its start (spans are exported as they
/// end): in one millisecond the start still comes first and the end last.
#[test]
fn start_and_end_bracket_their_millisecond_whatever_the_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .append(
            &[
                step("s1", 1_000, "priced", None),
                step("s1", 2_000, "priced", None),
            ],
            &cost_of,
        )
        .unwrap();
    store
        .append(
            &[
                end("s1", 2_000, SessionStatus::Completed),
                start("s1", "a", 1_000),
            ],
            &cost_of,
        )
        .unwrap();
    store
        .append(&[step("s1", 2_000, "mystery", None)], &cost_of)
        .unwrap();
    let timeline = store.timeline("s1", 3_000).unwrap().unwrap();
    assert_eq!(
        order(&timeline),
        [
            (1_000, "session_start"),
            (1_000, "step"),
            (2_000, "step"),
            (2_000, "step"),
            (2_000, "session_end"),
        ]
    );
    // Other ties keep their arrival order.
    let models: Vec<&str> = timeline
        .events
        .iter()
        .filter_map(|e| e.body["model"].as_str())
        .collect();
    assert_eq!(models, ["priced", "priced", "mystery"]);
}

#[test]
fn timeline_is_ordered_with_totals_and_reopening_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // Out of order in the request: the timeline sorts by time, ties by arrival.
    store
        .append(
            &[
                start("s1", "a", 1_000),
                step("s1", 3_000, "priced", None),
                step("s1", 2_000, "priced", Some(0.25)),
                step("s1", 3_000, "mystery", None),
                event(
                    "s1",
                    "a",
                    4_000,
                    EventKind::ToolCall {
                        tool_name: "search".into(),
                        status: ToolStatus::Error,
                        duration_seconds: 0.5,
                        error: Some("boom".into()),
                    },
                ),
                event(
                    "s1",
                    "a",
                    4_500,
                    EventKind::LlmError {
                        model: "priced".into(),
                        error: "rate limit".into(),
                        error_type: LlmErrorType::RateLimit,
                    },
                ),
                event(
                    "s1",
                    "a",
                    4_600,
                    EventKind::Log {
                        level: LogLevel::Info,
                        message: "hi".into(),
                    },
                ),
                end("s1", 5_000, SessionStatus::Completed),
            ],
            &cost_of,
        )
        .unwrap();
    drop(store);
    let store = open(&dir);
    let timeline = store.timeline("s1", 6_000).unwrap().unwrap();
    assert_eq!(
        order(&timeline),
        [
            (1_000, "session_start"),
            (2_000, "step"),
            (3_000, "step"),
            (3_000, "step"),
            (4_000, "tool_call"),
            (4_500, "llm_error"),
            (4_600, "log"),
            (5_000, "session_end"),
        ]
    );
    assert_eq!(timeline.events[1].body["cost_source"], "client");
    assert_eq!(timeline.events[2].body["cost_usd"], 1.0);
    assert_eq!(timeline.events[3].body["model"], "mystery");
    assert!(timeline.events[3].body["cost_usd"].is_null());
    let s = &timeline.session;
    assert_eq!(s.status, "completed");
    assert_eq!(
        (s.started_ms, s.last_seen_ms, s.ended_ms),
        (1_000, 5_000, Some(5_000))
    );
    assert_eq!((s.steps, s.tool_calls, s.errors), (3, 1, 2));
    assert_eq!((s.prompt_tokens, s.completion_tokens), (300, 30));
    assert_eq!(s.unpriced_tokens, 110);
    assert!((s.cost_usd - 1.25).abs() < 1e-12);
    assert!(store.timeline("nope", 6_000).unwrap().is_none());
}

#[test]
fn list_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut batch = Vec::new();
    for i in 0..5 {
        let agent = if i % 2 == 0 { "even" } else { "odd" };
        batch.push(start(&format!("s{i}"), agent, i * MINUTE));
    }
    batch.push(end("s1", 2 * MINUTE, SessionStatus::Failed));
    batch.push(end("s4", 5 * MINUTE, SessionStatus::Completed));
    store.append(&batch, &cost_of).unwrap();
    let now = 40 * MINUTE; // s0 (last seen 0) and s2 (2m) are silent > 30m; s3 at 3m too.
    let ids = |page: &SessionPage| -> Vec<String> {
        page.sessions.iter().map(|s| s.session_id.clone()).collect()
    };

    let page = store
        .list(&SessionQuery { limit: 2, ..all() }, now)
        .unwrap();
    assert_eq!(ids(&page), ["s4", "s3"]);
    assert_eq!(page.next_offset, Some(2));
    let page = store
        .list(
            &SessionQuery {
                limit: 2,
                offset: 2,
                ..all()
            },
            now,
        )
        .unwrap();
    assert_eq!(ids(&page), ["s2", "s1"]);
    let page = store
        .list(
            &SessionQuery {
                limit: 2,
                offset: 4,
                ..all()
            },
            now,
        )
        .unwrap();
    assert_eq!(ids(&page), ["s0"]);
    assert_eq!(page.next_offset, None);

    let even = SessionQuery {
        agent: Some("even".into()),
        ..all()
    };
    assert_eq!(ids(&store.list(&even, now).unwrap()), ["s4", "s2", "s0"]);
    let failed = SessionQuery {
        status: Some(SessionStatusFilter::Failed),
        ..all()
    };
    assert_eq!(ids(&store.list(&failed, now).unwrap()), ["s1"]);
    let abandoned = SessionQuery {
        status: Some(SessionStatusFilter::Abandoned),
        ..all()
    };
    assert_eq!(
        ids(&store.list(&abandoned, now).unwrap()),
        ["s3", "s2", "s0"]
    );
    // Ten minutes in, nothing is abandoned yet.
    let running = SessionQuery {
        status: Some(SessionStatusFilter::Running),
        ..all()
    };
    assert_eq!(
        ids(&store.list(&running, 10 * MINUTE).unwrap()),
        ["s3", "s2", "s0"]
    );
    let window = SessionQuery {
        start_ms: Some(2 * MINUTE),
        end_ms: Some(3 * MINUTE),
        ..all()
    };
    // s1 ended at 2m, s2 started at 2m, s3 at 3m; s4 starts after the window.
    assert_eq!(ids(&store.list(&window, now).unwrap()), ["s3", "s2", "s1"]);
}

#[test]
fn a_late_event_after_the_timeout_makes_abandonment_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.append(&[start("s", "a", 0)], &cost_of).unwrap();
    store
        .append(&[end("s", 31 * MINUTE, SessionStatus::Completed)], &cost_of)
        .unwrap();
    let timeline = store.timeline("s", 31 * MINUTE).unwrap().unwrap();
    assert_eq!(timeline.session.status, "abandoned");
    assert_eq!(
        store.summary("s", 31 * MINUTE).unwrap().as_ref(),
        Some(&timeline.session)
    );
    assert_eq!(store.summary("nope", 0).unwrap(), None);
    assert_eq!(timeline.session.ended_ms, None);
    assert_eq!(timeline.events.len(), 2);
}

#[test]
fn retention_deletes_old_sessions_with_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .append(
            &[
                start("old", "a", 1_000),
                start("new", "a", 9_000),
                step("old", 2_000, "x", None),
            ],
            &cost_of,
        )
        .unwrap();
    // A second request: "old" now has two linked chunks.
    store
        .append(&[step("old", 3_000, "x", None)], &cost_of)
        .unwrap();
    assert_eq!(
        store.timeline("old", 4_000).unwrap().unwrap().events.len(),
        3
    );
    assert_eq!(store.delete_before(5_000).unwrap(), 1);
    assert!(store.timeline("old", 10_000).unwrap().is_none());
    assert!(store.timeline("new", 10_000).unwrap().is_some());
    let remaining: i64 = store
        .inner
        .lock()
        .connection
        .query_row("SELECT COUNT(*) FROM event_chunks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(remaining, 1);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::FILE_NAME);
    drop(SessionStore::open(&path, MINUTE).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    assert!(matches!(
        SessionStore::open(&path, MINUTE),
        Err(SessionError::SchemaTooNew { found: 99, .. })
    ));
}

/// A batch replays its events on each session's row in memory and writes
/// the row once; the result must be what one event at a time gives, in
/// every order of starts, steps, ends, late events and abandonment; and
/// a store that remembers its sessions' state must write what one that
/// reads every row back (reopened before each event) writes.
#[test]
fn a_batch_leaves_the_rows_one_event_at_a_time_would() {
    // A small deterministic generator (xorshift) of event sequences.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    for round in 0..40 {
        let mut events = Vec::new();
        for _ in 0..(5 + next(40)) {
            let session = format!("s{}", next(4));
            // Gaps up to 50 minutes, sometimes backwards: abandonment and
            // out-of-order times both happen.
            let at = 1_000_000 + next(200) as i64 * MINUTE / 4 - 10 * MINUTE;
            events.push(match next(5) {
                0 => start(&session, "a", at),
                1 | 2 => step(
                    &session,
                    at,
                    if next(2) == 0 { "priced" } else { "free" },
                    None,
                ),
                3 => end(
                    &session,
                    at,
                    if next(2) == 0 {
                        SessionStatus::Completed
                    } else {
                        SessionStatus::Failed
                    },
                ),
                _ => event(
                    &session,
                    "a",
                    at,
                    EventKind::Log {
                        level: LogLevel::Info,
                        message: format!("line {round}"),
                    },
                ),
            });
        }
        let batched_dir = tempfile::tempdir().unwrap();
        let single_dir = tempfile::tempdir().unwrap();
        let crashed_dir = tempfile::tempdir().unwrap();
        let batched = open(&batched_dir);
        let single = open(&single_dir);
        let crashed = open_lazy(&crashed_dir);
        // Half of each round's events went in before, so rows exist.
        let (first, rest) = events.split_at(events.len() / 2);
        batched.append(first, &cost_of).unwrap();
        batched.append(rest, &cost_of).unwrap();
        // The crashed store wrote its rows after the first half only, then
        // stopped with the second half in its chunks alone.
        crashed.append(first, &cost_of).unwrap();
        crashed.flush().unwrap();
        crashed.append(rest, &cost_of).unwrap();
        crash(crashed);
        let crashed = open(&crashed_dir);
        let reopened_dir = tempfile::tempdir().unwrap();
        for e in &events {
            single.append(std::slice::from_ref(e), &cost_of).unwrap();
            open(&reopened_dir)
                .append(std::slice::from_ref(e), &cost_of)
                .unwrap();
        }
        let reopened = open(&reopened_dir);
        let now = 1_000_000 + 60 * MINUTE;
        let a = batched.list(&all(), now).unwrap();
        let b = single.list(&all(), now).unwrap();
        assert_eq!(a, b, "round {round}: {events:?}");
        assert_eq!(reopened.list(&all(), now).unwrap(), b, "round {round}");
        assert_eq!(crashed.list(&all(), now).unwrap(), b, "round {round}");
        for s in &a.sessions {
            let expected = single.timeline(&s.session_id, now).unwrap();
            assert_eq!(batched.timeline(&s.session_id, now).unwrap(), expected);
            assert_eq!(reopened.timeline(&s.session_id, now).unwrap(), expected);
            assert_eq!(crashed.timeline(&s.session_id, now).unwrap(), expected);
        }
    }
}

/// The rows wait in memory between flushes, reads see the waiting state,
/// and a crash before the flush loses nothing acknowledged: reopening
/// replays the chunks onto the rows, which then hold what a store that
/// flushed would have written.
#[test]
fn a_crash_between_the_chunks_and_the_rows_loses_nothing() {
    let batches: Vec<Vec<AgentEvent>> = vec![
        vec![start("s1", "a", 1_000), step("s1", 2_000, "priced", None)],
        vec![
            step("s1", 3_000, "priced", Some(0.125)),
            start("s2", "b", 3_500),
            step("s2", 3_600, "mystery", None),
        ],
        // s2 went silent past the timeout; s1 ends; s3 starts late in time
        // order but first in the request.
        vec![
            start("s3", "a", 500),
            end("s1", 4_000, SessionStatus::Completed),
            step("s2", 40 * MINUTE, "priced", None),
            event(
                "s3",
                "a",
                600,
                EventKind::ToolCall {
                    tool_name: "search".into(),
                    status: ToolStatus::Error,
                    duration_seconds: 0.5,
                    error: None,
                },
            ),
        ],
    ];
    let now = 41 * MINUTE;
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = open(&reference_dir);
    for batch in &batches {
        reference.append(batch, &cost_of).unwrap();
        reference.flush().unwrap();
    }
    let expected = reference.list(&all(), now).unwrap();
    assert_eq!(expected.sessions.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let store = open_lazy(&dir);
    store.append(&batches[0], &cost_of).unwrap();
    store.flush().unwrap();
    let flushed = rows(&dir);
    assert_eq!(flushed.len(), 1);
    store.append(&batches[1], &cost_of).unwrap();
    store.append(&batches[2], &cost_of).unwrap();
    // The rows lag (s1 as after the first request, no s2 or s3), but the
    // reads see every acknowledged event.
    assert_eq!(rows(&dir), flushed);
    for summary in &expected.sessions {
        let id = summary.session_id.as_str();
        assert_eq!(store.summary(id, now).unwrap().as_ref(), Some(summary));
        assert_eq!(
            store.timeline(id, now).unwrap(),
            reference.timeline(id, now).unwrap()
        );
    }
    crash(store);

    let store = open(&dir);
    // Replayed on open: the rows are what the flushing store wrote.
    assert_eq!(rows(&dir), rows(&reference_dir));
    assert_eq!(store.list(&all(), now).unwrap(), expected);
    let s1 = store.summary("s1", now).unwrap().unwrap();
    assert_eq!(
        (s1.status.as_str(), s1.ended_ms),
        ("completed", Some(4_000))
    );
    assert_eq!(s1.steps, 2);
    assert!((s1.cost_usd - 1.125).abs() < 1e-12);
    let s2 = store.summary("s2", now).unwrap().unwrap();
    assert_eq!((s2.agent.as_str(), s2.status.as_str()), ("b", "abandoned"));
    assert_eq!(s2.unpriced_tokens, 110);
    let s3 = store.summary("s3", now).unwrap().unwrap();
    assert_eq!((s3.started_ms, s3.tool_calls, s3.errors), (500, 1, 1));
    // New events go on from the replayed state, and their chunks link on.
    store
        .append(&[step("s3", 700, "priced", None)], &cost_of)
        .unwrap();
    let timeline = store.timeline("s3", now).unwrap().unwrap();
    assert_eq!(timeline.events.len(), 3);
    assert_eq!(timeline.session.steps, 1);
}

/// Retention may delete the newest chunks, so new chunks can take ids at
/// or below the old flush mark; the mark follows, so a crash after that
/// still replays them.
#[test]
fn retention_lowers_the_flush_mark_with_the_chunks_it_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_lazy(&dir);
    store
        .append(
            &[start("keep", "a", 9_000), start("gone", "a", 1_000)],
            &cost_of,
        )
        .unwrap();
    store
        .append(&[step("gone", 2_000, "x", None)], &cost_of)
        .unwrap();
    assert_eq!(store.delete_before(5_000).unwrap(), 1);
    store
        .append(
            &[start("late", "a", 9_500), step("keep", 9_600, "x", None)],
            &cost_of,
        )
        .unwrap();
    crash(store);
    let store = open(&dir);
    let ids: Vec<String> = store
        .list(&all(), 10_000)
        .unwrap()
        .sessions
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    assert_eq!(ids, ["late", "keep"]);
    assert_eq!(store.summary("keep", 10_000).unwrap().unwrap().steps, 1);
}

#[test]
fn sessions_from_before_a_reopen_go_on_once_the_id_filter_is_built() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store
            .append(
                &[
                    start("old", "a", MINUTE),
                    step("old", 2 * MINUTE, "priced", None),
                ],
                &cost_of,
            )
            .unwrap();
    }
    let store = open(&dir);
    // The filter, built from the rows, must not take "old" for a new id.
    assert!(store.inner.lock().seen.wait_ready());
    store
        .append(
            &[
                step("old", 3 * MINUTE, "priced", None),
                start("new", "a", 3 * MINUTE),
            ],
            &cost_of,
        )
        .unwrap();
    let old = store.summary("old", 4 * MINUTE).unwrap().unwrap();
    assert_eq!((old.started_ms, old.steps, old.cost_usd), (MINUTE, 2, 2.0));
    let new = store.summary("new", 4 * MINUTE).unwrap().unwrap();
    assert_eq!((new.started_ms, new.steps), (3 * MINUTE, 0));
    // Forgotten and read back from its row, the new session goes on too.
    store.flush().unwrap();
    store.inner.lock().known.clear();
    store
        .append(&[step("new", 5 * MINUTE, "priced", None)], &cost_of)
        .unwrap();
    let new = store.summary("new", 6 * MINUTE).unwrap().unwrap();
    assert_eq!((new.started_ms, new.steps), (3 * MINUTE, 1));
    let timeline = store.timeline("old", 4 * MINUTE).unwrap().unwrap();
    assert_eq!(timeline.events.len(), 3);
}
