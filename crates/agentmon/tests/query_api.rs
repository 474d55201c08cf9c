//! End to end: the real binary takes samples by remote write and answers
//! PromQL over a real socket, and `agentmon promqltest` runs scripts with
//! the exit codes and summary line it promises.

mod common;

use std::process::Command;

use common::http::{client, remote_write, TestSeries};
use common::server::Server;

#[test]
fn remote_written_samples_answer_instant_and_range_queries() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), &["--query.max-concurrency", "2"]);
    let http = client();
    let series = [
        TestSeries::new(
            &[("__name__", "agent_cost_usd"), ("agent", "a")],
            &[(1_700_000_000_000, 1.5), (1_700_000_015_000, 2.5)],
        ),
        TestSeries::new(
            &[("__name__", "agent_cost_usd"), ("agent", "b")],
            &[(1_700_000_000_000, 10.0), (1_700_000_015_000, 20.0)],
        ),
    ];
    let reply = remote_write(&http, &server, &series);
    assert!(reply.is_success(), "{reply:?}");

    let body = http
        .get(server.url("/api/v1/query?query=sum(agent_cost_usd)&time=1700000015.5"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000015.500,"22.5"]}]}}"#
    );

    let reply = http
        .post(server.url("/api/v1/query_range"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("query=agent_cost_usd%7Bagent%3D%22a%22%7D&start=1700000000&end=1700000015&step=15s")
        .send()
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(
        reply.text().unwrap(),
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"agent_cost_usd","agent":"a"},"values":[[1700000000,"1.5"],[1700000015,"2.5"]]}]}}"#
    );

    let reply = http
        .get(server.url("/api/v1/query?query=rate("))
        .send()
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    let flags = http
        .get(server.url("/api/v1/status/flags"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let flags: serde_json::Value = serde_json::from_str(&flags).unwrap();
    assert_eq!(flags["data"]["query.max-concurrency"], "2");
    server.terminate(std::time::Duration::from_secs(30));
}

const PASSING: &str = "load 1m
    metric{job=\"a\"} 1 2 3

eval instant at 2m metric
    metric{job=\"a\"} 3

eval instant at 1m metric * 2
    {job=\"a\"} 4
";

const FAILING: &str = "load 1m
    metric{job=\"a\"} 1 2 3

eval instant at 2m metric
    metric{job=\"a\"} 99
";

fn promqltest(files: &[&std::path::Path]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_agentmon"))
        .arg("promqltest")
        .args(files)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn promqltest_reports_passes_failures_and_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let passing = dir.path().join("passing.test");
    let failing = dir.path().join("failing.test");
    let broken = dir.path().join("broken.test");
    std::fs::write(&passing, PASSING).unwrap();
    std::fs::write(&failing, FAILING).unwrap();
    std::fs::write(&broken, "eval sideways at 1m up\n").unwrap();

    let (code, stdout, stderr) = promqltest(&[&passing]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().last(), Some("2 passed, 0 failed, 0 skipped"));

    let (code, stdout, stderr) = promqltest(&[&passing, &failing]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("failing.test:4: metric"), "{stdout}");
    assert!(stdout.contains("expected: "), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("2 passed, 1 failed, 0 skipped"));

    let missing = dir.path().join("missing.test");
    let (code, stdout, stderr) = promqltest(&[&passing, &broken, &missing]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("broken.test: cannot parse"), "{stderr}");
    assert!(stderr.contains("missing.test: cannot read"), "{stderr}");
    assert_eq!(stdout.lines().last(), Some("2 passed, 0 failed, 0 skipped"));
}
