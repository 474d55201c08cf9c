//! Differential test of agentmon's PromQL engine against Prometheus.
//!
//! The same generated agent-fleet data ([`differential::fleet`]) is written
//! over remote write into agentmon and into a real Prometheus (Debian's
//! 2.42, started with its remote-write receiver), then every query of
//! `differential/queries.txt` is run against both as instant queries at
//! several times and as range queries, and the answers are compared
//! ([`differential::compare`]): same label sets, same timestamps, values
//! within a relative 1e-9, NaN equal to NaN. The run prints
//! `N queries: N agree, N differ, N skipped (reasons)` and fails on any
//! difference; a query is skipped only when agentmon answers "not
//! implemented yet", and the skips are counted by the feature named.
//!
//! `AGENTMON_DIFF_TARGET=prometheus` compares Prometheus with itself,
//! which checks the harness (the list, the parsing, the comparison) and
//! must report no difference. Skipped (with a message) when `prometheus`
//! is not installed, unless `AGENTMON_REQUIRE_PEERS=1`.
//!
//! Prometheus 2.42 and 3.x (whose semantics agentmon follows) differ in
//! places; the data and the queries keep clear of them:
//!
//! - range windows are closed `[t - r, t]` in 2.x and left-open in 3.x,
//!   for range selectors, the lookback of instant selectors and subquery
//!   ranges: every sample is scraped a fraction of a second off the whole
//!   second, and every evaluation time is 17 s past a whole minute, so no
//!   sample and no subquery step lands on a window boundary;
//! - `holt_winters` became `double_exponential_smoothing` (and needs a
//!   feature flag), and the functions added since 2.42 (`sort_by_label`,
//!   `mad_over_time`, `limitk`, `limit_ratio`, `info`, `ts_of_*_over_time`,
//!   …) do not exist in 2.42: none is listed;
//! - `.` in a regex matches a newline in 3.x only: no label value
//!   holds a newline;
//! - `histogram_fraction` works on classic buckets only since 3.x: its
//!   queries ask Prometheus the equivalent bucket arithmetic instead;
//! - 3.x sums with Kahan compensation (`sum`, `avg`, `*_over_time`,
//!   regression): results move in the last bits only, inside the tolerance.
//!
//! The full list is in `docs/promql-compat.md`.

mod common;
mod differential;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::http::{client, flush, post, remote_write_body, REMOTE_WRITE_HEADERS};
use common::prometheus::{prometheus_or_skip, start_prometheus, PeerProcess};
use common::server::{free_port, poll_until, Server};
use common::writer::now_ms;
use differential::answer::{ask, seconds, Answer, Evaluation};
use differential::compare::{compare, Verdict};
use differential::fleet::{Fleet, SCRAPES};
use differential::queries::{parse_query_list, ListedQuery, QUERY_LIST};
use reqwest::blocking::Client;

/// How long Prometheus may take to become ready.
const PEER_DEADLINE: Duration = Duration::from_secs(60);
/// Scrapes written per request (10 minutes of the fleet).
const SCRAPES_PER_REQUEST: i64 = 40;
/// Differing queries whose details are printed.
const MAX_REPORTED: usize = 30;

/// Starts Prometheus with only its remote-write receiver as input. The
/// evaluation interval is the step of subqueries that name none.
fn start_receiver(binary: &Path, dir: &Path) -> (PeerProcess, Client) {
    let config = "global:\n  evaluation_interval: 1m\n";
    let mut peer = start_prometheus(
        binary,
        dir,
        free_port(),
        config,
        &["--web.enable-remote-write-receiver"],
    );
    let http = client();
    let ready = poll_until(PEER_DEADLINE, || {
        if peer.has_exited() {
            return Some(false);
        }
        let answer = http.get(peer.url("/-/ready")).send().ok()?;
        (answer.status().as_u16() == 200).then_some(true)
    });
    assert_eq!(
        ready,
        Some(true),
        "Prometheus did not become ready\n--- log ---\n{}",
        peer.log()
    );
    (peer, http)
}

/// Writes the fleet into both, oldest first; agentmon's head is cut into
/// a block half way, so queries read across a block and the head.
fn load(http: &Client, fleet: &Fleet, agentmon: &Server, prometheus: &PeerProcess) {
    let mut from = 0;
    while from < SCRAPES {
        let to = (from + SCRAPES_PER_REQUEST).min(SCRAPES);
        let body = remote_write_body(&fleet.slice(from, to));
        for (who, url) in [
            ("agentmon", agentmon.url("/api/v1/write")),
            ("Prometheus", prometheus.url("/api/v1/write")),
        ] {
            let reply = post(http, &url, &REMOTE_WRITE_HEADERS, body.clone());
            assert!(
                reply.is_success(),
                "{who} refused scrapes {from}..{to}: {} {}",
                reply.status,
                reply.text
            );
        }
        if from < SCRAPES / 2 && to >= SCRAPES / 2 {
            flush(http, agentmon);
        }
        from = to;
    }
}

/// The instant times and ranges every query is evaluated at.
fn evaluations(fleet: &Fleet) -> (Vec<Evaluation>, Vec<Evaluation>) {
    let instants = [30, 57, 77, 106, 140, 164, 168]
        .iter()
        .map(|&m| Evaluation::Instant { t: fleet.at(m, 17) })
        .collect();
    let ranges = vec![
        Evaluation::Range {
            start: fleet.at(20, 17),
            end: fleet.at(168, 17),
            step: 60_000,
        },
        Evaluation::Range {
            start: fleet.at(60, 17),
            end: fleet.at(120, 17),
            step: 45_000,
        },
    ];
    (instants, ranges)
}

