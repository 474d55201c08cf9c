//! Crash safety of acknowledged writes, end to end.
//!
//! Proves that every remote-write sample the server acknowledged with a 2xx
//! survives (a) SIGKILL in the middle of a stream of writes, twice in a row
//! with a flush to a block in between, so that recovery reads blocks and WAL
//! together, (b) SIGKILL while a flush is running, whatever point of the
//! flush it hits, and (c) a SIGTERM shutdown, which must also exit with
//! status 0. The first case is repeated with `--wal.fsync always`.
//! Values are compared bit for bit, and nothing may be read back that was
//! never sent.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::http::post;

use common::http::{client, flush, metric_value, metrics};
use common::server::Server;
use common::writer::{now_ms, verify, Ledger, LoadWriter};

/// How long a writer may take to get the wanted number of acknowledgements.
const ACK_DEADLINE: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd server may take to exit.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// A kill point that varies between runs (printed, so a failure can be
/// retraced): somewhere in `low..low + 900` acknowledged requests.
fn kill_point(low: usize) -> usize {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    low + nanos as usize % 900
}

/// Runs a writer against `server` until `acks` requests were acknowledged,
/// then SIGKILLs the server while the writer is still sending.
fn write_then_kill(server: &mut Server, metric: &str, first_t: i64, acks: usize) -> Ledger {
    let writer = LoadWriter::start(server, metric, first_t);
    let reached = writer.wait_for_acks(acks, ACK_DEADLINE);
    server.kill();
    let ledger = writer.finish();
    assert!(
        reached,
        "writer stopped after {} acknowledged requests, wanted {acks}; refusals: {:?}\n{}",
        ledger.acked_requests,
        ledger.refused,
        server.log()
    );
    assert!(
        ledger.refused.is_empty(),
        "server refused valid writes: {:?}",
        ledger.refused
    );
    ledger
}

#[test]
fn acknowledged_writes_survive_two_sigkills_with_a_flush_between() {
    let data = tempfile::tempdir().expect("data dir");
    let metric = "e2e_crash_kill";
    let mut server = Server::start(data.path());

    let first_kill = kill_point(100);
    eprintln!("round 1: SIGKILL after {first_kill} acknowledged requests");
    let mut ledger = write_then_kill(&mut server, metric, now_ms() - 3_600_000, first_kill);
    assert!(!ledger.acked.is_empty());

    let mut server = Server::start(data.path());
    verify(&server, metric, &ledger);

    // Put round 1 into a block, so the second recovery needs both the block
    // and the WAL written after it.
    flush(&client(), &server);
    let blocks = std::fs::read_dir(data.path().join("blocks"))
        .expect("blocks directory after a flush")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("meta.json").is_file())
        .count();
    assert!(blocks >= 1, "flush wrote no block under blocks/");
    verify(&server, metric, &ledger);

    let second_kill = kill_point(100);
    eprintln!("round 2: SIGKILL after {second_kill} acknowledged requests");
    let round_two = write_then_kill(&mut server, metric, ledger.next_t, second_kill);
    ledger.absorb(round_two);

    let server = Server::start(data.path());
    verify(&server, metric, &ledger);
    eprintln!(
        "verified {} acknowledged samples ({} unconfirmed at the kills)",
        ledger.acked.len(),
        ledger.unconfirmed.len()
    );
}

#[test]
fn sigterm_exits_zero_and_keeps_every_acknowledged_write() {
    let data = tempfile::tempdir().expect("data dir");
    let metric = "e2e_crash_term";
    let mut server = Server::start(data.path());

    let stop_after = kill_point(50);
    eprintln!("SIGTERM after {stop_after} acknowledged requests");
    let writer = LoadWriter::start(&server, metric, now_ms() - 3_600_000);
    let reached = writer.wait_for_acks(stop_after, ACK_DEADLINE);
    let status = server.terminate(SHUTDOWN_DEADLINE);
    let ledger = writer.finish();
    assert!(reached, "writer stopped early: {:?}", ledger.refused);
    assert!(
        ledger.refused.is_empty(),
        "server refused valid writes: {:?}",
        ledger.refused
    );
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n{}",
        server.log()
    );

    let server = Server::start(data.path());
    verify(&server, metric, &ledger);
}

#[test]
fn sigkill_during_a_flush_loses_and_duplicates_nothing() {
    let data = tempfile::tempdir().expect("data dir");
    let metric = "e2e_crash_flush";
    let mut server = Server::start(data.path());
    let writer = LoadWriter::start(&server, metric, now_ms() - 3_600_000);
    assert!(
        writer.wait_for_acks(kill_point(1000), ACK_DEADLINE),
        "writer stopped early"
    );
    let mut ledger = writer.finish();
    assert!(
        ledger.refused.is_empty(),
        "server refused valid writes: {:?}",
        ledger.refused
    );

    // The flush runs in its own thread; the kill lands before, during or
    // after it, and recovery must be right in each case.
    let flush_url = server.url("/api/v1/admin/tsdb/flush");
    let flusher =
        std::thread::spawn(move || common::http::try_post(&client(), &flush_url, &[], Vec::new()));
    let reached = common::server::poll_until(Duration::from_secs(10), || {
        data.path()
            .join("blocks")
            .read_dir()
            .ok()?
            .next()
            .map(|_| ())
    });
    server.kill();
    let flushed = flusher.join().expect("flush thread");
    eprintln!(
        "killed with blocks/ entry seen: {}, flush answer: {:?}",
        reached.is_some(),
        flushed.map(|r| r.status)
    );

    let mut server = Server::start(data.path());
    verify(&server, metric, &ledger);

    // Writing and flushing carry on from the recovered state.
    let writer = LoadWriter::start(&server, metric, ledger.next_t);
    assert!(
        writer.wait_for_acks(50, ACK_DEADLINE),
        "writer stopped early after recovery"
    );
    ledger.absorb(writer.finish());
    let reply = post(
        &client(),
        &server.url("/api/v1/admin/tsdb/flush"),
        &[],
        Vec::new(),
    );
    assert_eq!(reply.status, 200, "flush after recovery: {}", reply.text);
    server.kill();
    let server = Server::start(data.path());
    verify(&server, metric, &ledger);
}

#[test]
fn acknowledged_writes_survive_sigkill_with_fsync_always() {
    let data = tempfile::tempdir().expect("data dir");
    let metric = "e2e_crash_fsync_always";
    let args = ["--wal.fsync", "always"];
    let mut server = Server::start_with(data.path(), &args);
    let kill_after = kill_point(50);
    eprintln!("fsync always: SIGKILL after {kill_after} acknowledged requests");
    let writer = LoadWriter::start(&server, metric, now_ms() - 3_600_000);
    let reached = writer.wait_for_acks(kill_after, ACK_DEADLINE);
    // Every acknowledged write was fsynced before its answer.
    let acked = writer.acked_requests();
    let fsyncs = metric_value(&metrics(&client(), &server), "agentmon_wal_fsyncs_total");
    server.kill();
    let ledger = writer.finish();
    assert!(reached, "writer stopped early: {:?}", ledger.refused);
    assert!(
        ledger.refused.is_empty(),
        "server refused valid writes: {:?}",
        ledger.refused
    );
    assert!(
        fsyncs.is_some_and(|n| n >= acked as f64),
        "{acked} writes acknowledged but agentmon_wal_fsyncs_total is {fsyncs:?}"
    );
    let server = Server::start_with(data.path(), &args);
    verify(&server, metric, &ledger);
}