/// What one query came to over all its evaluations.
enum Outcome {
    Agree,
    Differ(Vec<String>),
    Skipped(String),
}

/// Whether an answer carries any data: queries whose every answer is
/// empty compare little, so the run lists them.
fn has_data(answer: &Answer) -> bool {
    match answer {
        Answer::Vector(v) => !v.is_empty(),
        Answer::Matrix(m) => !m.is_empty(),
        Answer::Scalar(..) | Answer::String(..) => true,
        Answer::Error { .. } => false,
    }
}

fn run_query(
    http: &Client,
    query: &ListedQuery,
    evaluations: &[Evaluation],
    expected_url: &str,
    got_url: &str,
    self_check: bool,
) -> (Outcome, bool) {
    let mut any_data = false;
    let mut report = Vec::new();
    let mut skipped = None;
    for &evaluation in evaluations {
        let expected = ask(http, expected_url, &query.reference, evaluation);
        any_data |= has_data(&expected);
        let refused = matches!(expected, Answer::Error { .. });
        if refused != query.expect_error {
            report.push(format!(
                "  {evaluation}: Prometheus {} (fix queries.txt): {expected:?}",
                if refused {
                    "refused a query not flagged @error"
                } else {
                    "answered a query flagged @error"
                }
            ));
            continue;
        }
        // Against itself, Prometheus is asked the same text on both sides.
        let ours = if self_check {
            &query.reference
        } else {
            &query.query
        };
        let got = ask(http, got_url, ours, evaluation);
        let ordered = query.ordered && matches!(evaluation, Evaluation::Instant { .. });
        match compare(&expected, &got, ordered) {
            Verdict::Agree => {}
            Verdict::Skipped(reason) => skipped = Some(reason),
            Verdict::Differ(lines) => {
                report.push(format!("  {evaluation}:"));
                report.extend(lines.into_iter().map(|l| format!("    {l}")));
            }
        }
    }
    let outcome = match (report.is_empty(), skipped) {
        (false, _) => Outcome::Differ(report),
        (true, Some(reason)) => Outcome::Skipped(reason),
        (true, None) => Outcome::Agree,
    };
    (outcome, any_data)
}

#[test]
fn promql_answers_match_prometheus() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let started = Instant::now();
    let self_check = std::env::var("AGENTMON_DIFF_TARGET").as_deref() == Ok("prometheus");
    let fleet = Fleet::generate(now_ms());
    let peer_dir = tempfile::tempdir().expect("prometheus dir");
    let (prometheus, http) = start_receiver(&binary, peer_dir.path());
    let data = tempfile::tempdir().expect("agentmon data dir");
    let agentmon = Server::start(data.path());
    load(&http, &fleet, &agentmon, &prometheus);
    let loaded = started.elapsed();

    let queries = parse_query_list(QUERY_LIST, &seconds(fleet.at(80, 17)));
    let (instants, ranges) = evaluations(&fleet);
    let expected_url = prometheus.url("");
    let got_url = if self_check {
        prometheus.url("")
    } else {
        agentmon.url("")
    };

    let (mut agree, mut differ, mut skipped) = (0, Vec::new(), BTreeMap::<String, usize>::new());
    let mut always_empty = Vec::new();
    for query in &queries {
        let mut evaluations = instants.clone();
        if !query.instant_only {
            evaluations.extend(&ranges);
        }
        let (outcome, any_data) = run_query(
            &http,
            query,
            &evaluations,
            &expected_url,
            &got_url,
            self_check,
        );
        if !any_data && !query.expect_error {
            always_empty.push(query.line);
        }
        match outcome {
            Outcome::Agree => agree += 1,
            Outcome::Skipped(reason) => *skipped.entry(reason).or_default() += 1,
            Outcome::Differ(report) => differ.push((query, report)),
        }
    }

    let mut out = std::io::stderr().lock();
    for (query, report) in differ.iter().take(MAX_REPORTED) {
        let _ = writeln!(out, "DIFFERS queries.txt:{}: {}", query.line, query.query);
        if query.reference != query.query {
            let _ = writeln!(out, "  (Prometheus asked: {})", query.reference);
        }
        for line in report {
            let _ = writeln!(out, "{line}");
        }
    }
    if differ.len() > MAX_REPORTED {
        let _ = writeln!(
            out,
            "… and {} more differing queries",
            differ.len() - MAX_REPORTED
        );
    }
    let reasons: Vec<String> = skipped.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    let summary = format!(
        "{} queries: {agree} agree, {} differ, {} skipped ({})",
        queries.len(),
        differ.len(),
        skipped.values().sum::<usize>(),
        reasons.join(", ")
    );
    let _ = writeln!(
        out,
        "{}{summary}\n({} series, {} samples loaded in {loaded:.1?}; total {:.1?}; \
         empty in Prometheus at every evaluation: queries.txt lines {always_empty:?})",
        if self_check {
            "Prometheus vs itself: "
        } else {
            ""
        },
        fleet.series.len(),
        fleet.sample_count(),
        started.elapsed()
    );
    assert!(differ.is_empty(), "{summary}");
}
